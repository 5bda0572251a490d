"""One test per command, through typer's CliRunner, as a script or a person would use them."""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from memrl.cli import app

runner = CliRunner()


def run(*args: str, input: str | None = None, code: int = 0):
    result = runner.invoke(app, list(args), input=input)
    assert result.exit_code == code, (result.output, result.exception)
    return result


def captured(*extra: str) -> str:
    out = run(
        "capture",
        "--summary",
        "Fixed open redirect by validating return URLs",
        "--task",
        "Fix open redirect",
        "--project",
        "acme/web",
        "--json",
        *extra,
    )
    return json.loads(out.stdout)["id"]


def test_output_to_a_reader_that_stopped_is_not_a_failure(data_dir):
    """`memrl list | head -1`: the reader leaves early; memrl exits 0, without a traceback."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    captured()
    exe = Path(sys.executable).parent / "memrl"
    for args in (["list"], ["stats"], ["export"]):
        proc = subprocess.Popen(
            [str(exe), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=os.environ
        )
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()  # gone before memrl writes a line
        err = proc.stderr.read()
        assert proc.wait() == 0 and b"Traceback" not in err, (args, err)


def test_help_lists_the_commands():
    out = run("--help").output
    for cmd in ("capture", "search", "list", "show", "index", "status", "config", "feedback"):
        assert cmd in out


def test_init_creates_the_store_and_loads_the_model(data_dir):
    out = run("init").output
    assert "Loading embedding model…" in out
    assert "Embedding model loaded: all-MiniLM-L6-v2-int8 (bundled), 384 dimensions" in out
    assert (data_dir / "config.toml").read_text().startswith("# memrl settings")
    again = json.loads(run("init", "--json").stdout)
    assert again["config_created"] is False and again["dim"] == 384
    # a new store is healthy, and searching it says it is empty rather than broken
    assert "none yet: the first capture creates it" in run("status").output
    assert json.loads(run("status", "--json").stdout)["index"]["fresh"] is True
    found = json.loads(run("search", "anything", "--json").stdout)
    assert found["hits"] == [] and found["warnings"] == [
        "the memory is empty: capture an episode first"
    ]


def test_capture_by_flags_stores_every_field(data_dir):
    out = run(
        "capture",
        "--summary",
        "Fixed the flaky upload test",
        "--task",
        "Flaky test",
        "--outcome",
        "partial",
        "--worked",
        "retry with backoff",
        "--failed",
        "sleep(1)",
        "--error",
        "TimeoutError: upload => raise the client timeout",
        "--file",
        "tests/test_upload.py",
        "--command",
        "pytest -k upload",
        "--tag",
        "ci",
        "--type",
        "test",
        "--project",
        "acme/api",
        "--session",
        "s-1",
        "--json",
    )
    data = json.loads(out.stdout)["episode"]
    assert data["outcome"] == "partial" and data["task_type"] == "test"
    assert data["errors_resolved"] == [
        {"error": "TimeoutError: upload", "resolution": "raise the client timeout"}
    ]
    assert data["files"] == ["tests/test_upload.py"] and data["session_id"] == "s-1"
    assert data["project"] == "acme/api"
    assert (data_dir / "episodes" / data["created_at"][:10] / f"{data['id']}.json").exists()


def test_capture_from_json_on_stdin():
    payload = json.dumps(
        {
            "task": "Add dark mode",
            "summary": "Added a dark theme toggle",
            "tags": ["ui"],
            "project": "acme/web",
        }
    )
    out = run("capture", "--from", "-", "--json", input=payload)
    assert json.loads(out.stdout)["episode"]["tags"] == ["ui"]


def test_capture_from_a_file_saved_with_a_byte_order_mark(tmp_path):
    path = tmp_path / "episode.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps({"summary": "Saved by Notepad"}).encode())
    out = run("capture", "--from", str(path), "--json")
    assert json.loads(out.stdout)["episode"]["summary"] == "Saved by Notepad"


def test_archive_and_restore_reach_a_state_so_running_them_again_is_no_error():
    episode_id, other = captured(), captured()
    run("archive", episode_id[:8])
    again = runner.invoke(app, ["archive", episode_id[:8], other[:8], "--json"])
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout) == {"archived": [other], "unchanged": [episode_id]}
    assert f"{episode_id[:8]} is archived already: left as it is" in again.stderr
    rated = " ".join(runner.invoke(app, ["feedback", "helpful", episode_id[:8]]).output.split())
    assert f"`memrl restore {episode_id[:8]}` brings it back" in rated
    twice = runner.invoke(app, ["restore", episode_id[:8]])
    assert twice.exit_code == 0 and "restored" in twice.stdout
    again = runner.invoke(app, ["restore", episode_id[:8], other[:8]])
    assert again.exit_code == 0 and f"{episode_id[:8]} is not archived: left" in again.stderr
    assert run("list", "--json").stdout.count('"id"') == 2  # both live again
    # What matches nothing still fails the batch, and changes nothing.
    bad = runner.invoke(app, ["archive", episode_id[:8], "ffffffff"])
    assert bad.exit_code == 3 and "Nothing was changed" in bad.output
    assert run("list", "--json").stdout.count('"id"') == 2


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["capture", "--task", "no summary"], None, "a summary is required"),
        (["capture", "--summary", "x", "--outcome", "won"], None, "Invalid value for '--outcome'"),
        (["capture", "--from", "-"], "{not json", "stdin is not valid JSON"),
        (["capture", "--from", "-"], "[1, 2]", "one JSON object"),
        (["capture", "--from", "/nonexistent.json"], None, "cannot read /nonexistent.json"),
    ],
)
def test_capture_refuses_bad_input(args, stdin, message):
    result = runner.invoke(app, args, input=stdin)
    assert result.exit_code == 2
    assert message in result.output


def test_capture_invalid_utf8_file(tmp_path):
    bad = tmp_path / "ep.json"
    bad.write_bytes(b'{"summary": "caf\xe9"}')
    result = runner.invoke(app, ["capture", "--from", str(bad)])
    assert result.exit_code == 2 and "not valid UTF-8" in result.output


def test_list_and_show():
    episode_id = captured()
    rows = json.loads(run("list", "--json").stdout)
    assert [r["id"] for r in rows] == [episode_id]
    assert "Fix open redirect" in run("list").output
    assert "acme/web" in run("list", "--project", "acme/web").output
    assert "No episodes match" in run("list", "--project", "other").output
    shown = json.loads(run("show", episode_id[:6], "--json").stdout)
    assert shown["summary"].startswith("Fixed open redirect")
    assert shown["short_id"] == rows[0]["short_id"] == episode_id[:8]
    assert shown["learning"]["utility"] == pytest.approx(0.5)
    assert "utility" in run("show", "latest").output


def test_list_on_an_empty_store_says_how_to_start():
    assert "memrl capture" in run("list").output


def test_show_unknown_and_ambiguous_ids():
    captured()
    result = runner.invoke(app, ["show", "ffffffff"])
    assert result.exit_code == 3 and "no episode matches 'ffffffff'" in result.output
    result = runner.invoke(app, ["show", "xyz"])
    assert result.exit_code == 3 and "at least 4 hex characters" in result.output
    archived = runner.invoke(app, ["archive", "xyz"])  # the same code from every command
    assert archived.exit_code == 3 and "at least 4 hex characters" in archived.output


def test_edit_with_set_validates_and_reindexes():
    episode_id = captured()
    run("edit", episode_id[:8], "--set", "tags=security,auth", "--set", "outcome=success")
    data = json.loads(run("show", episode_id[:8], "--json").stdout)
    assert data["tags"] == ["security", "auth"]
    again = run("edit", episode_id[:8], "--set", "outcome=success")  # what it holds already
    assert "no changes" in again.stdout
    assert (
        json.loads(run("show", episode_id[:8], "--json").stdout)["updated_at"] == data["updated_at"]
    )
    bad = runner.invoke(app, ["edit", episode_id[:8], "--set", "outcome=maybe"])
    assert bad.exit_code == 2 and "outcome must be one of" in bad.output
    bad = runner.invoke(app, ["edit", episode_id[:8], "--set", "colour=red"])
    assert bad.exit_code == 2 and "not an episode field" in bad.output
    assert json.loads(run("show", episode_id[:8], "--json").stdout)["outcome"] == "success"


@pytest.fixture
def at_a_terminal(monkeypatch):
    import memrl.cli.episodes

    monkeypatch.setattr(memrl.cli.episodes, "_terminal", lambda: True)


def test_edit_in_editor(monkeypatch, tmp_path, at_a_terminal):
    episode_id = captured()
    script = tmp_path / "editor.py"
    script.write_text(
        "import json, sys\np = sys.argv[1]\nd = json.load(open(p))\n"
        "d['summary'] = 'Edited in an editor'\njson.dump(d, open(p, 'w'))\n"
    )
    import sys

    monkeypatch.setenv("EDITOR", f"{sys.executable} {script}")
    run("edit", episode_id[:8])
    assert (
        json.loads(run("show", episode_id[:8], "--json").stdout)["summary"] == "Edited in an editor"
    )
    hits = json.loads(run("search", "edited in an editor", "--json").stdout)["hits"]
    assert hits[0]["id"] == episode_id and hits[0]["summary"] == "Edited in an editor"


def test_an_editor_that_changes_the_id_or_leaves_fields_out_is_told_so(
    monkeypatch, tmp_path, at_a_terminal
):
    """An id changed in $EDITOR was dropped with "no changes", fields deleted from the text
    kept without a word; the id is refused as --set refuses it, what was left out named."""
    import sys

    episode_id = captured("--tag", "web")
    script = tmp_path / "editor.py"
    monkeypatch.setenv("EDITOR", f"{sys.executable} {script}")
    script.write_text(
        "import json, sys\np = sys.argv[1]\nd = json.load(open(p))\n"
        "d['id'] = 'f' * 32\njson.dump(d, open(p, 'w'))\n"
    )
    refused = runner.invoke(app, ["edit", episode_id[:8]], input="n\n")
    assert refused.exit_code == 2 and "id is kept by memrl and cannot be edited" in refused.output
    (Path(os.environ["MEMRL_DATA_DIR"]) / "unsaved" / f"{episode_id}.json").unlink()
    script.write_text(
        "import json, sys\nd = {'summary': 'Only the summary'}\n"
        "json.dump(d, open(sys.argv[1], 'w'))\n"
    )
    saved = run("edit", episode_id[:8])
    said = " ".join(saved.output.split())
    assert "left out of the text, so kept as they were: " in said and "tags" in said
    shown = json.loads(run("show", episode_id[:8], "--json").stdout)
    assert shown["summary"] == "Only the summary" and shown["tags"] == ["web"]


def test_edit_in_editor_that_breaks_the_json_changes_nothing(monkeypatch, tmp_path, at_a_terminal):
    episode_id = captured()
    script = tmp_path / "editor.py"
    script.write_text("import sys\nopen(sys.argv[1], 'w').write('{broken')\n")
    import sys

    monkeypatch.setenv("EDITOR", f"{sys.executable} {script}")
    result = runner.invoke(app, ["edit", episode_id[:8]], input="n\n")
    assert result.exit_code == 2 and "unchanged" in result.output
    assert json.loads(run("show", episode_id[:8], "--json").stdout)["summary"].startswith("Fixed")
    kept = Path(os.environ["MEMRL_DATA_DIR"]) / "unsaved" / f"{episode_id}.json"
    kept.unlink()
    result = runner.invoke(app, ["edit", episode_id[:8]], input="")  # Ctrl-D at "Edit again?"
    assert result.exit_code == 2 and "Your text is kept" in result.output
    assert json.loads(kept.read_text())["text"] == "{broken"


def test_edit_emptied_in_the_editor_is_given_up_and_discards_a_kept_text(
    monkeypatch, tmp_path, at_a_terminal
):
    """Emptying the text in $EDITOR gives the edit up, as in the TUI's E: nothing saved,
    no "not valid JSON" and no "Edit again?", exit 0; a text kept from a broken edit
    before is discarded, and said to be."""
    import sys

    episode_id = captured()
    script = tmp_path / "editor.py"
    monkeypatch.setenv("EDITOR", f"{sys.executable} {script}")
    kept = Path(os.environ["MEMRL_DATA_DIR"]) / "unsaved" / f"{episode_id}.json"
    script.write_text("import sys\nopen(sys.argv[1], 'w').write('{broken')\n")
    assert runner.invoke(app, ["edit", episode_id[:8]], input="n\n").exit_code == 2
    assert kept.exists()  # the broken text, kept to go on with

    script.write_text("import sys\nopen(sys.argv[1], 'w').write('  \\n')\n")  # emptied
    result = runner.invoke(app, ["edit", episode_id[:8]], input="y\n")
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert (
        f"the text was emptied: {episode_id[:8]} is unchanged; your text kept from before "
        "is discarded" in said
    )
    assert "JSON" not in said and "Edit again?" not in said and "no changes" not in said
    assert not kept.exists()
    assert json.loads(run("show", episode_id[:8], "--json").stdout)["summary"].startswith("Fixed")

    result = runner.invoke(app, ["edit", episode_id[:8]])  # nothing kept now
    assert result.exit_code == 0, result.output
    assert f"the text was emptied: {episode_id[:8]} is unchanged" in result.output
    assert "discarded" not in result.output and "going on with" not in result.output


def test_an_editor_session_keeps_what_changed_meanwhile_and_never_overwrites_it(
    monkeypatch, tmp_path, at_a_terminal
):
    """While the person is in the editor, another process edits the episode: a change to
    another field survives the save; a change to the same field stops the save (exit 8),
    and the person's text is kept for the next `memrl edit`."""
    import sys

    episode_id = captured()
    script = tmp_path / "editor.py"
    script.write_text(
        "import json, os, subprocess, sys\n"
        "p = sys.argv[1]\nd = json.load(open(p))\n"
        "subprocess.run([os.environ['MEMRL_BIN'], 'edit', d['id'][:8], '--set', "
        "os.environ['OTHER']], check=True, capture_output=True)\n"
        "d['summary'] = os.environ['NEW']\n"
        "json.dump(d, open(p, 'w'))\n"
    )
    monkeypatch.setenv("EDITOR", f"{sys.executable} {script}")
    monkeypatch.setenv("MEMRL_BIN", str(Path(sys.executable).parent / "memrl"))
    monkeypatch.setenv("OTHER", "tags=security")
    monkeypatch.setenv("NEW", "Validated next= against the allow-list")
    run("edit", episode_id[:8])
    stored = json.loads(run("show", episode_id[:8], "--json").stdout)
    assert stored["summary"] == "Validated next= against the allow-list"
    assert stored["tags"] == ["security"]

    monkeypatch.setenv("OTHER", "summary=Changed by another session")
    monkeypatch.setenv("NEW", "Validated next= against an allow-list of hosts")
    result = runner.invoke(app, ["edit", episode_id[:8]], input="")  # Ctrl-D: a no
    assert result.exit_code == 8, result.output
    assert "changed elsewhere while you edited it (summary)" in result.output
    assert "Open it again" not in result.output  # before the question nothing is decided
    assert f"`memrl edit {episode_id[:8]}` goes on with it" in result.output
    stored = json.loads(run("show", episode_id[:8], "--json").stdout)
    assert stored["summary"] == "Changed by another session"
    kept = Path(os.environ["MEMRL_DATA_DIR"]) / "unsaved" / f"{episode_id}.json"
    assert oct(kept.stat().st_mode & 0o777) == "0o600"
    assert "against an allow-list of hosts" in json.loads(kept.read_text())["text"]
    meanwhile = run("edit", episode_id[:8], "--set", "outcome=success")  # says it is still kept
    assert f"a text of {episode_id[:8]} edited in $EDITOR and not saved is still kept" in (
        meanwhile.stderr
    )
    refused = runner.invoke(app, ["edit", episode_id[:8], "--set", "archived=true"])
    assert refused.exit_code == 2 and "`memrl archive` and `memrl restore`" in refused.output

    # Going on with it: the kept text is offered again; saying yes puts the person's
    # summary over the other one, and the kept text is dropped.
    script.write_text("import sys\n")  # an editor that saves the text as it is
    result = runner.invoke(app, ["edit", episode_id[:8]], input="y\n")
    assert result.exit_code == 0, result.output
    assert "going on with your edit that was not saved" in result.output
    stored = json.loads(run("show", episode_id[:8], "--json").stdout)
    assert stored["summary"] == "Validated next= against an allow-list of hosts"
    assert stored["tags"] == ["security"] and not kept.exists()


