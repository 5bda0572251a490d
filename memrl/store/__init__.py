"""The episode store: JSON files (the truth) kept in step with the ledger's catalog."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from memrl.episode import MIN_PREFIX, TOO_DEEP, Episode, parse
from memrl.errors import Ambiguous, CorruptFile, InvalidInput, MemrlError, NotFound, StoreError
from memrl.store import files
from memrl.store.ledger import PREFIX_MATCHES, SUMMARY_CHARS, CatalogRow, Ledger, tags_field

LEDGER_FILE = "memrl.db"
EDIT_LOCK = ".edit.lock"
EDIT_WAIT = 30.0  # seconds to wait for another process's edit before giving up


FIX_BY_HAND = "fix the file by hand or restore it from a backup"


@dataclass(slots=True)
class Filters:
    project: str | None = None
    tag: str | None = None
    outcome: str | None = None
    since: float | None = None
    archived: bool = False
    text: str | None = None  # substring of task or summary (for browsing, not search)


def catalog_row(
    root: Path, ep: Episode, *, archived: bool = False, stat: tuple[int, int] | None = None
) -> CatalogRow:
    """The catalog's row for an episode; `stat` (mtime_ns, size) saves reading the file's."""
    folder = files.ARCHIVE if archived else files.EPISODES
    rel = f"{folder}/{ep.day()}/{ep.id}.json"
    if stat is not None:
        mtime, size = stat
    else:
        try:
            st = (root / rel).stat()
            mtime, size = st.st_mtime_ns, st.st_size
        except FileNotFoundError:
            mtime, size = 0, 0
    return CatalogRow(
        id=ep.id,
        path=rel,
        created_at=ep.created_at.timestamp(),
        updated_at=ep.updated_at.timestamp(),
        project=ep.project,
        session_id=ep.session_id,
        task=ep.task,
        summary=ep.summary[:SUMMARY_CHARS],
        outcome=ep.outcome.value,
        task_type=ep.task_type.value,
        source=ep.source.value,
        tags=tags_field(ep.tags),
        pinned=int(ep.pinned),
        archived=int(archived),
        content_hash=ep.content_hash(),
        mtime_ns=mtime,
        size=size,
    )


def id_mismatch(inside: str, named: str) -> str:
    """An episode file whose id is not the one its file name gives, both in full (they may
    share their first characters)."""
    return f"the id in the file, {inside}, is not the one its name gives, {named}"


class EpisodeStore:
    def __init__(self, root: Path, clock: Callable[[], float] = time.time) -> None:
        self.root = root
        self.clock = clock
        self._ledger: Ledger | None = None
        self._edit_lock: Any = None

    @property
    def ledger(self) -> Ledger:
        if self._ledger is None:
            self._ledger = Ledger(self.root / LEDGER_FILE, self.clock)
        return self._ledger

    def path_for(self, ep: Episode, *, archived: bool = False) -> Path:
        folder = files.ARCHIVE if archived else files.EPISODES
        return self.root / folder / ep.day() / f"{ep.id}.json"

    # writing --------------------------------------------------------------------

    def save(self, episodes: Sequence[Episode], *, durable: bool = True) -> list[CatalogRow]:
        """Write episode files atomically, then record them in the catalog. A file this
        call made is removed again when the catalog cannot record it (a locked, full or
        damaged ledger): the retry the error asks for must not find a second copy."""
        rows, made = [], []
        try:
            for ep in episodes:
                archived = False
                existing = self.ledger.catalog(ep.id) if len(episodes) == 1 else None
                if existing is not None:
                    archived = bool(existing.archived)
                path = self.path_for(ep, archived=archived)
                if not path.exists():
                    made.append(path)
                files.atomic_write_text(path, ep.to_json(), durable=durable)
                rows.append(catalog_row(self.root, ep, archived=archived))
            self.ledger.upsert_catalog(rows)
        except MemrlError:
            for path in made:  # a read-only mount refuses even this: the error says why
                with suppress(OSError):
                    path.unlink(missing_ok=True)
            raise
        return rows

    @contextmanager
    def editing(self) -> Iterator[None]:
        """Held by every process around a read-change-write of episode files (an edit, a
        pin, an archive or restore, a hook's update in place), so that none of them writes
        back a copy read before another one's change. Re-entrant within a thread."""
        from filelock import FileLock, Timeout

        if self._edit_lock is None:
            try:
                self.root.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise files.explain(exc, self.root) from None
            self._edit_lock = FileLock(str(self.root / EDIT_LOCK), timeout=EDIT_WAIT)
        try:
            self._edit_lock.acquire()
        except Timeout:
            raise StoreError(
                f"another memrl process kept {self.root / EDIT_LOCK} for {EDIT_WAIT:.0f} s; "
                "retry once it is done"
            ) from None
        except OSError as exc:
            raise files.explain(exc, self.root / EDIT_LOCK) from None
        try:
            yield
        finally:
            self._edit_lock.release()

    def set_archived(self, ids: Sequence[str], archived: bool) -> list[Episode]:
        """Move files between episodes/ and archive/; nothing is ever deleted."""
        with self.editing():
            return self._set_archived(ids, archived)

    def _set_archived(self, ids: Sequence[str], archived: bool) -> list[Episode]:
        moved = []
        stamp = 0
        for episode_id in ids:
            row = self.ledger.catalog(episode_id)
            if row is None:
                raise NotFound(f"no episode {episode_id[:8]}")
            if bool(row.archived) == archived:
                continue
            ep = self.load(episode_id)
            src = self.root / row.path
            dst = self.path_for(ep, archived=archived)
            files.move(src, dst)
            if archived:  # its file's time becomes when it was archived: `restore latest`
                # given in ns, one apart at least: the clock a file system stamps with may
                # tick in milliseconds, and the last of a batch is the one archived last
                stamp = max(time.time_ns(), stamp + 1)
                with suppress(OSError):
                    os.utime(dst, ns=(stamp, stamp))
            try:
                self.ledger.upsert_catalog([catalog_row(self.root, ep, archived=archived)])
            except BaseException:  # the ledger refused (a full disk): the file goes back
                files.move(dst, src)
                raise
            moved.append(ep)
        return moved

    # reading --------------------------------------------------------------------

    def load(self, episode_id: str) -> Episode:
        row = self.ledger.catalog(episode_id)
        if row is None:
            raise NotFound(f"no episode with id {episode_id[:8]}; `memrl list` shows what exists")
        path = self.root / row.path
        ep = self.load_path(path)
        if ep.id != episode_id:  # edited by hand: the file is not the episode it is named for
            raise CorruptFile(f"{path}: {id_mismatch(ep.id, episode_id)} — {FIX_BY_HAND}")
        return ep

    def unreadable(self, ids: Sequence[str]) -> dict[str, CorruptFile]:
        """Of `ids`, those whose file no longer holds a valid episode, and why."""
        out = {}
        for episode_id in ids:
            try:
                self.load(episode_id)
            except CorruptFile as exc:
                out[episode_id] = exc
            except NotFound:
                continue  # gone, or never was: said where it matters
        return out

    def load_path(self, path: Path) -> Episode:
        try:
            return parse(_read(path), what=str(path))
        except InvalidInput as exc:
            raise CorruptFile(f"{exc} — {FIX_BY_HAND}") from None

    def raw(self, episode_id: str) -> dict[str, Any]:
        """The file's JSON as it is, unvalidated (an export copies it byte for byte)."""
        row = self.ledger.catalog(episode_id)
        if row is None:
            raise NotFound(f"no episode with id {episode_id[:8]}")
        path = self.root / row.path
        try:
            return json.loads(_read(path))
        except ValueError as exc:  # bad UTF-8 or JSON
            raise CorruptFile(f"{path} is not valid JSON ({exc}) — {FIX_BY_HAND}") from None
        except RecursionError:
            raise CorruptFile(f"{path} is not valid JSON ({TOO_DEEP}) — {FIX_BY_HAND}") from None

    def resolve(self, ref: str, *, archived: bool | None = False) -> str:
        """A full id from an id, a unique prefix of 4+ characters, or `latest`."""
        ref = ref.strip().lower()
        if ref in ("latest", "last-captured"):  # of either state: the newest live episode
            ids = self.ledger.latest(1, archived=False if archived is None else archived)
            if not ids:
                raise NotFound(
                    "no episode is archived."
                    if archived
                    else "the store is empty: capture an episode first (`memrl capture`)"
                )
            return ids[0]
        if len(ref) < MIN_PREFIX or not all(c in "0123456789abcdef-" for c in ref):
            raise NotFound(  # an unknown id, as any other that matches nothing (exit 3)
                f"'{ref}' is not an episode id: give at least {MIN_PREFIX} hex characters "
                "of an id (as `memrl list` shows them), or 'latest' for the newest episode."
            )
        ref = ref.replace("-", "")
        matches = self.ledger.match_prefix(ref, archived=archived)
        if not matches:
            if archived is False and (other := self.ledger.match_prefix(ref, archived=True)):
                if into := self.ledger.merged_into(other[:1]).get(other[0]):
                    raise NotFound(
                        f"{other[0][:8]} was merged into {into[:8]}, which holds what it knew: "
                        f"use {into[:8]} (`memrl restore` brings {other[0][:8]} back)."
                    )
                raise NotFound(f"{other[0][:8]} is archived: `memrl restore` brings it back.")
            if archived is True and (other := self.ledger.match_prefix(ref, archived=False)):
                raise NotFound(f"{other[0][:8]} is not archived.")
            raise NotFound(f"no episode matches '{ref}'.")
        if len(matches) > 1 and ref not in matches:
            total = len(matches)
            if total == PREFIX_MATCHES:  # there may be more than were looked up
                total = self.ledger.count_prefix(ref, archived=archived)
            raise Ambiguous(ref, matches, total)
        return ref if ref in matches else matches[0]

    def resolve_all(self, refs: Sequence[str], *, archived: bool | None = False) -> list[str]:
        """Resolve every ref or raise before anything is changed (no half-applied batches)."""
        ids: dict[str, None] = {}
        problems = []
        for ref in refs:
            try:
                ids.setdefault(self.resolve(ref, archived=archived), None)
            except (NotFound, Ambiguous) as exc:
                problems.append(str(exc).rstrip("."))
        if problems:
            raise NotFound("; ".join(problems) + ". Nothing was changed.")
        return list(ids)

    def resolve_moves(self, refs: Sequence[str], *, archived: bool) -> tuple[list[str], list[str]]:
        """For an archive (`archived`) or a restore: the ids to move, and those already there.

        Either is a state to reach, so an episode already in it is no error; a ref that
        matches nothing, or several, fails the whole batch before anything is changed.
        """
        ids: dict[str, None] = {}
        already: dict[str, None] = {}
        problems = []
        for ref in refs:
            try:
                ids.setdefault(self.resolve(ref, archived=not archived), None)
            except Ambiguous as exc:
                problems.append(str(exc).rstrip("."))
            except NotFound as exc:
                try:  # 'latest' names the newest of those to move, never one already moved
                    if ref.strip().lower() in ("latest", "last-captured"):
                        raise
                    already.setdefault(self.resolve(ref, archived=archived), None)
                except (NotFound, Ambiguous):
                    problems.append(str(exc).rstrip("."))
        if problems:
            raise NotFound("; ".join(problems) + ". Nothing was changed.")
        return list(ids), [i for i in already if i not in ids]


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise NotFound(
            f"{path} has gone (deleted by another process or by hand); "
            "run `memrl index` to bring the catalog up to date."
        ) from None
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc.strerror}") from None
