"""memrl's hooks in Claude Code's user settings (`~/.claude/settings.json`).

The file belongs to the user and to Claude Code, so memrl changes only its own entries:
every other key and every other hook stays exactly as it was. memrl's hooks are known by
their command (`<path>/memrl hook <event>`), which lets a reinstall replace an old path,
and uninstall remove only them. A file memrl cannot parse is refused, never rewritten; the
first change leaves a copy beside it (`settings.json.memrl-backup`), unless the file holds
memrl's hooks and nothing else (memrl created it: there is nothing to keep); every write is
atomic. A file memrl created (so with no backup) and that holds nothing else is removed by
uninstall, not left behind as `{}`. A leading byte-order mark, as some
Windows editors write, is read and not written back.

`CLAUDE_CONFIG_DIR` moves Claude Code's configuration folder, and is honoured here.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from memrl.errors import ConfigError

BACKUP_SUFFIX = ".memrl-backup"

# event name in settings → (memrl hook subcommand, timeout in seconds, run in background)
HOOKS: dict[str, tuple[str, int, bool]] = {
    "SessionStart": ("session-start", 10, False),  # its output is the context: Claude waits
    "Stop": ("stop", 60, True),  # every turn: never make Claude wait
    "PreCompact": ("pre-compact", 60, True),  # never delay the compaction
    # Claude Code waits for SessionEnd hooks on exit, up to their timeout (1.5 s when unset).
    "SessionEnd": ("session-end", 15, False),
}
_OURS = re.compile(
    r"""(?:^|[\s/\\"'])memrl(?:\.exe)?["']?\s+hook\s+(?:session-start|session-end|stop|pre-compact)\b"""
    r"""|memrl\.integrations\.claude\.hooks\b"""
)


@dataclass(slots=True)
class HooksReport:
    """What install or uninstall did (or, on a dry run, would do)."""

    path: Path
    changed: bool
    added: list[str] = field(default_factory=list)  # events given a memrl hook
    updated: list[str] = field(default_factory=list)  # events whose memrl hook was replaced
    removed: list[str] = field(default_factory=list)  # events whose memrl hook went
    backup: Path | None = None  # written by this call
    deleted: bool = False  # the file memrl had created, removed by uninstall
    dry_run: bool = False
    commands: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "changed": self.changed,
            "added": self.added,
            "updated": self.updated,
            "removed": self.removed,
            "backup": str(self.backup) if self.backup else None,
            "deleted": self.deleted,
            "dry_run": self.dry_run,
            "commands": self.commands,
        }


def config_dir() -> Path:
    env = os.environ.get("CLAUDE_CONFIG_DIR")
    return Path(env).expanduser() if env else Path.home() / ".claude"


def user_config_file() -> str:
    """Where Claude Code keeps its user-scope MCP servers, as a person would type it."""
    env = os.environ.get("CLAUDE_CONFIG_DIR")
    path = Path(env).expanduser() / ".claude.json" if env else Path.home() / ".claude.json"
    home = Path.home()
    return f"~/{path.relative_to(home)}" if path.is_relative_to(home) else str(path)


def settings_path() -> Path:
    return config_dir() / "settings.json"


def memrl_command() -> str:
    """The installed `memrl` of this environment, as an absolute, shell-quoted path."""
    here = Path(sys.executable).parent
    for name in ("memrl", "memrl.exe"):
        if (here / name).is_file():
            return shlex.quote(str(here / name))
    found = shutil.which("memrl")
    if found:
        return shlex.quote(str(Path(found).resolve()))
    return f"{shlex.quote(sys.executable)} -m memrl"


def is_memrl_hook(hook: Any) -> bool:
    return (
        isinstance(hook, dict)
        and isinstance(hook.get("command"), str)
        and bool(_OURS.search(hook["command"]))
    )


def wanted(command: str | None = None) -> dict[str, dict[str, Any]]:
    """The hook entry memrl installs for each event: this shell's store, if not the default,
    goes with it (`MEMRL_DATA_DIR=… memrl hook …`), as it does with the MCP server."""
    from memrl.integrations.claude.setup import server_env

    prefix = "".join(f"{k}={shlex.quote(v)} " for k, v in server_env().items())
    base = prefix + (command or memrl_command())
    out = {}
    for event, (sub, timeout, background) in HOOKS.items():
        hook: dict[str, Any] = {"type": "command", "command": f"{base} hook {sub}"}
        hook["timeout"] = timeout
        if background:
            hook["async"] = True
        out[event] = hook
    return out


