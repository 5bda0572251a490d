"""The Episode: one piece of work, as stored in `episodes/YYYY-MM-DD/<id>.json`.

The file holds what the episode *knows*. What memrl has *learned* about it (utility,
counts, last use) changes far more often and under concurrency, so it lives in the
ledger (`memrl.store.ledger`) and travels beside the episode as `LearningState`.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from memrl.errors import InvalidInput
from memrl.project import MAX_NAME
from memrl.vocab import Outcome, Source, TaskType

SCHEMA_VERSION = 1
SHORT_ID = 8
MIN_PREFIX = 4

# Limits, documented in the README. Longer input is refused, never silently cut.
MAX_TASK_CHARS = 2_000
MAX_ITEM_CHARS = 2_000
MAX_ITEMS = 200
MAX_TAG_CHARS = 64
MAX_EPISODE_BYTES = 512 * 1024
# Why json.loads raised RecursionError rather than JSONDecodeError: arrays or objects
# nested deeper than Python's stack. No episode is, so it is a broken file like any other.
TOO_DEEP = "nested too deeply"


# What a terminal would act on rather than show: ECMA-48 escape sequences whole (CSI with
# its parameters, OSC/DCS/APC/PM strings up to their terminator, two-character escapes),
# then any other C0 or C1 control but tab and newline. Shell output in a transcript often
# carries colour codes, and a title or `clear` sequence must not reach the next terminal.
_CONTROLS = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"  # CSI
    r"|(?:\x1b[\]P^_X]|[\x90\x9d-\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"  # strings
    r"|\x1b[ -/]*[0-~]?"  # other escapes (charset designation, keypad mode, reset)
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f]"  # the rest of C0, DEL and C1; not \t or \n
)


def strip_controls(text: str) -> str:
    """`text` without terminal controls (see _CONTROLS); tab and newline stay."""
    return _CONTROLS.sub("", text)


def _clean(text: str) -> str:
    """Refuse text that is not valid Unicode; drop terminal controls (see _CONTROLS), which
    would clear a screen or retitle a window wherever the text is shown later."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(
            "contains bytes that are not valid UTF-8; re-save the input as UTF-8"
        ) from None
    return strip_controls(text).strip()


def _item(limit: int):
    def check(text: str) -> str:
        text = _clean(text)
        if len(text) > limit:
            raise ValueError(f"is {len(text):,} characters; the limit is {limit:,}")
        return text

    return AfterValidator(check)


Text = Annotated[str, _item(MAX_ITEM_CHARS)]
Tag = Annotated[str, _item(MAX_TAG_CHARS)]


def _dedupe(items: list[str]) -> list[str]:
    seen: dict[str, None] = {}
    for item in items:
        if item:
            seen.setdefault(item, None)
    return list(seen)


class ErrorResolution(BaseModel):
    model_config = ConfigDict(extra="forbid")

    error: Text
    resolution: Text = ""

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value: Any) -> Any:
        """ "error => resolution" (as `memrl capture --error` takes it) is one too."""
        if isinstance(value, str):
            error, sep, resolution = value.partition("=>")
            return {"error": error.strip(), "resolution": resolution.strip() if sep else ""}
        return value

    @field_validator("error")
    @classmethod
    def _error_present(cls, v: str) -> str:
        if not v:
            raise ValueError("must not be empty")
        return v


def now() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


