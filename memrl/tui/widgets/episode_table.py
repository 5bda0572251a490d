"""The episode table: a virtual list over the catalog that stays smooth at 100k episodes.

Only the rows on screen are rendered, and rows are fetched from the Memory facade a
page at a time (the first page at once, the rest in a thread worker), so nothing is
ever built per episode beyond the pages seen.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.timer import Timer

from memrl.memory import Memory
from memrl.store import Filters
from memrl.tui.messages import EpisodeChosen, EpisodeHighlighted
from memrl.tui.widgets.table_columns import WIDE, Column, ErrorRow, cells, header, layout
from memrl.views import Row

PAGE = 200
SORT_LABELS = {"created": "age", "retrievals": "use", "helpful": "ratings"}


class EpisodeTable(ScrollView, can_focus=True):
    """Rows of episodes with a cursor, marks (space) and sortable columns."""

    COMPONENT_CLASSES = {
        "episode-table--header",
        "episode-table--cursor",
        "episode-table--marked",
        "episode-table--error",
        "episode-table--dim",
    }
    BINDINGS = [
        Binding("up,k", "move(-1)", "Up", show=False),
        Binding("down,j", "move(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "jump(0)", "First", show=False),
        Binding("end", "jump(-1)", "Last", show=False),
        Binding("enter", "choose", "Open", show=False),
        Binding("space", "mark", "Mark", show=False),
        Binding("s", "sort", "Sort", show=False),
        Binding("S", "reverse", "Reverse", show=False),
    ]

    cursor: reactive[int] = reactive(0, always_update=True, repaint=False)

    class Reloaded(Message):
        """Fresh counts and rows are on screen."""

    class MarksChanged(Message):
        """An episode was marked or unmarked (space)."""

    def __init__(self, memory: Memory, clock: Callable[[], float], **kwargs) -> None:
        super().__init__(**kwargs)
        self.memory = memory
        self.clock = clock
        self.filters = Filters()
        self.sort_key = "created"
        self.descending = True
        self.total = 0
        self.errors: list[ErrorRow] = []  # unreadable files without a catalog row
        self.bad: dict[str, str] = {}  # catalog rows whose file cannot be read
        self.marked: dict[str, None] = {}
        self._pages: dict[int, list[Row]] = {}
        self._loading: set[int] = set()
        self._generation = 0
        self._columns_cache: tuple[int, list[tuple[Column, int]]] = (-1, [])
        self._busy_timer: Timer | None = None
        self._styles: dict[str, Style] = {}  # looked up at each repaint
        self._now = 0.0

    # data ------------------------------------------------------------------------

    def load(self, filters: Filters | None = None, *, keep_cursor: bool = True) -> None:
        """(Re)read the count and the first page; later pages come on demand."""
        if filters is not None:
            self.filters = filters
        self._generation += 1
        total, pages, alive = self._read(self.current_index_page)  # no flicker at the cursor
        self._reloaded(
            self._generation, total, pages, alive, False, keep_cursor=keep_cursor, announce=False
        )

    def reload(
        self, filters: Filters | None = None, *, reset: bool = False, busy: str = ""
    ) -> None:
        """Re-read on a thread worker (a sort or filter over 100k rows can take a while);
        the rows on screen stay, and keep the keys, until the new ones are ready. `busy`
        says what is happening, in the border, if it takes long enough to notice."""
        if filters is not None:
            self.filters = filters
        self._generation += 1
        generation, page = self._generation, 0 if reset else self.current_index_page
        if self._busy_timer is not None:
            self._busy_timer.stop()
        if busy:
            self._busy_timer = self.set_timer(0.1, lambda: self._show_busy(busy, generation))
        self.run_worker(
            lambda: self._reload_in_thread(generation, page, reset),
            thread=True,
            group="reload",
            exclusive=True,
            exit_on_error=False,
        )

    def _read(self, page: int) -> tuple[int, dict[int, list[Row]], dict[str, Row]]:
        """The count, the first page and the one at `page`, and the marked episodes' rows
        (to drop marks on ones gone or archived): what a (re)load shows."""
        total = self.memory.count(self.filters)
        pages = {0: self._fetch(0)}
        if page and page * PAGE < total:
            pages[page] = self._fetch(page)
        alive = self.memory.rows(list(self.marked)) if self.marked else {}
        return total, pages, alive

    def _reload_in_thread(self, generation: int, page: int, reset: bool) -> None:
        total, pages, alive = self._read(page)
        self.app.call_from_thread(self._reloaded, generation, total, pages, alive, reset)

    def _show_busy(self, text: str, generation: int) -> None:
        if generation == self._generation:
            self.border_title = text

    def _reloaded(
        self,
        generation: int,
        total: int,
        pages: dict[int, list[Row]],
        alive: dict[str, Row],
        reset: bool,
        *,
        keep_cursor: bool = True,
        announce: bool = True,
    ) -> None:
        """Show what `_read` found, keeping the cursor on its episode unless `reset` (back
        to the top) or not `keep_cursor`; `announce` posts Reloaded."""
        if generation != self._generation:
            return
        if self._busy_timer is not None:
            self._busy_timer.stop()
        self.border_title = ""
        # A reset (a new sort or filter) still follows the episode if the first page has it.
        current = self.current_id if keep_cursor else None
        self.total = total
        self._pages = pages
        self._loading.clear()
        # marks stay on the rows still of the kind listed (live ones, or archived ones: `A`)
        self.marked = {
            i: None
            for i in self.marked
            if i in alive and alive[i].archived == self.filters.archived
        }
        self.virtual_size = Size(self.size.width, len(self) + 1)
        index = self._index_of(current) if current else None
        if reset and index is None:
            self.cursor = 0
            self.scroll_to(y=0, animate=False, immediate=True)
        else:
            self.cursor = min(index if index is not None else self.cursor, max(0, len(self) - 1))
        self.refresh()
        if announce:
            self.post_message(self.Reloaded())

    def _fetch(self, page: int) -> list[Row]:
        return self.memory.list(
            self.filters,
            limit=PAGE,
            offset=page * PAGE,
            sort=self.sort_key,
            descending=self.descending,
        )

    def _fetch_in_thread(self, generation: int, page: int) -> None:
        rows = self._fetch(page)
        self.app.call_from_thread(self._page_loaded, generation, page, rows)

    def _page_loaded(self, generation: int, page: int, rows: list[Row]) -> None:
        if generation != self._generation:
            return
        self._pages[page] = rows
        self._loading.discard(page)
        self.refresh()
        if self.current_index_page == page:
            self._announce()

    def _want(self, page: int) -> None:
        if page in self._pages or page in self._loading or page * PAGE >= self.total or page < 0:
            return
        self._loading.add(page)
        generation = self._generation
        self.run_worker(
            lambda: self._fetch_in_thread(generation, page),
            thread=True,
            group=f"page-{page}",
            exit_on_error=False,
        )

    def set_errors(self, corrupt: list[tuple[str, str]]) -> None:
        """Unreadable files, as (path, why), from the core's disk scan."""
        known = set(self.memory.ledger.catalog_many([_id_of(p) for p, _e in corrupt]))
        self.bad = {_id_of(p): self._short(e) for p, e in corrupt if _id_of(p) in known}
        self.errors = [
            ErrorRow(p, self._short(e), _id_of(p)) for p, e in corrupt if _id_of(p) not in known
        ]
        self.virtual_size = Size(self.size.width, len(self) + 1)
        self.refresh()

    def mark_bad(self, episode_id: str, error: str) -> None:
        self.bad[episode_id] = self._short(error)
        self.refresh()

    def _short(self, error: str) -> str:
        """Paths inside the data directory, shown relative to it."""
        return error.replace(f"{self.memory.root}/", "")

    def __len__(self) -> int:
        return len(self.errors) + self.total

    def entry(self, index: int) -> Row | ErrorRow | None:
        if index < 0 or index >= len(self):
            return None
        if index < len(self.errors):
            return self.errors[index]
        n = index - len(self.errors)
        page, offset = divmod(n, PAGE)
        rows = self._pages.get(page)
        if rows is None:
            self._want(page)
            return None
        if offset % PAGE > PAGE - 40:
            self._want(page + 1)
        elif offset < 40:
            self._want(page - 1)
        return rows[offset] if offset < len(rows) else None

    def _index_of(self, episode_id: str) -> int | None:
        for page, rows in self._pages.items():
            for n, row in enumerate(rows):
                if row.id == episode_id:
                    return len(self.errors) + page * PAGE + n
        return None

    def select(self, episode_id: str) -> bool:
        index = self._index_of(episode_id)
        if index is not None:
            self.cursor = index
        return index is not None

    @property
    def current_index_page(self) -> int:
        return max(0, self.cursor - len(self.errors)) // PAGE

    @property
    def current(self) -> Row | ErrorRow | None:
        return self.entry(self.cursor)

    @property
    def current_id(self) -> str | None:
        entry = self.current
        return entry.id if isinstance(entry, Row) else None

    def selected_ids(self) -> list[str]:
        """The marked episodes, or else the one under the cursor."""
        if self.marked:
            return list(self.marked)
        return [self.current_id] if self.current_id else []

    # cursor ------------------------------------------------------------------------

    @property
    def _visible_rows(self) -> int:
        return max(1, self.size.height - 1)

    def watch_cursor(self, old: int, new: int) -> None:
        top = round(self.scroll_y)
        if new < top:
            self.scroll_to(y=new, animate=False, immediate=True)
            self.refresh()
        elif new >= top + self._visible_rows:
            self.scroll_to(y=new - self._visible_rows + 1, animate=False, immediate=True)
            self.refresh()
        else:  # only the two lines that changed (line 0 is the header)
            self.refresh_line(old + 1)
            self.refresh_line(new + 1)
        self._announce()

    def _announce(self) -> None:
        entry = self.current
        if isinstance(entry, ErrorRow):
            self.post_message(EpisodeHighlighted(None, f"{entry.path}: {entry.error}"))
        elif isinstance(entry, Row):
            self.post_message(EpisodeHighlighted(entry.id, self.bad.get(entry.id)))
        elif not len(self):
            self.post_message(EpisodeHighlighted(None))

    def action_move(self, delta: int) -> None:
        if len(self):
            self.cursor = max(0, min(len(self) - 1, self.cursor + delta))

    def action_page(self, direction: int) -> None:
        self.action_move(direction * self._visible_rows)

    def action_jump(self, where: int) -> None:
        if len(self):
            self.cursor = 0 if where == 0 else len(self) - 1

    def action_choose(self) -> None:
        if self.current_id:
            self.post_message(EpisodeChosen(self.current_id))

    def action_mark(self) -> None:
        episode_id = self.current_id
        if episode_id:
            if episode_id in self.marked:
                del self.marked[episode_id]
            else:
                self.marked[episode_id] = None
            self.action_move(1)
            self.refresh()
            self.post_message(self.MarksChanged())

    def action_sort(self, key: str | None = None) -> None:
        """s: the next column shown at this width; a click on a column: that one, or the
        other way if it is the sort already."""
        if key is None:
            keys = [c.sort for c, _w in self._layout() if c.sort]
            order = [c.sort for c in WIDE if c.sort]
            at = order.index(self.sort_key)  # from a column hidden since: the next shown
            key = next((k for k in order[at + 1 :] + order if k in keys), self.sort_key)
            self.descending = key in ("utility", "retrievals", "helpful", "created")
        elif key == self.sort_key:
            self.descending = not self.descending
        self.sort_key = key
        self._show_sort()
        self.reload(reset=True, busy=f"sorting by {self._sort_label()}…")

    def action_reverse(self) -> None:
        self.action_sort(self.sort_key)

    def _sort_label(self) -> str:
        label = SORT_LABELS.get(self.sort_key, self.sort_key)
        return f"{label} {'▼' if self.descending else '▲'}"

    def _show_sort(self) -> None:
        """The sort in the border when its column is not shown at this width (S, a
        resize), or only as a mark with no title: the header's arrow says it otherwise."""
        shown = any(c.sort == self.sort_key and w > 1 for c, w in self._layout())
        self.border_subtitle = "" if shown else f"sorted by {self._sort_label()}"

    def on_click(self, event: events.Click) -> None:
        if event.y == 0:
            x = 0
            for col, width in self._layout():
                if x <= event.x < x + width + 1 and col.sort:
                    self.action_sort(col.sort)
                    return
                x += width + 1
            return
        index = round(self.scroll_y) + event.y - 1
        if 0 <= index < len(self):
            if index == self.cursor and event.chain == 2:
                self.action_choose()
            self.cursor = index

    def on_resize(self) -> None:
        self.virtual_size = Size(self.size.width, len(self) + 1)
        self._show_sort()

    # rendering -----------------------------------------------------------------------

    def _layout(self) -> list[tuple[Column, int]]:
        if self.size.width != self._columns_cache[0]:
            self._columns_cache = (self.size.width, layout(self.size.width))
        return self._columns_cache[1]

    def render_lines(self, crop: Region) -> list[Strip]:
        self._look_up_styles()
        return super().render_lines(crop)

    def _look_up_styles(self) -> dict[str, Style]:
        """Once per repaint, not once per line: each lookup walks the DOM."""
        component = self.get_component_rich_style
        self._styles = {
            "base": self.rich_style,
            "header": component("episode-table--header"),
            "cursor": component("episode-table--cursor"),
            "marked": component("episode-table--marked"),
            "error": component("episode-table--error"),
            "dim": component("episode-table--dim"),
        }
        self._now = self.clock()
        return self._styles

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        styles = self._styles or self._look_up_styles()
        base = styles["base"]
        if y == 0:
            return self._header(width)
        index = round(self.scroll_y) + y - 1
        if index >= len(self):
            return Strip.blank(width, base)
        entry = self.entry(index)
        style = base + styles["cursor"] if index == self.cursor else base
        if entry is None:
            return Strip([Segment("  …", style + styles["dim"])]).crop_extend(0, width, style)
        segments = cells(entry, self._layout(), self.marked, self.bad, self._now, styles["error"])
        if isinstance(entry, Row) and entry.id in self.marked:
            style += styles["marked"]
        return Strip(segments).apply_style(style).crop_extend(0, width, style)

    def _header(self, width: int) -> Strip:
        styles = self._styles or self._look_up_styles()
        style = styles["base"] + styles["header"]
        text = header(self._layout(), self.sort_key, self.descending)
        return Strip([Segment(text, style)]).crop_extend(0, width, style)


def _id_of(path: str) -> str:
    return path.rsplit("/", 1)[-1].removesuffix(".json")
