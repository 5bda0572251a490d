"""Settings: one typed object, `config.toml` mirrors it key for key.

Resolution order for every key: environment (`MEMRL_<SECTION>_<KEY>`) over
`config.toml` over the defaults below. The data directory itself comes from
`MEMRL_DATA_DIR`, else `~/.memrl`.
"""

from __future__ import annotations

import json
import os
import textwrap
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from memrl.errors import ConfigError, ModelUnavailable

CONFIG_FILE = "config.toml"


def data_dir() -> Path:
    """The store every memrl process on this machine shares."""
    env = os.environ.get("MEMRL_DATA_DIR")
    path = Path(env).expanduser() if env else Path.home() / ".memrl"
    # the data dir, or the nearest folder above it that exists (memrl makes the rest)
    there = next((p for p in (path, *path.parents) if p.exists()), path)
    if there.exists() and not there.is_dir():
        from memrl.errors import StoreError

        named = f"MEMRL_DATA_DIR ({path})" if env else f"the data directory {path}"
        where = "" if there == path else f" cannot be made: {there}"
        raise StoreError(
            f"{named}{where} is a file, not a directory: point MEMRL_DATA_DIR at a folder "
            "(memrl creates it if it does not exist)"
        )
    return path


def models_dir(root: Path) -> Path:
    """Where embedding models are cached: `models/` in the data dir, or MEMRL_MODELS_DIR.

    Sharing one model cache between several data directories (a demo store, test stores)
    avoids assembling or downloading the same model twice.
    """
    env = os.environ.get("MEMRL_MODELS_DIR")
    return Path(env).expanduser() if env else root / "models"


class _Section(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        use_attribute_docstrings=True,
        validate_assignment=True,
        allow_inf_nan=False,  # "nan" is refused as not a number, not as "not less than 1"
    )


class EmbeddingSettings(_Section):
    model: str = ""
    """A fastembed model name (e.g. BAAI/bge-small-en-v1.5), downloaded once into models/. Empty: the bundled all-MiniLM-L6-v2 (int8, offline)."""
    model_path: str = ""
    """A local folder holding model.onnx and tokenizer.json; wins over `model`."""
    threads: int = Field(0, ge=0, le=256)
    """Cores the model may use (0: every core): a query's threads, or an import's parallel runs."""


class LearningSettings(_Section):
    learning_rate: float = Field(0.1, gt=0, lt=1)
    """α in u ← u + α(r − u): how far one piece of feedback moves utility."""
    discount_factor: float = Field(0.9, ge=0, lt=1)
    """γ: how much of a neighbour's value spreads (Bellman discount). Must stay below 1."""
    decay_rate: float = Field(0.01, ge=0, lt=1)
    """Fraction of utility lost per day without use."""
    propagation_threshold: float = Field(0.5, ge=0, le=1)
    """Minimum cosine similarity for value to spread between two episodes."""
    max_neighbours: int = Field(16, ge=1, le=200)
    """At most this many neighbours receive value from one episode."""
    credit_decay: float = Field(0.8, gt=0, le=1)
    """λ: a retrieval k steps before the outcome gets λ^k of the reward."""
    credit_window_minutes: int = Field(120, ge=1)
    """Without a session id, retrievals in the same project this recently share the credit."""
    context_credit_weight: float = Field(0.0, ge=0, le=1)
    """Share of credit for memories shown as session-start context rather than searched for;
    none by default: they are chosen by utility, not for the task, so crediting them would
    let the memories shown every session raise themselves."""
    credit_floor: float = Field(0.01, ge=0, le=1)
    """A share of credit below this is no evidence: those episodes are left as they were."""


class RetrievalSettings(_Section):
    limit: int = Field(5, ge=1, le=100)
    """Results returned when no limit is given."""
    min_similarity: float = Field(0.25, ge=0, lt=1)
    """Candidates whose relevance (cosine similarity + keyword_weight × keyword match) is below
    this are dropped."""
    utility_weight: float = Field(0.4, ge=0, le=1)
    """Weight of learned utility against similarity in the final score (0 = similarity only)."""
    keyword_weight: float = Field(0.25, ge=0, le=1)
    """How much an exact keyword match (full-text search) adds to similarity."""
    candidates: int = Field(40, ge=5, le=1000)
    """How many candidates each of vector and full-text search recalls before re-ranking."""


class PruneSettings(_Section):
    older_than_days: int = Field(90, ge=0)
    """Only episodes unused for at least this many days are prune candidates."""
    min_utility: float = Field(0.25, ge=0, le=1)
    """Only episodes whose (decayed) utility is below this are prune candidates."""


