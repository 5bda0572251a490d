"""The propagation neighbourhood at a glance: the episode in the middle, its neighbours
around it, nearer the more similar they are, coloured by utility."""

from __future__ import annotations

import math

from textual_plotext import PlotextPlot

from memrl.insights import Neighbour
from memrl.views import Row, plural


def _colour(utility: float) -> str:
    return "green" if utility >= 0.6 else "red" if utility < 0.4 else "orange"


class NeighbourGraph(PlotextPlot):
    def show(self, centre: Row, neighbours: list[Neighbour], threshold: float) -> None:
        plt = self.plt
        plt.clear_figure()
        plt.frame(False)
        plt.xticks([])
        plt.yticks([])
        plt.xlim(-1.45, 1.45)
        plt.ylim(-1.3, 1.3)
        if not neighbours:
            plt.title("no neighbours above the propagation threshold")
            plt.scatter([0], [0], marker="●", color=_colour(centre.learned.utility))
            plt.text(centre.short_id, 0, -0.2, alignment="center", background="default")
            self.refresh()
            return
        span = max(1e-6, 1.0 - threshold)
        points = []
        for n, nb in enumerate(neighbours):
            angle = math.pi / 2 - 2 * math.pi * n / len(neighbours)
            radius = 0.35 + 0.65 * min(1.0, (1.0 - nb.similarity) / span)
            points.append((radius * math.cos(angle), radius * math.sin(angle), nb))
        for x, y, nb in points:
            flow = nb.inflow + nb.outflow
            colour = "green" if flow > 1e-4 else "red" if flow < -1e-4 else "gray"
            plt.plot([0, x], [0, y], marker="braille", color=colour)
        for x, y, nb in points:
            plt.scatter([x], [y], marker="●", color=_colour(nb.row.learned.utility))
            plt.text(nb.row.short_id, x, y - 0.13, alignment="center", background="default")
        plt.scatter([0], [0], marker="◉", color=_colour(centre.learned.utility))
        plt.text(centre.short_id, 0, -0.13, alignment="center", background="default", style="bold")
        plt.title(f"{plural(len(neighbours), 'neighbour')} ≥ {threshold:.0%} alike")
        self.refresh()
