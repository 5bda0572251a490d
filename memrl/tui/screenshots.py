"""Save an SVG screenshot of each main screen, from a seeded demo store at a fixed time.

    python -m memrl.tui.screenshots [DIR] [--all]

DIR defaults to `screenshots/`. The README's pictures are made this way; `--all` adds the
extra scenes the snapshot tests also cover (confirmation, key help, 80×24).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import tempfile
from pathlib import Path

from memrl import config
from memrl.tui.scenes import FIXED_NOW, SCENES, Scene


def seed_fixed(root: Path, embedder=None) -> None:
    """A demo store whose clock stands still at FIXED_NOW."""
    from memrl.demo import seed_demo
    from memrl.memory import Memory

    memory = Memory(root, clock=lambda: FIXED_NOW, embedder=embedder)
    seed_demo(memory)
    memory.close()


def make_app(root: Path, embedder=None):
    from memrl.memory import Memory
    from memrl.tui.app import MemrlApp

    memory = Memory(root, clock=lambda: FIXED_NOW, embedder=embedder)
    return MemrlApp(memory, poll_interval=0)


async def shoot(scene: Scene, root: Path, out: Path) -> Path:
    app = make_app(root)
    async with app.run_test(size=scene.size) as pilot:
        await scene.run(pilot)
        svg = app.export_screenshot(title=f"memrl tui — {scene.name}")
    path = out / f"{scene.name}.svg"
    path.write_text(svg, encoding="utf-8")
    return path


def readme_snippet(folder: str = "screenshots") -> str:
    lines = ["| | |", "|---|---|"]
    shots = [s for s in SCENES if s.readme]
    for left, right in zip(shots[::2], [*shots[1::2], None], strict=False):
        cell = lambda s: f"![{s.name}]({folder}/{s.name}.svg)<br>**{s.name}**" if s else ""  # noqa: E731
        lines.append(f"| {cell(left)} | {cell(right)} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m memrl.tui.screenshots", description=__doc__)
    parser.add_argument("folder", nargs="?", default="screenshots")
    parser.add_argument("--all", action="store_true", help="also the extra test scenes")
    args = parser.parse_args()
    out = Path(args.folder)
    out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("MEMRL_MODELS_DIR", str(config.models_dir(config.data_dir())))
    work = Path(tempfile.mkdtemp(prefix="memrl-shots-"))
    try:
        seeded = work / "seed"
        seed_fixed(seeded)
        for scene in SCENES:
            if not (scene.readme or args.all):
                continue
            root = work / scene.name
            shutil.copytree(seeded, root)
            print(asyncio.run(shoot(scene, root, out)))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("\nREADME snippet:\n")
    print(readme_snippet(args.folder.rstrip("/")))


if __name__ == "__main__":
    main()
