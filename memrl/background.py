"""One worker thread for the part of a call that can run beside the rest of it.

A capture embeds its text while its file is written and synced, and searches for its
neighbours while its index row is written. The model and LanceDB release the GIL while
they work, so the two halves overlap. The worker starts on first use.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

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
