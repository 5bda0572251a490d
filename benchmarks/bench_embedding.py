"""The bundled model as memrl runs it (compacted) against the graph its package ships (pinned).

Run:  .venv/bin/python -m benchmarks.bench_embedding

Both go through the same path as memrl (memrl.embeddings.local: one text per run,
spread over the cores). Reported for each graph:

- speed: texts per second over 1,000 synthetic episodes, and one query's p50 in ms;
- agreement with the pinned graph: cosine between the two vectors of each of 500 synthetic
  episodes, 200 queries and 20 short queries (mean, and the least);
- search: each of the 120 questions of benchmarks.learning_workload ranks its 216 episodes
  among 2,000 synthetic ones by similarity alone; precision at 1 and 5 of an episode of the
  question's own task, and precision at 1 of an episode that truly solves it (the look-alikes
  that restate the symptom are what similarity alone cannot tell apart).

Results: benchmarks/results/embedding.json.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"
RESULTS = HERE / "results"
SHORT = [
    "x",
    "redis",
    "fix login",
    "flaky test",
    "CORS error",
    "webhook retry",
    "numpy upgrade",
    "TypeError",
    "docker build slow",
    "oauth callback 500",
    "pagination bug",
    "memory leak",
    "KeyError: 'id'",
    "pytest fixture",
    "rate limit",
    "why is CI red",
    "s3 upload fails",
    "dark mode",
    "i18n",
    "migrate postgres",
]


def embedders() -> dict:
    from memrl.config import EmbeddingSettings
    from memrl.embeddings import LazyEmbedder, bundled, spec

    models = CACHE / "models"
    pinned = CACHE / "pinned-graph"
    pinned.mkdir(parents=True, exist_ok=True)
    for name in ("model.onnx", "tokenizer.json"):
        shutil.copyfile(bundled.pinned(name), pinned / name)
    compacted = LazyEmbedder(spec(EmbeddingSettings()), models)
    compacted.load()
    about = bundled.manifest(models / bundled.FOLDER)
    return {
        "pinned": LazyEmbedder(spec(EmbeddingSettings(model_path=str(pinned))), models),
        "compacted" if about.get("compacted") else "as shipped (not compacted here)": compacted,
    }


def speed(embedder, texts: list[str], queries: list[str]) -> dict:
    embedder.embed(texts[:32])
    started = time.perf_counter()
    embedder.embed(texts)
    rate = len(texts) / (time.perf_counter() - started)
    times = []
    for q in queries:
        started = time.perf_counter()
        embedder.embed_query(q)
        times.append(time.perf_counter() - started)
    return {"texts_per_s": round(rate, 1), "query_p50_ms": round(statistics.median(times) * 1e3, 2)}


def labelled() -> tuple[list[str], np.ndarray, np.ndarray, list[str], np.ndarray]:
    from benchmarks import synthetic
    from benchmarks.learning_workload import FAMILIES, episodes
    from memrl.episode import parse

    docs, family, solver, questions, asked = [], [], [], [], []
    for n, fam in enumerate(FAMILIES):
        for role, data in episodes(fam):
            docs.append(parse(data).embedding_text())
            family.append(n)
            solver.append(role == "solver")
        questions += fam.queries
        asked += [n] * len(fam.queries)
    others = [parse(e).embedding_text() for e in synthetic.episodes(2000, seed=3)]
    docs += others
    family += [-1] * len(others)
    solver += [False] * len(others)
    return docs, np.array(family), np.array(solver), questions, np.array(asked)


def search(embedder, docs, family, solver, questions, asked) -> dict:
    order = np.argsort(-(embedder.embed(questions) @ embedder.embed(docs).T), axis=1)
    same = family[order] == asked[:, None]
    solves = same & solver[order]
    return {
        "task_p1": round(float(same[:, 0].mean()), 4),
        "task_p5": round(float(same[:, :5].mean()), 4),
        "solver_p1": round(float(solves[:, 0].mean()), 4),
    }


def main() -> None:
    from benchmarks import synthetic
    from memrl.episode import parse

    os.environ["MEMRL_MODELS_DIR"] = str(CACHE / "models")
    texts = [parse(e).embedding_text() for e in synthetic.episodes(1000, seed=21)]
    queries = synthetic.queries(200)
    probe = texts[:500] + queries + SHORT
    data = labelled()
    out: dict = {"texts": {"episodes": 500, "queries": len(queries), "short": len(SHORT)}}
    vectors = {}
    for name, embedder in embedders().items():
        row = speed(embedder, texts, queries)
        vectors[name] = embedder.embed(probe)
        row["search"] = search(embedder, *data)
        out[name] = row
    reference = vectors.pop("pinned")
    for name, v in vectors.items():
        cos = (v * reference).sum(axis=1)
        short = cos[-len(SHORT) :]
        out[name]["agreement"] = {
            "mean": round(float(cos.mean()), 5),
            "least": round(float(cos.min()), 5),
            "short_mean": round(float(short.mean()), 5),
            "least_text": probe[int(cos.argmin())],
        }
    for name in ("pinned", *vectors):
        row = out[name]
        s = row["search"]
        line = (
            f"{name:>10}: {row['texts_per_s']:.0f} texts/s, query {row['query_p50_ms']:.2f} ms; "
            f"task p@1 {s['task_p1']:.3f} p@5 {s['task_p5']:.3f}, solver p@1 {s['solver_p1']:.3f}"
        )
        if "agreement" in row:
            a = row["agreement"]
            line += f"; cosine to pinned {a['mean']:.4f} (least {a['least']:.4f})"
        print(line)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "embedding.json").write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
