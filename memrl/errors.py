"""Errors a user can act on. Every message says what went wrong and what to do."""

from __future__ import annotations

from itertools import pairwise


class MemrlError(Exception):
    """Base class: the message is shown to the user as is."""

    exit_code = 1


class InvalidInput(MemrlError):
    """The user gave something memrl cannot accept (bad field, bad value, bad file)."""

    exit_code = 2


class NotFound(MemrlError):
    """An id or prefix matches no episode."""

    exit_code = 3


class Ambiguous(MemrlError):
    """A prefix matches several episodes."""

    exit_code = 3

    def __init__(self, prefix: str, matches: list[str], total: int | None = None) -> None:
        self.prefix = prefix
        self.matches = matches
        total = max(total or 0, len(matches))
        some = matches[:10]
        # as many characters as tell the ones shown apart (ids imported from elsewhere can
        # share more than the 8 that memrl's own never share)
        width = max([8, *(_shared(a, b) + 1 for a, b in pairwise(some))])
        shown = ", ".join(m[:width] for m in some)
        more = f" and {total - len(some):,} more" if total > len(some) else ""
        super().__init__(
            f"'{prefix}' matches {total:,} episodes ({shown}{more}); "
            "give more characters of the id."
        )


def _shared(a: str, b: str) -> int:
    """How many leading characters `a` and `b` have in common."""
    return next((n for n, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), len(a))


class ConfigError(MemrlError):
    """config.toml or an environment override is invalid."""

    exit_code = 2


class Conflict(MemrlError):
    """The episode was changed elsewhere while it was being edited; nothing was saved."""

    exit_code = 8

    def __init__(self, message: str, fields: list[str] | None = None) -> None:
        super().__init__(message)
        self.fields = fields or []


class CorruptFile(MemrlError):
    """An episode file that no longer holds a valid episode (a hand edit gone wrong, a
    damaged disk). Exit 1, as `memrl status` reports it: what the user typed was fine."""


class StoreError(MemrlError):
    """The data directory cannot be read or written."""

    exit_code = 4


class IndexUnavailable(MemrlError):
    """The search index is missing, foreign or broken; `memrl index` repairs it."""

    exit_code = 5


class ModelUnavailable(MemrlError):
    """The embedding model cannot be loaded."""

    exit_code = 6
