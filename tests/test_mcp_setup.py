"""`memrl setup claude`: registration through `claude mcp`, idempotent and reversible.

A stand-in `claude` on PATH keeps a registry in a JSON file and answers `mcp get/add/
remove` the way Claude Code does, so these tests never touch a real configuration.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from memrl.cli.mcp import app as mcp_app
from memrl.integrations.claude.setup import ClaudeCliError, register

FAKE = """#!{python}
import json, os, sys
path = os.environ["FAKE_CLAUDE_STATE"]
state = json.load(open(path)) if os.path.exists(path) else {{}}
open(path + ".log", "a").write(" ".join(sys.argv[1:]) + "\\n")
args = sys.argv[1:]
if os.environ.get("FAKE_CLAUDE_FAIL") in ("1", args[1]):
    print("Error: config file is read-only", file=sys.stderr)
    sys.exit(1)
if args[:2] == ["mcp", "get"] and os.environ.get("FAKE_CLAUDE_ODD"):
    print("something this memrl has never seen")
elif args[:2] == ["mcp", "get"]:
    entry = state.get(args[2])
    if not entry:
        print(f'No MCP server named "{{args[2]}}". Run `claude mcp add` to add one.',
              file=sys.stderr)  # as Claude Code 2.1 says it
        sys.exit(1)
    command, env = entry["command"], entry["env"]
    print(f"{{args[2]}}:\\n  Scope: User config (available in all your projects)\\n"
          f"  Status: ✔ Connected\\n  Type: stdio\\n  Command: {{command[0]}}\\n"
          f"  Args: {{' '.join(command[1:])}}\\n  Environment:\\n"
          + "".join(f"    {{k}}={{v}}\\n" for k, v in env.items()))
elif args[:2] == ["mcp", "add"]:
    name, command = args[4], args[args.index("--") + 1:]
    settings = args[5:args.index("--")]
    env = dict(v.split("=", 1) for k, v in zip(settings[::2], settings[1::2]) if k == "-e")
    if name in state:
        print(f"MCP server {{name}} already exists in user config", file=sys.stderr)
        sys.exit(1)
    state[name] = {{"command": command, "env": env}}
elif args[:2] == ["mcp", "remove"]:
    if args[-1] not in state:
        sys.exit(1)
    del state[args[-1]]
