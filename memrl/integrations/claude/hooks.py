"""Claude Code hooks: the project's best memories in at the start, one episode out at the end.

What each event does

* **SessionStart** (startup, resume, clear, compact) prints the project's few most useful
  episodes, ranked by learned utility, as `additionalContext`: a short block marked as past
  experience, with ids Claude can rate through `memrl_feedback`. It reads only the SQLite
  catalog, never the embedding model or LanceDB, so it fits its budget from a cold start;
  searching for the task at hand is `memrl_retrieve`'s job once the task is known. What was
  shown is logged as a retrieval under Claude Code's session id, so the session's outcome
  later credits it.
* **Stop** (after every turn) and **PreCompact** are checkpoints, so that a session whose
  end is never seen (a crash, a closed terminal) is not lost. Stop fires every turn, so it
  costs almost nothing unless a checkpoint is due: at most one every `CHECKPOINT_EVERY`
  seconds, and only when the transcript has grown since the last one. PreCompact always
  checkpoints when something is new. Both are installed `async`, so Claude never waits.
* **SessionEnd** writes the final episode and applies temporal credit.

One episode per session. Every event upserts the same episode, found by Claude Code's
session id among the `source = 'hook'` episodes in the catalog, under one lock, so Stop,
PreCompact and SessionEnd in any order and any number leave exactly one. Fields read from
the transcript are overwritten; fields only a person sets (tags, task type, pin) are kept.
When Claude captured the session itself through `memrl_capture` (seen in the transcript,
or an `mcp` episode carrying this session id), no hook episode is kept: an earlier
checkpoint is archived. An episode someone archived is never brought back.

Credit once. Checkpoints never give credit; only SessionEnd does, with the final outcome.
The ledger marks each retrieval credited in the same transaction, so a second SessionEnd
(after a resume) credits only retrievals made since. When Claude captured through MCP, that
capture credited what it could see; SessionEnd credits whatever is left under this session
id (the context shown at session start) with the outcome Claude recorded.

Fast exit. Writing the episode (JSON file and catalog) and the credit need only SQLite and
take well under a second; embedding it into the search index needs the model and LanceDB,
which take seconds to load. So every event stores first and leaves the index work to a
detached `finish` process: Claude Code does not wait for it, and the index may lag by a few
seconds, as the design allows (`memrl index` repairs any gap).

Never break Claude Code. Any failure exits 0 with one line on stderr and an entry in
`<data dir>/logs/hooks.log` (with the traceback when the failure was unexpected; in the
temp folder when the data dir cannot be written). Claude Code shows a hook's stderr only
in its debug view when the hook exits 0, so these lines cost the user nothing.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING

from memrl import logs

if TYPE_CHECKING:
    from memrl.memory import Memory

EVENTS = {
    "session-start": "SessionStart",
    "stop": "Stop",
    "pre-compact": "PreCompact",
    "session-end": "SessionEnd",
}
CHECKPOINT_EVERY = 300.0  # seconds between Stop checkpoints of one session
LOCK_WAIT = 10.0  # below SessionEnd's 15 s: time left to say why, before Claude Code kills it
LOG_FILE = Path("logs") / "hooks.log"
MODULE = "memrl.integrations.claude.hooks"


class HookError(Exception):
    """The hook cannot do its work (bad input, missing transcript); said in one line."""


# input ---------------------------------------------------------------------------------


@dataclass(slots=True)
class HookInput:
    """The JSON Claude Code writes to a hook's stdin (only the fields memrl reads)."""

    session_id: str | None = None
    transcript_path: Path | None = None
    cwd: str | None = None
    source: str | None = None  # SessionStart: startup | resume | clear | compact
    reason: str | None = None  # SessionEnd: clear | logout | prompt_input_exit | other
    event: str | None = None


def read_input(raw: str | bytes) -> HookInput:
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", errors="replace")
    if not raw.strip():
        raise HookError("no hook input on stdin (Claude Code sends a JSON object)")
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise HookError(f"stdin is not Claude Code's hook JSON ({exc})") from None
    if not isinstance(data, dict):
        raise HookError("stdin is not Claude Code's hook JSON (expected an object)")

    def text(key: str, limit: int = 4_096) -> str | None:
        value = data.get(key)
        if isinstance(value, str) and value.strip() and len(value) <= limit:
            value = value.strip()
            return value if value.isprintable() else None
        return None

    path = text("transcript_path")
    return HookInput(
        session_id=text("session_id", 200),
        transcript_path=Path(path).expanduser() if path else None,
        cwd=text("cwd"),
        source=text("source", 50),
        reason=text("reason", 50),
        event=text("hook_event_name", 50),
    )


