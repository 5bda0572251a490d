"""The propagation neighbourhood at a glance: the episode in the middle, its neighbours
around it, nearer the more similar they are, coloured by utility."""

from __future__ import annotations

import math

from textual_plotext import PlotextPlot

from memrl.insights import Neighbour
from memrl.views import Row, plural

X, Y = 1.45, 1.3  # the plot's half width and half height


def _colour(utility: float) -> str:
    return "green" if utility >= 0.6 else "red" if utility < 0.4 else "orange"


class NeighbourGraph(PlotextPlot):
    """Drawn again at each resize: labels sit a cell or two from their nodes, and how far
    that is in the plot's own units depends on its size."""

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self._shown: tuple[Row, list[Neighbour], float] | None = None

    def show(self, centre: Row, neighbours: list[Neighbour], threshold: float) -> None:
        self._shown = (centre, neighbours, threshold)
        self._draw()

    def on_resize(self) -> None:
        if self._shown is not None:
            self._draw()

    def _draw(self) -> None:
        assert self._shown is not None
        centre, neighbours, threshold = self._shown
        plt = self.plt
        plt.clear_figure()
        plt.frame(False)
        plt.xticks([])
        plt.yticks([])
        plt.xlim(-X, X)
        plt.ylim(-Y, Y)
        # one row and two columns in the plot's units, so no label overwrites a node
        row = 2 * Y / max(4, self.size.height - 2)
        col = 2 * X / max(20, self.size.width)
        if not neighbours:
            plt.title("no neighbours above the propagation threshold")
            plt.scatter([0], [0], marker="●", color=_colour(centre.learned.utility))
            plt.text(centre.short_id, 0, -row, alignment="center", background="default")
            self.refresh()
            return
        span = max(1e-6, 1.0 - threshold)
        inner = min(0.6, max(0.35, 1.2 * row))  # the nearest a row away from the middle
        points = []
        for n, nb in enumerate(neighbours):
            angle = math.pi / 2 - 2 * math.pi * n / len(neighbours)
            radius = inner + (1.0 - inner) * min(1.0, (1.0 - nb.similarity) / span)
            points.append((radius * math.cos(angle), radius * math.sin(angle), nb))
        for x, y, nb in points:
            flow = nb.inflow + nb.outflow
            colour = "green" if flow > 1e-4 else "red" if flow < -1e-4 else "gray"
            plt.plot([0, x], [0, y], marker="braille", color=colour)
        for x, y, nb in points:  # each label beside its node, on the side away from the middle
            plt.scatter([x], [y], marker="●", color=_colour(nb.row.learned.utility))
            left = x < -1e-6
            plt.text(
                nb.row.short_id,
                x - 2 * col if left else x + 2 * col,
                y,
                alignment="right" if left else "left",
                background="default",
            )
        plt.scatter([0], [0], marker="◉", color=_colour(centre.learned.utility))
        # the middle's label below it, or above when a neighbour sits right there
        clear = [
            at
            for at in (-row, row)
            if not any(abs(y - at) < row and abs(x) < 6 * col for x, y, _nb in points)
        ]
        plt.text(
            centre.short_id,
            0,
            clear[0] if clear else -row,
            alignment="center",
            background="default",
            style="bold",
        )
        plt.title(f"{plural(len(neighbours), 'neighbour')} ≥ {threshold:.0%} alike")
        self.refresh()
