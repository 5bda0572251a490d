"""Checkpoints and the end of a session: one hook episode per session, credit once.

Every event upserts the same episode, found by Claude Code's session id among the
`source = 'hook'` episodes in the catalog, under one lock. Writing the episode and the
credit needs only SQLite; the index work (model and LanceDB) is left to a detached
`finish` process, so Claude Code never waits for it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from memrl.integrations.claude import hooks
from memrl.integrations.claude.context import MARK
from memrl.integrations.claude.hooks import (
    CHECKPOINT_EVERY,
    LOCK_WAIT,
    MODULE,
    HookError,
    HookInput,
    log,
)
from memrl.views import plural

if TYPE_CHECKING:
    from memrl.episode import Episode
    from memrl.integrations.claude.transcript import Transcript
    from memrl.memory import Memory
    from memrl.store.ledger import CatalogRow


@dataclass(slots=True)
class Jobs:
    """Index work left for the detached `finish` process."""

    index: list[str] = field(default_factory=list)
    archive: list[str] = field(default_factory=list)
    spread: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.index or self.archive or self.spread)


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
    if not path.is_file():
        raise HookError(
            f"no transcript at {path}, so nothing to capture (Claude Code writes none for "
            "a session without a conversation, such as `claude mcp list`)"
        )
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
        with _lock(memory.root):
            note, jobs = _upsert(memory, t, fields, session_id, project, final)
        note += _reading(t)
    finally:
        memory.close()
    if jobs:
        note += "; " + _dispatch(jobs, background)
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
    return bool(fields["task"]) and bool(t.final_text or t.files or t.commands or t.errors)


def _upsert(
    memory: Memory,
    t: Transcript,
    fields: dict[str, Any],
    session_id: str,
    project: str,
    final: bool,
) -> tuple[str, Jobs]:
    """Under the hooks lock: decide, write the episode, credit at the end."""
    from memrl.episode import Episode

    jobs = Jobs()
    existing = _hook_row(memory, session_id)
    mcp_id = _mcp_episode(memory, session_id, t, project)
    subject: Episode | None = None
    if t.captured_via_mcp or mcp_id:
        note = "captured by Claude through memrl_capture; no hook episode"
        if existing is not None and not existing.archived:
            jobs.archive.append(existing.id)
            note += f" (checkpoint {existing.id[:8]} archived)"
        if final and mcp_id:
            subject = memory.store.load(mcp_id).model_copy(update={"session_id": session_id})
        elif final:
            subject = Episode(summary=fields["summary"], outcome=fields["outcome"], project=project)
            subject = subject.model_copy(update={"session_id": session_id})
    elif existing is not None and existing.archived:
        note = f"episode {existing.id[:8]} is archived; left alone"
    elif not _worth_keeping(t, fields):
        note = "nothing to remember yet (no request, or no work done)"
    else:
        subject, changed = _save(memory, fields, existing, session_id, project)
        verb = "created" if existing is None else "updated" if changed else "unchanged"
        note = f"{verb} episode {subject.short_id} ({subject.outcome.value})"
        if changed:
            jobs.index.append(subject.id)
    if final and subject is not None:
        credit = memory.learning.credit(subject)
        jobs.spread += [c.id for c in credit]
        note += f"; credit to {len(credit)}" if credit else ""
    return note, jobs


def _save(
    memory: Memory,
    fields: dict[str, Any],
    existing: CatalogRow | None,
    session_id: str,
    project: str,
) -> tuple[Episode, bool]:
    """Create or update in place, through the same validation and redaction as capture."""
    if existing is None:
        ep = memory.prepare({**fields, "project": project}, source="hook", session_id=session_id)
        memory.store.save([ep])
        return ep, True
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
def _lock(root: Path) -> Iterator[None]:
    """One hook at a time decides and writes: the read-then-create of an episode is atomic."""
    from filelock import FileLock, Timeout

    root.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(root / ".hooks.lock"), timeout=LOCK_WAIT)
    try:
        with lock:
            yield
    except Timeout:
        raise HookError(f"another memrl hook held {lock.lock_file} for {LOCK_WAIT:.0f} s") from None


# the index work, after the hook has answered -----------------------------------------------


def _dispatch(jobs: Jobs, background: bool) -> str:
    if background:
        try:
            spawn_finish(jobs)
            return "index update started in the background"
        except OSError as exc:
            log(f"could not start the background finish ({exc}); finishing inline")
    memory = hooks.open_memory()
    try:
        return finish(memory, jobs)
    finally:
        memory.close()


def spawn_finish(jobs: Jobs) -> subprocess.Popen[bytes]:
    """A detached process that outlives Claude Code's wait for the hook (and Claude Code)."""
    cmd = [sys.executable, "-m", MODULE, "finish", json.dumps(asdict(jobs))]
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
    return subprocess.Popen(cmd, **kwargs)


def finish(memory: Memory, jobs: Jobs) -> str:
    """Archive superseded checkpoints, embed and index episodes, spread credited value."""
    done = []
    live = [i for i in jobs.archive if (c := memory.ledger.catalog(i)) and not c.archived]
    if live:
        memory.archive(live)
        done.append(f"archived {len(live)}")
    for episode_id in jobs.index:
        if index_episode(memory, episode_id):
            done.append(f"indexed {episode_id[:8]}")
    if jobs.spread:
        memory.learning.spread_from(jobs.spread)
        done.append(f"spread from {len(jobs.spread)}")
    return ", ".join(done) or "nothing to do"


def index_episode(memory: Memory, episode_id: str) -> bool:
    """Embed the episode as it is on disk now and link it into the graph."""
    from memrl.errors import IndexUnavailable

    try:
        return memory.index_episode(episode_id)
    except IndexUnavailable as exc:
        raise HookError(f"episode {episode_id[:8]} saved, but not searchable yet: {exc}") from None
