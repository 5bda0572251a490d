"""Edit an episode's fields in a form; the Episode model validates as you type."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from textual import on
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import Header, Input, Label, Select, Static, TextArea

from memrl.editing import drop_unsaved, unsaved
from memrl.episode import Episode
from memrl.errors import InvalidInput, MemrlError
from memrl.intake import check_summary
from memrl.memory import clashing
from memrl.tui import curator
from memrl.tui.format import clip
from memrl.tui.screens.base import FormScreen
from memrl.tui.widgets.footer import Footer
from memrl.vocab import Outcome, TaskType

if TYPE_CHECKING:
    from memrl.tui.app import MemrlApp

LINES = ("what_worked", "what_failed", "files", "commands")
ARROW = " => "


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _input(value: str, id: str) -> Input:
    """A one-line field: focusing it puts the cursor after its text, so the first key
    goes on from it rather than replacing it all."""
    return Input(value, id=id, select_on_focus=False)


def save_edit(
    app: MemrlApp,
    episode_id: str,
    base: Episode,
    changes: dict[str, Any],
    done: Callable[[bool], None],
    kept: str,
) -> None:
    """Save an edit made from `base` (the form's, or $EDITOR's). Where another process has
    changed a field it writes since, ask first: saving over that change is the person's
    call, never a silent last-writer-wins; one that archived the episode meanwhile, offer
    to restore it and save (each undone by u). `done` hears whether it was saved; `kept`
    says where the person's text waits when it was not, as the app says then."""
    from memrl.tui.screens.confirm import ConfirmScreen

    def not_saved() -> None:
        app.notify(f"nothing was saved; your text {kept}", severity="warning", timeout=10)
        done(False)

    def saved(ok: bool, _undo: object) -> None:
        if ok:
            done(True)
        else:  # the app has said why
            not_saved()

    def write(force: bool) -> None:
        app.write(curator.edit(episode_id, changes, base, force=force), saved)

    def answered(yes: bool | None) -> None:
        if yes:
            write(True)
        else:
            not_saved()

    try:
        view = app.memory.get(episode_id, archived=None)
    except MemrlError as exc:
        app.notify(str(exc), severity="error", timeout=10)
        not_saved()
        return
    if view.archived:
        again = partial(save_edit, app, episode_id, base, changes, done, kept)
        _restore_and_save(app, view.episode, again, done, kept)
        return
    now = view.episode.model_dump(mode="json")
    clashes = clashing(now, base.model_dump(mode="json"), changes)  # the save would refuse
    if not clashes:
        write(False)
        return
    detail = "\n".join(
        f"{k} is now:  {_shown(now[k])}\nyours:  {_shown(changes[k])}\n" for k in clashes
    )
    app.push_screen(
        ConfirmScreen(
            f"{', '.join(clashes)} changed elsewhere while you edited it. Save yours over it?",
            detail,
            yes="Save mine",
        ),
        answered,
    )


def _restore_and_save(
    app: MemrlApp,
    episode: Episode,
    save: Callable[[], None],
    done: Callable[[bool], None],
    kept: str,
) -> None:
    """The episode was archived while it was being edited: restoring it is the only way the
    edit can be saved, so offer to do both; a no changes nothing and keeps the text."""
    from memrl.tui.screens.confirm import ConfirmScreen

    short_id = episode.short_id

    def restored(ok: bool, _undo: object) -> None:
        if ok:
            save()
        else:  # the app has said why
            done(False)

    def answered(yes: bool | None) -> None:
        if yes:
            app.write(curator.restore([episode.id]), restored)
        else:
            app.notify(
                f"nothing was saved: {short_id} stays archived; your text {kept}",
                severity="warning",
            )
            done(False)

    app.push_screen(
        ConfirmScreen(
            f"{short_id} was archived while you edited it. Restore it and save your edit?",
            "Restoring brings it back into search. u undoes the save, then the restore.",
            yes="Restore and save",
        ),
        answered,
    )


def _shown(value: Any, width: int = 300) -> str:
    if isinstance(value, list):
        value = "; ".join(
            f"{v['error']}{ARROW}{v['resolution']}" if isinstance(v, dict) else str(v)
            for v in value
        )
    return clip(str(value), width) or "(empty)"


