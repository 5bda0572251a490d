"""Review: step through the core's findings — duplicate clusters, stale and never-used
episodes — and merge, keep, archive or skip each."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial

from textual import on, work
from textual.binding import Binding
from textual.content import Content
from textual.widgets import Header, Markdown, Static

from memrl.errors import MemrlError
from memrl.tui import curator
from memrl.tui.format import one_line
from memrl.tui.messages import StoreChanged
from memrl.tui.screens.base import MemrlScreen
from memrl.tui.undo import Undo
from memrl.tui.widgets.cards import Cards
from memrl.tui.widgets.detail import EpisodeDetail
from memrl.tui.widgets.footer import Footer
from memrl.views import Row, pct, plural, short

WHY = {
    "duplicates": "near-duplicates ({sim} alike): merge them into one episode that keeps "
    "what each knew (m), keep them apart (k), archive all but the most useful (a), or skip (s)",
    "stale": "not used for {days} days: keep it pinned so it stops decaying (k), "
    "archive it (a), or skip (s)",
    "unused": "never retrieved in the {days} days since it entered this store: keep it "
    "pinned (k), "
    "archive it (a), or skip (s)",
}
ANSWERS = ("merged", "kept apart", "kept pinned", "archived", "skipped")  # as summed up


@dataclass(slots=True)
class Step:
    position: int
    answer: str  # one of ANSWERS
    undo: Undo | None = None  # what takes it back
    count: int = 1  # findings it answered: S skips every one left of a kind in one step


@dataclass(slots=True)
class Finding:
    kind: str  # duplicates | stale | unused
    rows: list[Row]
    similarity: float = 0.0
    days: int = 0  # stale: since last used; unused: since captured (the core's count)


class ReviewScreen(MemrlScreen[None]):
    BINDINGS = [
        Binding("m", "merge", "Merge"),
        Binding("k", "keep", "Keep"),
        Binding("a", "archive", "Archive"),
        Binding("s", "skip", "Skip"),
        Binding("S", "skip_kind", "Skip kind"),
        Binding("u", "undo", "Undo"),
        Binding("escape", "done", "Done"),
    ]

    def __init__(self, project: str | None = None, *, ends_app: bool = False) -> None:
        super().__init__()
        self.project = project
        self.ends_app = ends_app  # opened on its own (`memrl review`), not from browse
        self.findings: list[Finding] = []
        self.position = 0
        self.loaded = False
        self.steps: list[Step] = []  # one per answer
        self.saving = False  # an answer's change is on its way to the store
        self.opened_at = 0  # the app's undo count when it opened: older undos are not its own
        self.undoing: list[curator.Job] = []  # its step backs on their way to the store

    def compose(self):
        yield Header()
        yield Static("reviewing the store…", id="review-finding")
        yield Cards(id="review-main")
        yield Markdown(id="review-done")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "review" + (f" · {one_line(self.project)}" if self.project else "")
        self.opened_at = self.app.undo_stack.pushed
        self.query_one("#review-done").display = False
        self.load()

    @work(thread=True, exclusive=True, group="review", exit_on_error=False)
    def load(self) -> None:
        try:
            review = self.app.memory.curation.review(self.project)
        except MemrlError as exc:
            self.app.call_from_thread(self._status, f"✗ {exc}")
            return
        findings = [Finding("duplicates", c.rows, c.similarity) for c in review.clusters]
        findings += [Finding("stale", [r], days=review.days[r.id]) for r in review.stale]
        findings += [Finding("unused", [r], days=review.days[r.id]) for r in review.unused]
        # declared sync-or-async: mypy can't infer call_from_thread's type from an async method
        loaded: Callable[[list[Finding]], Awaitable[None] | None] = self._loaded
        self.app.call_from_thread(loaded, findings)

    def _status(self, text: str) -> None:
        self.query_one("#review-finding", Static).update(Content(text))  # errors: text

    async def _loaded(self, findings: list[Finding]) -> None:
        self.app.freeze_heap("started")  # as browse does: `memrl review` opens no browse
        self.findings = findings
        await self.show_current()
        self.loaded = True

    @property
    def current(self) -> Finding | None:
        return self.findings[self.position] if self.position < len(self.findings) else None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """With no finding on screen, m, k, a and s are not offered (u steps back); m only
        on duplicates: a stale or unused episode has nothing to merge with."""
        finding = self.current
        if action == "merge":
            return finding is not None and finding.kind == "duplicates"
        if action == "skip_kind":
            return finding is not None and self._left_of_kind() > 1
        return action not in ("keep", "archive", "skip") or finding is not None

    def _left_of_kind(self) -> int:
        """The current finding and those after it of the same kind (kinds come in runs)."""
        finding = self.current
        if finding is None:
            return 0
        n = self.position
        while n < len(self.findings) and self.findings[n].kind == finding.kind:
            n += 1
        return n - self.position

    async def show_current(self) -> None:
        finding = self.current
        self.refresh_bindings()
        main = self.query_one("#review-main", Cards)
        await main.remove_children()
        done = finding is None
        main.display = not done
        self.query_one("#review-done").display = done
        if finding is None:
            self._show_done()
            return
        self._show_finding(finding)
        details = [EpisodeDetail(self.app.memory, self.app.clock) for _ in finding.rows]
        await main.mount_all(details)
        main.fit()
        main.scroll_home(animate=False)
        details[0].focus(scroll_visible=False)  # ↑ ↓ scroll it, ← → step to the others
        for n, (detail, r) in enumerate(zip(details, finding.rows, strict=True), 1):
            detail.show(r.id)
            if len(details) > 1:  # one above the other on a narrow terminal: how many
                detail.border_title = f"{n} of {len(details)}"

    def _show_finding(self, finding: Finding) -> None:
        _, outdated = self.live(finding)
        why = outdated or WHY[finding.kind].format(sim=pct(finding.similarity), days=finding.days)
        left = self._left_of_kind()
        rest = f" — S skips all {left:,} {finding.kind} findings left" if left > 1 else ""
        self._status(
            f"finding {self.position + 1} of {len(self.findings)} · {finding.kind} · {why}{rest}"
        )

    def live(self, finding: Finding) -> tuple[list[Row], str | None]:
        """The finding's episodes that are live now, in its order (the most useful first),
        and why it is out of date when too few are: another process may have archived or
        removed some since the review was read, and an answer must not act on those."""
        ids = [r.id for r in finding.rows]
        rows = self.app.memory.rows(ids)
        live = [rows[i] for i in ids if i in rows and not rows[i].archived]
        if len(live) >= (2 if finding.kind == "duplicates" else 1):
            return live, None
        out = [short(i) for i in ids if i not in rows or rows[i].archived]
        was, it = ("was", "it") if len(out) == 1 else ("were", "them")
        how = "archived" if all(i in rows for i in ids) else "archived or removed"
        return (
            live,
            f"{', '.join(out)} {was} {how} since the review found {it}; "
            "nothing left to do here — s skips",
        )

    def _answerable(self) -> tuple[Finding, list[Row]] | None:
        """The current finding and its live episodes, or None (said why, when out of date)
        when there is no answer to give now: no finding, or a change on its way."""
        finding = self.current
        if finding is None or self.saving:
            return None
        live, outdated = self.live(finding)
        if outdated:
            self.notify(outdated, severity="warning")
            self._show_finding(finding)
            return None
        return finding, live

    def summary(self) -> tuple[str, str]:
        """("11 findings", "1 merged, 2 kept apart, 8 skipped"): what the answers so far did,
        then any change made here that is no answer and not undone (a prune from the end)."""
        counts = {answer: 0 for answer in ANSWERS}
        for step in self.steps:
            counts[step.answer] += step.count
        done = ", ".join(f"{n:,} {answer}" for answer, n in counts.items() if n)
        other = self._others()
        if counts["skipped"] == self.seen and not other:
            done = (done + "; " if done else "") + "nothing was changed"
        if other:
            done += "; then the " + ", the ".join(u.label for u in other)
        return plural(len(self.findings), "finding"), done

    @property
    def seen(self) -> int:
        """Findings answered or skipped so far."""
        return sum(step.count for step in self.steps)

    def on_unmount(self) -> None:
        """A review opened on its own leaves what it did in the shell it returns to: how
        many findings it went through (a skip answers none), and what it did to them."""
        if self.ends_app and self.findings:
            found, done = self.summary()
            seen = self.seen
            through = found if seen >= len(self.findings) else f"{seen:,} of {found} seen"
            self.app.farewell = f"memrl review: {through} — {done}"

    def _show_done(self) -> None:
        """What this review did, answer by answer: "nothing more to look at" after eleven
        skips read as if the findings had been dealt with."""
        done = self.query_one("#review-done", Markdown)
        leave = "**escape** quits" if self.ends_app else "**escape** goes back"
        prune = f"Prune (**P**) archives old, low-utility episodes; {leave}."
        if not self.findings:
            self._status("review finished: nothing to review")
            done.update(
                "## Review done\n\nNothing to review: no near-duplicates, and nothing stale "
                f"or never used. {prune}"
            )
            return
        found, summary = self.summary()
        self._status(f"review finished: {found} — {summary}")
        later = (
            " Skipped ones come back next time."
            if "skipped" in summary and not self._others()
            else ""
        )
        done.update(
            f"## Review done\n\n{found}: {summary}.{later} **u** steps back through the answers. "
            + prune
        )

    @on(StoreChanged)
    def _store_changed(self) -> None:
        """An answer's change or its undo lands after the card is shown (it runs on a
        worker), and other processes write too: show the card's episodes as they are now."""
        for detail in self.query_one("#review-main").query(EpisodeDetail):
            detail.refresh_episode()
        if (finding := self.current) is not None and self.loaded:
            self._show_finding(finding)
        elif self.loaded:  # at the end: a prune made from here, or its undo, is said there
            self._show_done()

    def _next(self, answer: str, undo: Undo | None = None, count: int = 1) -> None:
        self.steps.append(Step(self.position, answer, undo, count))
        self.position += count
        self.run_worker(self.show_current(), group="review-show", exclusive=True)

    def _change(self, job: curator.Job, answer: str) -> None:
        """Make an answer's change; the next finding comes once it is saved (a change that
        fails leaves this finding up, and nothing for u to take back)."""
        self.saving = True
        self.app.write(job, partial(self._saved, answer))

    def _saved(self, answer: str, ok: bool, undo: Undo | None) -> None:
        self.saving = False
        if ok and self.on_stack:
            self._next(answer, undo)

    def action_undo(self) -> None:
        """Undo the last change made since the review opened: a change that is no answer
        (a prune from its end) first, as the app's u would; else step back one finding,
        undoing what was done to it (a skip just goes back). Only this review's answers:
        what was done before it is undone from other screens."""
        if self.saving:
            return
        if self._changed_since():
            self.app.action_undo()
            return
        if not self.steps:
            self.notify("nothing to undo in this review", severity="warning")
            return
        step = self.steps.pop()
        self.position = step.position
        if step.undo is not None and self.app.undo_stack.remove(step.undo):
            job = curator.undo(step.undo)
            self.undoing.append(job)
            self.app.write(job, lambda _ok, _undo: self.undoing.remove(job))
        self.run_worker(self.show_current(), group="review-show", exclusive=True)

    def _others(self) -> list[Undo]:
        """The changes made since the review opened that are none of its answers (a prune
        from its end), oldest first, while they are not undone."""
        ours = [step.undo for step in self.steps]
        return [
            u for u in self.app.undo_stack.since(self.opened_at) if all(u is not o for o in ours)
        ]

    def _changed_since(self) -> bool:
        """Is the last change made here, or on its way, none of this review's answers?"""
        if any(job not in self.undoing for job in self.app.pending):
            return True
        others = self._others()
        return bool(others) and others[-1] is self.app.undo_stack.peek()

    def action_merge(self) -> None:
        from memrl.tui.screens.merge import MergeScreen

        if (answerable := self._answerable()) is None:
            return
        screen = MergeScreen([r.id for r in answerable[1]])

        def merged(done: bool | None) -> None:
            if done:
                self._next("merged", screen.undo)

        self.app.push_screen(screen, merged)

    def action_keep(self) -> None:
        if (answerable := self._answerable()) is None:
            return
        finding, live = answerable
        ids = [r.id for r in live]
        if finding.kind == "duplicates":
            self._change(curator.keep_apart(ids), "kept apart")
        else:
            self._change(curator.pin(ids, True), "kept pinned")

    def action_archive(self) -> None:
        from memrl.tui.screens.confirm import confirm_archive

        if (answerable := self._answerable()) is None:
            return
        finding, live = answerable
        rows = live[1:] if finding.kind == "duplicates" else live
        ids = [r.id for r in rows]
        confirm_archive(self.app, rows, lambda: self._change(curator.archive(ids), "archived"))

    def action_skip(self) -> None:
        if self.current is not None and not self.saving:
            self._next("skipped")

    def action_skip_kind(self) -> None:
        """S: skip this finding and every one after it of its kind (1,376 stale ones, say),
        in one step that u takes back."""
        if self.current is not None and not self.saving:
            self._next("skipped", count=self._left_of_kind())

    def action_done(self) -> None:
        """Back to browse; a review opened on its own (`memrl review`) ends the app."""
        if self.ends_app:
            self.app.exit()
        else:
            self.dismiss()