def test_edit_needs_an_editor_that_runs_and_a_terminal(monkeypatch, at_a_terminal):
    episode_id = captured()
    monkeypatch.setenv("EDITOR", "/nonexistent/editor")
    result = runner.invoke(app, ["edit", episode_id[:8]])
    assert result.exit_code == 2 and "cannot run the editor '/nonexistent/editor'" in result.output
    monkeypatch.setattr("memrl.cli.episodes._terminal", lambda: False)
    result = runner.invoke(app, ["edit", episode_id[:8]])
    assert result.exit_code == 2 and "--set field=value" in result.output
    result = runner.invoke(app, ["edit", episode_id[:8], "--set", "merged_from=nothex"])
    assert result.exit_code == 2 and "'merged_from' is kept by memrl" in result.output
    assert json.loads(run("show", episode_id[:8], "--json").stdout)["merged_from"] == []


@pytest.mark.parametrize(
    ("field", "value"), [("merged_from", ["abc"]), ("redactions", {"api key": 1})]
)
def test_a_capture_cannot_give_what_memrl_records_itself(field, value):
    """Given in a capture's JSON, they were stored as given: 'merged from abc' (no id) and
    'redacted 1 api key' with nothing redacted."""
    data = json.dumps({"summary": "Tuned the pool", field: value})
    refused = runner.invoke(app, ["capture", "--from", "-"], input=data)
    assert refused.exit_code == 2 and f"{field} is kept by memrl" in refused.output
    assert json.loads(run("list", "--json").stdout) == []


