"""Core performance: import, search, capture, CLI start-up, memory.

Run:  .venv/bin/python -m benchmarks.bench_core [--sizes 1000,10000,100000]

Stores are built by `memrl import` of synthetic episodes (benchmarks/synthetic.py) with the
bundled model, and cached under benchmarks/.cache so later runs skip the (embedding-bound)
build. Results print as a table and go to benchmarks/results/core.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks import machine

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"
RESULTS = HERE / "results"
VENV_BIN = Path(sys.executable).parent
BUDGETS = {
    "search_p50_ms@10000": 15,
    "search_p50_ms@100000": 50,
    "capture_p50_ms@10000": 30,
    "help_s": 0.3,
    "import_per_s": 300,
}


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def build(n: int, fresh: bool = False) -> tuple[Path, float | None]:
    """A store of n episodes; returns its folder and the import rate if it was built now."""
    from benchmarks import synthetic
    from memrl.memory import Memory

    root = CACHE / f"store-{n}"
    if (root / "done").exists() and not fresh:
        return root, None
    shutil.rmtree(root, ignore_errors=True)
    memory = Memory(root)
    memory.embedder.embed(["warm"])
    started = time.perf_counter()
    result = memory.import_(synthetic.jsonl(n))
    seconds = time.perf_counter() - started
    assert result.imported == n, result.errors[:3]
    (root / "done").write_text(json.dumps({"import_seconds": seconds}))
    return root, n / seconds


def embed_floor(n: int) -> float:
    """Pure embedding throughput on the same texts: the import's lower bound."""
    from benchmarks import synthetic
    from memrl.episode import parse
    from memrl.memory import Memory

    memory = Memory(CACHE / "scratch")
    texts = [parse(e).embedding_text() for e in synthetic.episodes(n, seed=99)]
    memory.embedder.embed(texts[:32])
    started = time.perf_counter()
    memory.embedder.embed(texts)
    return n / (time.perf_counter() - started)


def search_latency(root: Path, rounds: int = 200) -> dict:
    from benchmarks import synthetic
    from memrl.memory import Memory

    memory = Memory(root)
    queries = synthetic.queries(rounds)
    memory.search(queries[0])
    timings, floor = [], []
    table = memory.index.table()
    for q in queries:
        started = time.perf_counter()
        memory.search(q, limit=5)
        timings.append((time.perf_counter() - started) * 1000)
    for q in queries:
        started = time.perf_counter()
        vec = memory.embedder.embed_query(q)
        table.search(vec).distance_type("cosine").limit(5).select(["id"]).to_arrow()
        floor.append((time.perf_counter() - started) * 1000)
    hybrid = hybrid_floor(memory, queries)
    plain, explain = [], []
    for q in queries[:100]:
        started = time.perf_counter()
        memory.search(q, limit=5, log=False)
        plain.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        result = memory.search(q, limit=5, log=False)
        retrieval = memory.settings.retrieval
        for h in result.hits:
            h.explain(
                result.utility_weight,
                keyword_weight=retrieval.keyword_weight,
                min_similarity=retrieval.min_similarity,
            )
        explain.append((time.perf_counter() - started) * 1000)
    return {
        "p50": statistics.median(timings),
        "p99": pct(timings, 0.99),
        "floor_p50": statistics.median(floor),
        "ratio": statistics.median(timings) / statistics.median(floor),
        # A hybrid search needs two LanceDB queries; this floor runs both, raw, side by side.
        "hybrid_floor_p50": statistics.median(hybrid),
        "hybrid_ratio": statistics.median(timings) / statistics.median(hybrid),
        "explain_extra_ms": statistics.median(explain) - statistics.median(plain),
    }


def hybrid_floor(memory, queries: list[str]) -> list[float]:
    """Query embedding + raw LanceDB vector and full-text queries for memrl's candidate count,
    run side by side on LanceDB's async API: what a hybrid search costs before memrl's work."""
    import asyncio

    import lancedb
    from lancedb.query import MatchQuery

    from memrl.index import QUANTISED, REFINE, TABLE

    k = memory.settings.retrieval.candidates
    loop = asyncio.new_event_loop()

    async def open_table():
        db = await lancedb.connect_async(memory.index.folder)
        return await db.open_table(TABLE)

    table = loop.run_until_complete(open_table())
    # memrl needs exact similarities: on an 8-bit index, so does the floor
    kinds = {i.index_type for i in loop.run_until_complete(table.list_indices())}

    async def both(vec, q):
        vq = table.query().nearest_to(vec).distance_type("cosine").limit(k).select(["id"])
        if QUANTISED in kinds:
            vq = vq.refine_factor(REFINE)
        tq = table.query().nearest_to_text(MatchQuery(q, "text")).limit(k)
        return await asyncio.gather(vq.to_arrow(), tq.select(["id", "vector", "_score"]).to_arrow())

    timings = []
    for q in queries:
        started = time.perf_counter()
        vec = memory.embedder.embed_query(q)
        loop.run_until_complete(both(vec, q))
        timings.append((time.perf_counter() - started) * 1000)
    loop.close()
    return timings


