"""The Memory facade: the one API the CLI, the MCP server and the TUI call.

It owns the pieces (settings, episode store and ledger, embedder, index) and opens each
lazily, so reading commands never load the embedding model or LanceDB.
"""

from __future__ import annotations

import builtins
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from memrl import config
from memrl.embeddings import Embedder, FastEmbedder, ModelSpec, spec
from memrl.episode import Episode, Source, parse
from memrl.errors import IndexUnavailable, InvalidInput
from memrl.index import Index, IndexRow
from memrl.learning.rules import confidence, decay_factor, utility
from memrl.store import EpisodeStore, Filters
from memrl.store.ledger import CATALOG_COLUMNS, STATE_COLUMNS, CatalogRow, StateRow
from memrl.views import CaptureResult, EpisodeView, Learned, Row, SearchResult

if TYPE_CHECKING:
    from memrl.curation import Curation
    from memrl.learning.engine import Engine

SORTS = {
    "created": "e.created_at",
    "updated": "e.updated_at",
    "utility": "memrl_utility(s.q, s.p, COALESCE(s.last_used_at, e.created_at), e.pinned)",
    "retrievals": "s.retrievals",
    "helpful": "s.helpful",
    "unhelpful": "s.unhelpful",
    "project": "e.project",
    "outcome": "e.outcome",
    "task": "e.task",
}


