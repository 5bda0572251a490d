"""The structured results of the seven tools: their models are the tools' output schemas.

Percentages (similarity, utility, confidence) are 0–100 with one decimal, as people and
Claude read them; ids are given in full and as the 8-character short form every tool accepts.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

Pct = float  # 0–100, one decimal
REVIEW_SHOWN = 20  # episodes (or groups) per list in one review answer
CLUSTER_SHOWN = 10  # episodes of one group of near-duplicates


class ErrorFix(BaseModel):
    error: str
    resolution: str


class Change(BaseModel):
    """One utility change: from feedback, temporal credit, propagation or a merge."""

    id: str
    short_id: str
    title: str
    cause: str = Field(description="feedback | credit | propagation | merge")
    before: Pct = Field(description="utility before, percent")
    after: Pct = Field(description="utility after, percent")
    from_id: str | None = Field(None, description="the episode whose evidence caused it")
    neighbours: float | None = Field(
        None,
        description="a rating's change: the percentage points of it that came through similar "
        "episodes (the rest is the rating's own); null when they added nothing",
    )


class Listed(BaseModel):
    """An episode as a listing shows it: no file is read."""

    id: str
    short_id: str
    project: str
    task: str
    summary: str = Field(description="at most 300 characters; retrieve the id for all of it")
    outcome: str
    task_type: str
    tags: list[str]
    created_at: str
    utility: Pct
    confidence: Pct
    retrievals: int
    helpful: int
    unhelpful: int
    pinned: bool


class Hit(BaseModel):
    """A search result. Long summaries and lists are shortened: retrieve the id for everything."""

    rank: int
    id: str
    short_id: str
    project: str
    task: str
    summary: str
    outcome: str
    task_type: str
    what_worked: list[str]
    what_failed: list[str]
    errors_resolved: list[ErrorFix]
    files: list[str]
    tags: list[str]
    similarity: Pct
    relevance: Pct = Field(
        description="similarity raised by exact keyword matches; ranking blends it with utility"
    )
    weak: bool = Field(description="relevance too low for the hit to be likely to help")
    exact: bool = Field(
        False, description="it holds the query's identifiers (a path, a name, an error code) whole"
    )
    keyword_match: bool = Field(
        False, description="the query's exact words are in it (more than look-alikes share)"
    )
    utility: Pct
    confidence: Pct = Field(description="how much feedback the utility rests on, percent")
    created_at: str
    shortened: bool = Field(description="true when summary or lists were cut for length")


class Detail(BaseModel):
    """One episode in full, with what memrl has learned about it."""

    id: str
    short_id: str
    project: str
    session_id: str | None
    task: str
    summary: str
    outcome: str
    task_type: str
    what_worked: list[str]
    what_failed: list[str]
    errors_resolved: list[ErrorFix]
    files: list[str]
    commands: list[str]
    omitted: int = Field(
        0, description="list items left out to keep the reply under 40,000 characters"
    )
    tags: list[str]
    source: str
    created_at: str
    updated_at: str
    merged_from: list[str]
    pinned: bool
    archived: bool
    merged_into: str | None = Field(
        None, description="archived by a merge: the live episode that holds what it knew"
    )
    utility: Pct
    confidence: Pct
    retrievals: int
    helpful: int
    unhelpful: int


class RetrieveResult(BaseModel):
    mode: Literal["search", "list", "episode"]
    query: str
    project: str | None = Field(description="the project searched; null means all projects")
    results: list[Hit] = Field(default_factory=list, description="search mode")
    episodes: list[Listed] = Field(default_factory=list, description="list mode, newest first")
    episode: Detail | None = Field(None, description="episode mode")
    page: int = 1
    offset: int = Field(0, description="list mode: episodes before this page")
    total: int = Field(0, description="list mode: episodes in the listing")
    has_more: bool = False
    session_id: str
    rateable: bool = Field(
        True,
        description="false: the store cannot be written (read-only), so this retrieval was "
        "not logged and nothing can be rated; warnings say why",
    )
    warnings: list[str] = Field(default_factory=list)


class CaptureResult(BaseModel):
    id: str
    short_id: str
    project: str
    outcome: str
    already_captured: bool = Field(
        False,
        description="true: this capture repeats one this session already made (a retry), so "
        "nothing new was stored; the id is that episode's",
    )
    credit: list[Change] = Field(
        description="earlier retrievals in this session that shared the outcome"
    )
    starts_at: float | None = Field(
        None,
        description="the new episode's utility (percent) when similar episodes' evidence "
        "moved it from the neutral 50",
    )
    propagation: list[Change] = Field(description="neighbours whose utility moved")
    awaiting_credit: int = Field(
        0,
        description="outcome unknown: this session's retrievals left waiting for a capture "
        "with a known outcome (an unknown one credits none)",
    )
    redacted: int = Field(description="secrets replaced before storing")
    warnings: list[str]


class RatedSearch(BaseModel):
    query: str = Field(description="what was searched for (or the id shown)")
    searched_at: str
    ago: str = Field(description="how long ago, e.g. '2m ago'")


class FeedbackResult(BaseModel):
    helpful: bool
    last_search: RatedSearch | None = Field(
        None,
        description="with 'last': the search whose hits were rated, this session's latest "
        "logged one (not a listing, nor a call that failed)",
    )
    rated: list[Change] = Field(description="each named episode, utility before and after")
    propagated: list[Change] = Field(description="similar episodes the feedback spread to")
    notes: list[str] = Field(
        default_factory=list,
        description="ids named and hits of 'last' merged away, and who was rated in their "
        "place; hits of 'last' archived since, left out",
    )


class IndexHealth(BaseModel):
    ok: bool
    rows: int
    problem: str | None
    missing: int
    stale: int
    orphans: int


class StatusResult(BaseModel):
    healthy: bool
    settings_error: str | None = Field(
        None,
        description="why the settings (config.toml, MEMRL_ variables) do not load, and the "
        "fix: until then every other tool and the hooks fail, and the rest of this status is "
        "read with the default settings (unless settings_kept)",
    )
    settings_kept: bool = Field(
        False,
        description="the settings stopped loading after this server started: it goes on with "
        "those it read then, but the hooks, new sessions and memrl commands fail",
    )
    project: str | None = Field(description="null: every project ('*')")
    project_episodes: int
    project_archived: int
    episodes: int = Field(description="live episodes, all projects")
    archived: int
    projects: int
    retrievals: int
    events: int
    size_bytes: int
    data_dir: str
    model: str
    model_loaded: bool
    model_error: str | None = Field(
        None,
        description="the model failed to load, and why: searches and captures fail until it "
        "is fixed (null while it loads or once it has loaded)",
    )
    session_id: str
    index: IndexHealth
    unreadable_files: list[str]
    untracked_files: int
    advice: list[str]
    warnings: list[str] = Field(default_factory=list)
    hook_failures: list[str] = Field(
        default_factory=list,
        description="Claude Code's memrl hooks that failed in the last 24 h, the latest first",
    )


class ProjectCount(BaseModel):
    project: str
    episodes: int
    mean_utility: Pct
    helpful: int
    unhelpful: int


class DayCount(BaseModel):
    day: str
    captures: int


class StatsResult(BaseModel):
    project: str | None
    episodes: int
    archived: int
    projects: list[ProjectCount]
    outcomes: dict[str, int]
    task_types: dict[str, int]
    utility_histogram: list[int] = Field(
        description="episodes per 10-point utility band, 0–10 first"
    )
    top: list[Listed] = Field(
        description="the most useful: rated or credited episodes above 50% utility, best first"
    )
    retrievals: int
    helpful: int
    unhelpful: int
    rated_episodes: int
    recent_days: list[DayCount] = Field(description="captures per day, the last 14 days")
    size_bytes: int
    warnings: list[str] = Field(default_factory=list)


class PropagateResult(BaseModel):
    project: str | None
    temporal: bool
    sources: int
    edges: int
    changed: int
    changes: list[Change] = Field(description="the largest changes, at most 50")
    credit: list[Change]
    seconds: float
    warnings: list[str] = Field(default_factory=list)


class Cluster(BaseModel):
    similarity: Pct
    size: int = Field(description="episodes in the group")
    episodes: list[Listed] = Field(description=f"at most {CLUSTER_SHOWN} shown")


class PruneItem(BaseModel):
    episode: Listed
    reason: str


class ReviewResult(BaseModel):
    action: Literal["analyze", "merge", "cleanup"]
    project: str | None
    dry_run: bool
    clusters: list[Cluster] = Field(
        default_factory=list, description=f"at most {REVIEW_SHOWN} shown"
    )
    cluster_count: int = 0
    stale: list[Listed] = Field(
        default_factory=list,
        description=f"long unused, not dead weight (at most {REVIEW_SHOWN} shown)",
    )
    stale_count: int = 0
    unused: list[Listed] = Field(
        default_factory=list,
        description=f"never retrieved, not dead weight (at most {REVIEW_SHOWN} shown)",
    )
    unused_count: int = 0
    dead_weight: list[PruneItem] = Field(
        default_factory=list, description=f"at most {REVIEW_SHOWN} shown"
    )
    dead_weight_count: int = 0
    merged: Detail | None = Field(
        None, description="merge: the merged episode (a preview on a dry run)"
    )
    sources: list[str] = Field(
        default_factory=list, description="merge: the ids merged (archived once merged)"
    )
    archived: list[str] = Field(
        default_factory=list, description="ids archived by this call (none on a dry run)"
    )
    notes: list[str] = Field(default_factory=list)
    suggestions: list[str] = Field(default_factory=list)