json.dump(state, open(path, "w"))
"""


@pytest.fixture
def claude(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    exe = bin_dir / "claude"
    exe.write_text(FAKE.format(python=sys.executable))
    exe.chmod(0o755)
    state = tmp_path / "claude-state.json"
    monkeypatch.setenv("FAKE_CLAUDE_STATE", str(state))
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    return state


def calls(state: Path) -> list[str]:
    log = Path(str(state) + ".log")
    return log.read_text().splitlines() if log.exists() else []


@pytest.fixture
def default_store(monkeypatch: pytest.MonkeyPatch) -> None:
    """A shell with memrl's default locations: the server needs no environment. (Nothing
    here opens the store, so ~/.memrl is never touched.)"""
    monkeypatch.delenv("MEMRL_DATA_DIR")
    monkeypatch.delenv("MEMRL_MODELS_DIR", raising=False)


def entry(command: str | Path, **env: str) -> dict:
    return {"command": [str(command)], "env": env}


def test_registers_once_for_all_projects_and_then_leaves_it_alone(claude, tmp_path, default_store):
    server = tmp_path / "venv" / "bin" / "memrl-mcp"
    first = register(server)
    second = register(server)
    assert first.action == "added" and second.action == "unchanged"
    assert json.loads(claude.read_text()) == {"memrl": entry(server)}
    assert calls(claude) == [
        "mcp get memrl",
        f"mcp add --scope user memrl -- {server}",
        "mcp get memrl",
    ]


def test_a_store_elsewhere_is_given_to_the_server_too(claude, tmp_path, monkeypatch, data_dir):
    """A CLI on MEMRL_DATA_DIR registers a server on the same store, not on ~/.memrl."""
    monkeypatch.delenv("MEMRL_MODELS_DIR", raising=False)
    server = tmp_path / "memrl-mcp"
    assert register(server).action == "added"
    assert json.loads(claude.read_text()) == {"memrl": entry(server, MEMRL_DATA_DIR=str(data_dir))}
    assert register(server).action == "unchanged"
    monkeypatch.setenv("MEMRL_DATA_DIR", str(tmp_path / "other"))  # moved: registered anew
    assert register(server).action == "updated"
    assert json.loads(claude.read_text())["memrl"]["env"] == {
        "MEMRL_DATA_DIR": str(tmp_path / "other")
    }
    shown = register(server, dry_run=True)
    assert f"-e MEMRL_DATA_DIR={tmp_path / 'other'} --" in shown.shell_command
    assert json.loads(shown.config_json)["mcpServers"]["memrl"]["env"] == {
        "MEMRL_DATA_DIR": str(tmp_path / "other")
    }


def test_an_entry_for_another_installation_is_replaced(claude, tmp_path):
    claude.write_text(json.dumps({"memrl": entry("/old/venv/bin/memrl-mcp")}))
    report = register(tmp_path / "memrl-mcp")
    assert report.action == "updated"
    assert json.loads(claude.read_text())["memrl"]["command"] == [str(tmp_path / "memrl-mcp")]


def test_uninstall_undoes_it_and_is_idempotent_too(claude, tmp_path):
    register(tmp_path / "memrl-mcp")
    assert register(uninstall=True).action == "removed"
    assert register(uninstall=True).action == "absent"
    assert json.loads(claude.read_text()) == {}


def test_without_claude_the_command_and_json_are_printed(tmp_path, monkeypatch, default_store):
    monkeypatch.setenv("PATH", str(tmp_path))  # no `claude` here
    report = register(tmp_path / "memrl-mcp")
    assert report.action == "manual" and report.claude is None
    assert report.shell_command == f"claude mcp add --scope user memrl -- {tmp_path / 'memrl-mcp'}"
    assert json.loads(report.config_json)["mcpServers"]["memrl"]["command"] == str(
        tmp_path / "memrl-mcp"
    )


def test_the_default_server_is_this_installations_memrl_mcp():
    report = register(dry_run=True)
    server = Path(report.server[0])
    assert server.is_absolute() and server.name == "memrl-mcp" and server.exists()


def test_a_failing_claude_is_reported(claude, monkeypatch, tmp_path):
    monkeypatch.setenv("FAKE_CLAUDE_FAIL", "add")
    report = register(tmp_path / "memrl-mcp")
    assert report.action == "manual"
    assert report.problem == "`claude` failed (exit 1): Error: config file is read-only"


def test_a_claude_that_hangs_is_given_up_on(claude, monkeypatch, tmp_path):
    monkeypatch.setattr("memrl.integrations.claude.setup.TIMEOUT", 0.5)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    (tmp_path / "claude").write_text("#!/bin/sh\nsleep 10\n")
    (tmp_path / "claude").chmod(0o755)
    report = register(tmp_path / "memrl-mcp")
    assert report.action == "manual" and "gave no answer in 0.5 s" in (report.problem or "")


def cli() -> typer.Typer:
    root = typer.Typer()
    root.registered_commands += mcp_app.registered_commands
    root.registered_groups += mcp_app.registered_groups
    return root


def test_cli_setup_claude_registers_and_prints(claude, default_store):
    runner = CliRunner()
    done = runner.invoke(cli(), ["setup", "claude", "--no-hooks"])
    again = runner.invoke(cli(), ["setup", "claude", "--no-hooks", "--json"])
    shown = runner.invoke(cli(), ["setup", "claude", "--print", "--no-hooks"])
    removed = runner.invoke(cli(), ["setup", "claude", "--uninstall", "--no-hooks"])
    assert done.exit_code == 0 and "Registered the memrl MCP server" in done.output
    assert json.loads(again.output)["action"] == "unchanged"
    assert (
        "claude mcp add --scope user memrl -- /" in shown.output and '"mcpServers"' in shown.output
    )
    assert removed.exit_code == 0 and "Removed" in removed.output


def test_cli_reports_a_failing_claude_with_its_own_exit_code(claude, monkeypatch):
    monkeypatch.setenv("FAKE_CLAUDE_FAIL", "add")
    done = CliRunner().invoke(cli(), ["setup", "claude", "--no-hooks"])
    assert done.exit_code == ClaudeCliError.exit_code and "read-only" in done.output


def test_with_a_failing_claude_setup_does_what_it_does_without_one(claude, tmp_path, monkeypatch):
    """The hooks are written and the command and the JSON shown, as when `claude` is missing."""
    monkeypatch.setenv("FAKE_CLAUDE_FAIL", "1")
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "claude-config"))
    done = CliRunner().invoke(cli(), ["setup", "claude"])
    assert done.exit_code == ClaudeCliError.exit_code
    out = done.output
    assert "Hooks installed in" in out and (tmp_path / "claude-config" / "settings.json").exists()
    assert "MCP server was NOT registered with Claude Code: `claude` failed (exit 1)" in out
    assert "claude mcp add --scope user memrl" in out and '"mcpServers"' in out
    as_json = CliRunner().invoke(cli(), ["setup", "claude", "--json"])
    assert json.loads(as_json.output)["problem"].startswith("`claude` failed (exit 1)")
    gone = CliRunner().invoke(cli(), ["setup", "claude", "--uninstall"])
    assert gone.exit_code == ClaudeCliError.exit_code and "NOT removed" in gone.output
    assert not (tmp_path / "claude-config" / "settings.json").exists()


def test_uninstall_with_a_failing_claude_does_not_claim_nothing_was_registered(claude, monkeypatch):
    """Only Claude Code's "not found" means absent: any other failure of `mcp get` is one."""
    monkeypatch.setenv("FAKE_CLAUDE_FAIL", "1")
    done = CliRunner().invoke(cli(), ["setup", "claude", "--uninstall", "--no-hooks"])
    assert done.exit_code == ClaudeCliError.exit_code
    assert "`claude` failed" in done.output and "read-only" in done.output
    assert "nothing to remove" not in done.output


