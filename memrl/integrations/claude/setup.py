"""Registering memrl's MCP server with Claude Code, for every project at once.

`claude mcp add --scope user` is Claude Code's own way to do it, so it is used whenever
`claude` is on PATH; when it is not, or fails, nothing more is done (action `manual`, with
the `problem`), and the command and the equivalent JSON are shown for the user to apply.
Registration is idempotent: `claude mcp get memrl` is asked first, and an entry that already
points at this installation is left alone. Hooks are not set up here.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from memrl.errors import MemrlError

SERVER_NAME = "memrl"
# `claude mcp get` starts the server to report its status, which answers the handshake at once.
TIMEOUT = 30
# What `claude mcp get` says (exit 1) of a name it does not know, as opposed to failing:
# 'No MCP server named "memrl"' (Claude Code 2.1), 'No MCP server found with name' before.
NOT_FOUND = re.compile(r"No MCP server (named|found)")
# Where the store and the models are: a CLI pointed elsewhere must give the server the same.
LOCATIONS = ("MEMRL_DATA_DIR", "MEMRL_MODELS_DIR")


class ClaudeCliError(MemrlError):
    """`claude` is missing, or ran but refused or failed: the MCP server was not registered."""

    exit_code = 7


@dataclass(slots=True)
class SetupReport:
    action: str  # added | updated | unchanged | removed | absent | printed | manual
    server: list[str]  # how Claude Code will start the server
    command: list[str]  # the `claude` command that was (or would be) run
    config_json: str  # the same registration as JSON, for a hand-edited config
    claude: str | None = None  # the `claude` executable used, if any
    problem: str | None = None  # why the action is `manual`
    notes: list[str] = field(default_factory=list)

    @property
    def shell_command(self) -> str:
        import shlex

        return shlex.join(self.command)


def server_command(executable: Path | None = None) -> list[str]:
    """The absolute command that starts this installation's server."""
    if executable is not None:
        return [str(Path(executable).expanduser().absolute())]
    beside = Path(sys.executable).parent / (
        "memrl-mcp.exe" if sys.platform == "win32" else "memrl-mcp"
    )
    if beside.exists():
        return [str(beside.absolute())]
    found = shutil.which("memrl-mcp")
    if found:
        return [str(Path(found).absolute())]
    return [str(Path(sys.executable).absolute()), "-m", "memrl.mcp"]


def server_env() -> dict[str, str]:
    """The locations this shell's memrl uses, when not the defaults, as absolute paths."""
    return {
        name: str(Path(os.environ[name]).expanduser().absolute())
        for name in LOCATIONS
        if os.environ.get(name)
    }


def config_json(server: list[str], env: dict[str, str] | None = None) -> str:
    entry = {"type": "stdio", "command": server[0], "args": server[1:], "env": env or {}}
    return json.dumps({"mcpServers": {SERVER_NAME: entry}}, indent=2)


def _run(claude: str, *args: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            [claude, *args], capture_output=True, text=True, timeout=TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        raise ClaudeCliError(f"`claude {' '.join(args)}` gave no answer in {TIMEOUT} s") from None
    except OSError as exc:
        raise ClaudeCliError(f"`claude {' '.join(args)}` could not run: {exc}") from None


def registered(claude: str) -> tuple[str, list[str], dict[str, str]] | None:
    """(scope line, command, environment) of the current `memrl` entry, or None."""
    got = _run(claude, "mcp", "get", SERVER_NAME)
    if got.returncode != 0 and NOT_FOUND.search(got.stderr + got.stdout):
        return None
    _check(got)
    scope, command, args, env = "", "", [], {}
    in_env = False
    for line in got.stdout.splitlines():
        key, _, value = line.strip().partition(":")
        if in_env and line.startswith("    ") and "=" in line:
            name, _, val = line.strip().partition("=")
            env[name] = val
            continue
        in_env = key == "Environment"
        if key == "Scope":
            scope = value.strip()
        elif key == "Command":
            command = value.strip()
        elif key == "Args":
            args = value.split()
    if not command:  # an answer this version of memrl cannot read: not taken as "absent"
        said = (got.stdout + got.stderr).strip().splitlines()
        raise ClaudeCliError(
            f"`claude mcp get {SERVER_NAME}` gave an answer memrl cannot read "
            f"({said[0] if said else 'nothing'}); check with `claude mcp list`"
        )
    return scope, [command, *args], env


def register(
    executable: Path | None = None, *, uninstall: bool = False, dry_run: bool = False
) -> SetupReport:
    """Add (or with `uninstall`, remove) the user-scope `memrl` server in Claude Code."""
    server = server_command(executable)
    env = server_env()
    if uninstall:
        command = ["claude", "mcp", "remove", "--scope", "user", SERVER_NAME]
    else:
        settings = [arg for name, value in env.items() for arg in ("-e", f"{name}={value}")]
        command = ["claude", "mcp", "add", "--scope", "user", SERVER_NAME, *settings, "--", *server]
    report = SetupReport("printed", server, command, config_json(server, env))
    claude = shutil.which("claude")
    if dry_run:
        if claude is None:
            report.notes.append("`claude` is not on PATH: run the command once it is installed")
        return report
    if claude is None:
        report.action, report.problem = "manual", "`claude` is not on PATH"
        return report
    report.claude = claude
    try:
        report.action = _apply(claude, report, env, uninstall)
    except ClaudeCliError as exc:  # the user has to run the command
        report.action, report.problem = "manual", str(exc)
    return report


def _apply(claude: str, report: SetupReport, env: dict[str, str], uninstall: bool) -> str:
    """Make Claude Code's registration match `report` (its command sets `env`); the action
    taken."""
    server = report.server
    current = registered(claude)
    in_user_scope = current is not None and current[0].lower().startswith("user")
    if uninstall:
        if not in_user_scope:
            return "absent"
        _check(_run(claude, *report.command[1:]))
        return "removed"
    if current is not None and not in_user_scope:
        report.notes.append(
            f"another `{SERVER_NAME}` entry ({current[0]}) takes precedence in some projects"
        )
    if in_user_scope and current is not None and current[1:] == (server, env):
        return "unchanged"
    if in_user_scope:
        _check(_run(claude, "mcp", "remove", "--scope", "user", SERVER_NAME))
    _check(_run(claude, *report.command[1:]))
    return "updated" if in_user_scope else "added"


def _check(done: subprocess.CompletedProcess[str]) -> None:
    if done.returncode != 0:
        why = (done.stderr or done.stdout).strip().splitlines()
        raise ClaudeCliError(
            f"`claude` failed (exit {done.returncode}): {why[-1].rstrip('.') if why else 'no message'}"
        )
