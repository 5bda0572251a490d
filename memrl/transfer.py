"""Export and import as JSON Lines: one episode a line, with what memrl learned about it.

A line is the episode's own fields plus `archived` and `learning` (state and utility
history), so export → import into an empty store is lossless. Import validates every
line before it writes anything, then stores the episodes in chunks of a few thousand:
batched embedding, the files, one catalog transaction and one index append per chunk.
Memory stays flat however big the file: checked episodes wait on disk, not in a list.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from itertools import islice
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, Field, ValidationError

from memrl.episode import Episode, Source, describe_validation, parse
from memrl.errors import InvalidInput, MemrlError
from memrl.index import IndexRow
from memrl.store import Filters, catalog_row, files
from memrl.store.ledger import StateRow

if TYPE_CHECKING:
    from memrl.memory import Memory

CHUNK = 2048  # episodes embedded, written and indexed together
EMBED_BATCH = 256


@dataclass(slots=True)
class ImportResult:
    imported: int = 0
    skipped_existing: int = 0
    errors: list[str] = field(default_factory=list)


def export(
    memory: Memory, filters: Filters | None = None, skipped: list[str] | None = None
) -> Iterator[dict[str, Any]]:
    """Every episode as `import` reads it back. A file that cannot be read, or no longer
    holds a valid episode (a hand edit gone wrong), is left out and named in `skipped`:
    an export that `import` would refuse as a whole is no backup."""
    filters = filters or Filters()
    archived_too = replace(filters, archived=True)
    for f in (filters, archived_too) if not filters.archived else (filters,):
        for row in memory.list(f, limit=None, sort="created", descending=False):
            try:
                data = memory.store.raw(row.id)
                parse(data)
            except (OSError, ValueError, MemrlError) as exc:  # pydantic errors are ValueErrors
                if skipped is not None:
                    skipped.append(f"{row.short_id}: {_first_line(exc)}")
                continue
            state = memory.ledger.state(row.id)
            events = memory.ledger.events(row.id)
            data["archived"] = row.archived
            data["learning"] = {
                "q": state.q,
                "p": state.p,
                "evidence": state.evidence,
                "retrievals": state.retrievals,
                "helpful": state.helpful,
                "unhelpful": state.unhelpful,
                "last_used_at": state.last_used_at,
                "history": [
                    {
                        "ts": ts,
                        "cause": cause,
                        "other_id": other,
                        "before": b,
                        "after": a,
                        "detail": detail,
                        "prev_used": prev_used,
                    }
                    for _seq, ts, cause, other, b, a, detail, prev_used in events
                ],
            }
            yield data


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


Unit = Annotated[float, Field(ge=0, le=1)]
Count = Annotated[int, Field(ge=0)]


class Event(BaseModel):
    """One utility change of an exported episode's history."""

    ts: float
    cause: str
    other_id: str | None = None
    before: Unit
    after: Unit
    detail: str = ""
    prev_used: float | None = None


class Learned(BaseModel):
    """What an export says was learned about an episode: utility is a probability, counts
    are not negative, so an edited export cannot put impossible values in the ledger. Its
    fields are the ledger's `StateRow`'s, and the history of utility changes."""

    q: Unit = 0.5
    p: Unit = 0.0
    evidence: Count = 0
    retrievals: Count = 0
    helpful: Count = 0
    unhelpful: Count = 0
    last_used_at: float | None = None
    history: list[Event] = Field(default_factory=list)


def _parse_line(memory: Memory, n: int, line: str | bytes) -> tuple[Episode, dict, bool] | None:
    if isinstance(line, bytes):
        try:
            line = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInput(f"line {n}: not valid UTF-8 (byte {exc.start})") from None
    if not line.strip():
        return None
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"line {n}: not valid JSON ({exc.msg})") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"line {n}: expected a JSON object")
    raw = data.pop("learning", None)
    try:
        learning = Learned.model_validate(raw).model_dump() if raw else {}
    except ValidationError as exc:
        raise InvalidInput(f"line {n}: {describe_validation(exc, 'learning')}") from None
    archived = bool(data.pop("archived", False))
    data.setdefault("source", Source.imported.value)
    try:
        ep = memory.prepare(data, source=Source.imported)
    except InvalidInput as exc:
        raise InvalidInput(f"line {n}: {exc}") from None
    return ep, learning, archived


