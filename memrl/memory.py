"""The Memory facade: the one API the CLI, the MCP server and the TUI call.

It owns the pieces (settings, episode store and ledger, embedder, index) and opens each
lazily, so reading commands never load the embedding model or LanceDB.
"""

from __future__ import annotations

import builtins
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from memrl import background, config
from memrl.embeddings import Embedder, LazyEmbedder, ModelSpec, spec
from memrl.episode import Episode, Source, parse
from memrl.errors import (
    Conflict,
    IndexUnavailable,
    InvalidInput,
    MemrlError,
    ModelUnavailable,
    StoreError,
)
from memrl.index import Index, IndexRow
from memrl.intake import check_summary, now_iso
from memrl.project import given
from memrl.reading import Reading
from memrl.store import EpisodeStore, Filters
from memrl.views import CaptureResult, EpisodeView, SearchResult

if TYPE_CHECKING:
    from memrl.curation import Curation
    from memrl.learning.engine import Engine


class Memory(Reading):
    """The store, its index and what was learned, behind one object (see the module doc)."""

    def __init__(
        self,
        root: Path | str | None = None,
        *,
        settings: config.Settings | None = None,
        embedder: Embedder | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.root = Path(root).expanduser() if root else config.data_dir()
        self.settings = settings or config.load(self.root)
        self.clock = clock
        self.store = EpisodeStore(self.root, self.now)  # self.now: whatever self.clock is then
        self.model: ModelSpec = spec(self.settings.embedding)
        self._embedder = embedder
        self._index: Index | None = None
        self._learning: Engine | None = None
        self._curation: Curation | None = None

    # the parts ------------------------------------------------------------------

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = LazyEmbedder(
                self.model, config.models_dir(self.root), self.settings.embedding.threads
            )
        return self._embedder

    @property
    def model_id(self) -> str:
        return self._embedder.model_id if self._embedder is not None else self.model.model_id

    @property
    def index(self) -> Index:
        if self._index is None:
            embedder = self._embedder
            dim = (lambda: embedder.dim) if embedder is not None else None
            self._index = Index(self.root / "vectors", self.model_id, dim)
        return self._index

    @property
    def learning(self) -> Engine:
        if self._learning is None:
            from memrl.learning.engine import Engine

            self._learning = Engine(self)
        return self._learning

    @property
    def curation(self) -> Curation:
        if self._curation is None:
            from memrl.curation import Curation

            self._curation = Curation(self)
        return self._curation

    def close(self) -> None:
        self.store.ledger.close()

    def reopened(self) -> Memory:
        """A Memory over the store at this root now, for a long-running process whose store
        was deleted and made again: settings read afresh, the loaded model kept if they
        still name it."""
        fresh = Memory(self.root, clock=self.clock)
        if fresh.model == self.model:
            fresh._embedder = self._embedder
        self.close()
        return fresh

    def version(self) -> tuple[int, int]:
        """Changes whenever any process writes to the store: poll it to refresh live views."""
        return self.ledger.data_version()

    # writing ----------------------------------------------------------------------

    def prepare(
        self,
        data: dict[str, Any] | Episode,
        *,
        source: Source | str = Source.cli,
        session_id: str | None = None,
        cwd: Path | None = None,
        extract_intent: bool = False,
        notes: builtins.list[str] | None = None,
        new_text: bool = True,
    ) -> Episode:
        """Validate, fill in what the caller left out, and redact secrets."""
        from memrl.intake import prepare

        return prepare(
            self,
            data,
            source=source,
            session_id=session_id,
            cwd=cwd,
            extract_intent=extract_intent,
            notes=notes,
            new_text=new_text,
        )

    def capture(
        self,
        data: dict[str, Any] | Episode,
        *,
        source: Source | str = Source.cli,
        session_id: str | None = None,
        cwd: Path | None = None,
        extract_intent: bool = False,
    ) -> CaptureResult:
        """Store, index and learn from one episode."""
        if isinstance(data, dict):
            for field, why in RECORDED.items():
                if data.get(field):
                    raise InvalidInput(
                        f"{field} is kept by memrl ({why}): leave it out of a capture"
                    )
        notes: builtins.list[str] = []
        ep = self.prepare(
            data,
            source=source,
            session_id=session_id,
            cwd=cwd,
            extract_intent=extract_intent,
            notes=notes,
        )
        if self.ledger.catalog(ep.id) is not None:
            raise InvalidInput(
                f"an episode with id {ep.short_id} already exists; change it with "
                "`memrl edit`, or leave the id out to capture a new one"
            )
        if twin := self.same_work(ep, same_session=True):  # a retry after a timeout, say
            return CaptureResult(
                twin,
                [],
                [],
                [
                    f"this session captured the same episode before as {twin.short_id}: "
                    "nothing new was stored (to change it: `memrl edit`)"
                ],
                repeat=True,
            )
        # The text is embedded while the file is written and synced.
        embedding = background.submit(self.embedder.embed, [ep.embedding_text()])
        unseen_at = self.index.version()  # before the file: no other process knows of it
        self.store.save([ep])  # or nothing, if the ledger cannot record it
        try:
            vector = embedding.result()[0]
        except ModelUnavailable as exc:
            raise ModelUnavailable(
                f"{exc} The episode itself is saved as {ep.short_id}: `memrl index` makes it "
                "searchable once the model loads."
            ) from None
        try:
            near = self.learning.neighbours_of_new(vector, ep.id)
            warnings = notes + self._index_episodes([(ep, vector)], unseen_at=unseen_at)
            credit = self.learning.credit(ep)
            spread = self.learning.after_capture(ep, near, [c.id for c in credit])
        except StoreError as exc:  # a full disk, say: the user must not capture it again
            raise StoreError(
                f"{exc} The episode itself is saved as {ep.short_id}: once it can be written, "
                "`memrl index` makes it searchable."
            ) from None
        start = next((c for c in spread if c.id == ep.id), None)
        neighbours = [c for c in spread if c.id != ep.id]
        return CaptureResult(ep, credit, neighbours, warnings, start=start)

    def index_episode(self, episode_id: str) -> bool:
        """Embed one stored episode as it is on disk now, index it and link it into the graph.

        For writers that save first and index later (the hooks answer Claude Code at once
        and index in a background process). False when the episode is gone or archived.
        """
        for _ in range(3):  # a write landed while embedding: embed the newer text
            cat = self.ledger.catalog(episode_id)
            if cat is None or cat.archived:
                return False
            ep = self.store.load(episode_id)
            vector = self.embedder.embed([ep.embedding_text()])[0]
            rows = [IndexRow.of(ep, vector)]
            self.write_index(rows)
            now = self.ledger.catalog(episode_id)
            if now is None or now.archived:  # archived while embedding: leave no row behind
                self.index.delete([episode_id])
                return False
            if now.content_hash == rows[0].content_hash:
                break
        self.learning.refresh_edges([episode_id])
        return True

    def _index_episodes(
        self, pairs: Sequence[tuple[Episode, Any]], *, unseen_at: int | None = None
    ) -> builtins.list[str]:
        rows = [IndexRow.of(ep, vec) for ep, vec in pairs]
        try:
            self.write_index(rows, unseen_at=unseen_at)
        except IndexUnavailable as exc:
            return [f"saved, but not searchable yet: {exc}"]
        return []

    def write_index(self, rows: Sequence[IndexRow], *, unseen_at: int | None = None) -> None:
        """Add or replace index rows (`unseen_at`: see Index.upsert).

        A missing index is created by a write only if none was ever built: a store whose
        vectors/ folder disappeared must be rebuilt from every episode (`memrl index`), not
        restarted with the one being written, and the ledger remembers that an index
        existed. Several first writers at once are fine: the index's own lock lets one
        create the table and the others append to it.
        """
        first = self.ledger.meta("index_built") is None
        self.index.upsert(rows, self.embedder.dim, create_if_missing=first, unseen_at=unseen_at)
        if first:
            self.index_built()

    def index_built(self) -> None:
        if self.ledger.meta("index_built") is None:
            self.ledger.set_meta("index_built", self.model_id)

    def edited(
        self, view: EpisodeView, changes: dict[str, Any] | Episode, what: str = "episode"
    ) -> Episode:
        """The episode with `changes` applied and checked as a save checks it; nothing is
        saved (an editor can tell first whether its text would be refused)."""
        current = view.episode.model_dump()
        incoming = changes.model_dump() if isinstance(changes, Episode) else dict(changes)
        ep = parse({**current, **incoming, "updated_at": now_iso(self)}, what)
        for frozen in ("id", "created_at", "schema_version"):
            if getattr(ep, frozen) != getattr(view.episode, frozen):
                raise InvalidInput(f"{frozen} cannot be changed")
        if ep.project != view.episode.project:  # read as a capture reads it: 'app/' is 'app'
            ep = ep.model_copy(update={"project": given(ep.project, to_file=True)})
        check_summary(self.settings, ep.summary, kept=[view.episode.summary])
        return ep

    def update(
        self,
        ref: str,
        changes: dict[str, Any] | Episode,
        *,
        archived: bool = False,
        base: Episode | None = None,
        force: bool = False,
    ) -> Episode:
        """Apply field changes (or a whole edited episode), validate, save and re-index.

        `base` is the episode as an editor read it: only the fields `changes` alters from it
        are written, so what another process changed meanwhile in other fields is kept, and
        if the stored episode no longer holds `base`'s value in a field being written, the
        edit is refused (Conflict) rather than overwrite that change, unless `force`.

        An archived episode is refused ("`memrl restore` brings it back") unless `archived`
        (redaction rewrites those too). Pinning or unpinning moves the utility shown (no
        decay while pinned): history says so.
        """
        with self.store.editing():  # read and written back with no other edit in between
            view = self.get(ref, archived=None if archived else False)
            if base is not None:
                incoming = changes.model_dump() if isinstance(changes, Episode) else changes
                edited = parse({**base.model_dump(), **incoming})
                changes = _edits(view.episode, base, edited, force=force)
            ep = self.edited(view, changes)
            if self.settings.capture.redact:
                from memrl.redact import redact_episode

                ep = redact_episode(ep)
            if _same(ep, view.episode):
                return view.episode  # nothing to change: no write, updated_at kept
            self.store.save([ep])
            if ep.pinned != view.episode.pinned:
                after = self.rows([ep.id])[ep.id].learned.utility
                with self.ledger.write() as c:
                    cause = "pin" if ep.pinned else "unpin"
                    self.ledger.add_event(
                        c, (self.now(), ep.id, cause, None, view.learned.utility, after, "")
                    )
        if view.archived:
            return ep
        if ep.content_hash() != view.episode.content_hash():
            vector = self.embedder.embed([ep.embedding_text()])[0]
            # Embedded outside the lock, indexed inside it and only if the file still holds
            # this version: of two edits at once, the index ends with the later one's text.
            with self.store.editing():
                if self._holds(ep):
                    self._index_episodes([(ep, vector)])
            self.learning.refresh_edges([ep.id])
        return ep

    def _holds(self, ep: Episode) -> bool:
        """Does the live file of `ep` still hold what its index row is made of?"""
        row = self.ledger.catalog(ep.id)
        if row is None or row.archived:
            return False  # archived or gone meanwhile: nothing to index
        try:
            return self.store.load_path(self.root / row.path).content_hash() == ep.content_hash()
        except MemrlError:
            return False

    def set_pinned(self, refs: Sequence[str], pinned: bool) -> builtins.list[str]:
        """Pin (no decay, never pruned) or unpin."""
        ids = self.store.resolve_all(refs)
        for episode_id in ids:
            self.update(episode_id, {"pinned": pinned})
        return ids

    def archive(
        self, refs: Sequence[str], *, unchanged: builtins.list[str] | None = None
    ) -> builtins.list[Episode]:
        """Archive episodes; those archived already are left as they are (and their ids
        added to `unchanged`, when given)."""
        ids, already = self.store.resolve_moves(refs, archived=True)
        if unchanged is not None:
            unchanged += already
        moved = self.store.set_archived(ids, True)
        try:
            self.index.delete([e.id for e in moved])
        except IndexUnavailable:
            pass  # nothing to remove from an index that is not there
        self.learning.forget([e.id for e in moved])
        return moved

    def restore(
        self,
        refs: Sequence[str],
        *,
        undo: bool = False,
        unchanged: builtins.list[str] | None = None,
    ) -> builtins.list[Episode]:
        """Bring archived episodes back. Recorded in their history: a prune leaves an episode
        restored by hand alone until it has been unused for the prune's days again. `undo`
        (an archive, prune or merge taken back) puts things as they were, unrecorded. Those
        live already are left as they are (and their ids added to `unchanged`, when given)."""
        ids, already = self.store.resolve_moves(refs, archived=False)
        if unchanged is not None:
            unchanged += already
        moved = self.store.set_archived(ids, False)
        if moved:
            vectors = self.embedder.embed([e.embedding_text() for e in moved])
            self._index_episodes(list(zip(moved, vectors, strict=True)))
            self.learning.refresh_edges([e.id for e in moved])
        if moved and not undo:
            rows = self.rows([e.id for e in moved])
            ts = self.now()
            with self.ledger.write() as c:
                self.ledger.add_events(
                    c,
                    [
                        (ts, i, "restore", None, r.learned.utility, r.learned.utility, "")
                        for i, r in rows.items()
                    ],
                )
        return moved

    def merged_into(self, ids: Sequence[str]) -> dict[str, str]:
        """For episodes merged away: the live episode each was merged into."""
        return self.ledger.merged_into(ids)

    def counted_twice(self, restored: Sequence[Episode]) -> builtins.list[str]:
        """What to say of restored episodes that hold what a live episode holds too: one
        merged into an episode still live (its ratings now count in both), or a merge whose
        originals are live (a merge undone, then its result restored: each memory is then
        found twice)."""
        said = [
            f"{src[:8]} was merged into {into[:8]}, which is still live: the ratings it had "
            f"now count in both (archive {into[:8]} to undo that)"
            for src, into in self.merged_into([e.id for e in restored]).items()
        ]
        sources = {i for e in restored for i in e.merged_from}
        rows = self.rows(list(sources)) if sources else {}
        for e in restored:
            live = [i[:8] for i in e.merged_from if i in rows and not rows[i].archived]
            if live:
                they = "it is" if len(live) == 1 else "they are"
                said.append(
                    f"{e.short_id} merges {', '.join(live)}, and {they} live too: searches now "
                    f"find what they knew twice (archive {e.short_id}, or them, to undo that)"
                )
        return said

    # search -----------------------------------------------------------------------

    def search(
        self,
        query: str,
        *,
        limit: int | None = None,
        project: str | None = None,
        session_id: str | None = None,
        origin: str = "cli",
        log: bool = True,
        utility_weight: float | None = None,
        with_episodes: bool = False,
        log_project: str | None = None,
    ) -> SearchResult:
        """`log_project`: the project the search was made in, for temporal credit without a
        session (default: `project`, else the top hit's)."""
        from memrl.retrieval import search

        return search(
            self,
            query,
            limit=limit or self.settings.retrieval.limit,
            project=project,
            session_id=session_id,
            origin=origin,
            log=log,
            utility_weight=utility_weight,
            with_episodes=with_episodes,
            log_project=log_project,
        )

    # import / export ----------------------------------------------------------------

    def export(
        self, filters: Filters | None = None, skipped: builtins.list[str] | None = None
    ) -> Iterator[dict[str, Any]]:
        from memrl.transfer import export

        return export(self, filters, skipped)

    def import_(
        self, lines: Iterable[str | bytes], progress: Callable[[int, int], None] | None = None
    ):
        from memrl.transfer import import_lines

        return import_lines(self, lines, progress)


KEPT = ("id", "created_at", "updated_at", "schema_version")  # fields an edit never writes
RECORDED = {  # fields memrl writes of its own accord, never taken from a capture
    "merged_from": "`memrl merge` records the episodes a merge holds",
    "redactions": "it counts the secrets it redacts",
}


def _same(a: Episode, b: Episode) -> bool:
    return a.model_dump(exclude={"updated_at"}) == b.model_dump(exclude={"updated_at"})


def clashing(now: dict[str, Any], was: dict[str, Any], changes: dict[str, Any]) -> list[str]:
    """The fields an edit made from `was` would write over another's change: changed since
    (`now` differs from `was`) to something else than the edit writes."""
    return [k for k, v in changes.items() if now[k] != was[k] and now[k] != v]


def _edits(stored: Episode, base: Episode, edited: Episode, *, force: bool) -> dict[str, Any]:
    """The fields `edited` changes from `base`, refused if another edit got there first
    (unless `force`)."""
    before, after, now = base.model_dump(), edited.model_dump(), stored.model_dump()
    changes = {k: v for k, v in after.items() if k not in KEPT and v != before[k]}
    clashes = clashing(now, before, changes)
    if clashes and not force:
        fields = ", ".join(clashes)
        raise Conflict(
            f"{stored.short_id} was changed elsewhere while you edited it ({fields}); "
            "nothing was saved. Open it again to edit the current version.",
            clashes,
        )
    return changes
