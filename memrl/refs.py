"""Episode ids as a person or Claude gives them to rate or merge, checked before anything
changes, every problem named at once.

The core resolves an id alone; here a list is checked for what a front-end must say
before it acts: 'last' (the hits of the latest search) kept for the core to expand;
'latest' refused, since next to 'last' it reads like "what I just retrieved" but names
the newest episode in the store, perhaps another session's; an episode merged away names
the one that holds what it knew now; an episode whose file has gone, or no longer reads
(a hand edit gone wrong), is refused as `show` refuses it. Each front-end says in `ask` which ids it shows.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from memrl.episode import MIN_PREFIX
from memrl.errors import Ambiguous, CorruptFile, InvalidInput, NotFound

if TYPE_CHECKING:
    from memrl.memory import Memory

LAST = "last"
_HEX = frozenset("0123456789abcdef-")
_ID_LIKE = re.compile(r"[0-9a-f-]{4,36}")


def looks_like_id(query: str) -> bool:
    """Whether a search query may be an episode id: hex (dashes allowed), 4 to 36
    characters, with a digit or at least 8 long, so everyday words made of the letters
    a–f ("cafe", "decade") are searched, not taken for ids."""
    q = query.strip().lower()
    return bool(_ID_LIKE.fullmatch(q)) and (
        len(q.replace("-", "")) >= 8 or any(c.isdigit() for c in q)
    )


def named_episode(memory: Memory, query: str, several: list[str] | None = None) -> str | None:
    """The episode a search query names by its id or a unique prefix of it (archived ones
    too), or None: error codes such as "80070005" look like ids and are searched as text.
    A prefix of several ids names none; they are added to `several`, when given."""
    if not looks_like_id(query):
        return None
    try:
        return memory.resolve(query, archived=None)
    except NotFound:
        return None
    except Ambiguous as exc:
        if several is not None:
            several += sorted(exc.matches)
        return None


def live_ids(
    memory: Memory,
    refs: Sequence[str],
    *,
    use: str | None,
    last: bool,
    ask: str,
    restore: str = "",
    through_merges: bool = False,
) -> list[str]:
    """The full ids of live episodes, in order and without repeats; with `last`, 'last' is
    kept as is for the core to expand. `use` ("rate", "merge") says what to do with an
    archived episode's successor; `ask` which ids to give, said after one that cannot be
    taken. Raises NotFound when an id matches nothing, is archived or its file has gone, else
    InvalidInput; nothing is changed. `restore` says how an archived one comes back, with
    `{id}` for its short id ('' where the front-end cannot restore); to "archive", an archived
    one is already archived, whatever holds it now. With `through_merges`
    (a rating), an id merged away is kept as it is, for the core to rate the episode that
    holds it now (as it rates a hit of 'last' merged since), whose file is checked instead."""
    ids: dict[str, None] = {}
    problems: list[str] = []
    unknown = False  # an id that matches no episode, or one too many
    refused = False  # 'latest'
    for ref in refs:
        key = ref.strip().lower()
        if last and key == LAST:
            ids.setdefault(LAST, None)
        elif key in ("latest", "last-captured"):
            problems.append(
                f"'{ref.strip()}' names the newest episode in the store, perhaps another "
                "session's, so it is not taken here"
            )
            refused = True
        elif len(key) < MIN_PREFIX or not set(key) <= _HEX:
            problems.append(f"'{ref.strip()}' is not an episode id")
            unknown = True
        else:
            try:
                ids.setdefault(memory.resolve(key, archived=None), None)
            except (NotFound, Ambiguous) as exc:
                problems.append(str(exc).rstrip("."))
                unknown = True
    found = [i for i in ids if i != LAST]
    rows = memory.rows(found)
    archived = [i for i, row in rows.items() if row.archived]
    if through_merges and (holders := memory.merged_into(archived)):
        archived = [i for i in archived if i not in holders]
        rows |= memory.rows([i for i in holders.values() if i not in rows])
    gone = [
        i for i, row in rows.items() if not row.archived and not (memory.root / row.path).is_file()
    ]
    for i in gone:
        problems.append(
            f"the file of {i[:8]} has gone (deleted by another process or by hand); "
            "run `memrl index` to bring the catalog up to date"
        )
    # a hand edit gone wrong: nothing is done with it until it reads again
    broken = memory.store.unreadable(
        [i for i, r in rows.items() if not r.archived and i not in gone]
    )
    problems += [f"{i[:8]}: {str(exc).rstrip('.')}" for i, exc in broken.items()]
    successors = memory.merged_into(archived) if use != "archive" else {}
    merged: dict[str, list[str]] = {}  # each successor with the ids merged into it, said once
    for i in archived:
        if i in successors:
            merged.setdefault(successors[i][:8], []).append(i[:8])
        elif use == "archive":
            problems.append(f"{i[:8]} is already archived")
        else:
            back = f" ({restore.format(id=i[:8])})" if restore else ""
            problems.append(f"{i[:8]} is archived: it no longer shows in searches{back}")
    for into, sources in merged.items():
        then = f"; {use} {into} instead" if use else ""
        were = "was" if len(sources) == 1 else "were"
        problems.append(f"{' and '.join(sources)} {were} merged into {into}{then}")
    if problems:
        error = NotFound if unknown or gone or archived else CorruptFile if broken else InvalidInput
        told = f" {ask}" if unknown or refused else ""
        raise error("; ".join(problems) + f".{told} Nothing was changed.")
    return list(ids)
