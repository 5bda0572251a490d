"""Proof that memrl learns: precision of its ranking against similarity-only ranking.

Run:  .venv/bin/python -m benchmarks.bench_learning [--rounds 300] [--seed 1]

24 task families (benchmarks/learning_workload.py), each with 3 episodes that truly solve
it and 6 look-alikes that mislead. Each round a simulated developer asks a paraphrased
question from one of 18 trained families, memrl retrieves 5 episodes, and the developer
rates each (helpful if it truly solves the family's problem), with 10 % of ratings flipped
at random. 6 families never receive feedback. Every 25 rounds precision@1 and @5 are
measured over all queries, for memrl's ranking and for similarity-only ranking
(utility weight 0) on the same store. A simulated clock advances an hour per round, so
decay is in play. Results: benchmarks/results/learning.json and learning_curve.txt.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.learning_workload import FAMILIES, HELD_OUT, TRAINED, episodes

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
HOUR = 3600.0


class Clock:
    def __init__(self) -> None:
        self.t = 1_790_000_000.0

    def __call__(self) -> float:
        return self.t


def build(memory) -> dict[str, tuple[str, str]]:
    """Store every family's episodes; map episode id → (family, role)."""
    roles: dict[str, tuple[str, str]] = {}
    lines = []
    for family in FAMILIES:
        for role, data in episodes(family):
            from memrl.episode import new_id

            data = {**data, "id": new_id()}
            roles[data["id"]] = (family.name, role)
            lines.append(json.dumps(data))
    result = memory.import_(lines)
    assert result.imported == len(lines), result.errors[:3]
    return roles


def precision(memory, roles, families, weight: float | None) -> tuple[float, float]:
    p1, p5 = [], []
    for family in families:
        for query in family.queries:
            hits = memory.search(query, limit=5, log=False, utility_weight=weight).hits
            good = [roles.get(h.id) == (family.name, "solver") for h in hits]
            p1.append(float(good[0]) if good else 0.0)
            p5.append(sum(good) / 5)
    return statistics.mean(p1), statistics.mean(p5)


def evaluate(memory, roles) -> dict:
    out = {}
    for label, fams in (("trained", TRAINED), ("held_out", HELD_OUT)):
        m1, m5 = precision(memory, roles, fams, None)
        b1, b5 = precision(memory, roles, fams, 0.0)
        out[label] = {"memrl_p1": m1, "memrl_p5": m5, "baseline_p1": b1, "baseline_p5": b5}
    return out


def run(rounds: int, seed: int, settings=None) -> dict:
    from memrl.memory import Memory

    rnd = random.Random(seed)
    clock = Clock()
    with tempfile.TemporaryDirectory() as tmp:
        memory = Memory(Path(tmp), clock=clock, settings=settings)
        roles = build(memory)
        curve = [{"round": 0, **evaluate(memory, roles)}]
        feedback_ms = []
        started = time.perf_counter()
        for n in range(1, rounds + 1):
            family = rnd.choice(TRAINED)
            query = rnd.choice(family.queries)
            hits = memory.search(query, limit=5, session_id=f"round-{n}").hits
            verdicts: dict[bool, list[str]] = {True: [], False: []}
            for h in hits:
                truly = roles.get(h.id) == (family.name, "solver")
                if rnd.random() < 0.10:
                    truly = not truly
                verdicts[truly].append(h.id)
            for helpful, ids in verdicts.items():
                if ids:
                    t0 = time.perf_counter()
                    memory.learning.feedback(ids, helpful)
                    feedback_ms.append((time.perf_counter() - t0) * 1000)
            clock.t += HOUR
            if n % 25 == 0:
                curve.append({"round": n, **evaluate(memory, roles)})
                last = curve[-1]["trained"]
                print(
                    f"round {n:>3}: trained p@5 {last['memrl_p5']:.3f} vs {last['baseline_p5']:.3f}, "
                    f"p@1 {last['memrl_p1']:.3f} vs {last['baseline_p1']:.3f}; held-out p@5 "
                    f"{curve[-1]['held_out']['memrl_p5']:.3f} vs {curve[-1]['held_out']['baseline_p5']:.3f}",
                    flush=True,
                )
        seconds = time.perf_counter() - started
        first = memory.learning.propagate()
        second = memory.learning.propagate()
        memory.close()
    final = curve[-1]
    return {
        "rounds": rounds,
        "seed": seed,
        "families": {"trained": len(TRAINED), "held_out": len(HELD_OUT)},
        "curve": curve,
        "final": final,
        "ratio_p5_trained": final["trained"]["memrl_p5"]
        / max(final["trained"]["baseline_p5"], 1e-9),
        "held_out_p5_delta_points": 100
        * (final["held_out"]["memrl_p5"] - final["held_out"]["baseline_p5"]),
        "propagate_changes_first": len(first.changes),
        "propagate_changes_second": len(second.changes),
        "feedback_p50_ms": statistics.median(feedback_ms),
        "simulation_seconds": seconds,
    }


def plot(result: dict) -> str:
    import plotext as plt

    plt.clear_figure()
    plt.theme("clear")
    xs = [c["round"] for c in result["curve"]]
    plt.plot(xs, [c["trained"]["memrl_p5"] for c in result["curve"]], label="memrl p@5 (trained)")
    plt.plot(
        xs,
        [c["trained"]["baseline_p5"] for c in result["curve"]],
        label="similarity only p@5 (trained)",
    )
    plt.plot(
        xs, [c["held_out"]["memrl_p5"] for c in result["curve"]], label="memrl p@5 (never rated)"
    )
    plt.plot(
        xs,
        [c["held_out"]["baseline_p5"] for c in result["curve"]],
        label="similarity only p@5 (never rated)",
    )
    plt.title("precision@5 by round")
    plt.xlabel("round")
    plt.plotsize(100, 25)
    return plt.uncolorize(plt.build())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    result = run(args.rounds, args.seed)
    chart = plot(result)
    print(chart)
    f = result["final"]
    print(
        f"after {args.rounds} rounds: trained p@5 {f['trained']['memrl_p5']:.3f} vs baseline "
        f"{f['trained']['baseline_p5']:.3f} (×{result['ratio_p5_trained']:.2f}); p@1 "
        f"{f['trained']['memrl_p1']:.3f} vs {f['trained']['baseline_p1']:.3f}; never-rated p@5 "
        f"{f['held_out']['memrl_p5']:.3f} vs {f['held_out']['baseline_p5']:.3f} "
        f"({result['held_out_p5_delta_points']:+.1f} pts); propagate twice: "
        f"{result['propagate_changes_first']} then {result['propagate_changes_second']} changes"
    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "learning.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / "learning_curve.txt").write_text(chart + "\n")


if __name__ == "__main__":
    main()
