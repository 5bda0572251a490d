"""An episode's utility over time, with the events that moved it marked."""

from __future__ import annotations

from rich.text import Text
from textual_plotext import PlotextPlot

from memrl.insights import History
from memrl.views import pct, plural, time_unit

# cause → (label, colour, marker)
MARKS = {
    "helpful": ("helpful", "green", "▲"),
    "unhelpful": ("unhelpful", "red", "▼"),
    "credit": ("credit", "cyan", "◆"),
    "propagation": ("propagation", "magenta", "•"),
    "merge": ("merge", "yellow", "■"),
    "pin": ("pinned", "white", "◆"),
    "unpin": ("unpinned", "white", "◇"),
}
CURVE = ("utility", "blue", "⠒")
DECAY = ("decayed to now", "orange", "▽")
RICH_COLOUR = {"orange": "dark_orange"}  # plotext's colour names that Rich spells otherwise
# the lines of the plot that are not its canvas: the title, the x axis above and below, the
# x ticks' labels, and the line of the axis labels
FRAME_ROWS = 5


def y_ticks(rows: int) -> list[int]:
    """Utility ticks for a canvas `rows` high: evenly spaced whole percentages, as many as
    fit at least two rows apart (0/50/100 on a short one), so no two labels share a row.
    plotext puts each on the row its value is drawn on: two rows apart exactly when the
    rows divide evenly, else three or more (a row's rounding cannot crowd them)."""
    gaps = max(1, rows - 1)
    parts = next(
        (k for k in (10, 5, 4, 2) if gaps >= 3 * k or (gaps >= 2 * k and gaps % k == 0)), 1
    )
    return [100 * n // parts for n in range(parts + 1)]


def legend(marks: list[tuple[str, str, str]]) -> Text:
    """The key to the plot's marks, on one line beside it: plotext's own legend is drawn
    over the plot's top left corner, where the curve starts."""
    return Text("  ").join(
        Text.assemble((marker, RICH_COLOUR.get(colour, colour)), f" {label}")
        for label, colour, marker in marks
    )


class UtilityCurve(PlotextPlot):
    """Draws `insights.history`: the curve (decay included) and one marker per event.

    Time runs from when the work was done up to now, as `memrl history` plots it, counted
    in the unit that span reads in (minutes for an episode captured this morning): in days,
    a young episode's changes would all fall in the last column. Drawn again at each
    resize: the y ticks that fit depend on the height."""

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self._shown: tuple[History, float] | None = None

    def show(self, history: History, now: float) -> Text:
        """Draw the history; returns the legend for its marks, to show beside it."""
        self._shown = (history, now)
        return self._draw()

    def on_resize(self) -> None:
        if self._shown is not None:
            self._draw()

    def _draw(self) -> Text:
        assert self._shown is not None
        history, now = self._shown
        plt = self.plt
        plt.clear_figure()
        curve = history.curve
        if not curve:
            plt.title("no history yet")
            self.refresh()
            return Text("")
        unit, size = time_unit(max(now - curve[0][0], 60.0))
        xs = [(t - now) / size for t, _u in curve]
        shown = [CURVE]
        plt.plot(xs, [u * 100 for _t, u in curve], marker="braille", color=CURVE[1])
        groups: dict[str, list[tuple[float, float]]] = {}
        for e in history.events:
            key = e.detail if e.cause == "feedback" else e.cause
            groups.setdefault(key, []).append(((e.ts - now) / size, e.after * 100))
        for key, points in groups.items():
            label, color, marker = MARKS.get(key, (key, "white", "+"))
            plt.scatter(
                [x for x, _y in points], [y for _x, y in points], marker=marker, color=color
            )
            shown.append((label, color, marker))
        learned = history.row.learned
        if learned.decay < 0.995:
            plt.scatter([0.0], [learned.utility * 100], marker=DECAY[2], color=DECAY[1])
            shown.append(DECAY)
        plt.ylim(0, 100)
        ticks = y_ticks(self.size.height - FRAME_ROWS)
        plt.yticks([float(t) for t in ticks], [str(t) for t in ticks])
        left = min([*xs, -60.0 / size])
        plt.xlim(left, -left * 0.01)
        # time runs left to right up to now, each tick saying how long ago it was
        xticks = [left * k / 4 for k in range(4, -1, -1)]
        digits = 0 if left <= -10 else 1
        plt.xticks(xticks, [f"{-t:.{digits}f}" if t else "now" for t in xticks])
        plt.xlabel(f"{unit} ago")
        plt.ylabel("utility %")
        plt.title(f"utility {pct(learned.utility)} now · {plural(len(history.events), 'change')}")
        self.refresh()
        return legend(shown)
