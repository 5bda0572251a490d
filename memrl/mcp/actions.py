"""The other six tools' work: each calls the Memory facade and shapes its answer.

Review defaults to the server's project (cleanup across every project from one
session is rarely what was meant; `project="*"` asks for all), except a merge, which
keeps its episodes' own project. Status defaults to it too; stats and propagate cover
every project unless told otherwise. Episode ids are checked by `memrl.refs.live_ids` first,
so a bad one is explained in terms of the MCP tools.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from memrl import insights, maintenance
from memrl.errors import InvalidInput
from memrl.mcp import convert, models
from memrl.refs import live_ids
from memrl.store import Filters
from memrl.views import EpisodeView, ago, largest_first, plural

if TYPE_CHECKING:
    from memrl.curation import MergePlan
    from memrl.mcp.backend import Backend
    from memrl.memory import Memory

SHOWN = 50  # longest list of episodes or changes one answer carries
RECENT_DAYS = 14  # the captures per day that stats shows
ASK = "Give the 8-character ids memrl_retrieve shows (or a unique prefix of 4+)."
ASK_LAST = (
    "Give the 8-character ids memrl_retrieve shows (or a unique prefix of 4+), or 'last' "
    "for the hits of this session's latest logged search."
)


def capture(memory: Memory, backend: Backend, data: dict[str, Any]) -> models.CaptureResult:
    beside = convert.case_variants(memory, data["project"])
    done = memory.capture(data, source="mcp", session_id=backend.session_id)
    ep = done.episode
    warnings = [] if done.repeat else list(done.warnings)  # a repeat's says what `repeat` does
    if beside:
        warnings.append(
            f"project {ep.project} is new, beside {', '.join(beside)} whose name differs only "
            "in case (names are case-sensitive). If the episode belongs there, move it in a "
            f"terminal: memrl edit {ep.short_id} --set project={beside[0]}"
        )
    return models.CaptureResult(
        id=ep.id,
        short_id=ep.short_id,
        project=ep.project,
        outcome=ep.outcome.value,
        already_captured=done.repeat,
        credit=convert.changes(done.credit),
        starts_at=convert.pct(done.start.after) if done.start else None,
        propagation=convert.changes(done.propagation),
        awaiting_credit=memory.learning.awaiting(backend.session_id)
        if ep.outcome.value == "unknown" and not done.repeat
        else 0,
        redacted=sum(ep.redactions.values()),
        warnings=warnings,
    )


def feedback(
    memory: Memory, backend: Backend, refs: Sequence[str], helpful: bool
) -> models.FeedbackResult:
    ids = live_ids(memory, refs, use="rate", last=True, ask=ASK_LAST, through_merges=True)
    # 'last' is this session's latest memrl_retrieve: what SessionStart showed is rated by id.
    changes = memory.learning.feedback(ids, helpful, session_id=backend.session_id, origin="mcp")
    searched = next((c.searched for c in changes if c.searched), None)
    return models.FeedbackResult(
        helpful=helpful,
        last_search=models.RatedSearch(
            query=searched[0],
            searched_at=convert.iso(searched[1]),
            ago=ago(searched[1], memory.now()),
        )
        if searched
        else None,
        rated=convert.changes(c for c in changes if c.cause == "feedback"),
        propagated=convert.changes(c for c in changes if c.cause != "feedback"),
        notes=[text for c in changes for text in c.notes],
    )


def status(
    memory: Memory,
    backend: Backend,
    project: str | None,
    *,
    named: bool = True,
    settings_error: str | None = None,
    settings_kept: bool = False,
) -> models.StatusResult:
    """`named`: the caller gave `project` (a default one is not warned about); None: every
    project. `settings_error`: the settings do not load, so `memory` has the default ones
    (an index built with another model than theirs is then not judged, as the settings that
    name its model are unread), unless `settings_kept`: they stopped loading after this
    server opened the store with them, and it goes on with those."""
    st = maintenance.status(memory)
    idx, disk = st.index, st.disk
    empty = st.episodes == 0 and not idx.health.exists
    defaults = settings_error is not None and not settings_kept  # `memory` has the defaults
    unjudged = defaults and idx.health.model not in (None, memory.model_id)
    advice = [st.unwritable] if st.unwritable else []
    if not (empty or idx.fresh or unjudged):
        advice.append(
            idx.health.problem
            or f"{len(idx.missing) + len(idx.stale)} episode(s) are not searchable yet and "
            f"{len(idx.orphans) + len(idx.doubled)} index row(s) are left over or doubled: "
            "run `memrl index`."
        )
    pending = (
        f"{plural(disk.pending, 'episode file')} changed outside memrl (edited by hand?): "
        "run `memrl index` to catch up."
        if disk.pending
        else None
    )
    if pending:
        advice.append(pending)
    if disk.corrupt:
        advice.append(
            f"{len(disk.corrupt)} episode file(s) cannot be read (listed in unreadable_files): "
            "fix or remove them, then run `memrl index`."
        )
    if backend.warm_error and backend.warm_error != settings_error:
        advice.append(backend.warm_error)
    loaded = not defaults and getattr(memory.embedder, "loaded", True)
    # the warm-up ended without the model: it failed, it is not loading (an index problem
    # comes after the model has loaded)
    model_error = backend.warm_error if backend.warm_error and not (loaded or defaults) else None
    return models.StatusResult(
        healthy=not (advice or settings_error),
        settings_error=settings_error,
        settings_kept=settings_kept,
        project=project,
        project_episodes=memory.count(Filters(project=project)),
        project_archived=memory.count(Filters(project=project, archived=True)),
        episodes=st.episodes,
        archived=st.archived,
        projects=st.projects,
        retrievals=st.retrievals,
        events=st.events,
        size_bytes=st.size_bytes,
        data_dir=st.data_dir,
        model="unknown: the settings that name it do not load" if defaults else st.model,
        model_loaded=bool(loaded),
        model_error=model_error,
        session_id=backend.session_id,
        index=models.IndexHealth(
            ok=empty or st.index_current,
            rows=idx.health.rows,
            problem=(
                f"not checked: built with {idx.health.model}, and the settings that name "
                "the model do not load."
                if unjudged
                else None
                if empty
                else idx.health.problem or pending
            ),
            missing=len(idx.missing),
            stale=len(idx.stale),
            orphans=len(idx.orphans),
        ),
        unreadable_files=[f"{path}: {why}" for path, why in disk.corrupt[:SHOWN]],
        untracked_files=len(disk.new),
        advice=advice,
        warnings=convert.unknown_project(memory, project) if named else [],
        hook_failures=_hook_failures(memory),
    )


def _hook_failures(memory: Memory) -> list[str]:
    """A hook fails quietly (Claude Code hides its stderr): Claude can tell the user."""
    from memrl.integrations.claude import health

    failures = health.check(memory.root).failures
    return [f"{f.at:%Y-%m-%d %H:%M} UTC {f.event}: {f.reason}" for f in failures[:3]]


def stats(memory: Memory, project: str | None) -> models.StatsResult:
    s = insights.stats(memory, project, top=SHOWN)
    today = datetime.fromtimestamp(memory.now(), UTC).date()
    since = (today - timedelta(days=RECENT_DAYS - 1)).isoformat()
    return models.StatsResult(
        project=project,
        episodes=s.episodes,
        archived=s.archived,
        projects=[
            models.ProjectCount(
                project=p.project,
                episodes=p.episodes,
                mean_utility=convert.pct(p.mean_utility),
                helpful=p.helpful,
                unhelpful=p.unhelpful,
            )
            for p in s.projects[:SHOWN]
        ],
        outcomes=s.outcomes,
        task_types=s.task_types,
        utility_histogram=s.utility_histogram,
        top=[convert.listed(r) for r in s.top[:10]],
        retrievals=s.retrievals,
        helpful=s.helpful,
        unhelpful=s.unhelpful,
        rated_episodes=s.rated_episodes,
        recent_days=[
            models.DayCount(day=d, captures=n) for d, n in s.captures_per_day if d >= since
        ],
        size_bytes=s.size_bytes,
        warnings=convert.unknown_project(memory, project),
    )


def propagate(memory: Memory, project: str | None, temporal: bool) -> models.PropagateResult:
    if not memory.exists(Filters(project=project)):
        return models.PropagateResult(
            project=project,
            temporal=temporal,
            sources=0,
            edges=0,
            changed=0,
            changes=[],
            credit=[],
            seconds=0.0,
            warnings=convert.unknown_project(memory, project),
        )
    report = memory.learning.propagate(project=project, temporal=temporal)
    largest = largest_first(report.changes)[:SHOWN]
    return models.PropagateResult(
        project=project,
        temporal=temporal,
        sources=report.sources,
        edges=report.edges,
        changed=len(report.changes),
        changes=convert.changes(largest),
        credit=convert.changes(report.credit[:SHOWN]),
        seconds=round(report.seconds, 3),
    )


def review(
    memory: Memory,
    action: str,
    refs: Sequence[str] | None,
    summary: str | None,
    project: str | None,
    dry_run: bool,
    *,
    named: bool = True,
) -> models.ReviewResult:
    """`refs` None: none given (an empty list is refused where it would read as "all").
    `named`: the caller gave `project` (a default one is not warned about). A merge
    keeps its episodes' own project unless the caller named one: the session's project is
    where Claude works, not necessarily where those episodes belong."""
    out = models.ReviewResult(action=action, project=project, dry_run=dry_run)
    out.notes += convert.unknown_project(memory, project) if named else []
    if action == "merge":
        return _merge(memory, out, refs or [], summary, project if named else None)
    if summary is not None:
        raise InvalidInput("summary is only used with action='merge'; leave it out here")
    if action == "cleanup":
        if refs is not None and not refs:
            raise InvalidInput(
                "episodes is empty, which names none to archive: leave it out to archive all "
                "the dead weight, or list the ids to archive"
            )
        return _cleanup(memory, out, refs or [])
    if refs:
        raise InvalidInput("episodes is only used with action='merge' or 'cleanup'")
    rv = memory.curation.review(project)
    shown = models.REVIEW_SHOWN
    out.clusters = [
        models.Cluster(
            similarity=convert.pct(c.similarity),
            size=len(c.rows),
            episodes=[convert.listed(r) for r in c.rows[: models.CLUSTER_SHOWN]],
        )
        for c in rv.clusters[:shown]
    ]
    out.cluster_count = len(rv.clusters)
    stale, unused = rv.only_stale, rv.only_unused  # dead weight is listed once, as such
    out.stale, out.stale_count = [convert.listed(r) for r in stale[:shown]], len(stale)
    out.unused, out.unused_count = [convert.listed(r) for r in unused[:shown]], len(unused)
    out.dead_weight_count = len(rv.prune)
    out.dead_weight = [
        models.PruneItem(episode=convert.listed(c.row), reason=c.reason) for c in rv.prune[:shown]
    ]
    for c in rv.clusters[:5]:
        ids = ", ".join(f'"{r.short_id}"' for r in c.rows[: models.CLUSTER_SHOWN])
        out.suggestions.append(
            f'preview a merge: memrl_review(action="merge", episodes=[{ids}], summary="<one '
            'summary that keeps what each one knew>"), then the same with dry_run=false'
        )
    if rv.prune:  # in the scope reviewed: a default one is the default again
        where = "" if not named else f", project={json.dumps(project or '*')}"
        out.suggestions.append(
            f'preview archiving the dead weight: memrl_review(action="cleanup"{where}), then '
            "the same with dry_run=false"
        )
    return out


def _merge(
    memory: Memory,
    out: models.ReviewResult,
    refs: Sequence[str],
    summary: str | None,
    project: str | None,
):
    if len(refs) < 2:
        raise InvalidInput(
            "merge needs episodes: two or more ids, e.g. from a cluster the analysis listed"
        )
    ids = live_ids(memory, refs, use="merge", last=False, ask=ASK)
    plan = memory.curation.merge_plan(
        ids,
        summary=summary,
        project=project,
        naming="in memrl_review's project parameter, by name: '*', like leaving it out, keeps "
        "each episode's own",
    )
    out.project = plan.episode.project
    out.sources = [r.id for r in plan.sources]
    if plan.moved_from:  # the core's note on it comes first; here it is told in tense
        out.notes.append(_moved(plan, out.dry_run))
    out.notes += plan.notes[1:] if plan.moved_from else plan.notes
    ep = plan.episode
    if not out.dry_run:
        ep = memory.curation.merge(plan)
        out.archived = list(out.sources)
    learned = memory.learned(plan.state, ep.created_at.timestamp(), ep.pinned)
    out.merged = convert.detail(EpisodeView(ep, learned, False, ""))
    if out.dry_run:  # the merge itself gives the episode its id
        out.merged.id = out.merged.short_id = "(new)"
    return out


def _moved(plan: MergePlan, dry_run: bool) -> str:
    target = plan.episode.project
    away = [r for r in plan.sources if r.project != target]
    which = (
        "its sources"
        if len(away) == len(plan.sources)
        else f"{len(away)} of its {len(plan.sources)} sources"
    )
    many = len(away) > 1
    if dry_run:
        verb, were = "would go", "are" if many else "is"
    else:
        verb, were = "went", "were" if many else "was"
    return (
        f"the merged episode {verb} to project {target}; {which} {were} in "
        f"{', '.join(plan.moved_from)}"
    )


def _cleanup(memory: Memory, out: models.ReviewResult, refs: Sequence[str]):
    plan = memory.curation.prune_plan(project=out.project)
    if refs:
        wanted = live_ids(memory, refs, use="archive", last=False, ask=ASK)
        marked = {c.row.id for c in plan}
        rows = memory.rows([i for i in wanted if i not in marked])
        elsewhere = {
            i: row.project for i, row in rows.items() if out.project and row.project != out.project
        }
        problems = [
            f"{i[:8]} is in project {json.dumps(p)}, and this cleanup covers project "
            f'{json.dumps(out.project)}: pass project={json.dumps(p)} (or "*")'
            for i, p in elsewhere.items()
        ]
        spared = [i[:8] for i in rows if i not in elsewhere]
        if spared:
            problems.append(
                f"{', '.join(spared)} not marked as dead weight (only low-utility, long-unused "
                "episodes are)"
            )
        if problems:
            raise InvalidInput(
                "; ".join(problems) + "; nothing was archived. Leave episodes out to archive "
                "all of them."
            )
        plan = [c for c in plan if c.row.id in set(wanted)]
    out.dead_weight_count = len(plan)
    out.dead_weight = [
        models.PruneItem(episode=convert.listed(c.row), reason=c.reason) for c in plan[:SHOWN]
    ]
    if not out.dry_run:
        out.archived = [e.id for e in memory.curation.prune([c.row.id for c in plan])]
    return out