def test_many_problems_of_a_kind_are_named_five_then_counted_and_jsonl_points_to_import():
    data = json.dumps({"summary": "s", "files": ["f" * 2001] * 190})
    refused = runner.invoke(app, ["capture", "--from", "-"], input=data)
    said = " ".join(refused.output.split())
    assert refused.exit_code == 2 and said.count("is 2,001 characters") == 5
    assert "files.4 is 2,001" in said and "and 185 more" in said and len(said) < 600
    lines = '{"summary": "a"}\n{"summary": "b"}\n'
    refused = runner.invoke(app, ["capture", "--from", "-"], input=lines)
    said = " ".join(refused.output.split())
    assert refused.exit_code == 2 and "a file with one episode a line is for `memrl import`" in said


def test_a_shown_episode_captured_as_a_copy_by_dropping_what_the_advice_names():
    episode_id = captured()
    shown = json.loads(run("show", episode_id[:8], "--json").stdout)
    refused = runner.invoke(app, ["capture", "--from", "-"], input=json.dumps(shown))
    said = " ".join(refused.output.split())
    assert refused.exit_code == 2 and "to capture a copy, drop " in said
    named = said.split("to capture a copy, drop ")[1].replace(" and ", ", ").rstrip(".")
    copy = {k: v for k, v in shown.items() if k not in named.split(", ")}
    out = json.loads(run("capture", "--from", "-", "--json", input=json.dumps(copy)).stdout)
    assert out["id"] != episode_id


def test_archive_and_restore():
    episode_id = captured()
    assert "archived" in run("archive", episode_id[:8]).output
    assert json.loads(run("list", "--json").stdout) == []
    assert [r["id"] for r in json.loads(run("list", "--archived", "--json").stdout)] == [episode_id]
    assert "restored" in run("restore", episode_id[:8]).output
    assert len(json.loads(run("list", "--json").stdout)) == 1
    # 'latest' means the newest archived episode to restore, as it means the newest to archive
    run("archive", "latest")
    assert json.loads(run("restore", "latest", "--json").stdout)["restored"] == [episode_id]
    result = runner.invoke(app, ["restore", "latest"])
    assert result.exit_code == 3 and "no episode is archived" in result.output


def test_search_table_and_json():
    captured()
    run("capture", "--summary", "Upgraded numpy and fixed pandas warnings", "--project", "acme/web")
    out = run("search", "login redirect vulnerability").output
    assert "Fix open redirect" in out and "%" in out
    data = json.loads(
        run("search", "login redirect vulnerability", "--json", "--limit", "1").stdout
    )
    assert len(data["hits"]) == 1 and 0 < data["hits"][0]["similarity"] <= 1
    assert "utility" in data["hits"][0]
    empty = runner.invoke(app, ["search", "  "])
    assert empty.exit_code == 2 and "query is empty" in empty.output
    # the words of an unquoted query are one query, as they would be quoted
    words = json.loads(run("search", "login", "redirect", "vulnerability", "--json").stdout)
    assert words["query"] == "login redirect vulnerability"
    assert words["hits"][0]["id"] == data["hits"][0]["id"]


def test_searching_for_an_id_points_to_show():
    episode_id = captured()
    out = run("search", episode_id[:8])
    assert f"is the id of “Fix open redirect”: `memrl show {episode_id[:8]}`" in out.stderr
    data = json.loads(run("search", episode_id, "--json").stdout)
    assert any("memrl show" in w for w in data["warnings"])
    for text in ("1234", "decade"):  # an error code, a word: searched, no pointer
        assert "memrl show" not in run("search", text).output
    for n in (1, 2):  # two ids that start alike: the prefix names neither, and says so
        one = {"id": f"ab4d{n}" + "0" * 27, "summary": f"Tuned pool {n}", "project": "acme/web"}
        assert runner.invoke(app, ["capture", "--from", "-"], input=json.dumps(one)).exit_code == 0
    said = " ".join(run("search", "ab4d").stderr.split())
    assert "ab4d starts the ids of 2 episodes (ab4d1000, ab4d2000), so it was searched" in said


@pytest.mark.parametrize("width", [60, 80])
def test_tables_fit_a_narrow_terminal_and_keep_their_short_columns(monkeypatch, width):
    """In a split pane the task is cut short on one line; ids, outcomes and utilities stay
    whole (they used to be squeezed to a letter while the task kept its full width)."""
    import memrl.cli.common as common

    task = "Speed up the nightly CSV export for the billing team by streaming the rows"
    run("capture", "--task", task, "--summary", "Server-side cursor", "--outcome", "partial")
    monkeypatch.setenv("COLUMNS", str(width))
    monkeypatch.setattr(common, "_console", None)
    for out in (run("list").output, run("search", "nightly CSV export").output):
        lines = out.splitlines()
        [row] = [line for line in lines if "Speed up" in line]
        assert max(map(len, lines)) <= width
        assert len([line for line in lines if not line.startswith("kw:")]) == 3  # head, rule, row
        assert "partial" in row and "50%" in row and "…" in row and task not in out


def test_search_without_index_says_what_to_do(data_dir):
    captured()
    import shutil

    shutil.rmtree(data_dir / "vectors")
    result = runner.invoke(app, ["search", "redirect"])
    assert result.exit_code == 5 and "memrl index" in result.output
    run("index")
    assert "Fix open redirect" in run("search", "open redirect").output


