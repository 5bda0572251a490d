"""A labelled bar chart (utility histogram, captures per day) on the widget's own plot."""

from __future__ import annotations

import math
from collections.abc import Sequence

from textual_plotext import PlotextPlot


class BarPlot(PlotextPlot):
    def show(self, title: str, labels: list[str], values: Sequence[float], colour: str = "blue"):
        plt = self.plt
        plt.clear_figure()
        plt.title(title)
        if labels:
            positions: list[float] = list(range(1, len(labels) + 1))
            plt.bar(positions, values, color=colour, width=0.6)
            step = max(1, math.ceil(len(labels) / 10))  # explicit ticks: never left to chance
            plt.xticks(positions[::step], labels[::step])
            top = max(1, math.ceil(max(values)))
            plt.ylim(0, top * 1.1)  # empty bars stay empty
            every = max(1, math.ceil(top / 5))
            plt.yticks(list(range(0, top + 1, every)))  # counts: whole numbers only
        self.refresh()
