"""Export and import as JSON Lines: one episode a line, with what memrl learned about it.

A line is the episode's own fields plus `archived` and `learning` (state and utility
history), so export → import into an empty store is lossless. What neighbours add (`p`)
is derived, and import recomputes it from this store's graph: a whole store's export gets
back what it had; a `p` this graph does not give is set right, recorded as propagation.
Import validates every line before it writes anything, then stores the episodes in chunks
of a few thousand: the files, one ledger transaction (catalog and learning together) and
one index append per chunk. Embedding runs on every core in the background all along
(`_Vectors`), from the first lines checked to the last chunk. Memory stays flat however
big the file: checked episodes wait on disk, not in a list.
"""

from __future__ import annotations

import json
import os
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from itertools import islice
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, BeforeValidator, Field, ValidationError

from memrl import embeddings
from memrl.episode import TOO_DEEP, Episode, Source, describe_validation, parse
from memrl.errors import IndexUnavailable, InvalidInput, MemrlError
from memrl.index import IndexRow
from memrl.intake import FUTURE_SLACK, prepare
from memrl.store import LEDGER_FILE, Filters, catalog_row, files
from memrl.store.ledger import CatalogRow, StateRow

if TYPE_CHECKING:
    from concurrent.futures import Future

    import numpy as np

    from memrl.memory import Memory

CHUNK = 2048  # episodes written and indexed together
EMBED_BATCH = 256  # new episodes found while checking the file, looked up and started together
AHEAD = 2 * CHUNK  # episodes embedded while the file is still being checked, at most
CHECKED_EVERY = 500  # lines checked between two progress reports
_LINES = uuid.UUID("5b0f6e0e-2f43-4d4a-9c1e-6d656d726c00")  # namespace of ids made from a line


@dataclass(slots=True)
class ImportResult:
    imported: int = 0
    skipped_existing: int = 0
    errors: list[str] = field(default_factory=list)
    restored: int = 0  # episodes already present that had learned nothing: given the file's
    # created, or last used, more than a day ahead of this clock (kept as exported: it does
    # not decay until then)
    dated_ahead: int = 0
    # Why the index could not take the imported episodes (stored all the same), with the fix.
    index_problem: str | None = None
    indexed_present: int = 0  # episodes already present but missing from the index: indexed
    # Episodes already present whose stored copy differs from the file's: the stored one is
    # kept, as it may hold edits made since the export.
    differing: list[str] = field(default_factory=list)
    # Episodes live here that the file has archived (merged or pruned where it came from):
    # kept live, so search may show them beside the episode that replaced them there.
    archived_in_file: list[str] = field(default_factory=list)


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
                "added_at": state.added_at,
                "history": [
                    {
                        "ts": ts,
                        "cause": cause,
                        "other_id": other,
                        "before": b,
                        "after": a,
                        "detail": detail,
                        "prev_used": prev_used,
                        "prev_q": prev_q,
                    }
                    for _seq, ts, cause, other, b, a, detail, prev_used, prev_q in events
                ],
            }
            yield data


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


Unit = Annotated[float, Field(ge=0, le=1)]
# what neighbours add to or take from a utility: γ·(q − ½) at most, and γ ≤ 1
Pull = Annotated[float, Field(ge=-0.5, le=0.5)]


def _seconds(value: Any) -> Any:
    """A moment as exported (seconds since 1970) or as a person writes one (ISO 8601, as the
    episode's own dates are; UTC unless it says otherwise)."""
    if isinstance(value, str):
        try:
            when = datetime.fromisoformat(value.strip())
        except ValueError:
            return value  # not a date: the number check below names what it wants
        return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()
    return value


# a moment between 1970 and the year 9999, as every date memrl prints can show it
Moment = Annotated[
    float, BeforeValidator(_seconds), Field(ge=0, le=253_402_300_799, allow_inf_nan=False)
]
Count = Annotated[int, Field(ge=0)]


