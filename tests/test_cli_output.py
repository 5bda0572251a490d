"""What the CLI shows: refs that feedback refuses, --json shapes and numbers, `search`'s
weak matches and explanations, narrow terminals, and help without type placeholders."""

from __future__ import annotations

import json
import re

import pytest

from tests.conftest import cli as run


def capture(task: str, summary: str, *extra: str) -> str:
    out = run("capture", "--task", task, "--summary", summary, "--json", *extra).stdout
    return json.loads(out)["id"]


def hits(query: str, *extra: str) -> list[dict]:
    return json.loads(run("search", query, "--no-log", "--json", *extra).stdout)["hits"]


def rated(episode_id: str) -> int:
    rows = json.loads(run("list", "--json").stdout)
    [row] = [r for r in rows if r["id"] == episode_id]
    return row["helpful"] + row["unhelpful"]


# feedback: the refs it takes ----------------------------------------------------------


def test_feedback_refuses_latest_and_points_to_last():
    """`feedback helpful latest` used to rate the newest captured episode, which nobody
    had retrieved; 'last' is what was meant."""
    found = capture("Fix open redirect after login", "Validated return URLs", "-o", "success")
    newest = capture("Write release notes", "Drafted the 2.0 changelog")
    run("search", "login redirect vulnerability")
    refused = run("feedback", "helpful", "latest", code=2)
    assert "'latest' names the newest episode in the store" in refused.output
    assert "'last' for the hits of your latest `memrl search`" in refused.output
    assert "Nothing was changed" in refused.output
    assert rated(newest) == 0 and rated(found) == 0
    assert "rated helpful" in run("feedback", "helpful", "last").output  # still there to rate
    assert rated(found) == 1 and rated(newest) == 0


def test_feedback_s_ref_errors_offer_last_not_latest():
    episode = capture("Fix open redirect after login", "Validated return URLs")
    bad = run("feedback", "helpful", episode[:8], "zzzz", code=3)
    assert "'zzzz' is not an episode id" in bad.output
    assert "'last' for the hits of your latest `memrl search`" in bad.output
    assert "latest'" not in bad.output and "Nothing was changed" in bad.output
    assert rated(episode) == 0
    unknown = run("feedback", "helpful", "ffffffff", code=3)
    assert "no episode matches 'ffffffff'" in unknown.output and "'last'" in unknown.output


def test_feedback_refuses_an_episode_whose_file_has_gone_as_show_does(data_dir):
    episode = capture("Fix open redirect after login", "Validated return URLs")
    [path] = data_dir.glob(f"episodes/*/{episode}.json")
    path.unlink()
    assert "has gone" in run("show", episode[:8], code=3).output
    gone = run("feedback", "good", episode[:8], code=3)
    assert f"the file of {episode[:8]} has gone" in gone.output and "memrl index" in gone.output
    assert "Nothing was changed" in gone.output
    from memrl.memory import Memory

    learned = Memory(data_dir).rows([episode])[episode].learned  # list leaves it out now
    assert learned.helpful == learned.unhelpful == 0


# --json: the same names and the same rounding everywhere ------------------------------


def four_places(x: float) -> bool:
    return x == round(x, 4)


def test_json_rounds_utilities_and_similarities_to_four_places_everywhere():
    a = capture("Fix flaky login test", "Waited for the session cookie before asserting")
    capture("Fix the flaky login test", "Waited for the session cookie before asserting")
    capture("Write release notes", "Drafted the 2.0 changelog")
    run("feedback", "helpful", a[:8])
    [project] = json.loads(run("stats", "--json").stdout)["projects"]
    assert 0.5 < project["mean_utility"] < 0.55 and four_places(project["mean_utility"])
    [cluster] = json.loads(run("review", "--print", "--json").stdout)["duplicates"]
    assert cluster["similarity"] > 0.9 and four_places(cluster["similarity"])
    rating = json.loads(run("feedback", "helpful", a[:8], "--json").stdout)
    for change in rating["rated"] + rating["propagated"]:
        assert four_places(change["before"]) and four_places(change["after"])
    history = json.loads(run("history", a[:8], "--json").stdout)
    assert all(four_places(u) for _ts, u in history["curve"])


def test_feedback_and_redact_json_name_the_task_task():
    a = capture("Fix flaky login test", "Waited for the session cookie")
    [change] = json.loads(run("feedback", "helpful", a[:8], "--json").stdout)["rated"]
    assert change["task"] == "Fix flaky login test" and "title" not in change
    run("config", "set", "capture.redact", "false")
    token = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
    capture("Rotate the deploy token", f"GITHUB_TOKEN={token}")
    scan = json.loads(run("redact", "--json", code=1).stdout)
    [found] = scan["episodes"]
    assert found["task"] == "Rotate the deploy token" and "title" not in found


def test_redact_cuts_a_long_title_with_an_ellipsis_apart_from_its_kinds():
    run("config", "set", "capture.redact", "false")
    task = "Connect the reporting job to postgres at db.example.com and " + "x" * 40
    capture(task, "postgres://admin:" + "Tr0ub4dor" + "@db.example.com:5432/app")
    out = run("redact", code=1).output
    [line] = [line for line in out.splitlines() if "Connect the reporting" in line]
    assert "… — 1 " in line


