"""Store administration: init, index, status, config, export, import."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NoReturn

import typer

from memrl.cli.common import (
    JsonOpt,
    ProjectOpt,
    console,
    err_console,
    fail,
    guarded,
    note,
    note_unknown_project,
    open_memory,
    print_json,
)
from memrl.views import human_size, plural

if TYPE_CHECKING:
    from memrl.integrations.claude.health import HooksHealth

app = typer.Typer()
config_app = typer.Typer(help="Show, read and change settings (config.toml).", no_args_is_help=True)
app.add_typer(config_app, name="config")


@contextmanager
def _progress(description: str, checking: str = "") -> Iterator[Callable[[int, int], None]]:
    """A progress bar on stderr; yields its update(done, total).

    In a terminal it shows from the start (the input is checked before the first count)
    and goes away if there was nothing to do; in a log it is written once, if there was.
    With `checking`, updates of no total count what is checked first (`checking 4000/?`).
    """
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    console = err_console()
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(elapsed_when_finished=True),  # the time it took, once done
        console=console,
    )
    task = progress.add_task(checking or description, total=None)
    worked = False

    def update(done: int, total: int) -> None:
        nonlocal worked
        if not total:
            if checking:
                progress.update(task, completed=done)
            return
        if not worked:
            worked = True
            if not progress.live.is_started:
                progress.start()
        progress.update(task, description=description, completed=done, total=total)

    if console.is_terminal:
        progress.start()
    try:
        yield update
    finally:
        if progress.live.is_started:
            progress.live.transient = not worked
            progress.stop()


@app.command()
@guarded
def init(as_json: bool = JsonOpt) -> None:
    """Create the data directory and config.toml, and load the embedding model once."""
    import time

    from memrl import config
    from memrl.store.files import atomic_write_text, check_writable, explain

    root = config.data_dir()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise explain(exc, root) from None
    check_writable(root)
    cfg = root / config.CONFIG_FILE
    created = not cfg.exists()
    if created:
        atomic_write_text(cfg, config.commented_template())
    memory = open_memory()
    memory.ledger.data_version()  # creates the ledger
    if not as_json:
        console().print(
            f"Data directory: [bold]{root}[/]" + (" (created config.toml)" if created else "")
        )
        console().print("Loading embedding model…")
    started = time.perf_counter()
    embedder = memory.embedder
    embedder.embed(["warm up"])
    seconds = time.perf_counter() - started
    if as_json:
        print_json(
            {
                "data_dir": str(root),
                "config": str(cfg),
                "config_created": created,
                "model": memory.model.label,
                "model_id": embedder.model_id,
                "dim": embedder.dim,
                "load_seconds": round(seconds, 3),
            }
        )
        return
    console().print(
        f"Embedding model loaded: [bold]{memory.model.label}[/], "
        f"{embedder.dim} dimensions ({seconds:.1f} s)"
    )
    console().print("Next: memrl capture --task '…' --summary '…', then memrl search '…'")


@app.command()
@guarded
def index(
    rebuild: bool = typer.Option(False, "--rebuild", help="Re-embed every episode from scratch."),
    as_json: bool = JsonOpt,
) -> None:
    """Bring the search index up to date with the episode files (only what changed)."""
    from memrl import maintenance

    memory = open_memory()
    with _progress("embedding") as update:
        disk, report = maintenance.sync_index(memory, rebuild=rebuild, progress=update)
    if as_json:
        print_json(
            {
                "new_files": len(disk.new),
                "changed_files": len(disk.changed),
                "vanished_files": len(disk.vanished),
                "unreadable": [{"path": p, "error": e} for p, e in disk.corrupt],
                "embedded": report.embedded,
                "rebuilt": report.rebuilt,
                "propagated": report.propagated,
                "rows": report.health.rows,
                "fresh": report.fresh,
            }
        )
        return
    for path, why in disk.corrupt:
        note(f"skipped unreadable {_unreadable(memory.root, path, why)}")
    verb = "rebuilt" if report.rebuilt else "updated"
    console().print(
        f"[green]✓[/] index {verb}: {plural(report.health.rows, 'episode')}, "
        f"{report.embedded:,} embedded"
        + (f", {plural(len(disk.new), 'new file')}" if disk.new else "")
        + (f", {len(disk.vanished)} vanished" if disk.vanished else "")
    )
    if report.propagated is not None:  # a new graph: the value spread over it is recomputed
        console().print(
            f"  propagation re-run: {plural(report.propagated, 'utility', 'utilities')} changed"
        )
    if report.health.problem:
        raise fail(report.health.problem, 5)


@app.command()
@guarded
def status(as_json: bool = JsonOpt) -> None:
    """Store health: counts, index freshness, model, unreadable files, size, hooks.

    Says whether Claude Code's hooks are installed and have failed lately."""
    from rich.text import Text

    from memrl import config, maintenance
    from memrl.errors import ConfigError
    from memrl.integrations.claude import health

    try:
        memory = open_memory()
    except ConfigError as exc:  # every hook fails too: say what they have lost meanwhile
        _status_without_settings(exc, health.check(config.data_dir()), as_json)
    st = maintenance.status(memory)
    hooks = health.check(memory.root)
    ix = st.index
    disk = st.disk
    healthy = st.index_current and not disk.corrupt and not st.unwritable and not st.model_problem
    if as_json:
        print_json(
            {
                "data_dir": st.data_dir,
                "episodes": st.episodes,
                "archived": st.archived,
                "projects": st.projects,
                "model": st.model,
                "model_id": st.model_id,
                "model_problem": st.model_problem,
                "index": {
                    "exists": ix.health.exists,
                    "rows": ix.health.rows,
                    "model": ix.health.model,
                    "dim": ix.health.dim,
                    "problem": ix.health.problem,
                    "missing": len(ix.missing),
                    "stale": len(ix.stale),
                    "orphans": len(ix.orphans),
                    "doubled": len(ix.doubled),
                    "fresh": ix.fresh,
                },
                "files": {
                    "new": len(st.disk.new),
                    "changed": len(st.disk.changed),
                    "vanished": len(st.disk.vanished),
                    "unreadable": [{"path": p, "error": e} for p, e in st.disk.corrupt],
                    "interrupted_writes": st.disk.leftovers,
                },
                "unwritable": st.unwritable,
                "size_bytes": st.size_bytes,
                "retrievals": st.retrievals,
                "utility_events": st.events,
                "hooks": hooks.as_dict(),
            }
        )
        raise typer.Exit(0 if healthy else 1)
    from rich.table import Table

    t = Table.grid(padding=(0, 2))
    t.add_column(style="bold")
    t.add_column()
    t.add_row("data dir", st.data_dir)
    if st.unwritable:
        t.add_row("", f"[red]{st.unwritable}[/]")
    t.add_row(
        "episodes",
        f"{st.episodes:,} live, {st.archived:,} archived, {plural(st.projects, 'project')}",
    )
    t.add_row("model", st.model)
    if st.model_problem:
        t.add_row("", f"[red]{st.model_problem}[/]")
    if ix.empty:
        from memrl.store.files import import_running

        making = "an import under way" if import_running(Path(st.data_dir)) else "the first capture"
        t.add_row("index", f"none yet: {making} creates it")
    elif ix.health.problem and st.model_problem and ix.health.model != st.model_id:
        # a rebuild with the configured model fails until the model is fixed
        t.add_row(
            "index",
            f"[red]built with {ix.health.model}: fix the model, then `memrl index --rebuild` "
            "re-embeds every episode with it[/]",
        )
    elif ix.health.problem:
        t.add_row("index", f"[red]{ix.health.problem}[/]")
    else:
        state = "[green]up to date[/]" if st.index_current else "[yellow]needs `memrl index`[/]"
        t.add_row("index", f"{plural(ix.health.rows, 'row')}, {ix.health.dim} dimensions, {state}")
        if not ix.fresh:
            problems = (
                f"{len(ix.missing)} missing, {len(ix.stale)} stale, {len(ix.orphans)} orphaned"
            )
            problems += f", {len(ix.doubled)} doubled rows" if ix.doubled else " rows"
            t.add_row("", problems)
    if disk.pending:
        kinds = [
            f"{len(found)} {word}"
            for found, word in (
                (disk.new, "new"),
                (disk.changed, "changed"),
                (disk.vanished, "deleted"),
            )
            if found
        ]
        t.add_row("files", f"[yellow]{', '.join(kinds)} on disk since the last index[/]")
    if st.disk.corrupt:
        t.add_row("unreadable", f"[red]{plural(len(st.disk.corrupt), 'file')}[/]")
        for path, why in st.disk.corrupt[:10]:
            t.add_row("", Text(_unreadable(st.data_dir, path, why)))  # no markup in it
    if st.disk.leftovers:
        t.add_row(
            "interrupted",
            f"{plural(st.disk.leftovers, 'temp file')} from interrupted writes "
            "(cleaned by `memrl index`)",
        )
    t.add_row(
        "learning",
        f"{plural(st.retrievals, 'retrieval')} logged, {plural(st.events, 'utility change')}",
    )
    t.add_row("size", human_size(st.size_bytes))
    _hook_rows(t, hooks)
    console().print(t)
    if not healthy:
        raise typer.Exit(1)


