"""Project identity: named from the git repository, not the working directory's basename.

A repository with a remote is named by the remote's path (`owner/repo`), so two clones
both called `app` but of different repositories never share memories by accident, and
every subfolder of a repository belongs to the same project as its root. Without a
remote the repository root's folder name is used; outside git, the folder's own name.
Nothing here runs git: `.git/config` is read directly, which keeps hooks fast.
"""

from __future__ import annotations

import configparser
import os
import re
import unicodedata
from pathlib import Path

SESSION_DIR_ENV = "CLAUDE_PROJECT_DIR"  # set by Claude Code: the folder the session was opened in
DEFAULT = "default"  # the project of a folder whose name cannot name one
MAX_NAME = 200  # an episode's project is at most this long
ALL = "*"  # every project, where a project is read from


def given(name: str, *, to_file: bool = False) -> str:
    """A project name as a person or Claude gives it: 'acme/app/' is 'acme/app', and blank
    is '' (not given); one that is only slashes names none and is refused. `to_file`: a
    name to file an episode under, where '*' (every project, to the commands that read)
    is refused too."""
    from memrl.errors import InvalidInput

    cleaned = name.strip().rstrip("/").strip()
    if name.strip() and not cleaned:
        raise InvalidInput("project must name a project, not only '/': e.g. 'acme/app'")
    if to_file and cleaned == ALL:
        raise InvalidInput(
            "'*' means every project and cannot name one: give a name such as 'acme/app'"
        )
    return cleaned


def read(name: str) -> str | None:
    """A project to read episodes from, as given, taken as a stored episode's name is
    ('acme/app/' is 'acme/app', terminal controls dropped); None, every project, for '*'
    or a blank one."""
    from memrl.episode import strip_controls

    cleaned = given(strip_controls(name))
    return None if cleaned in ("", ALL) else cleaned


def git_root(start: Path) -> Path | None:
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return None


def _git_dir(root: Path) -> Path:
    dotgit = root / ".git"
    if dotgit.is_file():  # worktrees and submodules: "gitdir: <path>"
        text = dotgit.read_text(encoding="utf-8", errors="replace").strip()
        if text.startswith("gitdir:"):
            target = Path(text.split(":", 1)[1].strip())
            target = target if target.is_absolute() else (root / target).resolve()
            common = target / "commondir"
            if common.is_file():
                rel = common.read_text(encoding="utf-8").strip()
                return (target / rel).resolve()
            return target
    return dotgit


def remote_url(root: Path) -> str | None:
    config_path = _git_dir(root) / "config"
    if not config_path.is_file():
        return None
    # allow_no_value: git allows `[core]\n\tbare`-style keys, which would otherwise fail the parse
    parser = configparser.ConfigParser(strict=False, interpolation=None, allow_no_value=True)
    try:
        parser.read(config_path, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError):
        return None
    remotes = [s for s in parser.sections() if s.startswith('remote "')]
    preferred = 'remote "origin"'
    section = preferred if preferred in remotes else (sorted(remotes)[0] if remotes else None)
    if section is None:
        return None
    return parser.get(section, "url", fallback=None) or None


def main_root(root: Path) -> Path:
    """A linked worktree's main repository folder; any other root is its own."""
    dotgit = root / ".git"
    if dotgit.is_file():
        common = _git_dir(root)
        if common.name == ".git" and (common.parent / ".git").is_dir():
            return common.parent
    return root


def name_from_remote(url: str) -> str | None:
    """`git@github.com:acme/app.git`, `https://host/acme/app` → `acme/app`."""
    url = url.strip()
    m = re.match(r"^(?:[\w.-]+@)?[\w.-]{2,}:(?!//)(?P<path>.+)$", url)  # scp-like ssh
    path = m.group("path") if m else re.sub(r"^[a-z+]+://([^/@]+@)?[^/]+/?", "", url, flags=re.I)
    path = path.strip("/").removesuffix(".git").strip("/")
    if not path:
        return None
    parts = [p for p in path.split("/") if p and p not in (".", "..")]
    return "/".join(parts[-2:]) if parts else None


def detect(cwd: Path | str | None = None) -> str:
    """The project name for a working directory, read as a given one is (see `given`): a
    folder ' app ' is 'app', and one whose name could not be given ('*' for every project,
    control characters, none at all: '/', over MAX_NAME characters) is DEFAULT."""
    folder = Path(cwd) if cwd else Path.cwd()
    try:
        root = git_root(folder)
    except OSError:
        root = None
    if root is None:
        return _as_given(folder.resolve().name)
    url = remote_url(root)
    name = name_from_remote(url) if url else None
    return _as_given(name or main_root(root).name)


def _as_given(found: str) -> str:
    name = given(found)
    controls = any(unicodedata.category(c) == "Cc" for c in name)
    usable = name and name != ALL and not controls and len(name) <= MAX_NAME
    return name if usable else DEFAULT


def detect_session(cwd: Path | str | None = None) -> str:
    """The project of a Claude Code session: `cwd`, else the folder Claude Code was opened
    in, else the working directory; an unreadable folder falls back to the working directory."""
    folder = cwd or os.environ.get(SESSION_DIR_ENV) or None
    try:
        return detect(folder)
    except OSError:
        return detect(None)
