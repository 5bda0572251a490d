"""Hybrid retrieval in two phases.

Phase one recalls candidates from LanceDB's vector search and its native full-text
search (side by side), and keeps those whose relevance (cosine similarity, raised by an exact
keyword match) clears `retrieval.min_similarity`. Phase two re-ranks them by a blend of
normalised relevance and learned, decayed utility. Every hit carries the numbers that
explain its place.
"""

from __future__ import annotations

import errno
import re
import signal
import unicodedata
from typing import TYPE_CHECKING

from memrl.embeddings import check_local
from memrl.episode import _clean
from memrl.errors import IndexUnavailable, InvalidInput, MemrlError, NotFound, StoreError
from memrl.learning.rules import Candidate, rank
from memrl.store import files
from memrl.views import Hit, SearchResult

if TYPE_CHECKING:
    from memrl.config import RetrievalSettings
    from memrl.memory import Memory
    from memrl.views import Row

MAX_QUERY_CHARS = 2_000
# A path, a dotted or snake_case name, a camelCase name, an error code: a word joined by
# . / : \ or _, or with an inner capital, or letters then digits (E0308, TS2345), or a number
# of four digits or more (1049). Full-text search splits the joined ones into plain words,
# which look-alikes share, and finds a code among many hits that only read alike; an episode
# holding it whole is what was asked for.
IDENTIFIER = re.compile(
    r"\w+(?:[./:\\_]+\w+)+|[a-z]+[A-Z]\w*|[A-Z][a-z]+[A-Z]\w*|\b[A-Za-z]+\d\w*|\b\d{4,}\b"
)

# A word in capitals is a code when the system names an error or a signal so (ECONNREFUSED,
# ENOENT, SIGKILL): what a failing call prints, as exact as E0308. Other capitals (JSON,
# HTTP, CORS, README) are vocabulary, and episodes that use them are not what was asked.
CAPITALS = re.compile(r"\b[A-Z][A-Z0-9]{3,}\b")
SYSTEM_CODES = frozenset(errno.errorcode.values()) | frozenset(s.name for s in signal.Signals)


def weak_below(settings: RetrievalSettings) -> float:
    """The relevance under which a hit is a weak match. A hit must clear the minimum by as
    much as a full keyword match adds; below that it got in on a faint resemblance or on a
    shared word or two (with the defaults, 0.5: cosine similarity 0.5 with no keyword match,
    or 0.25 with the best one), and such hits rarely help. One that holds the query's
    identifiers whole is never weak: a short query for an exact name reads little like any
    episode, and the episode holding that name is what was asked for."""
    return settings.min_similarity + settings.keyword_weight


def clean_query(query: str) -> str:
    try:
        query = _clean(query or "")
    except ValueError as exc:
        raise InvalidInput(f"query {exc}") from None
    if not any(unicodedata.category(ch)[0] in "LNPS" for ch in query):  # nothing to read
        raise InvalidInput("the query is empty: describe the task or paste the error to look for")
    if len(query) > MAX_QUERY_CHARS:
        raise InvalidInput(
            f"the query is {len(query):,} characters; keep it to {MAX_QUERY_CHARS:,} "
            "(the key sentence or the error line is enough)"
        )
    return query


def identifiers(query: str) -> list[str]:
    """The words of `query` that name something exactly (see IDENTIFIER and SYSTEM_CODES),
    lower-cased, in the order they appear."""
    found = [(m.start(), m.group()) for m in IDENTIFIER.finditer(query)]
    found += [(m.start(), m.group()) for m in CAPITALS.finditer(query) if m[0] in SYSTEM_CODES]
    return list(dict.fromkeys(word.lower() for _at, word in sorted(found) if len(word) >= 4))


def holds(text: str, name: str) -> bool:
    """Does lower-cased `text` hold the identifier `name` whole, not as part of a longer name:
    `get_user` is not in `get_user_by_email`, `handler_5` not in `handler_55`, `session.py`
    not in `session.py.bak`. A path may sit under a longer one (`app/db.py` in
    `src/app/db.py`), and a line number may follow it (`app/db.py:42`)."""
    return re.search(rf"(?<!\w){re.escape(name)}(?!\w|\.\w)", text) is not None


def keyword_scores(hits: list[tuple[float, str]], names: list[str]) -> list[tuple[float, bool]]:
    """Each full-text hit's keyword match and whether it holds every identifier of the query
    whole. The match is its BM25 score relative to the best one, halved in the proportion of
    the identifiers its text lacks: where no hit holds them, none matches more than half."""
    best = max((score for score, _text in hits), default=0.0)
    out = []
    for score, text in hits:
        share = score / best if best > 0 else 0.0
        held = 1.0
        if names:
            text = text.lower()
            held = sum(holds(text, name) for name in names) / len(names)
            share *= 0.5 + 0.5 * held
        out.append((share, bool(names) and held == 1.0))
    return out


