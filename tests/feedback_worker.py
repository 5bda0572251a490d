"""A separate process that rates one episode many times: used by the concurrency tests."""

import sys

from memrl.memory import Memory


def main() -> None:
    episode_id, count, helpful = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "yes"
    memory = Memory()
    for _ in range(count):
        memory.learning.feedback([episode_id], helpful)


if __name__ == "__main__":
    main()
