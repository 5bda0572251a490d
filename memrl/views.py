"""What the Memory facade hands to front-ends: plain dataclasses, ready to render."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: front-ends' formatters below stay free of pydantic
    from memrl.episode import Episode


# Unicode's explicit direction controls (embeddings, overrides, isolates) reorder the text
# after them on screen: "Fix \u202eexe.txt" reads "Fix txt.exe". Text is stored as given;
# wherever it is shown, each is shown as its code instead.
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")


def visible(text: str) -> str:
    """`text` with each direction control shown as `[U+202E]`, so what a person reads is
    what the bytes say."""
    return _BIDI.sub(lambda m: f"[U+{ord(m.group()):04X}]", text)


def short(episode_id: str) -> str:
    return episode_id[:8]


def human_size(n: float) -> str:
    """A byte count for people: `512 B`, `1.5 KB`, … up to GB."""
    for unit in ("B", "KB", "MB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def plural(count: int, word: str, many: str | None = None) -> str:
    """`1 episode`, `3 episodes`; `many` for a plural that is not word + s."""
    return f"{count:,} " + (word if count == 1 else many or word + "s")


UNITS = (("d", "days", 86_400), ("h", "hours", 3600), ("m", "minutes", 60))  # largest first


def age(ts: float, now: float) -> str:
    """How long ago, compactly, for table columns: `now`, `5m`, `3h`, `12d`, `2y`."""
    seconds = max(0.0, now - ts)
    if seconds >= 2 * 365 * 86_400:
        return f"{seconds / (365 * 86_400):.0f}y"
    for unit, _name, size in UNITS:
        if seconds >= size:
            return f"{seconds / size:.0f}{unit}"
    return "now"


def time_unit(seconds: float) -> tuple[str, float]:
    """The unit a stretch of time is counted in, as `age` counts it: ("hours", 3600) for
    three hours, so a plot of a young episode's hours is not squeezed into a day."""
    for _unit, name, size in UNITS:
        if seconds >= size:
            return name, size
    return "seconds", 1.0


def ago(ts: float, now: float) -> str:
    """How long ago, for a sentence: `just now`, `5m ago`."""
    when = age(ts, now)
    return "just now" if when == "now" else f"{when} ago"


def rated_search(query: str, ts: float, now: float) -> str:
    """The search a rating of 'last' rated, as its reply names it:
    `the hits of "docker build cache" (searched 2m ago)`."""
    flat = " ".join(visible(query).split())
    flat = flat if len(flat) <= 80 else flat[:79] + "…"
    return f'the hits of "{flat}" (searched {ago(ts, now)})'


def pct(x: float) -> str:
    """A fraction as a whole percentage, halves up: `0.734` → `73%`, `0.735` → `74%`. To the
    hundredth first, as the MCP server reports it, so both name the same percentage."""
    return f"{math.floor(round(x * 100, 2) + 0.5)}%"


SPLIT_FROM = 0.0005  # a rating's change is told in two parts once its neighbours' is this big


def points(delta: float) -> str:
    """A utility change in percentage points: `+5.0 pts`, `−0.04 pts`, `+<0.01 pts`; none at
    all is `0 pts`, unsigned. A change too small for one decimal shows its size rather than
    a bare 0.0."""
    if delta == 0:
        return "0 pts"
    size = abs(delta) * 100
    amount = f"{size:.1f}" if size >= 0.1 else f"{size:.2f}" if size >= 0.01 else "<0.01"
    return f"{'+' if delta > 0 else '−'}{amount} pts"


def moved(before: float, after: float) -> tuple[str, str]:
    """A history row's utility and change cells: `50% → 55%` and `+5.0 pts`; a row that
    moved nothing (a restore) is an event at its utility, `50%` and `—`."""
    if after == before:
        return pct(after), "—"
    return f"{pct(before)} → {pct(after)}", points(after - before)


def utility_style(x: float) -> str:
    """The colour a utility is shown in: green from 0.6, red below 0.4, else yellow."""
    return "green" if x >= 0.6 else "red" if x < 0.4 else "yellow"


@dataclass(slots=True)
class Learned:
    """An episode's learned state, with decay applied for the moment it was read."""

    utility: float  # what ranking uses: clip(q + p) × decay
    q: float  # its own evidence
    p: float  # what its neighbours add
    decay: float  # the multiplier for days unused (1.0 when pinned or just used)
    confidence: float
    evidence: int
    retrievals: int
    helpful: int
    unhelpful: int
    last_used_at: float | None
    arrived_at: float  # when it entered the store (its creation, unless captured back-dated)

    @property
    def idle_since(self) -> float:
        """Where the decay clock starts: its last use, or else its arrival."""
        return self.last_used_at or self.arrived_at


@dataclass(slots=True)
class Row:
    """One line of a listing: catalog data plus learned state. No file is read."""

    id: str
    project: str
    task: str
    summary: str
    outcome: str
    task_type: str
    source: str
    tags: list[str]
    created_at: float
    updated_at: float
    pinned: bool
    archived: bool
    learned: Learned
    path: str  # the episode's file, relative to the data dir
    stat: tuple[int, int] = (0, 0)  # the file's (mtime_ns, size) when it was catalogued

    @property
    def short_id(self) -> str:
        return short(self.id)

    @property
    def title(self) -> str:
        text = self.task or self.summary
        return visible(text.splitlines()[0]) if text else ""


