"""Snapshot tests: every main screen of the TUI, from a seeded demo store at a fixed time.

Update after a deliberate change with `pytest tests/test_tui_snapshots.py --snapshot-update`
and look at the report before committing the new SVGs.
"""

from __future__ import annotations

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
