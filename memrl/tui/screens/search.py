"""Search as you type: the core's hybrid search, ranked exactly as Claude receives it."""

from __future__ import annotations

from textual import events, on, work
from textual.binding import Binding
from textual.containers import Container, Vertical
from textual.content import Content
from textual.geometry import Size
from textual.timer import Timer
from textual.widgets import DataTable, Header, Input, Static
from textual.worker import get_current_worker

from memrl.errors import MemrlError
from memrl.refs import named_episode
from memrl.tui.format import clip, plain
from memrl.tui.messages import StoreChanged
from memrl.tui.screens.base import EpisodeActions
from memrl.tui.widgets.detail import EpisodeDetail
from memrl.tui.widgets.footer import Footer
from memrl.views import SearchResult, pct

DEBOUNCE = 0.2
LIMIT = 10  # recalls the same candidates as the default limit, so the order is the same
LABELS = ("#", "id", "sim", "util", "score", "task")


class QueryInput(Input):
    """The query box: pasted lines are kept, joined by spaces (a traceback's last line is
    the one that names the error), where a one-line input keeps only the first."""

    def _on_paste(self, event: events.Paste) -> None:
        event.text = " ".join(event.text.split())  # Input's own handler, next, inserts it


class ResultsTable(DataTable):
    """The hits. + and - rate the one under the cursor: offered here, where they act, and
    not in the query box, where they are text (the screen's own keys are hidden)."""

    BINDINGS = [
        Binding("plus", "screen.rate(True)", "Helpful", key_display="+"),
        Binding("minus", "screen.rate(False)", "Unhelpful", key_display="-"),
    ]


