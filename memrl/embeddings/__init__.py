"""Embeddings: a small protocol, and the model the settings ask for behind it.

Resolution: `embedding.model_path` (a local ONNX folder) → `embedding.model` (a fastembed
model name, downloaded once into `models/`) → the bundled all-MiniLM-L6-v2 int8, which
needs no network. Local folders and the bundled model are run by memrl.embeddings.local;
fastembed is imported only for a named model. Nothing here loads a model until a text is
embedded.

ONNX Runtime (1.2x on Linux) records telemetry events about the process in
~/.cache/Microsoft/DeveloperTools and uploads them when it can. memrl promises to run offline
and keep to its own folder, so importing this module turns that off for the process (and the
processes it starts) unless ORT_DISABLE_TELEMETRY is already set: the runtime reads it when
it is first imported, which is always after this.
"""

from __future__ import annotations

import hashlib
import os
import socket
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from memrl.errors import ModelUnavailable

if TYPE_CHECKING:
    from concurrent.futures import Future, ThreadPoolExecutor

    import numpy as np

    from memrl.config import EmbeddingSettings

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

BUNDLED_NAME = "all-MiniLM-L6-v2-int8"
BUNDLED_ID = "memrl/all-MiniLM-L6-v2-int8"
BUNDLED_DIM = 384
# ONNX Runtime's memory arena keeps the peak of the largest run for the life of the process,
# a few MB for one text of 256 tokens, and saves 3 % of each run's time: worth it for the
# runs that embed many texts at once, not for a long-lived server's one query at a time.
SESSION: dict[str, Any] = {"enable_cpu_mem_arena": False}
BULK_SESSION: dict[str, Any] = {"enable_cpu_mem_arena": True}
# One text per run: the bundled graph quantises each run's activations as a whole, so a text
# padded into a batch would get a vector that depends on its neighbours; unpadded runs are
# also as fast as any batching. Runs on small matrices keep a second core only half busy, so
# many texts are embedded by one single-threaded run per core at once (about 310 texts/s on
# two cores, 1.35× one two-thread run at a time); one query still uses every core.
BATCH = 1
SPREAD_FROM = 16  # texts in one call before they are spread over the cores
PART = 8  # texts each worker takes at a time


