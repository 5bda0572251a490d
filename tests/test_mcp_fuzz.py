"""Over a thousand generated calls, well-formed and not, against one server and one store.

Whatever arrives, the server answers every call (a result or a tool error, never a
crash), successful results match their tool's output schema, a rejected call commits
nothing to the ledger, the episode count moves only with successful captures and merges,
and afterwards a plain search still finds what it should.
The deterministic HashEmbedder keeps the run fast; LanceDB and the ledger are real.
"""

from __future__ import annotations

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client

from memrl.mcp import models
from memrl.mcp.server import build_server

pytestmark = pytest.mark.slow

BATCH = 30
EXAMPLES = 36  # 36 × 30 = 1,080 calls
SEEDS = [f"{n:x}{n:x}" + "0" * 30 for n in range(10, 15)]  # a0a0…, b0b0…, …
CANARY = "e" * 32
OUTPUT = {
    "memrl_retrieve": models.RetrieveResult,
    "memrl_capture": models.CaptureResult,
    "memrl_feedback": models.FeedbackResult,
    "memrl_status": models.StatusResult,
    "memrl_stats": models.StatsResult,
    "memrl_propagate": models.PropagateResult,
    "memrl_review": models.ReviewResult,
}

# Any Unicode, lone surrogates and control characters included (but not in keys, which the
# SDK's client cannot encode).
weird = st.text(st.characters(exclude_categories=()), max_size=40)
keys = st.text(max_size=8)
scalar = st.none() | st.booleans() | st.integers() | st.floats() | weird
wild = st.recursive(
    scalar,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=3),
    max_leaves=8,
)
refs = st.lists(
    st.sampled_from([s[:8] for s in SEEDS] + [s[:4] for s in SEEDS] + ["last", "zz", "0000"])
    | weird,
    max_size=4,
)
texts = st.sampled_from(["Fixed the login redirect", "cache warm-up", "", "   "]) | weird
items = st.lists(texts, max_size=4)
PLAUSIBLE = {
    "query": texts | st.sampled_from([s[:8] for s in SEEDS]) | st.just("q" * 2_001),
    "all": st.booleans(),
    "limit": st.integers(-3, 60),
    "page": st.integers(-1, 4),
    "project": st.none() | st.sampled_from(["acme/app", "acme/api", "*", ""]) | weird,
    "summary": texts | st.just("s" * 20_001),
    "outcome": st.sampled_from(["success", "partial", "failure", "unknown", "great"]),
    "task": st.none() | texts,
    "task_type": st.none() | st.sampled_from(["bugfix", "docs", "chore"]),
    "what_worked": items,
    "what_failed": items,
    "files_modified": items,
    "tags": items,
    "errors_resolved": st.lists(
        st.fixed_dictionaries({"error": texts, "resolution": texts}), max_size=2
    ),
    "episodes": refs,
    "helpful": st.booleans(),
    "temporal": st.booleans(),
    "action": st.sampled_from(["analyze", "merge", "cleanup", "explode"]),
    "dry_run": st.booleans(),
}
PARAMS = {
    "memrl_retrieve": ["query", "all", "limit", "project", "page"],
    "memrl_capture": [
        "summary",
        "outcome",
        "task",
        "task_type",
        "project",
        "what_worked",
        "what_failed",
        "files_modified",
        "tags",
        "errors_resolved",
    ],
    "memrl_feedback": ["episodes", "helpful"],
    "memrl_status": ["project"],
    "memrl_stats": ["project"],
    "memrl_propagate": ["temporal", "project"],
    "memrl_review": ["action", "episodes", "summary", "project", "dry_run"],
}


