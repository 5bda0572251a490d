"""TUI benchmark: first paint, keypress latency in the table, and typing while searching.

    .venv/bin/python -m benchmarks.bench_tui [--sizes 10000,100000] [--keys 300]

Stores are built once through the core's batched import (`Memory.import_`) with a fast,
deterministic hashing embedder — this measures the TUI, not embedding — and kept in
$TMPDIR/memrl-bench-tui-<size> for the next run. Figures are printed and written to
benchmarks/results/tui.json.

* first paint (in process): from constructing the app on an open store to the first
  table row drawn, the app's own startup included.
* first paint (terminal): `python -m memrl.tui` started in a pseudo-terminal until the
  newest episode's id appears on the screen: interpreter start and imports included.
* keypress: a cursor move in the table (down, page down, end) until the moved cursor is
  painted; also while a re-sort by utility runs on its thread worker.
* typing while searching: key latency while search-as-you-type runs the real bundled model
  and LanceDB in thread workers.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import pty
import re
import select
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from benchmarks import machine

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "tui.json"
NOW = datetime(2026, 11, 1, 10, 0, tzinfo=UTC).timestamp()
WORDS = [
    "fix",
    "flaky",
    "login",
    "test",
    "webhook",
    "stripe",
    "retry",
    "cache",
    "pip",
    "docker",
    "build",
    "deploy",
    "kubernetes",
    "pod",
    "memory",
    "leak",
    "postgres",
    "index",
    "migration",
    "alembic",
    "deadlock",
    "timeout",
    "redis",
    "queue",
    "celery",
    "airflow",
    "export",
    "pandas",
    "dtype",
    "rounding",
    "react",
    "render",
    "hook",
    "typescript",
    "eslint",
    "refactor",
    "module",
    "api",
    "auth",
    "token",
    "oauth",
    "redirect",
    "csp",
    "header",
    "nginx",
    "tls",
    "certificate",
    "terraform",
    "state",
    "drift",
    "helm",
]
PROJECTS = [f"acme/{p}" for p in ("storefront", "billing-api", "infra", "etl", "mobile", "docs")]


class HashEmbedder:
    """Bag-of-words hashing vectors: cheap and deterministic."""

    model_id = "memrl/all-MiniLM-L6-v2-int8"
    dim = 384

    def embed(self, texts):
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for n, text in enumerate(texts):
            for word in re.findall(r"[a-z0-9]+", text.lower()):
                out[n, int(hashlib.md5(word.encode()).hexdigest()[:8], 16) % self.dim] += 1.0
            norm = np.linalg.norm(out[n])
            out[n] = out[n] / norm if norm else out[n]
        return out

    def embed_query(self, text):
        return self.embed([text])[0]


def lines(n: int):
    rng = np.random.default_rng(7)
    outcomes = ["success", "success", "success", "partial", "failure", "unknown"]
    for i in range(n):
        words = rng.choice(WORDS, size=12)
        created = datetime.fromtimestamp(NOW - (n - i) * 600, UTC).isoformat()
        yield json.dumps(
            {
                "task": " ".join(words[:6]).capitalize(),
                "summary": " ".join(words).capitalize() + ".",
                "project": PROJECTS[i % len(PROJECTS)],
                "outcome": outcomes[i % len(outcomes)],
                "tags": list(words[:2]),
                "created_at": created,
            }
        )


def store(n: int) -> Path:
    from memrl.memory import Memory

    root = Path(tempfile.gettempdir()) / f"memrl-bench-tui-{n}"
    if root.exists():
        m = Memory(root, embedder=HashEmbedder(), clock=lambda: NOW)
        if m.count() == n:
            m.close()
            return root
        m.close()
        import shutil

        shutil.rmtree(root)
    started = time.perf_counter()
    m = Memory(root, embedder=HashEmbedder(), clock=lambda: NOW)
    result = m.import_(lines(n))
    assert result.imported == n, result.errors[:3]
    m.close()
    print(f"  built a {n:,}-episode store in {time.perf_counter() - started:.0f} s", flush=True)
    return root


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


# ---------------------------------------------------------------------------------------


async def first_paint_in_process(root: Path) -> float:
    from memrl.memory import Memory
    from memrl.tui.app import MemrlApp
    from memrl.tui.widgets.episode_table import EpisodeTable

    painted: dict[str, float] = {}
    original = EpisodeTable.render_line

    def render_line(self, y):
        strip = original(self, y)
        if y > 0 and "t" not in painted and self.entry(round(self.scroll_y)) is not None:
            painted["t"] = time.perf_counter()
        return strip

    EpisodeTable.render_line = render_line  # type: ignore[method-assign]
    try:
        started = time.perf_counter()
        app = MemrlApp(Memory(root, embedder=HashEmbedder(), clock=lambda: NOW), poll_interval=0)
        async with app.run_test(size=(120, 36)) as pilot:
            while "t" not in painted:
                await pilot.pause(0.001)
    finally:
        EpisodeTable.render_line = original  # type: ignore[method-assign]
    return painted["t"] - started


def first_paint_terminal(root: Path) -> float:
    """Seconds from process start until the newest episode's id is on the screen."""
    from memrl.memory import Memory

    m = Memory(root, embedder=HashEmbedder(), clock=lambda: NOW)
    newest = m.list(limit=1)[0].short_id
    m.close()
    master, slave = pty.openpty()
    import fcntl

    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 36, 120, 0, 0))
    env = {**os.environ, "MEMRL_DATA_DIR": str(root), "TERM": "xterm-256color"}
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "memrl.tui"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        cwd=ROOT,
        close_fds=True,
    )
    os.close(slave)
    seen = b""
    elapsed = float("nan")
    deadline = started + 30
    try:
        while time.perf_counter() < deadline:
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                try:
                    seen += os.read(master, 65536)
                except OSError:
                    break
                if newest.encode() in seen:
                    elapsed = time.perf_counter() - started
                    break
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
        os.close(master)
    return elapsed


