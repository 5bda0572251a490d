"""Pilot tests: a person's flows through the TUI, checked against the store afterwards."""

from __future__ import annotations

import io
import json
import os
import shutil
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager, nullcontext
from pathlib import Path

import pytest
from rich.console import Console
from textual import events
from textual.pilot import Pilot
from textual.widgets import (
    DataTable,
    Input,
    Markdown,
    SelectionList,
    Static,
    TabbedContent,
    TextArea,
)

from memrl.memory import Memory
from memrl.store import Filters
from memrl.tui import commands
from memrl.tui.app import MemrlApp
from memrl.tui.scenes import settle
from memrl.tui.screens.browse import BrowseScreen
from memrl.tui.screens.confirm import ConfirmScreen
from memrl.tui.screens.edit import EditScreen
from memrl.tui.screens.episode import EpisodeScreen
from memrl.tui.screens.feedback import FeedbackScreen
from memrl.tui.screens.merge import MergeScreen
from memrl.tui.screens.prune import PruneScreen
from memrl.tui.screens.review import ReviewScreen
from memrl.tui.screens.search import SearchScreen
from memrl.tui.widgets.detail import EpisodeDetail
from memrl.tui.widgets.episode_table import EpisodeTable
from memrl.tui.widgets.table_columns import header
from memrl.views import pct
from tests.conftest import HashEmbedder, captured_at, episode

pytestmark = pytest.mark.anyio

NOW = 1_793_527_200.0  # 2026-11-01 08:00 UTC
SIZE = (120, 36)