def capture_latency(root: Path, rounds: int = 100) -> dict:
    from benchmarks import synthetic
    from memrl.memory import Memory

    work = CACHE / "capture-work"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(root, work)
    memory = Memory(work)
    memory.embedder.embed(["warm"])
    timings = []
    for ep in synthetic.episodes(rounds, seed=1234):
        ep.pop("id")
        started = time.perf_counter()
        memory.capture(ep)
        timings.append((time.perf_counter() - started) * 1000)
    after = search_between_compactions(memory)
    shutil.rmtree(work, ignore_errors=True)
    return {"p50": statistics.median(timings), "p99": pct(timings, 0.99), **after}


def search_between_compactions(memory, rounds: int = 100) -> dict:
    """Search p50 on a table where appended rows wait for the next compaction, as they
    usually do in use: LanceDB searches them apart from its indices, at a fixed cost."""
    from benchmarks import synthetic

    stats = memory.index.table().index_stats("text_idx")
    waiting = stats.num_unindexed_rows if stats is not None else 0
    queries = synthetic.queries(rounds, seed=23)
    memory.search(queries[0])
    timings = []
    for q in queries:
        started = time.perf_counter()
        memory.search(q, limit=5)
        timings.append((time.perf_counter() - started) * 1000)
    return {"search_waiting_rows": waiting, "search_p50_with_waiting": statistics.median(timings)}


def wall(cmd: list[str], env: dict, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(cmd, env=env, capture_output=True, check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument(
        "--rebuild", action="store_true", help="import every store again, 100k included"
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    CACHE.mkdir(exist_ok=True)
    os.environ["MEMRL_MODELS_DIR"] = str(CACHE / "models")
    out: dict = {"machine": machine(), "sizes": {}}

    memrl = str(VENV_BIN / "memrl")
    env = {**os.environ}
    out["help_s"] = wall([memrl, "--help"], env, 10)
    out["embed_floor_per_s"] = embed_floor(2000)

    for n in sizes:
        # Imports of up to 10k are timed on every run; the 100k store is kept between runs.
        root, rate = build(n, fresh=n <= 10_000 or args.rebuild)
        row: dict = {"import_measured_now": rate is not None}
        if rate is None:
            meta = json.loads((root / "done").read_text())
            rate = n / meta["import_seconds"]
        row["import_per_s"] = rate
        row["search"] = search_latency(root)
        if n <= 10_000:
            row["capture"] = capture_latency(root)
        env_n = {**env, "MEMRL_DATA_DIR": str(root)}
        row["cold_search_s"] = wall(
            [memrl, "search", "payment webhook retries", "--no-log"], env_n, 3
        )
        out["sizes"][n] = row
        cached = "" if row["import_measured_now"] else " (cached)"
        print(
            f"{n:>7}: import {rate:.0f}/s{cached}, search p50 {row['search']['p50']:.1f} ms "
            f"(p99 {row['search']['p99']:.1f}, floor {row['search']['floor_p50']:.1f}, "
            f"×{row['search']['ratio']:.2f}; hybrid floor {row['search']['hybrid_floor_p50']:.1f}, "
            f"×{row['search']['hybrid_ratio']:.2f})"
            + (
                f", capture p50 {row['capture']['p50']:.1f} ms (then search p50 "
                f"{row['capture']['search_p50_with_waiting']:.1f} ms with "
                f"{row['capture']['search_waiting_rows']} rows awaiting compaction)"
                if "capture" in row
                else ""
            )
            + f", cold CLI search {row['cold_search_s']:.2f} s",
            flush=True,
        )

    out["peak_rss_mb"] = (
        max(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
        )
        / 1024
    )
    print(
        f"memrl --help: {out['help_s']:.3f} s; embedding alone: {out['embed_floor_per_s']:.0f}/s; "
        f"peak RSS {out['peak_rss_mb']:.0f} MB"
    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "core.json").write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
