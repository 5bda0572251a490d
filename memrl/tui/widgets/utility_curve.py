"""An episode's utility over time, with the events that moved it marked."""

from __future__ import annotations

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


class UtilityCurve(PlotextPlot):
    """Draws `insights.history`: the curve (decay included) and one marker per event.

    Time runs from when the work was done up to now, as `memrl history` plots it, counted
    in the unit that span reads in (minutes for an episode captured this morning): in days,
    a young episode's changes would all fall in the last column."""

    def show(self, history: History, now: float) -> None:
        plt = self.plt
        plt.clear_figure()
        curve = history.curve
        if not curve:
            plt.title("no history yet")
            self.refresh()
            return
        unit, size = time_unit(max(now - curve[0][0], 60.0))
        xs = [(t - now) / size for t, _u in curve]
        plt.plot(xs, [u * 100 for _t, u in curve], marker="braille", color="blue", label="utility")
        groups: dict[str, list[tuple[float, float]]] = {}
        for e in history.events:
            key = e.detail if e.cause == "feedback" else e.cause
            groups.setdefault(key, []).append(((e.ts - now) / size, e.after * 100))
        for key, points in groups.items():
            label, color, marker = MARKS.get(key, (key, "white", "+"))
            plt.scatter(
                [x for x, _y in points],
                [y for _x, y in points],
                marker=marker,
                color=color,
                label=label,
            )
        learned = history.row.learned
        if learned.decay < 0.995:
            plt.scatter([0.0], [learned.utility * 100], marker="▽", color="orange", label="decay")
        plt.ylim(0, 100)
        left = min([*xs, -60.0 / size])
        plt.xlim(left, -left * 0.01)
        # time runs left to right up to now, each tick saying how long ago it was
        ticks = [left * k / 4 for k in range(4, -1, -1)]
        digits = 0 if left <= -10 else 1
        plt.xticks(ticks, [f"{-t:.{digits}f}" if t else "now" for t in ticks])
        plt.xlabel(f"{unit} ago")
        plt.ylabel("utility %")
        plt.title(f"utility {pct(learned.utility)} now · {plural(len(history.events), 'change')}")
        self.refresh()