@config_app.command("show")
@guarded
def config_show(as_json: bool = JsonOpt) -> None:
    """Every setting with its current value."""
    from memrl import config

    root = config.data_dir()
    settings = config.load(root)
    values = {k: config.get(settings, k) for k in config.all_keys()}
    if as_json:
        print_json(values)
        return
    from rich.table import Table

    table = Table(show_edge=False, title=str(root / config.CONFIG_FILE), title_justify="left")
    table.add_column("key", style="cyan", no_wrap=True)  # whole: it is what `set` takes
    table.add_column("value", no_wrap=True)
    table.add_column("default", style="dim", no_wrap=True)
    table.add_column("meaning", style="dim")
    overridden = [config.env_name(k) for k in values if config.from_env(k) is not None]
    for key, (_type, default, desc) in config.all_keys().items():
        value = values[key]
        shown = config.literal(value)
        shown = f"[bold]{shown}[/]" if value != default else shown
        if config.from_env(key) is not None:
            shown += " [yellow](env)[/]"
        table.add_row(key, shown, config.literal(default), desc)
    console().print(table)
    if overridden:
        console().print(
            f"[yellow](env)[/]: set by {', '.join(overridden)}, "
            + ("which win" if len(overridden) > 1 else "which wins")
            + " over config.toml"
        )


