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


class Cells:
    """The plot's canvas in terminal cells, mapped as plotext maps a point to a cell (the
    whole widget but the title's line: no frame, axes or ticks), so that where a node and
    a label fall is known before plotext draws them."""

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = max(2, width), max(2, height - 1)

    def col(self, x: float) -> int:
        return math.floor(round(0.5 + (self.width - 1) * (x + X) / (2 * X), 8))

    def row(self, y: float) -> int:
        return math.floor(round(0.5 + (self.height - 1) * (y + Y) / (2 * Y), 8))

    def x(self, col: int) -> float:
        return -X + 2 * X * col / (self.width - 1)

    def y(self, row: int) -> float:
        return -Y + 2 * Y * row / (self.height - 1)


class Labels:
    """Where each label goes: beside its node, else on the other side, else above or
    below it; a label that would touch another label or cover a node is left out (the
    table beside the graph names every neighbour)."""

    def __init__(self, cells: Cells, nodes: list[tuple[int, int]]) -> None:
        self.cells = cells
        self.taken: dict[int, list[tuple[int, int]]] = {}  # row → spans of columns
        for col, row in nodes:
            self._take(row, col, col)

    def _take(self, row: int, first: int, last: int) -> None:
        self.taken.setdefault(row, []).append((first, last))

    def _free(self, row: int, first: int, last: int) -> bool:
        if first < 1 or last + 1 >= self.cells.width or not 0 <= row < self.cells.height:
            return False
        # a blank cell on each side (drawn over an edge), so two labels never read as one
        return all(last + 1 < a or first - 1 > b for a, b in self.taken.get(row, []))

    def place(self, text: str, col: int, row: int, outward: int) -> tuple[int, int] | None:
        """The first column and the row for `text` labelling the node at (col, row), on
        the side `outward` (−1 left, 1 right) first; None when it fits nowhere."""
        n = len(text)
        beside = {1: col + 2, -1: col - 1 - n}
        above, below = (col - n // 2, row + 1), (col - n // 2, row - 1)
        return self._first_free(
            text, [(beside[outward], row), (beside[-outward], row), above, below]
        )

    def centred(self, text: str, col: int, row: int) -> tuple[int, int] | None:
        """Below the node at (col, row), else above it; None when neither is free."""
        first = col - len(text) // 2
        return self._first_free(text, [(first, row - 1), (first, row + 1)])

    def _first_free(self, text: str, tries: list[tuple[int, int]]) -> tuple[int, int] | None:
        n = len(text)
        for first, r in tries:
            if self._free(r, first, first + n - 1):
                self._take(r, first, first + n - 1)
                return first, r
        return None


class NeighbourGraph(PlotextPlot):
    """Drawn again at each resize: which labels fit, and where, depends on its size."""

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self._shown: tuple[Row, list[Neighbour], float] | None = None
        self.labelled: list[str] = []  # the ids shown as labels, the middle's first

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
        cells = Cells(self.size.width, self.size.height)
        row = 2 * Y / max(4, cells.height)  # one row, in the plot's units
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
        for x, y, nb in points:
            plt.scatter([x], [y], marker="●", color=_colour(nb.row.learned.utility))
        plt.scatter([0], [0], marker="◉", color=_colour(centre.learned.utility))
        nodes = [(cells.col(x), cells.row(y)) for x, y, _nb in points]
        labels = Labels(cells, [(cells.col(0), cells.row(0)), *nodes])
        self.labelled = []
        # the middle's label first, below it (or above); then each neighbour's, nearest first
        spot = labels.centred(centre.short_id, cells.col(0), cells.row(0))
        if spot is not None:
            self._text(cells, centre.short_id, spot, bold=True)
        order = sorted(range(len(points)), key=lambda n: -points[n][2].similarity)
        for n in order:
            x, _y, nb = points[n]
            col, r = nodes[n]
            spot = labels.place(nb.row.short_id, col, r, -1 if x < -1e-6 else 1)
            if spot is not None:
                self._text(cells, nb.row.short_id, spot)
        if neighbours:
            plt.title(f"{plural(len(neighbours), 'neighbour')} ≥ {threshold:.0%} alike")
        else:
            plt.title("no neighbours above the propagation threshold")
        self.refresh()

    def _text(self, cells: Cells, text: str, spot: tuple[int, int], bold: bool = False) -> None:
        first, row = spot
        self.plt.text(
            f" {text} ",  # the blank cells either side, clear of any edge passing there
            cells.x(first - 1),
            cells.y(row),
            alignment="left",
            background="default",
            style="bold" if bold else None,
        )
        self.labelled.append(text)