def import_lines(
    memory: Memory,
    lines: Iterable[str | bytes],
    progress: Callable[[int, int], None] | None = None,
) -> ImportResult:
    """Check every line, then store the new episodes chunk by chunk.

    The checked episodes wait in an unnamed temporary file in the data dir, not in memory,
    so an import of 100,000 episodes holds one chunk at a time.
    """
    result = ImportResult()
    archived: dict[str, bool] = {}  # every episode checked so far, by id
    with files.Spool(memory.root) as spool:
        for n, line in enumerate(lines, 1):
            try:
                item = _parse_line(memory, n, line)
            except InvalidInput as exc:
                result.errors.append(str(exc))
                continue
            if item is None:
                continue
            ep, learning, arch = item
            if ep.id in archived:
                result.errors.append(f"line {n}: id {ep.id[:8]} appears twice in the file")
                continue
            archived[ep.id] = arch
            if not result.errors:  # after the first bad line nothing will be written
                record = {"episode": ep.model_dump(mode="json"), "learning": learning}
                spool.add(json.dumps(record, ensure_ascii=False))
        if result.errors:
            return result  # all or nothing: fix the file, then import again

        existing = set(memory.ledger.catalog_many(list(archived)))
        result.skipped_existing = len(existing)
        if len(existing) == len(archived):
            return result
        total = sum(1 for i, arch in archived.items() if not arch and i not in existing)
        records = (json.loads(text) for text in spool)
        todo = (
            (ep, r["learning"], archived[ep.id])
            for r in records
            if (ep := parse(r["episode"])).id not in existing
        )
        done = 0
        while chunk := list(islice(todo, CHUNK)):
            done, stored = _store_chunk(memory, chunk, done, total, progress)
            result.imported += stored
            result.skipped_existing += len(chunk) - stored
    memory.index.optimize(whole=True)
    return result


def _store_chunk(
    memory: Memory,
    chunk: list[tuple[Episode, dict, bool]],
    done: int,
    total: int,
    progress: Callable[[int, int], None] | None,
) -> tuple[int, int]:
    """Embed, write, catalog and index one chunk, so memory stays flat however big the file;
    returns the progress count and how many episodes were stored.

    Each chunk is complete before the next starts: an interrupted import keeps whole
    episodes, and running it again skips them. So does a second import of the same file
    running at the same time: what it stored first is left out here.
    """
    live = [ep for ep, _l, arch in chunk if not arch]
    vectors: list[Any] = []
    for start in range(0, len(live), EMBED_BATCH):
        batch = live[start : start + EMBED_BATCH]
        vectors.extend(memory.embedder.embed([ep.embedding_text() for ep in batch]))
        done += len(batch)
        if progress:
            progress(done, total)
    vector_of = {ep.id: vec for ep, vec in zip(live, vectors, strict=True)}
    with memory.store.editing():
        present = memory.ledger.catalog_many([ep.id for ep, _l, _a in chunk])
        chunk = [item for item in chunk if item[0].id not in present]
        for ep, _l, arch in chunk:
            files.atomic_write_text(
                memory.store.path_for(ep, archived=arch), ep.to_json(), durable=False
            )
        os.sync()
        memory.ledger.upsert_catalog(
            [catalog_row(memory.root, ep, archived=a) for ep, _l, a in chunk]
        )
        _restore_learning(memory, chunk)
    rows = [IndexRow.of(ep, vector_of[ep.id]) for ep, _l, arch in chunk if not arch]
    if rows:
        memory.write_index(rows)
    return done, len(chunk)


def _restore_learning(memory: Memory, todo: list[tuple[Episode, dict, bool]]) -> None:
    """Write what was learned, as `Learned` checked it: the state row's fields, and history."""
    states, events = [], []
    for ep, learn, _arch in todo:
        if not learn:
            continue
        history = learn.pop("history")
        states.append(StateRow(ep.id, **learn))
        events += [
            (e["ts"], ep.id, e["cause"], e["other_id"], e["before"], e["after"], e["detail"],
             e["prev_used"])
            for e in history
        ]  # fmt: skip
    if states or events:
        with memory.ledger.write() as c:
            memory.ledger.put_states(c, states)
            memory.ledger.add_events(c, events)
