"""Index compaction in a short-lived child process, for processes that live long.

Compacting folds appended rows into the table's files and indices, and now and then
retrains the vector index. Its memory stays in the process that does it: LanceDB's
write-path code, the retrained index beside the old one in its cache, and a heap that
training leaves fragmented (about 50 MB after a retrain at 10k episodes). An MCP server
lives as long as its Claude Code session, one per open session; after
`memrl.index.compact_in_child_processes()` it leaves this work to
`python -m memrl.compactor <index folder>`, which takes the index's write lock like any
other writer, compacts what waits, and exits.

One child per folder runs at a time; a request while it runs is dropped, since rows it
does not fold in wait for the next request (the next burst of writes, or the next pause).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path

from memrl import background

MODULE = "memrl.compactor"
LOCK_WAIT = 30.0  # seconds the child waits for a writer (a rebuild, an import) to finish
LOG = Path("logs") / "mcp.log"  # under the data dir: the servers' log

_children: dict[Path, subprocess.Popen[bytes]] = {}
_lock = threading.Lock()


def request(folder: Path) -> bool:
    """Start a compaction of the index in `folder` unless one started here still runs;
    returns whether one was started. A process that cannot be started (out of processes
    or memory) is no error: what waits is compacted at the next request."""
    with _lock:
        child = _children.get(folder)
        if child is not None and child.poll() is None:
            return False
        try:
            _children[folder] = background.detached(MODULE, str(folder))
        except OSError:
            return False
        return True


def main(argv: list[str]) -> int:
    from memrl import logs
    from memrl.index import Index

    if len(argv) != 1:
        sys.stderr.write("usage: python -m memrl.compactor <index folder>\n")
        return 2
    folder = Path(argv[0])
    try:
        Index(folder, model_id="").compact_waiting(wait=LOCK_WAIT)
    except Exception as exc:  # the next request tries again; say why this one failed
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        text = "".join(traceback.format_exception(exc))
        try:
            logs.append(folder.parent / LOG, f"--- {stamp} pid {os.getpid()} compaction\n{text}")
        except OSError:
            pass
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
