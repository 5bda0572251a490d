"""memrl's hooks in Claude Code's settings.json: merged, idempotent, removable, never destructive."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from memrl.errors import ConfigError
from memrl.integrations.claude import settings

MEMRL = "/opt/memrl/bin/memrl"
USER_SETTINGS: dict[str, Any] = {
    "$schema": "https://json.schemastore.org/claude-code-settings.json",
    "model": "opus",
    "permissions": {"allow": ["Bash(npm run lint)"], "deny": []},
    "env": {"FOO": "bar"},
    "hooks": {
        "Stop": [{"hooks": [{"type": "command", "command": "notify-send done"}]}],
        "PreToolUse": [
            {"matcher": "Bash", "hooks": [{"type": "command", "command": "audit.sh", "timeout": 5}]}
        ],
        "SessionStart": [
            {
                "matcher": "startup",
                "hooks": [{"type": "command", "command": "echo hi"}],
            }
        ],
    },
}


@pytest.fixture(autouse=True)
def default_store(monkeypatch: pytest.MonkeyPatch) -> None:
    """memrl's default locations, so hook commands carry no environment (no test here
    opens the store)."""
    monkeypatch.delenv("MEMRL_DATA_DIR")
    monkeypatch.delenv("MEMRL_MODELS_DIR", raising=False)


def test_hooks_of_a_store_elsewhere_run_on_that_store(
    config_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "my store"
    monkeypatch.setenv("MEMRL_DATA_DIR", str(store))
    settings.install(command=MEMRL)
    data = json.loads((config_dir / "settings.json").read_text())
    command = data["hooks"]["SessionStart"][0]["hooks"][0]["command"]
    assert command == f"MEMRL_DATA_DIR='{store}' {MEMRL} hook session-start"
    assert settings.is_memrl_hook({"command": command})  # found again to update or remove
    monkeypatch.delenv("MEMRL_DATA_DIR")
    settings.install(command=MEMRL)  # back to the default store: replaced, not doubled
    data = json.loads((config_dir / "settings.json").read_text())
    assert [h["hooks"][0]["command"] for h in data["hooks"]["SessionStart"]] == [
        f"{MEMRL} hook session-start"
    ]


@pytest.fixture
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "claude-config"
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(folder))
    return folder


@pytest.fixture
def user_file(config_dir: Path) -> Path:
    config_dir.mkdir()
    path = config_dir / "settings.json"
    path.write_text(json.dumps(USER_SETTINGS, indent=4))
    return path


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def ours(data: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for event, groups in data.get("hooks", {}).items():
        for group in groups:
            for hook in group["hooks"]:
                if settings.is_memrl_hook(hook):
                    out.setdefault(event, []).append(hook)
    return out


def test_settings_path_honours_claude_config_dir(config_dir: Path) -> None:
    assert settings.settings_path() == config_dir / "settings.json"


def test_install_creates_a_missing_file(config_dir: Path) -> None:
    report = settings.install(command=MEMRL)
    path = config_dir / "settings.json"
    assert report.changed and report.path == path and report.backup is None
    assert report.added == ["SessionStart", "Stop", "PreCompact", "SessionEnd"]
    hooks = ours(load(path))
    assert hooks["SessionStart"] == [
        {"type": "command", "command": f"{MEMRL} hook session-start", "timeout": 10}
    ]
    assert hooks["SessionEnd"][0]["command"] == f"{MEMRL} hook session-end"
    assert hooks["Stop"][0]["async"] is True and hooks["PreCompact"][0]["async"] is True
    assert "async" not in hooks["SessionStart"][0] and "async" not in hooks["SessionEnd"][0]
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_install_merges_with_the_users_hooks_and_keys(user_file: Path) -> None:
    settings.install(command=MEMRL)
    data = load(user_file)
    for key in ("$schema", "model", "permissions", "env"):
        assert data[key] == USER_SETTINGS[key]
    assert data["hooks"]["PreToolUse"] == USER_SETTINGS["hooks"]["PreToolUse"]
    assert data["hooks"]["Stop"][0] == USER_SETTINGS["hooks"]["Stop"][0]
    assert data["hooks"]["SessionStart"][0] == USER_SETTINGS["hooks"]["SessionStart"][0]
    assert set(ours(data)) == {"SessionStart", "Stop", "PreCompact", "SessionEnd"}
    assert all(len(v) == 1 for v in ours(data).values())


def test_install_is_idempotent(user_file: Path) -> None:
    settings.install(command=MEMRL)
    before = user_file.read_bytes()
    stamp = user_file.stat().st_mtime_ns
    again = settings.install(command=MEMRL)
    assert not again.changed and again.added == [] and again.backup is None
    assert user_file.read_bytes() == before and user_file.stat().st_mtime_ns == stamp


def test_reinstall_from_another_path_replaces_only_memrls_hooks(user_file: Path) -> None:
    settings.install(command=MEMRL)
    report = settings.install(command="/home/me/.venv/bin/memrl")
    assert report.changed and len(report.updated) == 4 and report.added == []
    hooks = ours(load(user_file))
    assert all(len(v) == 1 for v in hooks.values())
    assert hooks["Stop"][0]["command"] == "/home/me/.venv/bin/memrl hook stop"
    assert load(user_file)["hooks"]["Stop"][0] == USER_SETTINGS["hooks"]["Stop"][0]


def test_a_hook_the_user_edited_is_repaired(user_file: Path) -> None:
    settings.install(command=MEMRL)
    data = load(user_file)
    for group in data["hooks"]["SessionEnd"]:
        for hook in group["hooks"]:
            hook["timeout"] = 1
    user_file.write_text(json.dumps(data))
    report = settings.install(command=MEMRL)
    assert report.updated == ["SessionEnd"]
    assert ours(load(user_file))["SessionEnd"][0]["timeout"] == 15


def test_uninstall_restores_the_users_settings_exactly(user_file: Path) -> None:
    settings.install(command=MEMRL)
    report = settings.uninstall()
    assert report.changed
    assert sorted(report.removed) == ["PreCompact", "SessionEnd", "SessionStart", "Stop"]
    assert load(user_file) == USER_SETTINGS
    again = settings.uninstall()
    assert not again.changed and again.removed == []


def test_uninstall_removes_the_file_memrl_created_and_leaves_no_backup(config_dir: Path) -> None:
    path = config_dir / "settings.json"
    settings.install(command=MEMRL)
    report = settings.uninstall()
    assert report.deleted and report.removed and report.backup is None
    assert not path.exists() and list(config_dir.iterdir()) == []


def test_a_file_memrl_created_and_then_updated_is_still_removed_by_uninstall(
    config_dir: Path,
) -> None:
    """Setup run again with another store rewrites memrl's own file: nothing to back up."""
    from memrl.cli.hook import describe

    path = config_dir / "settings.json"
    settings.install(command=MEMRL)
    moved = settings.install(command=f"MEMRL_DATA_DIR=/elsewhere {MEMRL}")
    assert (
        describe(moved) == f"hooks updated in {path} (SessionStart, Stop, PreCompact, SessionEnd)"
    )
    assert settings.uninstall().deleted
    assert list(config_dir.iterdir()) == []