VALID = {
    "query": st.sampled_from(["login redirect", "cache warm-up", "route 3"]),
    "all": st.booleans(),
    "limit": st.integers(1, 50),
    "page": st.integers(1, 3),
    "project": st.none() | st.sampled_from(["acme/app", "acme/api"]),
    "summary": st.sampled_from(["Fixed the login redirect", "Warmed the cache before deploys"]),
    "outcome": st.sampled_from(["success", "partial", "failure", "unknown"]),
    "task": st.none() | st.text(min_size=1, max_size=30),
    "task_type": st.none() | st.sampled_from(["bugfix", "docs"]),
    "what_worked": st.lists(st.text(max_size=30), max_size=3),
    "what_failed": st.lists(st.text(max_size=30), max_size=3),
    "files_modified": st.lists(st.sampled_from(["src/a.py", "ü/ñ.md"]), max_size=2),
    "tags": st.lists(st.sampled_from(["cache", "auth", "ünï"]), max_size=2),
    "errors_resolved": st.lists(
        st.fixed_dictionaries({"error": st.just("E1 boom"), "resolution": st.text(max_size=20)}),
        max_size=2,
    ),
    "episodes": st.lists(
        st.sampled_from([s[:8] for s in SEEDS] + ["last"]), min_size=1, max_size=3
    ),
    "helpful": st.booleans(),
    "temporal": st.booleans(),
    "action": st.sampled_from(["analyze", "merge", "cleanup"]),
    "dry_run": st.booleans(),
}
REQUIRED = {
    "memrl_retrieve": {"query"},
    "memrl_capture": {"summary"},
    "memrl_feedback": {"episodes", "helpful"},
}
tool_names = st.integers(0, 14).flatmap(
    lambda k: st.text(max_size=20) if k == 0 else st.sampled_from(list(PARAMS))
)


@st.composite
def calls(draw):
    """A third well-formed calls, the rest with any parameter wrong, missing or extra."""
    tool = draw(tool_names)
    args = {}
    if tool in PARAMS and draw(st.integers(0, 2)) == 0:
        for name in PARAMS[tool]:
            if name in REQUIRED.get(tool, ()) or draw(st.booleans()):
                args[name] = draw(VALID[name])
        return tool, args
    for name in PARAMS.get(tool, []):
        if draw(st.booleans()):
            args[name] = draw(PLAUSIBLE[name] | wild if draw(st.booleans()) else PLAUSIBLE[name])
    if draw(st.integers(0, 9)) == 0:
        args[draw(keys)] = draw(wild)
    return tool, args


def live(memory) -> int:
    return memory.count()


@pytest.fixture
def store(fast_memory):
    for n, seed in enumerate(SEEDS):
        fast_memory.capture({"id": seed, "summary": f"Seed {n}: cache warm-up for route {n}"})
    fast_memory.capture(
        {"id": CANARY, "summary": "The canary lighthouse keeper", "project": "canary/zone"}
    )
    return fast_memory


@pytest.fixture
def server(store):
    """One long-lived server, as in a Claude Code session; each batch is a new connection."""
    return build_server(store, session_id="fuzz", project="acme/app")


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batch=st.lists(calls(), min_size=BATCH, max_size=BATCH))
def test_generated_calls_never_break_the_server(store, server, batch):
    before = live(store)

    async def main() -> int:
        expected = before
        async with Client(server) as client:
            for tool, args in batch:
                version = store.version()  # moves when another connection commits
                res = await client.call_tool(tool, args)
                text = res.content[0].text if res.content else ""
                assert text, f"{tool} answered without text"
                if res.is_error:
                    assert res.structured_content is None
                    assert store.version() == version, f"rejected {tool}({args}) wrote: {text}"
                    continue
                data = OUTPUT[tool].model_validate(res.structured_content)
                if isinstance(data, models.CaptureResult):  # one sent twice is stored once
                    expected += not data.already_captured
                elif isinstance(data, models.ReviewResult) and not data.dry_run:
                    expected += (1 if data.action == "merge" else 0) - len(data.archived)
            canary = await client.call_tool(
                "memrl_retrieve", {"query": "canary lighthouse keeper", "project": "canary/zone"}
            )
        assert not canary.is_error, canary.content[0].text
        assert canary.structured_content["results"][0]["id"] == CANARY
        return expected

    expected = anyio.run(main)
    assert live(store) == expected
