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

One episode per session, for sessions that did work. Every event upserts the same episode,
found by Claude Code's session id among the `source = 'hook'` episodes in the catalog,
under that session's lock, so Stop, PreCompact and SessionEnd in any order and any number
leave exactly one, while other sessions hardly ever wait. Fields read from the transcript
are overwritten; fields only a person sets (tags, task type, pin) are kept. A session that
edited nothing and ran nothing (questions answered, a resume with nothing new) is not kept:
it has no outcome to learn from. When Claude captured the session itself through
`memrl_capture` and that episode is in this store (carrying this session id, or, for a
capture seen in the transcript, of this project and made during the session), no hook
episode is kept: an earlier checkpoint is archived. An episode someone archived is never
brought back.

Credit once. Checkpoints never give credit; only SessionEnd does, with the final outcome.
The ledger marks each retrieval credited in the same transaction, so a second SessionEnd
(after a resume) credits only retrievals made since. When Claude captured through MCP, that
capture credited what it could see; SessionEnd credits whatever is left under this session
id (the context shown at session start) with the outcome Claude recorded.

Fast exit. Writing the episode (JSON file and catalog) and the credit need only SQLite and
take well under a second; embedding it into the search index needs the model and LanceDB,
which take seconds to load. So every event stores first and queues the index work for one
background finisher shared by all sessions (`finishing`): Claude Code does not wait for it,
and the index may lag by a few seconds, as the design allows (`memrl index` repairs any gap).

Never break Claude Code. Any failure exits 0 with one line on stderr and an entry in
`<data dir>/logs/hooks.log` (with the traceback when the failure was unexpected; in the
temp folder when the data dir cannot be written); `memrl status` shows recent failures.
Claude Code shows a hook's stderr only in its debug view when the hook exits 0, so these
lines cost the user nothing. A session without a transcript (`claude mcp list`) is a skip,
logged as one, not a failure.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
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
# Installed async: Claude Code never waits for them, so they leave the CPU to the hooks it
# waits for (SessionStart's context, SessionEnd on exit) when many sessions fire at once.
YIELDING = {"stop", "pre-compact"}
CHECKPOINT_EVERY = 300.0  # seconds between Stop checkpoints of one session
LOCK_WAIT = 10.0  # below SessionEnd's 15 s: time left to say why, before Claude Code kills it
LOG_FILE = Path("logs") / "hooks.log"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # never in a path or id Claude Code sends


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
            value = value.strip()  # any text a path may hold (a no-break space too)
            return None if _CONTROL.search(value) else value
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
            what = f"unknown hook event '{event}'" if event else "no hook event given"
            raise HookError(f"{what}; expected one of {', '.join(EVENTS)}")
        inp = read_input(raw)
        session = inp.session_id or "-"
        if event == "session-start":
            from memrl.integrations.claude import context

            text, note = context.session_start(inp)
            if text:
                stdout.write(text + "\n")
                stdout.flush()
            if background:
                from memrl.integrations.claude import finishing

                note += finishing.resume()
        else:
            from memrl.integrations.claude.checkpoint import record

            note = record(inp, event, background=background, every=every)
        log(f"{event} {session}: {note} ({time.perf_counter() - started:.2f} s)")
    except BaseException as exc:  # a hook must never break Claude Code
        fail(event, session, exc, stderr)
    return 0


def yield_cpu() -> None:
    """Run at low priority (nice 10) for the rest of this process: work nobody waits for.
    Only for a process of its own (the entry points call it), never a host's."""
    try:
        os.nice(10)
    except (AttributeError, OSError):  # no os.nice on Windows: run as is
        pass


def refuse(event: str, reason: str) -> None:
    """A hook called wrongly: said like any failure, and still exit 0 (see `fail`)."""
    fail(event, "-", HookError(reason), sys.stderr)


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
    name = event if event and not any(c.isspace() for c in event) else "-"
    where = log(f"{name} {session}: failed: {reason}{trace}")
    said = f"memrl hook {name}" if name != "-" else "memrl hook"  # the log's '-': no event
    line = f"{said}: {reason}" + (f" (details in {where})" if where else "")
    try:
        stderr.write(line + "\n")
        stderr.flush()
    except Exception:  # stderr closed: nothing left to tell
        pass


def log(message: str) -> Path | None:
    """Append to `<data dir>/logs/hooks.log`, or when that is unwritable to the temp-dir log
    shared by every store, where the entry names its data dir (`memrl status` reads both)."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    env = os.environ.get("MEMRL_DATA_DIR")
    root = (Path(env).expanduser() if env else Path.home() / ".memrl").absolute()
    head = f"{stamp} pid {os.getpid()}"
    for path, entry in (
        (root / LOG_FILE, f"{head} {message}\n"),
        (fallback_log(), f"{head} data dir {json.dumps(str(root))} {message}\n"),
    ):
        try:
            return logs.append(path, entry)
        except OSError:
            continue
    return None


def fallback_log() -> Path:
    """Where a hook that cannot write its store's log writes instead: one file per user in
    the temp folder, so users of one machine neither share nor block each other's."""
    user = os.getuid() if hasattr(os, "getuid") else os.environ.get("USERNAME", "user")
    return Path(tempfile.gettempdir()) / f"memrl-hooks-{user}.log"


def open_memory() -> Memory:
    """The one place hooks open the store (tests point it elsewhere)."""
    from memrl.memory import Memory

    return Memory()


def main(argv: list[str] | None = None, stdin: Callable[[], bytes] | None = None) -> int:
    """Entry without the CLI: `python -m memrl.integrations.claude.hooks <event>`."""
    argv = sys.argv[1:] if argv is None else argv
    event = argv[0] if argv else ""
    if event in YIELDING:
        yield_cpu()
    try:
        raw = (stdin or sys.stdin.buffer.read)()
    except Exception:  # stdin closed or unreadable: run() reports it
        raw = b""
    return run(event, raw)


if __name__ == "__main__":
    sys.exit(main())