def test_uninstall_keeps_what_the_user_added_to_the_file_memrl_created(config_dir: Path) -> None:
    path = config_dir / "settings.json"
    settings.install(command=MEMRL)
    path.write_text(json.dumps({**load(path), "model": "opus"}))  # /model in Claude Code
    assert not settings.uninstall().deleted
    assert load(path) == {"model": "opus"}


def test_uninstall_drops_the_hooks_key_it_emptied(config_dir: Path) -> None:
    config_dir.mkdir()
    path = config_dir / "settings.json"
    path.write_text("{}")  # the user's own, empty: it stays
    settings.install(command=MEMRL)
    settings.uninstall()
    assert load(path) == {}


def test_a_settings_file_with_a_byte_order_mark_is_read(config_dir: Path) -> None:
    """Windows editors write a UTF-8 BOM; Claude Code reads such a file, so memrl must."""
    config_dir.mkdir()
    path = config_dir / "settings.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(USER_SETTINGS).encode())
    assert settings.install(command=MEMRL).added
    assert not path.read_bytes().startswith(b"\xef\xbb\xbf")  # written back without it
    assert load(path)["model"] == "opus" and set(ours(load(path))) == set(settings.HOOKS)


def test_uninstall_keeps_a_users_hook_sharing_a_group_with_memrls(user_file: Path) -> None:
    data = dict(USER_SETTINGS)
    shared = {
        "hooks": [
            {"type": "command", "command": f"{MEMRL} hook stop"},
            {"type": "command", "command": "say bye"},
        ]
    }
    data["hooks"] = {**USER_SETTINGS["hooks"], "SessionEnd": [shared]}
    user_file.write_text(json.dumps(data))
    settings.uninstall()
    assert load(user_file)["hooks"]["SessionEnd"] == [
        {"hooks": [{"type": "command", "command": "say bye"}]}
    ]