def test_an_answer_of_claude_mcp_get_that_cannot_be_read_is_not_taken_for_absent(
    claude, monkeypatch
):
    monkeypatch.setenv("FAKE_CLAUDE_ODD", "1")
    done = CliRunner().invoke(cli(), ["setup", "claude", "--uninstall", "--no-hooks"])
    assert done.exit_code == ClaudeCliError.exit_code
    assert "gave an answer memrl cannot read" in done.output
    assert "nothing to remove" not in done.output


def test_cli_setup_claude_also_installs_and_removes_the_hooks(claude, tmp_path, monkeypatch):
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "claude-config"))
    settings = tmp_path / "claude-config" / "settings.json"
    runner = CliRunner()
    done = runner.invoke(cli(), ["setup", "claude"])
    assert done.exit_code == 0, done.output
    assert "memrl hook session-start" in settings.read_text() and "Hooks installed" in done.output
    again = runner.invoke(cli(), ["setup", "claude", "--json"])
    assert json.loads(again.output)["hooks"]["changed"] is False
    removed = runner.invoke(cli(), ["setup", "claude", "--uninstall"])
    assert removed.exit_code == 0 and not settings.exists()  # memrl had created it


def test_without_claude_setup_says_the_server_is_not_registered(tmp_path, monkeypatch, data_dir):
    """The hooks are written, the server is not: say so, show what to run, exit non-zero."""
    monkeypatch.setenv("PATH", str(tmp_path))  # no `claude` here
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "claude-config"))
    done = CliRunner().invoke(cli(), ["setup", "claude"])
    assert done.exit_code == ClaudeCliError.exit_code
    out = done.output
    assert "Hooks installed in" in out and (tmp_path / "claude-config" / "settings.json").exists()
    assert "MCP server was NOT registered" in out and "`claude` is not on PATH" in out
    assert "claude mcp add --scope user memrl" in out and '"mcpServers"' in out
    # where Claude Code keeps its servers when CLAUDE_CONFIG_DIR moves its folder
    assert f"the mcpServers of {tmp_path / 'claude-config' / '.claude.json'}:" in out
    assert "merge these hooks" not in out and '"hooks"' not in out  # already written
    assert out.index("Hooks installed") < out.index("NOT registered")  # what is left, last
    as_json = CliRunner().invoke(cli(), ["setup", "claude", "--json"])
    assert as_json.exit_code == ClaudeCliError.exit_code
    assert json.loads(as_json.output)["action"] == "manual"
    gone = CliRunner().invoke(cli(), ["setup", "claude", "--uninstall"])
    assert gone.exit_code == ClaudeCliError.exit_code and "NOT removed" in gone.output


def test_the_printed_command_stays_on_one_line_to_paste(tmp_path, monkeypatch, data_dir):
    monkeypatch.setenv("PATH", str(tmp_path))  # no `claude`: the command is printed
    shown = CliRunner().invoke(cli(), ["setup", "claude", "--print", "--no-hooks"])
    line = next(ln for ln in shown.output.splitlines() if "claude mcp add" in ln)
    assert line.strip().endswith("memrl-mcp") and f"MEMRL_DATA_DIR={data_dir}" in line


def test_print_shows_the_hooks_to_merge_and_writes_nothing(tmp_path, monkeypatch, data_dir):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "claude-config"))
    shown = CliRunner().invoke(cli(), ["setup", "claude", "--print"])
    block = shown.output[shown.output.index('{\n  "hooks"') :]
    block = block[: block.rindex("}") + 1]
    hooks = json.loads(block)["hooks"]
    assert set(hooks) == {"SessionStart", "Stop", "PreCompact", "SessionEnd"}
    command = hooks["SessionStart"][0]["hooks"][0]["command"]
    assert command.startswith(f"MEMRL_DATA_DIR={data_dir} ") and command.endswith("session-start")
    assert not (tmp_path / "claude-config").exists()


def test_a_settings_file_that_cannot_be_merged_stops_setup_before_any_change(
    claude, tmp_path, monkeypatch
):
    config = tmp_path / "claude-config"
    config.mkdir()
    (config / "settings.json").write_text('{"hooks": null}')
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(config))
    done = CliRunner().invoke(cli(), ["setup", "claude"])
    assert done.exit_code != 0 and "settings.json" in done.output
    assert not claude.exists() or json.loads(claude.read_text()) == {}  # not half done
    assert (config / "settings.json").read_text() == '{"hooks": null}'