@dataclass(slots=True)
class EpisodeView:
    episode: Episode
    learned: Learned
    archived: bool
    path: str
    merged_into: str | None = None  # archived by a merge: the live episode holding it now


@dataclass(slots=True)
class Hit:
    """One search result, able to explain its place."""

    rank: int
    row: Row
    similarity: float
    keyword: float
    relevance: float
    normalised: float
    score: float
    episode: Episode | None = None  # full content, loaded for the returned hits
    weak: bool = False  # under `weak_below(settings)`, without the query's identifiers
    exact: bool = False  # it holds every identifier of the query whole: ranked ahead

    @property
    def id(self) -> str:
        return self.row.id

    @property
    def keyword_match(self) -> bool:
        """The query's exact words are in it, more than look-alikes share (marked "kw")."""
        return self.keyword > 0.5

    def explain(
        self, utility_weight: float, *, keyword_weight: float, min_similarity: float
    ) -> str:
        """Why the hit ranks where it does, with every number a reader needs to redo the
        sum: the score blends relevance *normalised* (the minimum similarity is 0 %, a
        perfect match 100 %), and relevance is similarity raised by the keyword match.
        Relevance itself is not shown as a percentage: raised by a keyword match it can pass
        100 %, which reads as a mistake; the sum that normalises it shows its parts."""
        learned = self.row.learned
        utility = f"utility {pct(learned.utility)}" + (
            f" (decayed ×{learned.decay:.2f})" if learned.decay < 0.995 else ""
        )
        raised = (
            f" + {keyword_weight:.2f} × keyword match {self.keyword:.0%}" if self.keyword else ""
        )
        capped = ", at most 100%" if self.relevance > 1 else ""
        return (
            f"score {self.score:.3f} = {1 - utility_weight:.2f} × normalised relevance "
            f"{self.normalised:.0%} + {utility_weight:.2f} × {utility}; "
            f"normalised relevance = (similarity {self.similarity:.0%}{raised} − "
            f"{min_similarity:.0%} minimum) ÷ {1 - min_similarity:.0%}{capped}; "
            f"confidence {learned.confidence:.0%} from {plural(learned.evidence, 'signal')}"
            + ("; it holds the query's names whole, so it ranks ahead" if self.exact else "")
        )


@dataclass(slots=True)
class SearchResult:
    query: str
    hits: list[Hit]
    retrieval_id: int | None
    utility_weight: float
    keyword_weight: float  # the settings the hits were ranked with, to explain them by
    min_similarity: float
    warnings: list[str] = field(default_factory=list)

    def explain(self, hit: Hit) -> str:
        """Why `hit` ranks where it does, in the terms it was ranked by."""
        return hit.explain(
            self.utility_weight,
            keyword_weight=self.keyword_weight,
            min_similarity=self.min_similarity,
        )


@dataclass(slots=True)
class Change:
    """A utility change, as reported after feedback, credit, propagation or merge."""

    id: str
    title: str
    cause: str
    before: float
    after: float
    other_id: str | None = None
    seq: int | None = None  # the history event's number, for ratings (undo names it)
    instead_of: tuple[str, ...] = ()  # a rating of 'last': its hits merged into this one since
    merged_away: tuple[str, ...] = ()  # a rating: ids named that were merged into this one
    left_out: tuple[str, ...] = ()  # a rating of 'last', on its first change: hits archived since
    unreadable: tuple[str, ...] = ()  # … and hits whose file no longer reads
    # a rating of 'last', on its first change: the search it rated, (query, when)
    searched: tuple[str, float] | None = None
    # of a rating's change, the part that came through its neighbours (a new confidence
    # weighs what they send it differently): recorded in history as a propagation
    neighbours: float = 0.0

    @property
    def delta(self) -> float:
        return self.after - self.before

    @property
    def notes(self) -> list[str]:
        """What a rating did not do as asked: ids named and hits of 'last' merged away, rated
        through this episode, and hits archived since, left out (they no longer show in
        searches); none otherwise."""
        me = self.id[:8]
        said = [
            (self.merged_away, "", f"merged into {me}: {me} was rated in {{its}} place"),
            (
                self.instead_of,
                " from the last search",
                f"merged into {me} since: {me} was rated in {{its}} place",
            ),
            (
                self.left_out,
                " from the last search",
                "archived since and not rated (restore {it} and rate by id)",
            ),
            (
                self.unreadable,
                " from the last search",
                "not rated: {its} episode {file} no longer {reads} (`memrl status` names {it})",
            ),
        ]
        out = []
        for ids, source, what in said:
            if ids:
                one = len(ids) == 1
                happened = what.format(
                    its="its" if one else "their",
                    it="it" if one else "them",
                    file="file" if one else "files",
                    reads="reads" if one else "read",
                )
                named = ", ".join(i[:8] for i in ids)
                out.append(f"{named}{source} {'was' if one else 'were'} {happened}")
        return out


def largest_first(changes: Iterable[Change]) -> list[Change]:
    """Utility changes, the largest first: the order to show them in when not all fit."""
    return sorted(changes, key=lambda c: -abs(c.delta))


@dataclass(slots=True)
class CaptureResult:
    episode: Episode
    credit: list[Change]
    propagation: list[Change]  # the neighbours it moved
    warnings: list[str] = field(default_factory=list)
    repeat: bool = False  # the same capture this session made before: `episode` is that one
    start: Change | None = None  # where similar episodes' evidence starts the new one
