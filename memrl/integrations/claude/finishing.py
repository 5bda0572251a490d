"""The hooks' index work, done after they have answered: one background finisher at a time.

Writing a session's episode needs only SQLite; embedding it needs the model and LanceDB,
which take seconds of CPU to load. So a hook leaves that work as a small JSON file in
`<data dir>/hooks/queue/` and starts a detached finisher only when none is running: the
running one takes every queued job before it exits, so sessions ending together load the
model once between them, not once each. Claude Code waits for none of it; the index may lag
by a few seconds, as the design allows (`memrl index` repairs any gap).

Nothing is lost between a hook and the finisher. The finisher holds `hooks/finish.lock`
while it works and looks at the queue again after letting go; a hook that finds the lock
free starts a finisher, and one that finds it held knows the holder will look again.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from memrl.integrations.claude import hooks
from memrl.integrations.claude.hooks import HookError, log

if TYPE_CHECKING:
    from memrl.memory import Memory

MODULE = "memrl.integrations.claude.finishing"
QUEUE = Path("hooks") / "queue"
RUNNING = Path("hooks") / "finish.lock"


@dataclass(slots=True)
class Jobs:
    """Index work left for the finisher."""

    index: list[str] = field(default_factory=list)
    archive: list[str] = field(default_factory=list)
    spread: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.index or self.archive or self.spread)

    def add(self, other: Jobs) -> None:
        """Take in another job: each step is done once per episode, on its state then."""
        self.index = list(dict.fromkeys(self.index + other.index))
        self.archive = list(dict.fromkeys(self.archive + other.archive))
        self.spread = list(dict.fromkeys(self.spread + other.spread))


def dispatch(root: Path, jobs: Jobs, background: bool) -> str:
    """Queue the work for the background finisher (starting one if none runs), or do it now."""
    if background:
        try:
            queued = enqueue(root, jobs)
        except OSError as exc:
            log(f"could not queue the index work ({exc}); finishing inline")
        else:
            if running(root):
                return "index update queued for the running finisher"
            try:
                spawn()
                return "index update started in the background"
            except OSError as exc:
                log(f"could not start the background finish ({exc}); finishing inline")
                try:
                    queued.unlink()
                except FileNotFoundError:  # a finisher took it after all
                    return "index update queued"
    memory = hooks.open_memory()
    try:
        return finish(memory, jobs)
    finally:
        memory.close()


def resume() -> str:
    """Start a finisher for work left queued (its finisher killed, say) when none runs: a
    new session should not wait for another session's end to get it indexed."""
    from memrl import config

    root = config.data_dir()
    folder = root / QUEUE
    if not folder.is_dir() or not any(folder.glob("*.json")) or running(root):
        return ""
    try:
        spawn()
    except OSError as exc:
        return f"; could not start a finisher for the queued index work ({exc})"
    return "; started a finisher for the queued index work"


def enqueue(root: Path, jobs: Jobs) -> Path:
    """Write the job atomically where the finisher looks for it."""
    folder = root / QUEUE
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".job-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(asdict(jobs), fh)
        path = folder / f"{time.time_ns()}-{os.getpid()}.json"
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def take(root: Path) -> tuple[Jobs, list[Path]]:
    """Every job queued now, merged, and the files they were read from: those are removed
    once the work is done (`done`), so that a finisher killed meanwhile leaves them to the
    next one. Each step can be done twice: an episode indexed as it is on disk, one archived
    only while live, value spread to the same fixed point."""
    jobs, paths = Jobs(), []
    folder = root / QUEUE
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            continue
        except (OSError, ValueError) as exc:
            log(f"finish -: dropped unreadable job {path.name} ({exc})")
            path.unlink(missing_ok=True)
            continue
        jobs.add(Jobs(**{k: list(data.get(k) or []) for k in ("index", "archive", "spread")}))
        paths.append(path)
    return jobs, paths


def done(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def _lock(root: Path, timeout: float) -> Any:
    from filelock import FileLock

    (root / RUNNING).parent.mkdir(parents=True, exist_ok=True)
    return FileLock(str(root / RUNNING), timeout=timeout)


def running(root: Path) -> bool:
    """Whether a finisher holds the lock now (and so will see what was just queued)."""
    from filelock import Timeout

    lock = _lock(root, 0)
    try:
        lock.acquire()
    except Timeout:
        return True
    lock.release()
    return False


def spawn() -> subprocess.Popen[bytes]:
    """A detached finisher that outlives Claude Code's wait for the hook (and Claude Code)."""
    from memrl import background

    return background.detached(MODULE)


def finish(memory: Memory, jobs: Jobs) -> str:
    """Archive superseded checkpoints, embed and index episodes, spread credited value."""
    done = []
    live = [i for i in jobs.archive if (c := memory.ledger.catalog(i)) and not c.archived]
    if live:
        memory.archive(live)
        done.append(f"archived {len(live)}")
    for episode_id in jobs.index:
        if index_episode(memory, episode_id):
            done.append(f"indexed {episode_id[:8]}")
    if jobs.spread:
        memory.learning.spread_from(jobs.spread)
        done.append(f"spread from {len(jobs.spread)}")
    return ", ".join(done) or "nothing to do"


def index_episode(memory: Memory, episode_id: str) -> bool:
    """Embed the episode as it is on disk now and link it into the graph."""
    from memrl.errors import IndexUnavailable

    try:
        return memory.index_episode(episode_id)
    except IndexUnavailable as exc:
        raise HookError(f"episode {episode_id[:8]} saved, but not searchable yet: {exc}") from None


def main() -> int:
    """The detached finisher: drain the queue while holding the lock, then look once more."""
    from filelock import Timeout

    from memrl.views import plural

    memory: Memory | None = None
    try:
        memory = hooks.open_memory()
        root = memory.root
        lock = _lock(root, 0)
        while True:
            try:
                lock.acquire()
            except Timeout:  # another finisher runs and will take what is queued
                return 0
            try:
                while (taken := take(root))[1]:
                    jobs, paths = taken
                    started = time.perf_counter()
                    try:
                        note = finish(memory, jobs)
                        if jobs.index and (compacted := memory.index.compact_waiting()):
                            note += f", compacted {plural(compacted, 'waiting row')}"
                        log(f"finish -: {note} ({time.perf_counter() - started:.2f} s)")
                    except Exception as exc:  # the next batch may still succeed
                        hooks.fail("finish", "-", exc, sys.stderr)
                    done(paths)  # tried: a job that fails is not tried again forever
            finally:
                lock.release()
            if not any((root / QUEUE).glob("*.json")):
                return 0
    except BaseException as exc:  # nobody is waiting to hear about it
        hooks.fail("finish", "-", exc, sys.stderr)
    finally:
        if memory is not None:
            memory.close()
    return 0


if __name__ == "__main__":
    hooks.yield_cpu()  # nobody waits for it
    sys.exit(main())