class Episode(BaseModel):
    """One captured piece of work. Field order is the order of the JSON file."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    schema_version: int = SCHEMA_VERSION
    id: str = Field(default_factory=new_id, pattern=r"^[0-9a-f]{32}$")
    created_at: datetime = Field(default_factory=now)
    updated_at: datetime = Field(default_factory=now)
    project: Annotated[str, _item(MAX_NAME)] = ""
    session_id: Annotated[str, _item(200)] | None = None
    task: Annotated[str, _item(MAX_TASK_CHARS)] = ""
    summary: str
    outcome: Outcome = Outcome.unknown
    task_type: TaskType = TaskType.unknown
    what_worked: list[Text] = Field(default_factory=list, max_length=MAX_ITEMS)
    what_failed: list[Text] = Field(default_factory=list, max_length=MAX_ITEMS)
    errors_resolved: list[ErrorResolution] = Field(default_factory=list, max_length=MAX_ITEMS)
    files: list[Text] = Field(default_factory=list, max_length=MAX_ITEMS)
    commands: list[Text] = Field(default_factory=list, max_length=MAX_ITEMS)
    tags: list[Tag] = Field(default_factory=list, max_length=MAX_ITEMS)
    source: Source = Source.cli
    merged_from: list[str] = Field(default_factory=list)
    pinned: bool = False
    redactions: dict[str, int] = Field(default_factory=dict)

    @field_validator("summary")
    @classmethod
    def _summary(cls, v: str) -> str:
        v = _clean(v)
        if not v:
            raise ValueError("must not be empty: say in a sentence or two what was done")
        return v

    @field_validator("created_at", "updated_at")
    @classmethod
    def _utc(cls, v: datetime) -> datetime:
        return v.replace(tzinfo=UTC) if v.tzinfo is None else v.astimezone(UTC)

    @field_validator("what_worked", "what_failed", "files", "commands", "merged_from")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        return _dedupe(v)

    @field_validator("tags")
    @classmethod
    def _tags(cls, v: list[str]) -> list[str]:
        return _dedupe([" ".join(t.split()).lower().lstrip("#") for t in v])  # one line each

    @property
    def short_id(self) -> str:
        return self.id[:SHORT_ID]

    @property
    def title(self) -> str:
        """One line for tables: the task, else the start of the summary."""
        text = self.task or self.summary
        return text.splitlines()[0] if text else ""

    def shown(self) -> Episode:
        """A copy to show a person: direction controls in its text shown as their codes
        (`views.visible`), so no field reads other than it is stored."""
        from memrl.views import visible

        return self.model_copy(
            update={
                "project": visible(self.project),
                "task": visible(self.task),
                "summary": visible(self.summary),
                "what_worked": [visible(t) for t in self.what_worked],
                "what_failed": [visible(t) for t in self.what_failed],
                "errors_resolved": [
                    e.model_copy(
                        update={"error": visible(e.error), "resolution": visible(e.resolution)}
                    )
                    for e in self.errors_resolved
                ],
                "files": [visible(t) for t in self.files],
                "commands": [visible(t) for t in self.commands],
                "tags": [visible(t) for t in self.tags],
            }
        )

    def embedding_text(self) -> str:
        """What the vector represents: intent and lessons, most important first."""
        parts = [self.task, self.summary]
        parts += [f"Worked: {w}" for w in self.what_worked]
        parts += [f"Failed: {w}" for w in self.what_failed]
        parts += [f"Error: {e.error} Fix: {e.resolution}" for e in self.errors_resolved]
        if self.tags:
            parts.append("Tags: " + ", ".join(self.tags))
        return "\n".join(p for p in parts if p)

    def search_text(self) -> str:
        """What full-text search sees: everything, so exact identifiers are found."""
        extra = [*self.files, *self.commands, self.project, self.task_type.value]
        return self.embedding_text() + "\n" + "\n".join(extra)

    def content_hash(self) -> str:
        """Changes whenever what the index holds for this episode must change."""
        payload = json.dumps(
            [self.search_text(), self.project, self.created_at.isoformat()], ensure_ascii=False
        )
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def to_json(self) -> str:
        return self.model_dump_json(indent=2) + "\n"

    def day(self) -> str:
        return self.created_at.strftime("%Y-%m-%d")


def migrate(data: dict[str, Any]) -> dict[str, Any]:
    """Bring an older file's dict to the current schema. Version 1 is the first."""
    version = data.get("schema_version", 1)
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise InvalidInput(
            f"episode schema_version {version!r} is newer than this memrl understands "
            f"({SCHEMA_VERSION}); upgrade memrl."
        )
    data["schema_version"] = SCHEMA_VERSION
    return data


