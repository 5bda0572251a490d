"""Work beside a call: one worker thread, and detached child processes.

A capture embeds its text while its file is written and synced, and searches for its
neighbours while its index row is written. The model and LanceDB release the GIL while
they work, so the two halves overlap. The worker starts on first use.

Work that should outlive the caller, or not leave its memory in it (the hooks' finisher,
the MCP server's compaction), runs as `python -m <module>` in a process of its own.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
_pool: ThreadPoolExecutor | None = None
_lock = threading.Lock()


def submit(fn: Callable[..., T], /, *args: object) -> Future[T]:
    """Run `fn(*args)` on the worker. A job must not wait for another job."""
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="memrl-worker")
    return _pool.submit(fn, *args)


def detached(module: str, *args: str) -> subprocess.Popen[bytes]:
    """`python -m module args…` in a session of its own: it outlives the process that
    started it, and the terminal or client that waits on that one does not wait on it."""
    kwargs: dict[str, Any] = {
        "stdin": subprocess.DEVNULL,
        "stdout": subprocess.DEVNULL,
        "stderr": subprocess.DEVNULL,
        "close_fds": True,
    }
    if os.name == "nt":
        kwargs["creationflags"] = 0x00000008 | 0x00000200  # DETACHED_PROCESS, NEW_PROCESS_GROUP
    else:
        kwargs["start_new_session"] = True
    # -P: the caller's folder (a checkout of memrl, say) is not put on sys.path
    return subprocess.Popen([sys.executable, "-P", "-m", module, *args], **kwargs)
