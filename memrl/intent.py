"""What was asked, as a task type, a few tags and one clean line.

Retrieval ranks by these, so they must be available to every user: the rules below run
offline in microseconds and give the same answer every time. When an Anthropic API key
is configured, `extract_with_llm` asks a small model instead, and falls back to the rules
on any failure so capture never waits on, or breaks with, the network.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from memrl.redact import redact_text

TASK_TYPES = ("bugfix", "feature", "refactor", "test", "docs", "research", "debug", "setup")
MAX_TAGS = 8
MAX_INTENT = 200
DEFAULT_MODEL = "claude-haiku-4-5"


@dataclass
class Intent:
    task_type: str = "unknown"
    tags: list[str] = field(default_factory=list)
    intent: str = ""
    source: str = "rules"


def _rx(*words: str) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(words) + r")\b", re.I)


# (task type, weight, pattern). Verbs that open the request weigh most: they say what
# the user wants done, while nouns later in the sentence often only say where.
# fmt: off
_OPENING = [
    ("bugfix", 3, _rx("fix", "repair", "resolve", "patch", "correct")),
    ("feature", 3, _rx("implement", "build", "introduce", "support", "enable", "allow")),
    ("feature", 1, _rx("add", "create", "write", "generate")),
    ("refactor", 3, _rx("refactor", "rename", "extract", "clean ?up", "simplify", "restructure",
                        "reorgani[sz]e", "move", "split", "consolidate", "dedupe", "modernize",
                        "tidy")),
    ("debug", 3, _rx("debug", "trace", "reproduce", "diagnose", "troubleshoot", "profile",
                     "bisect")),
    ("research", 3, _rx("investigate", "research", "compare", "explain", "evaluate", "explore",
                        "understand", "find out", "look into", "what", "why", "how", "which",
                        "is there", "should (?:we|i)", "summari[sz]e", "review")),
    ("setup", 3, _rx("install", "configure", "set ?up", "bootstrap", "deploy", "upgrade", "bump",
                     "pin", "migrate to", "containeri[sz]e", "dockeri[sz]e")),
    ("docs", 3, _rx("document")),
    ("test", 2, _rx("test")),
]
_ANYWHERE = [
    ("bugfix", 2, _rx("fix(?:es|ed|ing)?", "bugs?", "errors?", "crash(?:es|ed|ing)?", "broken",
                      "breaks?", "fail(?:s|ing|ure)?", "exception", "regression", "traceback",
                      "incorrect", "wrong", "doesn'?t work", "not working", "typo")),
    ("feature", 2, _rx("new", "feature", "support for", "ability to", "option", "flag",
                       "endpoint", "command")),
    ("refactor", 2, _rx("refactor(?:ing)?", "rename", "clean ?up", "extract", "simplify",
                        "duplicated? code", "tech debt", "readability")),
    ("test", 4, re.compile(r"\b(?:write|add|create|increase|improve|extend|more)\b.{0,30}"
                           r"\b(?:tests?|coverage|test cases?|specs?)\b", re.I)),
    ("test", 2, _rx("unit tests?", "integration tests?", "e2e tests?", "coverage", "tests? for")),
    ("docs", 3, _rx("readme", "docs", "documentation", "docstrings?", "changelog", "tutorial",
                    "contributing\\.md")),
    ("research", 2, _rx("investigate", "research", "compare", "comparison", "alternatives?",
                        "trade-?offs?", "pros and cons", "how does", "why does", "why is",
                        "understand")),
    ("debug", 2, _rx("debug(?:ging)?", "trace", "reproduce", "diagnose", "root cause", "bisect")),
    ("setup", 2, _rx("install", "configure", "configuration", "set ?up", "ci", "github actions",
                     "docker(?:file)?", "docker-compose", "dependenc(?:y|ies)", "deps",
                     "pre-commit", "venv", "deploy(?:ment)?", "kubernetes", "helm",
                     "terraform", "upgrade")),
]
_WHY = re.compile(
    r"(?:why|investigate|look into|find out|figure out|what(?:'s| is) causing|what causes)\b", re.I
)
_PRECEDENCE = ("bugfix", "debug", "test", "docs", "refactor", "setup", "feature", "research")

_POLITE = re.compile(
    r"^(?:(?:hi|hey|hello|ok(?:ay)?|so|alright|claude)(?![\w-])[,!.]?\s*"
    r"|(?:please|pls|kindly)[,!]?\s+|(?:can|could|would|will) you(?: please)?\s+"
    r"|i(?:'d| would) like (?:you )?to\s+|i (?:want|need) (?:you )?to\s+|help me(?: to)?\s+"
    r"|let'?s\s+|we need to\s+|go ahead and\s+|you should\s+|try to\s+)+",
    re.I,
)
_TRAILING = re.compile(
    r"(?:[\s,]*(?:please|thanks|thank you|thx|for me))+[\s.!?]*$|[\s.!?;:,]+$", re.I
)

_EXT_TAGS = {
    ".py": ("python",), ".pyi": ("python",), ".ipynb": ("python", "jupyter"),
    ".ts": ("typescript",), ".tsx": ("typescript", "react"), ".js": ("javascript",),
    ".mjs": ("javascript",), ".cjs": ("javascript",), ".jsx": ("javascript", "react"),
    ".rs": ("rust",), ".go": ("go",), ".java": ("java",), ".kt": ("kotlin",), ".rb": ("ruby",),
    ".php": ("php",), ".cs": ("csharp",), ".cpp": ("cpp",), ".cc": ("cpp",), ".hpp": ("cpp",),
    ".c": ("c",), ".h": ("c",), ".swift": ("swift",), ".sql": ("sql",), ".sh": ("shell",),
    ".bash": ("shell",), ".tf": ("terraform",), ".vue": ("vue",), ".svelte": ("svelte",),
    ".css": ("css",), ".scss": ("css",), ".html": ("html",), ".proto": ("protobuf",),
}
_NAME_TAGS = {
    "dockerfile": "docker", "docker-compose.yml": "docker", "compose.yaml": "docker",
    "makefile": "make", "package.json": "javascript", "cargo.toml": "rust", "go.mod": "go",
    "pyproject.toml": "python", "requirements.txt": "python",
}
_COMMAND_TAGS = [
    (re.compile(r"^(?:pytest|python3?|pip3?|uv|poetry|ruff|mypy|tox)\b"), "python"),
    (re.compile(r"^(?:npm|npx|pnpm|yarn|node|bun)\b"), "javascript"),
    (re.compile(r"^tsc\b"), "typescript"),
    (re.compile(r"^cargo\b"), "rust"),
    (re.compile(r"^go\s+(?:build|test|run|mod|vet)\b"), "go"),
    (re.compile(r"^docker(?:-compose)?\b"), "docker"),
    (re.compile(r"^(?:kubectl|helm)\b"), "kubernetes"),
    (re.compile(r"^terraform\b"), "terraform"),
    (re.compile(r"^(?:psql|mysql|sqlite3)\b"), "sql"),
]
_FRAMEWORKS = [
    ("react", _rx("react")), ("django", _rx("django")), ("flask", _rx("flask")),
    ("fastapi", _rx("fastapi")), ("nextjs", _rx(r"next\.?js")), ("vue", _rx("vue")),
    ("rails", _rx("rails")), ("express", _rx("express(?:js)?")), ("spring", _rx("spring boot")),
    ("pydantic", _rx("pydantic")), ("sqlalchemy", _rx("sqlalchemy")),
    ("postgres", _rx("postgres(?:ql)?", "psql")), ("redis", _rx("redis")),
    ("graphql", _rx("graphql")), ("tailwind", _rx("tailwind")),
    ("kubernetes", _rx("kubernetes", "k8s")),
]
_TOPICS = [
    ("auth", _rx("auth(?:entication|orization|enticate|n)?", "log ?in", "logout", "oauth", "jwt",
                 "sso", "sign ?in", "sign ?up", "password", "session cookies?")),
    ("database", _rx("database", "db", "sql", "migrations?", "schema", "quer(?:y|ies)", "orm",
                     "sqlite", "postgres(?:ql)?", "mysql")),
    ("api", _rx("api", "endpoints?", "graphql", "http", "routes?", "webhooks?")),
    ("ci", _rx("ci", "github actions", "workflows?", "pipelines?")),
    ("performance", _rx("performance", "slow", "speed ?up", "faster", "latency", "memory leak",
                        "optimi[sz]e", "cach(?:e|ing)", "n\\+1")),
    ("security", _rx("security", "vulnerabilit(?:y|ies)", "xss", "csrf", "injection", "cve",
                     "sanitiz(?:e|ation)", "secrets?")),
    ("ui", _rx("ui", "css", "layout", "button", "frontend", "styles?", "modal", "dark mode",
               "responsive", "components?")),
    ("testing", _rx("tests?", "pytest", "coverage", "jest", "vitest", "flaky")),
    ("deps", _rx("dependenc(?:y|ies)", "deps", "upgrade", "bump", "lockfile", "requirements")),
    ("cli", _rx("cli", "command[- ]line", "argparse", "typer", "click")),
    ("concurrency", _rx("race condition", "deadlock", "threads?", "async",
                        "concurren(?:t|cy)")),
]
# fmt: on


def clean_intent(task: str) -> str:
    """The request as one plain line: no greeting, no 'can you please', no trailing '?'."""
    lines = [ln.strip() for ln in task.splitlines() if ln.strip()]
    text = " ".join(lines[0].split()) if lines else ""
    if text.endswith(":") and len(lines) > 1:
        text = f"{text} {lines[1]}"
    raw = text
    text = _TRAILING.sub("", _POLITE.sub("", text))
    text = _POLITE.sub("", text) or _TRAILING.sub("", raw) or raw  # "Hi! Could you …"
    if len(text) > MAX_INTENT:
        text = text[: MAX_INTENT - 1].rsplit(" ", 1)[0] + "…"
    return text[:1].upper() + text[1:]


def classify(task: str, summary: str = "", files: Sequence[str] = ()) -> str:
    """The task type by weighted keyword rules; the summary only breaks a silence."""
    scores = _score(clean_intent(task), task) or _score(clean_intent(summary), summary)
    if not scores and files:
        kinds = {_file_kind(f) for f in files}
        if kinds == {"docs"}:
            return "docs"
        if kinds == {"test"}:
            return "test"
    if not scores:
        return "unknown"
    best = max(scores.values())
    return next(t for t in _PRECEDENCE if scores.get(t) == best)


def _score(opening: str, text: str) -> dict[str, int]:
    scores: dict[str, int] = {}
    for kind, weight, pattern in _OPENING:
        m = pattern.match(opening)
        if m and kind not in scores:
            scores[kind] = weight
    for kind, weight, pattern in _ANYWHERE:
        if pattern.search(text):
            scores[kind] = scores.get(kind, 0) + weight
    if "bugfix" in scores and _WHY.match(opening):  # "why does X crash?" is debugging
        scores["debug"] = max(scores.values()) + 1
    return scores


def _file_kind(path: str) -> str:
    p = PurePosixPath(path.lower())
    if p.suffix in (".md", ".rst", ".txt", ".adoc") or "docs" in p.parts:
        return "docs"
    if p.name.startswith("test_") or ".test." in p.name or ".spec." in p.name or "tests" in p.parts:
        return "test"
    return "code"


def tags_for(text: str, files: Iterable[str] = (), commands: Iterable[str] = ()) -> list[str]:
    """Languages from files and commands, then frameworks, then topics; at most eight."""
    files = list(files)
    counts: dict[str, int] = {}
    for f in files:
        p = PurePosixPath(f.lower())
        found = _EXT_TAGS.get(p.suffix, ()) + (
            (_NAME_TAGS[p.name],) if p.name in _NAME_TAGS else ()
        )
        if ".github/workflows" in f:
            found += ("ci",)
        for tag in found:
            counts[tag] = counts.get(tag, 0) + 1
    languages = sorted(counts, key=lambda t: -counts[t])
    for command in commands:
        for pattern, tag in _COMMAND_TAGS:
            if pattern.search(command.strip()) and tag not in languages:
                languages.append(tag)
    haystack = " ".join([text, *files])
    named = [name for name, rx in _FRAMEWORKS if rx.search(haystack)]
    named += [name for name, rx in _TOPICS if rx.search(text)]
    tags = list(dict.fromkeys(languages + named))
    return tags[:MAX_TAGS]


def extract(
    task: str,
    summary: str,
    files: Sequence[str] = (),
    commands: Sequence[str] = (),
    *,
    tags: bool = True,
) -> Intent:
    """Task type, tags (unless not asked for) and a clean one-line intent, by rules alone."""
    files, commands = list(files), list(commands)
    return Intent(
        task_type=classify(task, summary, files),
        tags=tags_for(f"{task}\n{summary}", files, commands) if tags else [],
        intent=clean_intent(task or summary),
    )


_PROMPT = """Classify this piece of software work. Reply with JSON only, no prose:
{{"intent": "<one line, imperative, at most 200 characters, what was asked>",
 "task_type": "<one of {types}>",
 "tags": ["<up to 8 short lowercase tags: languages, frameworks, topics>"]}}

