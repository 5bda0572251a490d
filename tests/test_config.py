"""Settings: defaults, validation that names the key, env overrides, edits that keep comments."""

from __future__ import annotations

import pytest

from memrl import config
from memrl.errors import ConfigError


def test_every_learning_parameter_has_its_design_default(data_dir):
    s = config.load(data_dir)
    assert s.learning.learning_rate == 0.1
    assert s.learning.discount_factor == 0.9
    assert s.learning.decay_rate == 0.01
    assert s.learning.propagation_threshold == 0.5


def test_template_lists_every_key_commented(data_dir):
    text = config.commented_template()
    for key in config.all_keys():
        assert f"# {key.split('.')[1]} = " in text
    data_dir.mkdir(parents=True)
    (data_dir / "config.toml").write_text(text)
    assert config.load(data_dir) == config.Settings()


@pytest.mark.parametrize(
    ("toml", "fragment"),
    [
        ("[learning]\ndiscount_factor = 1.0\n", "learning.discount_factor"),
        ("[learning]\nlearning_rate = -0.1\n", "learning.learning_rate"),
        ("[learning]\ndecay_rate = -1\n", "learning.decay_rate"),
        ("[learning]\nlearning_rate = nan\n", "should be a finite number"),
        ("[learning]\ndecay_rate = inf\n", "should be a finite number"),
        ("[learning]\nlearnin_rate = 0.2\n", "unknown key 'learning.learnin_rate'"),
        ("[retrieval]\nlimit = 'many'\n", "retrieval.limit"),
        ("[nonsense]\nx = 1\n", "unknown section or key 'nonsense'"),
        ("this is = = not toml", "not valid TOML"),
    ],
)
def test_bad_config_is_rejected_naming_the_key(data_dir, toml, fragment):
    data_dir.mkdir(parents=True)
    (data_dir / "config.toml").write_text(toml)
    with pytest.raises(ConfigError, match=fragment.replace(".", r"\.").replace("(", r"\(")):
        config.load(data_dir)


def test_environment_overrides_file(data_dir, monkeypatch):
    data_dir.mkdir(parents=True)
    (data_dir / "config.toml").write_text("[retrieval]\nlimit = 7\n")
    assert config.load(data_dir).retrieval.limit == 7
    monkeypatch.setenv("MEMRL_RETRIEVAL_LIMIT", "9")
    assert config.load(data_dir).retrieval.limit == 9
    monkeypatch.setenv("MEMRL_RETRIEVAL_LIMIT", "zero")
    with pytest.raises(
        ConfigError, match=r"retrieval.limit .* environment \(MEMRL_RETRIEVAL_LIMIT\)"
    ):
        config.load(data_dir)


def test_set_keeps_comments_and_validates(data_dir):
    data_dir.mkdir(parents=True)
    (data_dir / "config.toml").write_text(config.commented_template())
    assert config.set_value(data_dir, "learning.learning_rate", "0.2") == 0.2
    text = (data_dir / "config.toml").read_text()
    assert "learning_rate = 0.2" in text
    assert "# γ: how much" in text
    assert config.load(data_dir).learning.learning_rate == 0.2
    with pytest.raises(ConfigError, match="learning.discount_factor.*less than 1"):
        config.set_value(data_dir, "learning.discount_factor", "1.5")
    with pytest.raises(ConfigError, match="unknown config key 'learning.rate'"):
        config.set_value(data_dir, "learning.rate", "0.3")
    assert config.load(data_dir).learning.discount_factor == 0.9


def test_a_model_that_cannot_load_is_refused_before_the_store_switches(data_dir, tmp_path):
    data_dir.mkdir(parents=True)
    with pytest.raises(ConfigError, match="'nonexistent/model' is not a fastembed model"):
        config.set_value(data_dir, "embedding.model", "nonexistent/model")
    with pytest.raises(ConfigError, match="did you mean .*BAAI/bge-small-en-v1.5"):
        config.set_value(data_dir, "embedding.model", "BAAI/bge-smal")
    with pytest.raises(ConfigError, match="lacks model.onnx, tokenizer.json"):
        config.set_value(data_dir, "embedding.model_path", str(tmp_path))
    assert config.load(data_dir).embedding.model == ""  # nothing was written
    assert config.set_value(data_dir, "embedding.model", "BAAI/bge-small-en-v1.5")
    assert config.set_value(data_dir, "embedding.model", "") == ""  # back to the bundled one


