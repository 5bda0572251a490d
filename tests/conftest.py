"""Every test gets its own empty data directory; the bundled model is shared per process."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import numpy as np
import pytest

MODELS = (
    Path(os.environ.get("MEMRL_TEST_MODELS", "")) if os.environ.get("MEMRL_TEST_MODELS") else None
)


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One assembled copy of the bundled model for the whole run (per xdist worker)."""
    return MODELS or tmp_path_factory.mktemp("models")


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, models_dir: Path) -> Path:
    for key in list(os.environ):
        if key.startswith("MEMRL_"):
            monkeypatch.delenv(key)
    root = tmp_path / "memrl-data"
    monkeypatch.setenv("MEMRL_DATA_DIR", str(root))
    monkeypatch.setenv("MEMRL_MODELS_DIR", str(models_dir))
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "claude-config"))  # not ~/.claude
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    return root


@pytest.fixture
def memory(data_dir: Path):
    """A Memory on the test's data directory with the real bundled model."""
    from memrl.memory import Memory

    m = Memory(data_dir)
    yield m
    m.close()


class HashEmbedder:
    """Deterministic bag-of-words vectors: for fast tests of pure logic, never of search quality."""

    model_id = "memrl/all-MiniLM-L6-v2-int8"  # pretends to be the bundled model's space
    dim = 384

    def embed(self, texts):
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for n, text in enumerate(texts):
            for word in re.findall(r"[a-z0-9]+", text.lower()):
                h = int(hashlib.md5(word.encode()).hexdigest(), 16)
                out[n, h % self.dim] += 1.0
            norm = np.linalg.norm(out[n])
            out[n] = out[n] / norm if norm else out[n]
            if not norm:
                out[n, 0] = 1.0
        return out

    def embed_query(self, text):
        return self.embed([text])[0]


@pytest.fixture
def fast_memory(data_dir: Path):
    """A Memory whose embedder is the deterministic HashEmbedder (real LanceDB, real ledger)."""
    from memrl.memory import Memory

    m = Memory(data_dir, embedder=HashEmbedder())
    yield m
    m.close()


def episode(**overrides):
    base = {
        "task": "a task",
        "summary": "a summary of the work",
        "outcome": "success",
        "project": "acme/app",
    }
    base.update(overrides)
    return base


def captured_at(memory, when: float, **fields):
    """Capture an episode made at `when` as the store would have then: with its clock at
    `when`, so the episode has been in the store (and unused) ever since. An episode
    captured now with an old date arrived now, and has not been idle."""
    real = memory.clock
    memory.clock = lambda: when
    try:
        return memory.capture(episode(created_at=when, **fields))
    finally:
        memory.clock = real


def cli(*args: str, code: int = 0):
    """Run `memrl` with these arguments in-process; it must exit with `code`."""
    from typer.testing import CliRunner

    from memrl.cli import app

    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == code, (result.output, result.exception)
    return result