Task: {task}
Summary: {summary}
Files: {files}
Commands: {commands}"""


def _parse_reply(text: str) -> Intent:
    """The model's JSON as an Intent; ValueError when it is not what was asked for."""
    m = re.search(r"\{.*\}", text, re.S)
    data = json.loads(m.group(0) if m else text)
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    intent, task_type, tags = data.get("intent"), data.get("task_type"), data.get("tags", [])
    task_type = task_type.strip().lower() if isinstance(task_type, str) else task_type
    if not isinstance(intent, str) or not intent.strip():
        raise ValueError("'intent' is missing")
    if task_type not in (*TASK_TYPES, "unknown"):
        raise ValueError(f"'task_type' {task_type!r} is not one of {', '.join(TASK_TYPES)}")
    if not isinstance(tags, list) or not all(isinstance(t, str) and 0 < len(t) <= 32 for t in tags):
        raise ValueError("'tags' is not a list of short strings")
    clean = list(dict.fromkeys(t.strip().lower().lstrip("#") for t in tags if t.strip()))
    line = " ".join(intent.split())
    return Intent(task_type, clean[:MAX_TAGS], line[:MAX_INTENT], source="llm")


def extract_with_llm(
    task: str,
    summary: str,
    files: Sequence[str] = (),
    commands: Sequence[str] = (),
    *,
    timeout: float = 8.0,
    max_tokens: int = 300,
) -> tuple[Intent, str | None]:
    """Ask a small Claude model; on any failure use the rules and say why in the note."""
    files, commands = list(files), list(commands)

    def offline(why: str) -> tuple[Intent, str]:
        return extract(task, summary, files, commands), f"intent: offline rules used ({why})"

    key = os.environ.get("ANTHROPIC_API_KEY")
    if not key:
        return offline("ANTHROPIC_API_KEY is not set")
    try:
        import anthropic
    except ImportError:
        return offline("the anthropic package is not installed: pip install 'memrl[llm]'")
    prompt = _PROMPT.format(
        types=", ".join(TASK_TYPES),
        task=redact_text(task[:2_000])[0],
        summary=redact_text(summary[:4_000])[0],
        files=redact_text(", ".join(files[:30])[:1_500])[0],
        commands=redact_text("; ".join(commands[:20])[:1_500])[0],
    )
    model = os.environ.get("MEMRL_INTENT_MODEL") or DEFAULT_MODEL
    try:
        client = anthropic.Anthropic(api_key=key, timeout=timeout, max_retries=0)
        reply = client.messages.create(
            model=model, max_tokens=max_tokens, messages=[{"role": "user", "content": prompt}]
        )
        text = "".join(getattr(b, "text", "") for b in reply.content)
    except anthropic.RateLimitError:
        return offline("the API is rate limiting requests (HTTP 429)")
    except anthropic.APITimeoutError:
        return offline(f"the API did not answer within {timeout:g}s")
    except anthropic.APIStatusError as exc:
        return offline(f"the API answered HTTP {exc.status_code}")
    except anthropic.APIConnectionError:
        return offline("the API could not be reached")
    except ValueError as exc:  # a proxy or stand-in answering 200 with something else
        return offline(f"the API's answer could not be read: {exc}")
    except Exception as exc:  # the SDK failing in a way we did not foresee
        return offline(f"{type(exc).__name__}: {exc}")
    try:
        return _parse_reply(text), None
    except (ValueError, TypeError) as exc:
        return offline(f"the model's reply was not valid intent JSON: {exc}")