def read(path: Path) -> dict[str, Any]:
    """The settings as a dict; {} when the file does not exist; refuses anything unparsable."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}; memrl left it unchanged") from None
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}). "
            "memrl left it unchanged: fix it (or move it aside) and run the setup again."
        ) from None
    except RecursionError:
        raise ConfigError(
            f"{path} is not valid JSON (nested too deeply). memrl left it unchanged: fix it (or "
            "move it aside) and run the setup again."
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path} does not hold a JSON object; memrl left it unchanged")
    hooks = data.get("hooks", {})
    if not isinstance(hooks, dict) or not all(isinstance(v, list) for v in hooks.values()):
        raise ConfigError(
            f'"hooks" in {path} is not shaped as Claude Code expects '
            '({"Event": [{"hooks": [...]}]}); memrl left the file unchanged'
        )
    return data


def _without_ours(groups: list[Any]) -> tuple[list[Any], bool]:
    """The event's matcher groups with memrl's hooks taken out (emptied groups dropped)."""
    out, removed = [], False
    for group in groups:
        hooks = group.get("hooks") if isinstance(group, dict) else None
        if not isinstance(hooks, list) or not any(is_memrl_hook(h) for h in hooks):
            out.append(group)
            continue
        removed = True
        kept = [h for h in hooks if not is_memrl_hook(h)]
        if kept:
            out.append({**group, "hooks": kept})
    return out, removed


def install(
    *, dry_run: bool = False, path: Path | None = None, command: str | None = None
) -> HooksReport:
    """Add (or refresh) memrl's hooks; a second run changes nothing."""
    path = path or settings_path()
    data = read(path)
    hooks: dict[str, list[Any]] = dict(data.get("hooks", {}))
    want = wanted(command)
    report = HooksReport(path, False, dry_run=dry_run)
    report.commands = {e: h["command"] for e, h in want.items()}
    for event, hook in want.items():
        current = hooks.get(event, [])
        mine = [h for g in current if isinstance(g, dict) for h in g.get("hooks") or []]
        if [h for h in mine if is_memrl_hook(h)] == [hook]:
            continue  # already there, exactly as wanted
        rest, replaced = _without_ours(current)
        hooks[event] = [*rest, {"hooks": [hook]}]
        (report.updated if replaced else report.added).append(event)
    if report.added or report.updated:
        report.changed = True
        _write(path, {**data, "hooks": hooks}, report, was=data)
    return report


def uninstall(*, dry_run: bool = False, path: Path | None = None) -> HooksReport:
    """Remove memrl's hooks only; the user's own hooks and every other key stay."""
    path = path or settings_path()
    data = read(path)
    report = HooksReport(path, False, dry_run=dry_run)
    if "hooks" not in data:
        return report
    hooks: dict[str, list[Any]] = {}
    for event, groups in data["hooks"].items():
        rest, removed = _without_ours(groups)
        if removed:
            report.removed.append(event)
            if rest:
                hooks[event] = rest
        else:
            hooks[event] = groups
    if not report.removed:
        return report
    report.changed = True
    new = dict(data)
    if hooks:
        new["hooks"] = hooks
    else:
        del new["hooks"]
    if not new and not path.is_symlink() and not _backup(path).exists():
        report.deleted = True  # memrl made it: nothing of the user's is in it
        if not dry_run:
            path.unlink()
        return report
    _write(path, new, report, was=data)
    return report


def _backup(path: Path) -> Path:
    return path.with_name(path.name + BACKUP_SUFFIX)


def _only_ours(data: dict[str, Any]) -> bool:
    """Does `data` hold memrl's hooks and nothing else?"""
    hooks = data.get("hooks")
    if set(data) != {"hooks"} or not isinstance(hooks, dict):
        return False
    found = [_without_ours(groups) for groups in hooks.values()]
    return any(removed for _, removed in found) and not any(rest for rest, _ in found)


def _write(path: Path, data: dict[str, Any], report: HooksReport, *, was: dict[str, Any]) -> None:
    """Write `data` over the file that held `was`, backing up a file the user had."""
    if report.dry_run:
        return
    target = path.resolve() if path.is_symlink() else path  # dotfile managers link it
    target.parent.mkdir(parents=True, exist_ok=True)
    backup = _backup(target)
    if target.exists() and not backup.exists() and not _only_ours(was):
        shutil.copy2(target, backup)
        report.backup = backup
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    mode = target.stat().st_mode & 0o777 if target.exists() else 0o600
    fd, tmp = tempfile.mkstemp(prefix=".settings-", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