class Event(BaseModel):
    """One utility change of an exported episode's history."""

    ts: Moment
    cause: str
    other_id: str | None = None
    before: Unit
    after: Unit
    detail: str = ""
    prev_used: Moment | None = None
    prev_q: Unit | None = None  # a rating's q before it (its undo restores it)


class Learned(BaseModel):
    """What an export says was learned about an episode: utility is a probability, what
    neighbours add is at most ½ either way, counts are not negative and times are dates, so
    an edited export cannot put impossible values in the ledger. Its fields are the
    ledger's `StateRow`'s, and the history of utility changes."""

    q: Unit = 0.5
    p: Pull = 0.0
    evidence: Count = 0
    retrievals: Count = 0
    helpful: Count = 0
    unhelpful: Count = 0
    last_used_at: Moment | None = None
    added_at: Moment | None = None
    history: list[Event] = Field(default_factory=list)


def _parse_line(
    memory: Memory, n: int, line: str | bytes
) -> tuple[Episode, dict, bool, bool, list[str]] | None:
    """The line's episode, its learning, whether it is archived, whether its id was made
    from its content (it had none), and the fields it gives; None for a blank line."""
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
    except RecursionError:
        raise InvalidInput(f"line {n}: not valid JSON ({TOO_DEEP})") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"line {n}: expected a JSON object")
    derived = not data.get("id")
    if derived:  # named by all it holds, so the same file imported again adds nothing
        data.pop("id", None)
        data["id"] = _content_id(data)
    given = sorted(set(data) - {"learning", "archived"})  # not those the import fills in
    raw = data.pop("learning", None)
    try:
        learning = Learned.model_validate(raw).model_dump() if raw else {}
    except ValidationError as exc:
        raise InvalidInput(f"line {n}: {describe_validation(exc, 'learning')}") from None
    archived = bool(data.pop("archived", False))
    data.setdefault("source", Source.imported.value)
    try:
        # A store keeps what a clock running ahead dated in the future, and an episode with
        # no project or type; so does its export, which a line with its learning comes from.
        exported = raw is not None
        ep = prepare(
            memory,
            data,
            source=Source.imported,
            future_ok=exported,
            fill=not exported,
            new_text=not exported,  # its summary, longer than the limit here perhaps, too
        )
    except InvalidInput as exc:
        raise InvalidInput(f"line {n}: {exc}") from None
    return ep, learning, archived, derived, given


def _content_id(data: dict) -> str:
    """An id for an episode line that has none: the same line always gets the same one."""
    text = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return uuid.uuid5(_LINES, text).hex


def import_lines(
    memory: Memory,
    lines: Iterable[str | bytes],
    progress: Callable[[int, int], None] | None = None,
) -> ImportResult:
    """Check every line, then store the new episodes chunk by chunk. `progress(done, total)`
    counts the lines checked (`total` 0), then the live episodes embedded and stored.

    The checked episodes wait in an unnamed temporary file in the data dir, not in memory,
    so an import of 100,000 episodes holds one chunk at a time. An episode already present
    is skipped, but gets the learning its line carries if it has learned nothing of its own:
    an import killed before its ledger write leaves files that `memrl index` catalogues
    with nothing learned, and running the import again gives them what the file knows.
    """
    result = ImportResult()
    new_store = not memory.root.exists()
    try:
        _import(memory, lines, progress, result)
    finally:
        if new_store and not result.imported:  # a refused import leaves no store behind
            with suppress(OSError):
                (memory.root / files.IMPORTING).unlink()
                memory.root.rmdir()  # only if empty: never what another process put there
    return result