def day(n: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(NOW - n * 86400, UTC).isoformat()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


TASKS = [
    ("Fix the flaky login test", "Waited for the session cookie instead of sleeping"),
    ("Speed up the CI", "Cached pip downloads keyed on the lockfile"),
    ("Stripe webhook retries", "Stored processed event ids so retries are skipped"),
    ("Stripe webhook duplicates", "Stored processed event ids so retries are ignored"),
    ("Dark mode", "Added a theme toggle stored in local storage"),
]


@pytest.fixture(scope="session")
def small_seed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Five episodes on the fast deterministic embedder, built once and copied per test."""
    root = tmp_path_factory.mktemp("small") / "store"
    m = Memory(root, embedder=HashEmbedder(), clock=lambda: NOW)
    for n, (task, summary) in enumerate(TASKS):
        m.capture(episode(task=task, summary=summary, created_at=day(n + 1)))
    m.close()
    return root


@pytest.fixture
def store(small_seed: Path, data_dir: Path) -> Memory:
    """The five episodes, newest first in the table ("Fix the flaky login test" on top)."""
    shutil.copytree(small_seed, data_dir)
    m = Memory(data_dir, embedder=HashEmbedder(), clock=lambda: NOW)
    yield m
    m.close()


async def keys(pilot: Pilot, *pressed: str) -> None:
    """Press these keys, then wait until the app has done what they asked."""
    await pilot.press(*pressed)
    await settle(pilot)


def app_for(memory: Memory, **kw) -> MemrlApp:
    kw.setdefault("poll_interval", 0)
    return MemrlApp(memory, **kw)


def table(app: MemrlApp) -> EpisodeTable:
    return app.screen.query_one(EpisodeTable)


@asynccontextmanager
async def on_first_episode(
    memory: Memory, *, editor: bool = False
) -> AsyncIterator[tuple[MemrlApp, Pilot, str]]:
    """The app browsing `memory`, settled: (app, pilot, the id of the episode under the
    cursor). With `editor`, E runs $EDITOR in place (the headless driver cannot suspend)."""
    app = app_for(memory)
    if editor:
        app.suspend = nullcontext  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        yield app, pilot, table(app).current_id


async def test_rate_helpful_and_unhelpful(store: Memory) -> None:
    app = app_for(store)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        first = table(app).current_id
        await keys(pilot, "plus")
        await keys(pilot, "down", "minus")
        second = table(app).current_id
    rows = store.rows([first, second])
    assert (rows[first].learned.helpful, rows[first].learned.unhelpful) == (1, 0)
    assert (rows[second].learned.helpful, rows[second].learned.unhelpful) == (0, 1)
    assert rows[first].learned.utility > rows[second].learned.utility


async def type_summary(pilot: Pilot, app: MemrlApp, text: str) -> None:
    """Open the form on the current episode and type its summary, not saved yet."""
    await keys(pilot, "e")
    app.screen.query_one("#f-summary", TextArea).text = text


async def save_summary(pilot: Pilot, app: MemrlApp, text: str) -> None:
    """Edit the current episode's summary in the form, as a person would, and save it."""
    await type_summary(pilot, app, text)
    await keys(pilot, "ctrl+s")


@pytest.fixture
def other(store: Memory, data_dir: Path) -> Iterator[Memory]:
    """The same store as another process has it open: its own Memory on the folder."""
    m = Memory(data_dir, embedder=HashEmbedder(), clock=lambda: NOW)
    yield m
    m.close()


async def search_for(pilot, text: str) -> SearchScreen:
    """Open search with `/`, type `text` a key at a time, wait for its results."""
    await settle(pilot)
    await pilot.press("slash")
    screen = pilot.app.screen
    assert isinstance(screen, SearchScreen)
    await pilot.press(*text)
    await pilot.pause(0.4)
    await settle(pilot)
    return screen


def notices(app: MemrlApp) -> list[str]:
    return [n.message for n in app._notifications]


async def test_rating_can_be_undone(store: Memory) -> None:
    target = store.list(limit=1)[0].id
    store.search(store.rows([target])[target].task, log=True, limit=1)  # used now: no decay
    before = store.rows([target])[target].learned
    app = app_for(store)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert table(app).current_id == target
        await keys(pilot, "plus")
        rated = store.rows([target])[target].learned
        assert rated.helpful == 1 and rated.utility > before.utility
        await pilot.press("minus")  # a second rating, undone first
        await settle(pilot)
        await keys(pilot, "u")
        assert store.rows([target])[target].learned.unhelpful == 0
        assert store.rows([target])[target].learned.q == pytest.approx(rated.q)
        await keys(pilot, "u")
        assert "undid the helpful rating" in notices(app)[-1]
        assert table(app).current.learned.helpful == 0  # the table shows it too
    after = store.rows([target])[target].learned
    assert (after.helpful, after.unhelpful, after.evidence) == (0, 0, before.evidence)
    assert after.q == pytest.approx(before.q)
    assert after.p == pytest.approx(before.p, abs=1e-12)
    assert after.utility == pytest.approx(before.utility)


def stale_store(data_dir: Path, count: int, task: str = "old work") -> tuple[Memory, list[str]]:
    """A store of `count` episodes captured 200 days ago or more and never used since: all of
    them prune candidates. Returns it with their ids, newest first."""
    m = Memory(data_dir, embedder=HashEmbedder(), clock=lambda: NOW)
    ids = [
        captured_at(m, NOW - (200 + n) * 86400, task=f"{task} {n}").episode.id for n in range(count)
    ]
    return m, ids


def slowed(monkeypatch, owner: object, name: str, seconds: float) -> None:
    """Make `owner.name` take `seconds` longer, as a change of thousands of episodes does."""
    import time

    real = getattr(owner, name)

    def slow(*args, **kw):
        time.sleep(seconds)
        return real(*args, **kw)

    monkeypatch.setattr(owner, name, slow)


async def test_undo_right_after_a_change_waits_for_it(store: Memory, monkeypatch) -> None:
    target = store.list(limit=1)[0].id
    slowed(monkeypatch, store.learning, "feedback", 0.3)
    app = app_for(store)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("plus", "u")  # u before the rating is saved
        await settle(pilot)
        assert "undid the helpful rating" in notices(app)[-1]
    assert store.rows([target])[target].learned.helpful == 0


def header_text(app: MemrlApp) -> str:
    from textual.widgets._header import HeaderTitle

    return str(app.screen.query_one(HeaderTitle).render())


async def test_a_slow_change_is_shown_under_way_and_an_undo_waits_in_sight(
    data_dir: Path, monkeypatch
) -> None:
    """A prune of thousands takes seconds, the screens showing the store as it was: the
    header says what is under way, and a u pressed meanwhile says it waits for it."""
    m, old = stale_store(data_dir, 3, "old")
    slowed(monkeypatch, m.curation, "prune", 3.0)  # long enough under a busy machine
    app = app_for(m)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await keys(pilot, "P")
        await pilot.press("enter", "y")
        await pilot.pause(0.5)
        assert isinstance(app.screen, BrowseScreen)
        assert header_text(app).startswith("memrl · pruning 3 episodes… — ")
        await pilot.press("u")
        await pilot.pause()
        assert notices(app)[-1] == "undo waits until pruning 3 episodes is done"
        assert header_text(app).startswith("memrl · pruning 3 episodes…, then undo — ")
        await settle(pilot)
        assert notices(app)[-2:] == [
            "pruned 3 episodes to the archive (u undoes)",
            "undid the prune of 3 episodes",
        ]
        assert header_text(app).startswith("memrl — ")
    assert not any(r.archived for r in m.rows(old).values())
    m.close()


async def test_an_undo_waiting_for_a_change_that_fails_undoes_nothing_else(
    store: Memory, monkeypatch
) -> None:
    import threading

    from memrl.errors import MemrlError

    pressed = threading.Event()

    def failing_archive(*args, **kw):
        pressed.wait(timeout=10)  # fails only once u is waiting for it, however slow the keys
        raise MemrlError("the disk is full")

    async with on_first_episode(store) as (app, pilot, target):
        await keys(pilot, "plus")
        monkeypatch.setattr(store, "archive", failing_archive)
        await pilot.press("down", "a", "y", "u")  # u for the archive, which fails
        pressed.set()
        await settle(pilot)
        assert notices(app)[-2:] == [
            "the disk is full",
            "nothing was undone: the change u waited for was not saved",
        ]
        assert len(app.undo_stack) == 1  # the rating, still there to undo
    assert store.rows([target])[target].learned.helpful == 1


async def test_undoing_a_rating_moved_since_shows_why_not(store: Memory) -> None:
    target = store.list(limit=1)[0].id
    app = app_for(store)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await keys(pilot, "plus")
        store.search(store.rows([target])[target].task, log=True, limit=1, session_id="s")
        store.capture(episode(task="Finished the login fix", session_id="s", created_at=day(0)))
        await keys(pilot, "u")
        assert "has had credit since its last rating" in notices(app)[-1]
        assert len(app.undo_stack) == 0
    assert store.rows([target])[target].learned.helpful == 1


async def test_archive_asks_first_and_undo_restores(store: Memory) -> None:
    async with on_first_episode(store) as (app, pilot, target):
        await keys(pilot, "a")
        assert isinstance(app.screen, ConfirmScreen)
        await keys(pilot, "n")
        assert store.count() == 5
        await keys(pilot, "a")
        await keys(pilot, "y")
        assert store.count() == 4
        assert store.rows([target])[target].archived
        assert table(app).total == 4
        await keys(pilot, "u")
        assert store.count() == 5
        assert not store.rows([target])[target].archived
        assert table(app).total == 5


async def test_archiving_one_archived_elsewhere_says_so_before_asking(
    store: Memory, other: Memory, data_dir: Path
) -> None:
    async with on_first_episode(store) as (app, pilot, target):
        other.archive([target])  # the list has not caught up yet
        await keys(pilot, "a")
        assert not isinstance(app.screen, ConfirmScreen)
        assert f"{target[:8]} is archived already" in notices(app)[-1]
        await keys(pilot, "down", "a")
        detail = str(app.screen.query_one("#confirm-detail", Static).render())
        assert "Archive 1 episode?" in str(app.screen.query_one("#confirm-question").render())
        assert "brings it back" in detail


async def test_pin_toggles_and_undoes(store: Memory) -> None:
    async with on_first_episode(store) as (_app, pilot, target):
        await keys(pilot, "p")
        assert store.rows([target])[target].pinned
        await keys(pilot, "u")
        assert not store.rows([target])[target].pinned


async def test_undoing_a_pin_restores_each_episodes_own_state(store: Memory) -> None:
    app = app_for(store)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("p")  # A is pinned before the batch
        await settle(pilot)
        await pilot.press("space", "space")  # mark A and B
        await settle(pilot)
        a, b = table(app).marked
        assert store.rows([a])[a].pinned and not store.rows([b])[b].pinned
        await keys(pilot, "p")
        assert all(r.pinned for r in store.rows([a, b]).values())
        await keys(pilot, "u")
        assert f"undid the pin of {b[:8]}" in notices(app)[-1]
    assert store.rows([a])[a].pinned
    assert not store.rows([b])[b].pinned


async def test_edit_validates_inline_then_saves_and_reindexes(store: Memory) -> None:
    async with on_first_episode(store) as (app, pilot, target):
        await keys(pilot, "e")
        screen = app.screen
        assert isinstance(screen, EditScreen)
        screen.query_one("#f-summary", TextArea).text = "   "
        await settle(pilot)
        error = screen.query_one("#err-summary", Static)
        assert "must not be empty" in str(error.render())
        await keys(pilot, "ctrl+s")
        assert app.screen is screen  # not saved while invalid
        screen.query_one("#f-summary", TextArea).text = "Polled for the cookie with a deadline"
        screen.query_one("#f-tags", Input).value = "auth, flaky"
        await settle(pilot)
        assert "-empty" in screen.query_one("#err-summary", Static).classes
        await keys(pilot, "ctrl+s")
        assert isinstance(app.screen, BrowseScreen)
        detail = app.screen.query_one(EpisodeDetail)
        assert detail.episode_id == target
    ep = store.get(target).episode
    assert ep.summary == "Polled for the cookie with a deadline"
    assert ep.tags == ["auth", "flaky"]
    assert store.index.hashes()[target] == ep.content_hash()  # saving re-indexed it
    hits = store.search("deadline cookie polled", log=False).hits
    assert hits and hits[0].id == target


async def test_rows_a_change_leaves_are_compacted_once_changes_pause(
    data_dir: Path, monkeypatch
) -> None:
    """In a table this large a single change is not compacted by the write itself."""
    monkeypatch.setattr("memrl.tui.app.COMPACT_AFTER", 1.0)
    store = Memory(data_dir, embedder=HashEmbedder(), clock=lambda: NOW)
    chores = [episode(task=f"Chore {n}", summary=f"Tidied module {n}") for n in range(60)]
    store.import_(json.dumps(chore) for chore in chores)
    store.capture(episode(task=TASKS[0][0], summary=TASKS[0][1]))
    index = store.index
    index.compact_waiting()
    async with on_first_episode(store) as (app, pilot, target):
        await save_summary(pilot, app, "Polled for the cookie")
        assert index._behind(index.table())[0] == 1  # the re-indexed row waits
        await pilot.pause(1.5)
        await settle(pilot)
        assert index._behind(index.table())[0] == 0
    assert store.search("cookie polled", log=False).hits[0].id == target
    store.close()


async def test_quitting_asks_before_losing_an_unsaved_edit(store: Memory) -> None:
    async with on_first_episode(store) as (app, pilot, target):
        app.push_screen(EditScreen(target))
        await settle(pilot)
        app.screen.query_one("#f-summary", TextArea).text = "half-typed thought"
        await keys(pilot, "ctrl+q")
        assert isinstance(app.screen, ConfirmScreen) and app.is_running  # asked, not gone
        await keys(pilot, "n")
        assert isinstance(app.screen, EditScreen)  # back in the form, the text still there
        assert app.screen.query_one("#f-summary", TextArea).text == "half-typed thought"
        await keys(pilot, "ctrl+q")
        await keys(pilot, "y")
        assert not app.is_running
    assert store.get(target).episode.summary != "half-typed thought"


async def test_edit_can_be_undone(store: Memory) -> None:
    async with on_first_episode(store) as (app, pilot, target):
        before = store.get(target).episode.summary
        app.push_screen(EditScreen(target))
        await settle(pilot)
        app.screen.query_one("#f-summary", TextArea).text = "something else entirely"
        await keys(pilot, "ctrl+s")
        assert store.get(target).episode.summary == "something else entirely"
        await keys(pilot, "u")
    assert store.get(target).episode.summary == before


async def test_edit_in_editor(store: Memory, tmp_path: Path, monkeypatch) -> None:
    script = tmp_path / "editor.py"
    script.write_text(
        "import json, sys\n"
        "p = sys.argv[1]\n"
        "d = json.load(open(p))\n"
        "d['outcome'] = 'partial'\n"
        "json.dump(d, open(p, 'w'))\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("EDITOR", f"{sys.executable} {script}")
    async with on_first_episode(store, editor=True) as (_app, pilot, target):
        await keys(pilot, "E")
    assert store.get(target).episode.outcome.value == "partial"


@pytest.mark.parametrize(
    ("mistake", "said"),
    [
        ('"outcome": "partial" BROKEN', ["press E to go on"]),  # a dropped comma: not JSON
        ('"outcome": "bogus"', ["outcome must be one of", "press E to go on"]),  # a bad value
    ],
    ids=["broken-json", "bad-value"],
)
async def test_an_edit_that_cannot_be_saved_is_kept_for_the_next_one(
    store: Memory, data_dir: Path, tmp_path: Path, monkeypatch, mistake: str, said: list[str]
) -> None:
    """The first edit makes the mistake; the second sees that text, mends it and saves."""
    script = tmp_path / "editor.py"
    script.write_text(
        "import sys\n"
        "p = sys.argv[1]\n"
        "t = open(p).read()\n"
        f"if {mistake!r} in t:\n"
        f'    t = t.replace({mistake!r}, \'"outcome": "partial"\')\n'
        "else:\n"
        f'    t = t.replace(\'"outcome": "success"\', {mistake!r})\n'
        "open(p, 'w').write(t)\n",
        encoding="utf-8",
    )
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.setenv("EDITOR", f"{sys.executable} {script}")
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    async with on_first_episode(store, editor=True) as (app, pilot, target):
        assert store.get(target).episode.outcome.value == "success"
        await keys(pilot, "E")
        assert store.get(target).episode.outcome.value == "success"  # nothing saved yet
        assert all(words in notices(app)[-1] for words in said)
        await keys(pilot, "E")
    assert store.get(target).episode.outcome.value == "partial"
    assert not list(tmp_path.glob("memrl-*.json")) and not list(data_dir.glob("unsaved/*"))


async def test_a_form_saved_over_a_change_made_elsewhere_asks_first(
    store: Memory, other: Memory, data_dir: Path
) -> None:
    """Another process changes the summary (and the tags) while the form is open: saving
    the form asks before writing over the summary, and keeps the tags either way."""
    async with on_first_episode(store) as (app, pilot, target):
        await type_summary(pilot, app, "mine")
        form = app.screen
        other.update(target, {"summary": "theirs", "tags": ["theirs"]})
        await keys(pilot, "ctrl+s")
        assert isinstance(app.screen, ConfirmScreen)
        asked = str(app.screen.query_one("#confirm-question", Static).render())
        assert "summary changed elsewhere" in asked
        assert "theirs" in str(app.screen.query_one("#confirm-detail", Static).render())
        await keys(pilot, "n")
        assert app.screen is form and form.query_one("#f-summary", TextArea).text == "mine"
        assert notices(app)[-1] == "nothing was saved; your text is still here"
        assert store.get(target).episode.summary == "theirs"
        await keys(pilot, "ctrl+s")
        await keys(pilot, "y")
        assert isinstance(app.screen, BrowseScreen)
    ep = store.get(target).episode
    assert (ep.summary, ep.tags) == ("mine", ["theirs"])


async def test_undoing_an_edit_never_reverts_a_later_change_made_elsewhere(
    store: Memory, other: Memory, data_dir: Path
) -> None:
    async with on_first_episode(store) as (app, pilot, target):
        await save_summary(pilot, app, "mine")
        other.update(target, {"summary": "theirs, later"})
        await keys(pilot, "u")
        assert "cannot undo the edit" in notices(app)[-1]
        assert "summary changed elsewhere" in notices(app)[-1]
    assert store.get(target).episode.summary == "theirs, later"


def use_editor(monkeypatch, tmp_path: Path, program: str) -> None:
    """$EDITOR is this Python program (the file to edit is its argument)."""
    script = tmp_path / "editor.py"
    script.write_text(program, encoding="utf-8")
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.setenv("EDITOR", f"{sys.executable} {script}")


BREAKS_THEN_MENDS = (  # the first run leaves broken JSON, the next mends it
    "import json, sys\n"
    "p = sys.argv[1]\n"
    "t = open(p).read()\n"
    "if 'BROKEN' in t:\n"
    "    t = t.replace('BROKEN', '')\n"
    "else:\n"
    "    d = json.loads(t)\n"
    "    d['summary'] = 'edited in the editor'\n"
    "    t = json.dumps(d) + 'BROKEN'\n"
    "open(p, 'w').write(t)\n"
)


async def test_an_edit_kept_unsaved_goes_on_from_its_own_version(
    store: Memory, other: Memory, data_dir: Path, tmp_path: Path, monkeypatch
) -> None:
    """E fails; another process then changes the outcome; E again saves the person's
    summary and leaves that outcome alone."""
    use_editor(monkeypatch, tmp_path, BREAKS_THEN_MENDS)
    async with on_first_episode(store, editor=True) as (app, pilot, target):
        await keys(pilot, "E")
        assert "press E to go on" in notices(app)[-1]
        other.update(target, {"outcome": "failure", "tags": ["theirs"]})
        await keys(pilot, "E")
    ep = store.get(target).episode
    assert (ep.summary, ep.outcome.value, ep.tags) == (
        "edited in the editor",
        "failure",
        ["theirs"],
    )


async def test_an_edit_kept_unsaved_is_given_up_by_emptying_it_in_the_editor(
    store: Memory, data_dir: Path, tmp_path: Path, monkeypatch
) -> None:
    """E leaves broken JSON, kept; the message says how to give it up, and emptying the
    text in the editor does: the episode is unchanged, and the next E starts afresh."""
    from memrl.editing import unsaved

    use_editor(monkeypatch, tmp_path, BREAKS_THEN_MENDS)
    async with on_first_episode(store, editor=True) as (app, pilot, target):
        before = store.get(target).episode.summary
        await keys(pilot, "E")
        assert "empty it there to discard it" in notices(app)[-1]
        use_editor(monkeypatch, tmp_path, "import sys\nopen(sys.argv[1], 'w').write('')\n")
        await keys(pilot, "E")
        said = notices(app)[-1]
        assert "is unchanged" in said and "kept from before is discarded" in said
        assert unsaved(data_dir, target) is None
        use_editor(monkeypatch, tmp_path, BREAKS_THEN_MENDS)
        await keys(pilot, "E")  # from the stored episode again: breaks it anew, not mends
        assert "not saved" in notices(app)[-1]
    assert store.get(target).episode.summary == before


async def test_the_form_says_an_editor_text_is_kept_and_saving_the_form_discards_it(
    store: Memory, data_dir: Path, tmp_path: Path, monkeypatch
) -> None:
    """E leaves a text kept; e then says so, and its save (made later, from the stored
    episode) takes that older text away, so a later E cannot offer to write it back."""
    from memrl.editing import unsaved

    use_editor(monkeypatch, tmp_path, BREAKS_THEN_MENDS)
    async with on_first_episode(store, editor=True) as (app, pilot, target):
        await keys(pilot, "E")
        assert unsaved(data_dir, target) is not None
        await keys(pilot, "e")
        status = str(app.screen.query_one("#edit-status", Static).render())
        assert "not saved is still kept (E goes on with it)" in status
        assert "saving this form discards that text" in status
        assert app.screen.query_one("#edit-status").size.height == 2  # both lines in sight
        await pilot.press("escape")  # leaving the form unsaved keeps it
        await settle(pilot)
        assert unsaved(data_dir, target) is not None
        await save_summary(pilot, app, "saved in the form")
        assert isinstance(app.screen, BrowseScreen)
        assert unsaved(data_dir, target) is None
        await keys(pilot, "e")
        assert "kept" not in str(app.screen.query_one("#edit-status", Static).render())
    assert store.get(target).episode.summary == "saved in the form"


async def test_an_edit_kept_unsaved_is_private_and_never_in_a_shared_folder(
    store: Memory, data_dir: Path, tmp_path: Path, monkeypatch
) -> None:
    """A link planted where an older memrl kept unsaved edits (the shared temp folder) is
    neither read nor written through; the edit waits under the data directory, 0600."""
    use_editor(monkeypatch, tmp_path, BREAKS_THEN_MENDS)
    shared = tmp_path / "shared"
    shared.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(shared))
    victim = tmp_path / "victim.txt"
    victim.write_text("VICTIM\n", encoding="utf-8")
    target = store.list(limit=1)[0].id
    (shared / f"memrl-{target[:8]}-unsaved.json").symlink_to(victim)
    async with on_first_episode(store, editor=True) as (_app, pilot, _):
        await keys(pilot, "E")
        kept = data_dir / "unsaved" / f"{target}.json"
        assert kept.stat().st_mode & 0o777 == 0o600
        assert "edited in the editor" in kept.read_text(encoding="utf-8")
        await keys(pilot, "E")
        assert not kept.exists()
    assert victim.read_text(encoding="utf-8") == "VICTIM\n"
    assert store.get(target).episode.summary == "edited in the editor"


async def test_an_edit_that_cannot_be_kept_says_so_and_the_app_carries_on(
    store: Memory, tmp_path: Path, monkeypatch
) -> None:
    """A store that cannot be written (read-only, full): E's broken text cannot be kept
    for later, and the person is told so, not thrown out of the app."""
    from memrl.errors import StoreError

    use_editor(monkeypatch, tmp_path, BREAKS_THEN_MENDS)

    def read_only(*_args):
        raise StoreError("cannot write /store/unsaved: read-only file system")

    monkeypatch.setattr("memrl.tui.editor.keep_unsaved", read_only)
    async with on_first_episode(store, editor=True) as (app, pilot, _):
        await keys(pilot, "E")
        assert any("Your text could not be kept: cannot write" in n for n in notices(app))
        assert app.is_running


def shown(detail: EpisodeDetail) -> str:
    """The pane's text as the person sees it, line by line."""
    return "\n".join(strip.text.rstrip() for strip in detail._lines)


async def test_the_detail_pane_shows_the_episodes_text_exactly_as_stored(store: Memory) -> None:
    store.capture(
        episode(
            task="Refactor __init__.py exports",
            summary="Moved __all__ into __init__.py; kept *args and **kwargs; see <details>.\n"
            "# heading?\n[bold]x[/bold] <b>y</b>\nrenamed \u202eexe.txt",
            errors_resolved=[{"error": "KeyError `name`", "resolution": "use dict.get"}],
            created_at=day(0),
        )
    )
    app = app_for(store)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.pause(0.2)
        text = shown(app.screen.query_one(EpisodeDetail))
    for stored in ("__init__.py", "__all__", "*args", "**kwargs;", "<details>.", "<b>y</b>"):
        assert stored in text
    assert "\n# heading?\n[bold]x[/bold]" in text
    assert "KeyError `name` → use dict.get" in text
    assert "renamed [U+202E]exe.txt" in text  # a direction control shown, not obeyed


async def test_tab_reaches_the_detail_pane_and_marks_are_counted(store: Memory) -> None:
    app = app_for(store)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("tab")
        assert app.focused is app.screen.query_one(EpisodeDetail)
        await pilot.press("tab")
        assert app.focused.id == "filter-project"
        await pilot.press("shift+tab", "shift+tab")
        assert app.focused is table(app)
        await keys(pilot, "space", "space")
        assert "2 marked (m merges)" in app.screen.sub_title


async def test_merge_marked_episodes(store: Memory) -> None:
    app = app_for(store)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        t = table(app)
        t.cursor = 1  # "Stripe webhook duplicates" (newest first)
        await pilot.press("space", "space")
        ids = list(t.marked)
        assert len(ids) == 2
        await keys(pilot, "m")
        screen = app.screen
        assert isinstance(screen, MergeScreen)
        plan = store.curation.merge_plan(ids)
        assert screen.query_one(TextArea).text == plan.episode.summary
        screen.query_one(TextArea).text = "Stored processed Stripe event ids; repeats are skipped."
        await keys(pilot, "ctrl+s")
        assert isinstance(app.screen, ConfirmScreen)
        await keys(pilot, "y")
        assert isinstance(app.screen, BrowseScreen)
    assert all(r.archived for r in store.rows(ids).values())
    merged = [r for r in store.list(limit=None) if r.summary.startswith("Stored processed Stripe")]
    assert len(merged) == 1
    assert sorted(store.get(merged[0].id).episode.merged_from) == sorted(ids)


async def test_prune_deselect_and_confirm(data_dir: Path) -> None:
    m, old = stale_store(data_dir, 3)
    m.capture(episode(task="recent work", created_at=day(1)))
    app = app_for(m)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await keys(pilot, "P")
        screen = app.screen
        assert isinstance(screen, PruneScreen)
        assert {c.row.id for c in screen.candidates} == set(old)
        kept = screen.candidates[0].row.id
        await pilot.press("space")  # deselect the first
        await keys(pilot, "enter")
        asked = str(app.screen.query_one("#confirm-detail").render())
        listed = [c.row for c in screen.candidates if c.row.id != kept]
        assert all(f"{r.short_id}  {r.title}" in asked for r in listed)  # what is archived
        assert kept[:8] not in asked
        await keys(pilot, "y")
    rows = m.rows(old)
    assert not rows[kept].archived
    assert sum(r.archived for r in rows.values()) == 2
    assert m.count() == 2
    m.close()


async def test_the_prune_list_is_not_rebuilt_when_a_change_leaves_it_as_it_was(
    data_dir: Path,
) -> None:
    """Every write anywhere re-reads the plan; rebuilding thousands of rows each time froze
    the keys for seconds. A plan that is the same leaves the list alone."""
    m, _old = stale_store(data_dir, 3)
    app = app_for(m)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await keys(pilot, "P")
        selections = app.screen.query_one(SelectionList)
        await pilot.press("down", "space")
        first = selections.get_option_at_index(0)
        m.capture(episode(task="recent work", created_at=day(1)))  # not a candidate
        app.refresh_screens()
        await settle(pilot)
        assert selections.get_option_at_index(0) is first
        assert selections.highlighted == 1 and len(selections.selected) == 2
    m.close()


async def test_review_keeps_look_alikes_apart_and_undo_steps_back(data_dir: Path) -> None:
    m = Memory(data_dir, embedder=HashEmbedder(), clock=lambda: NOW)
    twins = [
        m.capture(episode(task="Rotate the TLS certs", summary="Renewed via certbot")).episode.id
        for _ in range(2)
    ]
    app = app_for(m)
    async with app.run_test(size=SIZE) as pilot:
        screen = await reviewing(pilot, app, "r")
        assert sorted(r.id for r in screen.current.rows) == sorted(twins)
        await keys(pilot, "k")
        assert m.curation.review().clusters == []  # remembered, not just skipped
        await keys(pilot, "u")
        assert screen.position == 0 and screen.current is not None  # the finding is back
        assert [sorted(c.ids) for c in m.curation.review().clusters] == [sorted(twins)]
    m.close()


async def test_archiving_many_says_first_how_to_undo_and_counts_what_it_does_not_name(
    data_dir: Path,
) -> None:
    m, _old = stale_store(data_dir, 15)
    app = app_for(m)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await keys(pilot, "P")
        await keys(pilot, "enter")
        question = str(app.screen.query_one("#confirm-question", Static).render())
        asked = str(app.screen.query_one("#confirm-detail", Static).render())
        assert question == "Archive 15 episodes?"
        assert asked.startswith("Archived episodes leave search; u or `memrl restore` brings")
        assert asked.count("old work") == 12 and asked.endswith("… and 3 more episodes")
        await keys(pilot, "n")
    assert m.count() == 15
    m.close()


async def test_undo_on_the_prune_screen_puts_the_candidates_back(data_dir: Path) -> None:
    m, stale = stale_store(data_dir, 3, "old")
    old = set(stale)
    app = app_for(m)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await keys(pilot, "P")
        await pilot.press("space", "enter")  # archive two of the three
        await settle(pilot)
        await keys(pilot, "y")
        await keys(pilot, "P")
        screen = app.screen
        assert isinstance(screen, PruneScreen) and len(screen.candidates) == 1
        await keys(pilot, "u")
        await settle(pilot)
        assert {c.row.id for c in screen.candidates} == old  # listed again, at once
        assert len(screen.query_one(SelectionList).selected) == 3
    m.close()


async def test_feedback_session(store: Memory) -> None:
    for query in ("stripe webhook", "flaky login test", "dark mode theme"):
        store.search(query, log=True, limit=3)
    queue = store.learning.unrated()
    assert len(queue) >= 4
    app = app_for(store)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await keys(pilot, "f")
        screen = app.screen
        assert isinstance(screen, FeedbackScreen)
        progress = screen.query_one("#session-progress", Static)
        assert f"1 of {len(queue)}" in str(progress.render())
        assert f"“{queue[0][1]}”" in str(screen.query_one("#session-query", Static).render())
        await pilot.press("y")
        await keys(pilot, "n")
        assert f"{len(queue) - 2} remain" in str(progress.render())
        await pilot.press("s", "u")  # u steps back over the skip, not over an older rating
        await settle(pilot)
        assert f"3 of {len(queue)} · {len(queue) - 2} remain · 2 rated · 0 skipped" in str(
            progress.render()
        )
        for _ in queue[2:]:
            await pilot.press("s")
        await settle(pilot)
        assert screen.query_one("#session-done").display
        done = screen.query_one("#session-done", Markdown).source
        assert f"2 rated, {len(queue) - 2} skipped" in done and "come back next time" in done
        await pilot.press("u", "u")  # the last skip, then... the skips before it, one by one
        await settle(pilot)
        assert f"{len(queue) - 1} of {len(queue)}" in str(progress.render())
    rows = store.rows([q[0] for q in queue])
    assert rows[queue[0][0]].learned.helpful == 1
    assert rows[queue[1][0]].learned.unhelpful == 1
    assert all(
        r.learned.helpful + r.learned.unhelpful == 0 for r in [rows[q[0]] for q in queue[2:]]
    )


async def test_feedback_session_undo_steps_back(store: Memory) -> None:
    store.search("stripe webhook", log=True, limit=3)
    queue = store.learning.unrated()
    app = app_for(store)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await keys(pilot, "f")
        screen = app.screen
        progress = screen.query_one("#session-progress", Static)
        await keys(pilot, "y")
        assert f"2 of {len(queue)}" in str(progress.render())
        await keys(pilot, "u")
        assert f"1 of {len(queue)}" in str(progress.render())
        assert screen.query_one(EpisodeDetail).episode_id == queue[0][0]
        assert store.rows([queue[0][0]])[queue[0][0]].learned.helpful == 0
        await keys(pilot, "n")
    assert store.rows([queue[0][0]])[queue[0][0]].learned.unhelpful == 1


async def test_feedback_card_shows_the_utility_an_undo_puts_back(store: Memory) -> None:
    store.search("stripe webhook", log=True, limit=3)
    first = store.learning.unrated()[0][0]
    before = pct(store.rows([first])[first].learned.utility)
    app = app_for(store)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await keys(pilot, "f")
        await keys(pilot, "n")
        await keys(pilot, "u")
        detail = app.screen.query_one(EpisodeDetail)
        assert detail.episode_id == first
        assert f"utility {before} ·" in shown(detail)


async def test_filters_by_project(store: Memory) -> None:
    store.capture(episode(task="Billing export", project="acme/billing", created_at=day(0.5)))
    app = app_for(store)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert table(app).total == 6
        from textual.widgets import Select

        app.screen.query_one("#filter-project", Select).value = "acme/billing"
        await settle(pilot)
        assert table(app).total == 1
        assert "1 of 6" in app.screen.sub_title


async def test_an_episode_keeps_a_project(store: Memory) -> None:
    """The form will not clear a project (capture always names one); one cleared by the
    CLI gets no entry in the project filter, where it would filter nothing."""
    from textual.widgets import Select

    nameless = store.list(limit=None)[-1].id
    store.update(nameless, {"project": ""})
    app = app_for(store)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        choices = app.screen.query_one("#filter-project", Select)._options
        assert [str(label) for label, _value in choices[1:]] == ["acme/app (4)"]
        target = table(app).current_id
        await keys(pilot, "e")
        form = app.screen
        form.query_one("#f-project", Input).value = " "
        await keys(pilot, "ctrl+s")
        assert app.screen is form
        assert "give the project" in str(form.query_one("#err-project", Static).render())
    assert store.get(target).episode.project == "acme/app"


@pytest.mark.slow
async def test_search_as_you_type_ranks_like_the_cli(memory: Memory) -> None:
    from tests.test_search import STORE

    for e in STORE:
        memory.capture(e)
    query = "redirect after login"
    expected = [h.id for h in memory.search(query, log=False).hits]
    app = app_for(memory)
    async with app.run_test(size=SIZE) as pilot:
        screen = await search_for(pilot, query)
        assert screen.result is not None and screen.result.query == query
        got = [h.id for h in screen.result.hits]
        assert got[: len(expected)] == expected
        assert screen.searches < len(query)  # debounced: not one search per key
        table = screen.query_one("#search-results", DataTable)
        marks = [str(table.get_row_at(n)[2]).split(" ", 1)[1:] for n in range(table.row_count)]
        hits = screen.result.hits  # marked as the CLI marks them: kw, weak
        assert marks == [
            [" ".join(["kw"] * (h.keyword > 0.5) + ["weak"] * h.weak)]
            if h.keyword > 0.5 or h.weak
            else []
            for h in hits
        ]
        assert any(marks)  # some are marked, so the comparison above says something
        detail = screen.query_one(EpisodeDetail)
        assert detail.episode_id == expected[0]
        await pilot.press("ctrl+u", *"xqzvw")  # a query that finds nothing
        await pilot.pause(0.4)
        await settle(pilot)
        assert screen.result is not None and not screen.result.hits
        assert detail.episode_id is None and detail.content is None  # no stale hit beside it
    assert memory.ledger.conn.execute("SELECT COUNT(*) FROM retrievals").fetchone()[0] == 0


async def test_a_traceback_pasted_into_search_is_searched_whole(memory: Memory) -> None:
    from textual import events
    from textual.widgets import Input

    from tests.test_search import STORE

    for e in STORE:
        memory.capture(e)
    pasted = 'Traceback (most recent call last):\n  File "app.py", line 3\nOpen redirect\n'
    app = app_for(memory)
    async with app.run_test(size=SIZE) as pilot:
        screen = await search_for(pilot, "")
        screen.query_one(Input).post_message(events.Paste(pasted))
        await pilot.pause(0.4)
        await settle(pilot)
        query = 'Traceback (most recent call last): File "app.py", line 3 Open redirect'
        assert screen.query_one(Input).value == query
        assert screen.result is not None and screen.result.query == query
        assert screen.result.hits and "redirect" in screen.result.hits[0].row.title.lower()


async def test_an_id_pasted_into_search_shows_that_episode(store: Memory) -> None:
    from memrl.tui.screens.episode import EpisodeScreen

    target = store.list(limit=3)[2]
    app = app_for(store)
    async with app.run_test(size=SIZE) as pilot:
        screen = await search_for(pilot, target.short_id)
        assert screen.query_one(EpisodeDetail).episode_id == target.id
        assert "is the id of this episode" in str(screen.query_one("#search-status").render())
        assert screen.selected_ids() == [target.id]  # r, p, a act on it
        await keys(pilot, "enter")
        assert isinstance(app.screen, EpisodeScreen) and app.screen.episode_id == target.id
        await keys(pilot, "escape")
        await pilot.press("ctrl+u", *"cafe")  # a word of hex letters is searched as text
        await pilot.pause(0.4)
        await settle(pilot)
        assert screen.named is None and screen.result is not None


async def test_a_slow_sort_says_so_and_keeps_the_keys(store: Memory, monkeypatch) -> None:
    import threading

    real = store.list
    release = threading.Event()

    def slow_list(*args, **kw):
        if kw.get("sort") == "project":
            release.wait(5)  # sorting 100k episodes by decayed utility takes ~0.5 s
        return real(*args, **kw)

    monkeypatch.setattr(store, "list", slow_list)
    app = app_for(store)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        t = table(app)
        await pilot.press("s")
        await pilot.pause(0.3)
        assert t.border_title == "sorting by project ▲…"
        await pilot.press("down", "down")
        await pilot.pause()
        assert t.cursor == 2  # the old rows still move while the new order is read
        chosen = t.current_id
        release.set()
        await settle(pilot)
        assert t.border_title == ""
        assert t.current_id == chosen and t.sort_key == "project"  # where the new order put it
        assert [t.entry(i).project for i in range(len(t))] == sorted(
            r.project for r in real(limit=None)
        )


async def test_live_refresh_when_another_process_writes(
    store: Memory, other: Memory, data_dir: Path
) -> None:
    app = app_for(store, poll_interval=0.2)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert table(app).total == 5
        new = other.capture(episode(task="Captured by an MCP server", created_at=day(0.1)))
        for _ in range(20):
            await pilot.pause(0.1)
            if table(app).total == 6:
                break
        assert table(app).total == 6
        assert table(app).entry(0).id == new.episode.id
        other.learning.feedback([new.episode.id], True)
        await pilot.pause(0.6)
        assert table(app).entry(0).learned.helpful == 1


async def test_corrupt_file_is_an_error_row(store: Memory, data_dir: Path) -> None:
    victim = store.list(limit=1)[0].id
    path = next(data_dir.glob(f"episodes/*/{victim}.json"))
    path.write_text("{ not json", encoding="utf-8")
    stray = data_dir / "episodes" / "2026-10-01" / ("ab" * 16 + ".json")
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_text("[]", encoding="utf-8")
    app = app_for(store)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        t = table(app)
        assert victim in t.bad
        assert [e.episode_id for e in t.errors] == ["ab" * 16]
        assert len(t) == 6
        t.cursor = 0
        await settle(pilot)
        detail = app.screen.query_one(EpisodeDetail)
        assert detail.problem and "ab" * 16 in detail.problem
        t.cursor = t._index_of(victim)
        await settle(pilot)
        assert detail.problem and "JSON" in detail.problem
        banner = app.screen.query_one("#banner", Static)
        assert banner.display and "cannot be read" in str(banner.render())


async def test_unreadable_files_show_at_first_paint(
    store: Memory, data_dir: Path, monkeypatch
) -> None:
    """The ledger remembers unreadable files: no disk scan stands before the error rows."""
    import threading

    from memrl import maintenance

    stray = data_dir / "episodes" / "2026-10-01" / ("cd" * 16 + ".json")
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_text("{ not json", encoding="utf-8")
    maintenance.status(store)  # what `memrl status` leaves in the ledger
    scanned = threading.Event()
    release = threading.Event()
    real = maintenance.status

    def slow_status(memory):
        scanned.set()
        release.wait(5)
        return real(memory)

    monkeypatch.setattr(maintenance, "status", slow_status)
    app = app_for(store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert [e.episode_id for e in table(app).errors] == ["cd" * 16]
        banner = app.screen.query_one("#banner", Static)
        assert banner.display and "1 episode file cannot be read" in str(banner.render())
        release.set()
        await settle(pilot)
        assert scanned.is_set()
        assert [e.episode_id for e in table(app).errors] == ["cd" * 16]


async def test_episode_deleted_by_another_process(store: Memory, data_dir: Path) -> None:
    target = store.list(limit=1)[0].id
    app = app_for(store)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await keys(pilot, "enter")
        assert isinstance(app.screen, EpisodeScreen)
        next(data_dir.glob(f"episodes/*/{target}.json")).unlink()
        app.refresh_screens()
        await settle(pilot)
        assert app.screen.gone
        assert "gone" in (app.screen.query_one(EpisodeDetail).problem or "")
        await pilot.press("plus")  # nothing to rate: a notice, not a crash
        await keys(pilot, "escape")
        assert isinstance(app.screen, BrowseScreen)


async def test_archived_by_another_process_while_open(
    store: Memory, other: Memory, data_dir: Path
) -> None:
    target = store.list(limit=1)[0].id
    app = app_for(store, poll_interval=0.2)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await keys(pilot, "enter")
        other.archive([target])
        await pilot.pause(0.6)
        await settle(pilot)
        assert "archived" in str(app.screen.query_one("#episode-title", Static).render())
        await pilot.press("e")  # an archived episode is restored before it is edited
        await settle(pilot)
        assert not isinstance(app.screen, EditScreen)
        assert any("is archived" in str(n.message) for n in app._notifications)
        await keys(pilot, "escape")
        assert table(app).total == 4


async def test_missing_index_is_announced_and_rebuilt(store: Memory, data_dir: Path) -> None:
    shutil.rmtree(data_dir / "vectors")
    store._index = None
    app = app_for(store)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        banner = app.screen.query_one("#banner", Static)
        assert banner.display and "memrl index" in str(banner.render())
        await keys(pilot, "I")
        await settle(pilot)
        assert "done: 5 episodes embedded" in str(app.screen.query_one("#rebuild-result").render())
        await keys(pilot, "enter")
        assert not app.screen.query_one("#banner").display
    assert store.index.health().problem is None


async def test_command_palette_runs_actions(store: Memory) -> None:
    app = app_for(store)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert {"Search episodes", "Merge marked", "Mark helpful", "Prune", "Undo"} <= titles
        await pilot.press("ctrl+p")
        await pilot.press(*"Overview")
        await pilot.pause(0.5)
        await keys(pilot, "enter")
        from memrl.tui.screens.overview import OverviewScreen

        assert isinstance(app.screen, OverviewScreen)


async def test_each_key_and_its_palette_entry_share_a_name(store: Memory) -> None:
    """What the keys list calls an action, typed into the palette, finds it."""
    app = app_for(store)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        named = {b.action: b.description for _n, b, _e, _t in app.screen.active_bindings.values()}
        for title, _help, action in commands.entries(app.screen):
            key = action.removeprefix("app.")
            if key in named:
                assert named[key].lower() in title.lower(), (named[key], title)


async def test_curve_and_graph_open_from_browse_and_search(store: Memory) -> None:
    async with on_first_episode(store) as (app, pilot, target):
        await keys(pilot, "c")
        assert isinstance(app.screen, EpisodeScreen) and app.screen.episode_id == target
        depth = len(app.screen_stack)
        await pilot.press("g", "c", "g")  # tabs of the same episode, not screens on screens
        await settle(pilot)
        assert len(app.screen_stack) == depth
        assert app.screen.query_one(TabbedContent).active == "graph"
        await keys(pilot, "3")
        await keys(pilot, "escape")
        assert not isinstance(app.screen, EpisodeScreen)  # one escape back to the list
        await pilot.press("slash", *"stripe", "down")
        await pilot.pause(0.4)
        await settle(pilot)
        assert isinstance(app.screen, SearchScreen) and app.screen.result
        hit = app.screen.result.hits[0].id
        await keys(pilot, "g")
        assert isinstance(app.screen, EpisodeScreen) and app.screen.episode_id == hit
        await keys(pilot, "escape", "enter")
        assert isinstance(app.screen, EpisodeScreen) and app.screen.episode_id == hit


@pytest.mark.parametrize("size", [(120, 36), (80, 24)], ids=["120x36", "80x24"])
async def test_the_keys_list_holds_every_key_and_scrolls_by_keyboard(
    store: Memory, size: tuple[int, int]
) -> None:
    from textual.containers import VerticalScroll

    from memrl.tui.screens.keys import KeysScreen

    app = app_for(store)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        browse = app.screen
        wanted = {b.description for _n, b, _e, _t in browse.active_bindings.values()}
        await keys(pilot, "question_mark")
        assert isinstance(app.screen, KeysScreen)
        out = Console(width=200, file=io.StringIO())
        out.print(app.screen.table)
        listed = out.file.getvalue()
        sideways = {"Scroll Left", "Scroll Right", "Page Left", "Page Right"}  # the list: never
        assert all(d in listed for d in wanted - sideways if d)
        assert {"Quit", "Undo", "Prune", "Update the search index", "Sort", "Mark"} <= wanted
        assert "Next pane" in listed and "Previous pane" in listed  # tab, shift+tab
        assert not any(d in listed for d in [*sideways, "Focus Previous"])
        scroll = app.screen.query_one(VerticalScroll)
        await keys(pilot, "end")
        assert scroll.max_scroll_y > 0 and scroll.scroll_y == scroll.max_scroll_y
        assert scroll.region.height >= size[1] - 2  # the whole height, all inside it
        await keys(pilot, "question_mark")
        assert app.screen is browse


def test_table_pages_lazily(data_dir: Path) -> None:
    """Only the pages looked at are read: the table never holds every row."""
    import asyncio

    from memrl.tui.widgets.episode_table import PAGE

    m = Memory(data_dir, embedder=HashEmbedder(), clock=lambda: NOW)
    m.import_(
        f'{{"task": "task {n}", "summary": "summary {n}", "project": "p", '
        f'"created_at": "{day(n / 100)}"}}'
        for n in range(PAGE * 3)
    )

    async def run() -> None:
        app = app_for(m)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            t = table(app)
            assert len(t) == PAGE * 3 and set(t._pages) == {0}
            await keys(pilot, "end")
            assert t.cursor == PAGE * 3 - 1
            assert t.current_id == m.list(limit=1, sort="created", descending=False)[0].id
            assert len(t._pages) <= 2

    asyncio.run(run())
    assert os.environ.get("MEMRL_DATA_DIR")
    assert m.count(Filters()) == PAGE * 3
    m.close()


async def test_filters_that_match_nothing_say_so_and_x_clears_them(store: Memory) -> None:
    app = app_for(store)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.screen.query_one("#filter-tag", Input).focus()
        await keys(pilot, *"nomatch")
        assert "escape, then x clears them" in app.screen.sub_title  # x here is a letter
        await keys(pilot, "escape")  # out of the box, back to the list
        assert app.focused is table(app)
        assert app.screen.query_one("#filter-tag", Input).value == "nomatch"
        assert len(table(app)) == 0 and "none matches the filters: x clears them" in (
            app.screen.sub_title
        )
        await keys(pilot, "x")
        assert len(table(app)) == 5 and app.screen.query_one("#filter-tag", Input).value == ""


async def test_an_editor_that_cannot_run_gives_the_app_back(store: Memory, monkeypatch) -> None:
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.setenv("EDITOR", "nonexistent-editor-xyz")
    app = app_for(store)
    resumed: list[bool] = []

    @contextmanager
    def suspend():  # as Textual's: the app comes back only when the block ends normally
        yield
        resumed.append(True)

    monkeypatch.setattr(app, "suspend", suspend)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await keys(pilot, "E")
        assert resumed == [True]
        assert "cannot run the editor 'nonexistent-editor-xyz'" in notices(app)[-1]


async def test_letter_keys_are_text_in_a_form_not_app_actions(store: Memory) -> None:
    from textual.widgets import Select

    async with on_first_episode(store) as (app, pilot, target):
        await save_summary(pilot, app, "saved first")  # an edit for the app's u to undo
        await keys(pilot, "e")
        form = app.screen
        assert isinstance(form, EditScreen)
        await pilot.press("shift+tab")  # from the task field onto the form itself
        assert app.focused is form.query_one("#edit-form")
        await keys(pilot, "u", "o", "r", "f", "P", "slash", "I", "q")
        assert app.screen is form and app.is_running
        assert "Undo" not in {c.title for c in app.get_system_commands(form)}
        form.query_one("#f-outcome", Select).focus()
        await keys(pilot, "u", "o", "r")
        assert app.screen is form
        assert store.get(target).episode.summary == "saved first"  # not undone
        await pilot.press("escape")  # nothing changed: leaves at once
        await settle(pilot)
        assert isinstance(app.screen, BrowseScreen)
        await keys(pilot, "space", "space", "m")
        merge = app.screen
        assert isinstance(merge, MergeScreen)
        await pilot.press("shift+tab")  # off the summary
        assert not isinstance(app.focused, TextArea)
        await keys(pilot, "u", "o")
        assert app.screen is merge
        assert store.get(target).episode.summary == "saved first"
        await keys(pilot, "escape")
        await pilot.press("u")  # out of the forms, u undoes again
        await settle(pilot)
    assert store.get(target).episode.summary == TASKS[0][1]


async def test_an_empty_search_starts_both_panes_on_the_same_row(store: Memory) -> None:
    """Before anything is typed there is no hit to explain: the detail pane's border is
    level with the results' border, not a row lower; a hit's explanation then sits on top."""
    app = app_for(store)
    async with app.run_test(size=SIZE) as pilot:
        screen = await search_for(pilot, "")
        results = screen.query_one("#search-results").region
        side = screen.query_one("#search-detail").region
        assert side.y == results.y
        await pilot.press(*"stripe webhook")
        await pilot.pause(0.4)
        await settle(pilot)
        why = screen.query_one("#search-why", Static)
        assert why.region.y == results.y and "score" in rendered(why)
        assert screen.query_one("#search-detail").region.y > results.y


async def test_search_keeps_the_cursor_on_the_episode_it_rates(store: Memory) -> None:
    app = app_for(store)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"stripe webhook")
        await pilot.pause(0.4)
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, SearchScreen) and screen.result
        assert len(screen.result.hits) >= 2
        await pilot.press("down", "down")  # onto the table, then its second row
        await settle(pilot)
        [target] = screen.selected_ids()
        assert target == screen.result.hits[1].id
        for key in ("minus", "minus"):
            await keys(pilot, key)
            assert screen.selected_ids() == [target]
            assert screen.query_one(EpisodeDetail).episode_id == target
    assert store.rows([target])[target].learned.unhelpful == 2