def test_setup_claude_print_json_gives_the_config_as_an_object():
    out = json.loads(run("setup", "claude", "--print", "--no-hooks", "--json").stdout)
    assert out["config"]["mcpServers"]["memrl"]["type"] == "stdio"


# search: weak matches, explanations, narrow terminals ----------------------------------


@pytest.fixture
def stocked():
    capture("Fix open redirect after login", "Validated return URLs", "-o", "success")
    capture("Speed up the CI pipeline with caching", "Cached pip downloads between CI runs")
    capture("Debug flaky login test", "The login test waited on a cookie set asynchronously")


def test_search_marks_weak_matches_in_json_and_quietly_in_the_table(stocked):
    query = "pipeline caching flaky"
    found = hits(query)
    assert {h["weak"] for h in found} == {True, False}  # the store gives one of each
    out = run("search", query, "--no-log").output
    for h in found:
        [row] = [line for line in out.splitlines() if h["short_id"] in line]
        assert ("weak" in row) == h["weak"]
    assert "weak: a faint match, unlikely to help" in out
    assert not any(h["weak"] for h in hits("open redirect after login", "-n", "1"))
    assert "weak" not in run("search", "open redirect after login", "-n", "1", "--no-log").output


def pct(x: float) -> str:
    return f"{x:.0%}"


def test_search_explain_names_normalised_relevance_and_its_numbers_add_up(stocked):
    [h, *_] = hits("login redirect vulnerability", "--explain")
    assert h["keyword"] > 0  # relevance is raised above similarity, so the two differ
    assert h["relevance"] == pytest.approx(h["similarity"] + 0.25 * h["keyword"], abs=1e-3)
    assert h["normalised_relevance"] == pytest.approx((h["relevance"] - 0.25) / 0.75, abs=1e-3)
    assert h["score"] == pytest.approx(0.6 * h["normalised_relevance"] + 0.4 * h["utility"], 1e-3)
    why = h["explanation"]
    assert why.startswith(
        f"score {h['score']:.3f} = 0.60 × normalised relevance "
        f"{pct(h['normalised_relevance'])} + 0.40 × utility {pct(h['utility'])}"
    )
    assert (
        f"normalised relevance = (similarity {pct(h['similarity'])} + 0.25 × keyword match "
        f"{pct(h['keyword'])} − 25% minimum) ÷ 75%"
    ) in why
    out = run("search", "login redirect vulnerability", "--no-log", "--explain").output
    assert why.split(";")[0] in " ".join(out.split())


def test_search_explain_keeps_a_readable_task_in_a_narrow_terminal(stocked, monkeypatch):
    import memrl.cli.common as common

    monkeypatch.setenv("COLUMNS", "60")
    monkeypatch.setattr(common, "_console", None)
    [h, *_] = hits("login redirect vulnerability")
    out = run("search", "login redirect vulnerability", "--no-log", "--explain").output
    lines = out.splitlines()
    assert max(map(len, lines)) <= 60
    header = lines[0]
    assert re.search(r"┃ task +┃", header) and len(header.split("┃")[1]) >= 16
    assert "score" in header and "similarity" in header
    [row] = [line for line in lines if line.startswith(h["short_id"])]  # the id stays whole
    assert f"{h['score']:.3f}" in row and "Fix open redirect" in row


# help: conventional placeholders, no pydantic wording ----------------------------------


def test_help_shows_nothing_after_a_flag():
    """A flag takes no value, and its help must not suggest one (`--json <bool>`)."""
    for command in ("feedback", "capture", "search", "list"):
        out = run(command, "--help").output
        assert "<bool>" not in out
        assert re.search(r"--json +Print machine-readable", out)
    assert "<bool>" not in run("--help").output


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["list", "-o", "done"], "'done' is not one of 'success'"),
        (["search", "x", "-n", "0"], "'--limit' / '-n': 0 is not in the range 1<=x<=100"),
        (["search", "x", "-n", "many"], "'many' is not a valid int"),
        (["feedback", "done", "abcd"], "'done' is not one of"),
    ],
)
def test_bad_values_are_told_in_plain_words(args, says):
    out = " ".join(run(*args, code=2).output.replace("│", " ").split())
    assert says in out
    assert "Value error" not in out and "Input should" not in out


def test_tiny_utility_changes_read_as_points_not_scientific_notation():
    from memrl.cli.common import points

    assert [points(d) for d in (0.05, 0.0004, 9e-08, -0.0003)] == [
        "[green]+5.0 pts[/]",
        "[green]+0.04 pts[/]",
        "[green]+<0.01 pts[/]",
        "[red]−0.03 pts[/]",
    ]


def test_direction_controls_and_brackets_are_shown_as_stored_not_acted_on():
    """U+202E would make 'Fix ‮exe.txt' read 'Fix txt.exe'; '[red]' is text, not markup."""
    task = "Fix \u202eexe.txt\u202c display [red]"
    out = run("capture", "--task", task, "--summary", "renamed", "--json").stdout
    episode_id = json.loads(out)["id"]
    assert json.loads(run("show", episode_id[:8], "--json").stdout)["task"] == task  # stored
    shown = "Fix [U+202E]exe.txt[U+202C] display [red]"
    captured = run("capture", "--task", task, "--summary", "again").output
    for out in (captured, run("list").output, run("show", episode_id[:8]).output):
        assert shown in out and "\u202e" not in out
