"""The episode table's columns: which fit a width, and how a row reads in them."""

from __future__ import annotations

from dataclasses import dataclass

from rich.style import Style
from rich.text import Text

from memrl.tui.format import OUTCOME_MARK, OUTCOME_STYLE, ago, utility_text
from memrl.views import Row


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
    Column("used", "used", 4, "retrievals", True),
    Column("rated", "+/−", 5, "helpful", True),
    Column("age", "age", 4, "created", True),
]
NARROW_DROP = {"used", "rated"}


@dataclass(slots=True)
class ErrorRow:
    """A file that cannot be read: shown where it would be, never a crash."""

    path: str
    error: str
    episode_id: str | None = None


def layout(width: int) -> list[tuple[Column, int]]:
    """Every column from 100 cells; below that the counts go (the detail pane has them),
    the outcome shrinks to its mark and the project to 12 cells."""
    wide = width >= 100
    widths = {"project": 12, "outcome": 1} if not wide else {}
    cols = [(c, widths.get(c.key, c.width)) for c in WIDE if wide or c.key not in NARROW_DROP]
    fixed = sum(w for _c, w in cols) + len(cols)
    return [(c, w or max(8, width - fixed)) for c, w in cols]


def header(columns: list[tuple[Column, int]], sort_key: str, descending: bool) -> str:
    parts = []
    for col, w in columns:
        label = col.label if w > 1 else ""
        if col.sort and col.sort == sort_key:
            label += " ▼" if descending else " ▲"
        text = Text(label)
        text.truncate(w, pad=True)
        if col.right:
            text.align("right", w)
        parts.append(text.plain + " ")
    return "".join(parts)


def cells(
    entry: Row | ErrorRow,
    columns: list[tuple[Column, int]],
    marked: dict[str, None],
    bad: dict[str, str],
    now: float,
    err: Style,
) -> list[Text]:
    keys = [c.key for c, _w in columns]
    if isinstance(entry, ErrorRow):
        values = {
            "gutter": Text("⚠", err),
            "id": Text((entry.episode_id or "?")[:8], err),
            "task": Text(f"unreadable: {entry.path} — {entry.error}", err),
        }
        return [values.get(k, Text("")) for k in keys]
    row, learned = entry, entry.learned
    problem = bad.get(row.id)
    compact = dict((c.key, w) for c, w in columns).get("outcome") == 1
    values = {
        "gutter": Text.assemble(
            ("●" if row.id in marked else " ", "bold"),
            ("⚠" if problem else "◆" if row.pinned else " ", err if problem else ""),
        ),
        "id": Text(row.short_id, "bold" if row.pinned else ""),
        "project": Text(row.project),
        "task": Text(f"unreadable — {problem}", err) if problem else Text(row.title),
        "outcome": Text(
            OUTCOME_MARK.get(row.outcome, "·") + ("" if compact else f" {row.outcome}"),
            OUTCOME_STYLE.get(row.outcome, ""),
        ),
        "utility": utility_text(learned.utility),
        "used": Text(str(learned.retrievals) if learned.retrievals else "·"),
        "rated": Text(
            f"+{learned.helpful} −{learned.unhelpful}"
            if learned.helpful or learned.unhelpful
            else "·"
        ),
        "age": Text(ago(row.created_at, now)),
    }
    return [values[k] for k in keys]
