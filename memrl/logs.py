"""Small rotating log files (`logs/hooks.log`, `logs/mcp.log`): standard library only.

The hooks and the MCP handshake import this, so it must stay light.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

MAX_BYTES = 1_000_000  # past this, the log moves to `<name>.1` (replacing the older one)
MCP_LOG = Path("logs") / "mcp.log"  # under the data dir: the MCP servers' and their children's


def append(path: str | Path, text: str) -> Path:
    """Append `text` to the log at `path`, creating its folder and rotating it when full.

    Raises OSError when the log cannot be written; callers choose their fallback.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and path.stat().st_size > MAX_BYTES:
        os.replace(path, path.with_name(path.name + ".1"))
    # readable by its owner alone (it names sessions and folders), never through a link
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
    with open(os.open(path, flags, 0o600), "a", encoding="utf-8") as fh:
        fh.write(text)
    return path


def crash(root: Path, where: str, exc: BaseException) -> Path | None:
    """Append `exc`'s traceback to the MCP log in data dir `root`, headed by the time, the
    process and `where`; returns the log's path, or None when it cannot be written. Not
    once `root` is deleted: a log alone would make the data dir again."""
    import traceback

    if not root.is_dir():
        return None
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    text = "".join(traceback.format_exception(exc))
    try:
        return append(root / MCP_LOG, f"--- {stamp} pid {os.getpid()} {where}\n{text}")
    except OSError:
        return None