# the entry point -------------------------------------------------------------------------


def run(
    event: str,
    raw: str | bytes,
    *,
    background: bool = True,
    stdout: IO[str] | None = None,
    stderr: IO[str] | None = None,
    every: float = CHECKPOINT_EVERY,
) -> int:
    """Handle one hook event; always returns 0, whatever happens."""
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    started = time.perf_counter()
    session = "-"
    try:
        if event not in EVENTS:
            raise HookError(f"unknown hook event '{event}'; expected one of {', '.join(EVENTS)}")
        inp = read_input(raw)
        session = inp.session_id or "-"
        if event == "session-start":
            from memrl.integrations.claude import context

            text, note = context.session_start(inp)
            if text:
                stdout.write(text + "\n")
                stdout.flush()
        else:
            from memrl.integrations.claude.checkpoint import record

            note = record(inp, event, background=background, every=every)
        log(f"{event} {session}: {note} ({time.perf_counter() - started:.2f} s)")
    except BaseException as exc:  # a hook must never break Claude Code
        fail(event, session, exc, stderr)
    return 0


def fail(event: str, session: str, exc: BaseException, stderr: IO[str]) -> None:
    """One line on stderr, the traceback in the log; nothing here may raise."""
    from memrl.errors import MemrlError

    if isinstance(exc, HookError | MemrlError):
        reason = str(exc)
    elif isinstance(exc, KeyboardInterrupt | SystemExit):
        reason = f"interrupted ({type(exc).__name__})"
    else:
        reason = f"{type(exc).__name__}: {exc}"
    reason = " ".join(reason.split())[:300]
    expected = isinstance(exc, HookError | MemrlError)  # said in full by its message
    trace = "" if expected else "\n" + "".join(traceback.format_exception(exc)).rstrip()
    where = log(f"{event} {session}: failed: {reason}{trace}")
    line = f"memrl hook {event}: {reason}" + (f" (details in {where})" if where else "")
    try:
        stderr.write(line + "\n")
        stderr.flush()
    except Exception:  # stderr closed: nothing left to tell
        pass


def log(message: str) -> Path | None:
    """Append to `<data dir>/logs/hooks.log` (or a temp-dir log when that is unwritable)."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    entry = f"{stamp} pid {os.getpid()} {message}\n"
    for path in _log_paths():
        try:
            return logs.append(path, entry)
        except OSError:
            continue
    return None


def _log_paths() -> Iterator[Path]:
    env = os.environ.get("MEMRL_DATA_DIR")
    yield (Path(env).expanduser() if env else Path.home() / ".memrl") / LOG_FILE
    yield Path(tempfile.gettempdir()) / "memrl-hooks.log"


def open_memory() -> Memory:
    """The one place hooks open the store (tests point it elsewhere)."""
    from memrl.memory import Memory

    return Memory()


def _finish_main(argv: list[str]) -> int:
    """`python -m memrl.integrations.claude.hooks finish '<jobs json>'` (the detached part)."""
    started = time.perf_counter()
    from memrl.integrations.claude.checkpoint import Jobs, finish
    from memrl.views import plural

    try:
        jobs = Jobs(**json.loads(argv[0]))
        memory = open_memory()
        try:
            note = finish(memory, jobs)
            if jobs.index and (compacted := memory.index.compact_waiting()):
                note += f", compacted {plural(compacted, 'waiting row')}"
        finally:
            memory.close()
        log(f"finish -: {note} ({time.perf_counter() - started:.2f} s)")
    except BaseException as exc:  # nobody is waiting to hear about it
        fail("finish", "-", exc, sys.stderr)
    return 0


def main(argv: list[str] | None = None, stdin: Callable[[], bytes] | None = None) -> int:
    """Entry without the CLI: `python -m memrl.integrations.claude.hooks <event>|finish`."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["finish"] and len(argv) == 2:
        return _finish_main(argv[1:])
    event = argv[0] if argv else ""
    try:
        raw = (stdin or sys.stdin.buffer.read)()
    except Exception:  # stdin closed or unreadable: run() reports it
        raw = b""
    return run(event, raw)


if __name__ == "__main__":
    sys.exit(main())
