"""Small formatters shared by the screens: bars, ages and the episode's detail (percentages
are memrl.views.pct, shared with the CLI)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from memrl.learning.rules import DAY
from memrl.views import EpisodeView, Learned, ago, pct, points

OUTCOME_STYLE = {"success": "green", "partial": "yellow", "failure": "red", "unknown": "dim"}
BLANK = Text("")
OUTCOME_MARK = {"success": "✓", "partial": "◐", "failure": "✗", "unknown": "○"}


# What a terminal acts on rather than shows: a tab, a newline, an escape. Counted as no
# width, each would move the cursor and push the rest of its line past its cell (a row
# wider than the others, text of other rows left showing): each is shown as a space.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_CONTROL_IN_TEXT = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")  # keeps \t, \n


def one_line(text: str) -> str:
    """The person's text for a cell or a line: every control character a space."""
    return _CONTROL.sub(" ", text)


def lines(text: str) -> str:
    """The person's text for a pane that wraps it: its lines kept (and its tabs, which Rich
    lays out to the next stop), every other control character a space."""
    return _CONTROL_IN_TEXT.sub(" ", text)


def plain(text: str, style: str = "") -> Text:
    """A person's text (a task, a project, a query, an error) for a widget: always Text,
    never a str, which Textual would read as markup (`[/api/users]` is a closing tag);
    and on one line, its control characters spaces."""
    return Text(one_line(text), style=style)


def clip(text: str, width: int) -> str:
    """One line of at most `width` characters, with an ellipsis when cut."""
    text = " ".join(one_line(text).split())
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def bar(x: float, width: int = 5) -> str:
    """A bar with eighth blocks, so small differences in utility show."""
    eighths = round(max(0.0, min(1.0, x)) * width * 8)
    full, part = divmod(eighths, 8)
    return ("█" * full + (" ▏▎▍▌▋▊▉"[part] if part else "")).ljust(width, " ")


def day(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M")


def pts(delta: float, unit: bool = True) -> str:
    """A change of utility as `views.points` writes it, with or without its unit."""
    text = points(delta)
    return text if unit else text.removesuffix(" pts")


def learned_line(learned: Learned) -> Text:
    parts = [
        f"own evidence {pct(learned.q)}",
        f"from neighbours {pts(learned.p)}",
        f"confidence {pct(learned.confidence)}",
    ]
    if learned.decay < 0.995:
        parts.append(f"decayed ×{learned.decay:.2f}")
    return Text.assemble("utility ", (pct(learned.utility), "bold"), " · ", " · ".join(parts))


def _section(title: str, items: list[Text]) -> list[RenderableType]:
    """A titled list; each item wraps under itself, clear of the bullet."""
    if not items:
        return []
    grid = Table.grid()
    grid.add_column(width=3, no_wrap=True)
    grid.add_column()
    for item in items:
        grid.add_row(Text(" • ", style="markdown.item.bullet"), item)
    return [Text(title, style="markdown.h3"), BLANK, grid, BLANK]


def _code(text: str) -> Text:
    return Text(lines(text), style="markdown.code")


def episode_text(view: EpisodeView, now: float) -> RenderableType:
    """The detail pane: what the episode knows, then what memrl learned about it. The
    person's text is shown exactly as stored (plain Text: no Markdown, HTML or markup
    read into it); only the frame around it is styled."""
    ep, learned = view.episode.shown(), view.learned
    flags = []
    if ep.pinned:
        flags.append("◆ pinned")  # an emoji's width differs between terminals
    if view.merged_into:
        flags.append(f"archived · merged into {view.merged_into[:8]}")
    elif view.archived:
        flags.append("archived")
    if ep.merged_from:
        flags.append(f"merged from {len(ep.merged_from)}")
    created = ep.created_at.timestamp()
    head = Text.assemble(
        _code(ep.short_id),
        f" · {one_line(ep.project) or 'no project'} · {ep.task_type.value} · ",
        f"{OUTCOME_MARK[ep.outcome.value]} {ep.outcome.value} · {day(created)}",
        f" ({ago(created, now)})",
        "\n" + " · ".join(flags) if flags else "",
    )
    parts: list[RenderableType] = [
        Text(lines(ep.task or ep.title), style="markdown.h2"),
        BLANK,
        head,
        BLANK,
        Text(lines(ep.summary)),
        BLANK,
    ]
    parts += _section("What worked", [Text(lines(s)) for s in ep.what_worked])
    parts += _section("What failed", [Text(lines(s)) for s in ep.what_failed])
    errors = [
        Text.assemble(_code(e.error), f" → {lines(e.resolution)}" if e.resolution else "")
        for e in ep.errors_resolved
    ]
    parts += _section("Errors resolved", errors)
    parts += _section("Files", [_code(f) for f in ep.files])
    parts += _section("Commands", [_code(c) for c in ep.commands])
    if ep.tags:
        parts += [Text(" ").join(_code(f"#{one_line(t)}") for t in ep.tags), BLANK]
    used = (
        f"retrieved {learned.retrievals}× · rated helpful {learned.helpful}× · "
        f"unhelpful {learned.unhelpful}×"
    )
    if learned.last_used_at:
        used += f" · last used {ago(learned.last_used_at, now)}"
    if learned.arrived_at - created >= DAY:  # captured later than its work was done
        used += f" · in this store since {day(learned.arrived_at)} ({ago(learned.arrived_at, now)})"
    parts += [Text("Learned", style="markdown.h3"), BLANK, learned_line(learned), BLANK]
    parts.append(Text(used))
    return Group(*parts)
