"""Intake: how anything entering the store is checked and completed before it is saved.

Every writer (CLI, MCP, hooks, TUI, import, merge) goes through `prepare`: validation
with messages that say what to send instead, the summary limit, the project from git,
secret redaction, and task type and tags from the intent extractor.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from memrl.episode import Episode, Source, new_id, parse
from memrl.errors import InvalidInput
from memrl.project import detect, given

if TYPE_CHECKING:
    from memrl.config import Settings
    from memrl.memory import Memory

FUTURE_SLACK = 86_400.0  # seconds a created_at may lie ahead of this clock (another's, skewed)


def check_summary(settings: Settings, summary: str, kept: Iterable[str] = ()) -> None:
    """Refuse a summary over `capture.max_summary_chars`, from whichever writer it comes.
    The limit is for new text: one of `kept`, summaries stored already (the one an edit
    starts from, the originals of a merge), passes whatever the limit was lowered to."""
    limit = settings.capture.max_summary_chars
    if len(summary) > limit and summary not in kept:
        raise InvalidInput(
            f"summary is {len(summary):,} characters; the limit is {limit:,} "
            "(capture.max_summary_chars). Summarise what was done and what was learned."
        )


def prepare(
    memory: Memory,
    data: dict[str, Any] | Episode,
    *,
    source: Source | str = Source.cli,
    session_id: str | None = None,
    cwd: Path | None = None,
    extract_intent: bool = False,
    notes: list[str] | None = None,
    future_ok: bool = False,
    fill: bool = True,
    new_text: bool = True,
) -> Episode:
    """Validate, fill in what the caller left out, and redact secrets.

    `future_ok` keeps a created_at ahead of this clock, and `fill=False` leaves project, task,
    task type and tags as they are, even empty: an export holds what a store kept.
    capture.max_summary_chars is for new text: `new_text=False` (an export's episode, a
    merge keeping an original's summary) leaves it out.
    """
    if isinstance(data, Episode):
        data = data.model_dump()
    data = {k: v for k, v in dict(data).items() if v is not None}
    summary = data.get("summary")
    if isinstance(summary, str) and new_text:
        check_summary(memory.settings, summary)
    data.setdefault("source", Source(source).value)
    if not data.get("created_at"):
        data["created_at"] = data["updated_at"] = now_iso(memory)
    if not data.get("id"):  # shown by its first 8 characters: a new id is new in those too
        data["id"] = new_id()
        while memory.ledger.match_prefix(data["id"][:8]):
            data["id"] = new_id()
    if session_id and not data.get("session_id"):
        data["session_id"] = session_id
    if fill and isinstance(data.get("project"), str):
        data["project"] = given(data["project"], to_file=True)
    if fill and not data.get("project"):
        data["project"] = detect(cwd)
    ep = parse(data)
    if not future_ok and ep.created_at.timestamp() > memory.now() + FUTURE_SLACK:
        raise InvalidInput(
            f"created_at {ep.created_at.isoformat(timespec='seconds')} is in the future; "
            "leave it out for now, or give the time the work was done"
        )
    if memory.settings.capture.redact:
        from memrl.redact import redact_episode

        ep = redact_episode(ep)
    return with_intent(memory, ep, extract_intent, notes) if fill else ep


def with_intent(memory: Memory, ep: Episode, use_llm: bool, notes: list[str] | None) -> Episode:
    """Fill task type and tags the caller left out (offline rules, or Claude when asked)."""
    if ep.task_type != "unknown" and ep.tags:
        return ep
    from memrl import intent

    args = (ep.task, ep.summary, ep.files, ep.commands)
    if use_llm or memory.settings.capture.extract_intent_llm:
        found, note = intent.extract_with_llm(*args)
        if note and notes is not None:
            notes.append(note)
    else:
        found = intent.extract(*args, tags=not ep.tags)  # tags_for is half the work
    changes: dict[str, Any] = {}
    if ep.task_type == "unknown" and found.task_type != "unknown":
        changes["task_type"] = found.task_type
    if not ep.tags and found.tags:
        changes["tags"] = found.tags
    if not ep.task and found.intent:
        changes["task"] = found.intent
    return Episode.model_validate({**ep.model_dump(), **changes}) if changes else ep


def now_iso(memory: Memory) -> str:
    return datetime.fromtimestamp(memory.now(), UTC).isoformat()
