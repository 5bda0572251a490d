"""The main screens of the TUI, each reachable from a seeded demo store by a few steps.

One definition serves the snapshot tests and the README's screenshots:
`python -m memrl.tui.screenshots [DIR]` saves one SVG per scene.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from textual.pilot import Pilot
from textual.widgets import Input, TextArea

from memrl.demo import demo_id

# 2026-11-01 10:00 UTC: the demo store's "now", so ages and decay never change.
FIXED_NOW = datetime(2026, 11, 1, 10, 0, tzinfo=UTC).timestamp()
SIZE = (120, 36)


async def settle(pilot: Pilot, delay: float = 0.08) -> None:
    """Wait until workers are done and the screen has caught up with them."""
    await pilot.pause()
    for _ in range(10):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause(delay)
        if not any(w.is_running for w in pilot.app.workers):
            break
    for widget in pilot.app.screen.query("Input, TextArea"):
        assert isinstance(widget, Input | TextArea)
        widget.cursor_blink = False  # a blinking cursor would make pictures differ
        widget.notify_style_update()  # TextArea keeps lines drawn while the cursor was off
        widget.refresh()
    await pilot.pause()


async def browse(pilot: Pilot) -> None:
    await settle(pilot)
    await pilot.press("down", "down")
    await settle(pilot)


async def search(pilot: Pilot) -> None:
    await settle(pilot)
    await pilot.press("slash")
    await pilot.press(*"stripe webhook signature")
    await pilot.pause(0.4)
    await settle(pilot)
    await pilot.press("down")
    await settle(pilot)


def _episode(key: str, tab: str) -> Callable[[Pilot], Awaitable[None]]:
    async def scene(pilot: Pilot) -> None:
        from memrl.tui.screens.episode import EpisodeScreen

        await settle(pilot)
        pilot.app.push_screen(EpisodeScreen(demo_id(key), tab=tab))
        await settle(pilot)

    return scene


async def edit(pilot: Pilot) -> None:
    from textual.widgets import TextArea

    from memrl.tui.screens.edit import EditScreen

    await settle(pilot)
    pilot.app.push_screen(EditScreen(demo_id("pg-deadlock")))
    await settle(pilot)
    pilot.app.screen.query_one("#f-summary", TextArea).text = ""  # shows the inline error
    await settle(pilot)


async def feedback(pilot: Pilot) -> None:
    await settle(pilot)
    await pilot.press("f")
    await settle(pilot)


async def merge(pilot: Pilot) -> None:
    from memrl.tui.screens.merge import MergeScreen

    await settle(pilot)
    pilot.app.push_screen(MergeScreen([demo_id("webhook-retry"), demo_id("webhook-retry-2")]))
    await settle(pilot)


async def prune(pilot: Pilot) -> None:
    await settle(pilot)
    await pilot.press("P")
    await settle(pilot)
    await pilot.press("down", "space")  # deselect one
    await settle(pilot)


async def review(pilot: Pilot) -> None:
    await settle(pilot)
    await pilot.press("r")
    await settle(pilot)


async def overview(pilot: Pilot) -> None:
    await settle(pilot)
    await pilot.press("o")
    await settle(pilot)


async def archive_confirm(pilot: Pilot) -> None:
    await settle(pilot)
    await pilot.press("a")
    await settle(pilot)


async def keys(pilot: Pilot) -> None:
    await settle(pilot)
    await pilot.press("question_mark")
    await settle(pilot)


@dataclass(frozen=True)
class Scene:
    name: str
    run: Callable[[Pilot], Awaitable[None]]
    size: tuple[int, int] = SIZE
    readme: bool = True  # one of the README's screenshots


SCENES = [
    Scene("browse", browse),
    Scene("search", search),
    Scene("episode", _episode("k8s-oom", "details")),
    Scene("utility", _episode("k8s-oom", "utility")),
    Scene("graph", _episode("webhook-retry", "graph")),
    Scene("edit", edit),
    Scene("feedback", feedback),
    Scene("merge", merge),
    Scene("prune", prune),
    Scene("review", review),
    Scene("overview", overview),
    Scene("archive-confirm", archive_confirm, readme=False),
    Scene("keys", keys, readme=False),
    Scene("browse-80x24", browse, size=(80, 24), readme=False),
]
