"""Hybrid search with the real bundled model and the real LanceDB."""

from __future__ import annotations

import shutil

import pytest

from memrl.errors import IndexUnavailable, InvalidInput
from tests.conftest import episode

STORE = [
    episode(
        task="Fix open redirect after login",
        summary="Fixed open redirect by validating return URLs against an allow-list",
        files=["src/auth/redirect_guard.py"],
    ),
    episode(task="Harden auth redirect", summary="Added URL sanitisation to the auth redirect"),
    episode(
        task="Upgrade numpy", summary="Upgraded numpy to 2.0 and fixed pandas deprecation warnings"
    ),
    episode(
        task="Responsive grid",
        summary="Made the CSS grid responsive on small screens",
        outcome="partial",
    ),
    episode(
        task="Flaky CI build",
        summary="Pinned the Docker base image so CI builds are reproducible",
        errors_resolved=[
            {
                "error": "ERR_OSSL_EVP_UNSUPPORTED during webpack build",
                "resolution": "set NODE_OPTIONS=--openssl-legacy-provider",
            }
        ],
    ),
    episode(
        task="Speed up test suite", summary="Parallelised the slow integration tests with xdist"
    ),
    episode(task="Add dark mode", summary="Added a dark theme toggle stored in local storage"),
    episode(
        task="Database migration",
        summary="Wrote an Alembic migration adding an index on orders.user_id",
        project="acme/billing",
    ),
]


@pytest.fixture
def stocked(memory):
    ids = [memory.capture(e).episode.id for e in STORE]
    return memory, ids


def titles(result):
    return [h.row.task for h in result.hits]


def test_semantic_query_ranks_both_redirect_episodes_first(stocked):
    memory, _ids = stocked
    result = memory.search("login redirect vulnerability", limit=5)
    assert set(titles(result)[:2]) == {"Fix open redirect after login", "Harden auth redirect"}
    assert all(0 < h.similarity <= 1 for h in result.hits)


def test_exact_error_code_is_found_by_keyword(stocked):
    memory, _ids = stocked
    result = memory.search("ERR_OSSL_EVP_UNSUPPORTED", limit=3)
    assert titles(result)[0] == "Flaky CI build"
    assert result.hits[0].keyword == 1.0


def test_file_path_finds_the_episode_that_touched_it(stocked):
    memory, _ids = stocked
    # The path appears only in the files list, which the embedding does not see.
    result = memory.search("redirect_guard.py", limit=3)
    assert titles(result)[0] == "Fix open redirect after login"


def test_project_filter(stocked):
    memory, _ids = stocked
    result = memory.search("database index migration", project="acme/billing")
    assert titles(result) == ["Database migration"]
    none = memory.search("database index migration", project="acme/app")
    assert "Database migration" not in titles(none)


@pytest.mark.parametrize("query", ["the and of", "++ -- :: ??"])
def test_queries_without_searchable_words_are_answered_by_meaning_alone(stocked, query):
    memory, _ids = stocked
    result = memory.search(query, limit=3)  # full-text search finds no terms here
    assert all(h.keyword == 0.0 for h in result.hits)


def test_punctuation_around_words_does_not_hide_them(stocked):
    memory, _ids = stocked
    result = memory.search("dark mode?!", limit=3)
    assert titles(result)[0] == "Add dark mode"
    assert result.hits[0].keyword == 1.0


