"""Checkpoints and the end of a session: one hook episode per session, credit once.

Every event upserts the same episode, found by Claude Code's session id among the
`source = 'hook'` episodes in the catalog, under the session's lock (one of 64 lock files,
picked by the session id): events of one session wait for each other, other sessions
hardly ever do (the files, catalog and ledger they share have the store's own locks). Writing the episode and the credit needs only SQLite;
the index work (model and LanceDB) is left to the background finisher (`finishing`), so
Claude Code never waits for it.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from memrl.integrations.claude import hooks
from memrl.integrations.claude.context import MARK
from memrl.integrations.claude.finishing import Jobs, dispatch
from memrl.integrations.claude.hooks import CHECKPOINT_EVERY, LOCK_WAIT, HookError, HookInput
from memrl.views import plural

if TYPE_CHECKING:
    from memrl.episode import Episode
    from memrl.integrations.claude.transcript import Transcript
    from memrl.memory import Memory
    from memrl.store.ledger import CatalogRow

LOCKS = Path("hooks") / "locks"
LOCK_STRIPES = 64  # lock files, each shared by the sessions whose ids hash to it


def record(
    inp: HookInput, event: str, *, background: bool = True, every: float = CHECKPOINT_EVERY
) -> str:
    """Checkpoint (stop, pre-compact) or finish (session-end) the session's episode."""
    from memrl.integrations.claude.transcript import episode_fields, parse_transcript
    from memrl.project import detect_session

    final = event == "session-end"
    path = inp.transcript_path
    if path is None:
        raise HookError("the hook input names no transcript_path")
    if not path.is_file():  # not a failure: Claude Code writes none for `claude mcp list`
        return f"skipped: no transcript at {path} (a session without a conversation)"
    memory = hooks.open_memory()
    try:
        if not final:
            due, why = _due(memory, inp.session_id, path, every, force=event == "pre-compact")
            if not due:
                return why
        t = parse_transcript(path)
        session_id = inp.session_id or t.session_id
        if not session_id:
            raise HookError(f"no session id in the hook input or in {path}")
        fields = episode_fields(t)
        fields["session_id"] = session_id
        if fields["task"].startswith(f"<{MARK}"):
            fields["task"] = ""  # memrl's own context is never the task
        project = detect_session(t.cwd or inp.cwd)
        with _lock(memory.root, session_id):
            note, jobs = _upsert(memory, t, fields, session_id, project, final)
        note += _reading(t)
    finally:
        memory.close()
    if jobs:
        note += "; " + dispatch(memory.root, jobs, background)
    return note


def _reading(t: Transcript) -> str:
    """What the log should know about how the transcript was read, if it was not whole."""
    remarks = [f"{plural(t.skipped_lines, 'unreadable line')} skipped"] if t.skipped_lines else []
    if t.truncated:
        from memrl.integrations.claude.transcript import MAX_BYTES

        remarks.append(f"over {MAX_BYTES // 1_000_000} MB, its middle left out")
    return f"; transcript: {', '.join(remarks)}" if remarks else ""


def _due(
    memory: Memory, session_id: str | None, path: Path, every: float, *, force: bool
) -> tuple[bool, str]:
    """Whether a checkpoint is worth its cost now: cheap checks only, no parsing."""
    modified = path.stat().st_mtime
    row = _hook_row(memory, session_id) if session_id else None
    if row is not None:
        if row.archived:
            return False, f"episode {row.id[:8]} is archived; left alone"
        if modified <= row.updated_at:
            return False, "nothing new since the last checkpoint"
        if not force and memory.now() - row.updated_at < every:
            return False, "checkpoint not due yet"
        return True, ""
    if session_id and memory.ledger.session_episodes(session_id, source="mcp"):
        return False, "captured by Claude through memrl_capture"
    started = _first_timestamp(path)
    if not force and started is not None and memory.now() - started < every:
        return False, "session too young for a checkpoint"
    return True, ""


def _first_timestamp(path: Path) -> float | None:
    with open(path, "rb") as fh:
        for _ in range(50):
            line = fh.readline(1_000_000)
            if not line:
                break
            m = re.search(rb'"timestamp"\s*:\s*"([^"]+)"', line)
            if m:
                try:
                    return datetime.fromisoformat(m.group(1).decode()).timestamp()
                except ValueError:
                    return None
    return None


def _hook_row(memory: Memory, session_id: str | None) -> CatalogRow | None:
    """The session's hook episode, archived or not (the oldest, should there be two)."""
    if not session_id:
        return None
    rows = memory.ledger.session_episodes(session_id, source="hook")
    return rows[0] if rows else None