class SearchScreen(EpisodeActions):
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("q", "back", "Back", show=False),  # a search is left, not the app (ctrl+q)
        Binding("slash", "focus_input", "Search", show=False),
        Binding("plus", "rate(True)", "Helpful", key_display="+", show=False),
        Binding("minus", "rate(False)", "Unhelpful", key_display="-", show=False),
    ]

    def __init__(self, query: str = "") -> None:
        super().__init__()
        self.initial = query
        self.result: SearchResult | None = None
        self.named: str | None = None  # the episode whose id the query is, shown alone
        self._timer: Timer | None = None
        self.searches = 0  # completed searches, for tests and benchmarks
        self._fitted = Size(0, 0)  # the table's size the titles were cut for

    def compose(self):
        yield Header()
        yield QueryInput(
            self.initial,
            placeholder="describe a task or paste an error — results update as you type",
            id="search-input",
            select_on_focus=False,  # focus comes back to refine the query, not to replace it
        )
        yield Static("", id="search-status")
        with Container(id="search-main"):
            yield ResultsTable(id="search-results", cursor_type="row", zebra_stripes=True)
            with Vertical(id="search-side"):
                why = Static("", id="search-why")
                why.display = False  # until a hit is explained
                yield why
                yield EpisodeDetail(self.app.memory, self.app.clock, id="search-detail")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "search"
        table = self.query_one(DataTable)
        table.add_columns(*LABELS)
        self.query_one(Input).focus()
        self.warm_up()
        if self.initial:
            self.run_search(self.initial)

    def selected_ids(self) -> list[str]:
        if self.named:
            return [self.named]
        table = self.query_one(DataTable)
        if not self.result or not self.result.hits or table.cursor_row is None:
            return []
        row = min(table.cursor_row, len(self.result.hits) - 1)
        return [self.result.hits[row].id]

    @work(thread=True, group="warm", exit_on_error=False)
    def warm_up(self) -> None:
        """Load the embedding model while the person types the first words."""
        try:
            self.app.memory.embedder.embed_query("warm up")
        except MemrlError:
            return
        self.app.call_from_thread(self.app.freeze_heap, "model")

    @on(Input.Changed, "#search-input")
    def _typed(self, event: Input.Changed) -> None:
        if self._timer is not None:
            self._timer.stop()
        query = event.value
        self._timer = self.set_timer(DEBOUNCE, lambda: self.run_search(query))

    @on(Input.Submitted, "#search-input")
    def _submitted(self) -> None:
        if self.named:
            from memrl.tui.screens.episode import EpisodeScreen

            self.app.push_screen(EpisodeScreen(self.named))
            return
        self.query_one(DataTable).focus()

    @on(StoreChanged)
    def _store_changed(self) -> None:
        query = self.query_one(Input).value
        if query.strip():
            self.run_search(query)

    @work(thread=True, exclusive=True, group="search", exit_on_error=False)
    def run_search(self, query: str) -> None:
        worker = get_current_worker()
        if not query.strip():
            self.app.call_from_thread(self._show, query, None, "")
            return
        if named := named_episode(self.app.memory, query):
            self.app.call_from_thread(self._show_named, query, named)
            return
        self.app.call_from_thread(self._status, f"searching for “{query.strip()}”…")
        try:
            result = self.app.memory.search(query, limit=LIMIT, log=False, with_episodes=True)
        except MemrlError as exc:
            if not worker.is_cancelled:
                self.app.call_from_thread(self._show, query, None, str(exc))
            return
        if not worker.is_cancelled:
            self.app.call_from_thread(self._show, query, result, "")

    def _status(self, text: str) -> None:
        self.query_one("#search-status", Static).update(Content(text))  # the query is no markup

    def _why(self, text: str) -> None:
        """The explanation above the detail pane; without one it takes no row, so the pane
        starts level with the results."""
        why = self.query_one("#search-why", Static)
        why.update(Content(text))
        why.display = bool(text)

    def _short(self, text: str) -> str:
        """Paths inside the data directory, shown relative to it."""
        return text.replace(f"{self.app.memory.root}/", "")

    def _show_named(self, query: str, episode_id: str) -> None:
        """A query that is an episode's id (pasted from the CLI, say): that episode."""
        if query != self.query_one(Input).value:
            return
        self.searches += 1
        self.result, self.named = None, episode_id
        self.query_one(DataTable).clear()
        self._status(f"“{query.strip()}” is the id of this episode · Enter opens it")
        self._why("")
        self.query_one(EpisodeDetail).show(episode_id)
        self.refresh_bindings()  # an archived one: a restores it

    def _show(self, query: str, result: SearchResult | None, error: str) -> None:
        if query != self.query_one(Input).value:
            return  # typed on since: a newer search is coming
        self.searches += 1
        self.named = None
        # the same query again (the store changed): the cursor stays on its episode
        again = result is not None and self.result is not None and result.query == self.result.query
        keep = self.selected_ids() if again else []
        self.result = result
        table = self.query_one(DataTable)
        if result is None:
            table.clear()
            self._status(error or "type to search")
            self._why("")
            self.query_one(EpisodeDetail).show(None)
            return
        if not again:
            table.move_cursor(row=0, animate=False)
        self._fill(keep[0] if keep else None)
        n = len(result.hits)
        warn = "".join(f"\n⚠ {self._short(w)}" for w in result.warnings)
        self._status(
            (
                f"{n} result{'s' if n != 1 else ''} for “{query.strip()}” · "
                f"{1 - result.utility_weight:.0%} relevance + {result.utility_weight:.0%} utility"
                if n
                else f"nothing similar to “{query.strip()}” yet"
            )
            + warn
        )
        self._highlight(table.cursor_row)
        self.refresh_bindings()
        self.call_after_refresh(self._refit)  # the status may have taken a line from it

    def _fill(self, episode_id: str | None = None) -> None:
        """The hits, each title cut to what the other columns leave of the table's width
        (the detail pane has the rest), so it never scrolls sideways; the cursor stays on
        `episode_id` if it is still found, else on the same row."""
        table = self.query_one(DataTable)
        cursor = table.cursor_row
        table.clear()
        if self.result is None:
            return
        rows = [
            (
                str(hit.rank),
                hit.row.short_id,
                pct(hit.similarity)  # marked as `memrl search` marks them
                + (" kw" if hit.keyword_match else "")
                + (" weak" if hit.weak else ""),
                pct(hit.row.learned.utility),
                f"{hit.score:.3f}",
            )
            for hit in self.result.hits
        ]
        pad = 2 * table.cell_padding
        fixed = sum(
            max([len(label), *(len(row[n]) for row in rows)]) + pad
            for n, label in enumerate(LABELS[:-1])
        )
        self._fitted = table.size
        width = table.size.width or self.size.width // 2
        if len(rows) + 1 > table.size.height:  # the rows outgrow it: a scrollbar takes room
            width -= table.styles.scrollbar_size_vertical
        task = max(12, width - fixed - pad)
        for hit, row in zip(self.result.hits, rows, strict=True):
            table.add_row(*row, plain(clip(hit.row.title, task)))
        ids = [hit.id for hit in self.result.hits]
        if episode_id in ids:
            cursor = ids.index(episode_id)
        if ids:
            table.move_cursor(row=min(cursor, len(ids) - 1), animate=False)

    def _refit(self) -> None:
        """Cut the titles again if the table's size changed since they were cut."""
        if self.query_one(DataTable).size != self._fitted:
            self._fill()

    def on_resize(self) -> None:
        self.call_after_refresh(self._refit)

    @on(DataTable.RowHighlighted, "#search-results")
    def _row(self, event: DataTable.RowHighlighted) -> None:
        self._highlight(event.cursor_row)

    def _highlight(self, row: int) -> None:
        if not self.result or not self.result.hits:  # nothing found: nothing to show
            self._why("")
            self.query_one(EpisodeDetail).show(None)
            return
        if row >= len(self.result.hits):
            return
        hit = self.result.hits[row]
        self._why(self.result.explain(hit))
        self.query_one(EpisodeDetail).show(hit.id)

    @on(DataTable.RowSelected, "#search-results")
    def _open_hit(self, event: DataTable.RowSelected) -> None:
        from memrl.tui.screens.episode import EpisodeScreen

        if self.result and event.cursor_row < len(self.result.hits):
            self.app.push_screen(EpisodeScreen(self.result.hits[event.cursor_row].id))

    def on_key(self, event: events.Key) -> None:
        """Between the query box and the results as in one list (down from the box, up
        from the first hit); and a character typed outside the box that is none of the
        screen's keys refines the query, where a person typing it meant it to go. The box
        takes every character sent to it: one that reaches here while it has the focus
        was sent to the results before the focus moved (set_focus moves it at once)."""
        query, table = self.query_one(Input), self.query_one(DataTable)
        if event.key == "down" and self.focused is query:
            self.set_focus(table)
        elif event.key == "up" and self.focused is table and table.cursor_row == 0:
            self.set_focus(query)
        elif event.is_printable and (
            self.focused is query or event.key not in self.active_bindings
        ):
            query.action_end()
            query.insert_text_at_cursor(event.character or "")
            self.set_focus(query)
        else:
            return
        event.stop()

    def type_ahead(self, text: str) -> None:
        """Text typed before this screen had the keys (see MemrlApp._on_key): after the query
        (or, not composed yet, the query it starts with)."""
        boxes = self.query(Input)
        if not boxes:
            self.initial += text
            return
        query = boxes.first()
        query.action_end()
        query.insert_text_at_cursor(text)
        if self.focused is not query:
            query.focus()  # the results had it: what is typed goes on in the box

    def action_focus_input(self) -> None:
        self.query_one(Input).focus()

    def action_back(self) -> None:
        self.app.pop_screen()
