"""The episode table's columns: which fit a width, and how a row reads in them."""

from __future__ import annotations

from dataclasses import dataclass

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style

from memrl.tui.format import OUTCOME_MARK, OUTCOME_STYLE, bar, one_line
from memrl.views import Row, age, pct, utility_style


@dataclass(slots=True)
class Column:
    key: str
    label: str
    width: int  # 0: takes what is left
    sort: str | None
    right: bool = False


WIDE = [
    Column("gutter", "", 2, None),
    Column("id", "id", 8, None),
    Column("project", "project", 16, "project"),
    Column("task", "task / summary", 0, "task"),
    Column("outcome", "outcome", 9, "outcome"),
    Column("utility", "utility", 10, "utility"),
    Column("used", "used", 5, "retrievals", True),
    Column("rated", "+/−", 5, "helpful", True),
    Column("age", "age", 4, "created", True),
]
NARROW_DROP = {"used", "rated"}
SQUEEZE_DROP = ("project", "age", "outcome", "utility")  # then these, until the task fits
MIN_TASK = 16
BOLD = Style(bold=True)


@dataclass(slots=True)
class ErrorRow:
    """A file that cannot be read: shown where it would be, never a crash."""

    path: str
    error: str
    episode_id: str | None = None


def layout(width: int) -> list[tuple[Column, int]]:
    """Every column from 100 cells; below that the counts go (the detail pane has them),
    the outcome shrinks to its mark and the project to 12 cells; narrower still, columns
    go one by one (SQUEEZE_DROP) rather than run past the edge."""
    wide = width >= 100
    widths = {"project": 12, "outcome": 1} if not wide else {}
    cols = [(c, widths.get(c.key, c.width)) for c in WIDE if wide or c.key not in NARROW_DROP]
    for key in SQUEEZE_DROP:
        if width - sum(w + 1 for _c, w in cols) >= MIN_TASK:
            break
        cols = [(c, w) for c, w in cols if c.key != key]
    fixed = sum(w + 1 for _c, w in cols)
    return [(c, w or max(8, width - fixed)) for c, w in cols]


def header(columns: list[tuple[Column, int]], sort_key: str, descending: bool) -> str:
    parts = []
    for col, w in columns:
        label = col.label if w > 1 else ""
        if col.sort and col.sort == sort_key:  # over a titleless mark too (the border names it)
            arrow = "▼" if descending else "▲"
            label = arrow + label if col.right or w < 3 else f"{label} {arrow}"  # fits narrow ones
        parts.append("".join(seg.text for seg in _fit([(label, None)], w, col.right)) + " ")
    return "".join(parts)


Piece = tuple[str, Style | None]


def _line(text: str) -> str:
    return " ".join(one_line(text).split())  # error messages can span lines; a row cannot


def _style(name: str) -> Style | None:
    return Style.parse(name) if name else None  # parse is cached by Rich


def _fit(pieces: list[Piece], width: int, right: bool) -> list[Segment]:
    """The pieces cut (with an ellipsis) or padded to exactly `width` cells."""
    total = sum(cell_len(t) for t, _s in pieces)
    if total <= width:
        pad = Segment(" " * (width - total))
        segments = [Segment(t, s) for t, s in pieces if t]
        return [pad, *segments] if right else [*segments, pad]
    out: list[Segment] = []
    room = width - 1
    for text, style in pieces:
        n = cell_len(text)
        if n >= room:
            out.append(Segment(set_cell_size(text, room) + "…", style))
            return out
        out.append(Segment(text, style))
        room -= n
    return out


def cells(
    entry: Row | ErrorRow,
    columns: list[tuple[Column, int]],
    marked: dict[str, None],
    bad: dict[str, str],
    now: float,
    err: Style,
) -> list[Segment]:
    """One row as segments, each column fitted to its width: built directly rather than
    through Rich Text, since every row scrolled into view is drawn this way."""
    values = _values(entry, columns, marked, bad, now, err)
    segments: list[Segment] = []
    space = Segment(" ")
    for col, width in columns:
        segments += _fit(values.get(col.key, []), width, col.right)
        segments.append(space)
    return segments


def _values(entry, columns, marked, bad, now, err) -> dict[str, list[Piece]]:
    if isinstance(entry, ErrorRow):
        return {
            "gutter": [("⚠", err)],
            "id": [((entry.episode_id or "?")[:8], err)],
            "task": [(_line(f"unreadable: {entry.path} — {entry.error}"), err)],
        }
    row, learned = entry, entry.learned
    problem = bad.get(row.id)
    compact = dict((c.key, w) for c, w in columns).get("outcome") == 1
    tone = _style(utility_style(learned.utility))
    rated = learned.helpful or learned.unhelpful
    return {
        "gutter": [
            ("●" if row.id in marked else " ", BOLD),
            ("⚠" if problem else "◆" if row.pinned else " ", err if problem else None),
        ],
        "id": [(row.short_id, BOLD if row.pinned else None)],
        "project": [(one_line(row.project), None)],  # a tab would push the row past its cells
        "task": [(_line(f"unreadable — {problem}"), err)]
        if problem
        else [(one_line(row.title), None)],
        "outcome": [
            (
                OUTCOME_MARK.get(row.outcome, "·") + ("" if compact else f" {row.outcome}"),
                _style(OUTCOME_STYLE.get(row.outcome, "")),
            )
        ],
        "utility": [
            (bar(learned.utility), tone),
            (" ", None),
            (f"{pct(learned.utility):>4}", tone),
        ],
        "used": [(str(learned.retrievals) if learned.retrievals else "·", None)],
        "rated": [(f"+{learned.helpful} −{learned.unhelpful}" if rated else "·", None)],
        "age": [(age(row.created_at, now), None)],
    }
