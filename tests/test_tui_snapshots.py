"""Snapshot tests: every main screen of the TUI, from a seeded demo store at a fixed time;
and the pilot tests that need the demo story itself (its propagation graph).

Update after a deliberate change with `pytest tests/test_tui_snapshots.py --snapshot-update`
and look at the report before committing the new SVGs.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import pytest

from memrl.tui.scenes import FIXED_NOW, SCENES, Scene, settle
from memrl.tui.screenshots import make_app, seed_fixed


@pytest.fixture(autouse=True)
def colour(monkeypatch: pytest.MonkeyPatch) -> None:
    """Snapshots in colour, as people see the app (the suite sets NO_COLOR for the CLI)."""
    monkeypatch.delenv("NO_COLOR", raising=False)


@pytest.fixture(scope="session")
def demo_seed(tmp_path_factory: pytest.TempPathFactory, models_dir: Path) -> Path:
    """The demo story, seeded once per test process with the real bundled model."""
    root = tmp_path_factory.mktemp("demo") / "store"
    old = os.environ.get("MEMRL_MODELS_DIR")
    os.environ["MEMRL_MODELS_DIR"] = str(models_dir)
    try:
        seed_fixed(root)
    finally:
        if old is None:
            os.environ.pop("MEMRL_MODELS_DIR", None)
        else:
            os.environ["MEMRL_MODELS_DIR"] = old
    return root


@pytest.fixture
def demo_root(demo_seed: Path, tmp_path: Path) -> Path:
    root = tmp_path / "demo-store"
    shutil.copytree(demo_seed, root)
    return root


@pytest.mark.parametrize("scene", SCENES, ids=lambda s: s.name)
def test_screen(scene: Scene, demo_root: Path, snap_compare) -> None:
    assert snap_compare(make_app(demo_root), run_before=scene.run, terminal_size=scene.size)


def test_empty_store(data_dir: Path, snap_compare) -> None:
    from memrl.memory import Memory
    from memrl.tui.app import MemrlApp

    app = MemrlApp(Memory(data_dir, clock=lambda: FIXED_NOW), poll_interval=0)
    assert snap_compare(app, run_before=settle, terminal_size=(120, 36))


def test_faults(demo_root: Path, snap_compare) -> None:
    """A corrupt file is an error row, a missing index a banner naming the fix."""
    from memrl.demo import demo_id

    path = next(demo_root.glob(f"episodes/*/{demo_id('grafana')}.json"))
    path.write_text("{ this is not json", encoding="utf-8")
    shutil.rmtree(demo_root / "vectors")
    assert snap_compare(make_app(demo_root), run_before=settle, terminal_size=(120, 36))


def test_graph_neighbours_open_by_keyboard(demo_root: Path) -> None:
    """g opens the graph with the neighbours list focused; down, enter opens the next one."""
    from memrl.demo import demo_id
    from memrl.tui.screens.episode import EpisodeScreen

    start = demo_id("webhook-retry")

    async def run() -> None:
        app = make_app(demo_root)
        async with app.run_test(size=(120, 36)) as pilot:
            await settle(pilot)
            assert app.screen.table.select(start)
            await pilot.press("g")
            await settle(pilot)
            screen = app.screen
            assert isinstance(screen, EpisodeScreen) and screen.episode_id == start
            assert len(screen.found) >= 2
            assert app.focused is screen.query_one("#neighbours")
            target = screen.found[1].row
            await pilot.press("down", "enter")
            await settle(pilot)
            assert isinstance(app.screen, EpisodeScreen) and app.screen.episode_id == target.id
            title = str(app.screen.query_one("#episode-title").render())
            assert target.short_id in title
            assert app.focused is app.screen.query_one("#neighbours")  # walk on from here
            await pilot.press("escape")
            await settle(pilot)
            assert app.screen is screen
            await pilot.press("1", "tab")  # details, then the tabs themselves
            await settle(pilot)
            await pilot.press("3")
            await settle(pilot)
            assert app.focused is screen.query_one("#neighbours")

    asyncio.run(run())