async def test_search_explains_a_perfect_match_without_a_percentage_over_100(
    store: Memory,
) -> None:
    """A hit that reads like the query and holds its words is 100 % relevant, no more:
    the explanation beside the results shows the sum that caps it, not a relevance of 107 %."""
    import re

    app = app_for(store)
    async with app.run_test(size=SIZE) as pilot:
        screen = await search_for(pilot, "Added a theme toggle stored in local storage")
        assert screen.result and screen.result.hits[0].relevance > 1  # raised past a match
        why = " ".join(str(screen.query_one("#search-why", Static).render()).split())
    assert "normalised relevance 100%" in why
    assert "similarity 82% + 0.25 × keyword match 100% − 25% minimum) ÷ 75%, at most 100%" in why
    assert max(int(n) for n in re.findall(r"(\d+)%", why)) == 100


async def test_a_failed_rating_in_a_session_is_not_counted_and_u_stays_in_it(
    store: Memory, other: Memory, data_dir: Path
) -> None:
    store.search("stripe webhook", log=True, limit=3)
    queue = store.learning.unrated()
    gone = queue[0][0]
    app = app_for(store)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        t = table(app)
        t.cursor = next(i for i in range(len(t)) if t.entry(i).id != gone)
        target = t.current_id
        await save_summary(pilot, app, "edited before the session")
        await keys(pilot, "f")
        screen = app.screen
        assert isinstance(screen, FeedbackScreen)
        other.archive([gone])  # archived elsewhere while its card is up
        await keys(pilot, "y")
        progress = str(screen.query_one("#session-progress", Static).render())
        assert "0 rated · 0 skipped" in progress
        await keys(pilot, "u")
        assert notices(app)[-1] == "nothing to undo in this session"
        assert len(app.undo_stack) == 1  # the edit is still there to undo
    assert store.get(target).episode.summary == "edited before the session"


