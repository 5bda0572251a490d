"""Deterministic episode extraction from a Claude Code transcript (`<session>.jsonl`).

Hooks run this at the end of every session, so it must be fast, must never fail on a
half-written or foreign line, and must not guess: everything it reports (files, commands,
errors and what fixed them, whether the tests passed last) is read off the tool traffic.
Only the main chain supplies the task and the final answer; subagent (sidechain) traffic
still counts for files and commands, because that work happened too. Messages Claude Code
writes itself (`"model": "<synthetic>"`: "No response requested." after a resume, "Not
logged in") and API error messages are never Claude's answer.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

EDIT_TOOLS = {"Edit", "Write", "MultiEdit", "NotebookEdit"}
MAX_TEXT = 300
MAX_FINAL = 2_000
MAX_OPEN = 100  # unresolved errors still watched for a fix

_NOT_PROMPT = (
    "<command-name>", "<command-message>", "<command-args>", "<local-command-stdout>",
    "<local-command-stderr>", "<bash-input>", "<bash-stdout>", "<bash-stderr>",
    "<user-memory-input>", "Caveat:", "[Request interrupted",
)  # fmt: skip
# Read-only look-arounds: left out of an episode's commands, and their non-zero exits
# (grep finding nothing, ls of a missing path) are not errors worth remembering.
_TRIVIAL = {"ls", "pwd", "cat", "head", "tail", "echo", "which", "wc", "tree", "clear", "cd",
            "find", "grep", "rg", "ag", "stat", "file", "date", "whoami", "test", "[", "diff"}  # fmt: skip
# git's read-only look-arounds, and its bookkeeping: recording work is not work of its own
_GIT_LOOK = re.compile(r"git\s+(?:log|show|diff|blame|status|grep|branch|remote|rev-parse)\b")
_GIT_RECORD = re.compile(r"git\s+(?:add|commit|push|tag|stash)\b")
_REMINDER = re.compile(
    r"<system-reminder>.*?</system-reminder>|<ide_[a-z_]+>.*?</ide_[a-z_]+>", re.S
)  # context Claude Code adds to a prompt: reminders, the file or selection open in the IDE
_COMMAND_ARGS = re.compile(r"<command-args>(.*?)</command-args>", re.S)
_COMMAND_NAME = re.compile(r"<command-name>/?(.*?)</command-name>", re.S)
# Prompts that carry on rather than ask: never a session's task.
_TRIVIAL_PROMPT = re.compile(
    r"(?:hi|hello|hey|thanks?(?: you)?|ok(?:ay)?|yes|no|y|n|go(?: on| ahead)?|continue|proceed"
    r"|do it|sure|please|keep going|carry on|next)[\s.!]*",
    re.I,
)
_REJECTED = ("The user doesn't want to proceed", "[Request interrupted", "tool use was rejected")
_TEST_CMD = re.compile(
    r"(?<![\w./-])(?:pytest|py\.test|tox|nox|jest|vitest|mocha|rspec|phpunit|ctest"
    r"|(?:npm|pnpm|yarn|bun)\s+(?:run\s+)?test(?::\w+)?|go\s+test|cargo\s+(?:test|nextest)"
    r"|make\s+(?:test|check)\w*|python3?\s+-m\s+(?:pytest|unittest)|(?:mvn|gradlew?|\./gradlew)"
    r"\s+test|dotnet\s+test|deno\s+test)(?![\w.-])"
)
_INSTALL_ONLY = re.compile(
    r"^\s*(?:uv\s+)?(?:pip3?|npm|pnpm|yarn|poetry|uv|cargo)\s+(?:install|add|i)\b"
)
_EXIT_CODE = re.compile(r"^Exit code ([1-9]\d*)\s*$", re.M)
_TEST_FAILED = re.compile(
    # "N failed" counts only on a runner's summary line (1 failed, 2 passed in 0.3s; Tests: 1
    # failed, 3 total), not in a test's own name ("✓ handles 3 errors gracefully")
    r"^(?=.*(?:\bpassed\b|\btotal\b|\bin \d|^=+ ))[^\n]*\b[1-9]\d* (?:failed|errors?)\b"
    r"|^FAILED\b|^FAIL\b|^--- FAIL|test result: FAILED",
    re.M,
)
_FAILED_LINE = re.compile(r"^(?:FAILED|FAIL|--- FAIL)\b")
_EXCEPTION_LINE = re.compile(r"^[\w.]*(?:Error|Exception|Failure)\b\s*[:(]")
_ERROR_LINE = re.compile(
    r"^(?:error(?:\[\w+\])?:|fatal:|Error\b|ERROR\b|npm ERR!|E\s{2,}\S)"
    r"|command not found|No such file or directory|Permission denied|Traceback",
    re.I,
)


MAX_BYTES = 50_000_000  # the most of a transcript that is read: its first and last 25 MB
_AGENT_ID = re.compile(r"[\w-]{1,100}")


@dataclass
class Transcript:
    """What a session did, as read from its transcript."""

    path: Path
    session_id: str | None = None
    cwd: str | None = None
    first_prompt: str | None = None
    prompts: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    errors: list[tuple[str, str | None]] = field(default_factory=list)
    final_text: str = ""
    tests_passed_at_end: bool | None = None
    test_runs: list[tuple[str, bool]] = field(default_factory=list)
    captured_via_mcp: bool = False
    retrieved_via_mcp: bool = False
    compacted: bool = False
    compact_summary: str | None = None
    title: str | None = None
    sidechain_messages: int = 0
    skipped_lines: int = 0
    truncated: bool = False
    started_at: datetime | None = None
    ended_at: datetime | None = None


@dataclass
class _Use:
    name: str
    input: dict[str, Any]


@dataclass
class _OpenError:
    index: int
    keys: set[tuple[str, str]]
    edited: list[str] = field(default_factory=list)
    read: bool = False


def clip(text: str, limit: int) -> str:
    """At most `limit` characters, cut between words, never inside one.

    Secrets are redacted when the episode is stored, by patterns that need the whole
    token: `ghp_…` cut to 34 of its 36 characters would be stored in clear. So a cut
    keeps a word whole or leaves it out (a single word longer than `limit`, too).
    """
    if len(text) <= limit:
        return text
    head = text[: limit + 1]  # the next character tells whether the cut falls between words
    cut = max(head.rfind(" "), head.rfind("\n"), head.rfind("\t"))
    return head[:cut].rstrip() if cut > 0 else ""


def short(text: str, limit: int = MAX_TEXT) -> str:
    """One line, whitespace collapsed, at most `limit` characters, cut between words."""
    text = " ".join(text.split())
    return text if len(text) <= limit else clip(text, limit - 1) + "…"


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [
            b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text"
        ]
        return "\n".join(p for p in parts if isinstance(p, str))
    return ""


def is_test_command(command: str) -> bool:
    return bool(_TEST_CMD.search(command)) and not (
        _INSTALL_ONLY.match(command) and "&&" not in command and ";" not in command
    )


def _family(command: str) -> str:
    """Commands of one family can resolve each other's failures (`npm install x` → `npm install`);
    test commands are all one family, `test`, which the caller knows."""
    segments = [s.split("|")[0].strip() for s in re.split(r"&&|\|\||;", command)]
    segments = [s for s in segments if s and not s.startswith(("cd ", "export ", "source "))]
    tokens = [t for t in (segments or [""])[0].split() if "=" not in t and t not in ("sudo", "env")]
    if tokens[:2] in (["uv", "run"], ["poetry", "run"]):
        tokens = tokens[2:]
    elif tokens[:1] == ["npx"]:
        tokens = tokens[1:]
    return " ".join(tokens[:2]) or command


def error_line(output: str) -> str:
    """The line of a tool's output that says what went wrong."""
    output = output.replace("<tool_use_error>", "").replace("</tool_use_error>", "")
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    lines = [ln for ln in lines if not _EXIT_CODE.match(ln)]
    if not lines:
        return ""
    for pick in (
        lambda: next((ln for ln in lines if _FAILED_LINE.match(ln)), None),
        lambda: next((ln for ln in reversed(lines) if _EXCEPTION_LINE.match(ln)), None),
        lambda: next((ln for ln in lines if _ERROR_LINE.search(ln)), None),
    ):
        found = pick()
        if found:
            return re.sub(r"^E\s+", "", found)  # pytest's assertion-line marker
    return lines[0]