class ReviewSettings(_Section):
    duplicate_threshold: float = Field(0.92, gt=0, le=1)
    """Cosine similarity above which two episodes are proposed as duplicates."""
    stale_days: int = Field(60, ge=1)
    """Episodes unused this long are reported as stale."""


class CaptureSettings(_Section):
    redact: bool = True
    """Replace secrets (keys, tokens, passwords) before anything is stored or embedded."""
    extract_intent_llm: bool = False
    """Ask Claude (ANTHROPIC_API_KEY) for task, type and tags; falls back to the offline extractor."""
    max_summary_chars: int = Field(20_000, ge=100, le=1_000_000)
    """Longest summary accepted; longer input is refused, not truncated."""


class Settings(_Section):
    embedding: EmbeddingSettings = EmbeddingSettings()
    learning: LearningSettings = LearningSettings()
    retrieval: RetrievalSettings = RetrievalSettings()
    prune: PruneSettings = PruneSettings()
    review: ReviewSettings = ReviewSettings()
    capture: CaptureSettings = CaptureSettings()


SECTIONS: dict[str, type[_Section]] = {
    name: field.annotation  # type: ignore[misc]
    for name, field in Settings.model_fields.items()
}


_TYPE_NAMES = {"int": "a whole number", "float": "a number", "bool": "true or false", "str": "text"}


def _described(field: Any) -> str:
    """A field's docstring as one line of prose."""
    return " ".join((field.description or "").split())


def all_keys() -> dict[str, tuple[str, Any, str]]:
    """Every dotted key with its type name, default and description."""
    out: dict[str, tuple[str, Any, str]] = {}
    for section, model in SECTIONS.items():
        for name, field in model.model_fields.items():
            type_name = getattr(field.annotation, "__name__", str(field.annotation))
            type_name = _TYPE_NAMES.get(type_name, type_name)
            out[f"{section}.{name}"] = (type_name, field.default, _described(field))
    return out


ENV_ORIGIN = "the environment (MEMRL_<SECTION>_<KEY>)"


def _describe_error(err: ValidationError, origin: str) -> str:
    lines = []
    known = all_keys()
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"])
        if e["type"] == "extra_forbidden":
            section = str(e["loc"][0])
            if len(e["loc"]) == 1 or section not in SECTIONS:
                lines.append(
                    f"unknown section or key '{loc}' in {origin}; "
                    f"sections are: {', '.join(SECTIONS)}"
                )
            else:
                valid = ", ".join(k for k in known if k.startswith(section + "."))
                lines.append(f"unknown key '{loc}' in {origin}; valid keys: {valid}")
            continue
        expected = known.get(loc)
        hint = f" ({expected[0]}, default {literal(expected[1])})" if expected else ""
        where = origin
        if origin == ENV_ORIGIN:  # name the variable to fix
            where = f"the environment ({env_name(loc)})"
        lines.append(f"{loc} = {e.get('input')!r} in {where}: {e['msg']}{hint}")
    return "; ".join(lines)


# memrl's environment variables that are not settings of config.toml
OTHER_VARIABLES = {"MEMRL_DATA_DIR", "MEMRL_MODELS_DIR", "MEMRL_INTENT_MODEL"}


def env_name(key: str) -> str:
    """The environment variable that overrides a dotted key."""
    return "MEMRL_" + key.replace(".", "_").upper()


def from_env(key: str) -> str | None:
    """The value the environment gives `key`, which wins over config.toml; None if none."""
    return os.environ.get(env_name(key))


def _env_overrides() -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    known = {}
    for key in all_keys():
        section, name = key.split(".")
        env = env_name(key)
        known[env] = key
        if env in os.environ:
            out.setdefault(section, {})[name] = os.environ[env]
    # A misspelt override would be ignored without a word, as a misspelt key in the file is not.
    sections = {f"MEMRL_{key.split('.')[0].upper()}_" for key in known.values()}
    for env in os.environ:
        if not env.startswith("MEMRL_") or env in known or env in OTHER_VARIABLES:
            continue
        import difflib

        close = difflib.get_close_matches(env, list(known), n=1, cutoff=0.8)
        if close or any(env.startswith(s) for s in sections):
            hint = f"did you mean {close[0]}?" if close else "`memrl config show` lists the keys"
            raise ConfigError(f"{env} is not a memrl setting; {hint}")
    return out