def _import(
    memory: Memory,
    lines: Iterable[str | bytes],
    progress: Callable[[int, int], None] | None,
    result: ImportResult,
) -> None:
    archived: dict[str, bool] = {}  # every episode checked so far, by id
    derived: set[str] = set()  # ids made from a line's content (it had none)
    ahead = memory.now() + FUTURE_SLACK
    vectors = _Vectors(memory)
    with files.Spool(memory.root) as spool, files.importing(memory.root), vectors:
        for n, line in enumerate(lines, 1):
            if progress and not n % CHECKED_EVERY:
                progress(n, 0)
            try:
                item = _parse_line(memory, n, line)
            except InvalidInput as exc:
                result.errors.append(str(exc))
                continue
            if item is None:
                continue
            ep, learning, arch, made, given = item
            if ep.id in archived:
                if ep.id in derived:  # the same line again: one episode
                    result.skipped_existing += 1
                    continue
                result.errors.append(f"line {n}: id {ep.id[:8]} appears twice in the file")
                continue
            archived[ep.id] = arch
            if made:
                derived.add(ep.id)
            if not result.errors:  # after the first bad line nothing will be written
                record = {
                    "episode": ep.model_dump(mode="json"),
                    "learning": learning,
                    "given": given,
                }
                spool.add(json.dumps(record, ensure_ascii=False))
                if not arch:
                    vectors.offer(ep)
        if result.errors:
            return  # all or nothing: fix the file, then import again

        catalogued = memory.ledger.catalog_many(list(archived))
        existing = set(catalogued)
        result.skipped_existing += len(existing)
        total = sum(1 for i, arch in archived.items() if not arch and i not in existing)
        records = (json.loads(text) for text in spool)
        items = ((parse(r["episode"]), r["learning"], r["given"]) for r in records)
        vectors.report(progress, total)
        waiting: list[tuple[Episode, dict, bool]] = []  # the chunk to store next
        while True:
            chunk = list(islice(items, CHUNK))
            present = [(ep, learn) for ep, learn, _g in chunk if ep.id in existing and learn]
            result.restored += _restore_untaught(memory, present)
            # Only what a line gives can differ: the date (or project) an import fills in for
            # a line without one is this import's, not the file's.
            again = [(ep, given) for ep, _l, given in chunk if ep.id in existing]
            _differing(memory, again, archived, catalogued, result)
            new = [(ep, learn, archived[ep.id]) for ep, learn, _g in chunk if ep.id not in existing]
            result.dated_ahead += sum(
                max(ep.created_at.timestamp(), learn.get("last_used_at") or 0.0) > ahead
                for ep, learn, _a in new
            )
            if result.index_problem is None:  # embedded while the chunk before is stored
                vectors.start([ep for ep, _l, arch in new if not arch])
            if waiting:
                stored, problem = _store_chunk(memory, waiting, vectors)
                result.imported += stored
                result.skipped_existing += len(waiting) - stored
                if problem and result.index_problem is None:
                    result.index_problem = problem
                    vectors.close()  # nothing more is embedded once that is known
            if not chunk:
                break
            waiting = new
    if result.index_problem is None and existing:
        result.indexed_present = _index_present(memory, existing)
    if (result.imported or result.indexed_present) and result.index_problem is None:
        memory.index.optimize(whole=True)
        if memory.learning.has_sources() or memory.learning.has_pull():
            # Feedback, capture, archive and restore update the graph around what they touch,
            # from its stored edges and the p beside them: both must be this store's. So the
            # edges to and from what came in are built, and what neighbours add is recomputed
            # from them (recorded as propagation). An export of a whole store imported
            # with the same model changes nothing; a file whose `p` this store's graph does
            # not give (written by hand, or part of a store) is set right now, not at the
            # next prune or rating near it, which would name a neighbour that did nothing.
            memory.learning.propagate()


def _differing(
    memory: Memory,
    episodes: list[tuple[Episode, list[str]]],
    archived: dict[str, bool],
    catalogued: dict[str, CatalogRow],
    result: ImportResult,
) -> None:
    """Note in `result` those of `episodes` live here that the file has archived, and those
    whose stored copy is archived where the line's is live, or holds something else in the
    fields their line gives (updated_at aside)."""
    for ep, given in episodes:
        here = bool(catalogued[ep.id].archived)
        if here != archived[ep.id]:
            (result.differing if here else result.archived_in_file).append(ep.id)
            continue
        try:
            stored = memory.store.load(ep.id)
        except MemrlError:
            continue  # unreadable: `memrl status` names it
        fields = set(given) - {"updated_at"}
        if stored.model_dump(include=fields) != ep.model_dump(include=fields):
            result.differing.append(ep.id)