def _check_file(memory: Memory, row: Row) -> None:
    """Raise as loading the hit's file would, at the cost of a stat (~10 µs): a file gone,
    or changed by hand since it was catalogued and no longer a valid episode."""
    try:
        st = (memory.root / row.path).stat()
    except FileNotFoundError:
        raise NotFound(
            "its file has gone (deleted by another process or by hand); "
            "run `memrl index` to bring the catalog up to date."
        ) from None
    if (st.st_mtime_ns, st.st_size) != row.stat:
        memory.store.load(row.id)  # changed since: read it


def search(
    memory: Memory,
    query: str,
    *,
    limit: int,
    project: str | None,
    session_id: str | None,
    origin: str,
    log: bool,
    utility_weight: float | None,
    with_episodes: bool,
    log_project: str | None = None,
) -> SearchResult:
    query = clean_query(query)
    if not 1 <= limit <= 100:
        raise InvalidInput(f"limit must be between 1 and 100, not {limit}")
    settings = memory.settings.retrieval
    weight = settings.utility_weight if utility_weight is None else utility_weight
    index = memory.index
    if memory.model.path is not None:  # a missing folder, not the index, is what to fix
        check_local(memory.model.path)
    try:
        index.table()  # raise IndexUnavailable with its fix before paying for the model
    except IndexUnavailable:
        # Never written to and nothing stored: empty, not broken. Episodes without an index
        # (a first import interrupted, files restored by hand) need `memrl index`.
        if memory.ledger.meta("index_built") is None and not memory.exists():
            return SearchResult(
                query,
                [],
                None,
                weight,
                settings.keyword_weight,
                settings.min_similarity,
                [files.empty_store_note(memory.root)],
            )
        if index.exists():  # built by another model: rebuilding helps only if this one loads
            memory.embedder.embed_query(query)
        raise
    k = max(settings.candidates, limit * 4)
    qvec = memory.embedder.embed_query(query)
    names = identifiers(query)
    vec_hits, text_hits = index.candidates(qvec, query, k, project, with_text=bool(names))

    candidates: dict[str, Candidate] = {}
    for episode_id, sim in vec_hits:
        candidates[episode_id] = Candidate(episode_id, sim)
    keywords = keyword_scores([(score, text) for _i, score, _v, text in text_hits], names)
    for (episode_id, _score, vec, _text), (keyword, exact) in zip(text_hits, keywords, strict=True):
        cand = candidates.get(episode_id)
        if cand is None:
            cand = candidates[episode_id] = Candidate(episode_id, float(vec @ qvec))
        cand.keyword, cand.exact = keyword, exact

    weights = memory.weights(list(candidates))
    live = []
    for cand in candidates.values():
        if cand.id not in weights:
            continue  # the index lags the catalog: never show what is gone
        cand.utility, cand.evidence = weights[cand.id]
        live.append(cand)
    ranked = rank(
        live,
        min_similarity=settings.min_similarity,
        utility_weight=weight,
        keyword_weight=settings.keyword_weight,
        weak_below=weak_below(settings),
    )[:limit]

    rows = memory.rows([c.id for c in ranked])
    hits = [
        Hit(
            n + 1,
            rows[c.id],
            c.similarity,
            c.keyword,
            c.relevance,
            c.normalised,
            c.score,
            weak=c.weak,
            exact=c.exact,
        )
        for n, c in enumerate(ranked)
        if c.id in rows  # archived since it was weighed
    ]
    warnings: list[str] = []
    kept = []
    for hit in hits:
        try:
            if with_episodes:
                hit.episode = memory.store.load(hit.id)
            else:
                _check_file(memory, hit.row)
        except MemrlError as exc:
            warnings.append(f"skipped {hit.row.short_id}: {exc}")
            continue
        kept.append(hit)
    for n, hit in enumerate(kept):
        hit.rank = n + 1
    hits = kept
    if not hits and not memory.exists():  # an index, but nothing catalogued: files uncounted?
        warnings.append(files.empty_store_note(memory.root))
    retrieval_id = None
    if log:  # a search that found nothing too: 'feedback last' must not rate an older one
        try:
            retrieval_id = memory.learning.log_retrieval(
                query, hits, session_id, project or log_project, origin
            )
        except StoreError as exc:  # a read-only store can still be searched
            warnings.append(f"this search was not logged, so it cannot be rated: {exc}")
    return SearchResult(
        query,
        hits,
        retrieval_id,
        weight,
        settings.keyword_weight,
        settings.min_similarity,
        warnings,
    )