def test_the_readme_lists_every_config_key():
    from pathlib import Path

    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    assert [k for k in config.all_keys() if f"`{k}`" not in readme] == []


def test_a_misspelt_environment_override_is_named_not_ignored(monkeypatch):
    monkeypatch.setenv("MEMRL_LEARNING_LERNING_RATE", "0.3")
    with pytest.raises(
        ConfigError,
        match="MEMRL_LEARNING_LERNING_RATE is not a memrl setting; "
        "did you mean MEMRL_LEARNING_LEARNING_RATE",
    ):
        config.load()
    monkeypatch.delenv("MEMRL_LEARNING_LERNING_RATE")
    monkeypatch.setenv("MEMRL_LEARNING_LEARNING_RATE", "0.3")
    assert config.load().learning.learning_rate == 0.3


def test_set_writes_through_a_symlinked_config_and_keeps_the_link(data_dir, tmp_path):
    from typer.testing import CliRunner

    from memrl.cli import app

    dotfiles = tmp_path / "dotfiles" / "config.toml"
    dotfiles.parent.mkdir()
    dotfiles.write_text("# mine\n[retrieval]\nlimit = 3\n")
    data_dir.mkdir(parents=True)
    (data_dir / "config.toml").symlink_to(dotfiles)
    result = CliRunner().invoke(app, ["config", "set", "retrieval.limit", "7"])
    assert result.exit_code == 0, result.output
    assert (data_dir / "config.toml").is_symlink()
    assert "# mine" in dotfiles.read_text() and "limit = 7" in dotfiles.read_text()


def test_an_environment_override_is_pointed_out_by_set_and_marked_by_show(monkeypatch):
    from typer.testing import CliRunner

    from memrl.cli import app

    monkeypatch.setenv("MEMRL_LEARNING_LEARNING_RATE", "0.7")
    runner = CliRunner()
    result = runner.invoke(app, ["config", "set", "learning.learning_rate", "0.3"])
    assert result.exit_code == 0
    assert "MEMRL_LEARNING_LEARNING_RATE=0.7 overrides this" in result.output
    assert "overrides" not in runner.invoke(app, ["config", "set", "retrieval.limit", "7"]).output
    shown = runner.invoke(app, ["config", "show"]).output
    [row] = [line for line in shown.splitlines() if "learning.learning_rate" in line]
    assert "0.7 (env)" in row
    assert "set by MEMRL_LEARNING_LEARNING_RATE, which wins over config.toml" in shown
    [limit] = [line for line in shown.splitlines() if "retrieval.limit" in line]
    assert "(env)" not in limit


def test_a_misspelt_key_gets_the_close_one_suggested():
    with pytest.raises(ConfigError, match=r"Did you mean learning\.learning_rate\?"):
        config.get(config.load(), "learning.learningrate")
    with pytest.raises(ConfigError) as unrelated:  # 'key' is in keyword_weight: no match
        config.get(config.load(), "nosuch.key")
    assert "Did you mean" not in str(unrelated.value)


def test_a_model_folder_is_kept_as_an_absolute_path_and_must_run(data_dir, tmp_path, monkeypatch):
    """Claude Code starts the MCP server in each project's folder: a relative path would
    name another folder in each."""
    import shutil

    from memrl.embeddings import bundled

    source = bundled.assemble(tmp_path / "cache")
    (tmp_path / "mine").mkdir()
    for name in ("model.onnx", "tokenizer.json"):
        shutil.copy(source / name, tmp_path / "mine" / name)
    data_dir.mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    assert config.set_value(data_dir, "embedding.model_path", "mine") == str(tmp_path / "mine")
    assert config.load(data_dir).embedding.model_path == str(tmp_path / "mine")
    (tmp_path / "mine" / "model.onnx").write_bytes(b"not a model")
    with pytest.raises(ConfigError, match="could not be loaded .model.onnx: "):
        config.set_value(data_dir, "embedding.model_path", "mine")
