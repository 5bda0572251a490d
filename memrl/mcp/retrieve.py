"""memrl_retrieve's three modes: search, list, and one episode by id.

A query that looks like an id (`refs.looks_like_id`) is looked up first. If no episode
has that prefix the query is searched as text (error codes such as "80070005" or "1234"
are common queries); if several do, the caller is asked for more characters. A query of
digits alone that does match an id is shown as that episode, with a note first on how to
search for it as text instead: "1049" is as likely an error code as an id (one that
several ids start with is searched as text, and the note says so). "latest"
shows the newest live episode.

Searching and showing an episode in full are logged as retrievals under the server's
session, so a later capture in the same session credits them; listing is browsing and
is not logged. Without a project, search covers every project; each hit names its own.
A read-only store is searched and shown all the same: what would be logged is skipped,
and the reply says it cannot be rated (`rateable`) rather than asking for a rating.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING

from memrl.errors import Ambiguous, InvalidInput, NotFound, StoreError
from memrl.mcp import convert, models
from memrl.refs import looks_like_id
from memrl.retrieval import clean_query
from memrl.store import Filters

if TYPE_CHECKING:
    from memrl.mcp.backend import Backend
    from memrl.memory import Memory


def run(
    memory: Memory,
    backend: Backend,
    query: str,
    list_all: bool,
    limit: int,
    project: str | None,
    page: int,
) -> models.RetrieveResult:
    if list_all:
        return listing(memory, backend, query, limit, project, page)
    if page > 1:
        raise InvalidInput(
            "page is for listing (all=true); a search returns its best results at once: "
            "raise limit (up to 50) to see more of them"
        )
    if not query.strip():
        raise InvalidInput(
            "the query is empty: describe the task in a sentence or paste the exact error line; "
            "to browse instead, pass all=true"
        )
    if query.strip().lower() == "latest":
        return one(memory, backend, query, memory.resolve("latest", archived=False))
    if looks_like_id(query):
        q = query.strip()
        digits = q.replace("-", "").isdigit()  # an error code, a port? say what was done
        try:
            episode_id = memory.resolve(query, archived=None)
        except NotFound:  # not an id after all: search for it as text, and say so
            found = search(memory, backend, query, limit, project)
            found.warnings.append(f"no episode id starts with {q}, so it was searched as text")
            return found
        except Ambiguous as exc:
            if not digits:
                raise
            found = search(memory, backend, query, limit, project)
            shown_ids = ", ".join(m[:8] for m in sorted(exc.matches)[:5])
            found.warnings.append(
                f"{q} starts {len(exc.matches)} episode ids ({shown_ids}), so it was searched "
                "as text; to open one of them, give more characters of its id"
            )
            return found
        shown = one(memory, backend, query, episode_id)
        if digits:
            shown.warnings.append(
                f"{q} matched episode {episode_id[:8]}'s id, so it is shown in full; to search "
                f'for the text {q}, add a word: memrl_retrieve(query="error {q}")'
            )
        return shown
    return search(memory, backend, query, limit, project)


def base(backend: Backend, mode: str, query: str, project: str | None) -> models.RetrieveResult:
    return models.RetrieveResult(
        mode=mode,
        query=query.strip(),
        project=project,
        session_id=backend.session_id,
    )


def search(
    memory: Memory, backend: Backend, query: str, limit: int, project: str | None
) -> models.RetrieveResult:
    out = base(backend, "search", query, project)
    if not memory.exists(Filters(project=project)):  # nothing to search, maybe no index yet
        out.query = clean_query(query)  # the same refusals as a real search
        # A search that found nothing is still the latest one: `last` must not rate an older.
        _log(
            out,
            "search",
            lambda: memory.learning.log_use(out.query, [], backend.session_id, project, "mcp"),
        )
        if note := memory.nothing_found(project, "leave project out to search them all"):
            out.warnings.append(note)
        return out
    found = memory.search(
        query,
        limit=limit,
        project=project,
        session_id=backend.session_id,
        origin="mcp",
        with_episodes=True,
    )
    out.query = found.query
    out.results = [convert.hit(h) for h in found.hits if h.episode is not None]
    out.warnings = list(found.warnings)  # says why, when it was not logged
    out.rateable = found.retrieval_id is not None
    return out


def _log(out: models.RetrieveResult, what: str, log: Callable[[], object]) -> None:
    """Log a retrieval; on a store that cannot be written, say it cannot be rated instead
    (the search itself needs no writing, as `memrl.retrieval.search` has it)."""
    try:
        log()
    except StoreError as exc:
        out.rateable = False
        out.warnings.append(f"this {what} was not logged, so it cannot be rated: {exc}")


def one(memory: Memory, backend: Backend, query: str, episode_id: str) -> models.RetrieveResult:
    view = memory.get(episode_id, archived=None)
    out = base(backend, "episode", query, view.episode.project)
    if view.archived:  # merged away, perhaps: then it says which episode holds it now
        out.episode = convert.detail(view)
        return out
    row = memory.rows([episode_id])[episode_id]  # reading a memory in full is a use of it
    _log(
        out,
        "view",
        lambda: memory.learning.log_use(
            query.strip(), [row], backend.session_id, None, "mcp", similarity=1.0
        ),
    )
    learned = memory.rows([episode_id])[episode_id].learned  # with the use just recorded
    out.episode = convert.detail(dataclasses.replace(view, learned=learned))
    return out


def listing(
    memory: Memory, backend: Backend, query: str, limit: int, project: str | None, page: int
) -> models.RetrieveResult:
    """Newest first; a query, if given, keeps episodes whose task or summary contains it."""
    text = query.strip() or None
    if text is not None and not text.isprintable():
        raise InvalidInput("with all=true the query filters by text: give plain printable text")
    filters = Filters(project=project, text=text)
    offset = (page - 1) * limit
    rows = memory.list(filters, limit=limit, offset=offset)
    total = memory.count(filters)
    out = base(backend, "list", query, project)
    out.episodes = [convert.listed(r) for r in rows]
    out.page, out.offset, out.total = page, offset, total
    out.has_more = offset + len(rows) < total
    if not total and (note := memory.nothing_found(project, "leave project out to list all")):
        out.warnings.append(note)
    return out