def load(directory: Path | None = None) -> Settings:
    """Read config.toml (if any) and the environment; raise ConfigError naming the bad key."""
    path = (directory or data_dir()) / CONFIG_FILE
    raw: dict[str, Any] = {}
    if path.exists():
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path} is not valid TOML: {exc}. Fix or delete the file.") from exc
        except OSError as exc:
            raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe_error(exc, str(path))) from None
    env = _env_overrides()
    if env:
        merged = settings.model_dump()
        for section, values in env.items():
            merged[section].update(values)
        try:
            settings = Settings.model_validate(merged)
        except ValidationError as exc:
            raise ConfigError(_describe_error(exc, ENV_ORIGIN)) from None
    return settings


def literal(value: Any) -> str:
    """A value as config.toml spells it: true, 0.1, "text"."""
    return json.dumps(value, ensure_ascii=False)


def get(settings: Settings, key: str) -> Any:
    section, name = _split(key)
    return getattr(getattr(settings, section), name)


def _split(key: str) -> tuple[str, str]:
    known = all_keys()
    if key not in known:
        import difflib

        name = key.split(".")[-1]  # a part of a key's name, not any few letters of one
        close = [k for k in known if len(name) >= 4 and name in k]
        close += [
            k for k in difflib.get_close_matches(key, known, n=3, cutoff=0.85) if k not in close
        ]
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise ConfigError(f"unknown config key '{key}'.{hint} `memrl config show` lists them all.")
    section, name = key.split(".")
    return section, name


def _check_model(directory: Path, key: str, value: str) -> str:
    """A model that cannot load is refused before the store is switched to it; returns the
    value to write (a model folder as an absolute path: every process reads the same one,
    wherever it starts)."""
    from memrl.embeddings import closest_models, spec, try_loading

    if key == "embedding.model_path":
        folder = Path(value).expanduser().resolve()
        try:  # one model's files, that run here
            try_loading(spec(EmbeddingSettings(model_path=str(folder))), models_dir(directory))
        except ModelUnavailable as exc:
            raise ConfigError(f"{key} = {value!r} is not accepted: {exc}") from None
        return str(folder)
    close = closest_models(value)
    if close is not None:
        raise ConfigError(
            f"{key} = {value!r} is not a fastembed model"
            + (f" (did you mean {', '.join(close)}?)" if close else "")
            + ". `python -c 'import fastembed; print(fastembed.TextEmbedding."
            "list_supported_models())'` lists them; leave the key empty for the bundled model."
        )
    return value


def set_value(directory: Path, key: str, value: str) -> Any:
    """Validate and write one key to config.toml, keeping the file's comments."""
    import tomlkit

    section, name = _split(key)
    model = SECTIONS[section]
    path = directory / CONFIG_FILE
    # Checked against the file's section alone: a bad value elsewhere (even the one being
    # replaced) must not stop the fix, and the environment's overrides are not written.
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}. Fix or delete the file.") from exc
    current = dict(raw.get(section) or {})
    current[name] = value
    try:
        typed = getattr(model.model_validate(current), name)
    except ValidationError as exc:
        errors = exc.errors()
        mine = [e for e in errors if e["loc"] and e["loc"][0] == name]
        if not mine:  # this value is fine; another key of the section in the file is not
            raise ConfigError(_describe_error(exc, str(path))) from None
        type_name, default, desc = all_keys()[key]
        raise ConfigError(
            f"{key} = {value!r} is not accepted: {mine[0]['msg']}. It takes {type_name} "
            f"(default {literal(default)}): {desc}"
        ) from None
    if typed and key in ("embedding.model", "embedding.model_path"):
        typed = _check_model(directory, key, typed)
    doc = tomlkit.parse(path.read_text(encoding="utf-8")) if path.exists() else tomlkit.document()
    table = doc.get(section)
    if table is None:
        table = tomlkit.table()
        doc[section] = table
    table[name] = typed
    from memrl.store.files import atomic_write_text, explain

    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise explain(exc, directory) from None

    atomic_write_text(path, tomlkit.dumps(doc))
    return typed


def commented_template() -> str:
    """The config.toml `memrl init` writes: every key, commented out at its default."""
    import json

    lines = [
        "# memrl settings. Every key is optional; uncomment to change it.",
        "# Environment variables MEMRL_<SECTION>_<KEY> override this file.",
        "",
    ]
    for section, model in SECTIONS.items():
        lines.append(f"[{section}]")
        for name, field in model.model_fields.items():
            lines += [f"# {line}" for line in textwrap.wrap(_described(field), 86)]
            default = field.default
            rendered = (
                json.dumps(default) if not isinstance(default, bool) else str(default).lower()
            )
            lines.append(f"# {name} = {rendered}")
        lines.append("")
    return "\n".join(lines)