async def test_review_steps_back_only_over_its_own_answers(data_dir: Path) -> None:
    m = Memory(data_dir, embedder=HashEmbedder(), clock=lambda: NOW)
    twins = [
        m.capture(episode(task="Rotate the TLS certs", summary="Renewed via certbot")).episode.id
        for _ in range(2)
    ]
    pinned = m.capture(episode(task="Dark mode", created_at=day(1))).episode.id
    old = captured_at(m, NOW - 200 * 86400, task="Speed up the CI").episode.id
    other = Memory(data_dir, embedder=HashEmbedder(), clock=lambda: NOW)
    app = app_for(m)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table(app).select(pinned)
        await pilot.press("p")  # a change made before the review
        await settle(pilot)
        await keys(pilot, "r")
        screen = app.screen
        assert isinstance(screen, ReviewScreen)
        assert [f.kind for f in screen.findings] == ["duplicates", "unused"]
        await pilot.press("u")  # nothing answered here yet
        await settle(pilot)
        assert notices(app)[-1] == "nothing to undo in this review"
        assert m.rows([pinned])[pinned].pinned
        await pilot.press("k")  # keep the twins apart
        await settle(pilot)
        assert screen.position == 1 and m.curation.review().clusters == []
        other.archive([old])
        await pilot.press("k")  # nothing left to pin: the finding stays, with no step to undo
        await settle(pilot)
        assert f"{old[:8]} was archived since the review found it" in notices(app)[-1]
        assert screen.position == 1 and len(screen.steps) == 1
        await pilot.press("u")  # takes back the keeping apart, not the pin
        await settle(pilot)
        assert screen.position == 0
        assert [sorted(c.ids) for c in m.curation.review().clusters] == [sorted(twins)]
        await keys(pilot, "u")
        assert notices(app)[-1] == "nothing to undo in this review"
    assert m.rows([pinned])[pinned].pinned
    other.close()
    m.close()


