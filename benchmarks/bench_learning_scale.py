"""Learning at scale: feedback with auto-propagation at 10k, a full propagate at 100k.

Run:  .venv/bin/python -m benchmarks.bench_learning_scale [--sizes 10000,100000]

Works on copies of bench_core's cached synthetic stores (built first if missing). Each store
gets ratings on a share of its episodes through the real feedback path (which spreads value
to neighbours at once), then a full `propagate` is timed twice: the second run must change
nothing. Results print and go to benchmarks/results/learning_scale.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import time

from benchmarks import machine
from benchmarks.bench_core import CACHE, RESULTS, build, pct

BUDGETS = {"feedback_p50_ms@10000": 20, "propagate_s@100000": 20}


def run(n: int, rated_share: float, seed: int = 7) -> dict:
    from memrl.memory import Memory

    source, _ = build(n)
    work = CACHE / f"learning-{n}"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(source, work)
    try:
        memory = Memory(work)
        memory.embedder.embed(["warm"])
        ids = [r.id for r in memory.list(limit=n)]
        rng = random.Random(seed)
        rated = rng.sample(ids, max(1, int(n * rated_share)))
        timings = []
        for k, episode_id in enumerate(rated):
            started = time.perf_counter()
            memory.learning.feedback([episode_id], helpful=rng.random() < 0.7)
            timings.append((time.perf_counter() - started) * 1000)
            if k % 500 == 499:
                print(f"  {n}: {k + 1}/{len(rated)} rated", flush=True)
        first = memory.learning.propagate()
        second = memory.learning.propagate()
        return {
            "rated": len(rated),
            "feedback_p50_ms": statistics.median(timings),
            "feedback_p99_ms": pct(timings, 0.99),
            "propagate_s": first.seconds,
            "propagate_sources": first.sources,
            "propagate_edges": first.edges,
            "propagate_changes": len(first.changes),
            "propagate_again_s": second.seconds,
            "propagate_again_changes": len(second.changes),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--rated", type=float, default=0.02, help="share of episodes rated")
    args = parser.parse_args()
    CACHE.mkdir(exist_ok=True)
    os.environ["MEMRL_MODELS_DIR"] = str(CACHE / "models")
    out: dict = {"machine": machine(), "rated_share": args.rated, "sizes": {}}
    for n in (int(s) for s in args.sizes.split(",")):
        row = run(n, args.rated)
        out["sizes"][n] = row
        print(
            f"{n:>7}: feedback p50 {row['feedback_p50_ms']:.1f} ms "
            f"(p99 {row['feedback_p99_ms']:.1f}) over {row['rated']} ratings; "
            f"propagate {row['propagate_s']:.2f} s ({row['propagate_sources']} sources, "
            f"{row['propagate_edges']} edges, {row['propagate_changes']} changes), "
            f"again {row['propagate_again_s']:.2f} s with "
            f"{row['propagate_again_changes']} changes",
            flush=True,
        )
    out["budgets"] = BUDGETS
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "learning_scale.json").write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