def _send(app, key: str, char: str | None = None) -> float:
    """Hand a key to the app as the terminal driver would; returns the send time."""
    from textual import events

    event = events.Key(key, char)
    event.set_sender(app)
    t0 = time.perf_counter()
    app._driver.send_message(event)
    return t0


def sorting(app) -> bool:
    return any(w.group == "reload" and w.is_running for w in app.workers)


async def keypresses(root: Path, count: int) -> dict[str, float]:
    """Key sent → cursor moved and its line repainted, at two typing speeds."""
    from memrl.memory import Memory
    from memrl.tui.app import MemrlApp
    from memrl.tui.scenes import settle
    from memrl.tui.widgets.episode_table import EpisodeTable

    painted: dict[int, float] = {}
    original = EpisodeTable.render_line

    def render_line(self, y):
        strip = original(self, y)
        painted[round(self.scroll_y) + y - 1] = time.perf_counter()
        return strip

    EpisodeTable.render_line = render_line  # type: ignore[method-assign]
    app = MemrlApp(Memory(root, embedder=HashEmbedder(), clock=lambda: NOW), poll_interval=0)
    out: dict[str, list[float]] = {}
    try:
        async with app.run_test(size=(120, 36)) as pilot:
            await settle(pilot)
            table = app.screen.table
            plan = [
                ("down (held, 25 ms apart)", "down", count, 0.025),
                ("down (a person, 150 ms apart)", "down", max(40, count // 5), 0.15),
                ("pagedown", "pagedown", max(40, count // 5), 0.05),
                ("end", "end", 5, 0.2),
            ]
            for label, key, times, gap in plan:
                values = out.setdefault(label, [])
                for _ in range(times):
                    if key == "end" or table.cursor >= len(table) - 40:
                        table.cursor = 0
                        await pilot.pause(0.2)
                    before = table.cursor
                    t0 = _send(app, key)
                    while not (table.cursor != before and painted.get(table.cursor, 0) > t0):
                        await asyncio.sleep(0.0005)
                        if time.perf_counter() - t0 > 5:
                            break
                    values.append((time.perf_counter() - t0) * 1000)
                    await asyncio.sleep(gap)
            t0 = time.perf_counter()
            for _ in range(4):  # created → project → task → outcome → utility
                table.action_sort()
            await settle(pilot, 0.01)
            sort_ms = (time.perf_counter() - t0) * 1000 / 4
            while_sorting = out.setdefault("down while re-sorting by utility (25 ms apart)", [])
            for _ in range(5):
                table.cursor = 0
                await settle(pilot, 0.01)
                table.action_sort("utility")  # the same key again: the other direction
                while sorting(app):
                    before = table.cursor
                    t0 = _send(app, "down")
                    while not (table.cursor != before and painted.get(table.cursor, 0) > t0):
                        await asyncio.sleep(0.0005)
                        if time.perf_counter() - t0 > 5:
                            break
                    while_sorting.append((time.perf_counter() - t0) * 1000)
                    await asyncio.sleep(0.025)
    finally:
        EpisodeTable.render_line = original  # type: ignore[method-assign]
    result: dict[str, float] = {}
    for label, values in out.items():
        result[f"{label}: p50 ms"] = round(pct(values, 50), 2)
        result[f"{label}: p99 ms"] = round(pct(values, 99), 2)
    result["re-sort (incl. by decayed utility): mean ms"] = round(sort_ms, 1)
    return result


async def typing_while_searching(root: Path, query: str, gap: float) -> dict[str, float]:
    """Key sent → the search box shows it, while searches run on thread workers."""
    from textual.widgets import Input

    from memrl.memory import Memory
    from memrl.tui.app import MemrlApp
    from memrl.tui.scenes import settle
    from memrl.tui.screens.search import SearchScreen

    app = MemrlApp(Memory(root, clock=lambda: NOW), poll_interval=0)  # the real bundled model
    latencies: list[float] = []
    waits: list[float] = []
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("slash")
        await settle(pilot)  # the model is warm
        screen = app.screen
        assert isinstance(screen, SearchScreen)
        box = screen.query_one(Input)
        for _round in range(3):
            box.value = ""
            await settle(pilot)
            screen.result = None
            typed = ""
            for ch in query:
                typed += ch
                t0 = _send(app, "space" if ch == " " else ch, ch)
                while box.value != typed:
                    await asyncio.sleep(0.0005)
                latencies.append((time.perf_counter() - t0) * 1000)
                # a pause after each word lets a search start; the next word is typed over it
                await asyncio.sleep(0.25 if ch == " " else gap)
            t_last = time.perf_counter()
            while not (screen.result and screen.result.query == query):
                await asyncio.sleep(0.002)
            waits.append((time.perf_counter() - t_last) * 1000)
        searches = screen.searches
    return {
        "keys typed": len(latencies),
        "key p50 ms": round(pct(latencies, 50), 2),
        "key p99 ms": round(pct(latencies, 99), 2),
        "key max ms": round(max(latencies), 2),
        "results after the last key (200 ms debounce + search): median ms": round(
            statistics.median(waits), 1
        ),
        "searches completed (of keys typed)": searches,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--keys", type=int, default=300)
    args = parser.parse_args()
    os.environ.setdefault("MEMRL_MODELS_DIR", str(Path.home() / ".memrl" / "models"))
    sizes = [int(s) for s in args.sizes.split(",")]
    report: dict = {"machine": machine()}
    for n in sizes:
        print(f"{n:,} episodes", flush=True)
        root = store(n)
        figures: dict = {}
        paint = [asyncio.run(first_paint_in_process(root)) for _ in range(3)]
        figures["first_paint_in_process_s"] = round(statistics.median(paint), 3)
        figures["first_paint_terminal_s"] = round(
            statistics.median(first_paint_terminal(root) for _ in range(3)), 3
        )
        figures.update(asyncio.run(keypresses(root, args.keys)))
        if n == sizes[0]:
            figures["typing_while_searching"] = asyncio.run(
                typing_while_searching(root, "webhook retry timeout postgres", 0.04)
            )
        report[str(n)] = figures
        print(json.dumps(figures, indent=2), flush=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"written to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
