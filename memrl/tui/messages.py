"""Messages that widgets post up to their screens, and the app posts to the active screen."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from memrl.store import Filters


@dataclass
class StoreChanged(Message):
    """Something (this app, or another process) wrote to the store: refresh what is shown."""


@dataclass
class EpisodeHighlighted(Message):
    """The cursor moved onto an episode (None: onto nothing, or onto an unreadable file)."""

    episode_id: str | None
    problem: str | None = None


@dataclass
class EpisodeChosen(Message):
    """Enter on an episode: open it."""

    episode_id: str


@dataclass
class FiltersChanged(Message):
    filters: Filters
