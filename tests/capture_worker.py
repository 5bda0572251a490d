"""A separate process that captures episodes in a loop: used by the concurrency tests."""

import sys

from memrl.memory import Memory


def main() -> None:
    worker, count = sys.argv[1], int(sys.argv[2])
    memory = Memory()
    for n in range(count):
        memory.capture(
            {
                "task": f"worker {worker} task {n}",
                "summary": f"Worker {worker} fixed bug number {n} in module m{n % 7}",
                "outcome": "success",
                "project": f"proj-{worker}",
            },
            source="cli",
        )
        print(n, flush=True)


if __name__ == "__main__":
    main()
