from memrl.cli import main

main()