def _index_present(memory: Memory, ids: set[str]) -> int:
    """Index the live episodes among `ids` that the index lacks: an import killed after its
    ledger write but before its index write left them searchable by nobody, and running it
    again skips them as present."""
    from memrl import maintenance

    try:
        indexed = memory.index.hashes()
    except IndexUnavailable:
        return 0  # no index yet, or one to rebuild: `memrl index` says so
    return maintenance.index_live(memory, [i for i in ids if i not in indexed])


def _store_chunk(
    memory: Memory, chunk: list[tuple[Episode, dict, bool]], vectors: _Vectors
) -> tuple[int, str | None]:
    """Write, catalog and index one chunk, so memory stays flat however big the file;
    returns how many episodes were stored, and why the index could not take them (they are
    stored all the same).

    Each chunk is complete before the next starts: an interrupted import keeps whole
    episodes, and running it again skips them. So does a second import of the same file
    running at the same time: what it stored first is left out here.
    """
    live = [ep for ep, _l, arch in chunk if not arch]
    made = vectors.take(live)
    with memory.store.editing():
        present = memory.ledger.catalog_many([ep.id for ep, _l, _a in chunk])
        chunk = [item for item in chunk if item[0].id not in present]
        for ep, _l, arch in chunk:
            files.atomic_write_text(
                memory.store.path_for(ep, archived=arch), ep.to_json(), durable=False
            )
        os.sync()
        with memory.ledger.write() as c:  # catalog and learning: both or neither
            memory.ledger.upsert_catalog(
                [catalog_row(memory.root, ep, archived=a) for ep, _l, a in chunk]
            )
            _write_learning(memory, c, [(ep, learn) for ep, learn, _a in chunk])
    if made is None:
        return len(chunk), None
    vector_of = {ep.id: vec for ep, vec in zip(live, made, strict=True)}
    rows = [IndexRow.of(ep, vector_of[ep.id]) for ep, _l, arch in chunk if not arch]
    try:
        if rows:
            memory.write_index(rows)
    except IndexUnavailable as exc:
        return len(chunk), str(exc)
    return len(chunk), None


class _Vectors:
    """The vectors of the episodes an import stores, embedded on every core in the
    background, in file order: the first AHEAD while the file is still being checked, then
    each chunk's while the chunk before it is written. Checking and writing take one core;
    this way the others embed meanwhile instead of waiting. Closing drops what was not
    started (an error in the file, Ctrl-C, an index that cannot take the vectors)."""

    def __init__(self, memory: Memory) -> None:
        self.memory = memory
        self.parts: deque[tuple[list[str], list[Future[np.ndarray]]]] = deque()
        self.started: set[str] = set()
        self.made: dict[str, np.ndarray] = {}
        self.checked: list[Episode] = []  # found new by the check, not yet looked up
        self.early = True  # are episodes embedded while the file is checked
        self.closed = False
        self.done = 0
        self.total = 0
        self.progress: Callable[[int, int], None] | None = None

    def __enter__(self) -> _Vectors:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def offer(self, ep: Episode) -> None:
        """A live episode the check just passed: embedded early while there is room."""
        if not self.early or len(self.started) + len(self.checked) >= AHEAD:
            return
        self.checked.append(ep)
        if len(self.checked) >= EMBED_BATCH:
            batch, self.checked = self.checked, []
            try:
                if (self.memory.root / LEDGER_FILE).exists():  # none present in a new store
                    present = self.memory.ledger.catalog_many([ep.id for ep in batch])
                    batch = [ep for ep in batch if ep.id not in present]
                self.start(batch)
            except MemrlError:  # a model or ledger that cannot be read: once the whole
                self.early = False  # file is checked, storing says so (or the file's errors)

    def report(self, progress: Callable[[int, int], None] | None, total: int) -> None:
        self.progress, self.total = progress, total

    def start(self, eps: list[Episode]) -> None:
        eps = [ep for ep in eps if ep.id not in self.started]
        if eps and not self.closed:
            texts = [ep.embedding_text() for ep in eps]
            self.parts.append(
                ([ep.id for ep in eps], embeddings.start(self.memory.embedder, texts))
            )
            self.started.update(ep.id for ep in eps)

    def take(self, eps: list[Episode]) -> list[np.ndarray] | None:
        """The vectors of `eps`, once made; None once closed."""
        self.start(eps)
        while not self.closed and any(ep.id not in self.made for ep in eps):
            ids, futures = self.parts.popleft()
            at = 0
            for future in futures:
                vectors = future.result()
                self.made.update(zip(ids[at : at + len(vectors)], vectors, strict=True))
                at += len(vectors)
                self.done = min(self.done + len(vectors), self.total)
                if self.progress:
                    self.progress(self.done, self.total)
        if self.closed:
            if self.progress:
                self.done = min(self.done + len(eps), self.total)
                self.progress(self.done, self.total)
            return None
        return [self.made.pop(ep.id) for ep in eps]

    def close(self) -> None:
        self.closed = True
        for _ids, futures in self.parts:
            for future in futures:
                future.cancel()
        self.parts.clear()
        self.made.clear()


