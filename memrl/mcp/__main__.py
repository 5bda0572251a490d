"""`python -m memrl.mcp`: the same server as `memrl-mcp`."""

from memrl.mcp import main

main()