def test_index_and_status():
    captured()
    status = runner.invoke(app, ["status", "--json"])
    data = json.loads(status.stdout)
    assert status.exit_code == 0 and data["episodes"] == 1 and data["index"]["fresh"]
    assert data["model"] == "all-MiniLM-L6-v2-int8 (bundled)"
    out = json.loads(run("index", "--rebuild", "--json").stdout)
    assert out["rebuilt"] and out["rows"] == 1
    shown = run("status").output
    assert "up to date" in shown
    assert re.search(r"1 live, 0 archived, 1 project\s*$", shown, re.MULTILINE)
    assert "1 row, 384 dimensions" in shown


def test_status_says_a_deleted_file_needs_an_index_run(data_dir):
    episode_id = captured()
    next((data_dir / "episodes").rglob(f"{episode_id}.json")).unlink()
    result = runner.invoke(app, ["status"])
    assert result.exit_code == 1 and "1 deleted on disk" in result.output
    assert "needs `memrl index`" in result.output and "up to date" not in result.output
    run("index")
    assert "up to date" in run("status").output


def test_status_reports_an_unreadable_file(data_dir):
    episode_id = captured()
    path = next((data_dir / "episodes").rglob(f"{episode_id}.json"))
    path.write_text("{")
    result = runner.invoke(app, ["status"], terminal_width=200)
    assert result.exit_code == 1 and "unreadable" in result.output and episode_id in result.output
    rel = path.relative_to(data_dir).as_posix()
    assert f"{rel} is not valid JSON" in result.output  # its path once, not twice
    assert str(path) not in result.output
    said = " ".join(run("index").output.split())
    assert f"skipped unreadable {rel} is not valid JSON" in said


def test_config_show_get_set():
    assert "learning.learning_rate" in run("config", "show").output
    assert run("config", "get", "learning.discount_factor").stdout.strip() == "0.9"
    run("config", "set", "retrieval.limit", "8")
    assert run("config", "get", "retrieval.limit").stdout.strip() == "8"
    bad = runner.invoke(app, ["config", "set", "retrieval.limit", "lots"])
    assert bad.exit_code == 2 and "retrieval.limit" in bad.output and "integer" in bad.output
    bad = runner.invoke(app, ["config", "get", "nope.key"])
    assert bad.exit_code == 2 and "unknown config key" in bad.output
    # a negative minimum similarity would let every unrelated episode through as a close match
    bad = runner.invoke(app, ["config", "set", "retrieval.min_similarity", "--", "-1"])
    assert bad.exit_code == 2 and "greater than or equal to 0" in bad.output
    got = json.loads(run("config", "get", "retrieval.limit", "--json").stdout)
    assert got == {"key": "retrieval.limit", "value": 8}
    assert json.loads(run("config", "set", "retrieval.limit", "6", "--json").stdout)["value"] == 6


def test_config_set_repairs_a_bad_value_in_the_file(data_dir):
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "config.toml").write_text("# mine\n[learning]\nlearning_rate = 2\n")
    assert runner.invoke(app, ["list"]).exit_code == 2  # the bad value stops every command
    run("config", "set", "learning.learning_rate", "0.2")
    assert (data_dir / "config.toml").read_text() == "# mine\n[learning]\nlearning_rate = 0.2\n"
    assert run("config", "get", "learning.learning_rate").stdout.strip() == "0.2"


def test_config_speaks_toml():
    """Values read back as config.toml spells them, and a negative number is a value."""
    assert run("config", "get", "capture.redact").stdout.strip() == "true"
    assert "capture.redact = false" in run("config", "set", "capture.redact", "false").output
    assert run("config", "get", "capture.redact").stdout.strip() == "false"
    bad = runner.invoke(app, ["config", "set", "learning.decay_rate", "-0.5"])
    assert bad.exit_code == 2 and "No such option" not in bad.output
    assert "greater than or equal to 0" in bad.output and "a number (default 0.01)" in bad.output
    assert run("config", "get", "learning.decay_rate").stdout.strip() == "0.01"


def test_export_import_round_trip(tmp_path, data_dir, monkeypatch):
    first = captured()
    run("feedback", "helpful", first[:8])
    dump = tmp_path / "all.jsonl"
    run("export", "--output", str(dump))
    lines = dump.read_text().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["learning"]["helpful"] == 1
    monkeypatch.setenv("MEMRL_DATA_DIR", str(tmp_path / "other"))
    out = run("import", str(dump)).output
    assert "imported 1 episode" in out and "1 episodes" not in out
    shown = json.loads(run("show", first[:8], "--json").stdout)
    assert shown["learning"]["helpful"] == 1 and shown["learning"]["utility"] > 0.5
    again = run("import", str(dump))
    assert "skipped 1 already present" in again.output and "differ" not in again.output
    run("edit", first[:8], "--set", "summary=Changed since the export")
    changed = run("import", str(dump))
    assert "skipped 1 already present" in changed.output
    assert f"1 episode already present ({first[:8]}) differs" in " ".join(changed.output.split())
    shown = json.loads(run("show", first[:8], "--json").stdout)
    assert shown["summary"] == "Changed since the export"  # the stored one is kept


def test_a_summary_limit_lowered_since_applies_to_new_text_only(tmp_path, data_dir, monkeypatch):
    """Lowered under a stored summary, the limit refused an edit of the task alone and the
    import of the store's own export; it is for new text: a summary changed, a capture."""
    run("config", "set", "capture.max_summary_chars", "30000")
    long = json.loads(run("capture", "-s", "é" * 25_000, "-t", "big", "--json").stdout)["id"]
    run("config", "set", "capture.max_summary_chars", "20000")
    run("edit", long[:8], "--set", "task=renamed")
    refused = runner.invoke(app, ["edit", long[:8], "--set", "summary=" + "x" * 20_001])
    assert refused.exit_code == 2 and "the limit is 20,000" in refused.output
    refused = runner.invoke(app, ["capture", "-s", "é" * 25_000, "-t", "again"])
    assert refused.exit_code == 2 and "the limit is 20,000" in refused.output
    # a merge keeping the stored summary, as its dry run said it would (it refused then)
    short = json.loads(run("capture", "-s", "Short one", "-t", "short", "--json").stdout)["id"]
    args = ["merge", long[:8], short[:8], "--json"]
    over = runner.invoke(app, [*args, "--summary", "x" * 20_001, "--dry-run"])
    assert over.exit_code == 2 and "the limit is 20,000" in over.output  # new text: refused
    planned = json.loads(run(*args, "--dry-run").stdout)["episode"]
    merged = json.loads(run(*args).stdout)
    assert merged["episode"]["summary"] == planned["summary"] and merged["id"]
    run("restore", long[:8], short[:8])
    run("archive", merged["id"][:8])
    dump = tmp_path / "all.jsonl"
    run("export", "--output", str(dump))
    monkeypatch.setenv("MEMRL_DATA_DIR", str(tmp_path / "other"))
    assert "imported 3 episodes" in run("import", str(dump)).output  # the merge's, archived
    shown = json.loads(run("show", long[:8], "--json").stdout)
    assert shown["task"] == "renamed" and shown["summary"] == "é" * 25_000


def test_a_hand_written_file_imported_again_differs_only_where_its_lines_changed(tmp_path):
    """A line with an id but no date is dated by the import that stores it: a second
    import of the same file (a resumed one, say) finds nothing different."""
    lines = [
        {"id": f"{n:032x}", "task": f"Task {n}", "summary": f"Did thing {n}", "project": "p"}
        for n in range(1, 4)
    ]
    path = tmp_path / "hand.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    run("import", str(path))
    again = run("import", str(path)).output
    assert "skipped 3 already present" in again and "differ" not in again
    lines[1]["summary"] = "Did it differently"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    changed = " ".join(run("import", str(path)).output.split())
    assert f"1 episode already present ({lines[1]['id'][:8]}) differs" in changed