async def test_archived_notice_offers_u_only_for_an_archive_made_here(
    store: Memory, other: Memory, data_dir: Path
) -> None:
    target = store.list(limit=1)[0].id
    app = app_for(store, poll_interval=0.2)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("plus")  # something else for u to undo
        await settle(pilot)
        await keys(pilot, "enter")
        other.archive([target])
        await pilot.pause(0.6)
        await settle(pilot)
        await keys(pilot, "e")
        assert notices(app)[-1].startswith(f"{target[:8]} is archived: a (restore) brings it back")
        other.restore([target])
        await pilot.pause(0.6)
        await settle(pilot)
        await pilot.press("a", "y")  # archived here: u brings it back
        await settle(pilot)
        await keys(pilot, "e")
        assert "is archived: u (undo) or a (restore) brings it back" in notices(app)[-1]


async def test_escape_from_a_merge_asks_before_losing_the_summary(store: Memory) -> None:
    app = app_for(store)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await keys(pilot, "space", "space", "m")
        screen = app.screen
        assert isinstance(screen, MergeScreen)
        await pilot.press("escape")  # the plan's own summary: nothing to lose
        await settle(pilot)
        assert isinstance(app.screen, BrowseScreen)
        await keys(pilot, "m")
        screen = app.screen
        screen.query_one(TextArea).text = "My own words for both"
        await keys(pilot, "escape")
        assert isinstance(app.screen, ConfirmScreen)
        await keys(pilot, "n")
        assert app.screen is screen
        assert screen.query_one(TextArea).text == "My own words for both"
        await keys(pilot, "escape", "y")
        assert isinstance(app.screen, BrowseScreen)
    assert store.count() == 5


async def test_saving_a_form_over_an_episode_archived_meanwhile_offers_to_restore_it(
    store: Memory, other: Memory, data_dir: Path
) -> None:
    """Another process archives the episode while its form is open: ctrl+s asks to restore
    it and save; no keeps the text in the form and changes nothing, yes does both."""
    async with on_first_episode(store) as (app, pilot, target):
        await type_summary(pilot, app, "typed while it was archived")
        form = app.screen
        other.archive([target])
        await keys(pilot, "ctrl+s")
        asked = str(app.screen.query_one("#confirm-question", Static).render())
        assert asked == (
            f"{target[:8]} was archived while you edited it. Restore it and save your edit?"
        )
        await keys(pilot, "n")
        assert app.screen is form  # the text is still there
        assert "stays archived; your text is still here" in notices(app)[-1]
        assert len(app.undo_stack) == 0 and store.get(target).archived
        await keys(pilot, "ctrl+s")
        await keys(pilot, "y")
        assert isinstance(app.screen, BrowseScreen)
    view = store.get(target)
    assert not view.archived and view.episode.summary == "typed while it was archived"


async def test_opening_a_screen_already_open_goes_back_to_it(store: Memory) -> None:
    from memrl.tui.screens.overview import OverviewScreen

    app = app_for(store)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for key in "ororor":
            await keys(pilot, key)
        assert [type(s) for s in app.screen_stack[-3:]] == [
            BrowseScreen,
            OverviewScreen,
            ReviewScreen,
        ]
        assert len(app.screen_stack) == 4  # and Textual's own default screen
        await keys(pilot, "escape", "escape")
        assert isinstance(app.screen, BrowseScreen)


async def test_the_edit_form_does_not_select_the_task_on_focus(store: Memory) -> None:
    async with on_first_episode(store) as (app, pilot, target):
        await keys(pilot, "e")
        task = app.screen.query_one("#f-task", Input)
        assert app.focused is task
        assert task.selection.is_empty and task.cursor_position == len(task.value)
        await keys(pilot, *" now", "ctrl+s")
    assert store.get(target).episode.task == TASKS[0][0] + " now"


# what an exploratory pass in a real terminal found ------------------------------------------


def footer_actions(app: MemrlApp) -> set[str]:
    from textual.widgets._footer import FooterKey

    return {key.action.partition("(")[0] for key in app.screen.query(FooterKey)}


async def test_review_and_prune_with_nothing_to_do_offer_no_actions(store: Memory) -> None:
    """The small store has no duplicates, nothing stale or old: no keys that do nothing."""
    app = app_for(store)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await keys(pilot, "P")
        assert isinstance(app.screen, PruneScreen) and not app.screen.candidates
        assert "prune" not in footer_actions(app)
        assert not app.screen.query_one(SelectionList).display
        await keys(pilot, "escape", "r")
        assert isinstance(app.screen, ReviewScreen) and app.screen.current is None
        assert not {"merge", "keep", "archive", "skip"} & footer_actions(app)


def review_store(data_dir: Path) -> Memory:
    """Three findings: two look-alikes, then two episodes never used in 200 days."""
    m = Memory(data_dir, embedder=HashEmbedder(), clock=lambda: NOW)
    for _ in range(2):
        m.capture(episode(task="Rotate the TLS certs", summary="Renewed via certbot"))
    for n, task in enumerate(["Speed up the CI", "Dark mode"]):
        captured_at(m, NOW - (200 + n) * 86400, task=task)
    return m


@pytest.mark.parametrize("size", [(100, 30), (60, 16)])
async def test_on_a_narrow_terminal_every_look_alike_can_be_reached_and_is_counted(
    data_dir: Path, size: tuple[int, int]
) -> None:
    """Below 110 columns the cards of a finding, and the originals of its merge, stand one
    above the other; tab brings each into sight, titled "n of 3"."""
    m = Memory(data_dir, embedder=HashEmbedder(), clock=lambda: NOW)
    for _ in range(3):
        m.capture(episode(task="Rotate the TLS certs", summary="Renewed via certbot"))
    app = app_for(m, start="review")
    async with app.run_test(size=size) as pilot:
        await reviewing(pilot, app)
        for key in ("", "m"):
            if key:
                await keys(pilot, key)
                assert isinstance(app.screen, MergeScreen)
            cards = list(app.screen.query(EpisodeDetail))
            assert [c.border_title for c in cards] == ["1 of 3", "2 of 3", "3 of 3"]
            assert len({c.region.x for c in cards}) == 1  # one above the other
            pane = cards[0].parent.region
            for card in cards:
                for _ in range(6):
                    if app.focused is card:
                        break
                    await keys(pilot, "tab")
                assert app.focused is card
                seen = pane.intersection(card.region)
                assert seen.width == card.region.width and seen.height >= 4  # its first lines
    m.close()


async def test_an_unused_finding_counts_from_when_it_entered_the_store_and_its_card_says_so(
    data_dir: Path,
) -> None:
    """Work done 626 days ago but captured 300 days ago: the finding's 300 days and the
    card's 626d ago each say what they count from."""
    m = Memory(data_dir, embedder=HashEmbedder(), clock=lambda: NOW - 300 * 86400)
    m.capture(episode(task="Speed up the CI", created_at=day(626)))
    m.clock = lambda: NOW
    app = app_for(m, start="review")
    async with app.run_test(size=SIZE) as pilot:
        screen = await reviewing(pilot, app)
        assert "never retrieved in the 300 days since it entered this store" in (review_status(app))
        card = shown(screen.query_one(EpisodeDetail))
        assert "(626d ago)" in card and "in this store since 2026-01-05 10:00 (300d ago)" in card
    m.close()


async def test_merge_is_offered_only_on_look_alikes(data_dir: Path) -> None:
    m = review_store(data_dir)
    app = app_for(m)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await keys(pilot, "r")
        screen = app.screen
        assert isinstance(screen, ReviewScreen)
        assert [f.kind for f in screen.findings] == ["duplicates", "unused", "unused"]
        assert "merge" in footer_actions(app)
        await keys(pilot, "s")
        assert "merge" not in footer_actions(app)  # one episode: nothing to merge it with
        shown = len(notices(app))
        await keys(pilot, "m")
        assert app.screen is screen and len(notices(app)) == shown
    m.close()


async def test_a_review_opened_on_its_own_ends_back_in_the_shell(data_dir: Path) -> None:
    m = review_store(data_dir)
    app = app_for(m, start="review")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, ReviewScreen)
        assert not any(isinstance(s, BrowseScreen) for s in app.screen_stack)
        await keys(pilot, "s", "s", "s")
        assert app.screen.current is None
        assert "**escape** quits" in app.screen.query_one("#review-done", Markdown).source
        await keys(pilot, "escape")
        assert app.return_code == 0  # exited, not dropped into browse
    assert app.farewell == "memrl review: 3 findings — 3 skipped; nothing was changed"
    m.close()
    m = review_store(data_dir / "again")
    app = app_for(m, start="review")
    async with app.run_test(size=SIZE) as pilot:  # quit half-way: what was done so far
        await settle(pilot)
        await keys(pilot, "s")
        await keys(pilot, "ctrl+q")
    assert app.farewell == "memrl review: 1 of 3 findings seen — 1 skipped; nothing was changed"
    m.close()
    app = app_for(Memory(data_dir, embedder=HashEmbedder(), clock=lambda: NOW))
    async with app.run_test(size=SIZE) as pilot:  # from browse, r then done goes back
        await settle(pilot)
        await keys(pilot, "r")
        await keys(pilot, "s", "s", "s")
        assert "**escape** goes back" in app.screen.query_one("#review-done", Markdown).source
        await keys(pilot, "escape")
        assert isinstance(app.screen, BrowseScreen) and app.return_code is None
    app.memory.close()


async def test_u_after_a_prune_from_the_end_of_a_review_undoes_the_prune_first(
    data_dir: Path,
) -> None:
    """`memrl review`, every finding answered, then P: the toast says u undoes the prune,
    and u does, before it steps back through the review's own answers."""
    m = review_store(data_dir)
    app = app_for(m, start="review")
    async with app.run_test(size=SIZE) as pilot:
        screen = await reviewing(pilot, app)
        twins = [r.id for r in screen.current.rows]
        unused = [f.rows[0].id for f in screen.findings[1:]]
        await keys(pilot, "k", "s", "s")
        await keys(pilot, "P")
        await keys(pilot, "enter")
        await keys(pilot, "y")
        assert app.screen is screen and screen.current is None
        assert all(r.archived for r in m.rows(unused).values())
        assert "(u undoes)" in notices(app)[-1]
        await keys(pilot, "u")
        assert not any(r.archived for r in m.rows(unused).values())  # the prune, undone
        assert screen.current is None  # still at the end of the review
        await keys(pilot, "u")
        assert screen.position == 2 and "archived" not in review_status(app)
        await keys(pilot, "u", "u")
        assert screen.position == 0
        assert [sorted(c.ids) for c in m.curation.review().clusters] == [sorted(twins)]
    m.close()


async def test_a_finished_review_sums_up_what_was_done(data_dir: Path) -> None:
    m = review_store(data_dir)
    app = app_for(m)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await keys(pilot, "r")
        screen = app.screen
        assert isinstance(screen, ReviewScreen)
        await keys(pilot, "s", "s", "s")
        status = str(screen.query_one("#review-finding", Static).render())
        assert status == "review finished: 3 findings — 3 skipped; nothing was changed"
        await keys(pilot, "P", "enter", "y")  # a prune from the end is no answer, but a change
        assert app.screen is screen and "(u undoes)" in notices(app)[-1]
        status = str(screen.query_one("#review-finding", Static).render())
        assert status == "review finished: 3 findings — 3 skipped; then the prune of 2 episodes"
        assert "come back next time" not in screen.query_one("#review-done", Markdown).source
        await keys(pilot, "u")  # the prune, undone
        status = str(screen.query_one("#review-finding", Static).render())
        assert status == "review finished: 3 findings — 3 skipped; nothing was changed"
        await keys(pilot, "u", "u", "u")
        await keys(pilot, "k")
        await keys(pilot, "k")
        await keys(pilot, "s")
        status = str(screen.query_one("#review-finding", Static).render())
        assert status == "review finished: 3 findings — 1 kept apart, 1 kept pinned, 1 skipped"
        done = screen.query_one("#review-done", Markdown).source
        assert "3 findings: 1 kept apart, 1 kept pinned, 1 skipped." in done
    m.close()


LONG = "Stripe webhook retries lost whenever the worker restarts halfway through delivery"


async def test_search_titles_fit_a_small_terminal_with_an_ellipsis(store: Memory) -> None:
    for n in range(8):
        store.capture(episode(task=f"{LONG} ({n})", summary=f"Acked stripe webhook {n} late"))
    app = app_for(store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"stripe webhook")
        await pilot.pause(0.4)
        await settle(pilot)
        from textual.widgets import DataTable

        results = app.screen.query_one(DataTable)
        assert results.row_count > results.size.height  # a vertical scrollbar takes room
        assert not results.show_horizontal_scrollbar
        assert results.virtual_size.width <= results.scrollable_content_region.width
        titles = [str(results.get_row_at(n)[-1]) for n in range(results.row_count)]
        assert any(t.startswith(LONG[:20]) and t.endswith("…") for t in titles)


async def test_the_prune_screen_shows_each_reason_in_full(data_dir: Path) -> None:
    m = Memory(data_dir, embedder=HashEmbedder(), clock=lambda: NOW)
    for n in range(2):
        captured_at(m, NOW - 200 * 86400, task=f"{LONG} {n}", project="acme/a-long-project")
    app = app_for(m)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await keys(pilot, "P")
        screen = app.screen
        assert isinstance(screen, PruneScreen) and len(screen.candidates) == 2
        prompt = str(screen.query_one(SelectionList).get_option_at_index(0).prompt)
        assert prompt.startswith(f"{screen.candidates[0].row.short_id}  utility")  # reason first
        why = screen.query_one("#prune-why", Static)
        for n in range(2):
            assert screen.candidates[n].reason in str(why.render())  # whole, wrapped if need be
            await keys(pilot, "down")
    m.close()


