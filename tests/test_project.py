"""Project identity: the same repository is one project wherever it is checked out."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from memrl.project import detect, git_root, name_from_remote

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


@pytest.fixture(autouse=True)
def _isolated_git(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "no-global-gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    if git_root(tmp_path) is not None:
        pytest.skip("the temporary directory is itself inside a git repository")


def git(cwd: Path, *args: str) -> None:
    ident = ["-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "init.defaultBranch=main"]
    subprocess.run(["git", *ident, *args], cwd=cwd, check=True, capture_output=True)


def repo(path: Path, *remotes: tuple[str, str]) -> Path:
    path.mkdir(parents=True)
    git(path, "init", "-q")
    for name, url in remotes:
        git(path, "remote", "add", name, url)
    return path


def hand_repo(path: Path, config: str) -> Path:
    """A repository made by writing `.git/config` directly, as odd tools leave them."""
    (path / ".git").mkdir(parents=True)
    (path / ".git" / "config").write_text(config, encoding="utf-8")
    return path


@needs_git
@pytest.mark.parametrize(
    "url",
    [
        "git@github.com:acme/app.git",
        "https://github.com/acme/app.git",
        "https://github.com/acme/app",
    ],
)
def test_repo_with_origin_is_named_owner_repo(tmp_path: Path, url: str) -> None:
    root = repo(tmp_path / "checkout", ("origin", url))
    assert detect(root) == "acme/app"


@needs_git
def test_two_clones_called_app_of_different_repos_are_different_projects(tmp_path: Path) -> None:
    one = repo(tmp_path / "work" / "app", ("origin", "git@github.com:acme/app.git"))
    two = repo(tmp_path / "personal" / "app", ("origin", "git@github.com:jane/app.git"))
    assert detect(one) == "acme/app"
    assert detect(two) == "jane/app"


@needs_git
def test_two_clones_of_the_same_repo_are_one_project(tmp_path: Path) -> None:
    one = repo(tmp_path / "app", ("origin", "git@github.com:acme/app.git"))
    two = repo(tmp_path / "app-copy", ("origin", "https://github.com/acme/app.git"))
    assert detect(one) == detect(two) == "acme/app"


@needs_git
def test_subfolder_belongs_to_its_repository(tmp_path: Path) -> None:
    root = repo(tmp_path / "app", ("origin", "git@github.com:acme/app.git"))
    deep = root / "src" / "pkg" / "sub"
    deep.mkdir(parents=True)
    assert detect(deep) == "acme/app"


@needs_git
def test_repo_without_remote_is_named_by_its_root_folder(tmp_path: Path) -> None:
    root = repo(tmp_path / "scratchpad")
    (root / "notes").mkdir()
    assert detect(root) == "scratchpad"
    assert detect(root / "notes") == "scratchpad"


@needs_git
def test_origin_is_preferred_over_other_remotes(tmp_path: Path) -> None:
    root = repo(
        tmp_path / "fork",
        ("upstream", "https://github.com/acme/app.git"),
        ("origin", "git@github.com:jane/app.git"),
    )
    assert detect(root) == "jane/app"


@needs_git
def test_without_origin_another_remote_names_the_project(tmp_path: Path) -> None:
    root = repo(tmp_path / "mirror", ("upstream", "https://gitlab.com/acme/tools.git"))
    assert detect(root) == "acme/tools"


@needs_git
def test_worktree_is_the_same_project_as_its_main_repository(tmp_path: Path) -> None:
    main = repo(tmp_path / "app", ("origin", "git@github.com:acme/app.git"))
    git(main, "commit", "-q", "--allow-empty", "-m", "init")
    git(main, "worktree", "add", "-q", str(tmp_path / "app-feature"))
    assert (tmp_path / "app-feature" / ".git").is_file()
    assert detect(tmp_path / "app-feature") == "acme/app"


@needs_git
def test_worktree_of_a_repo_without_remote_uses_the_main_folder_name(tmp_path: Path) -> None:
    main = repo(tmp_path / "scratchpad")
    git(main, "commit", "-q", "--allow-empty", "-m", "init")
    git(main, "worktree", "add", "-q", str(tmp_path / "scratchpad-wt"))
    assert detect(tmp_path / "scratchpad-wt") == "scratchpad"


def test_hand_made_worktree_with_relative_gitdir(tmp_path: Path) -> None:
    main = hand_repo(tmp_path / "app", '[remote "origin"]\n\turl = git@github.com:acme/app.git\n')
    admin = main / ".git" / "worktrees" / "wt"
    admin.mkdir(parents=True)
    (admin / "commondir").write_text("../..\n")
    wt = tmp_path / "wt"
    wt.mkdir()
    (wt / ".git").write_text("gitdir: ../app/.git/worktrees/wt\n")
    assert detect(wt) == "acme/app"


def test_folder_outside_git_is_named_by_itself(tmp_path: Path) -> None:
    folder = tmp_path / "loose-scripts"
    folder.mkdir()
    assert detect(folder) == "loose-scripts"


def test_detect_defaults_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = hand_repo(tmp_path / "here", '[remote "origin"]\n\turl = https://github.com/acme/here\n')
    monkeypatch.chdir(root)
    assert detect() == "acme/here"


def test_config_with_valueless_keys_is_still_read(tmp_path: Path) -> None:
    config = '[core]\n\tbare\n\tfilemode = true\n[remote "origin"]\n\turl = git@github.com:acme/app.git\n'
    assert detect(hand_repo(tmp_path / "checkout", config)) == "acme/app"


def test_unreadable_config_falls_back_to_the_folder_name(tmp_path: Path) -> None:
    root = hand_repo(tmp_path / "broken", "this is [not a config\n\x00\x01")
    (root / ".git" / "config").write_bytes(b'[remote "origin"]\n\turl = \xff\xfe\n')
    assert detect(root) == "broken"


def test_remote_without_url_falls_back_to_the_folder_name(tmp_path: Path) -> None:
    root = hand_repo(
        tmp_path / "odd", '[remote "origin"]\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n'
    )
    assert detect(root) == "odd"


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("git@github.com:acme/app.git", "acme/app"),
        ("github.com:acme/app.git", "acme/app"),  # scp-like without a user
        ("ssh://git@github.com:22/acme/app.git", "acme/app"),
        ("https://github.com/acme/app/", "acme/app"),
        ("https://user:secret@github.com/acme/app.git", "acme/app"),
        ("HTTPS://GitHub.com/acme/app", "acme/app"),
        ("https://gitlab.com/group/subgroup/app.git", "subgroup/app"),
        ("git@gitlab.example.com:group/app.git", "group/app"),
        ("file:///srv/git/app.git", "git/app"),
        ("/srv/git/app.git", "git/app"),
        ("https://github.com/", None),
        ("", None),
    ],
)
def test_name_from_remote(url: str, name: str | None) -> None:
    assert name_from_remote(url) == name


@pytest.mark.parametrize(
    ("folder", "project"),
    [(" app ", "app"), ("*", "default"), ("my\nproj", "default"), ("L" * 250, "default")],
)
def test_a_folders_name_is_read_as_a_given_project_name(tmp_path: Path, folder, project) -> None:
    (tmp_path / folder).mkdir()
    assert detect(tmp_path / folder) == project
