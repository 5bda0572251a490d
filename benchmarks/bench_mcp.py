"""The MCP server against its budgets, measured the way Claude Code drives it: over stdio.

Run:  .venv/bin/python -m benchmarks.bench_mcp [--episodes 10000] [--rounds 200]

Budgets: spawn → initialize reply ≤ 0.5 s; first memrl_retrieve on a cold server ≤ 2 s;
warm memrl_retrieve p50 ≤ 20 ms and memrl_capture p50 ≤ 40 ms at 10k episodes; RSS with
the model loaded ≤ 300 MB. The 10k store is the one bench_core builds (synthetic, varied
episodes imported in batches, cached under benchmarks/.cache); captures run on a copy.
"Cold first retrieve" is timed from the request, sent as soon as `tools/list` has been
answered (as Claude Code does), and from the spawn. Results print as a table and go to
benchmarks/results/mcp.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks import machine, synthetic
from benchmarks.bench_core import CACHE, RESULTS, VENV_BIN, build, pct

SERVER = str(VENV_BIN / "memrl-mcp")
STDERR_LOG = CACHE / "mcp-stderr.log"  # the servers' stderr, for when a run goes wrong
BUDGETS = {
    "initialize_s": 0.5,
    "cold_retrieve_s": 2.0,
    "retrieve_p50_ms": 20,
    "capture_p50_ms": 40,
    "rss_mb": 300,
}


class Server:
    """A `memrl-mcp` subprocess and a minimal line-by-line JSON-RPC client."""

    def __init__(self, data_dir: Path, session: str = "bench") -> None:
        env = {**os.environ, "MEMRL_DATA_DIR": str(data_dir), "CLAUDE_CODE_SESSION_ID": session}
        self.started = time.perf_counter()
        with STDERR_LOG.open("ab") as log:
            self.proc = subprocess.Popen(
                [SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, env=env
            )
        self.next_id = 0

    def send(self, method: str, params: dict | None = None, *, notify: bool = False) -> None:
        msg: dict = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            msg["params"] = params
        if not notify:
            msg["id"] = self.next_id
            self.next_id += 1
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(msg).encode() + b"\n")
        self.proc.stdin.flush()

    def request(self, method: str, params: dict | None = None) -> dict:
        self.send(method, params)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the server exited ({self.proc.poll()}); see {STDERR_LOG}")
        reply = json.loads(line)
        if "error" in reply:
            raise RuntimeError(reply["error"])
        return reply["result"]

    def tool(self, name: str, args: dict) -> dict:
        result = self.request("tools/call", {"name": name, "arguments": args})
        if result.get("isError"):
            raise RuntimeError(result["content"][0]["text"])
        return result

    def handshake(self) -> float:
        self.request(
            "initialize",
            {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "bench", "version": "1"},
            },
        )
        seconds = time.perf_counter() - self.started
        self.send("notifications/initialized", notify=True)
        return seconds

    def rss_mb(self) -> dict[str, float]:
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        field = {k: v for k, _, v in (line.partition(":") for line in status.splitlines())}
        return {k: int(field[k].split()[0]) / 1024 for k in ("VmRSS", "RssAnon", "RssFile")}

    def private_mb(self) -> dict[str, float]:
        """USS (pages no other process maps) and PSS (shared pages split among sharers)."""
        rollup = Path(f"/proc/{self.proc.pid}/smaps_rollup").read_text()
        kb = {
            k: int(v.split()[0])
            for k, _, v in (ln.partition(":") for ln in rollup.splitlines()[1:])
        }
        return {"uss": (kb["Private_Clean"] + kb["Private_Dirty"]) / 1024, "pss": kb["Pss"] / 1024}

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def timed(fn, *args) -> float:
    started = time.perf_counter()
    fn(*args)
    return (time.perf_counter() - started) * 1000


def handshakes(root: Path, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        server = Server(root)
        out.append(server.handshake())
        server.proc.kill()
        server.proc.wait()
    return out


def cold_retrieves(root: Path, runs: int) -> tuple[list[float], list[float]]:
    from_request, from_spawn = [], []
    for n in range(runs):
        server = Server(root)
        server.handshake()
        server.request("tools/list")
        started = time.perf_counter()
        server.tool("memrl_retrieve", {"query": f"payment webhook retries {n}"})
        done = time.perf_counter()
        from_request.append(done - started)
        from_spawn.append(done - server.started)
        server.close()
    return from_request, from_spawn


def warm_retrieves(root: Path, rounds: int) -> dict:
    """Retrieves in one warm server; its RSS once calls pause."""
    server = Server(root, "bench-retrieve")
    server.handshake()
    server.request("tools/list")
    queries = synthetic.queries(rounds + 10)
    for q in queries[:10]:
        server.tool("memrl_retrieve", {"query": q})
    timings = [timed(server.tool, "memrl_retrieve", {"query": q}) for q in queries[10:]]
    time.sleep(3)  # the server returns freed heap to the OS once calls pause
    rss = server.rss_mb()
    # Claude Code runs one server per open session; they share library pages. What one
    # more session costs is a server's private memory while another one is running.
    other = Server(root, "bench-other-session")
    other.handshake()
    other.tool("memrl_retrieve", {"query": queries[0]})
    time.sleep(3)
    private = server.private_mb()
    other.close()
    server.close()
    return {"timings": timings, "rss": rss, "private": private}


def warm_captures(root: Path, rounds: int) -> dict:
    """Captures in a fresh session (as at the end of a task), after a warm-up capture.

    A session that retrieved hundreds of times before capturing would also pay for
    crediting every episode it retrieved; that is measured by the core's benchmarks.
    """
    server = Server(root, "bench-capture")
    server.handshake()
    server.request("tools/list")
    timings = []
    for n, ep in enumerate(synthetic.episodes(rounds + 5, seed=4321)):
        args = {
            "summary": ep["summary"],
            "task": ep["task"],
            "outcome": ep["outcome"],
            "what_worked": ep["what_worked"],
            "files_modified": ep["files"],
            "tags": ep["tags"],
            "project": ep["project"],
        }
        ms = timed(server.tool, "memrl_capture", args)
        if n >= 5:
            timings.append(ms)
    busy = server.rss_mb()
    # Right after a capture the new rows wait for compaction, and searches pay for them
    # until the server's first pause compacts them.
    queries = synthetic.queries(60, seed=77)
    waiting = waiting_rows(root)
    before = [timed(server.tool, "memrl_retrieve", {"query": q}) for q in queries[:30]]
    time.sleep(3)
    rss = server.rss_mb()
    after = [timed(server.tool, "memrl_retrieve", {"query": q}) for q in queries[30:]]
    server.close()
    return {
        "timings": timings,
        "count": rounds + 5,
        "rss": rss,
        "rss_busy": busy,
        "waiting": waiting,
        "retrieve_waiting": before,
        "retrieve_after_pause": after,
    }


def waiting_rows(root: Path) -> int:
    from memrl.memory import Memory

    stats = Memory(root).index.table().index_stats("text_idx")
    return stats.num_unindexed_rows if stats is not None else 0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--episodes", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    CACHE.mkdir(exist_ok=True)
    os.environ["MEMRL_MODELS_DIR"] = str(CACHE / "models")
    on = machine()  # the load before the run: others' work
    root, _rate = build(args.episodes)
    work = CACHE / "mcp-work"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(root, work)
    try:
        init = handshakes(work, 10)
        cold, cold_spawn = cold_retrieves(work, 7)
        retrieves = warm_retrieves(work, args.rounds)
        captures = warm_captures(work, args.rounds // 2)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    load = os.getloadavg()
    out = {
        "machine": on | {"load_average_at_end": round(load[0], 2)},
        "episodes": args.episodes,
        "initialize_s": statistics.median(init),
        "initialize_max_s": max(init),
        "cold_retrieve_s": statistics.median(cold),
        "cold_retrieve_from_spawn_s": statistics.median(cold_spawn),
        "retrieve_p50_ms": statistics.median(retrieves["timings"]),
        "retrieve_p99_ms": pct(retrieves["timings"], 0.99),
        "capture_p50_ms": statistics.median(captures["timings"]),
        "capture_p99_ms": pct(captures["timings"], 0.99),
        "rss_mb": retrieves["rss"]["VmRSS"],
        "rss_anon_mb": retrieves["rss"]["RssAnon"],
        "rss_file_mb": retrieves["rss"]["RssFile"],
        "uss_beside_another_session_mb": retrieves["private"]["uss"],
        "pss_beside_another_session_mb": retrieves["private"]["pss"],
        "rows_waiting_after_captures": captures["waiting"],
        "retrieve_p50_with_rows_waiting_ms": statistics.median(captures["retrieve_waiting"]),
        "retrieve_p50_after_pause_ms": statistics.median(captures["retrieve_after_pause"]),
        "captures": captures["count"],
        "rss_after_captures_mb": captures["rss"]["VmRSS"],
        "rss_right_after_captures_mb": captures["rss_busy"]["VmRSS"],
        "budgets": BUDGETS,
    }
    rows = [
        (
            "spawn → initialize reply",
            f"{out['initialize_s']:.3f} s (max {out['initialize_max_s']:.3f})",
            "≤ 0.5 s",
            out["initialize_s"] <= 0.5,
        ),
        (
            "cold first retrieve (request → reply)",
            f"{out['cold_retrieve_s']:.2f} s",
            "≤ 2 s",
            out["cold_retrieve_s"] <= 2,
        ),
        (
            "cold first retrieve (spawn → reply)",
            f"{out['cold_retrieve_from_spawn_s']:.2f} s",
            "",
            None,
        ),
        (
            f"warm retrieve p50 / p99 @{args.episodes:,}",
            f"{out['retrieve_p50_ms']:.1f} / {out['retrieve_p99_ms']:.1f} ms",
            "p50 ≤ 20 ms",
            out["retrieve_p50_ms"] <= 20,
        ),
        (
            f"capture p50 / p99 @{args.episodes:,}",
            f"{out['capture_p50_ms']:.1f} / {out['capture_p99_ms']:.1f} ms",
            "p50 ≤ 40 ms",
            out["capture_p50_ms"] <= 40,
        ),
        (
            f"retrieve p50: {out['rows_waiting_after_captures']} rows waiting / paused",
            f"{out['retrieve_p50_with_rows_waiting_ms']:.1f} / "
            f"{out['retrieve_p50_after_pause_ms']:.1f} ms",
            "",
            None,
        ),
        (
            "RSS, model loaded (anon + file)",
            f"{out['rss_mb']:.0f} MB ({out['rss_anon_mb']:.0f} + {out['rss_file_mb']:.0f})",
            "≤ 300 MB",
            out["rss_mb"] <= 300,
        ),
        (
            f"RSS after {out['captures']} captures, paused",
            f"{out['rss_after_captures_mb']:.0f} MB",
            "",
            None,
        ),
        (
            "with a 2nd session's server: USS / PSS",
            f"{out['uss_beside_another_session_mb']:.0f} / "
            f"{out['pss_beside_another_session_mb']:.0f} MB",
            "",
            None,
        ),
    ]
    print(f"memrl-mcp on {out['machine']}")
    for name, value, budget, met in rows:
        mark = "" if met is None else ("ok" if met else "OVER")
        print(f"  {name:<40} {value:<26} {budget:<12} {mark}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "mcp.json").write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