def _carries(learn: dict) -> bool:
    """Does an export line's learning say more than a new episode's defaults?"""
    state = {k: v for k, v in learn.items() if k != "history"}
    return bool(learn.get("history")) or StateRow("", **state) != StateRow("")


def _restore_untaught(memory: Memory, items: list[tuple[Episode, dict]]) -> int:
    """Give episodes already present the learning their lines carry, where they have none
    of their own (a state row at its defaults, no history); how many were given it.

    Checked again in the transaction that writes: feedback given meanwhile is never
    overwritten. A store that knows what the file knows takes no write lock at all.
    """
    items = _untaught(memory, items)
    if not items:
        return 0
    with memory.ledger.write() as c:
        items = _untaught(memory, items)
        _write_learning(memory, c, items)
    return len(items)


def _untaught(memory: Memory, items: list[tuple[Episode, dict]]) -> list[tuple[Episode, dict]]:
    """Those of `items` whose episode has learned nothing (default state, no history) and
    whose line says more: what it learned, or when it arrived (the clock of its decay,
    which `memrl index` starts anew for an episode it catalogues without its line)."""
    ids = [ep.id for ep, _l in items]
    states = memory.ledger.states(ids)
    taught = {i for i, state in states.items() if state != StateRow(i)}
    taught |= {
        ep.id
        for ep, learn in items
        if not _carries(learn) and learn.get("added_at") in (None, states[ep.id].added_at)
    }
    for start in range(0, len(ids), 500):
        part = ids[start : start + 500]
        taught.update(
            r[0]
            for r in memory.ledger.conn.execute(
                "SELECT DISTINCT episode_id FROM events "
                f"WHERE episode_id IN ({','.join('?' * len(part))})",
                part,
            )
        )
    return [(ep, learn) for ep, learn in items if ep.id not in taught]


def _write_learning(memory: Memory, conn: Any, items: list[tuple[Episode, dict]]) -> None:
    """Write what was learned, as `Learned` checked it: the state row's fields, and history."""
    states, events = [], []
    for ep, learn in items:
        if not learn:
            continue
        states.append(StateRow(ep.id, **{k: v for k, v in learn.items() if k != "history"}))
        events += [
            (e["ts"], ep.id, e["cause"], e["other_id"], e["before"], e["after"], e["detail"],
             e["prev_used"], e["prev_q"])
            for e in learn["history"]
        ]  # fmt: skip
    memory.ledger.put_states(conn, states)
    memory.ledger.add_events(conn, events)