@config_app.command("get")
@guarded
def config_get(
    key: str = typer.Argument(..., help="A dotted key, e.g. learning.learning_rate"),
    as_json: bool = JsonOpt,
) -> None:
    """Print one setting's value."""
    from memrl import config

    value = config.get(config.load(), key)
    if as_json:
        print_json({"key": key, "value": value})
        return
    print(value if isinstance(value, str) else config.literal(value))


@config_app.command("set", context_settings={"ignore_unknown_options": True})
@guarded
def config_set(
    key: str = typer.Argument(..., help="A dotted key, e.g. learning.learning_rate"),
    value: str = typer.Argument(..., help="The new value (validated)."),
    as_json: bool = JsonOpt,
) -> None:
    """Change one setting in config.toml (comments are kept)."""
    from memrl import config
    from memrl.embeddings import spec
    from memrl.errors import ConfigError
    from memrl.store import LEDGER_FILE

    root = config.data_dir()
    before = _model_id(root)
    typed = config.set_value(root, key, value)
    try:
        after: str | None = spec(config.load(root).embedding).model_id
    except ConfigError as exc:  # this key is fine now; another one still stops every command
        note(f"saved, but the settings still have a problem: {exc}")
        after = None
    # before is None while the settings did not load: a model unknown is not one changed
    if None not in (before, after) and before != after and (root / LEDGER_FILE).exists():
        note(
            "the episodes stored so far were embedded by the model used until now: "
            "`memrl index --rebuild` embeds them with this one, and search needs that first."
        )
    env = config.from_env(key)
    if env is not None:  # else the user sees the old value and thinks the set failed
        name = config.env_name(key)
        note(f"{name}={env} overrides this: memrl uses {env} until it is unset (`unset {name}`).")
    if as_json:
        print_json({"key": key, "value": typed})
        return
    console().print(f"[green]✓[/] {key} = {config.literal(typed)}")


def _unreadable(root: Path | str, path: str, why: str) -> str:
    """An unreadable file and why, its path said once: the reason names the file in full."""
    full = str(Path(root) / path)
    return path + why[len(full) :] if why.startswith(full) else f"{path}: {why}"


def _model_id(root: Path) -> str | None:
    """Which model the settings name (None while they do not load); loads no model."""
    from memrl import config
    from memrl.embeddings import spec
    from memrl.errors import ConfigError

    try:
        return spec(config.load(root).embedding).model_id
    except ConfigError:
        return None