class _Parser:
    def __init__(self, path: Path) -> None:
        self.t = Transcript(path=path)
        self.uses: dict[str, _Use] = {}
        self.open: dict[str, _OpenError] = {}  # by error text, oldest first
        self.seen: set[str] = set()
        self.listed: set[tuple[str, str]] = set()
        self.final: list[str] = []
        self.final_closed = False
        # A turn (a prompt and what follows it) that changed or ran something, and the last
        # answer of the last such turn: a closing question or thanks is no summary of it.
        self.turn_worked = False
        self.worked_final: list[str] | None = None
        self.in_subagent = False  # reading a subagent's own transcript (see `subagent`)
        self.first_ts: str | None = None
        self.last_ts: str | None = None
        self.base: str | None = None  # see _base

    def line(self, entry: dict[str, Any]) -> None:
        uuid = entry.get("uuid")
        if isinstance(uuid, str):
            if uuid in self.seen:
                return
            self.seen.add(uuid)
        kind = entry.get("type")
        if kind == "summary":
            self.t.compacted = True
            if isinstance(entry.get("summary"), str) and not self.t.title:
                self.t.title = entry["summary"]
            return
        if kind == "system" and entry.get("subtype") == "compact_boundary":
            self.t.compacted = True
        if kind not in ("user", "assistant"):
            return
        ts = entry.get("timestamp")
        if isinstance(ts, str):
            self.first_ts = self.first_ts or ts
            self.last_ts = ts
        if not self.t.session_id and isinstance(entry.get("sessionId"), str):
            self.t.session_id = entry["sessionId"]
        if not self.t.cwd and isinstance(entry.get("cwd"), str):
            self.t.cwd = entry["cwd"]
        side = bool(entry.get("isSidechain")) or self.in_subagent
        self.t.sidechain_messages += side
        message = entry.get("message")
        if not isinstance(message, dict):
            return
        content = message.get("content")
        if kind == "assistant":
            if not entry.get("isApiErrorMessage") and message.get("model") != "<synthetic>":
                self.assistant(content, side)
        else:
            self.user(entry, content, side)

    def user(self, entry: dict[str, Any], content: Any, side: bool) -> None:
        blocks = content if isinstance(content, list) else []
        for block in blocks:
            if isinstance(block, dict) and block.get("type") == "tool_result":
                self.result(block, entry.get("toolUseResult"))
        if entry.get("isCompactSummary"):
            self.t.compacted = True
            self.t.compact_summary = clip(_text_of(content), 20_000)
            return
        if (
            side
            or entry.get("isMeta")
            or any(isinstance(b, dict) and b.get("type") == "tool_result" for b in blocks)
        ):
            return
        text = _REMINDER.sub("", _text_of(content)).strip()
        if text.startswith(("<command-message>", "<command-name>")):
            # a slash command: its arguments say what was asked (/fix-issue 412 …)
            args, name = _COMMAND_ARGS.search(text), _COMMAND_NAME.search(text)
            if args and args.group(1).strip() and name:
                text = f"/{name.group(1).strip()} {args.group(1).strip()}"
            else:
                return
        elif not text or text.startswith(_NOT_PROMPT):
            return
        if self.turn_worked:
            self.worked_final, self.turn_worked = list(self.final), False
        self.t.prompts.append(clip(text, MAX_FINAL))
        if not self.t.first_prompt and not _TRIVIAL_PROMPT.fullmatch(text):
            self.t.first_prompt = text
        self.final_closed = True

    def assistant(self, content: Any, side: bool) -> None:
        if isinstance(content, str):
            content = [{"type": "text", "text": content}]
        if not isinstance(content, list):
            return
        for block in content:
            if not isinstance(block, dict):
                continue
            if block.get("type") == "text" and not side:
                text = block.get("text")
                if isinstance(text, str) and text.strip() and text.strip() != "(no content)":
                    if self.final_closed:
                        self.final, self.final_closed = [], False
                    self.final.append(text.strip())
            elif block.get("type") == "tool_use":
                self.tool_use(block, side)

    def tool_use(self, block: dict[str, Any], side: bool) -> None:
        name, args, use_id = block.get("name"), block.get("input"), block.get("id")
        if not isinstance(name, str):
            return
        args = args if isinstance(args, dict) else {}
        if not side:
            self.final_closed = True
        if name.startswith("mcp__"):  # a capture counts once its result says it was saved
            self.t.retrieved_via_mcp |= name.endswith("__memrl_retrieve")
        if name in EDIT_TOOLS:
            self.turn_worked = True
        if name == "Bash" and isinstance(args.get("command"), str):
            command = args["command"].strip()
            if _command_item(command) and not _GIT_RECORD.match(command):
                self.turn_worked = True
            if command and ("cmd", command) not in self.listed:
                self.listed.add(("cmd", command))
                self.t.commands.append(command)
        if isinstance(use_id, str):
            self.uses[use_id] = _Use(name, args)

    def _path(self, use: _Use) -> str | None:
        path = use.input.get("notebook_path" if use.name == "NotebookEdit" else "file_path")
        if not isinstance(path, str) or not path:
            return None
        base = self._base()
        return path[len(base) + 1 :] if base and path.startswith(base + "/") else path

    def _base(self) -> str:
        """What file paths are shown relative to: the repository's root (as the project is
        named from it), else the session's folder; found once."""
        if self.base is None:
            from memrl.project import git_root

            cwd = (self.t.cwd or "").rstrip("/")
            root = git_root(Path(cwd)) if cwd else None
            self.base = str(root) if root is not None and cwd.startswith(str(root)) else cwd
        return self.base

    def result(self, block: dict[str, Any], extra: Any) -> None:
        use = self.uses.pop(str(block.get("tool_use_id")), None)
        if use is None:
            return
        output = _text_of(block.get("content"))
        if not output and isinstance(extra, dict):
            output = "\n".join(str(extra.get(k) or "") for k in ("stdout", "stderr")).strip()
        if any(marker in output[:200] for marker in _REJECTED):
            return
        failed = bool(block.get("is_error"))
        if use.name in ("Task", "Agent") and isinstance(extra, dict):
            self.subagent(extra.get("agentId"))
        if use.name.startswith("mcp__") and use.name.endswith("__memrl_capture"):
            self.t.captured_via_mcp |= not failed  # a refused capture saved nothing
        elif use.name in EDIT_TOOLS:
            path = self._path(use)
            if path:
                self.edit_result(use.name, path, failed, output)
        elif use.name == "Read" and not failed:
            path = self._path(use)
            for err in self.open.values():
                err.read |= ("file", path or "") in err.keys
        elif use.name == "Bash":
            command = str(use.input.get("command") or "").strip()
            if command:
                self.bash_result(command, failed, output, bool(use.input.get("run_in_background")))

    def subagent(self, agent_id: Any) -> None:
        """What a subagent did, where it is read: Claude Code 2.x keeps a subagent's messages
        in `<session>/subagents/agent-<id>.jsonl` beside the transcript, which holds only
        the call and its answer. Its edits, commands and errors are the session's."""
        if self.in_subagent or not isinstance(agent_id, str) or not _AGENT_ID.fullmatch(agent_id):
            return
        path = self.t.path.parent / self.t.path.stem / "subagents" / f"agent-{agent_id}.jsonl"
        try:
            fh = open(path, "rb")  # noqa: SIM115 (closed below)
        except OSError:
            return  # an older Claude Code wrote the subagent's messages inline
        self.in_subagent = True
        try:
            with fh:
                _read_lines(self, fh, MAX_BYTES // 10)
        finally:
            self.in_subagent = False

    def edit_result(self, name: str, path: str, failed: bool, output: str) -> None:
        if failed:
            self.fail(f"{name} {path}: {error_line(output) or 'failed'}", {("file", path)})
            return
        self.add_file(path)
        for err in list(self.open.values()):
            if ("file", path) in err.keys:
                after = " after reading it" if err.read else ""
                self.resolve(err, f"retried {name} on {path}{after}")
            elif path not in err.edited:
                err.edited.append(path)

    def bash_result(self, command: str, failed: bool, output: str, background: bool) -> None:
        failed = failed or bool(_EXIT_CODE.search(output[:200]))
        testing = is_test_command(command)
        if testing and not background:
            failed = failed or bool(_TEST_FAILED.search(output))
            self.t.tests_passed_at_end = not failed
            self.t.test_runs.append((command, not failed))
        norm = " ".join(command.split())
        cmd, family = ("cmd", norm), ("family", "test" if testing else _family(norm))
        if failed and not testing and family[1].split()[0] in _TRIVIAL:
            return
        if failed:
            line = error_line(output)
            text = f"`{short(command.splitlines()[0], 80)}` failed" + (f": {line}" if line else "")
            self.fail(text, {cmd, family})
            return
        for err in [e for e in self.open.values() if cmd in e.keys or family in e.keys]:
            verb = "re-ran" if cmd in err.keys else "ran"
            how = f"{verb} `{short(command.splitlines()[0], 80)}`"
            if err.edited:
                more = f" and {len(err.edited) - 3} more" if len(err.edited) > 3 else ""
                how += " after editing " + ", ".join(err.edited[:3]) + more
            self.resolve(err, how)

    def add_file(self, path: str) -> None:
        if ("file", path) not in self.listed:
            self.listed.add(("file", path))
            self.t.files.append(path)

    def fail(self, text: str, keys: set[tuple[str, str]]) -> None:
        text = short(text)
        if text in self.open:
            return
        if len(self.open) >= MAX_OPEN:
            del self.open[next(iter(self.open))]
        self.t.errors.append((text, None))
        self.open[text] = _OpenError(len(self.t.errors) - 1, keys)

    def resolve(self, err: _OpenError, how: str) -> None:
        text = self.t.errors[err.index][0]
        self.t.errors[err.index] = (text, short(how))
        del self.open[text]

    def finish(self) -> Transcript:
        for use in self.uses.values():  # the session ended before these results were written
            path = self._path(use) if use.name in EDIT_TOOLS else None
            if path:
                self.add_file(path)
        last = self.final if self.turn_worked or self.worked_final is None else self.worked_final
        self.t.final_text = clip("\n\n".join(last), MAX_FINAL).strip()
        self.t.started_at, self.t.ended_at = _when(self.first_ts), _when(self.last_ts)
        return self.t


def _when(ts: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(ts) if ts else None
    except ValueError:
        return None


def parse_transcript(path: Path, *, max_bytes: int = MAX_BYTES) -> Transcript:
    """Read a transcript line by line; bad lines are counted in `skipped_lines`, never fatal.

    A transcript over `max_bytes` is read from its two ends, half of the budget each: the
    task is asked at the start and the outcome shows at the end, so only the middle is
    left out (`truncated`).
    """
    parser = _Parser(Path(path))
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        if size <= max_bytes:
            _read_lines(parser, fh, max_bytes)
        else:
            parser.t.truncated = True
            _read_lines(parser, fh, max_bytes // 2)
            fh.seek(size - max_bytes // 2)
            fh.readline()  # the rest of a line cut in two
            _read_lines(parser, fh, max_bytes // 2)
    return parser.finish()


def _read_lines(parser: _Parser, fh: IO[bytes], budget: int) -> None:
    """Whole lines from where `fh` stands, up to `budget` bytes."""
    read = 0
    for raw in fh:
        read += len(raw)
        if read > budget:
            return
        if not raw.strip():
            continue
        try:
            entry = json.loads(raw.decode())  # UTF-8 first: json's own sniffing costs more
        except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
            parser.t.skipped_lines += 1
            continue
        if not isinstance(entry, dict):
            parser.t.skipped_lines += 1
            continue
        try:
            parser.line(entry)
        except (TypeError, AttributeError, KeyError, ValueError):  # a shape we do not know
            parser.t.skipped_lines += 1


_SUCCESS = re.compile(
    r"(?<!not )(?<!n't )(?<!never )\b(?:all (?:\d+ )?tests (?:now )?pass(?:ed|ing|es)?"
    r"|tests? (?:now )?pass(?:ed|ing|es)?|fixed|resolved|done|implemented|completed?"
    r"|works now|now works|is working|successfully|succeeded)\b",
    re.I,
)
_FAILURE = re.compile(
    r"\b(?:could not|couldn't|failed to|unable to|still fail(?:s|ing)?|blocked|not able to"
    r"|wasn't able to|weren't able to|still broken|tests? (?:still )?fail(?:s|ed|ing)?"
    r"|did not work|didn't work|doesn't work|gave up|not fixed)\b",
    re.I,
)
_PARTIAL = re.compile(
    r"\b(?:partially|remaining (?:issues?|failures?|work)|not yet|still need|left to do)\b", re.I
)


def _first_sentence(text: str) -> str:
    lines = [ln.strip() for ln in _REMINDER.sub("", text).splitlines() if ln.strip()]
    if not lines:
        return ""
    first = lines[0]
    if first.endswith(":") and len(lines) > 1:  # "Fix this error:\nTypeError: …"
        first = f"{first} {lines[1]}"
    if len(first) > MAX_TEXT:
        m = re.match(rf"(.{{20,{MAX_TEXT - 1}}}?[.!?])(?:\s|$)", first)
        first = m.group(1) if m else first
    return short(first)


def _primary_request(summary: str | None) -> str:
    """The user's request as a compaction summary restates it."""
    if not summary:
        return ""
    m = re.search(r"Primary Request and Intent:?\s*\n?(.*?)(?:\n\s*\d+\.\s|\Z)", summary, re.S)
    body = m.group(1) if m else ""
    return _first_sentence(re.sub(r"^\s*[-*]\s*", "", body, flags=re.M))


def did_work(t: Transcript) -> bool:
    """Whether the session changed or ran anything: an edit, a command beyond a look-around,
    a test run, an error met on the way. A session without any only talked."""
    return bool(t.files or t.test_runs or t.errors or any(map(_command_item, t.commands)))


def outcome(t: Transcript) -> str:
    """success / failure / partial / unknown, from the evidence in the session.

    Words in the last answer count only as a report on work the session did: an answer to
    a question that says "could not be verified" or "done" is no outcome at all.
    """
    if not did_work(t):
        return "unknown"
    failed_words = _FAILURE.search(t.final_text) is not None
    ok_words = _SUCCESS.search(t.final_text) is not None
    if t.tests_passed_at_end is True:
        return "partial" if failed_words or _PARTIAL.search(t.final_text) else "success"
    if t.tests_passed_at_end is False:
        return "failure"
    if _PARTIAL.search(t.final_text) or (failed_words and ok_words):
        return "partial"
    if failed_words:
        return "failure"
    if ok_words:
        return "success"
    if any(resolution is None for _, resolution in t.errors):
        return "partial"
    return "unknown"


def _command_item(command: str) -> str | None:
    lines = command.strip().splitlines()
    first = lines[0].strip() if lines else ""
    tokens = first.split()
    if not tokens or (
        (tokens[0] in _TRIVIAL or _GIT_LOOK.match(first)) and not re.search(r"&&|;|>|\|", first)
    ):
        return None
    return short(first + (" …" if len(lines) > 1 else ""))


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _unicode(value: Any) -> Any:
    """`value` with each lone UTF-16 surrogate replaced by U+FFFD. Claude Code writes one
    where it cut a long output inside an emoji ("\\ud83d"); it is no Unicode text, and
    an episode holding it could not be stored."""
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_unicode(v) for v in value]
    if isinstance(value, dict):
        return {k: _unicode(v) for k, v in value.items()}
    return value


def episode_fields(t: Transcript) -> dict[str, Any]:
    """The episode fields this transcript supports; tags and task type are left to intent."""
    return _unicode(_fields(t))


def _fields(t: Transcript) -> dict[str, Any]:
    resolved = [(e, r) for e, r in t.errors if r is not None][:20]
    unresolved = [e for e, r in t.errors if r is None][:20]
    first: dict[str, None] = {}  # the first 30 distinct, without reading on to the end
    for item in filter(None, map(_command_item, t.commands)):
        first[item] = None
        if len(first) == 30:
            break
    commands = list(first)
    files = [short(f) for f in t.files[:50]]
    summary = t.final_text.strip()
    if not summary:
        did = []
        if files:
            did.append("edited " + ", ".join(files[:5]) + (" and more" if len(files) > 5 else ""))
        if commands:
            did.append("ran " + ", ".join(f"`{c}`" for c in commands[:3]))
        summary = (
            ("Claude Code session: " + "; ".join(did) + ".") if did else "Claude Code session."
        )
    worked = [r for _, r in resolved]
    worked += [short(f"`{c.splitlines()[0]}` passed") for c, ok in t.test_runs[-1:] if ok]
    return {
        "task": _first_sentence(t.first_prompt or "")
        or _primary_request(t.compact_summary)
        or short(t.title or ""),
        "summary": clip(summary, MAX_FINAL),
        "outcome": outcome(t),
        "what_worked": list(dict.fromkeys(worked))[:20],
        "what_failed": unresolved,
        "errors_resolved": [{"error": e, "resolution": r} for e, r in resolved],
        "files": files,
        "commands": commands,
        "session_id": t.session_id,
    }