def test_search_sees_an_episode_captured_by_another_process_at_once(stocked, data_dir):
    import subprocess
    import sys

    memory, _ids = stocked
    memory.search("warm the reader up", limit=1)
    code = (
        "from memrl.memory import Memory; from pathlib import Path; "
        f"Memory(Path({str(data_dir)!r})).capture({{'task': 'Zebracorn parser', "
        "'summary': 'Taught the zebracorn parser to read nested brackets'})"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    assert titles(memory.search("zebracorn", limit=1)) == ["Zebracorn parser"]


def test_unrelated_query_returns_little(stocked):
    memory, _ids = stocked
    result = memory.search("quantum chromodynamics lattice simulation", limit=5)
    assert len(result.hits) <= 2


def test_search_logs_the_retrieval(stocked):
    memory, _ids = stocked
    result = memory.search("login redirect vulnerability", limit=2)
    assert result.retrieval_id is not None
    assert memory.learning.last_retrieved() == [h.id for h in result.hits]
    row = memory.rows([result.hits[0].id])[result.hits[0].id]
    assert row.learned.retrievals == 1


def test_archived_episodes_are_not_found(stocked):
    memory, ids = stocked
    memory.archive([ids[1]])
    assert "Harden auth redirect" not in titles(memory.search("auth redirect sanitisation"))
    memory.restore([ids[1]])
    assert "Harden auth redirect" in titles(memory.search("auth redirect sanitisation"))


def test_an_episode_whose_file_was_deleted_by_hand_is_skipped_with_a_note(stocked, data_dir):
    memory, ids = stocked
    next((data_dir / "episodes").rglob(f"{ids[1]}.json")).unlink()
    result = memory.search("auth redirect sanitisation")
    assert "Harden auth redirect" not in titles(result) and result.hits
    assert [h.rank for h in result.hits] == list(range(1, len(result.hits) + 1))
    assert any(
        w.startswith(f"skipped {ids[1][:8]}") and "memrl index" in w for w in result.warnings
    )
    assert memory.learning.last_retrieved() == [h.id for h in result.hits]


@pytest.mark.parametrize("query", ["", "   ", "\x00", "\u200b", "\u202e\u200d "])
def test_empty_query_is_refused(stocked, query):
    memory, _ids = stocked
    with pytest.raises(InvalidInput, match="empty"):
        memory.search(query)


def test_deleted_vectors_folder_says_run_index_and_index_repairs(stocked):
    memory, _ids = stocked
    shutil.rmtree(memory.root / "vectors")
    with pytest.raises(IndexUnavailable, match="memrl index"):
        memory.search("login redirect")
    from memrl import maintenance

    _disk, report = maintenance.sync_index(memory)
    assert report.fresh and report.health.rows == len(STORE)
    assert titles(memory.search("login redirect vulnerability"))[:2]


def test_index_built_by_another_model_is_detected(stocked, data_dir, tmp_path):
    from memrl.config import Settings
    from memrl.memory import Memory
    from tests.test_embeddings import pinned_graph

    other = Settings()
    other.embedding.model_path = str(pinned_graph(tmp_path))  # a model that loads: another one
    m2 = Memory(data_dir, settings=other)
    with pytest.raises(IndexUnavailable, match="--rebuild"):
        m2.search("login redirect")
    health = m2.index.health()
    assert health.model == "memrl/all-MiniLM-L6-v2-int8" and health.dim == 384


def test_an_exact_path_ranks_the_episodes_that_hold_it_above_look_alikes(memory):
    """Episodes about one module differ by the file they touched. Searched by a file's path,
    the ones that hold it come first, and well ahead of those that only share its words."""
    work = [
        ("Upgrade pagination cursor for unicode names", "src/pagination_cursor/core.py"),
        ("Upgrade pagination cursor under load", "src/pagination_cursor/api.py"),
        ("Simplify pagination cursor after a timeout", "src/pagination_cursor/core.py"),
        ("Harden pagination cursor after the 2.0 upgrade", "src/pagination_cursor/core.py"),
        ("Document pagination cursor on Windows paths", "src/pagination_cursor/io.py"),
        ("Cache pagination cursor with large files", "src/pagination_cursor/api.py"),
        ("Fix pagination cursor for unicode names", "src/pagination_cursor/io.py"),
        # other modules have an io.py too: "io" and "py" are common words here
        *((f"Fix {m} for unicode names", f"src/{m}/io.py") for m in ("rate_limiter", "csv_export")),
        *((f"Speed up {m} under load", f"src/{m}/io.py") for m in ("email_queue", "audit_log")),
    ]
    ids = {
        memory.capture(
            episode(task=task, summary=f"{task}: moved the work to a background job.", files=[f])
        ).episode.id: f
        for task, f in work
    }
    hits = memory.search("src/pagination_cursor/io.py", limit=5, log=False).hits
    assert [ids[h.id] for h in hits[:2]] == ["src/pagination_cursor/io.py"] * 2
    # Look-alikes keep at most half of the keyword match their shared words earned.
    assert hits[0].keyword == 1.0 and all(h.keyword <= 0.5 for h in hits[2:])
    # Plain words are matched as before: no identifier, no change.
    plain = memory.search("pagination cursor unicode", limit=3, log=False).hits
    assert max(h.keyword for h in plain) == 1.0


def test_an_episode_holding_a_searched_name_is_a_close_match_and_can_be_rated(memory):
    """A bare path reads like no episode at all (similarity ~0.15), but the one episode that
    holds it is what was asked for: not weak, counted as used, and rated by `last`."""
    held = memory.capture(
        episode(
            task="Slow admin changelist pages",
            summary="Added list_select_related and an index on created; the admin order "
            "list loads in 200 ms instead of 9 s.",
            files=["shop/admin.py", "shop/settings/base.py"],
        )
    ).episode.id
    memory.capture(episode(task="Speed up the CI", summary="Cached pip downloads in CI."))
    (hit, *_) = memory.search("shop/settings/base.py", limit=3).hits
    assert hit.id == held and hit.keyword == 1.0 and not hit.weak
    assert hit.relevance < 0.5  # on relevance alone it would have been a faint match
    rated = memory.learning.feedback(["last"], helpful=True)
    assert [change.id for change in rated] == [held]
    assert memory.get(held).learned.retrievals == 1


def test_the_episode_holding_a_searched_path_comes_before_one_that_reads_closer(memory):
    """The README's tour: the redirect fix touched redirect_guard.py; the hardening reads
    closer to the query's words (similarity 59 % against 40 %) but touched another file."""
    held = memory.capture(
        episode(
            task="Fix open redirect after login",
            summary="Validated return URLs against an allow-list",
            what_worked=["allow-list of hosts"],
            errors_resolved=[
                {
                    "error": "open redirect via ?next=",
                    "resolution": "validate next against allow-list",
                }
            ],
            files=["src/auth/redirect_guard.py"],
            tags=["security"],
        )
    ).episode.id
    closer = memory.capture(
        episode(
            task="Harden auth redirect",
            summary="Added URL sanitisation to the auth redirect",
            files=["src/auth/views.py"],
        )
    ).episode.id
    memory.capture(episode(task="Speed up docker builds", summary="Cached pip downloads"))
    result = memory.search("redirect_guard.py", limit=2, log=False)
    first, second = result.hits
    assert (first.id, second.id) == (held, closer)
    assert second.similarity > first.similarity and second.score > first.score
    assert result.explain(first).endswith("it holds the query's names whole, so it ranks ahead")
    assert "ranks ahead" not in result.explain(second)


def test_a_system_error_name_finds_the_episode_that_holds_it_as_a_close_match(memory):
    """ECONNREFUSED alone reads like little (similarity ~0.2), yet it is an exact code."""
    held = memory.capture(
        episode(
            task="Make the worker reconnect to the cache",
            summary="The worker crashed at boot; it now retries with backoff until Redis "
            "answers. Error seen: ECONNREFUSED 127.0.0.1:6379",
        )
    ).episode.id
    memory.capture(episode(task="Fix webhook timeouts", summary="Raised the client timeout"))
    (hit, *_) = memory.search("ECONNREFUSED", limit=2).hits
    assert hit.id == held and hit.exact and not hit.weak


def test_an_error_code_finds_the_episode_that_holds_it_as_a_close_match(memory):
    held = memory.capture(
        episode(
            task="Fix rust borrow error",
            summary="rustc error E0308 mismatched types in the parser; converted the slice",
            errors_resolved=[{"error": "E0308", "resolution": "convert the slice to a Vec"}],
        )
    ).episode.id
    memory.capture(episode(task="Speed up docker builds", summary="Cached pip downloads"))
    (hit, *_) = memory.search("E0308", limit=2).hits
    assert hit.id == held and hit.exact and not hit.weak
    assert [ch.id for ch in memory.learning.feedback(["last"], helpful=True)] == [held]


def test_a_name_no_episode_holds_gives_no_full_keyword_match(memory):
    """Look-alikes share the name's words, not the name: none of them matches fully."""
    for module in ("kafka consumer", "session store", "http client"):
        memory.capture(
            episode(task=f"Tune the {module} timeout", summary=f"Raised the {module} timeout.")
        )
    hits = memory.search("session.timeout.ms", limit=3, log=False).hits
    assert hits and all(h.keyword <= 0.5 for h in hits)


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ("src/pagination_cursor/io.py", ["src/pagination_cursor/io.py"]),
        ("ERR_OSSL_EVP_UNSUPPORTED during webpack build", ["err_ossl_evp_unsupported"]),
        ("TypeError: NoneType has no attribute", ["typeerror", "nonetype"]),
        ("getUserById fails on orders.user_id", ["getuserbyid", "orders.user_id"]),
        ("rustc E0308 and database error 1049", ["e0308", "1049"]),
        ("worker gets ECONNREFUSED, then SIGKILL", ["econnrefused", "sigkill"]),
        ("JSON parse error in the HTTP client, see README", []),  # vocabulary, not codes
        ("login redirect vulnerability", []),
        ("fix the flaky-test in CI", []),  # a hyphenated word is a plain phrase
    ],
)
def test_identifiers_are_the_words_that_name_something_exactly(query, names):
    from memrl.retrieval import identifiers

    assert identifiers(query) == names


@pytest.mark.parametrize(
    ("text", "name", "held"),
    [
        ("crash in get_user_by_email_v2", "get_user_by_email", False),
        ("get_user_by_email_v2 returned none", "email_v2", False),
        ("retries in handler_55", "handler_5", False),
        ("copied legacy/app/db/session.py.bak", "app/db/session.py", False),
        ("traceback at src/app/db/session.py:42", "app/db/session.py", True),
        ("error[e0308]: mismatched types", "e0308", True),
        ("joined on orders.user_id.", "orders.user_id", True),
    ],
)
def test_an_identifier_is_held_whole_only_where_it_is_not_part_of_a_longer_name(text, name, held):
    from memrl.retrieval import holds

    assert holds(text, name) is held


def test_a_longer_name_that_contains_the_searched_one_is_not_an_exact_match(memory):
    memory.capture(
        episode(
            task="Crash in get_user_by_email_v2",
            summary="get_user_by_email_v2 returned None for mixed-case addresses",
        )
    )
    (hit,) = memory.search("get_user_by_email", limit=1, log=False).hits
    assert not hit.exact and hit.keyword <= 0.5