@app.command("export")
@guarded
def export_(
    output: Path = typer.Option(
        None, "--output", "-o", help="Write here instead of stdout ('-' is stdout)."
    ),
    project: str = ProjectOpt,
) -> None:
    """Export every episode (and what was learned) as JSON Lines."""
    import json

    from memrl.store import Filters

    memory = open_memory()
    skipped: list[str] = []

    def write(out: IO[str]) -> int:
        n = 0
        for item in memory.export(Filters(project=project), skipped):
            out.write(json.dumps(item, ensure_ascii=False) + "\n")
            n += 1
        return n

    def left_out() -> None:
        if skipped:
            one = len(skipped) == 1
            note(
                f"{plural(len(skipped), 'episode')} left out: "
                + (
                    "its file no longer holds a valid episode (fix it, then export again; "
                    "`memrl status` lists it): "
                    if one
                    else "their files no longer hold valid episodes (fix them, then export "
                    "again; `memrl status` lists them): "
                )
                + "; ".join(skipped[:5])
            )
            raise typer.Exit(1)

    import errno
    import os

    from memrl.store.files import replacing

    to_stdout = output is None or str(output) == "-"  # '-' as for `capture --from -`
    if output is not None and not to_stdout and output.expanduser().is_dir():
        raise fail(
            f"{output} is a folder: give `-o` a file, e.g. `-o {output / 'memrl.jsonl'}`. "
            "Nothing was exported.",
            2,
        )
    # `replacing` writes a pipe or a device in place: a failure there leaves part written
    in_place = to_stdout or (output.expanduser().exists() and not output.expanduser().is_file())
    try:
        if to_stdout:
            n = write(sys.stdout)
            sys.stdout.flush()
        else:  # a file appears whole or not at all; a pipe or a device is written through
            with replacing(output.expanduser()) as out:
                n = write(out)
    except BrokenPipeError:
        raise  # the reader stopped reading: not a failure (`guarded`)
    except OSError as exc:
        if to_stdout:  # what could not be written must not fail again at exit
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        where = "stdout" if to_stdout else output
        lost = "What was written there is incomplete" if in_place else "Nothing was exported"
        full = exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EIO)
        denied = exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS)
        fix = (
            "free some space, or export to another disk"
            if full
            else "give `-o` a file in a folder you can write to"
        )
        raise fail(  # 4: cannot be written; 2: `-o` names no place a file can go
            f"cannot write {where}: {exc.strerror or exc}. {lost}: {fix}.",
            4 if full or denied else 2,
        ) from None
    if not n:
        note_unknown_project(memory, project)
    if not to_stdout:
        mark = "[yellow]![/]" if skipped else "[green]✓[/]"  # one left out: not a clean success
        console().print(f"{mark} exported {plural(n, 'episode')} to {output}")
    left_out()