def test_uninstall_without_a_file_does_nothing(config_dir: Path) -> None:
    report = settings.uninstall()
    assert not report.changed and not (config_dir / "settings.json").exists()


@pytest.mark.parametrize(
    "text",
    [
        '{"model": "opus",}',  # trailing comma
        '// comment\n{"model": "opus"}',
        "[1, 2]",
        '{"hooks": []}',
        '{"hooks": {"Stop": {"hooks": []}}}',
    ],
)
def test_invalid_settings_are_refused_and_left_alone(config_dir: Path, text: str) -> None:
    config_dir.mkdir()
    path = config_dir / "settings.json"
    path.write_text(text)
    for action in (settings.install, settings.uninstall):
        with pytest.raises(ConfigError, match="settings.json") as exc:
            action()
        assert "unchanged" in str(exc.value)
    assert path.read_text() == text
    assert not (config_dir / "settings.json.memrl-backup").exists()


def test_invalid_json_message_names_the_line(config_dir: Path) -> None:
    config_dir.mkdir()
    (config_dir / "settings.json").write_text('{\n  "model": "opus",\n}\n')
    with pytest.raises(ConfigError, match=r"line 3"):
        settings.install()


def test_backup_holds_the_original_and_is_written_once(user_file: Path) -> None:
    original = user_file.read_text()
    report = settings.install(command=MEMRL)
    backup = user_file.with_name("settings.json.memrl-backup")
    assert report.backup == backup and backup.read_text() == original
    settings.uninstall()
    settings.install(command="/elsewhere/memrl")
    assert backup.read_text() == original  # never overwritten by later changes


def test_dry_run_writes_nothing(user_file: Path, config_dir: Path) -> None:
    before = user_file.read_text()
    report = settings.install(dry_run=True, command=MEMRL)
    assert report.dry_run and report.changed and len(report.added) == 4
    assert user_file.read_text() == before
    assert sorted(p.name for p in config_dir.iterdir()) == ["settings.json"]


def test_file_mode_and_symlink_are_kept(config_dir: Path, tmp_path: Path) -> None:
    dotfiles = tmp_path / "dotfiles"
    dotfiles.mkdir()
    real = dotfiles / "claude-settings.json"
    real.write_text(json.dumps({"model": "opus"}))
    os.chmod(real, 0o644)
    config_dir.mkdir()
    (config_dir / "settings.json").symlink_to(real)
    settings.install(command=MEMRL)
    assert (config_dir / "settings.json").is_symlink()
    assert set(ours(load(real))) == {"SessionStart", "Stop", "PreCompact", "SessionEnd"}
    assert oct(real.stat().st_mode & 0o777) == "0o644"
    assert load(real)["model"] == "opus"


def test_no_temp_files_are_left_behind(user_file: Path, config_dir: Path) -> None:
    settings.install(command=MEMRL)
    settings.uninstall()
    names = sorted(p.name for p in config_dir.iterdir())
    assert names == ["settings.json", "settings.json.memrl-backup"]


def test_memrl_hooks_are_recognised_by_their_command() -> None:
    yes = [
        "/home/me/.venv/bin/memrl hook session-start",
        "'/path with space/memrl' hook stop",
        "memrl hook pre-compact",
        "C:\\Tools\\memrl.exe hook session-end",
        "/usr/bin/python3 -m memrl.integrations.claude.hooks stop",
    ]
    no = ["memrl-other hook stop", "echo memrl", "notmemrl hook stop", "memrl search hook"]
    for command in yes:
        assert settings.is_memrl_hook({"type": "command", "command": command}), command
    for command in no:
        assert not settings.is_memrl_hook({"type": "command", "command": command}), command
    assert not settings.is_memrl_hook({"type": "prompt", "prompt": "memrl hook stop"})


def test_default_command_is_this_environments_memrl() -> None:
    command = settings.memrl_command()
    assert command.endswith("memrl") or command.endswith("-m memrl")
    assert Path(command.strip("'").split(" -m ")[0]).is_absolute()


def test_cli_wrappers_install_and_uninstall(config_dir: Path) -> None:
    from memrl.cli.hook import describe, install_hooks, uninstall_hooks

    report = install_hooks()
    assert report.changed and "installed" in describe(report)
    assert describe(install_hooks()).startswith("hooks already installed")
    dry = uninstall_hooks(dry_run=True)
    assert dry.removed and "would be removed" in describe(dry)
    assert set(ours(load(config_dir / "settings.json"))) == set(settings.HOOKS)
    gone = uninstall_hooks()
    assert gone.removed and "the file, which memrl had created, was deleted" in describe(gone)
    assert not (config_dir / "settings.json").exists()