class Embedder(Protocol):
    """What the index and the learning code need from a model."""

    model_id: str

    @property
    def dim(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length float32 vectors, one row per text, in input order."""

    def embed_query(self, text: str) -> np.ndarray: ...


@dataclass(frozen=True)
class ModelSpec:
    """Which model the settings ask for, known without loading it."""

    model_id: str
    kind: str  # "bundled" | "named" | "path"
    name: str
    path: Path | None = None

    @property
    def label(self) -> str:
        if self.kind == "bundled":
            return f"{BUNDLED_NAME} (bundled)"
        if self.kind == "path":
            return f"{self.path} (local)"
        return self.name


def spec(settings: EmbeddingSettings) -> ModelSpec:
    if settings.model_path:
        path = Path(settings.model_path).expanduser().resolve()
        digest = hashlib.sha256(str(path).encode()).hexdigest()[:8]
        return ModelSpec(f"path:{path.name}-{digest}", "path", path.name, path)
    if settings.model:
        return ModelSpec(settings.model, "named", settings.model)
    return ModelSpec(BUNDLED_ID, "bundled", BUNDLED_NAME)


# One loaded model per process and configuration: every Memory in a long-lived process
# (the TUI, the MCP server, a test session) shares it instead of paying the load again.
_CACHE: dict[tuple, tuple[object, int]] = {}
_CACHE_LOCK = threading.Lock()


class LazyEmbedder:
    """The configured model, loaded on first use, safe to share between threads."""

    def __init__(self, model_spec: ModelSpec, models_dir: Path, threads: int = 0) -> None:
        self.spec = model_spec
        self.model_id = model_spec.model_id
        self.models_dir = models_dir
        self.threads = threads or None
        cores = _cores()
        self.workers = min(threads or cores, cores)
        self._sessions: dict[tuple[int | None, bool], Any] = {}
        self._dim: int | None = BUNDLED_DIM if model_spec.kind == "bundled" else None
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None

    @property
    def dim(self) -> int:
        if self._dim is None:
            self.load()
        assert self._dim is not None
        return self._dim

    @property
    def loaded(self) -> bool:
        return bool(self._sessions)

    def load(self) -> None:
        self._session(self.threads)

    def _session(self, threads: int | None, bulk: bool = False) -> Any:
        """The model run with `threads` ONNX Runtime threads (None: every core), loaded once;
        `bulk`: for runs of one thread a core, many texts in a row (see BULK_SESSION)."""
        with self._lock:
            if (threads, bulk) not in self._sessions:
                key = (self.spec, str(self.models_dir), threads, bulk)
                with _CACHE_LOCK:
                    if key not in _CACHE:
                        options = BULK_SESSION if bulk else SESSION
                        model = _load(self.spec, self.models_dir, threads, options)
                        _CACHE[key] = (model, _probe(model, self.spec))
                self._sessions[threads, bulk], self._dim = _CACHE[key]
            return self._sessions[threads, bulk]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        import numpy as np

        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self.workers > 1 and len(texts) >= SPREAD_FROM:
            parts = self.start(texts)
            try:
                return np.concatenate([part.result() for part in parts])
            finally:  # on Ctrl-C, drop the parts not started rather than embed them all first
                for part in parts:
                    part.cancel()
        return _unit(list(self._session(self.threads).embed(texts)))

    def start(self, texts: Sequence[str]) -> list[Future[np.ndarray]]:
        """Start embedding `texts` on every core at once, after what was started before:
        one single-threaded run per core, one future a part of PART texts, in input order,
        each giving its part's unit vectors."""
        from concurrent.futures import ThreadPoolExecutor

        session = self._session(1, bulk=True)
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="memrl-embed")
            pool = self._pool
        return [
            pool.submit(lambda part: _unit(list(session.embed(part))), texts[i : i + PART])
            for i in range(0, len(texts), PART)
        ]

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text])[0]


def start(embedder: Embedder, texts: Sequence[str]) -> list[Future[np.ndarray]]:
    """`embedder.start(texts)` where it has it (a LazyEmbedder); else the vectors made now,
    or the error making them raised, in one future."""
    from concurrent.futures import Future

    if isinstance(embedder, LazyEmbedder):
        return embedder.start(texts)
    done: Future[np.ndarray] = Future()
    try:
        done.set_result(embedder.embed(texts))
    except Exception as exc:
        done.set_exception(exc)
    return [done]


def _unit(vectors: Sequence[Any]) -> np.ndarray:
    import numpy as np

    out = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.maximum(norms, 1e-12)


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _quiet_fastembed() -> None:
    try:
        from loguru import logger

        logger.disable("fastembed")
    except ImportError:  # pragma: no cover
        pass


def _load(
    model_spec: ModelSpec, models_dir: Path, threads: int | None, options: dict[str, Any]
) -> Any:
    """The model, ready to embed: anything with `embed(texts)` yielding one vector a text."""
    # Each run tokenizes a few texts on a core of its own already: the tokenizer's thread
    # pool (a thread a core, for the life of the process) would only crowd them.
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        models_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        from memrl.embeddings.bundled import unwritable

        raise unwritable(models_dir, exc) from None
    if model_spec.kind == "named":
        return _Named(_load_named(model_spec.name, models_dir, threads, options))

    from memrl.embeddings.bundled import MAX_LENGTH, assemble
    from memrl.embeddings.local import LocalModel

    if model_spec.kind == "bundled":
        folder = assemble(models_dir)
    else:
        folder = model_spec.path  # type: ignore[assignment]
        check_local(folder)
    try:
        return LocalModel(folder, threads, MAX_LENGTH, options)
    except Exception as exc:
        raise ModelUnavailable(
            f"the embedding model in {folder} could not be loaded ({exc}). "
            + (
                "Run `memrl init` to reassemble the bundled model."
                if model_spec.kind == "bundled"
                else "Check embedding.model_path: a model.onnx and the tokenizer.json made for it."
            )
        ) from None


