"""Starting the app: on the user's store, or on a throwaway demo store."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from memrl import config


@contextmanager
def demo_store(quiet: bool = False) -> Iterator[Path]:
    """A temporary data dir seeded with the demo story; deleted afterwards."""
    from memrl.demo import seed_demo
    from memrl.memory import Memory

    os.environ.setdefault("MEMRL_MODELS_DIR", str(config.models_dir(config.data_dir())))
    root = Path(tempfile.mkdtemp(prefix="memrl-demo-"))
    try:
        memory = Memory(root)

        def progress(done: int, total: int) -> None:
            if not quiet:
                sys.stderr.write(f"\rseeding a demo store: {done}/{total} episodes")
                sys.stderr.flush()

        seed_demo(memory, progress)
        memory.close()
        if not quiet:
            sys.stderr.write("\n")
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def run(*, demo: bool = False, project: str | None = None, start: str = "browse") -> None:
    from memrl.memory import Memory
    from memrl.tui.app import MemrlApp

    if demo:
        with demo_store() as root:
            MemrlApp(Memory(root), project=project, start=start).run()
    else:
        MemrlApp(Memory(), project=project, start=start).run()
