"""Index compaction in a short-lived child process, for processes that live long.

Compacting folds appended rows into the table's files and indices, and now and then
retrains the vector index. Its memory stays in the process that does it: LanceDB's
write-path code, the retrained index beside the old one in its cache, and a heap that
training leaves fragmented (about 50 MB after a retrain at 10k episodes). An MCP server
lives as long as its Claude Code session, one per open session; after
`memrl.index.compact_in_child_processes()` it leaves this work to
`python -m memrl.compactor <index folder>`, which takes the index's write lock like any
other writer, compacts what waits, and exits.

One child per folder runs at a time; a request while it runs starts another once it ends,
for the rows appended after it looked.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from memrl import background

MODULE = "memrl.compactor"
LOCK_WAIT = 30.0  # seconds the child waits for a writer (a rebuild, an import) to finish
RETRY_AFTER = 60.0  # seconds before asking again after a child that could not compact
UNDONE = 3  # the child's exit status when rows waited and it could not compact them


@dataclass(slots=True)
class _Child:
    process: subprocess.Popen[bytes]
    ended: float | None = None  # time.monotonic() when it exited (and was reaped)
    again: bool = False  # asked for while it ran: rows it may not have seen wait


_children: dict[Path, _Child] = {}
_lock = threading.Lock()


def request(folder: Path) -> bool:
    """Have the index in `folder` compacted; returns whether a child was started now.

    While one started here runs, the request is kept, and another starts as soon as it
    ends. None starts within RETRY_AFTER of one that could not compact (a read-only store,
    a writer that held the index for LOCK_WAIT), nor when no process can be started (out
    of processes or memory): what waits is compacted at a later request, and is searched
    meanwhile."""
    with _lock:
        last = _children.get(folder)
        if last is not None:
            if last.ended is None:
                last.again = True
                return False
            if last.process.returncode and time.monotonic() - last.ended < RETRY_AFTER:
                return False
        return _start(folder)


def _start(folder: Path) -> bool:
    """Start a child for `folder`; the caller holds `_lock`."""
    try:
        child = _Child(background.detached(MODULE, str(folder)))
    except OSError:
        return False
    _children[folder] = child
    # reaped as soon as it exits, so no finished child lingers as a zombie
    threading.Thread(
        target=_reap, args=(folder, child), name="memrl-compactor", daemon=True
    ).start()
    return True


def _reap(folder: Path, child: _Child) -> None:
    child.process.wait()
    with _lock:
        child.ended = time.monotonic()
        if child.again and child.process.returncode == 0 and _children.get(folder) is child:
            _start(folder)


def main(argv: list[str]) -> int:
    from memrl import logs
    from memrl.index import Index, _lancedb

    if len(argv) != 1:
        sys.stderr.write("usage: python -m memrl.compactor <index folder>\n")
        return 2
    folder = Path(argv[0])
    try:
        # Imported before the table is looked for: connecting makes the folder, which must
        # not come back if the store was deleted while LanceDB loaded.
        _lancedb()
        index = Index(folder, model_id="")
        if not index.compact_waiting(wait=LOCK_WAIT) and index.waiting():
            return UNDONE
    except Exception as exc:  # the next request tries again; say why this one failed
        logs.crash(folder.parent, "compaction", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