class EditScreen(FormScreen):
    BINDINGS = [
        Binding("ctrl+s", "save", "Save"),
        Binding("escape", "cancel", "Cancel"),
    ]

    def __init__(self, episode_id: str) -> None:
        super().__init__()
        self.episode_id = episode_id
        self.original: Episode | None = None
        self.errors: dict[str, str] = {}
        self.saving = False  # a save is on its way to the store
        self.done = False  # saved

    def compose(self):
        try:
            self.original = self.app.memory.get(self.episode_id).episode
        except MemrlError as exc:  # nothing to save: the reason in full, and escape
            why = str(exc).replace(f"{self.app.memory.root}/", "")
            yield Header()
            yield Static(
                Content(f"This episode cannot be edited: {why}"),
                id="edit-status",
                classes="-problem",
            )
            yield Footer()
            return
        ep = self.original
        yield Header()
        status = f"editing {ep.short_id} · ctrl+s saves and re-indexes · escape cancels"
        draft = unsaved(self.app.memory.root, ep.id) is not None
        if draft:
            status += (
                "\nits text edited in $EDITOR and not saved is still kept (E goes on with it): "
                "saving this form discards that text"
            )
        yield Static(Content(status), id="edit-status", classes="-draft" if draft else "")
        with VerticalScroll(id="edit-form"):
            yield from self._field("task", _input(ep.task, "f-task"))
            with Horizontal(classes="row"):
                with Vertical():
                    yield from self._field("project", _input(ep.project, "f-project"))
                with Vertical():
                    yield from self._field(
                        "outcome",
                        Select(
                            [(o.value, o.value) for o in Outcome],
                            value=ep.outcome.value,
                            allow_blank=False,
                            id="f-outcome",
                        ),
                    )
                with Vertical():
                    yield from self._field(
                        "task_type",
                        Select(
                            [(t.value, t.value) for t in TaskType],
                            value=ep.task_type.value,
                            allow_blank=False,
                            id="f-task_type",
                        ),
                    )
            yield from self._field("summary", TextArea(ep.summary, id="f-summary"))
            yield from self._field("tags (comma separated)", _input(", ".join(ep.tags), "f-tags"))
            for name in LINES:
                text = "\n".join(getattr(ep, name))
                yield from self._field(
                    f"{name.replace('_', ' ')} (one a line)", TextArea(text, id=f"f-{name}")
                )
            errors = "\n".join(f"{e.error}{ARROW}{e.resolution}" for e in ep.errors_resolved)
            yield from self._field(
                f"errors resolved (one a line: error{ARROW}resolution)",
                TextArea(errors, id="f-errors_resolved"),
            )
        yield Footer()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """No Save in the footer for an episode that could not be read."""
        return not (action == "save" and self.original is None)

    def _field(self, label: str, widget):
        name = (widget.id or "").removeprefix("f-")
        yield Label(label)
        yield widget
        yield Static("", id=f"err-{name}", classes="field-error -empty")

    def on_mount(self) -> None:
        self.sub_title = "edit"
        if self.original is not None:
            self.query_one("#f-task").focus()

    # reading the form ---------------------------------------------------------------------

    def values(self) -> dict[str, Any]:
        q = self.query_one
        data: dict[str, Any] = {
            "task": q("#f-task", Input).value,
            "project": q("#f-project", Input).value,
            "outcome": q("#f-outcome", Select).value,
            "task_type": q("#f-task_type", Select).value,
            "summary": q("#f-summary", TextArea).text,
            "tags": [t.strip() for t in q("#f-tags", Input).value.split(",") if t.strip()],
        }
        for name in LINES:
            data[name] = _lines(q(f"#f-{name}", TextArea).text)
        resolved = []
        for line in _lines(q("#f-errors_resolved", TextArea).text):
            error, _sep, resolution = line.partition(ARROW.strip())
            resolved.append({"error": error.strip(), "resolution": resolution.strip()})
        data["errors_resolved"] = resolved
        return data

    def changes(self) -> dict[str, Any]:
        assert self.original is not None
        before = self.original.model_dump(mode="json")
        return {k: v for k, v in self.values().items() if v != before.get(k)}

    def validate_form(self) -> dict[str, str]:
        """Per-field messages from the Episode model itself."""
        assert self.original is not None
        errors: dict[str, str] = {}
        values = self.values()
        try:
            Episode.model_validate({**self.original.model_dump(), **values})
        except ValidationError as exc:
            for err in exc.errors():
                field = str(err["loc"][0]) if err["loc"] else "summary"
                where = ".".join(str(p) for p in err["loc"][1:])
                msg = err["msg"].removeprefix("Value error, ")
                errors.setdefault(field, f"{field}{' ' + where if where else ''}: {msg}")
        if not values["project"].strip() and self.original.project:
            # capture always names one (from git, else the folder): an edit keeps one too
            errors["project"] = "project: give the project this work belongs to"
        try:
            summary = self.query_one("#f-summary", TextArea).text
            check_summary(self.app.memory.settings, summary, kept=[self.original.summary])
        except InvalidInput as exc:
            errors["summary"] = str(exc)
        for static in self.query(".field-error").results(Static):
            name = (static.id or "").removeprefix("err-")
            text = errors.get(name, "")
            static.update(Content(f"✗ {text}" if text else ""))  # may quote the person's text
            static.set_class(not text, "-empty")
        self.errors = errors
        return errors

    @on(Input.Changed)
    @on(TextArea.Changed)
    @on(Select.Changed)
    def _changed(self) -> None:
        if self.original is not None and self.is_mounted:
            self.validate_form()

    # actions ------------------------------------------------------------------------------

    def action_save(self) -> None:
        if self.original is None or self.saving:
            return
        if self.validate_form():
            self.notify("fix the fields marked ✗ first", severity="error")
            return
        changes = self.changes()
        if not changes:
            self.dismiss(False)
            return
        self._save(changes)

    def _save(self, changes: dict[str, Any]) -> None:
        assert self.original is not None
        self.saving = True
        save_edit(self.app, self.episode_id, self.original, changes, self._saved, "is still here")

    def _saved(self, ok: bool) -> None:
        """The form closes once its edit is saved; else it stays, with the person's text.
        A text kept from $EDITOR (E) was made before this save: going on with it later
        would offer to write the older text over this one, so it goes."""
        self.saving = False
        self.done = ok
        if ok:
            drop_unsaved(self.app.memory.root, self.episode_id)
        if ok and self.is_current:
            self.dismiss(True)

    def on_screen_resume(self) -> None:
        if self.done:  # saved while something was open over the form
            self.dismiss(True)

    def unsaved(self) -> bool:
        """Does the form hold changes that were not saved? (Escape and quitting ask first.)"""
        try:
            return self.original is not None and bool(self.changes())
        except Exception:  # a field that does not parse yet is a change too
            return True
