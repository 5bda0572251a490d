"""The undo stack: every change the TUI makes records how to reverse it through the core."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from memrl.memory import Memory


@dataclass(slots=True)
class Undo:
    label: str  # "archive 3e1f0a2b", shown when it is undone
    apply: Callable[[Memory], object]  # may return the sentence to show


class UndoStack:
    def __init__(self, limit: int = 50) -> None:
        self._items: list[Undo] = []
        self.limit = limit

    def push(self, item: Undo) -> None:
        self._items.append(item)
        del self._items[: -self.limit]

    def pop(self) -> Undo | None:
        return self._items.pop() if self._items else None

    def __len__(self) -> int:
        return len(self._items)