def _mcp_episode(memory: Memory, session_id: str, t: Transcript, project: str) -> str | None:
    """The episode Claude captured in this session through memrl_capture, if it is found.

    Claude Code passes its session id to the MCP servers it starts, so the episode usually
    carries it; a server started before a /clear, or by an older Claude Code, knows another
    id, so a capture seen in the transcript is also looked for in this session's project
    and time span.
    """
    own = memory.ledger.session_episodes(
        session_id, source="mcp", archived=False, newest_first=True
    )
    if own:
        return own[0].id
    if not t.captured_via_mcp or t.started_at is None:
        return None
    row = memory.ledger.conn.execute(
        "SELECT id FROM episodes WHERE source = 'mcp' AND archived = 0 AND project = ? "
        "AND created_at >= ? AND created_at <= ? ORDER BY created_at DESC LIMIT 1",
        (project, t.started_at.timestamp() - 60, memory.now() + 60),
    ).fetchone()
    return row[0] if row else None


def _worth_keeping(t: Transcript, fields: dict[str, Any]) -> bool:
    """A request and work done for it. A session that only talked (questions answered,
    a greeting, a fork or resume with nothing new) has no outcome to learn from, and its
    episode would crowd out real work in searches and at session start; Claude can still
    save an answer worth keeping through memrl_capture."""
    from memrl.integrations.claude.transcript import did_work

    return bool(fields["task"]) and did_work(t)


def _upsert(
    memory: Memory,
    t: Transcript,
    fields: dict[str, Any],
    session_id: str,
    project: str,
    final: bool,
) -> tuple[str, Jobs]:
    """Under the session's lock: decide, write the episode, credit at the end."""
    jobs = Jobs()
    existing = _hook_row(memory, session_id)
    mcp_id = _mcp_episode(memory, session_id, t, project)
    subject: Episode | None = None
    if mcp_id:  # only an episode found in this store stands for the session
        note = f"captured by Claude through memrl_capture ({mcp_id[:8]}); no hook episode"
        if existing is not None and not existing.archived:
            jobs.archive.append(existing.id)
            note += f" (checkpoint {existing.id[:8]} archived)"
        if final:
            subject = memory.store.load(mcp_id).model_copy(update={"session_id": session_id})
    elif existing is not None and existing.archived:
        note = f"episode {existing.id[:8]} is archived; left alone"
    elif not _worth_keeping(t, fields):
        note = "nothing to remember yet (no request, or no work done)"
    elif existing is None:  # through the same validation and redaction as capture
        ep = memory.prepare({**fields, "project": project}, source="hook", session_id=session_id)
        # --fork-session copies a transcript under a new session id: what the copy adds
        # (a question, say) is no new work
        if twin := memory.same_work(ep, same_session=False, source="hook"):
            note = f"the same work as episode {twin.short_id} of another session (a fork); "
            note += "not kept twice"
        else:
            memory.store.save([ep])
            subject, note = ep, f"created episode {ep.short_id} ({ep.outcome.value})"
            jobs.index.append(ep.id)
    else:
        subject, changed = _update(memory, fields, existing)
        verb = "updated" if changed else "unchanged"
        note = f"{verb} episode {subject.short_id} ({subject.outcome.value})"
        if changed:
            jobs.index.append(subject.id)
    if t.captured_via_mcp and not mcp_id:
        note += " (the transcript shows a memrl_capture, but its episode is not in this store)"
    if final and subject is not None:
        credit = memory.learning.credit(subject)
        jobs.spread += [c.id for c in credit]
        note += f"; credit to {len(credit)}" if credit else ""
    return note, jobs


def _update(memory: Memory, fields: dict[str, Any], existing: CatalogRow) -> tuple[Episode, bool]:
    """Update in place, through the same validation and redaction as capture."""
    with memory.store.editing():  # a person's edit or archive meanwhile is not overwritten
        current = memory.store.load(existing.id)
        now = datetime.fromtimestamp(memory.now(), UTC).isoformat()
        changes = {k: v for k, v in fields.items() if k != "session_id"}
        # The transcript's text is redacted afresh, so its secrets are counted afresh.
        changes |= {"updated_at": now, "redactions": {}}
        ep = memory.prepare({**current.model_dump(), **changes}, source="hook")
        if ep.model_dump(exclude={"updated_at"}) == current.model_dump(exclude={"updated_at"}):
            return current, False
        memory.store.save([ep])
    return ep, True


@contextmanager
def _lock(root: Path, session_id: str) -> Iterator[None]:
    """The session's hooks one at a time: reading its episode and creating it is atomic."""
    from filelock import FileLock, Timeout

    from memrl.store.files import explain

    stripe = zlib.crc32(session_id.encode()) % LOCK_STRIPES
    path = root / LOCKS / f"session-{stripe:02d}.lock"
    lock = FileLock(str(path), timeout=LOCK_WAIT)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock.acquire()
    except Timeout:
        raise HookError(f"another memrl hook held {path} for {LOCK_WAIT:.0f} s") from None
    except OSError as exc:  # a read-only or foreign data dir, said as the store says it
        raise explain(exc, path) from None
    try:
        yield
    finally:
        lock.release()