def test_export_leaves_out_a_hand_broken_episode_and_says_so(tmp_path, data_dir, monkeypatch):
    good, broken = captured(), captured()
    path = next((data_dir / "episodes").rglob(f"{broken}.json"))
    path.write_text(path.read_text().replace('"outcome": "unknown"', '"outcome": "weird"'))
    dump = tmp_path / "all.jsonl"
    result = runner.invoke(app, ["export", "-o", str(dump)])
    assert result.exit_code == 1 and "1 episode left out" in result.output
    assert "! exported 1 episode" in result.output and "✓" not in result.output
    assert broken[:8] in result.output and "outcome" in result.output
    assert [json.loads(line)["id"] for line in dump.read_text().splitlines()] == [good]
    monkeypatch.setenv("MEMRL_DATA_DIR", str(tmp_path / "other"))
    assert "imported 1 episode" in run("import", str(dump)).output  # the backup restores


def test_export_that_cannot_be_written_keeps_the_earlier_one(tmp_path, monkeypatch):
    captured()
    folder = runner.invoke(app, ["export", "-o", str(tmp_path)])
    assert folder.exit_code == 2 and f"{tmp_path} is a folder: give `-o` a file" in folder.output
    assert "Nothing was exported" in folder.output and "incomplete" not in folder.output
    bad = runner.invoke(app, ["export", "-o", str(tmp_path / "no-such-dir" / "all.jsonl")])
    assert bad.exit_code == 2 and "cannot write" in bad.output and bad.exception is not None
    assert "Traceback" not in bad.output
    dump = tmp_path / "all.jsonl"
    run("export", "-o", str(dump))
    earlier = dump.read_text()

    def disk_full(self, filters=None, skipped=None):
        yield {"id": "half"}
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("memrl.memory.Memory.export", disk_full)
    bad = runner.invoke(app, ["export", "-o", str(dump)])
    assert bad.exit_code == 4 and "No space left" in bad.output and "Nothing was" in bad.output
    assert "free some space" in bad.output
    assert dump.read_text() == earlier
    assert [p.name for p in tmp_path.glob("*.jsonl*")] + list(tmp_path.glob(".tmp-*")) == [
        dump.name
    ]


def test_status_and_index_after_restoring_only_the_episode_files(tmp_path, data_dir, monkeypatch):
    """A copy of episodes/ alone is a store to index, not one whose first capture is to come."""
    import shutil

    captured()
    restored = tmp_path / "restored"
    shutil.copytree(data_dir / "episodes", restored / "episodes")
    monkeypatch.setenv("MEMRL_DATA_DIR", str(restored))
    status = runner.invoke(app, ["status"])
    assert status.exit_code == 1 and "none yet" not in status.output
    assert "does not exist; run `memrl index`" in status.output
    assert "index rebuilt: 1 episode, 1 embedded" in run("index").output
    assert "Fix open redirect" in run("search", "open redirect").output


def test_index_rebuild_counts_what_it_embedded_and_says_it_propagated(data_dir):
    captured()
    broken = captured()
    next((data_dir / "episodes").rglob(f"{broken}.json")).write_text("{")
    out = run("index", "--rebuild").output
    assert "skipped unreadable" in out and "index rebuilt: 1 episode, 1 embedded" in out
    assert "propagation re-run: 0 utilities changed" in out
    assert json.loads(run("index", "--rebuild", "--json").stdout)["propagated"] == 0


def test_index_with_nothing_to_do_draws_no_bar():
    captured()
    out = run("index").output
    assert "0 embedded" in out and "0/?" not in out and "━" not in out
    assert "2/2" not in out and "1/1" in run("index", "--rebuild").output


def test_import_with_a_bad_line_imports_nothing(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text('{"summary": "good one", "project": "p"}\n{"summary": ""}\nnot json\n')
    result = runner.invoke(app, ["import", str(src)])
    assert result.exit_code == 2
    assert "line 2" in result.output and "line 3" in result.output
    assert json.loads(run("list", "--json").stdout) == []


def test_an_import_written_to_a_log_shows_its_bar_once_as_what_it_embedded(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text("".join(f'{{"summary": "tuned pool {n}", "project": "p"}}\n' for n in range(3)))
    out = run("import", str(src)).output
    assert "embedding" in out and "3/3" in out and "checking" not in out


def test_no_color_is_respected():
    captured()
    out = run("list").output
    assert "\x1b[" not in out


@pytest.mark.parametrize(
    "args",
    [["init"], ["search", "foo"], ["config", "set", "retrieval.limit", "3"], ["list"], ["tui"]],
)
def test_a_data_dir_that_is_a_file_is_named_with_the_fix(tmp_path, monkeypatch, args):
    afile = tmp_path / "afile"
    afile.write_text("notes")
    monkeypatch.setenv("MEMRL_DATA_DIR", str(afile))
    result = runner.invoke(app, args)
    assert result.exit_code == 4  # a message, not a traceback
    assert f"MEMRL_DATA_DIR ({afile}) is a file" in result.output
    # a file above it: "cannot open memrl.db: Not a directory … check it is writable" before
    monkeypatch.setenv("MEMRL_DATA_DIR", str(afile / "memrl" / "store"))
    result = runner.invoke(app, args)
    said = " ".join(result.output.split())
    assert result.exit_code == 4 and f"cannot be made: {afile} is a file" in said
    assert afile.read_text() == "notes"


def test_list_sorts_text_a_to_z_ignoring_case_and_reverse_turns_any_sort_round():
    for task in ("bump deps", "Add retry", "Zip the logs"):
        run("capture", "--summary", f"Did: {task}", "--task", task, "--project", "acme/web")
    tasks = [r["task"] for r in json.loads(run("list", "--sort", "task", "--json").stdout)]
    assert tasks == ["Add retry", "bump deps", "Zip the logs"]
    back = json.loads(run("list", "--sort", "task", "--reverse", "--json").stdout)
    assert [r["task"] for r in back] == tasks[::-1]
    newest = [r["task"] for r in json.loads(run("list", "--json").stdout)]
    assert newest == ["Zip the logs", "Add retry", "bump deps"]
    assert [r["task"] for r in json.loads(run("list", "-r", "--json").stdout)] == newest[::-1]
    for sort in ("utility", "project", "outcome"):  # all tied: newest first, reversed oldest
        tied = [r["task"] for r in json.loads(run("list", "--sort", sort, "--json").stdout)]
        assert tied == newest, sort
        back = json.loads(run("list", "--sort", sort, "-r", "--json").stdout)
        assert [r["task"] for r in back] == newest[::-1], sort


def test_edit_refuses_an_archived_episode_and_changes_nothing():
    episode_id = captured()
    run("archive", episode_id[:8])
    path = next((Path(os.environ["MEMRL_DATA_DIR"]) / "archive").rglob(f"{episode_id}.json"))
    before = path.read_bytes()
    result = runner.invoke(app, ["edit", episode_id[:8], "--set", "task=changed"])
    assert result.exit_code == 3 and "is archived: `memrl restore` brings it back" in result.output
    assert path.read_bytes() == before


def test_capture_from_says_what_is_wrong_with_what_it_was_given():
    captured()
    empty = runner.invoke(app, ["capture", "--from", "-"], input="\n")
    assert empty.exit_code == 2 and "stdin is empty" in empty.output
    shown = run("show", "latest", "--json").stdout
    again = runner.invoke(app, ["capture", "--from", "-"], input=shown)
    assert again.exit_code == 2 and "`memrl import` takes export lines whole" in again.output
    assert again.output.count("(fields:") == 1
    odd = json.dumps({"summary": "x", "tags": "auth", "id": "ABC", "what_worked": ["a"] * 201})
    told = " ".join(runner.invoke(app, ["capture", "--from", "-"], input=odd).output.split())
    assert "id must be 32 lower-case hex characters" in told
    assert "tags must be a valid list" in told
    assert "what_worked must have at most 200 items, not 201" in told
    assert "should" not in told and "after validation" not in told


def test_an_unknown_project_is_pointed_out_with_the_close_names():
    captured()  # in acme/web
    for args in (["list"], ["export"], ["stats"]):
        result = runner.invoke(app, [*args, "--project", "acme/wbe"])
        assert result.exit_code == 0 and "project acme/wbe has no episodes" in result.output
        assert "did you mean acme/web?" in result.output
    assert "has no episodes" not in runner.invoke(app, ["list", "-p", "acme/web"]).output
    tui = runner.invoke(app, ["tui", "--project", "acme/wbe"])
    assert tui.exit_code == 2 and "did you mean acme/web?" in tui.output


def test_a_data_dir_that_does_not_exist_yet_is_pointed_out(tmp_path, monkeypatch):
    typo = tmp_path / "memrl-stroe"
    monkeypatch.setenv("MEMRL_DATA_DIR", str(typo))
    first = runner.invoke(app, ["list"])
    assert first.exit_code == 0 and f"MEMRL_DATA_DIR is {typo}, which did not exist" in first.output
    assert "did not exist" not in runner.invoke(app, ["list"]).output  # only the first time


def test_export_writes_through_a_fifo_and_a_symlink_and_replaces_neither(tmp_path):
    """`-o /dev/stdout`, `-o >(gzip …)` or a dotfiles link: the data goes where the path
    leads, and the pipe or link is still there afterwards."""
    import threading

    captured()
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text()), daemon=True)
    reader.start()
    assert "exported 1 episode to" in run("export", "-o", str(fifo)).output
    reader.join(5)
    assert fifo.is_fifo() and len(got) == 1 and json.loads(got[0])["task"] == "Fix open redirect"
    target = tmp_path / "backups" / "all.jsonl"
    target.parent.mkdir()
    target.write_text("an older export\n")
    link = tmp_path / "all.jsonl"
    link.symlink_to(target)
    run("export", "-o", str(link))
    assert link.is_symlink() and json.loads(target.read_text())["task"] == "Fix open redirect"