class Memory:
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
        self.store = EpisodeStore(self.root)
        self.model: ModelSpec = spec(self.settings.embedding)
        self._embedder = embedder
        self._index: Index | None = None
        self._learning: Engine | None = None
        self._curation: Curation | None = None

    # the parts ------------------------------------------------------------------

    @property
    def ledger(self):
        ledger = self.store.ledger
        ledger.register_utility(self.settings.learning.decay_rate, self.clock)
        return ledger

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = FastEmbedder(
                self.model, config.models_dir(self.root), self.settings.embedding.threads
            )
        return self._embedder

    @property
    def model_id(self) -> str:
        return self._embedder.model_id if self._embedder is not None else self.model.model_id

    @property
    def index(self) -> Index:
        if self._index is None:
            dim = self._embedder.dim if self._embedder is not None else None
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

    def now(self) -> float:
        return self.clock()

    def _now_iso(self) -> str:
        return datetime.fromtimestamp(self.clock(), UTC).isoformat()

    def close(self) -> None:
        self.store.ledger.close()

    def version(self) -> tuple[int, int]:
        """Changes whenever any process writes to the store: poll it to refresh live views."""
        return self.ledger.data_version()

    # learned state ----------------------------------------------------------------

    def learned(self, state: StateRow, created_at: float, pinned: bool) -> Learned:
        last = state.last_used_at or created_at
        factor = decay_factor(last, self.now(), self.settings.learning.decay_rate, pinned)
        return Learned(
            utility=utility(state.q, state.p, factor),
            q=state.q,
            p=state.p,
            decay=factor,
            confidence=confidence(state.evidence),
            evidence=state.evidence,
            retrievals=state.retrievals,
            helpful=state.helpful,
            unhelpful=state.unhelpful,
            last_used_at=state.last_used_at,
        )

    def _row(self, cat: CatalogRow, state: StateRow) -> Row:
        return Row(
            id=cat.id,
            project=cat.project,
            task=cat.task,
            summary=cat.summary,
            outcome=cat.outcome,
            task_type=cat.task_type,
            source=cat.source,
            tags=cat.tag_list,
            created_at=cat.created_at,
            updated_at=cat.updated_at,
            pinned=bool(cat.pinned),
            archived=bool(cat.archived),
            learned=self.learned(state, cat.created_at, bool(cat.pinned)),
        )

    def rows(self, ids: Sequence[str]) -> dict[str, Row]:
        cats = self.ledger.catalog_many(ids)
        states = self.ledger.states(list(cats))
        return {i: self._row(cats[i], states[i]) for i in ids if i in cats}

    # reading ----------------------------------------------------------------------

    def resolve(self, ref: str, *, archived: bool | None = False) -> str:
        return self.store.resolve(ref, archived=archived)

    def get(self, ref: str, *, archived: bool | None = None) -> EpisodeView:
        episode_id = self.resolve(ref, archived=archived)
        cat = self.ledger.catalog(episode_id)
        assert cat is not None
        ep = self.store.load_path(self.root / cat.path)
        row = self._row(cat, self.ledger.state(episode_id))
        return EpisodeView(ep, row.learned, bool(cat.archived), cat.path)

    def list(
        self,
        filters: Filters | None = None,
        *,
        limit: int | None = 50,
        offset: int = 0,
        sort: str = "created",
        descending: bool = True,
    ) -> builtins.list[Row]:
        where, args = self._where(filters or Filters())
        if sort not in SORTS:
            raise InvalidInput(f"cannot sort by '{sort}'; choose one of {', '.join(SORTS)}")
        order = f"{SORTS[sort]} {'DESC' if descending else 'ASC'}, e.id"
        cols = (
            ", ".join(f"e.{c}" for c in CATALOG_COLUMNS)
            + ", "
            + ", ".join(
                f"COALESCE(s.{c}, {d})" if d is not None else f"s.{c}"
                for c, d in zip(
                    STATE_COLUMNS[1:], ("0.5", "0.0", "0", "0", "0", "0", None), strict=True
                )
            )
        )
        sql = (
            f"SELECT {cols} FROM episodes e LEFT JOIN state s ON s.id = e.id "
            f"WHERE {where} ORDER BY {order} LIMIT ? OFFSET ?"
        )
        out = []
        n_cat = len(CATALOG_COLUMNS)
        for rec in self.ledger.conn.execute(sql, [*args, -1 if limit is None else limit, offset]):
            cat = CatalogRow(*rec[:n_cat])
            state = StateRow(cat.id, *rec[n_cat:])
            out.append(self._row(cat, state))
        return out

    def count(self, filters: Filters | None = None) -> int:
        where, args = self._where(filters or Filters())
        sql = f"SELECT COUNT(*) FROM episodes e WHERE {where}"
        return int(self.ledger.conn.execute(sql, args).fetchone()[0])

    def projects(self) -> builtins.list[tuple[str, int]]:
        return [
            (p, n)
            for p, n in self.ledger.conn.execute(
                "SELECT project, COUNT(*) FROM episodes WHERE archived = 0 "
                "GROUP BY project ORDER BY COUNT(*) DESC"
            )
        ]

    @staticmethod
    def _where(f: Filters) -> tuple[str, builtins.list[Any]]:
        clauses: builtins.list[str] = ["e.archived = ?"]
        args: builtins.list[Any] = [int(f.archived)]
        if f.project:
            clauses.append("e.project = ?")
            args.append(f.project)
        if f.tag:
            clauses.append("e.tags LIKE ?")
            args.append(f"%|{f.tag.lower().lstrip('#')}|%")
        if f.outcome:
            clauses.append("e.outcome = ?")
            args.append(f.outcome)
        if f.since is not None:
            clauses.append("e.created_at >= ?")
            args.append(f.since)
        if f.text:
            clauses.append("(e.task LIKE ? OR e.summary LIKE ?)")
            args += [f"%{f.text}%", f"%{f.text}%"]
        return " AND ".join(clauses), args

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
    ) -> Episode:
        """Validate, fill in what the caller left out, and redact secrets."""
        if isinstance(data, Episode):
            data = data.model_dump()
        data = {k: v for k, v in dict(data).items() if v is not None}
        limit = self.settings.capture.max_summary_chars
        summary = data.get("summary")
        if isinstance(summary, str) and len(summary) > limit:
            raise InvalidInput(
                f"summary is {len(summary):,} characters; the limit is {limit:,} "
                "(capture.max_summary_chars). Summarise what was done and what was learned."
            )
        data.setdefault("source", Source(source).value)
        if not data.get("created_at"):
            data["created_at"] = data["updated_at"] = self._now_iso()
        if session_id and not data.get("session_id"):
            data["session_id"] = session_id
        if not data.get("project"):
            from memrl.project import detect

            data["project"] = detect(cwd)
        ep = parse(data)
        if self.settings.capture.redact:
            from memrl.redact import redact_episode

            ep = redact_episode(ep)
        return self._with_intent(ep, extract_intent, notes)

    def _with_intent(self, ep: Episode, use_llm: bool, notes: builtins.list[str] | None) -> Episode:
        """Fill task type and tags the caller left out (offline rules, or Claude when asked)."""
        if ep.task_type != "unknown" and ep.tags:
            return ep
        from memrl import intent

        args = (ep.task, ep.summary, ep.files, ep.commands)
        if use_llm or self.settings.capture.extract_intent_llm:
            found, note = intent.extract_with_llm(*args)
            if note and notes is not None:
                notes.append(note)
        else:
            found = intent.extract(*args)
        changes: dict[str, Any] = {}
        if ep.task_type == "unknown" and found.task_type != "unknown":
            changes["task_type"] = found.task_type
        if not ep.tags and found.tags:
            changes["tags"] = found.tags
        if not ep.task and found.intent:
            changes["task"] = found.intent
        return Episode.model_validate({**ep.model_dump(), **changes}) if changes else ep

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
        vector = self.embedder.embed([ep.embedding_text()])[0]
        self.store.save([ep])
        near = self.learning.neighbours_of_new(vector, ep.id)
        warnings = notes + self._index_episodes([(ep, vector)], new=True)
        credit = self.learning.credit(ep)
        spread = self.learning.after_capture(ep, near, [c.id for c in credit])
        return CaptureResult(ep, credit, spread, warnings)

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
            rows = [
                IndexRow(
                    ep.id,
                    vector,
                    ep.search_text(),
                    ep.project,
                    ep.created_at.timestamp(),
                    ep.content_hash(),
                )
            ]
            self.index.upsert(rows, self.embedder.dim, create_if_missing=self.first_index())
            self.index_built()
            now = self.ledger.catalog(episode_id)
            if now is not None and now.content_hash == rows[0].content_hash:
                break
        self.learning.refresh_edges([episode_id])
        return True

    def _index_episodes(
        self, pairs: Sequence[tuple[Episode, Any]], *, new: bool = False
    ) -> builtins.list[str]:
        rows = [
            IndexRow(
                ep.id,
                vec,
                ep.search_text(),
                ep.project,
                ep.created_at.timestamp(),
                ep.content_hash(),
            )
            for ep, vec in pairs
        ]
        try:
            self.index.upsert(
                rows, self.embedder.dim, create_if_missing=self.first_index(), new=new
            )
        except IndexUnavailable as exc:
            return [f"saved, but not searchable yet: {exc}"]
        self.index_built()
        return []

    def first_index(self) -> bool:
        """Whether a missing index may be created by a write: only if none was ever built.

        A store whose vectors/ folder disappeared must be rebuilt from every episode
        (`memrl index`), not restarted with the one being written; the ledger remembers
        that an index existed. Several first writers at once are fine: the index's own
        lock lets one create the table and the others append to it.
        """
        return self.ledger.meta("index_built") is None

    def index_built(self) -> None:
        if self.ledger.meta("index_built") is None:
            self.ledger.set_meta("index_built", self.model_id)

    def update(self, ref: str, changes: dict[str, Any] | Episode) -> Episode:
        """Apply field changes (or a whole edited episode), validate, save and re-index."""
        view = self.get(ref)
        current = view.episode.model_dump()
        incoming = changes.model_dump() if isinstance(changes, Episode) else dict(changes)
        merged = {**current, **incoming, "updated_at": self._now_iso()}
        ep = parse(merged)
        for frozen in ("id", "created_at", "schema_version"):
            if getattr(ep, frozen) != getattr(view.episode, frozen):
                raise InvalidInput(f"{frozen} cannot be changed")
        if self.settings.capture.redact:
            from memrl.redact import redact_episode

            ep = redact_episode(ep)
        self.store.save([ep])
        if view.archived:
            return ep
        if ep.content_hash() != view.episode.content_hash():
            vector = self.embedder.embed([ep.embedding_text()])[0]
            self._index_episodes([(ep, vector)])
            self.learning.refresh_edges([ep.id])
        return ep

    def set_pinned(self, refs: Sequence[str], pinned: bool) -> builtins.list[str]:
        ids = self.store.resolve_all(refs)
        for episode_id in ids:
            self.update(episode_id, {"pinned": pinned})
        return ids

    def archive(self, refs: Sequence[str]) -> builtins.list[Episode]:
        ids = self.store.resolve_all(refs, archived=False)
        moved = self.store.set_archived(ids, True)
        try:
            self.index.delete([e.id for e in moved])
        except IndexUnavailable:
            pass  # nothing to remove from an index that is not there
        self.learning.forget([e.id for e in moved])
        return moved

    def restore(self, refs: Sequence[str]) -> builtins.list[Episode]:
        ids = self.store.resolve_all(refs, archived=True)
        moved = self.store.set_archived(ids, False)
        if moved:
            vectors = self.embedder.embed([e.embedding_text() for e in moved])
            self._index_episodes(list(zip(moved, vectors, strict=True)))
            self.learning.refresh_edges([e.id for e in moved])
        return moved

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
    ) -> SearchResult:
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
        )

    # import / export ----------------------------------------------------------------

    def export(self, filters: Filters | None = None) -> Iterator[dict[str, Any]]:
        from memrl.transfer import export

        return export(self, filters)

    def import_(
        self, lines: Iterable[str | bytes], progress: Callable[[int, int], None] | None = None
    ):
        from memrl.transfer import import_lines

        return import_lines(self, lines, progress)
