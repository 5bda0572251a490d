"""Starting the app: on the user's store, or on a throwaway demo store."""

from __future__ import annotations

import os
import shutil
import signal
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


@contextmanager
def exit_on_signals() -> Iterator[None]:
    """A closed terminal (SIGHUP) or a kill (SIGTERM) ends the app by an exception, not
    on the spot, so the `with` blocks around it clean up (the demo store is deleted)."""

    def leave(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signals = [signal.SIGTERM] + ([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])
    before = {
        s: signal.signal(s, leave)
        for s in signals
        if signal.getsignal(s) is not signal.SIG_IGN  # under nohup, say: still ignored
    }
    try:
        yield
    finally:
        for s, handler in before.items():
            signal.signal(s, handler)


def run(*, demo: bool = False, project: str | None = None, start: str = "browse") -> None:
    from memrl.memory import Memory
    from memrl.tui.app import MemrlApp

    if demo:
        with exit_on_signals(), demo_store() as root:
            app = MemrlApp(Memory(root), project=project, start=start)
            app.run()
    else:
        app = MemrlApp(Memory(), project=project, start=start)
        app.run()
    if app.return_code:  # it crashed: Textual has printed why; the shell hears it failed
        raise SystemExit(app.return_code)
    if app.farewell:
        print(app.farewell)
