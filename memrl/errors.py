"""Errors a user can act on. Every message says what went wrong and what to do."""

from __future__ import annotations


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

    def __init__(self, prefix: str, matches: list[str]) -> None:
        self.prefix = prefix
        self.matches = matches
        shown = ", ".join(m[:12] for m in matches[:10])
        more = f" and {len(matches) - 10} more" if len(matches) > 10 else ""
        super().__init__(
            f"'{prefix}' matches {len(matches)} episodes ({shown}{more}); "
            "give more characters of the id."
        )


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