def try_loading(model_spec: ModelSpec, models_dir: Path) -> None:
    """Load the model afresh (not from this process's cache) and embed one text; raises
    ModelUnavailable, with the fix, when that fails."""
    _probe(_load(model_spec, models_dir, 1, SESSION), model_spec)


def _probe(model: Any, model_spec: ModelSpec) -> int:
    """The model's dimension, from one text: a model that loads may still fail to run."""
    try:
        return len(next(iter(model.embed(["dimension probe"]))))
    except Exception as exc:
        why = str(exc).strip().splitlines()[-1][:300] if str(exc).strip() else type(exc).__name__
        raise ModelUnavailable(
            f"the embedding model {model_spec.label} loads but cannot embed a text ({why}). "
            + {
                "bundled": "Run `memrl init` to reassemble the bundled model.",
                "path": "Its tokenizer.json may be another model's: check embedding.model_path.",
                "named": "Clear embedding.model to use the bundled model.",
            }[model_spec.kind]
        ) from None


class _Named:
    """A fastembed TextEmbedding, run one text at a time like a local model."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def embed(self, texts: Sequence[str]) -> Any:
        return self.model.embed(list(texts), batch_size=BATCH)


def _load_named(name: str, models_dir: Path, threads: int | None, options: dict[str, Any]) -> Any:
    try:
        from fastembed import TextEmbedding
    except ImportError as exc:  # pragma: no cover - a broken install
        raise ModelUnavailable(f"fastembed is not importable ({exc}); reinstall memrl") from None
    _quiet_fastembed()
    if closest_models(name) is not None:
        raise ModelUnavailable(
            f"embedding.model = {name!r} is not a fastembed model. Pick one from "
            "`python -c 'import fastembed; print(fastembed.TextEmbedding.list_supported_models())'`, "
            "or clear the key to use the bundled model."
        )
    try:
        return TextEmbedding(
            name, cache_dir=str(models_dir), threads=threads, local_files_only=True, **options
        )
    except Exception:
        pass  # not cached yet: download below
    if not _reachable("huggingface.co") and not _reachable("storage.googleapis.com"):
        raise ModelUnavailable(
            f"embedding model {name!r} is not in {models_dir} and cannot be downloaded "
            "(no network). Clear embedding.model to use the bundled model "
            "(`memrl config set embedding.model ''`), or set embedding.model_path to a local "
            "model folder."
        )
    try:
        return TextEmbedding(name, cache_dir=str(models_dir), threads=threads, **options)
    except Exception as exc:
        raise ModelUnavailable(
            f"downloading embedding model {name!r} failed ({exc}). Retry later, or clear "
            "embedding.model to use the bundled model."
        ) from None


LOCAL_FILES = ("model.onnx", "tokenizer.json")  # what embedding.model_path must hold


def missing_files(folder: Path) -> list[str]:
    """Which of LOCAL_FILES a local model folder lacks."""
    return [name for name in LOCAL_FILES if not (folder / name).is_file()]


def check_local(path: Path) -> None:
    """Raise ModelUnavailable unless `path` is a folder with the files a local model needs.
    Cheap (no model is loaded): a search checks it before blaming the index's model."""
    if not path.is_dir():
        raise ModelUnavailable(
            f"embedding.model_path {path} "
            + ("is not a folder" if path.exists() else "does not exist")
            + ". Point it at a folder with model.onnx and tokenizer.json, or clear it to use "
            "the bundled model."
        )
    missing = missing_files(path)
    if missing:
        raise ModelUnavailable(
            f"embedding.model_path {path} lacks {', '.join(missing)}; it needs model.onnx "
            "and tokenizer.json (and optionally tokenizer_config.json)."
        )


def closest_models(name: str) -> list[str] | None:
    """None when `name` is a fastembed model; else the model names closest to it.
    Imports fastembed (about half a second)."""
    import difflib

    from fastembed import TextEmbedding

    names = sorted({m["model"] for m in TextEmbedding.list_supported_models()})
    return None if name in names else difflib.get_close_matches(name, names, n=3, cutoff=0.6)


def _reachable(host: str, timeout: float = 3.0) -> bool:
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False