@app.command("import")
@guarded
def import_(
    source: str = typer.Argument(..., help="A .jsonl file from `memrl export`, or '-' for stdin."),
    as_json: bool = JsonOpt,
) -> None:
    """Import episodes from JSON Lines; nothing is written if a line is invalid."""
    memory = open_memory()
    try:
        fh: Any = sys.stdin.buffer if source == "-" else open(source, "rb")  # noqa: SIM115
    except OSError as exc:
        raise fail(f"cannot read {source}: {exc.strerror}", 2) from None
    try:
        with fh, _progress("embedding", "checking") as update:  # archived ones aren't embedded
            result = memory.import_(fh, progress=update)
    except KeyboardInterrupt:
        raise fail(
            "interrupted. What was stored stays, in whole chunks; run the same import again to "
            "store the rest (it skips what is there).",
            130,
        ) from None
    if as_json:
        print_json(
            {
                "imported": result.imported,
                "skipped_existing": result.skipped_existing,
                "restored_learning": result.restored,
                "indexed_present": result.indexed_present,
                "dated_ahead": result.dated_ahead,
                "differing": result.differing,
                "archived_in_file": result.archived_in_file,
                "index_problem": result.index_problem,
                "errors": result.errors,
            }
        )
    if result.errors:
        shown = result.errors[:10]
        more = len(result.errors) - len(shown)
        raise fail(
            "nothing was imported; fix these lines and retry:\n  "
            + "\n  ".join(shown)
            + (f"\n  … and {more} more" if more else ""),
            2,
        )
    if not as_json:
        console().print(
            f"[green]✓[/] imported {plural(result.imported, 'episode')}"
            + (
                f", skipped {result.skipped_existing:,} already present"
                if result.skipped_existing
                else ""
            )
            + (f" and restored learning of {result.restored:,} of them" if result.restored else "")
            + (
                f"; indexed {plural(result.indexed_present, 'present episode')} the index lacked"
                if result.indexed_present
                else ""
            )
        )
        if result.differing:
            n = len(result.differing)
            shown = ", ".join(i[:8] for i in result.differing[:5])
            rest = f" and {n - 5} more" if n > 5 else ""
            one = n == 1
            note(
                f"{plural(n, 'episode')} already present ({shown}{rest}) "
                f"{'differs' if one else 'differ'} from the file; the stored "
                f"{'one is' if one else 'ones are'} kept (`memrl show <id>` shows one; "
                "`memrl edit`, `archive` or `restore` changes it)."
            )
        if result.archived_in_file:
            n = len(result.archived_in_file)
            ids = " ".join(i[:8] for i in result.archived_in_file[:10])
            rest = f" and {n - 10} more" if n > 10 else ""
            note(
                f"{plural(n, 'episode')} live here {'is' if n == 1 else 'are'} archived in the "
                f"file (merged or pruned where it was exported): {ids}{rest}. They stay live, "
                f"beside what replaced them there; `memrl archive {ids}` archives them here too."
            )
        if result.dated_ahead:
            note(
                f"kept {plural(result.dated_ahead, 'episode')} created or last used in the "
                "future (more than a day ahead of this clock) as the file has them: they do "
                "not decay until then. A store whose clock ran ahead exports such dates; if "
                "the file does not come from one, check its dates"
            )
    if result.index_problem:
        raise fail(
            f"imported {plural(result.imported, 'episode')}, with what was learned, but not "
            f"searchable yet (importing again is not needed): {result.index_problem}",
            5,
        )


def _status_without_settings(exc: Exception, hooks: HooksHealth, as_json: bool) -> NoReturn:
    """What status can say while the settings stop every command: the error, and the
    hooks, which fail on it too (each session meanwhile is captured by none)."""
    if as_json:
        print_json({"error": str(exc), "hooks": hooks.as_dict()})
        raise typer.Exit(2)
    from rich.markup import escape
    from rich.table import Table

    err_console().print(f"[bold red]error:[/] {escape(str(exc))}")
    t = Table.grid(padding=(0, 2))
    t.add_column(style="bold")
    t.add_column()
    _hook_rows(t, hooks)
    console().print(t)
    raise typer.Exit(2)


def _hook_rows(t: Any, hooks: HooksHealth) -> None:
    """Whether Claude Code runs memrl's hooks, and what failed there lately: a hook never
    breaks Claude Code, so nothing else would show it."""
    from rich.markup import escape

    where = escape(str(hooks.settings))
    if hooks.problem:
        t.add_row("hooks", f"[red]{escape(hooks.problem)}[/]")
    elif not hooks.installed:
        t.add_row("hooks", f"not installed in {where}: `memrl setup claude` adds them")
    elif hooks.missing or hooks.differ:
        what = [f"missing {', '.join(hooks.missing)}"] if hooks.missing else []
        what += [f"{', '.join(hooks.differ)} run another memrl or store"] if hooks.differ else []
        t.add_row(
            "hooks",
            f"[yellow]installed in {where}, but {'; '.join(what)}[/]: "
            "`memrl setup claude` makes them this memrl's",
        )
    else:
        t.add_row("hooks", f"installed in {where}")
    if not hooks.failures:
        return
    latest = hooks.failures[0]
    t.add_row(
        "hook failures",
        f"[red]{plural(len(hooks.failures), 'failure')} in the last 24 h[/], the latest "
        f"{latest.at:%Y-%m-%d %H:%M} UTC:",
    )
    for f in hooks.failures[:3]:
        t.add_row("", f"{f.at:%H:%M} {escape(f.event)}: {escape(f.reason)}")
    t.add_row(
        "",
        f"Claude Code hides these (hooks always exit 0): fix what they name; the full "
        f"story is in {escape(str(hooks.log))}",
    )
