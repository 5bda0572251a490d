"""The learning and curation commands, one test each, through typer's CliRunner."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from memrl.cli import app
from tests.conftest import cli as run
from tests.conftest import episode

runner = CliRunner()


def capture(summary: str, task: str, *extra: str) -> str:
    return json.loads(
        run(
            "capture",
            "--summary",
            summary,
            "--task",
            task,
            "--project",
            "acme/web",
            "--json",
            *extra,
        ).stdout
    )["id"]


def two() -> tuple[str, str]:
    a = capture(
        "Fixed the flaky login test by waiting for the session cookie", "Fix flaky login test"
    )
    b = capture("Stabilised the login test by mocking the clock", "Flaky login test fix")
    return a, b


def test_feedback_aliases_and_last():
    a, _b = two()
    out = json.loads(run("feedback", "yes", a[:8], "--json").stdout)
    rated = out["rated"]
    assert rated[0]["id"] == a and rated[0]["after"] > rated[0]["before"]
    assert out["helpful"] is True and out["last_search"] is None and "neighbours" in rated[0]
    assert {c["cause"] for c in out["propagated"]} <= {"propagation"}
    assert "rated unhelpful" in run("feedback", "bad", a[:8]).output
    run("search", "flaky login test", "--limit", "1")
    run("list")  # not a search: 'last' stays the search, and says so
    out = run("feedback", "good", "last").output
    assert "rated helpful" in out
    assert "'last' rated the hits of \"flaky login test\" (searched just now)" in out
    run("search", "flaky login test", "--limit", "1")
    out = json.loads(run("feedback", "good", "last", "--json").stdout)
    assert out["last_search"]["query"] == "flaky login test"
    assert out["last_search"]["searched_at"].endswith("Z")
    assert "'last' rated" not in run("feedback", "good", a[:8]).output
    bad = runner.invoke(app, ["feedback", "helpful", a[:8], "ffffffff"])
    assert bad.exit_code == 3 and "Nothing was changed" in bad.output
    bad = runner.invoke(app, ["feedback", "maybe", a[:8]])
    assert bad.exit_code == 2


def test_last_is_the_latest_command_line_search_not_a_claude_session_s(data_dir):
    from memrl.memory import Memory

    a, b = two()
    assert (
        "nothing has been retrieved from the command line"
        in run("feedback", "yes", "last", code=2).output
    )
    run("search", "mocking the clock", "--limit", "1")
    # meanwhile a Claude Code session retrieves the other episode through its MCP server
    memory = Memory(data_dir)
    found = memory.search("session cookie wait", limit=1, session_id="s1", origin="mcp")
    assert [h.id for h in found.hits] == [a]
    out = json.loads(run("feedback", "yes", "last", "--json").stdout)
    assert [c["id"] for c in out["rated"]] == [b]
    out = json.loads(run("feedback", "yes", "last", "--session", "s1", "--json").stdout)
    assert [c["id"] for c in out["rated"]] == [a]
    # a search that finds nothing is the latest search: it does not pass 'last' to an older one
    assert "Nothing relevant found" in run("search", "zebra giraffe quantum").output
    before = json.loads(run("list", "--json").stdout)
    refused = run("feedback", "yes", "last", code=2).output
    assert "the latest search found no close match" in refused
    assert json.loads(run("list", "--json").stdout) == before


def test_propagate_on_a_new_store_has_nothing_to_do():
    run("init")
    assert "0 utilities changed" in run("propagate", "--temporal").output


def test_propagate_twice_changes_nothing_the_second_time():
    a, _b = two()
    run("feedback", "helpful", a[:8])
    first = json.loads(run("propagate", "--json").stdout)
    second = json.loads(run("propagate", "--json").stdout)
    assert first["sources"] == 1 and second["changes"] == []
    shown = run("propagate").output
    assert "0 utilities changed" in shown and "1 episode with evidence" in shown
    dry = json.loads(run("propagate", "--dry-run", "--temporal", "--json").stdout)
    assert dry["dry_run"] is True
    told = run("propagate", "--dry-run", "--temporal").output
    assert "temporal credit still owed is not previewed" in told


def test_propagate_counts_the_temporal_credit_it_gives(data_dir):
    from memrl.memory import Memory

    a, _b = two()
    memory = Memory(data_dir)
    memory.search("session cookie wait", limit=1, session_id="s1")
    ep = memory.capture(episode(summary="done", outcome="unknown", session_id="s1")).episode
    memory.close()
    run("edit", ep.id[:8], "--set", "outcome=success")  # an outcome known only later
    out = " ".join(run("propagate", "--temporal").output.split())
    assert "by propagation, 1 by temporal credit" in out and a[:8] in out


def test_pin_unpin_and_history():
    a, b = two()
    run("pin", a[:8])
    assert json.loads(run("show", a[:8], "--json").stdout)["pinned"] is True
    again = run("pin", a[:8], b[:8]).output  # a no-op is said to be one
    assert f"already pinned: {a[:8]}" in again and f"pinned {b[:8]}" in again
    assert json.loads(run("unpin", b[:8], b[:8], "--json").stdout)["unchanged"] == []
    run("unpin", a[:8])
    assert json.loads(run("show", a[:8], "--json").stdout)["pinned"] is False
    run("feedback", "helpful", a[:8])
    out = run("history", a[:8]).output
    assert "feedback" in out and "50% → 55%" in out
    data = json.loads(run("history", a[:8], "--json").stdout)
    assert [e["cause"] for e in data["events"]] == ["pin", "unpin", "feedback"]
    rated = data["events"][2]
    assert len(data["curve"]) > 2
    # every moment in --json output is ISO 8601 UTC, the same string as in the episode file
    shown = json.loads(run("show", a[:8], "--json").stdout)
    listed = {r["id"]: r for r in json.loads(run("list", "--json").stdout)}
    assert data["created_at"] == shown["created_at"] == listed[a]["created_at"]
    assert datetime.fromisoformat(rated["ts"]) <= datetime.fromisoformat(
        shown["learning"]["last_used_at"]
    )
    assert all(datetime.fromisoformat(ts).tzinfo is UTC for ts, _u in data["curve"])
    assert rated["after"] == 0.55


def test_history_shows_a_restore_as_an_event_not_as_a_change_of_nothing():
    a, _b = two()
    run("archive", a[:8])
    run("restore", a[:8])
    row = next(line for line in run("history", a[:8]).output.splitlines() if "restore" in line)
    assert "50%" in row and "→" not in row and "pts" not in row and "—" in row


def test_stats():
    a, _b = two()
    assert "most useful: none yet" in run("stats").output  # unrated is not useful
    run("feedback", "helpful", a[:8])
    data = json.loads(run("stats", "--json").stdout)
    assert data["episodes"] == 2 and data["helpful"] == 1 and sum(data["utility_histogram"]) == 2
    assert data["projects"][0]["project"] == "acme/web"
    assert [r["id"] for r in data["top"]] == [a]
    out = run("stats").output
    assert "2 live episodes" in out and "most useful" in out and "\x1b[" not in out


def test_prune_dry_run_and_execute():
    a, _b = two()
    out = run("prune", "--older-than", "0", "--min-utility", "0.9").output
    assert "Dry run" in out and a[:8] in out
    assert len(json.loads(run("list", "--json").stdout)) == 2
    run("feedback", "helpful", a[:8])
    data = json.loads(
        run("prune", "--older-than", "0", "--min-utility", "0.9", "--execute", "--json").stdout
    )
    assert len(data["archived"]) == 1 and a not in data["archived"]  # helpful episodes are spared
    assert data["kept"] == {"rated helpful": 1}
    spared = run("prune", "--older-than", "0", "--min-utility", "0.9").output
    assert (
        "Nothing to prune: 1 episode is below 90% utility and unused for 0 days, but kept" in spared
    )
    assert "(1 rated helpful)" in spared
    bad = runner.invoke(app, ["prune", "--min-utility", "2"])
    assert bad.exit_code == 2
    out = run("prune").output  # the defaults: unused 90 days, below 25 %
    assert "Nothing to prune" in out and "below 25% utility" in out and "90 days" in out


def test_merge_and_review():
    a, b = two()
    run("feedback", "helpful", a[:8])
    dry = json.loads(run("merge", a[:8], b[:8], "--dry-run", "--json").stdout)
    assert dry["dry_run"] and len(json.loads(run("list", "--json").stdout)) == 2
    assert dry["id"] is None and "id" not in dry["episode"]  # no made-up id
    assert "would merge 2 episodes into a new episode" in run("merge", a, b, "--dry-run").output
    out = run(
        "merge", a[:8], b[:8], "--summary", "Login test: wait for the cookie, mock the clock"
    ).output
    assert "merged 2 episodes" in out
    rows = json.loads(run("list", "--json").stdout)
    assert len(rows) == 1 and rows[0]["summary"].startswith("Login test")
    assert f"utility {round(rows[0]['utility'] * 100)}%" in out  # what list shows after
    bad = runner.invoke(app, ["merge", rows[0]["id"][:8]])
    assert bad.exit_code == 2 and "at least two" in bad.output
    review = json.loads(run("review", "--print", "--json").stdout)
    assert set(review) == {"duplicates", "stale", "unused", "prune", "suggestions"}


def test_review_names_dead_weight_once_with_its_reason(data_dir):
    from memrl.memory import Memory
    from tests.test_learning import Clock

    m = Memory(data_dir, clock=Clock())  # made and last used on 2026-09-20
    a, b = (
        m.capture(episode(summary=text)).episode.id
        for text in ("cached pip downloads in docker builds", "cached the redis client in tests")
    )
    assert len(m.search("cached", limit=2).hits) == 2
    m.learning.feedback([a], helpful=True)
    m.learning.feedback([b], helpful=False)
    m.close()
    run("config", "set", "prune.older_than_days", "30")
    out = run("review", "--print").output
    assert "1 dead weight, 1 stale, 0 never used" in out
    assert out.count(b[:8]) == 1 and "rated unhelpful 1×" in out
    review = json.loads(run("review", "--print", "--json").stdout)
    assert [r["id"] for r in review["prune"]] == [b]
    assert [r["id"] for r in review["stale"]] == [a]


def test_review_without_an_index_is_not_an_all_clear(data_dir):
    import shutil

    two()
    shutil.rmtree(data_dir / "vectors")
    for args in (["review", "--print"], ["review", "--print", "--json"]):
        out = runner.invoke(app, args)
        assert out.exit_code == 5, out.output  # the index's exit code, as search gives
        assert "the search index does not exist; run `memrl index`" in out.output
        assert "0 duplicate" not in out.output


def test_counts_of_one_read_right():
    from memrl.views import plural

    assert plural(1, "episode") == "1 episode" and plural(0, "episode") == "0 episodes"
    assert plural(1, "utility", "utilities") == "1 utility"
    assert plural(2, "utility", "utilities") == "2 utilities"
    assert plural(12_345, "row") == "12,345 rows"


def test_ages_read_right_in_columns_and_sentences():
    from memrl.views import age, ago

    now = 1_800_000_000.0
    assert [age(now - s, now) for s in (5, 90, 7200, 3 * 86_400, 800 * 86_400)] == [
        "now",
        "2m",
        "2h",
        "3d",
        "2y",
    ]
    assert ago(now - 5, now) == "just now" and ago(now - 7200, now) == "2h ago"


def test_feedback_shows_the_largest_changes_and_counts_the_rest():
    """Value spreading to many neighbours is listed largest first, a dozen at most; a change
    too small for one decimal still shows its size rather than '+0.0 pts'."""
    ids = [
        capture(f"Made the upload retry test stable, attempt {n}", f"Fix flaky upload test {n}")
        for n in range(16)
    ]
    out = run("feedback", "helpful", ids[0]).output
    spread = out.split("propagated to neighbours", 1)[1]
    rows = [line for line in spread.splitlines() if "propagation from" in line]
    assert len(rows) == 12 and "… and 3 smaller changes" in spread  # 15 neighbours in all
    points = [float(row.split("+")[-1].split()[0]) for row in rows]
    assert points == sorted(points, reverse=True) and "0.0 pts" not in out


def test_a_search_credits_the_success_captured_later_in_the_project_it_was_made_in(
    tmp_path, monkeypatch
):
    a, _b = two()  # both in acme/web
    repo = tmp_path / "billing-service"
    repo.mkdir()
    monkeypatch.chdir(repo)  # no git: the folder names the project
    run("search", "flaky login test", "--limit", "1")
    out = json.loads(
        run("capture", "--summary", "Shipped the fix", "--outcome", "success", "--json").stdout
    )
    assert out["episode"]["project"] == "billing-service"
    assert [c["id"] for c in out["credit"]] == [a]


def test_last_leaves_out_a_hit_archived_since_and_rates_the_others():
    a, b = two()
    hits = [h["id"] for h in json.loads(run("search", "flaky login test", "--json").stdout)["hits"]]
    assert set(hits) == {a, b}
    run("archive", a[:8])
    rating = run("feedback", "yes", "last", "--json")
    assert [c["id"] for c in json.loads(rating.stdout)["rated"]] == [b]
    assert f"{a[:8]} from the last search was archived since and not rated" in rating.stderr
    again = run("feedback", "yes", "last", code=2).output  # each rating counts: once a search
    assert "the latest search was rated helpful already" in again
    run("search", "flaky login test")
    run("archive", b[:8])
    assert "archived since" in run("feedback", "yes", "last", code=2).output


def test_maintenance_commands_point_out_an_unknown_project():
    two()  # in acme/web
    for args in (["prune"], ["review", "--print"], ["propagate"]):
        out = run(*args, "--project", "acme/wbe").output
        assert "project acme/wbe has no episodes; did you mean acme/web?" in out


def test_feedback_undo_takes_back_the_rating_of_last_which_can_then_be_rated_again():
    a, b = two()
    start = {e["id"]: e["utility"] for e in json.loads(run("list", "--json").stdout)}
    run("search", "flaky login test")
    run("feedback", "helpful", "last")
    out = json.loads(run("feedback", "undo", "last", "--json").stdout)
    assert {c["id"] for c in out["undone"]} == {a, b} and out["refused"] == []
    # every utility is back where it was, and the table says so from first to last
    now = {e["id"]: e["utility"] for e in json.loads(run("list", "--json").stdout)}
    assert now == pytest.approx(start, abs=1e-4)
    assert all(c["after"] == pytest.approx(start[c["id"]], abs=1e-4) for c in out["undone"])
    # the mistaken verdict undone, the same search is rated as meant
    rated = json.loads(run("feedback", "unhelpful", "last", "--json").stdout)
    assert {c["id"] for c in rated["rated"]} == {a, b}
    history = run("history", a[:8], "--json").stdout
    assert '"undo"' in history


def test_feedback_undo_says_what_it_cannot_undo_and_changes_only_what_it_can():
    a, b = two()
    before_b = json.loads(run("show", b[:8], "--json").stdout)["learning"]["utility"]
    run("feedback", "helpful", a[:8])
    partial = run("feedback", "undo", a[:8], b[:8], code=1)
    assert "ratings undone" in partial.stdout and a[:8] in partial.stdout
    assert f"not undone: {b[:8]} has no rating left to undo" in partial.stderr
    after_b = json.loads(run("show", b[:8], "--json").stdout)["learning"]["utility"]
    assert after_b == pytest.approx(before_b, abs=1e-4)  # a's neighbour moved back with it
    nothing = run("feedback", "undo", a[:8], code=2)  # a known id: refused, as others are
    assert f"{a[:8]} has no rating left to undo" in nothing.stderr
    run("search", "flaky login test")
    assert "has not been rated as 'last'" in run("feedback", "undo", "last", code=2).stderr


def test_last_can_be_rated_again_once_its_ratings_are_undone_by_id():
    a, b = two()
    run("search", "flaky login test")
    run("feedback", "helpful", "last")
    run("feedback", "undo", a[:8])
    assert "rated helpful already" in run("feedback", "unhelpful", "last", code=2).stderr
    run("feedback", "undo", b[:8])  # now no hit of that search keeps a rating given since it
    rated = json.loads(run("feedback", "unhelpful", "last", "--json").stdout)
    assert {c["id"] for c in rated["rated"]} == {a, b}


def test_merge_refuses_a_blank_summary_rather_than_joining_theirs():
    a, b = two()
    refused = run("merge", a[:8], b[:8], "--summary", "  ", code=2)
    assert "the merged summary is blank" in refused.stderr
    assert len(json.loads(run("list", "--json").stdout)) == 2


def test_an_episode_whose_file_no_longer_reads_is_not_rated(data_dir):
    a, b = two()
    [path] = data_dir.glob(f"episodes/*/{a}.json")
    path.write_text('{"broken')
    before = run("list", "--json").stdout
    refused = run("feedback", "helpful", a[:8], b[:8], code=1)
    assert f"{a[:8]}: " in refused.stderr and "is not valid JSON" in refused.stderr
    assert "fix the file by hand" in refused.stderr and "Nothing was changed" in refused.stderr
    assert run("list", "--json").stdout == before  # b was not rated either


def test_undoing_a_claude_sessions_ratings_by_id_lets_it_rate_its_last_again(data_dir):
    from memrl.memory import Memory

    two()
    memory = Memory(data_dir)
    found = memory.search("flaky login test", limit=5, session_id="s1", origin="mcp")
    hits = [h.id for h in found.hits if not h.weak]
    memory.learning.feedback(["last"], True, session_id="s1", origin="mcp")
    run("feedback", "undo", *(h[:8] for h in hits))  # from a terminal, by id
    again = memory.learning.feedback(["last"], False, session_id="s1", origin="mcp")
    assert {c.id for c in again if c.cause == "feedback"} == set(hits)
    memory.close()


def test_last_leaves_out_a_hit_whose_file_no_longer_reads_and_rates_the_others(data_dir):
    """As a hit archived since is: one hand-broken file does not stop Claude rating the
    search. With no other hit left, the rating is refused, saying what is wrong."""
    a, b = two()
    hits = [h["id"] for h in json.loads(run("search", "flaky login test", "--json").stdout)["hits"]]
    assert set(hits) == {a, b}
    [path] = data_dir.glob(f"episodes/*/{a}.json")
    path.write_text('{"broken')
    out = run("feedback", "helpful", "last")
    rated = json.loads(run("show", b[:8], "--json").stdout)["learning"]["helpful"]
    assert rated == 1 and b[:8] in out.stdout
    assert f"{a[:8]} from the last search was not rated: its episode file no longer reads" in (
        " ".join(out.stderr.split())
    )
    again = run("search", "flaky login test", "--json").stdout  # now finds b alone…
    assert [h["id"] for h in json.loads(again)["hits"]] == [b]
    assert json.loads(again)["warnings"][0].startswith(f"skipped {a[:8]}: ")
    [path_b] = data_dir.glob(f"episodes/*/{b}.json")
    path_b.write_text('{"broken')  # …whose file breaks too
    refused = run("feedback", "unhelpful", "last", code=1)
    assert f"{b[:8]}: " in refused.stderr and "fix the file by hand" in refused.stderr


def test_last_rated_already_says_so_even_when_its_hits_were_archived_since():
    a, b = two()
    run("search", "flaky login test")
    run("feedback", "helpful", "last")
    run("archive", a[:8], b[:8])
    assert "rated helpful already" in run("feedback", "helpful", "last", code=2).stderr


def test_capture_says_where_similar_episodes_start_it_apart_from_the_neighbours_it_moved():
    a, _b = two()
    run("feedback", "helpful", a[:8])
    args = ["--summary", "Waited for the session cookie in the flaky login test"]
    out = json.loads(run("capture", *args, "--task", "Fix flaky login test", "--json").stdout)
    assert out["starts_at"] > 0.5
    assert out["id"] not in {c["id"] for c in out["propagation"]}
    shown = run("capture", *args, "--task", "Fix the flaky login test again").output
    assert "starts at 5" in shown and "utility: similar episodes' evidence" in shown