def test_export_to_a_full_device_or_a_place_not_yours_exits_4(tmp_path, monkeypatch):
    """/dev/full, simulated: a FIFO whose writes fail with ENOSPC; and a folder that refuses."""
    import threading

    captured()
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = threading.Thread(target=fifo.read_bytes, daemon=True)
    reader.start()

    def disk_full(self, filters=None, skipped=None):
        yield {"id": "half"}
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as patched:
        patched.setattr("memrl.memory.Memory.export", disk_full)
        full = runner.invoke(app, ["export", "-o", str(fifo)])
    reader.join(5)
    assert full.exit_code == 4 and "No space left" in full.output and fifo.is_fifo()
    assert "incomplete" in full.output and "Nothing was exported" not in full.output

    def denied(*_args, **_kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr("memrl.store.files.tempfile.mkstemp", denied)
    result = runner.invoke(app, ["export", "-o", str(tmp_path / "all.jsonl")])
    assert result.exit_code == 4 and "Permission denied" in result.output
    assert "Nothing was exported" in result.output and "Traceback" not in result.output


DEEP = '{"summary": "deep", "x": ' + "[" * 100_000 + "]" * 100_000 + "}"


def test_json_nested_too_deeply_is_refused_with_a_message_not_a_traceback(tmp_path):
    episode_id = captured()
    deep = tmp_path / "deep.json"
    deep.write_text(DEEP)
    for args in (
        ["capture", "--from", str(deep)],
        ["import", str(deep)],
        ["edit", episode_id[:8], "--set", "tags=" + "[" * 100_000],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert "nested too deeply" in result.output and not isinstance(
            result.exception, RecursionError
        )
    settings = Path(os.environ["CLAUDE_CONFIG_DIR"]) / "settings.json"
    settings.parent.mkdir(parents=True)
    settings.write_text(DEEP)
    status = runner.invoke(app, ["status"])
    assert "settings.json is not valid JSON (nested too deeply)" in status.output
    assert not isinstance(status.exception, RecursionError)


def test_one_episode_file_nested_too_deeply_is_skipped_and_named_everywhere(tmp_path, data_dir):
    good, broken = captured(), captured()
    next((data_dir / "episodes").rglob(f"{broken}.json")).write_text(DEEP)
    status = runner.invoke(app, ["status"])
    assert status.exit_code == 1 and "nested too deeply" in status.output
    index = runner.invoke(app, ["index"])
    assert index.exit_code == 0 and "skipped unreadable" in index.output
    # --json names it as `status --json` does
    [bad] = json.loads(run("index", "--json").stdout)["unreadable"]
    assert bad["path"].endswith(f"{broken}.json") and "nested too deeply" in bad["error"]
    [same] = json.loads(runner.invoke(app, ["status", "--json"]).stdout)["files"]["unreadable"]
    assert same == bad
    dump = tmp_path / "all.jsonl"
    export = runner.invoke(app, ["export", "-o", str(dump)])
    assert export.exit_code == 1 and "1 episode left out" in export.output
    assert [json.loads(line)["id"] for line in dump.read_text().splitlines()] == [good]
    show = runner.invoke(app, ["show", broken[:8]])
    assert show.exit_code == 1 and "nested too deeply" in show.output
    assert "restore it from a backup" in show.output


def test_a_corrupt_episode_file_in_show_is_an_error_not_invalid_input(data_dir):
    """Exit 2 says the user typed something wrong; here the file on disk is at fault."""
    broken = captured()
    next((data_dir / "episodes").rglob(f"{broken}.json")).write_text("{")
    show = runner.invoke(app, ["show", broken[:8]])
    assert show.exit_code == 1 and "not valid JSON" in show.output


def test_list_leaves_out_files_broken_or_deleted_by_hand_and_shows_edits(data_dir):
    """list read the catalog only: a file broken, deleted or edited by hand since the last
    scan was listed as it had been. The files of the rows shown are checked."""
    broken, gone, edited, fine = (captured("--task", t) for t in ("b", "g", "e", "f"))
    path = {i: next((data_dir / "episodes").rglob(f"{i}.json")) for i in (broken, gone, edited)}
    path[broken].write_text("{")
    path[gone].unlink()
    data = json.loads(path[edited].read_text())
    path[edited].write_text(json.dumps(data | {"task": "edited by hand"}))
    shown = run("list", "--json")
    assert [(r["id"], r["task"]) for r in json.loads(shown.stdout)] == [
        (fine, "f"),
        (edited, "edited by hand"),
    ]
    said = " ".join(shown.stderr.split())
    assert f"skipped {broken[:8]}:" in said and "not valid JSON" in said
    assert f"skipped {gone[:8]}: its file" in said and "`memrl index`" in said
    table = run("list").output
    assert "edited by hand" in table and "--limit shows more" not in table
    # the next rows fill the place of those left out, and the count leaves them out too
    oldest = json.loads(run("list", "--reverse", "--limit", "1", "--json").stdout)
    assert [r["id"] for r in oldest] == [edited]  # not [] when the oldest two are left out
    assert "1 of 2; --limit shows more" in run("list", "--reverse", "--limit", "1").output
    # an edited one is catalogued again, so chosen by what it holds now: not listed under
    # the project it left (and found under its new one from then on)
    data = json.loads(path[edited].read_text())
    path[edited].write_text(json.dumps(data | {"project": "hand/proj", "outcome": "failure"}))
    assert [r["id"] for r in json.loads(run("list", "-p", "acme/web", "--json").stdout)] == [fine]
    moved = json.loads(run("list", "-p", "hand/proj", "--json").stdout)
    assert [(r["id"], r["outcome"]) for r in moved] == [(edited, "failure")]


def test_terminal_controls_in_text_never_reach_the_terminal():
    captured_id = json.loads(
        run(
            "capture",
            "--task",
            "esc \x1b[2J\x1b]0;pwned\x07 title",
            "--summary",
            "red \x1b[31mRED\x1b[0m done, ctl \x01\x07 bell",
            "--json",
        ).stdout
    )["id"]
    for args in (["show", captured_id[:8]], ["list"], ["show", "latest", "--json"]):
        out = run(*args).output
        assert "\x1b" not in out and "\x07" not in out and "\x01" not in out, args
        assert "pwned" not in out and "esc  title" in out
    assert run("show", "latest", "--json").stdout.count("\\u00") == 0


def test_tui_without_a_terminal_refuses_rather_than_paint_into_a_pipe(monkeypatch):
    def painting_forever(**_kwargs):
        raise AssertionError("the app started without a terminal")

    monkeypatch.setattr("memrl.tui.launch.run", painting_forever)
    for args in (["tui"], ["tui", "--demo"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2 and "needs a terminal" in result.output, args


def test_list_with_a_huge_limit_lists_them_all():
    captured()
    result = runner.invoke(app, ["list", "-n", "99999999999999999999", "--json"])
    assert result.exit_code == 0 and len(json.loads(result.stdout)) == 1
    assert runner.invoke(app, ["list", "-n", "0"]).exit_code == 2


def test_search_with_a_model_path_that_is_no_folder_names_it_not_the_index(monkeypatch, tmp_path):
    captured()
    monkeypatch.setenv("MEMRL_EMBEDDING_MODEL_PATH", str(tmp_path / "nonexist"))
    result = runner.invoke(app, ["search", "redirect"])
    assert result.exit_code == 6 and "nonexist does not exist" in result.output
    assert "--rebuild" not in result.output
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("MEMRL_EMBEDDING_MODEL_PATH", str(tmp_path / "a-file"))
    result = runner.invoke(app, ["search", "redirect"])
    assert result.exit_code == 6 and "a-file is not a folder" in result.output


def test_status_with_a_model_path_that_is_no_folder_names_it_not_a_rebuild(monkeypatch, tmp_path):
    captured()
    monkeypatch.setenv("MEMRL_EMBEDDING_MODEL_PATH", str(tmp_path / "nonexist"))
    result = runner.invoke(app, ["status"])
    assert result.exit_code == 1 and "does not exist" in result.output
    assert "fix the model, then `memrl index" in " ".join(result.output.split())
    report = json.loads(runner.invoke(app, ["status", "--json"]).stdout)
    assert "does not exist" in report["model_problem"]
    monkeypatch.delenv("MEMRL_EMBEDDING_MODEL_PATH")
    report = json.loads(runner.invoke(app, ["status", "--json"]).stdout)
    assert report["model_problem"] is None and report["index"]["fresh"]


def test_status_names_a_bundled_model_damaged_where_it_cannot_be_assembled_again(
    monkeypatch, tmp_path, models_dir
):
    """A truncated model.onnx in a read-only models folder: status said the model was fine,
    and search that the folder was not writable, never that the model was damaged."""
    import shutil

    from memrl.embeddings import bundled

    captured()
    mine = tmp_path / "models"
    shutil.copytree(bundled.assemble(models_dir), mine / bundled.FOLDER)
    with (mine / bundled.FOLDER / "model.onnx").open("r+b") as fh:
        fh.truncate(100_000)
    monkeypatch.setenv("MEMRL_MODELS_DIR", str(mine))
    report = json.loads(runner.invoke(app, ["status", "--json"]).stdout)
    assert report["model_problem"] is None  # writable: the next embedding assembles it again
    monkeypatch.setattr(bundled.os, "access", lambda path, mode: False)  # as on a read-only mount
    result = runner.invoke(app, ["status"])
    said = " ".join(result.output.split())
    assert result.exit_code == 1 and f"{bundled.FOLDER} is damaged" in said
    assert "cannot be written to assemble it again" in said and "MEMRL_MODELS_DIR" in said


def test_search_with_a_models_folder_that_cannot_be_written_exits_6(monkeypatch, tmp_path):
    captured()
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("MEMRL_MODELS_DIR", str(tmp_path / "a-file" / "models"))
    result = runner.invoke(app, ["search", "redirect"])
    assert result.exit_code == 6, result.exception  # the model's exit code, not a traceback
    assert "the folder is not writable" in result.output and "MEMRL_MODELS_DIR" in result.output


def test_a_broken_local_model_leaves_nothing_in_the_models_folder(monkeypatch, tmp_path):
    broken = tmp_path / "my-model"
    broken.mkdir()
    (broken / "model.onnx").write_bytes(b"not a model")
    (broken / "tokenizer.json").write_text("{}")
    models = tmp_path / "models"
    monkeypatch.setenv("MEMRL_MODELS_DIR", str(models))
    monkeypatch.setenv("MEMRL_EMBEDDING_MODEL_PATH", str(broken))
    result = runner.invoke(app, ["capture", "--summary", "kept without a model"])
    assert result.exit_code == 6 and f"model in {broken} could not be loaded" in result.output
    assert list(models.glob("local-*")) == []
    assert sorted(p.name for p in broken.iterdir()) == ["model.onnx", "tokenizer.json"]


def test_search_with_a_local_model_that_cannot_load_names_the_model_not_a_rebuild(
    monkeypatch, tmp_path
):
    """The index was built by another model, but rebuilding it would fail too: the model
    is what to fix."""
    captured()
    broken = tmp_path / "my-model"
    broken.mkdir()
    (broken / "model.onnx").write_bytes(b"not a model")
    (broken / "tokenizer.json").write_text("{}")
    monkeypatch.setenv("MEMRL_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("MEMRL_EMBEDDING_MODEL_PATH", str(broken))
    result = runner.invoke(app, ["search", "redirect"])
    assert result.exit_code == 6 and f"model in {broken} could not be loaded" in result.output
    assert "--rebuild" not in result.output


def test_a_refused_import_into_a_new_data_dir_leaves_no_store(tmp_path, monkeypatch):
    fresh = tmp_path / "new-store"
    monkeypatch.setenv("MEMRL_DATA_DIR", str(fresh))
    src = tmp_path / "in.jsonl"
    src.write_text('{"summary": "good one"}\n{"summary": ""}\n')
    result = runner.invoke(app, ["import", str(src)])
    assert result.exit_code == 2 and "nothing was imported" in result.output
    assert not fresh.exists()


def test_init_on_a_store_it_cannot_write_says_so(monkeypatch, data_dir):
    run("init")

    def read_only(*_args, **_kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr("memrl.store.files.tempfile.TemporaryFile", read_only)
    result = runner.invoke(app, ["init"])
    assert result.exit_code == 4 and "read-only" in result.output
    assert "point MEMRL_DATA_DIR elsewhere" in result.output
    status = runner.invoke(app, ["status"])  # not healthy: the next capture would fail
    assert status.exit_code == 1 and "read-only" in status.output
    data = json.loads(runner.invoke(app, ["status", "--json"]).stdout)
    assert "point MEMRL_DATA_DIR elsewhere" in data["unwritable"]


def test_a_ledger_damaged_inside_is_named_with_what_to_do_by_every_command(data_dir):
    from memrl.memory import Memory
    from tests.conftest import HashEmbedder, episode

    memory = Memory(data_dir, embedder=HashEmbedder())
    for n in range(30):  # enough rows for the catalog to span pages past the first
        memory.capture(episode(summary=f"Episode number {n} " + "words " * 40))
    memory.close()
    ledger = data_dir / "memrl.db"
    for extra in data_dir.glob("memrl.db-*"):
        extra.unlink()
    with ledger.open("r+b") as f:  # the header page stays valid: the ledger still opens
        f.seek(4096)
        f.write(bytes(range(256)) * 32)
    for args in (["list"], ["status"], ["show", "latest"], ["export", "-o", "-"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 4, (args, result.output, result.exception)
        assert "is not a usable memrl ledger" in result.output, args
        assert "memrl index --rebuild" in result.output and "Traceback" not in result.output
    assert len(list((data_dir / "episodes").rglob("*.json"))) == 30  # the files are untouched


def test_a_file_where_the_episodes_folder_belongs_is_named_with_what_to_do(data_dir):
    captured()
    shutil.rmtree(data_dir / "episodes")
    (data_dir / "episodes").write_text("x")
    for args in (["status"], ["index"], ["index", "--rebuild"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 4, (args, result.output, result.exception)
        assert "is a file where memrl keeps a folder of episode files: move it" in " ".join(
            result.output.split()
        ), args
    assert (data_dir / "episodes").read_text() == "x"


def test_pinned_is_set_by_a_yes_or_a_no_and_nothing_else():
    episode_id = captured()
    run("edit", episode_id[:8], "--set", "pinned=yes")
    for value in ("maybe", ""):
        result = runner.invoke(app, ["edit", episode_id[:8], "--set", f"pinned={value}"])
        assert result.exit_code == 2 and "neither yes nor no" in result.output, value
    assert json.loads(run("show", episode_id[:8], "--json").stdout)["pinned"] is True
    run("edit", episode_id[:8], "--set", "pinned=false")
    assert json.loads(run("show", episode_id[:8], "--json").stdout)["pinned"] is False


def test_latest_is_the_newest_live_episode_in_every_command():
    older, newest = captured(), captured()
    run("archive", newest[:8])
    assert json.loads(run("show", "latest", "--json").stdout)["id"] == older
    assert json.loads(run("restore", "latest", "--json").stdout)["restored"] == [newest]


def test_restore_latest_brings_back_the_episode_archived_last():
    """It brought back the newest archived by creation: after archiving an older one, a
    newer one archived earlier (or merged away) came back instead."""
    older = captured("--task", "older")
    newer = captured("--task", "newer")
    run("archive", newer[:8])
    run("archive", older[:8])
    assert json.loads(run("restore", "latest", "--json").stdout)["restored"] == [older]
    assert json.loads(run("restore", "latest", "--json").stdout)["restored"] == [newer]
    run("archive", newer[:8], older[:8])  # in one command: the last named is archived last
    assert json.loads(run("restore", "latest", "--json").stdout)["restored"] == [older]


def test_a_project_given_with_a_trailing_slash_is_that_project_and_a_bare_slash_none():
    out = json.loads(
        run("capture", "-s", "Tuned the pool", "--project", "acme/app/", "--json").stdout
    )
    assert out["episode"]["project"] == "acme/app"
    blank = json.loads(run("capture", "-s", "Tuned it", "--project", " ", "--json").stdout)
    assert blank["episode"]["project"] not in ("", " ")  # not given: the project of the cwd
    refused = run("capture", "-s", "Tuned the pool", "--project", "/", code=2)
    assert "project must name a project, not only '/'" in refused.stderr
    assert len(json.loads(run("list", "--json").stdout)) == 2
    # the commands that read take a name as capture files it; '*' is every project
    for given in ("acme/app/", " acme/app", "acme/\x01app"):
        listed = json.loads(run("list", "--project", given, "--json").stdout)
        assert [e["id"] for e in listed] == [out["id"]], given
        hits = json.loads(run("search", "pool", "--project", given, "--json").stdout)["hits"]
        assert [h["id"] for h in hits] == [out["id"]], given
    assert len(json.loads(run("list", "--project", "*", "--json").stdout)) == 2
    assert "not only '/'" in run("list", "--project", "/", code=2).output
    # and one to file an episode under is read as capture reads it; '*' names none
    star = run("capture", "-s", "Tuned the pool", "--project", "*", code=2)
    assert "'*' means every project and cannot name one" in star.stderr
    run("edit", out["id"][:8], "--set", "project=acme/api/")
    assert json.loads(run("show", out["id"][:8], "--json").stdout)["project"] == "acme/api"
    assert "cannot name one" in run("edit", out["id"][:8], "--set", "project=*", code=2).stderr


def test_a_file_whose_id_was_changed_by_hand_is_named_the_same_way_everywhere(data_dir):
    episode_id = captured()
    [path] = data_dir.glob(f"episodes/*/{episode_id}.json")
    data = json.loads(path.read_text())
    data["id"] = episode_id[:8] + "f" * 24  # the same short id: only the full ids tell
    path.write_text(json.dumps(data))
    told = f"the id in the file, {data['id']}, is not the one its name gives, {episode_id}"
    assert told in run("status", "--json", code=1).stdout
    for args in (["show", "latest"], ["edit", "latest", "--set", "outcome=success"]):
        refused = run(*args, code=1)
        assert told in refused.stderr and "fix the file by hand" in refused.stderr


def test_a_deleted_ledger_is_not_taken_for_an_empty_memory(data_dir):
    """Episode files on disk, nothing catalogued: list and search point to `memrl index`,
    not to capturing anew."""
    captured()
    for path in data_dir.glob("memrl.db*"):
        path.unlink()
    told = "no episode is catalogued, but episode files are in"
    assert told in " ".join(run("list").output.lower().split())
    found = json.loads(run("search", "open redirect", "--json").stdout)
    assert found["hits"] == [] and any(told in w for w in found["warnings"])
    run("index")
    assert len(json.loads(run("search", "open redirect", "--json").stdout)["hits"]) == 1


def test_import_names_episodes_live_here_that_the_file_merged_away(tmp_path, monkeypatch):
    a, b = (
        json.loads(run("capture", "-s", f"Fixed cache invalidation in {n}", "--json").stdout)["id"]
        for n in ("alpha", "beta")
    )
    run("export", "-o", str(tmp_path / "base.jsonl"))
    run("merge", a[:8], b[:8], "--summary", "Fixed cache invalidation")
    run("export", "-o", str(tmp_path / "after.jsonl"))
    monkeypatch.setenv("MEMRL_DATA_DIR", str(tmp_path / "copy"))
    run("import", str(tmp_path / "base.jsonl"))
    said = " ".join(run("import", str(tmp_path / "after.jsonl")).stderr.split())
    assert "2 episodes live here are archived in the file (merged or pruned" in said
    assert f"`memrl archive {a[:8]} {b[:8]}`" in said or f"`memrl archive {b[:8]} {a[:8]}`" in said


def test_an_interrupted_import_says_to_run_it_again(tmp_path, monkeypatch):
    from memrl.memory import Memory

    def stopped(*_args, **_kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(Memory, "import_", stopped)
    src = tmp_path / "in.jsonl"
    src.write_text('{"summary": "tuned pool", "project": "p"}\n')
    result = runner.invoke(app, ["import", str(src)])
    assert result.exit_code == 130
    assert "interrupted" in result.output and "run the same import again" in result.output


def test_switching_the_model_of_a_store_says_to_rebuild_the_index(tmp_path, models_dir):
    import shutil

    from memrl.embeddings import bundled

    captured()
    mine = tmp_path / "mine"
    mine.mkdir()
    for name in ("model.onnx", "tokenizer.json"):
        shutil.copy(bundled.assemble(models_dir) / name, mine / name)
    out = run("config", "set", "embedding.model_path", str(mine)).output
    assert "`memrl index --rebuild` embeds them with this one" in out
    again = run("config", "set", "embedding.model_path", str(mine)).output
    assert "--rebuild" not in again  # the same model: nothing to do
    assert "--rebuild" not in run("config", "set", "learning.learning_rate", "0.2").output


def test_fixing_a_broken_setting_says_nothing_of_a_model_switch(data_dir):
    """Settings that did not load name no model: setting a key then is no model switch."""
    captured()
    with (data_dir / "config.toml").open("a") as fh:
        fh.write('\n[retrieval]\nlimit = "abc"\n')
    out = run("config", "set", "retrieval.limit", "4").output
    assert "✓ retrieval.limit = 4" in out and "--rebuild" not in out
