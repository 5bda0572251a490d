"""Commands that write and read single episodes: capture, list, show, edit, archive, restore."""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path
from typing import Any

import typer

from memrl.cli.common import (
    JsonOpt,
    ProjectOpt,
    bar,
    console,
    cut,
    err_console,
    fail,
    guarded,
    iso,
    note,
    note_unknown_project,
    open_memory,
    outcome_style,
    pct,
    print_changes,
    print_json,
    row_json,
    utility_style,
)
from memrl.views import age, ago, visible
from memrl.vocab import Outcome, TaskType

app = typer.Typer()

# A larger --limit lists them all (no store holds more): SQLite takes no number past 2**63.
LIST_MAX = 10**9
LIST_FIELDS = {"what_worked", "what_failed", "files", "commands", "tags"}
# Fields memrl keeps itself: `--set` cannot change them (pin and archive have commands).
FIXED_FIELDS = {
    "schema_version",
    "id",
    "created_at",
    "updated_at",
    "source",
    "merged_from",
    "redactions",
}


def _read_source(source: str) -> bytes:
    if source == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(source).read_bytes()
    except OSError as exc:
        raise fail(f"cannot read {source}: {exc.strerror}", 2) from None


@app.command()
@guarded
def capture(
    summary: str = typer.Option(None, "--summary", "-s", help="What was done (required)."),
    task: str = typer.Option(None, "--task", "-t", help="What was asked."),
    outcome: Outcome = typer.Option(None, "--outcome", "-o", help="How it ended."),
    worked: list[str] = typer.Option(None, "--worked", "-w", help="What worked (repeatable)."),
    failed: list[str] = typer.Option(None, "--failed", "-f", help="What failed (repeatable)."),
    error: list[str] = typer.Option(
        None, "--error", "-e", help="An error resolved, as 'error => resolution' (repeatable)."
    ),
    file: list[str] = typer.Option(None, "--file", help="A file touched (repeatable)."),
    command: list[str] = typer.Option(None, "--command", help="A command run (repeatable)."),
    tag: list[str] = typer.Option(None, "--tag", help="A tag (repeatable)."),
    task_type: TaskType = typer.Option(None, "--type", help="The kind of work."),
    project: str = typer.Option(None, "--project", "-p", help="Project (default: this repo)."),
    session: str = typer.Option(None, "--session", help="Claude Code session id."),
    source: str = typer.Option(
        None, "--from", help="Read a whole episode as JSON from a file, or '-' for stdin."
    ),
    extract_intent: bool = typer.Option(
        False, "--extract-intent", help="Fill task type and tags with Claude (falls back offline)."
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Store an episode and learn from it: indexed at once, credit given to what helped."""
    data: dict[str, Any] = parse_json(_read_source(source), source) if source else {}
    flags = {
        "summary": summary,
        "task": task,
        "outcome": outcome.value if outcome else None,
        "what_worked": worked or None,
        "what_failed": failed or None,
        "errors_resolved": error or None,  # "error => resolution", as the model reads it
        "files": file or None,
        "commands": command or None,
        "tags": tag or None,
        "task_type": task_type.value if task_type else None,
        "project": project,
        "session_id": session,
    }
    data.update({k: v for k, v in flags.items() if v is not None})
    if not data.get("summary"):
        raise fail("a summary is required: --summary 'what was done', or --from a JSON file", 2)
    memory = open_memory()
    result = memory.capture(data, source="cli", extract_intent=extract_intent)
    ep = result.episode
    start = result.start
    if as_json:
        from memrl.cli.common import change_json

        print_json(
            {
                "id": ep.id,
                "path": str(memory.store.path_for(ep)),
                "episode": ep.model_dump(mode="json"),
                "starts_at": round(start.after, 4) if start else None,
                "credit": [change_json(c) for c in result.credit],
                "propagation": [change_json(c) for c in result.propagation],
                "warnings": result.warnings,
            }
        )
        return
    from rich.markup import escape

    title = escape(visible(ep.title))
    console().print(f"[green]✓[/] captured [cyan]{ep.short_id}[/] — {title}")
    if ep.redactions:
        kinds = ", ".join(f"{n} {k}" for k, n in ep.redactions.items())
        note(f"redacted before storing: {kinds}")
    for w in result.warnings:
        note(w)
    if start is not None and pct(start.after) != pct(start.before):
        source = f" (most from {start.other_id[:8]})" if start.other_id else ""
        console().print(f"starts at {pct(start.after)} utility: similar episodes' evidence{source}")
    print_changes(result.credit, "temporal credit")
    print_changes(result.propagation, "propagated to neighbours")


def parse_json(raw: bytes, source: str) -> dict[str, Any]:
    from memrl.episode import TOO_DEEP
    from memrl.errors import InvalidInput

    source = "stdin" if source == "-" else source
    try:
        text = raw.decode("utf-8-sig")  # a byte-order mark (Windows editors) is fine
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            f"{source} is not valid UTF-8 (byte {exc.start}); save it as UTF-8"
        ) from None
    if not text.strip():
        raise InvalidInput(f"{source} is empty: give an episode as one JSON object")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        more = (  # a JSONL file, say an export: a line after the first object
            "; it holds one episode, as one JSON object (a file with one episode a line is "
            "for `memrl import`)"
            if exc.msg == "Extra data"
            else ""
        )
        raise InvalidInput(f"{source} is not valid JSON: {exc}{more}") from None
    except RecursionError:
        raise InvalidInput(f"{source} is not valid JSON ({TOO_DEEP})") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"{source} must hold one JSON object (an episode)")
    return data


def parse_since(value: str | None) -> float | None:
    if not value:
        return None
    from datetime import UTC, datetime

    from memrl.errors import InvalidInput

    m = re.fullmatch(r"(\d+)\s*([hdw])", value.strip())
    if m:
        n, unit = int(m.group(1)), m.group(2)
        return time.time() - n * {"h": 3600, "d": 86400, "w": 604800}[unit]
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            f"--since takes '7d', '12h', '2w' or a date like 2026-11-01, not '{value}'"
        ) from None
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp()


@app.command("list")
@guarded
def list_(
    project: str = ProjectOpt,
    tag: str = typer.Option(None, "--tag", help="Only episodes with this tag."),
    outcome: Outcome = typer.Option(None, "--outcome", "-o", help="Only this outcome."),
    since: str = typer.Option(None, "--since", help="Created since: 7d, 12h, 2w or a date."),
    limit: int = typer.Option(
        20, "--limit", "-n", min=1, callback=lambda n: min(n, LIST_MAX), help="At most this many."
    ),
    sort: str = typer.Option(
        "created",
        "--sort",
        help="created, updated, utility, retrievals, helpful, unhelpful (highest first); "
        "project, outcome, task (A to Z).",
    ),
    reverse: bool = typer.Option(False, "--reverse", "-r", help="The other way round."),
    archived: bool = typer.Option(False, "--archived", help="List archived episodes instead."),
    as_json: bool = JsonOpt,
) -> None:
    """List episodes, newest first. Reads the catalog (no model, no index), and checks the
    files of the episodes it shows: one broken or deleted by hand is left out, with why."""
    from memrl.reading import ALPHABETICAL
    from memrl.store import Filters, files

    memory = open_memory()
    filters = Filters(
        project=project,
        tag=tag,
        outcome=outcome.value if outcome else None,
        since=parse_since(since),
        archived=archived,
    )
    descending = (sort not in ALPHABETICAL) != reverse
    rows, skipped = memory.listed(filters, limit=limit, sort=sort, descending=descending)
    for said in skipped:
        note(said)
    if not rows and not archived:
        note_unknown_project(memory, project)
    if as_json:
        print_json([row_json(r) for r in rows])
        return
    if not rows:
        if memory.exists():
            msg = "No episodes match."
        elif (why := files.empty_store_note(memory.root)) != files.EMPTY_STORE:
            msg = why[0].upper() + why[1:] + "."  # an import under way, or files uncatalogued
        else:
            msg = "No episodes yet. Capture one: memrl capture --task '…' --summary '…'"
        console().print(f"[dim]{msg}[/]")
        return
    from rich.table import Table

    # In a narrow terminal the counts go first, then the project: the task keeps some room.
    width = console().width
    shown = {
        "project": not project and width >= 70,
        "used": width >= 100,
        "±": width >= 100,
        "outcome": width >= 56,
        "age": width >= 48,
    }
    columns: list[tuple[str, dict[str, Any]]] = [
        ("id", {"style": "cyan"}),
        ("project", {"max_width": 18, "overflow": "ellipsis"}),
        ("task", {"no_wrap": False}),  # the one column that narrows (see `cut`)
        ("outcome", {}),
        ("utility", {}),
        ("used", {"justify": "right"}),
        ("±", {"justify": "right"}),
        ("age", {"justify": "right"}),
    ]
    columns = [(name, kw) for name, kw in columns if shown.get(name, True)]
    table = Table(show_edge=False, pad_edge=False, title=project, title_justify="left")
    for name, kw in columns:
        table.add_column(name, **{"no_wrap": True, **kw})
    now = time.time()
    for r in rows:
        u = r.learned.utility
        cells: dict[str, Any] = {
            "id": r.short_id + (" 📌" if r.pinned else ""),
            "project": r.project,
            "task": cut(r.title),
            "outcome": f"[{outcome_style(r.outcome)}]{r.outcome}[/]",
            "utility": f"[{utility_style(u)}]{bar(u, 5)} {pct(u):>4}[/]",
            "used": str(r.learned.retrievals),
            "±": f"{r.learned.helpful}/{r.learned.unhelpful}",
            "age": age(r.created_at, now),
        }
        table.add_row(*(cells[name] for name, _kw in columns))
    console().print(table)
    total = memory.count(filters) - len(skipped)  # those left out are not to be shown
    if total > len(rows):
        console().print(f"[dim]{len(rows)} of {total}; --limit shows more[/]")


@app.command()
@guarded
def show(
    ref: str = typer.Argument(..., help="An id, a unique prefix (4+ characters) or 'latest'."),
    as_json: bool = JsonOpt,
) -> None:
    """Show one episode in full, with what memrl has learned about it."""
    memory = open_memory()
    view = memory.get(ref)
    ep, learned = view.episode, view.learned
    if as_json:
        # the episode's file, its short id (as `list` and `search` give it) and what was learned
        data = {"id": ep.id, "short_id": ep.short_id, **ep.model_dump(mode="json")}
        data["archived"] = view.archived
        data["merged_into"] = view.merged_into
        data["learning"] = {
            "utility": round(learned.utility, 4),
            "q": round(learned.q, 4),
            "p": round(learned.p, 4),
            "decay": round(learned.decay, 4),
            "confidence": round(learned.confidence, 4),
            "evidence": learned.evidence,
            "retrievals": learned.retrievals,
            "helpful": learned.helpful,
            "unhelpful": learned.unhelpful,
            "last_used_at": iso(learned.last_used_at),
        }
        print_json(data)
        return
    from rich.markup import escape
    from rich.panel import Panel
    from rich.table import Table

    ep = ep.shown()  # as it reads, for a person (JSON above keeps the bytes)
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()

    def add(label: str, value: str | None) -> None:
        if value:
            grid.add_row(label, value)

    add("id", ep.id)
    add("project", escape(ep.project))
    add(
        "created",
        ep.created_at.strftime("%Y-%m-%d %H:%M UTC")
        + f"  ({ago(ep.created_at.timestamp(), time.time())})",
    )
    add("outcome", f"[{outcome_style(ep.outcome.value)}]{ep.outcome.value}[/]")
    add("type", ep.task_type.value)
    add("task", escape(ep.task))
    add("summary", escape(ep.summary))
    add("worked", "\n".join(f"✓ {escape(w)}" for w in ep.what_worked))
    add("failed", "\n".join(f"✗ {escape(w)}" for w in ep.what_failed))
    add(
        "errors",
        "\n".join(
            f"{escape(e.error)}\n  → "
            + (escape(e.resolution) if e.resolution else "[dim](no resolution recorded)[/]")
            for e in ep.errors_resolved
        ),
    )
    add("files", escape(", ".join(ep.files)))
    add("commands", "\n".join(f"$ {escape(c)}" for c in ep.commands))
    add("tags", " ".join(f"#{t}" for t in ep.tags))
    add("session", ep.session_id)
    add("merged from", ", ".join(i[:8] for i in ep.merged_from))
    add("redacted", ", ".join(f"{n} {k}" for k, n in ep.redactions.items()))
    u = learned.utility
    add(
        "utility",
        f"[{utility_style(u)}]{bar(u)} {pct(u)}[/]  confidence {pct(learned.confidence)}"
        + (f"  decayed ×{learned.decay:.2f}" if learned.decay < 0.995 else "")
        + ("  📌 pinned" if ep.pinned else ""),
    )
    add(
        "used",
        f"retrieved {learned.retrievals}×, helpful {learned.helpful}, unhelpful {learned.unhelpful}",
    )
    title = f"[cyan]{ep.short_id}[/]" + ("  [red]archived[/]" if view.archived else "")
    if view.merged_into:
        title += f" [red]· merged into[/] [cyan]{view.merged_into[:8]}[/]"
    console().print(
        Panel(grid, title=title, title_align="left", subtitle=view.path, subtitle_align="right")
    )


def _coerce(field: str, value: str) -> Any:
    from memrl.episode import TOO_DEEP
    from memrl.errors import InvalidInput

    if field in LIST_FIELDS or field == "errors_resolved":
        try:
            parsed = json.loads(value)
            if isinstance(parsed, list):
                return parsed
        except json.JSONDecodeError:
            pass
        except RecursionError:
            raise InvalidInput(f"--set {field} is not valid JSON ({TOO_DEEP})") from None
        if field == "errors_resolved":
            return [v for v in value.split(";") if v.strip()]
        return [v.strip() for v in value.split(",") if v.strip()]
    if field == "pinned":  # read as config set and capture --from read a yes or no
        from pydantic import TypeAdapter, ValidationError

        try:
            return TypeAdapter(bool).validate_python(value.strip())
        except ValidationError:
            raise InvalidInput(
                f"--set pinned={value!r} is neither yes nor no: give true or false"
            ) from None
    return value


@app.command()
@guarded
def edit(
    ref: str = typer.Argument(..., help="An id, a unique prefix or 'latest'."),
    set_: list[str] = typer.Option(
        None,
        "--set",
        help="field=value (lists: comma-separated or JSON; errors_resolved: 'error => "
        "resolution' pairs separated by ';'). Repeatable.",
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Edit an episode in $EDITOR (validated on save), or set fields with --set."""
    from memrl.episode import Episode
    from memrl.errors import InvalidInput

    memory = open_memory()
    view = memory.get(ref, archived=False)  # an archived one: "`memrl restore` brings it back"
    if set_:
        changes: dict[str, Any] = {}
        for item in set_:
            field, sep, value = item.partition("=")
            field = field.strip().replace("-", "_")
            if not sep:
                raise InvalidInput(f"--set takes field=value, not '{item}'")
            editable = [f for f in Episode.model_fields if f not in FIXED_FIELDS]
            if field == "archived":
                raise InvalidInput(
                    "'archived' is changed by `memrl archive` and `memrl restore`, not --set"
                )
            if field not in editable:
                what = "kept by memrl" if field in FIXED_FIELDS else "not an episode field"
                raise InvalidInput(f"'{field}' is {what}; --set takes: {', '.join(editable)}")
            changes[field] = _coerce(field, value)
        ep = memory.update(view.episode.id, changes)
        from memrl.editing import unsaved

        if unsaved(memory.root, ep.id):
            note(
                f"a text of {ep.short_id} edited in $EDITOR and not saved is still kept, as it "
                f"was: `memrl edit {ep.short_id}` goes on with it"
            )
    else:
        if not _terminal():
            raise InvalidInput(
                "without --set, `memrl edit` opens $EDITOR, which needs a terminal; "
                "here, change fields with --set field=value"
            )
        ep = _edit_in_editor(memory, view.episode)
        if ep is None:
            console().print("[dim]no changes[/]")
            return
    if as_json:
        print_json(ep.model_dump(mode="json"))
    elif ep.updated_at == view.episode.updated_at:  # the values it holds already
        console().print("[dim]no changes[/]")
    else:
        console().print(f"[green]✓[/] saved [cyan]{ep.short_id}[/] and re-indexed")


def _terminal() -> bool:
    """Is a person at a terminal, to work in an editor and answer questions?"""
    return sys.stdin.isatty()


def _ask(question: str, *, default: bool) -> bool:
    """A yes/no question about an edit; Ctrl-C or the end of input answers no, so the text
    is kept as it is for a no, not lost with the process."""
    try:
        return typer.confirm(question, default=default)
    except typer.Abort:
        err_console().print()
        return False


def _edit_in_editor(memory: Any, episode: Any) -> Any:
    """Edit in $EDITOR; only what the person changed is written, never over another's edit.
    An edit that cannot be saved is kept, and the next `memrl edit` goes on with it."""
    from rich.markup import escape

    from memrl.editing import (
        drop_unsaved,
        edit_text,
        editor,
        give_up,
        given_up,
        keep_unsaved,
        unsaved,
    )
    from memrl.errors import Conflict, InvalidInput

    kept = unsaved(memory.root, episode.id)
    base, text = kept or (episode, episode.to_json())
    if kept:
        err_console().print("[dim]going on with your edit that was not saved[/]")
    while True:
        status, text = edit_text(text, prefix=f"memrl-{episode.short_id}-")
        if status != 0:
            raise InvalidInput(
                f"the editor ({editor()}) exited with status {status}; nothing was saved"
            )
        if given_up(text):  # nothing saved: said so, and not "no changes" after it
            console().print(f"[dim]{escape(give_up(memory.root, episode, kept=bool(kept)))}[/]")
            raise typer.Exit(0)
        if text == base.to_json():
            drop_unsaved(memory.root, episode.id)
            return None
        try:
            data = parse_json(text.encode("utf-8", errors="surrogateescape"), "the edited episode")
            was = base.model_dump(mode="json")
            fixed = sorted(k for k in FIXED_FIELDS if k in data and data[k] != was[k])
            if fixed:  # as --set refuses them, not dropped without a word
                raise InvalidInput(
                    f"{', '.join(fixed)} {'is' if len(fixed) == 1 else 'are'} kept by memrl "
                    "and cannot be edited: put back the value you changed"
                )
            left_out = [k for k in was if k not in data]
            try:
                saved = memory.update(episode.id, data, base=base)
            except Conflict as exc:
                fields = ", ".join(exc.fields)
                if not _terminal():
                    raise
                err_console().print(  # a question follows: nothing is decided yet
                    f"[yellow]{episode.short_id} was changed elsewhere while you edited it "
                    f"({escape(fields)}).[/]"
                )
                if not _ask(f"Save your {fields} over the other change?", default=False):
                    raise
                saved = memory.update(episode.id, data, base=base, force=True)
            drop_unsaved(memory.root, episode.id)
            if left_out:
                note(
                    f"left out of the text, so kept as they were: {', '.join(left_out)} "
                    '(to empty one, give it as "" or [])'
                )
            return saved
        except Conflict:
            keep_unsaved(memory.root, base, text)
            raise Conflict(
                f"{episode.short_id} was changed elsewhere while you edited it; nothing was "
                f"saved. Your text is kept: `memrl edit {episode.short_id}` goes on with it."
            ) from None
        except InvalidInput as exc:
            err_console().print(f"[red]{escape(str(exc))}[/]")
            if not _terminal() or not _ask("Edit again?", default=True):
                keep_unsaved(memory.root, base, text)
                raise InvalidInput(
                    "the edit was not valid; the stored episode is unchanged. Your text is "
                    f"kept: `memrl edit {episode.short_id}` goes on with it."
                ) from None


@app.command()
@guarded
def archive(
    refs: list[str] = typer.Argument(..., help="Ids or prefixes."),
    as_json: bool = JsonOpt,
) -> None:
    """Move episodes to archive/ (soft delete; `memrl restore` brings them back)."""
    already: list[str] = []
    moved = open_memory().archive(refs, unchanged=already)
    for i in already:
        note(f"{i[:8]} is archived already: left as it is.")
    if as_json:
        print_json({"archived": [e.id for e in moved], "unchanged": already})
        return
    for e in moved:
        console().print(f"[yellow]archived[/] [cyan]{e.short_id}[/] {e.title}")


@app.command()
@guarded
def restore(
    refs: list[str] = typer.Argument(
        ..., help="Ids or prefixes of archived episodes, or 'latest': the one archived last."
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Bring archived episodes back into the store and the index."""
    memory = open_memory()
    already: list[str] = []
    moved = memory.restore(refs, unchanged=already)
    for i in already:
        note(f"{i[:8]} is not archived: left as it is.")
    for said in memory.counted_twice(moved):
        note(said)
    if as_json:
        print_json({"restored": [e.id for e in moved], "unchanged": already})
        return
    for e in moved:
        console().print(f"[green]restored[/] [cyan]{e.short_id}[/] {e.title}")