def _plain(message: str) -> str:
    """pydantic's wording as a sentence about the field: `Input should be a valid list` →
    `must be a valid list`, `List should have at most 200 items after validation, not 201`
    → `must have at most 200 items, not 201`, `Value error, x` → `x`."""
    message = message.removeprefix("Value error, ").replace(" after validation", "")
    message = re.sub(r", (unable to parse|got a number).*", "", message)
    return re.sub(r"^(Input|List|String|Tuple|Set|Dictionary|Value) should ", "must ", message)


SHOWN_PROBLEMS = 5  # of a validation's problems, those named one by one


def describe_validation(exc: ValidationError, what: str = "episode") -> str:
    """Turn pydantic's report into one line per field, naming what to send instead."""
    hints = {
        "outcome": "one of " + ", ".join(o.value for o in Outcome),
        "task_type": "one of " + ", ".join(t.value for t in TaskType),
        "source": "one of " + ", ".join(s.value for s in Source),
    }
    lines = []
    errors = exc.errors()
    extra = [e for e in errors if e["type"] == "extra_forbidden" and len(e["loc"]) == 1]
    for err in errors:
        loc = ".".join(str(p) for p in err["loc"]) or what
        field = str(err["loc"][0]) if err["loc"] else ""
        msg = _plain(err["msg"])
        if err in extra:
            msg = "is not an episode field"
            if err is extra[-1]:  # the list of fields once, after the last unknown one
                msg += f" (fields: {', '.join(Episode.model_fields)})"
        elif err["type"] == "extra_forbidden":
            msg = "is not a field here"
        elif err["type"] == "missing":
            msg = "is required"
        elif field in hints and err["type"] in ("enum", "literal_error"):
            msg = f"must be {hints[field]}, not {err.get('input')!r}"
        elif err["type"] == "string_pattern_mismatch" and field == "id":
            msg = "must be 32 lower-case hex characters, as `memrl show --json` prints it"
        lines.append(f"{loc} {msg}")
    if len(lines) > SHOWN_PROBLEMS + 1:  # 190 long file names: not 190 lines of the same
        lines[SHOWN_PROBLEMS:] = [f"and {len(lines) - SHOWN_PROBLEMS:,} more"]
    out = f"invalid {what}: " + "; ".join(lines)
    if {str(e["loc"][0]) for e in extra} & {"learning", "archived"}:
        out += (
            ". This is what `memrl show --json` or `memrl export` prints: `memrl import` takes "
            "export lines whole; to capture a copy, drop id, short_id, learning, archived, "
            "merged_into, merged_from and redactions"
        )
    return out


def parse(data: dict[str, Any] | str | bytes, what: str = "episode") -> Episode:
    """Validate untrusted input into an Episode, raising InvalidInput with a clear message."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInput(
                f"{what} is not valid UTF-8 (byte {exc.start}); re-save it as UTF-8"
            ) from None
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"{what} is not valid JSON: {exc}") from None
        except RecursionError:
            raise InvalidInput(f"{what} is not valid JSON ({TOO_DEEP})") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"{what} must be a JSON object, got {type(data).__name__}")
    data = migrate(dict(data))
    try:
        episode = Episode.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput(describe_validation(exc, what)) from None
    size = len(episode.to_json().encode())
    if size > MAX_EPISODE_BYTES:
        fields = episode.model_dump(mode="json")
        biggest = max(fields, key=lambda name: len(json.dumps(fields[name], ensure_ascii=False)))
        most = len(json.dumps(fields[biggest], ensure_ascii=False).encode())
        raise InvalidInput(
            f"{what} is {size // 1024:,} KB; at most {MAX_EPISODE_BYTES // 1024} KB "
            f"(most of it in {biggest}, {most // 1024:,} KB): keep summaries and lists short"
        )
    return episode
