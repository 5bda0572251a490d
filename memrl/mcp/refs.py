"""Episode ids as Claude gives them, checked before a tool acts on them.

The core's messages about a bad id speak to the command line (`memrl list`, `memrl
restore`, 'latest' for the newest episode in the store). Here every id is checked first,
so Claude hears about the ids memrl_retrieve shows and about 'last', and, for an episode
merged away, which episode holds what it knew now. 'latest' is refused: in a session it
reads like "what I just retrieved", but it names the newest episode in the store, which
may be another session's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from memrl.episode import MIN_PREFIX
from memrl.errors import Ambiguous, InvalidInput, NotFound

if TYPE_CHECKING:
    from memrl.memory import Memory

LAST = "last"
_HEX = frozenset("0123456789abcdef-")


def live_ids(memory: Memory, refs: Sequence[str], *, use: str | None, last: bool) -> list[str]:
    """The full ids of live episodes, in order and without repeats; with `last`, 'last' is
    kept as is for the core to expand. `use` ("rate", "merge") says what to do with an
    archived episode's successor. Every problem is named at once, and nothing is changed."""
    ids: dict[str, None] = {}
    problems: list[str] = []
    for ref in refs:
        key = ref.strip().lower()
        if last and key == LAST:
            ids.setdefault(LAST, None)
        elif key in ("latest", "last-captured"):
            problems.append(
                f"'{ref.strip()}' names the newest episode in the store, perhaps another "
                "session's, so it is not taken here"
            )
        elif len(key) < MIN_PREFIX or not set(key) <= _HEX:
            problems.append(f"'{ref.strip()}' is not an episode id")
        else:
            try:
                ids.setdefault(memory.resolve(key, archived=None), None)
            except (NotFound, Ambiguous) as exc:
                problems.append(str(exc).rstrip("."))
    unknown = bool(problems)
    found = [i for i in ids if i != LAST]
    archived = [i for i, row in memory.rows(found).items() if row.archived]
    successors = memory.merged_into(archived)
    for i in archived:
        if i in successors:
            into = successors[i][:8]
            then = f"; {use} {into} instead" if use else ""
            problems.append(f"{i[:8]} was merged into {into}{then}")
        else:
            problems.append(f"{i[:8]} is archived: it no longer shows in searches")
    if problems:
        ask = ""
        if unknown:
            ask = " Give the 8-character ids memrl_retrieve shows (or a unique prefix of 4+)"
            if last:
                ask += ", or 'last' for everything this session's last memrl_retrieve returned"
            ask += "."
        raise InvalidInput("; ".join(problems) + f".{ask} Nothing was changed.")
    return list(ids)
