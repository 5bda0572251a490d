"""The undo stack: every change the TUI makes records how to reverse it through the core."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from memrl.memory import Memory


@dataclass(slots=True)
class Undo:
    label: str  # "archive 3e1f0a2b", shown when it is undone
    apply: Callable[[Memory], object]  # may return the sentence to show
    restores: Sequence[str] = ()  # the archived episodes it brings back
    seq: int = 0  # its place among every undo pushed (UndoStack.pushed), set on push


class UndoStack:
    def __init__(self, limit: int = 50) -> None:
        self._items: list[Undo] = []
        self.limit = limit
        self.pushed = 0  # undos pushed so far: a screen notes it to tell its own from older ones

    def push(self, item: Undo) -> None:
        self.pushed += 1
        item.seq = self.pushed
        self._items.append(item)
        del self._items[: -self.limit]

    def pop(self) -> Undo | None:
        return self._items.pop() if self._items else None

    def since(self, seq: int) -> list[Undo]:
        """Those pushed after the `seq`-th and still here (not undone), oldest first."""
        return [item for item in self._items if item.seq > seq]

    def peek(self) -> Undo | None:
        """What `u` would undo next."""
        return self._items[-1] if self._items else None

    def remove(self, item: Undo) -> bool:
        """Take this one off the stack, to undo it out of turn (a screen's own step back);
        False if it is no longer there (undone already, or fallen off the end)."""
        for n, other in enumerate(self._items):
            if other is item:
                del self._items[n]
                return True
        return False

    def __len__(self) -> int:
        return len(self._items)