def test_table_columns_never_run_past_the_edge() -> None:
    from memrl.tui.widgets.table_columns import header, layout

    for width in range(30, 200):
        columns = layout(width)
        assert sum(w + 1 for _c, w in columns) <= width, width
        for col, _w in columns:
            if col.sort:  # the sort's arrow shows in whatever room a column has, a bare mark too
                assert "▲" in header(columns, col.sort, False), (width, col.key)


async def test_sort_steps_through_the_columns_shown_and_names_a_hidden_one(store: Memory) -> None:
    app = app_for(store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        t = table(app)
        shown = {c.sort for c, _w in t._layout() if c.sort}
        assert "retrievals" not in shown  # the counts are dropped at this width
        seen = []
        for _ in range(len(shown)):
            await keys(pilot, "s")
            seen.append(t.sort_key)
            if t.sort_key == "outcome":  # a titleless mark here: the border names it
                assert t.border_subtitle == "sorted by outcome ▲"
                cols = t._layout()
                at = sum(w + 1 for c, w in cols[: [c.key for c, _w in cols].index("outcome")])
                assert header(cols, t.sort_key, t.descending)[at] == "▲"  # over the marks
            else:
                assert t.border_subtitle == ""  # the header's arrow says it
        assert set(seen) == shown
        await pilot.resize_terminal(200, 30)
        await settle(pilot)
        while t.sort_key != "retrievals":
            await keys(pilot, "s")
        await pilot.resize_terminal(80, 24)
        await settle(pilot)
        assert t.border_subtitle == "sorted by use ▼"


async def test_sorting_keeps_the_cursor_on_its_episode(store: Memory) -> None:
    """s re-orders the list under the person's eye: the episode they were on stays
    selected, wherever the new order puts it."""
    app = app_for(store)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        t = table(app)
        await pilot.press("down", "down")
        chosen = t.current_id
        for _ in range(3):
            await keys(pilot, "s")
            assert t.current_id == chosen, t.sort_key
        await keys(pilot, "S")
        assert t.current_id == chosen


async def test_an_unreadable_episode_says_why_in_full_and_offers_no_save(
    store: Memory, data_dir: Path
) -> None:
    victim = store.list(limit=1)[0].id
    path = next(data_dir.glob(f"episodes/*/{victim}.json"))
    path.write_text("{ not json", encoding="utf-8")
    app = app_for(store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.push_screen(EditScreen(victim))
        await settle(pilot)
        status = app.screen.query_one("#edit-status", Static)
        text = str(status.render())
        assert "cannot be edited" in text and "fix the file by hand" in text
        assert status.size.height > 1  # wrapped, not cut
        assert "save" not in footer_actions(app) and "cancel" in footer_actions(app)
        await keys(pilot, "escape")
        await pilot.press("slash", *TASKS[0][0].lower())
        await pilot.pause(0.4)
        await settle(pilot)
        status = app.screen.query_one("#search-status", Static)
        assert f"skipped {victim[:8]}" in str(status.render())
        assert "fix the file by hand" in str(status.render())


async def test_a_finished_feedback_session_offers_no_answer_keys(store: Memory) -> None:
    store.search("stripe webhook", log=True, limit=2)
    queue = store.learning.unrated()
    app = app_for(store)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await keys(pilot, "f")
        screen = app.screen
        assert {"rate", "skip"} <= footer_actions(app)
        for _ in queue:
            await pilot.press("s")
        await settle(pilot)
        progress = str(screen.query_one("#session-progress", Static).render())
        assert progress.startswith("done") and "y helpful" not in progress
        assert not {"rate", "skip"} & footer_actions(app) and "undo" in footer_actions(app)
        await pilot.press("u")  # still steps back
        await settle(pilot)
        assert f"{len(queue)} of {len(queue)}" in str(
            screen.query_one("#session-progress", Static).render()
        )
        assert {"rate", "skip"} <= footer_actions(app)


async def curve_of(app, pilot, target: str):
    """Open an episode's utility tab: its curve widget and the lines it draws."""
    from memrl.tui.widgets.utility_curve import UtilityCurve

    await settle(pilot)
    app.push_screen(EpisodeScreen(target, tab="utility"))
    await settle(pilot)
    plot = app.screen.query_one(UtilityCurve)
    return plot, str(plot.render()).splitlines()


async def test_the_utility_curve_counts_days_ago(store: Memory) -> None:
    target = store.list(limit=1)[0].id
    store.learning.feedback([target], True)
    app = app_for(store)
    async with app.run_test(size=SIZE) as pilot:
        _plot, lines = await curve_of(app, pilot, target)
        ticks = next(line for line in lines if line.rstrip().endswith("now"))
        assert "-" not in ticks  # days ago, counted up from now
        assert any("days ago" in line for line in lines)


async def test_a_young_episodes_curve_spans_its_hours_up_to_the_utility_now(
    data_dir: Path,
) -> None:
    """Captured three hours ago and rated six times since: the axis counts hours, so the
    steps are spread across the plot rather than stacked in its last column."""
    clock = [NOW - 3 * 3600]
    m = Memory(data_dir, embedder=HashEmbedder(), clock=lambda: clock[0])
    target = m.capture(episode(task="Rotate the TLS certs", created_at=clock[0])).episode.id
    for _ in range(6):
        clock[0] += 20 * 60
        m.learning.feedback([target], True)
    clock[0] = NOW
    app = app_for(m)
    async with app.run_test(size=SIZE) as pilot:
        plot, lines = await curve_of(app, pilot, target)
        assert any("hours ago" in line for line in lines)
        utility = m.rows([target])[target].learned.utility
        assert f"utility {pct(utility)} now" in lines[0]
        steps = {
            x for line in lines[2:] if "helpful" not in line for x, c in enumerate(line) if c == "▲"
        }
        assert len(steps) == 6 and min(steps) < plot.size.width // 2  # spread over the hours
    m.close()


def graph_row(n: int, utility: float = 0.7):
    from memrl.views import Learned, Row

    learned = Learned(utility, 0.5, 0.0, 1.0, 0.0, 0, 0, 0, 0, None, NOW)
    return Row(f"{n:08x}" * 4, "p", f"task {n}", "s", "success", "bugfix", "cli", [], NOW, NOW,
               False, False, learned, "")  # fmt: skip


def draw_graph(centre, found, size: tuple[int, int]) -> tuple[str, list[str]]:
    """The graph drawn alone at `size`: its text, and the ids it labelled."""
    import asyncio

    from textual.app import App

    from memrl.tui.widgets.neighbour_graph import NeighbourGraph

    class Graph(App[None]):
        def compose(self):
            yield NeighbourGraph()

    async def run() -> tuple[str, list[str]]:
        app = Graph()
        async with app.run_test(size=size) as pilot:
            graph = app.query_one(NeighbourGraph)
            graph.show(centre, found, 0.5)
            await pilot.pause()
            return str(graph.render()), getattr(graph, "labelled", [])

    return asyncio.run(run())


def test_graph_labels_never_cover_a_node() -> None:
    from memrl.insights import Neighbour

    centre = graph_row(0, 0.5)
    found = [Neighbour(graph_row(n), sim, 0.0, 0.0) for n, sim in enumerate([1.0, 0.6, 0.55], 1)]
    for size in [(80, 8), (80, 12), (120, 24)]:
        text, _labelled = draw_graph(centre, found, size)
        assert text.count("●") == 3 and text.count("◉") == 1, size
        for r in [centre, *(nb.row for nb in found)]:
            assert r.short_id in text, size


async def test_a_short_terminal_keeps_the_list_and_the_question_in_sight(store: Memory) -> None:
    for n in range(7):
        store.capture(episode(task=f"chore {n}", created_at=day(10 + n)))
    app = app_for(store)
    async with app.run_test(size=(60, 15)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert "-short" in screen.classes and not screen.query_one("#filters").display
        assert screen.query_one("#filter-tag").region.height == 0  # out of sight...
        await pilot.press("tab", "tab", "tab")
        assert app.focused is table(app)  # ...and out of reach
        assert table(app).size.height >= 8
        await keys(pilot, *["space"] * 12, "a")
        confirm = app.screen
        assert isinstance(confirm, ConfirmScreen)
        question = confirm.query_one("#confirm-question")
        assert question.region.y >= 0 and "Archive 12 episodes?" in str(question.render())
        assert confirm.query_one("#yes").region.bottom <= 15
        await keys(pilot, "n")
    assert store.count() == 12


def test_a_signal_ends_the_demo_and_its_store_is_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import signal
    import time

    from memrl.tui.launch import demo_store, exit_on_signals

    monkeypatch.setattr("memrl.demo.seed_demo", lambda memory, progress: None)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    before = signal.getsignal(signal.SIGHUP)
    # under nohup SIGHUP stays ignored, as it should (a hang-up is not meant to end the app)
    signums = [signal.SIGTERM] + ([signal.SIGHUP] if before is not signal.SIG_IGN else [])
    roots: list[Path] = []
    for signum in signums:
        with pytest.raises(SystemExit), exit_on_signals(), demo_store(quiet=True) as root:
            roots.append(root)
            os.kill(os.getpid(), signum)  # a closed terminal, a kill
            time.sleep(5)
    assert len(roots) == len(signums) and not any(r.exists() for r in roots)
    assert signal.getsignal(signal.SIGHUP) == before  # put back afterwards


async def test_rating_an_episode_keeps_its_page_where_it_was_read(store: Memory) -> None:
    from memrl.tui.screens.episode import EpisodeScreen

    lessons = [f"Step {n}: checked the retry path of the webhook worker" for n in range(30)]
    store.capture(episode(task="A long session", summary="Many steps", what_worked=lessons))
    async with on_first_episode(store) as (app, pilot, target):
        await keys(pilot, "enter")
        assert isinstance(app.screen, EpisodeScreen)
        detail = app.screen.query_one(EpisodeDetail)
        await keys(pilot, "end")
        bottom = detail.scroll_y
        assert bottom > 0 and bottom == detail.max_scroll_y
        await pilot.press("plus")  # rated: the page is shown again, with the new numbers
        await pilot.pause(0.3)
        await settle(pilot)
        assert store.rows([target])[target].learned.helpful == 1
        assert detail.scroll_y == bottom


async def test_the_review_card_shows_the_episode_as_an_undo_leaves_it(
    data_dir: Path, monkeypatch
) -> None:
    import time

    m = Memory(data_dir, embedder=HashEmbedder(), clock=lambda: NOW)
    old = captured_at(m, NOW - 200 * 86400, task="Speed up the CI").episode.id
    decayed = m.rows([old])[old].learned
    assert decayed.decay < 0.995
    real = m.set_pinned

    def slow_unpin(ids, pinned):
        if not pinned:
            time.sleep(0.3)  # the undo lands after the card is shown again
        return real(ids, pinned)

    monkeypatch.setattr(m, "set_pinned", slow_unpin)
    app = app_for(m)
    async with app.run_test(size=SIZE) as pilot:
        screen = await reviewing(pilot, app, "r")
        await pilot.press("k")  # keep it: pinned, so no longer decayed
        await settle(pilot)
        assert m.rows([old])[old].pinned
        await keys(pilot, "u")
        assert not m.rows([old])[old].pinned
        detail = screen.query_one(EpisodeDetail)
        assert detail.episode_id == old
        text = shown(detail)
        assert f"utility {pct(decayed.utility)} ·" in text and "decayed" in text
        assert "pinned" not in text
    m.close()


def footer_keys(app: MemrlApp) -> set[str]:
    from textual.widgets._footer import FooterKey

    return {key.key for key in app.screen.query(FooterKey)}


async def test_typing_in_the_search_results_refines_the_query(store: Memory) -> None:
    app = app_for(store)
    async with app.run_test(size=SIZE) as pilot:
        screen = await search_for(pilot, "stripe")
        query, results = screen.query_one(Input), screen.query_one("#search-results")
        assert app.focused is query and not {"plus", "minus"} & footer_keys(app)  # text here
        await pilot.press("down")
        assert app.focused is results and {"plus", "minus"} <= footer_keys(app)
        for key, char in (("space", " "), ("u", "u")):  # typed faster than they are handled
            app.post_message(events.Key(key, char))
        await pilot.press(*"pdate api")  # the space is no key of the screen's: all text
        await settle(pilot)
        assert app.focused is query and query.value == "stripe update api"
        assert app.screen is screen and len(app.undo_stack) == 0
        await keys(pilot, *["backspace"] * 11, "down", "down")
        assert app.focused is results and results.cursor_row == 1
        await pilot.press("up")  # to the first hit
        assert app.focused is results and results.cursor_row == 0
        await pilot.press("up", "s")  # from it to the box, whose text is kept to go on with
        await settle(pilot)
        assert app.focused is query and query.value == "stripes"
        await pilot.press("backspace", "down", "plus")  # + still rates the hit
        await settle(pilot)
        [rated] = screen.selected_ids()
        assert store.rows([rated])[rated].learned.helpful == 1
        await pilot.press("q")  # leaves the search, not the app
        await settle(pilot)
        assert isinstance(app.screen, BrowseScreen) and app.is_running
    rows = store.list()
    assert len(rows) == len(TASKS) and not any(r.pinned for r in rows)  # u, a and p: text
    assert [r.id for r in rows if r.learned.helpful] == [rated]


async def reviewing(pilot, app: MemrlApp, *press: str) -> ReviewScreen:
    """The review screen, once it shows its first finding (opened by `press`, if given)."""
    await settle(pilot)
    if press:
        await keys(pilot, *press)
    screen = app.screen
    assert isinstance(screen, ReviewScreen) and screen.current is not None
    return screen


def review_status(app: MemrlApp) -> str:
    return str(app.screen.query_one("#review-finding", Static).render())


@pytest.mark.parametrize("archived_elsewhere", ["most useful", "other"])
async def test_review_answers_only_what_is_live_now(data_dir: Path, archived_elsewhere) -> None:
    """A look-alike archived by another process leaves the pair out of date: nothing is
    offered to archive, merge or keep apart, and only s (skip) moves on, counted as such."""
    m = review_store(data_dir)
    other = Memory(data_dir, embedder=HashEmbedder(), clock=lambda: NOW)
    app = app_for(m, start="review")
    async with app.run_test(size=SIZE) as pilot:
        screen = await reviewing(pilot, app)
        kept, spare = (r.id for r in screen.current.rows)
        gone = kept if archived_elsewhere == "most useful" else spare
        other.archive([gone])
        await pilot.pause(0.2)
        app.poll()
        await settle(pilot)
        said = (
            f"{gone[:8]} was archived since the review found it; nothing left to do here — s skips"
        )
        assert said in review_status(app)
        for key in ("a", "m", "k"):
            await keys(pilot, key)
            assert app.screen is screen and notices(app)[-1] == said
        assert not m.rows([kept, spare])[kept if gone == spare else spare].archived
        assert screen.position == 0 and not screen.steps and len(app.undo_stack) == 0
        await keys(pilot, "s", "ctrl+q")
    assert app.farewell == "memrl review: 1 of 3 findings seen — 1 skipped; nothing was changed"
    other.close()
    m.close()


async def test_review_archives_only_the_live_look_alikes(data_dir: Path) -> None:
    """Of three look-alikes, one archived elsewhere: a archives the live one that is not
    the most useful, and never the one already archived."""
    m = Memory(data_dir, embedder=HashEmbedder(), clock=lambda: NOW)
    for _ in range(3):
        m.capture(episode(task="Rotate the TLS certs", summary="Renewed via certbot"))
    other = Memory(data_dir, embedder=HashEmbedder(), clock=lambda: NOW)
    app = app_for(m, start="review")
    async with app.run_test(size=SIZE) as pilot:
        screen = await reviewing(pilot, app)
        first, second, third = (r.id for r in screen.current.rows)
        other.archive([second])
        await keys(pilot, "a")
        question = str(app.screen.query_one("#confirm-question", Static).render())
        detail = str(app.screen.query_one("#confirm-detail", Static).render())
        assert question == "Archive 1 episode?" and third[:8] in detail and second[:8] not in detail
        await keys(pilot, "y")
        assert notices(app)[-1] == f"archived {third[:8]} (u undoes)"
        assert app.undo_stack.peek().label == f"archive of {third[:8]}"
    assert not m.rows([first])[first].archived and m.rows([third])[third].archived
    other.close()
    m.close()


async def test_archiving_what_was_archived_while_asking_changes_and_counts_nothing(
    store: Memory, other: Memory
) -> None:
    async with on_first_episode(store) as (app, pilot, target):
        await keys(pilot, "a")
        assert isinstance(app.screen, ConfirmScreen)
        other.archive([target])  # while the question is up
        await keys(pilot, "y")
        assert notices(app)[-1] == f"{target[:8]} archived already: nothing was changed"
        assert len(app.undo_stack) == 0


async def test_an_empty_store_offers_no_keys_that_act_on_an_episode(data_dir: Path) -> None:
    m = Memory(data_dir, embedder=HashEmbedder(), clock=lambda: NOW)
    other = Memory(data_dir, embedder=HashEmbedder(), clock=lambda: NOW)
    on_episodes = {"rate", "pin", "archive", "edit", "edit_external", "curve", "graph", "merge"}
    app = app_for(m)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert not on_episodes & footer_actions(app)
        assert {"search", "undo"} <= footer_actions(app)
        other.capture(episode(task="Rotate the TLS certs"))  # the page fills in live
        app.poll()
        await settle(pilot)
        assert {"rate", "archive", "edit"} <= footer_actions(app)
    other.close()
    m.close()


MARKUP = "Fix 404 on [/api/users] route [/] [bold]x[/bold]"


def rendered(widget) -> str:
    return str(widget.render())


def cell_text(data_table: DataTable, row: int, column: int) -> str:
    cell = data_table.get_row_at(row)[column]
    return cell.plain if hasattr(cell, "plain") else str(cell)


async def test_text_that_looks_like_markup_is_shown_as_written_on_every_screen(
    data_dir: Path,
) -> None:
    """Tasks, summaries, projects, tags and queries are the person's text: `[/api/users]`
    is a path, not a closing tag, wherever it is shown (it used to take the app down)."""
    m = Memory(data_dir, embedder=HashEmbedder(), clock=lambda: NOW)
    for n, project in enumerate(("[/]web", "acme/[red]api[/red]")):
        m.capture(
            episode(
                task=MARKUP + " " * n,
                summary="[red]the route[/red] table [/] lacked a slash",
                project=project,
                tags=["[b]"],
                created_at=day(n),
            )
        )
    m.search(MARKUP, log=True)  # retrieved, never rated: the feedback card quotes the query
    app = app_for(m)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await keys(pilot, "enter")
        assert MARKUP in rendered(app.screen.query_one("#episode-title"))
        for tab in ("2", "3", "1"):
            await keys(pilot, tab)
        assert cell_text(app.screen.query_one("#neighbours", DataTable), 0, 5).startswith(
            "Fix 404 on [/api"
        )
        await keys(pilot, "escape", "slash")
        await pilot.press(*"[/api/users]")
        await pilot.pause(0.4)
        await settle(pilot)
        assert cell_text(app.screen.query_one(DataTable), 0, 5).startswith(
            "Fix 404 on [/api/users]"
        )
        await keys(pilot, "escape", "f")
        assert MARKUP in rendered(app.screen.query_one("#session-query"))
        await keys(pilot, "escape", "o")
        projects = app.screen.query_one("#overview-projects", DataTable)
        assert {cell_text(projects, n, 0) for n in range(2)} == {"[/]web", "acme/[red]api[/red]"}
        await keys(pilot, "escape", "space", "space", "m")
        assert isinstance(app.screen, MergeScreen)
        assert "tags [b]" in rendered(app.screen.query_one("#merge-notes"))
        await keys(pilot, "escape", "tab", "tab", "enter")  # the project filter's list
        app.notify(MARKUP)
        await settle(pilot)
        assert notices(app)[-1] == MARKUP
    m.close()


def test_a_crash_ends_memrl_tui_with_a_failing_exit_code(data_dir: Path, monkeypatch) -> None:
    """Textual prints the traceback and returns; the shell (and a script) must hear it failed."""
    from memrl.tui import launch

    def crash(self) -> None:
        raise RuntimeError("boom")

    real_run = MemrlApp.run
    monkeypatch.setattr(MemrlApp, "on_mount", crash)
    monkeypatch.setattr(MemrlApp, "run", lambda self: real_run(self, headless=True))
    with pytest.raises(SystemExit) as exited:
        launch.run()
    assert exited.value.code == 1


CONTROL_TASK = "Tab\tand\x1b[31m escape\x0bvertical\r\nline"


async def test_tabs_and_control_characters_are_shown_as_spaces(data_dir: Path) -> None:
    """A tab or an escape in a task counts as no width but moves the terminal's cursor: a
    row holding one ran past the border. Each is a space, in every row, cell and line."""
    import re

    control = re.compile("[\x00-\x1f\x7f-\x9f]")
    m = Memory(data_dir, embedder=HashEmbedder(), clock=lambda: NOW)
    m.capture(episode(task=CONTROL_TASK, summary="tab\there\x1b[0m", created_at=day(0)))
    m.capture(episode(task="Second\ttask", summary="plain", project="acme\tweb", created_at=day(1)))
    app = app_for(m)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        t = table(app)
        t._look_up_styles()
        for y in range(4):
            strip = t.render_line(y)
            assert strip.cell_length == t.size.width and not control.search(strip.text)
        assert "Tab and " in t.render_line(1).text
        assert "acme web" in t.render_line(2).text
        await pilot.pause(0.2)
        detail = app.screen.query_one(EpisodeDetail)
        assert not any(control.search(line.text) for line in detail._lines)
        await keys(pilot, "enter")
        title = rendered(app.screen.query_one("#episode-title"))
        assert "Tab and " in title and not control.search(title)
        await keys(pilot, "escape", "slash")
        await pilot.press(*"second task")
        await pilot.pause(0.4)
        await settle(pilot)
        found = app.screen.query_one(DataTable)
        cells = [cell_text(found, n, 5) for n in range(found.row_count)]
        assert "Second task" in cells and not any(control.search(c) for c in cells)
    m.close()


async def test_the_merge_preview_gives_the_utility_the_merged_episode_will_have(
    data_dir: Path,
) -> None:
    """Long unused, the originals' evidence (50%) has decayed: the preview says what the
    merged episode's utility will be, as `memrl show` gives it afterwards."""
    m, old = stale_store(data_dir, 2)
    app = app_for(m)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.push_screen(MergeScreen(old))
        await settle(pilot)
        notes = rendered(app.screen.query_one("#merge-notes"))
        await keys(pilot, "ctrl+s", "y")
        assert isinstance(app.screen, BrowseScreen)
    (merged,) = [r for r in m.list(limit=None) if not r.archived]
    learned = merged.learned
    assert learned.decay < 0.5  # 200 days unused
    assert f"merged: utility {pct(learned.utility)} (own evidence 50% × decay " in notes
    m.close()


@pytest.mark.parametrize("size", [(80, 24), (100, 30), SIZE, (120, 50)])
async def test_the_utility_curve_labels_each_row_it_ticks_with_its_own_value(
    store: Memory, size: tuple[int, int]
) -> None:
    """Whole percentages, none two to a row, each on the row its value is drawn on (at
    80x24 the labels read 100, 83.3, 50, 33.3, 0 on five rows); the legend is a line of
    its own, not drawn over the start of the curve."""
    import re

    target = store.list(limit=1)[0].id
    store.learning.feedback([target], True)
    app = app_for(store)
    async with app.run_test(size=size) as pilot:
        _plot, lines = await curve_of(app, pilot, target)
        legend = rendered(app.screen.query_one("#curve-legend"))
    top = next(n for n, line in enumerate(lines) if "┌" in line)
    bottom = next(n for n, line in enumerate(lines) if "└" in line)
    canvas = lines[top + 1 : bottom]
    gaps = len(canvas) - 1
    ticks = {
        len(canvas) - 1 - n: int(m.group(1))
        for n, line in enumerate(canvas)
        if (m := re.match(r"\s*(\d+)┤", line))
    }
    assert [ticks[r] for r in sorted(ticks)][:: len(ticks) - 1] == [0, 100]
    for row, value in ticks.items():
        assert row == int(0.5 + gaps * value / 100)  # plotext's own mapping of a value to a row
    assert not any(line.strip() and not re.match(r"\s*(\d+┤|│)", line) for line in canvas)
    assert not any("helpful" in line for line in canvas)
    assert "▲ helpful" in legend and "utility" in legend


@pytest.mark.parametrize("size", [(40, 10), (60, 12), (58, 22), (80, 16), (120, 30)])
def test_graph_labels_never_overlap_one_another(size: tuple[int, int]) -> None:
    """Twenty neighbours on a small plot: each label stands alone, a blank cell from any
    other (three ids used to run into one string); one that would not fit is left out,
    the table beside the graph naming them all."""
    import re

    from memrl.insights import Neighbour

    centre = graph_row(0x1D, 0.5)
    found = [
        Neighbour(graph_row(0xA0 + n, 0.2 + n * 0.03), 0.9 - n * 0.015, 0.0, 0.0) for n in range(20)
    ]
    ids = {r.short_id for r in [centre, *(nb.row for nb in found)]}
    text, labelled = draw_graph(centre, found, size)
    tokens = [t for line in text.splitlines()[1:] for t in re.findall(r"[0-9a-f]+", line)]
    assert set(tokens) <= ids, size  # no two ids run into one string
    assert sorted(tokens) == sorted(labelled), size
    assert len(set(tokens)) == len(tokens)  # none twice
    assert text.count("●") == len(found) and text.count("◉") == 1  # no label covers a node
    assert len(labelled) >= min(len(ids), 6), size  # most fit, even small


async def test_a_screenshot_is_saved_where_it_can_be_and_says_where(
    store: Memory, tmp_path: Path, monkeypatch
) -> None:
    """With no ~/Downloads, Textual's screenshot said only "Failed to save screenshot": it
    goes to the current folder then, ~/Downloads when there is one, and the toast says
    where (or, when no folder takes it, why)."""
    home, here = tmp_path / "home", tmp_path / "here"
    here.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_DOWNLOAD_DIR", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.chdir(here)

    async def screenshot(pilot: Pilot) -> None:
        await pilot.press("ctrl+p")
        await pilot.press(*"Screenshot")
        await pilot.pause(0.5)
        await keys(pilot, "enter")
        await pilot.pause(0.3)

    app = app_for(store)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await screenshot(pilot)
        (saved,) = here.glob("*.svg")
        assert notices(app)[-1] == f"saved a screenshot to {saved}"
        (home / "Downloads").mkdir(parents=True)
        await screenshot(pilot)
        (saved,) = (home / "Downloads").glob("*.svg")
        assert notices(app)[-1] == f"saved a screenshot to {saved}"
        gone = [tmp_path / "gone", tmp_path / "also-gone"]
        monkeypatch.setattr(app, "screenshot_folders", lambda: gone)
        assert app.save_screenshot_somewhere(None, None) is None
        await pilot.pause()
        assert notices(app)[-1] == (
            f"could not save the screenshot: {gone[0]}: No such file or directory; "
            f"{gone[1]}: No such file or directory"
        )


async def test_the_footer_offers_no_letter_keys_while_the_focus_is_in_a_text_box(
    store: Memory,
) -> None:
    """In the tag filter `+` is a character typed, not a rating: the footer offers only
    the keys that act there (and the keys list the same), and all of them again once
    the focus leaves the box."""
    from memrl.tui.screens.keys import key_table

    app = app_for(store)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        letters = {"rate", "archive", "edit", "search", "undo", "keys", "leave"}
        assert letters <= footer_actions(app)
        app.screen.query_one("#filter-tag", Input).focus()
        await keys(pilot, "plus")
        assert app.screen.query_one("#filter-tag", Input).value == "+"
        assert not letters & footer_actions(app)
        listed = {str(cell) for cell in key_table(app.screen).columns[0].cells}
        assert not {"+", "-", "/", "a", "q", "u"} & listed and "esc" in listed
        await keys(pilot, "backspace", "tab")
        assert letters <= footer_actions(app)
        await keys(pilot, "slash")  # search: its query box has the focus, its letters rest
        assert isinstance(app.screen, SearchScreen) and isinstance(app.focused, Input)
        assert not {"archive", "edit", "undo"} & footer_actions(app)


async def test_an_archived_episode_is_restored_with_a_and_u_archives_it_again(
    store: Memory,
) -> None:
    """On an archived episode `a` restores (the footer offers Restore, not Archive), as
    the palette does; u takes it back. + says what brings it back here, not the CLI."""
    target = store.list(limit=1)[0].id
    async with on_first_episode(store) as (app, pilot, _first):
        await keys(pilot, "enter", "a", "y")
        assert store.rows([target])[target].archived
        assert "restore" in footer_actions(app) and "archive" not in footer_actions(app)
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert "Restore" in titles and "Archive" not in titles
        assert "(archived: a restores it)" in rendered(app.screen.query_one("#episode-title"))
        await keys(pilot, "plus")
        assert notices(app)[-1].startswith(f"{target[:8]} is archived: u (undo) or a (restore)")
        await keys(pilot, "a")
        assert not store.rows([target])[target].archived
        assert notices(app)[-1] == f"restored {target[:8]} (u undoes)"
        assert "archive" in footer_actions(app) and "restore" not in footer_actions(app)
        await keys(pilot, "u")
        assert store.rows([target])[target].archived


async def test_the_archived_list_offers_no_ratings_and_plus_says_what_restores(
    store: Memory,
) -> None:
    """Archived episodes cannot be rated: on their list (A) the footer leaves + and - out,
    and + pressed there still says why and what brings the episode back."""
    store.archive([store.list(limit=1)[0].id])
    async with on_first_episode(store) as (app, pilot, _first):
        assert {"rate"} <= footer_actions(app)
        await keys(pilot, "A")
        assert table(app).total == 1
        assert not {"rate", "refuse_rate"} & footer_actions(app)
        assert "restore" in footer_actions(app)
        await keys(pilot, "plus")
        assert "is archived: " in notices(app)[-1] and "a (restore)" in notices(app)[-1]
        await keys(pilot, "A")  # the live ones again: + and - are back
        assert "rate" in footer_actions(app)


async def test_a_store_with_every_episode_archived_says_so_and_lists_them_to_restore(
    store: Memory,
) -> None:
    ids = [r.id for r in store.list(limit=None)]
    store.archive(ids)
    async with on_first_episode(store) as (app, pilot, _none):
        page = app.screen.query_one("#empty", Markdown)
        assert page.display
        text = page.source
        assert "Every episode is archived" in text and "5 archived episodes are kept" in text
        assert "Press **A**" in text and "Nothing remembered yet" not in text
        await keys(pilot, "A")
        assert not page.display and table(app).total == 5
        assert app.screen.sub_title.startswith("5 archived episodes · a restores")
        assert "restore" in footer_actions(app)
        target = table(app).current_id
        await keys(pilot, "a")
        assert not store.rows([target])[target].archived
        assert table(app).total == 4  # the list of archived ones, one fewer
        await keys(pilot, "A")
        assert table(app).total == 1 and table(app).current_id == target


async def test_marks_in_the_archived_list_stay_when_it_is_read_again(store: Memory) -> None:
    store.archive([r.id for r in store.list(limit=None)])
    async with on_first_episode(store) as (app, pilot, _none):
        await keys(pilot, "A", "space", "down", "space")
        marked = list(table(app).marked)
        assert len(marked) == 2
        table(app).load()  # as a change from another process reads it again
        await settle(pilot)
        assert list(table(app).marked) == marked


async def test_an_episode_merged_away_says_whole_what_it_was_merged_into(
    store: Memory,
) -> None:
    """At 120 columns the title line ends with what happened to the episode and what
    brings it back; a task too long to fit beside it is cut, with an ellipsis."""
    task = "Investigate why the nightly export job restores stale snapshots " * 2
    sources = [
        store.capture(episode(task=f"{task}{n}", summary="Pinned the snapshot id")).episode.id
        for n in (1, 2)
    ]
    merged = store.curation.merge(store.curation.merge_plan(sources))
    app = app_for(store)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.push_screen(EpisodeScreen(sources[0]))
        await settle(pilot)
        line = app.screen.query_one("#episode-title", Static)
        title = rendered(line)
        assert title.endswith(f"…  (archived, merged into {merged.short_id}: a restores it)")
        assert title.startswith(f"{sources[0][:8]}  Investigate why the nightly export")
        assert len(title) <= line.content_region.width
        assert app.screen.sub_title.endswith(f"merged into {merged.short_id}")


async def test_update_embeds_what_changed_and_rebuild_re_embeds_every_episode(
    store: Memory,
) -> None:
    """I updates the index (nothing to do on an index up to date, and it says so); the
    palette's "Rebuild the search index" re-embeds every episode, as its words say (it
    used to update only, "0 episodes embedded")."""

    async def result(pilot: Pilot) -> str:
        await settle(pilot)
        text = rendered(pilot.app.screen.query_one("#rebuild-result"))
        await keys(pilot, "enter")
        return text

    async with on_first_episode(store) as (_app, pilot, _first):
        await keys(pilot, "I")
        assert "the index was up to date, nothing to embed" in await result(pilot)
        await pilot.press("ctrl+p")
        await pilot.press(*"Rebuild the search index")
        await pilot.pause(0.5)
        await keys(pilot, "enter")
        assert "✓ done: 5 episodes embedded" in await result(pilot)
    assert store.index.health().problem is None


async def test_review_skips_the_rest_of_a_kind_in_one_step_and_says_what_was_seen(
    data_dir: Path,
) -> None:
    """At scale (1,376 stale findings) s one at a time is no way through: S skips every
    finding left of the current kind, u takes that back in one step. Leaving says how many
    were seen (a skip answers none), and k's pin says u undoes it, as the others do."""
    m = review_store(data_dir)
    unused = [r.id for r in m.list(limit=None) if r.task in ("Speed up the CI", "Dark mode")]
    app = app_for(m, start="review")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ReviewScreen)
        assert "skip_kind" not in footer_actions(app)  # one look-alike pair: s is enough
        await keys(pilot, "s")
        assert "skip_kind" in footer_actions(app)
        status = rendered(screen.query_one("#review-finding"))
        assert status.endswith("— S skips all 2 unused findings left")
        await keys(pilot, "S")
        assert screen.current is None
        assert rendered(screen.query_one("#review-finding")) == (
            "review finished: 3 findings — 3 skipped; nothing was changed"
        )
        await keys(pilot, "u")
        assert screen.position == 1
        await keys(pilot, "k")
        assert notices(app)[-1] == f"pinned {unused_pinned(m, unused)} (u undoes)"
        await keys(pilot, "ctrl+q")
    assert app.farewell == "memrl review: 2 of 3 findings seen — 1 kept pinned, 1 skipped"
    m.close()


def unused_pinned(m: Memory, ids: list[str]) -> str:
    (pinned,) = [i for i, r in m.rows(ids).items() if r.pinned]
    return pinned[:8]


async def test_keys_typed_in_the_same_burst_as_slash_land_in_the_search_box(
    store: Memory,
) -> None:
    """`/stripe` typed fast (or sent at once by a script) reached the screen it was typed
    on before the search had opened, and was lost: the box stayed empty. Keys sent in one
    go, without waiting for the app between them."""
    from textual.keys import _character_to_key

    def burst(app: MemrlApp, text: str) -> None:
        for character in text:
            app.post_message(events.Key(_character_to_key(character), character))

    async with on_first_episode(store) as (app, pilot, _first):
        burst(app, "/stripe")
        await settle(pilot)
        assert isinstance(app.screen, SearchScreen)
        assert app.screen.query_one(Input).value == "stripe"
        await keys(pilot, "down", "enter")  # an episode opened from the search
        assert isinstance(app.screen, EpisodeScreen)
        burst(app, "/ webhook")  # back to the search: none of e, b, o, k acts on the episode
        await settle(pilot)
        assert isinstance(app.screen, SearchScreen)
        assert app.screen.query_one(Input).value == "stripe webhook"
        assert app.focused is app.screen.query_one(Input)
        assert not notices(app)  # no letter ran a shortcut on the way


def test_a_change_of_utility_reads_as_the_cli_writes_it() -> None:
    """`from neighbours -0 pts` was a signed zero with a hyphen: nothing is `0 pts`, a
    fall has a minus sign, as `memrl history` writes them."""
    from memrl.tui.format import learned_line, pts
    from memrl.views import Learned

    def line(p: float) -> str:
        return learned_line(Learned(0.5 + p, 0.5, p, 1.0, 0.0, 0, 0, 0, 0, None, NOW)).plain

    assert "from neighbours 0 pts" in line(0.0)
    assert "from neighbours −0.4 pts" in line(-0.004)
    assert "from neighbours −<0.01 pts" in line(-1e-6)
    assert "from neighbours +2.0 pts" in line(0.02)
    assert [pts(x, unit=False) for x in (0.0, -0.008, 0.003)] == ["0", "−0.8", "+0.3"]


@pytest.mark.parametrize("size", [(40, 10), (60, 15), (80, 24), (120, 36)])
async def test_the_footer_shows_only_keys_that_fit_whole(
    store: Memory, size: tuple[int, int]
) -> None:
    """At 40x10 the key bar ended in a stray `/` (of `/ Search`, cut at the edge): a key
    that does not fit is left out whole; made wide again, they come back, palette too."""
    from textual.widgets._footer import FooterKey

    from memrl.tui.widgets.footer import Footer

    def shown(app: MemrlApp) -> list[FooterKey]:
        footer = app.screen.query_one(Footer)
        keys = [k for k in footer.query(FooterKey) if k.display]
        assert all(k.region.right <= footer.region.right for k in keys), size
        return keys

    app = app_for(store)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        assert shown(app)
        await pilot.resize_terminal(120, 36)
        await settle(pilot)
        keys_wide = shown(app)
        assert any(k.has_class("-command-palette") for k in keys_wide)
        assert {"rate", "archive", "edit", "search", "undo", "leave"} <= {
            k.action.partition("(")[0] for k in keys_wide
        }


async def test_a_cluster_of_many_look_alikes_shows_whole_cards_stepped_with_arrows(
    data_dir: Path,
) -> None:
    """Twenty look-alikes showed one card the width of the screen and no way to the others:
    cards keep a readable width, three whole ones on 120 columns, and → / ← step through."""
    m = Memory(data_dir, embedder=HashEmbedder(), clock=lambda: NOW)
    for _ in range(6):
        m.capture(episode(task="Rotate the TLS certs", summary="Renewed via certbot"))
    app = app_for(m, start="review")
    async with app.run_test(size=SIZE) as pilot:
        screen = await reviewing(pilot, app)
        main = screen.query_one("#review-main")
        cards = list(main.query(EpisodeDetail))
        assert len(cards) == 6
        seen = [c for c in cards if main.region.contains_region(c.region)]
        assert len(seen) == 3 and all(36 <= c.region.width <= 45 for c in cards)
        assert app.focused is cards[0] and "step" in footer_actions(app)
        await keys(pilot, "right", "right", "right")
        assert app.focused is cards[3] and main.region.contains_region(cards[3].region)
        await keys(pilot, "left")
        assert app.focused is cards[2] and main.region.contains_region(cards[2].region)
        for _ in range(3):  # quicker than focusing takes effect, as keys held in a terminal
            main.action_step(-1)
        await settle(pilot)
        assert app.focused is cards[0] and main.scroll_x == 0
        await keys(pilot, "right", "right", "right")
        for size in ((80, 24), SIZE):  # stacked, then side by side again: still in sight
            await pilot.resize_terminal(*size)
            await settle(pilot)
            assert app.focused is cards[3], size
            assert main.region.contains_point(cards[3].region.offset), size
        await keys(pilot, "k")  # the answer still works from a card
        assert m.curation.review().clusters == []
    m.close()


async def test_merging_many_shows_whole_cards_and_few_share_the_width(store: Memory) -> None:
    for n in range(3):
        store.capture(episode(task=f"More work {n}", summary=f"Did more {n}"))
    for marked, width in ((2, (55, 61)), (5, (36, 45))):
        app = app_for(store)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await keys(pilot, *["space", "down"] * marked, "m")
            assert isinstance(app.screen, MergeScreen)
            sources = app.screen.query_one("#merge-sources")
            cards = list(sources.query(EpisodeDetail))
            assert len(cards) == marked
            assert all(width[0] <= c.region.width <= width[1] for c in cards), [
                c.region.width for c in cards
            ]
            whole = sum(sources.region.contains_region(c.region) for c in cards)
            assert whole == min(marked, 3)  # side by side, each whole (the third was cut)
            await keys(pilot, "escape")


async def test_the_overview_draws_its_charts_on_a_small_terminal(data_dir: Path) -> None:
    """At 80x24 with eleven projects, the project table took the room and both charts
    were frames with no height: the charts keep room to be read, the projects scroll."""
    m = Memory(data_dir, embedder=HashEmbedder(), clock=lambda: NOW)
    for n in range(11):
        m.capture(episode(task=f"Task {n}", summary=f"Work {n}", project=f"team/p{n}"))
    app = app_for(m)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await keys(pilot, "o")
        await pilot.pause(0.3)
        for plot in ("#histogram", "#per-day"):
            assert app.screen.query_one(plot).region.height >= 9, plot
        projects = app.screen.query_one("#overview-projects", DataTable)
        assert projects.row_count == 11 and projects.region.height >= 6
        assert app.focused is projects and projects.max_scroll_y > 0  # the rest scroll
        footer = app.screen.query_one("Footer")
        assert projects.region.bottom <= footer.region.y  # nothing hidden under the keys
    m.close()


async def test_the_feedback_sessions_keys_wrap_on_80_columns(store: Memory) -> None:
    """At 80 columns the session's header was cut after `s` of `s skip · u undo`."""
    store.search("stripe webhook", log=True, limit=3)
    app = app_for(store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await keys(pilot, "f")
        progress = app.screen.query_one("#session-progress", Static)
        assert str(progress.render()).endswith("s skip · u undo")
        assert progress.region.height == 2  # all of it, on two lines
