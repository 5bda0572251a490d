"""Intent extraction: offline rules, and the optional LLM path against a local stand-in API."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from memrl.intent import Intent, clean_intent, extract, extract_with_llm

TASKS = [
    ("Fix the login redirect bug", "bugfix"),
    ("can you please fix the crash when uploading an empty file?", "bugfix"),
    ("The CSV export is broken for non-ASCII names", "bugfix"),
    ("Users get a 500 error when the cart is empty", "bugfix"),
    ("The build fails with 'module not found' after upgrading numpy", "bugfix"),
    ("Add a --json flag to the list command", "feature"),
    ("Implement rate limiting for the public API", "feature"),
    ("Support dark mode in the settings page", "feature"),
    ("Please, add pagination to the /orders endpoint", "feature"),
    ("Create a new endpoint for exporting invoices as PDF", "feature"),
    ("Refactor the payment service into smaller modules", "refactor"),
    ("Rename UserManager to AccountService everywhere", "refactor"),
    ("Clean up the duplicated validation code in forms.py", "refactor"),
    ("Extract the retry logic into a helper", "refactor"),
    ("Write unit tests for the invoice calculator", "test"),
    ("Increase test coverage of the parser to 90%", "test"),
    ("Add tests for the new OAuth callback", "test"),
    ("Update the README with install instructions", "docs"),
    ("Document the public API of the client module", "docs"),
    ("Add docstrings to the storage layer", "docs"),
    ("There's a typo in CONTRIBUTING.md", "docs"),
    ("Why does the worker crash on startup?", "debug"),
    ("Investigate why CI is failing on main", "debug"),
    ("Debug the flaky websocket test", "debug"),
    ("Reproduce the memory leak reported in issue #42", "debug"),
    ("How does the caching layer decide when to evict entries?", "research"),
    ("Compare SQLite FTS5 and Tantivy for our search", "research"),
    ("Explain the error handling in the parser", "research"),
    ("Hi! Could you look into why the export is so slow?", "research"),
    ("Set up GitHub Actions CI for the repo", "setup"),
    ("Install and configure pre-commit with ruff", "setup"),
    ("Dockerize the app", "setup"),
    ("Upgrade Django to 5.0", "setup"),
    ("hello", "unknown"),
]


@pytest.mark.parametrize(("task", "expected"), TASKS)
def test_task_type_rules(task: str, expected: str) -> None:
    assert extract(task, "").task_type == expected


def test_summary_decides_only_when_the_task_says_nothing() -> None:
    assert extract("", "Fixed a crash in the importer").task_type == "bugfix"
    assert extract("Rename the module", "Fixed a crash in the importer").task_type == "refactor"


def test_files_decide_when_words_say_nothing() -> None:
    assert extract("the usual", "", files=["README.md", "docs/usage.md"]).task_type == "docs"
    assert extract("the usual", "", files=["tests/test_api.py"]).task_type == "test"
    assert extract("the usual", "", files=["src/app.py"]).task_type == "unknown"


@pytest.mark.parametrize(
    ("task", "expected"),
    [
        ("can you please fix the crash when uploading an empty file?", "Fix the crash when uploading an empty file"),
        ("Hi Claude, could you add a --json flag to `memrl list`, thanks!", "Add a --json flag to `memrl list`"),
        ("I'd like you to refactor the storage layer.", "Refactor the storage layer"),
        ("please help me set up pre-commit please", "Set up pre-commit"),
        ("Fix this error:\nKeyError: 'user_id'\n  File x.py", "Fix this error: KeyError: 'user_id'"),
        ("hello", "Hello"),
        ("hello-json-test", "Hello-json-test"),  # a name, not a greeting
        ("", ""),
    ],
)  # fmt: skip
def test_intent_line_is_cleaned(task: str, expected: str) -> None:
    assert clean_intent(task) == expected


def test_intent_line_is_short() -> None:
    text = clean_intent("Please " + "make the importer resumable and " * 20)
    assert len(text) <= 200
    assert text.startswith("Make the importer resumable")


def test_tags_from_files_commands_and_topics() -> None:
    intent = extract(
        "Fix the login redirect after OAuth sign in",
        "Patched validate_return_url; all tests pass.",
        files=["src/app/auth.py", "src/app/views.py", "web/Login.tsx"],
        commands=["pytest -q", "npm run build"],
    )
    assert intent.tags[:3] == ["python", "typescript", "react"]
    assert "javascript" in intent.tags
    assert "auth" in intent.tags and "testing" in intent.tags
    assert all(t == t.lower() for t in intent.tags)
    assert intent.source == "rules"


def test_tags_for_database_work() -> None:
    tags = extract(
        "Add a unique index on users.email in Postgres",
        "",
        files=["migrations/0007_email.sql", "docker-compose.yml"],
    ).tags
    assert tags == ["sql", "docker", "postgres", "database"]


def test_tags_are_capped_at_eight() -> None:
    files = [
        f"x{ext}" for ext in (".py", ".ts", ".rs", ".go", ".java", ".rb", ".php", ".sql", ".sh")
    ]
    intent = extract("Fix the auth API tests and the CI pipeline and the slow query", "", files)
    assert len(intent.tags) == 8
    assert len(set(intent.tags)) == 8


def test_no_topics_from_words_every_kind_of_work_uses() -> None:
    assert "auth" not in extract("Second capture in the same session", "", []).tags
    assert "database" not in extract("Rebuild the search index of the docs site", "", []).tags


def test_no_false_topics_from_lookalike_words() -> None:
    tags = extract("Update the author field in the citation", "", []).tags
    assert "auth" not in tags


# --- the LLM path, against a local stand-in for the Messages API ------------------------


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        self.server.requests.append(
            {
                "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body,
            }
        )
        status, payload, delay = self.server.reply
        time.sleep(delay)
        data = json.dumps(payload).encode() if not isinstance(payload, bytes) else payload
        try:
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args: Any) -> None:
        pass


def message(text: str) -> dict[str, Any]:
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-haiku-4-5",
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 10},
    }


GOOD = json.dumps(
    {"intent": "Fix the login redirect", "task_type": "bugfix", "tags": ["Python", "auth"]}
)


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.block_on_close = False
    server.requests = []
    server.reply = (200, message(GOOD), 0.0)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", f"http://127.0.0.1:{server.server_address[1]}")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key-not-real")
    monkeypatch.delenv("ANTHROPIC_AUTH_TOKEN", raising=False)
    monkeypatch.delenv("MEMRL_INTENT_MODEL", raising=False)
    yield server
    server.shutdown()
    server.server_close()


def test_llm_good_reply(api: ThreadingHTTPServer) -> None:
    intent, note = extract_with_llm(
        "pls fix login", "Fixed it.", ["a.py"], ["pytest"], max_tokens=123
    )
    assert note is None
    assert intent == Intent("bugfix", ["python", "auth"], "Fix the login redirect", "llm")
    (request,) = api.requests
    assert request["path"] == "/v1/messages"
    headers = request["headers"]  # the SDK sends the key as x-api-key or as a bearer token
    assert "test-key-not-real" in headers.get("x-api-key", "") + headers.get("authorization", "")
    assert request["body"]["model"] == "claude-haiku-4-5"
    assert request["body"]["max_tokens"] == 123


def test_llm_model_comes_from_env(
    api: ThreadingHTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEMRL_INTENT_MODEL", "claude-memrl-test-model")
    extract_with_llm("fix login", "")
    assert api.requests[0]["body"]["model"] == "claude-memrl-test-model"


def test_llm_prompt_is_redacted_and_truncated(api: ThreadingHTTPServer) -> None:
    secret = "ghp_" + "a1B2" * 9
    extract_with_llm(f"rotate {secret}", "s" * 50_000)
    sent = api.requests[0]["body"]["messages"][0]["content"]
    assert secret not in sent
    assert "[REDACTED:github_token]" in sent
    assert len(sent) < 10_000


def test_llm_reply_wrapped_in_a_code_fence_is_accepted(api: ThreadingHTTPServer) -> None:
    api.reply = (200, message(f"```json\n{GOOD}\n```"), 0.0)
    intent, note = extract_with_llm("fix login", "")
    assert (intent.source, note) == ("llm", None)


@pytest.mark.parametrize(
    ("status", "payload", "why"),
    [
        (429, {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}}, "429"),
        (500, {"type": "error", "error": {"type": "api_error", "message": "boom"}}, "HTTP 500"),
        (529, {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}, "HTTP 529"),
        (200, message("Sure! It is a bugfix."), "not valid intent JSON"),
        (200, message('{"intent": "x", "task_type": "chore", "tags": []}'), "task_type"),
        (200, message('{"intent": "x", "task_type": "bugfix", "tags": "python"}'), "tags"),
        (200, message('{"task_type": "bugfix", "tags": []}'), "intent"),
        (200, message('["bugfix"]'), "not valid intent JSON"),
        (200, b"<html>proxy error</html>", "could not be read"),
    ],
)  # fmt: skip
def test_llm_failures_fall_back_to_rules(
    api: ThreadingHTTPServer, status: int, payload: Any, why: str
) -> None:
    api.reply = (status, payload, 0.0)
    intent, note = extract_with_llm("Fix the login redirect bug", "")
    assert intent == extract("Fix the login redirect bug", "")
    assert intent.source == "rules"
    assert note is not None and note.startswith("intent: offline rules used (")
    assert why in note
    assert len(api.requests) == 1  # no retries: capture must not wait


def test_llm_slow_server_falls_back_within_the_timeout(api: ThreadingHTTPServer) -> None:
    api.reply = (200, message(GOOD), 3.0)
    started = time.monotonic()
    intent, note = extract_with_llm("Fix the login redirect bug", "", timeout=0.5)
    assert time.monotonic() - started < 2.0
    assert intent.source == "rules"
    assert note is not None and "0.5s" in note


def test_llm_unreachable_api_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    port = server.server_address[1]
    server.server_close()  # nothing listens on this port now
    monkeypatch.setenv("ANTHROPIC_BASE_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key-not-real")
    intent, note = extract_with_llm("Add a flag", "", timeout=2.0)
    assert intent.task_type == "feature"
    assert note is not None and "could not be reached" in note


def test_llm_without_key_uses_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    intent, note = extract_with_llm("Add a flag", "")
    assert intent.source == "rules" and intent.task_type == "feature"
    assert note == "intent: offline rules used (ANTHROPIC_API_KEY is not set)"


def test_llm_without_sdk_uses_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_anthropic(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "anthropic":
            raise ImportError("No module named 'anthropic'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key-not-real")
    monkeypatch.setattr(builtins, "__import__", no_anthropic)
    intent, note = extract_with_llm("Add a flag", "")
    assert intent.source == "rules"
    assert note is not None and "anthropic package is not installed" in note


# --- through capture, as a user runs it ----------------------------------------------------


def test_capture_extract_intent_uses_claude(api: ThreadingHTTPServer) -> None:
    from typer.testing import CliRunner

    from memrl.cli import app

    out = CliRunner().invoke(
        app,
        [
            "capture",
            "--summary",
            "Fixed it by validating the next parameter",
            "--project",
            "p",
            "--extract-intent",
            "--json",
        ],
    )
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["episode"]["task_type"] == "bugfix"
    assert {"python", "auth"} <= set(data["episode"]["tags"])
    assert data["episode"]["task"] == "Fix the login redirect"
    assert len(api.requests) == 1


def test_capture_extract_intent_without_key_falls_back_with_a_note(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from typer.testing import CliRunner

    from memrl.cli import app

    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    out = CliRunner().invoke(
        app,
        [
            "capture",
            "--task",
            "Fix the crash on empty upload",
            "--summary",
            "Guarded None",
            "--project",
            "p",
            "--extract-intent",
            "--json",
        ],
    )
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["episode"]["task_type"] == "bugfix"  # the offline rules
    assert any("ANTHROPIC_API_KEY" in w for w in data["warnings"])


def test_config_turns_llm_extraction_on_for_every_capture(
    api: ThreadingHTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from memrl.memory import Memory

    monkeypatch.setenv("MEMRL_CAPTURE_EXTRACT_INTENT_LLM", "true")
    memory = Memory()
    ep = memory.capture({"summary": "Fixed it", "project": "p"}).episode
    assert ep.task_type.value == "bugfix" and len(api.requests) == 1
    memory.close()
