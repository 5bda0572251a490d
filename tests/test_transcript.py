"""Episode extraction from Claude Code transcripts: fixtures written like real sessions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from memrl.episode import Episode
from memrl.integrations.claude.transcript import (
    Transcript,
    did_work,
    episode_fields,
    error_line,
    is_test_command,
    outcome,
    parse_transcript,
)

FIXTURES = Path(__file__).parent / "fixtures" / "transcripts"


def load(name: str) -> Transcript:
    return parse_transcript(FIXTURES / name)


class Session:
    """Writes a small transcript line by line, the way Claude Code does."""

    def __init__(self, path: Path, cwd: str = "/w") -> None:
        self.path, self.cwd, self.lines, self.n = path, cwd, [], 0

    def _line(self, type_: str, content: Any, **extra: Any) -> None:
        self.n += 1
        role = "assistant" if type_ == "assistant" else "user"
        uuid = f"{self.path.stem}-u{self.n}"  # unique across a session's files, as in life
        entry = {"type": type_, "sessionId": "s-1", "cwd": self.cwd, "uuid": uuid}
        entry |= {"timestamp": f"2025-01-01T00:00:{self.n % 60:02d}Z", "isSidechain": False}
        entry |= extra
        entry["message"] = {"role": role, "content": content}
        self.lines.append(entry)

    def prompt(self, text: str, **extra: Any) -> Session:
        self._line("user", text, **extra)
        return self

    def say(self, text: str) -> Session:
        self._line("assistant", [{"type": "text", "text": text}])
        return self

    def tool(self, name: str, args: dict, result: str, error: bool = False, **extra) -> Session:
        tid = f"{self.path.stem}-t{self.n}"
        self._line("assistant", [{"type": "tool_use", "id": tid, "name": name, "input": args}])
        block = {"type": "tool_result", "tool_use_id": tid, "content": result, "is_error": error}
        self._line("user", [block], **extra)
        return self

    def bash(self, command: str, output: str = "", error: bool = False) -> Session:
        return self.tool("Bash", {"command": command}, output, error)

    def edit(self, path: str, error: str | None = None) -> Session:
        args = {"file_path": path, "old_string": "a", "new_string": "b"}
        return self.tool("Edit", args, error or "The file has been updated.", error is not None)

    def parse(self) -> Transcript:
        self.path.write_text("".join(json.dumps(e) + "\n" for e in self.lines), encoding="utf-8")
        return parse_transcript(self.path)


@pytest.fixture
def session(tmp_path: Path) -> Session:
    return Session(tmp_path / "s.jsonl")


def test_bugfix_session_reads_task_files_commands_and_fixes() -> None:
    t = load("bugfix.jsonl")
    assert t.session_id == "5d1c0a7e-2f3b-4c8d-9e10-112233445566"
    assert t.cwd == "/home/dev/acme-app"
    assert t.prompts == [t.first_prompt]  # meta lines and /commands are not prompts
    assert t.files == ["src/app/auth.py", "src/app/urls.py"]
    assert t.commands == ["pytest -q tests/test_auth.py", "pytest -q", "git status --short"]
    assert t.tests_passed_at_end is True
    assert t.final_text.startswith("Fixed the login redirect.")
    assert t.started_at is not None and t.ended_at is not None and t.started_at < t.ended_at
    (pytest_error, pytest_fix), (edit_error, edit_fix) = t.errors
    assert "FAILED tests/test_auth.py::test_login_redirect" in pytest_error
    assert pytest_fix == "ran `pytest -q` after editing src/app/auth.py, src/app/urls.py"
    assert edit_error == "Edit src/app/urls.py: String to replace not found in file."
    assert edit_fix == "retried Edit on src/app/urls.py after reading it"

    fields = episode_fields(t)
    assert fields["task"] == (
        "The login redirect is broken: after signing in users land on /404 instead of the "
        "dashboard. Please fix it."
    )
    assert fields["outcome"] == "success"
    assert fields["errors_resolved"][0]["resolution"] == pytest_fix
    assert "`pytest -q` passed" in fields["what_worked"]
    assert fields["what_failed"] == []
    assert fields["session_id"] == t.session_id


def test_sidechain_work_counts_but_its_prompt_is_never_the_task() -> None:
    t = load("subagent.jsonl")
    assert t.first_prompt == (
        "Add CSV export to the reports page so managers can download monthly sales."
    )
    assert not any("Find where the reports page" in p for p in t.prompts)
    assert len(t.prompts) == 1  # "[Request interrupted by user]" is not a prompt either
    assert t.sidechain_messages == 8
    assert t.files == ["notes/report-files.md", "src/reports/csv_export.py", "src/reports/views.py"]
    assert "rg -n 'def render_report' src" in t.commands
    assert t.final_text.startswith("Implemented CSV export")
    assert "notes written" not in t.final_text  # the subagent's answer is not the final text
    fields = episode_fields(t)
    assert fields["outcome"] == "success"
    assert fields["commands"] == ["npm test -- reports"]  # read-only exploration is dropped


def test_compacted_session_takes_the_task_from_the_summary() -> None:
    t = load("compacted.jsonl")
    assert t.compacted is True
    assert t.first_prompt is None
    assert t.title == "Unique index on users.email"
    fields = episode_fields(t)
    assert fields["task"] == (
        "Add a unique index on users.email and backfill duplicate rows before creating it."
    )
    assert fields["outcome"] == "success"
    assert fields["errors_resolved"] == [
        {
            "error": "`alembic upgrade head` failed: sqlalchemy.exc.IntegrityError: "
            "(psycopg2.errors.UniqueViolation) could not create unique index "
            '"ix_users_email"',
            "resolution": "re-ran `alembic upgrade head` after editing "
            "migrations/versions/0007_email_unique.py",
        }
    ]


def test_malformed_truncated_and_non_utf8_lines_are_skipped_and_counted() -> None:
    t = load("malformed.jsonl")
    assert t.skipped_lines == 4
    assert t.first_prompt == "Rename the `utils` module to `helpers` and update every import."
    assert t.files == ["src/cli.py", "src/report.py"]
    assert t.commands == ["git mv src/utils.py src/helpers.py", "python -m pytest -q"]
    assert t.final_text == "Renamed `utils` to `helpers` and updated both imports; the tests pass."
    assert episode_fields(t)["outcome"] == "success"


def test_memrl_mcp_calls_are_noticed() -> None:
    t = load("mcp_capture.jsonl")
    assert t.captured_via_mcp is True
    assert t.retrieved_via_mcp is True
    assert t.final_text.startswith("The nightly export is slow")
    assert episode_fields(t)["outcome"] == "unknown"
    plain = load("bugfix.jsonl")
    assert (plain.captured_via_mcp, plain.retrieved_via_mcp) == (False, False)


def test_session_ending_with_failing_tests_is_a_failure() -> None:
    t = load("failure.jsonl")
    assert t.tests_passed_at_end is False
    fields = episode_fields(t)
    assert fields["outcome"] == "failure"
    assert fields["errors_resolved"] == []
    assert fields["what_worked"] == []
    assert fields["what_failed"] == [
        "`pytest -q` failed: pydantic.errors.PydanticUserError: `orm_mode` has been renamed "
        "to `from_attributes`",
        "`pytest -q` failed: FAILED tests/test_users.py::test_list - TypeError: "
        "Config.orm_mode is not supported by fastapi_utils",
    ]


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.jsonl")))
def test_fields_make_a_valid_episode(name: str) -> None:
    fields = episode_fields(load(name))
    ep = Episode(**fields)
    assert ep.summary
    assert len(ep.task) <= 300


def test_missing_file_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        parse_transcript(tmp_path / "nope.jsonl")


def test_empty_transcript_still_gives_an_episode(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"")
    fields = episode_fields(parse_transcript(path))
    assert fields["task"] == "" and fields["outcome"] == "unknown"
    assert Episode(**fields).summary == "Claude Code session."


def test_summary_is_built_from_files_and_commands_without_final_text(session: Session) -> None:
    t = session.prompt("tidy up").edit("/w/a.py").bash("ruff check --fix .").parse()
    assert (
        episode_fields(t)["summary"]
        == "Claude Code session: edited a.py; ran `ruff check --fix .`."
    )


def test_family_command_resolves_failure(session: Session) -> None:
    t = (
        session.prompt("add left-pad")
        .bash("npm install left-pad@9", "Exit code 1\nnpm ERR! notarget No matching version", True)
        .bash("npm install left-pad@1.3.0", "added 1 package")
        .parse()
    )
    assert t.errors == [
        (
            "`npm install left-pad@9` failed: npm ERR! notarget No matching version",
            "ran `npm install left-pad@1.3.0`",
        )
    ]


def test_unrelated_success_does_not_resolve(session: Session) -> None:
    t = (
        session.prompt("build it")
        .bash("make build", "Exit code 2\nmake: *** [build] Error 1\nerror: linker failed", True)
        .bash("git status", "clean")
        .say("Here is what I found.")
        .parse()
    )
    assert t.errors == [("`make build` failed: error: linker failed", None)]
    assert episode_fields(t)["outcome"] == "partial"


def test_exit_code_in_output_counts_as_failure(session: Session) -> None:
    t = session.prompt("x").bash("pytest -q", "Exit code 1\n1 failed in 0.1s", error=False).parse()
    assert t.tests_passed_at_end is False
    assert len(t.errors) == 1


def test_rejected_and_interrupted_tool_uses_are_not_errors(session: Session) -> None:
    rejected = "The user doesn't want to proceed with this tool use. The tool use was rejected."
    t = (
        session.prompt("x")
        .tool("Bash", {"command": "rm -rf build"}, rejected, error=True)
        .edit("/w/a.py", error="[Request interrupted by user for tool use]")
        .parse()
    )
    assert t.errors == []
    assert t.files == []


def test_repeated_identical_failure_is_recorded_once(session: Session) -> None:
    out = "Exit code 1\nFAILED t.py::test_a - assert 1 == 2"
    t = session.prompt("x").bash("pytest", out, True).bash("pytest", out, True).parse()
    assert len(t.errors) == 1


def test_bash_output_from_tool_use_result_when_content_is_empty(session: Session) -> None:
    session.tool(
        "Bash",
        {"command": "cargo test"},
        "",
        False,
        toolUseResult={"stdout": "", "stderr": "test result: FAILED. 1 passed; 2 failed"},
    )
    t = session.parse()
    assert t.tests_passed_at_end is False


def test_background_test_run_is_not_a_result(session: Session) -> None:
    session.tool(
        "Bash",
        {"command": "pytest", "run_in_background": True},
        "Command running in background with ID: 1",
    )
    assert session.parse().tests_passed_at_end is None


def test_notebook_and_multiedit_files(session: Session) -> None:
    session.tool("NotebookEdit", {"notebook_path": "/w/nb/analysis.ipynb", "new_source": "x"}, "ok")
    session.tool("MultiEdit", {"file_path": "/elsewhere/b.py", "edits": []}, "ok")
    assert session.parse().files == ["nb/analysis.ipynb", "/elsewhere/b.py"]


def test_system_reminders_and_command_wrappers_are_not_prompts(session: Session) -> None:
    session.prompt(
        "<command-message>init is analyzing…</command-message>\n<command-name>/init</command-name>"
    )
    session.prompt("<system-reminder>context</system-reminder>")
    session.prompt("<system-reminder>ctx</system-reminder>\nFix this error:\nKeyError: 'user_id'")
    t = session.parse()
    assert t.prompts == ["Fix this error:\nKeyError: 'user_id'"]
    assert episode_fields(t)["task"] == "Fix this error: KeyError: 'user_id'"


def test_api_error_messages_are_not_the_final_text(session: Session) -> None:
    session.prompt("x").say("All done, tests pass.")
    session._line(
        "assistant", [{"type": "text", "text": "API Error: 529 overloaded"}], isApiErrorMessage=True
    )
    assert session.parse().final_text == "All done, tests pass."


def test_final_text_is_the_text_after_the_last_tool_use(session: Session) -> None:
    t = (
        session.prompt("x")
        .say("Let me look.")
        .bash("make", "ok")
        .say("Part one.")
        .say("Part two.")
        .parse()
    )
    assert t.final_text == "Part one.\n\nPart two."


def test_lists_and_items_are_limited(session: Session) -> None:
    session.prompt("word " * 400)
    for i in range(80):
        session.edit(f"/w/src/m{i}.py")
    for i in range(45):
        session.bash(f"make step{i} " + "x" * 400, f"Exit code 1\nError: step {i} broke", True)
    fields = episode_fields(session.parse())
    assert len(fields["task"]) <= 300
    assert len(fields["files"]) == 50
    assert len(fields["commands"]) == 30
    assert len(fields["what_failed"]) == 20
    assert all(len(c) <= 300 for c in fields["commands"] + fields["what_failed"])
    Episode(**fields)


def test_long_first_line_is_cut_at_a_sentence(session: Session) -> None:
    text = "Make the importer resumable. " + "It should also " + "keep going " * 40
    fields = episode_fields(session.prompt(text).parse())
    assert fields["task"] == "Make the importer resumable."


@pytest.mark.parametrize(
    ("final", "tests", "errors", "expected"),
    [
        ("All tests pass now.", None, [], "success"),
        ("Implemented the new flag.", None, [], "success"),
        ("I was unable to reproduce the crash.", None, [], "failure"),
        ("Fixed the parser, but I could not get the CLI test to run.", None, [], "partial"),
        ("The bug is not fixed yet.", None, [], "failure"),
        ("Here is an overview of the module.", None, [], "unknown"),
        ("Here is an overview.", None, [("boom", None)], "partial"),
        ("Looks good.", True, [], "success"),
        ("Tests pass, but I failed to update the docs.", True, [], "partial"),
        ("Done.", False, [], "failure"),
    ],
)
def test_outcome_from_evidence(final: str, tests: bool | None, errors: list, expected: str) -> None:
    t = Transcript(path=Path("x"), final_text=final, tests_passed_at_end=tests, errors=errors)
    t.files = ["src/app.py"]  # the words report on work done
    assert outcome(t) == expected


@pytest.mark.parametrize(
    "final",
    [
        "The claim could not be verified: the docs are blocked and I was unable to reach them.",
        "Done: implemented as described, and that fixed it for them.",
        "I couldn't find a definitive answer; the tests still fail upstream.",
    ],
)
def test_words_alone_are_no_outcome_in_a_session_that_did_nothing(
    session: Session, final: str
) -> None:
    """A question answered: its words say nothing about work, so nothing may be credited."""
    session.prompt("Why does the CI cache miss on every run?")
    session.tool("Read", {"file_path": "/w/.github/ci.yml"}, "cache: key: ...")
    session.bash("ls .github/workflows", "ci.yml").say(final)
    assert episode_fields(session.parse())["outcome"] == "unknown"


def test_synthetic_messages_are_not_claudes_answer(session: Session) -> None:
    """Claude Code writes these itself: after --resume or --fork-session, when logged out."""
    session.prompt("Fix the flaky login test").edit("/w/auth.py").bash("pytest", "3 passed")
    session.say("Fixed the race in the login fixture; all tests pass.")
    session.prompt("Continue from where you left off.", isMeta=True)
    session._line("assistant", [{"type": "text", "text": "No response requested."}])
    session.lines[-1]["message"]["model"] = "<synthetic>"
    session.prompt("And the logout test?")
    session._line("assistant", [{"type": "text", "text": "Not logged in · Please run /login"}])
    session.lines[-1]["message"]["model"] = "<synthetic>"
    t = session.parse()
    assert t.final_text == "Fixed the race in the login fixture; all tests pass."
    assert t.prompts == ["Fix the flaky login test", "And the logout test?"]


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("pytest -q", True),
        ("uv run pytest tests/test_x.py -k login", True),
        ("cd web && npm test", True),
        ("npm run test:unit", True),
        ("go test ./...", True),
        ("cargo test --all", True),
        ("make test", True),
        ("python -m unittest discover", True),
        ("npx vitest run", True),
        ("pip install pytest", False),
        ("cat pytest.ini", False),
        ("git commit -m 'add tests'", False),
        ("npm run build", False),
    ],
)
def test_test_commands_are_recognised(command: str, expected: bool) -> None:
    assert is_test_command(command) is expected


def test_error_line_prefers_the_exception_over_the_traceback_header() -> None:
    out = 'Traceback (most recent call last):\n  File "a.py", line 1\nValueError: bad value\n'
    assert error_line(out) == "ValueError: bad value"
    assert error_line("Exit code 1\n") == ""


def test_failed_look_arounds_are_not_errors(session: Session) -> None:
    t = (
        session.prompt("x")
        .bash("grep -rn TODO src", "Exit code 1", True)
        .bash("cd web && ls dist", "Exit code 2\nls: cannot access 'dist'", True)
        .bash("make", "Exit code 2", True)
        .parse()
    )
    assert t.errors == [("`make` failed", None)]


def test_an_oversized_transcript_is_read_from_both_ends(tmp_path: Path, session: Session) -> None:
    """The task is at the start and the outcome at the end: only the middle is left out."""
    session.prompt("Make the build reproducible")
    for i in range(50):
        session.bash(f"make step{i}", "ok")
    session.bash("pytest -q", "3 passed in 0.4s").say("The build is reproducible now.")
    whole = session.parse()
    assert whole.truncated is False and len(whole.commands) == 51
    t = parse_transcript(session.path, max_bytes=4_000)
    assert t.truncated is True and t.skipped_lines == 0  # the line cut in two is not counted
    assert t.first_prompt == "Make the build reproducible"
    assert "make step0" in t.commands and "make step25" not in t.commands
    assert t.commands[-1] == "pytest -q" and t.tests_passed_at_end is True
    assert t.final_text == "The build is reproducible now."


def test_five_megabyte_transcript(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    output = "collected 1 item\n" + "log line with some detail\n" * 120
    with path.open("w", encoding="utf-8") as fh:
        first = {"type": "user", "sessionId": "big", "cwd": "/w", "uuid": "p0"}
        fh.write(
            json.dumps(first | {"message": {"role": "user", "content": "Port the app"}}) + "\n"
        )
        i = 0
        while fh.tell() < 5_000_000:
            i += 1
            use = {
                "type": "tool_use",
                "id": f"e{i}",
                "name": "Edit",
                "input": {"file_path": f"/w/f{i % 700}.py"},
            }
            run = {
                "type": "tool_use",
                "id": f"b{i}",
                "name": "Bash",
                "input": {"command": f"make part{i}"},
            }
            for tid, block in ((f"e{i}", use), (f"b{i}", run)):
                fh.write(
                    json.dumps(
                        {
                            "type": "assistant",
                            "uuid": f"a{tid}",
                            "message": {"role": "assistant", "content": [block]},
                        }
                    )
                    + "\n"
                )
                result = {"type": "tool_result", "tool_use_id": tid, "content": output}
                fh.write(
                    json.dumps(
                        {
                            "type": "user",
                            "uuid": f"r{tid}",
                            "message": {"role": "user", "content": [result]},
                        }
                    )
                    + "\n"
                )
        fh.write(
            json.dumps(
                {
                    "type": "assistant",
                    "uuid": "end",
                    "message": {"role": "assistant", "content": "Ported."},
                }
            )
            + "\n"
        )
    assert path.stat().st_size >= 5_000_000
    t = parse_transcript(path)
    assert t.skipped_lines == 0
    assert t.first_prompt == "Port the app"
    assert len(t.files) == min(i, 700)
    assert len(t.commands) == i and t.commands[-1] == f"make part{i}"
    assert t.final_text == "Ported."


def test_a_secret_at_a_cut_is_kept_whole_for_redaction_or_left_out(session: Session) -> None:
    """Cut to 34 of its 36 characters, a token would slip past redaction in clear."""
    from memrl.integrations.claude.transcript import MAX_FINAL
    from memrl.redact import redact_text

    token = "ghp_" + "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"[:36]
    filler = "W" * (MAX_FINAL - 40)
    session.prompt("Rotate the deploy token").say(f"{filler} {token} and done")
    summary = episode_fields(session.parse())["summary"]
    assert token[:-2] not in redact_text(summary)[0]
    assert summary == filler  # the word that did not fit is left out whole


def test_a_refused_memrl_capture_does_not_stand_for_the_session(session: Session) -> None:
    tool = "mcp__memrl__memrl_capture"
    session.prompt("Fix the cart").edit("/w/cart.py")
    session.tool(tool, {"summary": "x"}, "task is over the limit", error=True)
    assert session.parse().captured_via_mcp is False  # the hook captures it instead
    session.tool(tool, {"summary": "Fixed the cart"}, "Captured episode ab12cd34")
    assert session.parse().captured_via_mcp is True


def test_ide_context_slash_commands_and_small_talk_are_not_the_task(session: Session) -> None:
    session.prompt(
        [
            {"type": "text", "text": "<ide_opened_file>The user opened app.py</ide_opened_file>"},
            {"type": "text", "text": "hi"},
        ]
    )
    session.prompt(
        "<command-message>fix-issue is running…</command-message>\n"
        "<command-name>/fix-issue</command-name>\n<command-args>412 checkout total</command-args>"
    )
    session.prompt("continue")
    assert episode_fields(session.parse())["task"] == "/fix-issue 412 checkout total"


def test_files_are_named_from_the_repository_root(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "src" / "auth").mkdir(parents=True)
    s = Session(tmp_path / "s.jsonl", cwd=str(repo / "src" / "auth"))
    s.prompt("Fix the redirect").edit(str(repo / "src/auth/views.py"))
    s.edit(str(repo / "tests/test_redirect.py")).edit("/etc/hosts")
    assert episode_fields(s.parse())["files"] == [
        "src/auth/views.py",
        "tests/test_redirect.py",
        "/etc/hosts",
    ]


@pytest.mark.parametrize(
    ("command", "output", "final", "expected"),
    [
        (
            "npx jest",
            "✓ handles 3 errors gracefully\nTests:       2 passed, 2 total",
            "The suite is green.",
            "success",
        ),
        ("pytest", "=== 1 failed, 4 passed in 0.31s ===", "Tried a fix.", "failure"),
        (
            "cargo test",
            "test result: ok. 5 passed; 0 failed",
            "Not done yet: I'd still need to update the docs.",
            "partial",
        ),
        (None, "", "I wasn't able to reproduce the bug.", "failure"),
        (None, "", "The build is still broken after the upgrade.", "failure"),
        (None, "", "I fixed the typo, but the tests fail on CI.", "partial"),
    ],
)
def test_the_outcome_follows_the_evidence(
    session: Session, command: str | None, output: str, final: str, expected: str
) -> None:
    session.prompt("Fix it").edit("/w/a.py")
    if command:
        session.bash(command, output)
    session.say(final)
    assert episode_fields(session.parse())["outcome"] == expected


def test_a_greeting_alone_asks_for_nothing(session: Session) -> None:
    session.prompt("hi").say("Hi! How can I help you today?")
    assert episode_fields(session.parse())["task"] == ""  # the hooks keep no episode of it


@pytest.mark.parametrize(
    ("follow_up", "tool", "answer"),
    [
        ("are there any other places using utcnow?", ("Grep", {"pattern": "utcnow"}),
         "No, I couldn't find any other usages of utcnow."),
        ("commit it", ("Bash", {"command": "git commit -am 'Use now(UTC)'"}),
         "Committed as 1a2b3c4."),
        ("great, thanks!", None, "You're welcome! Let me know if you need anything else."),
    ],
)  # fmt: skip
def test_a_closing_turn_that_did_no_work_does_not_replace_the_works_summary(
    session: Session, follow_up: str, tool: tuple | None, answer: str
) -> None:
    session.prompt("Replace datetime.utcnow() everywhere").edit("/w/app/clock.py")
    session.bash("pytest -q", "3 passed in 0.2s").say("Done: replaced utcnow(); tests pass.")
    session.prompt(follow_up)
    if tool:
        session.tool(*tool, "ok")
    t = session.say(answer).parse()
    fields = episode_fields(t)
    assert fields["summary"] == "Done: replaced utcnow(); tests pass."
    assert fields["outcome"] == "success"


def test_a_turn_that_does_work_after_finished_work_has_the_last_word(session: Session) -> None:
    session.prompt("Replace datetime.utcnow() everywhere").edit("/w/app/clock.py")
    session.say("Done: replaced utcnow().")
    t = session.prompt("now the tests too").edit("/w/tests/test_clock.py").say("Tests updated.")
    assert t.parse().final_text == "Tests updated."


def test_reading_git_history_to_answer_a_question_is_no_work(session: Session) -> None:
    t = (
        session.prompt("who changed the webhook retry policy last?")
        .bash("git log --oneline -5 -- src/webhooks.py", "a1b2c3 Retry with jitter")
        .bash("git blame -L 10,20 src/webhooks.py", "a1b2c3 (ann) retries = 5")
        .say("Ann did, in a1b2c3.")
        .parse()
    )
    assert not did_work(t) and outcome(t) == "unknown"


def test_a_lone_surrogate_in_the_transcript_does_not_stop_the_episode(session: Session) -> None:
    """Claude Code writes "\\ud83d" where it cut an emoji in two; the episode still stores."""
    t = (
        session.prompt("Fix the emoji report \ud83d")
        .bash("python report.py", "Traceback\nValueError: bad \ud83d", error=True)
        .edit("/w/report.py")
        .bash("python report.py", "ok")
        .say("Fixed \ud83d the report.")
        .parse()
    )
    fields = episode_fields(t)
    episode = Episode(**{k: v for k, v in fields.items() if k != "session_id"})
    assert episode.summary == "Fixed \ufffd the report."
    assert "\ufffd" in episode.errors_resolved[0].error


def test_a_subagents_work_kept_beside_the_transcript_is_the_sessions(tmp_path: Path) -> None:
    """Claude Code 2.x writes a subagent's messages to <session>/subagents/agent-<id>.jsonl;
    the transcript holds only the call and its answer."""
    main = Session(tmp_path / "s-1.jsonl")
    main.prompt("Use a subagent to migrate the settings loader from INI to TOML.")
    answer = [{"type": "text", "text": "Migrated src/settings.py to tomllib; 14 passed."}]
    main.tool("Task", {"prompt": "Migrate src/settings.py"}, answer, toolUseResult={
        "agentId": "a1b2c3", "status": "completed", "content": answer})  # fmt: skip
    main.say("The subagent migrated the loader to TOML; all 14 tests pass.")
    sub = Session(tmp_path / "s-1" / "subagents" / "agent-a1b2c3.jsonl")
    sub.prompt("Migrate src/settings.py from INI to TOML", isSidechain=True)
    sub.edit("/w/src/settings.py").bash("pytest -q", "1 failed, 13 passed in 0.3s")
    sub.edit("/w/tests/test_settings.py").bash("pytest -q", "14 passed in 0.3s")
    sub.say("Done.")
    sub.path.parent.mkdir(parents=True)
    sub.parse()  # writes it
    t = main.parse()
    assert t.files == ["src/settings.py", "tests/test_settings.py"]
    assert t.commands == ["pytest -q"] and t.tests_passed_at_end is True
    assert t.prompts == ["Use a subagent to migrate the settings loader from INI to TOML."]
    assert t.final_text == "The subagent migrated the loader to TOML; all 14 tests pass."
    assert did_work(t) and outcome(t) == "success"
