"""The seven tools: validate, call the Memory facade, return a model and its text.

Limits (also in each parameter's schema): query ≤ 2,000 characters; limit 1–50; page ≥ 1;
summary ≤ 20,000 characters (`capture.max_summary_chars`); task ≤ 2,000; each list ≤ 200
items of ≤ 2,000 characters (tags ≤ 64); a whole episode ≤ 512 KB; project ≤ 200
characters. Longer input is refused with the limit named, never silently cut.

Every failure a caller can fix is a tool error whose message says what to send instead;
anything else is logged to `logs/mcp.log` in the data dir and reported briefly. Either
way the server keeps serving, and a rejected call changes nothing: the core validates
and resolves everything before it writes.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, TextContent
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from memrl.episode import MAX_ITEM_CHARS, MAX_ITEMS, MAX_TAG_CHARS, describe_validation
from memrl.errors import MemrlError
from memrl.mcp import actions, models, render, retrieve
from memrl.mcp.backend import Backend
from memrl.memory import Memory
from memrl.project import ALL, MAX_NAME, given
from memrl.retrieval import MAX_QUERY_CHARS

if TYPE_CHECKING:
    from memrl.config import Settings

T = TypeVar("T")
MAX_LIMIT = 50  # results one memrl_retrieve returns at most
TaskTypeName = Literal[
    "bugfix", "feature", "refactor", "test", "docs", "research", "debug", "setup", "unknown"
]

# Each tool's `project`, described as that tool takes it.
_NAME = "A project name (as memrl_stats lists them, e.g. 'acme/app'; a trailing '/' is dropped)"
AnyProject = Annotated[  # retrieve, stats, propagate
    str | None,
    Field(
        description=f"{_NAME}, or '*' for every project. Left out: every project.",
        max_length=MAX_NAME,
    ),
]
OwnProject = Annotated[  # status
    str | None,
    Field(
        description=f"{_NAME}, or '*' for every project. Left out: this session's project.",
        max_length=MAX_NAME,
    ),
]
CaptureProject = Annotated[
    str | None,
    Field(
        description=f"{_NAME} to file the episode under; not '*', as an episode belongs to one "
        "project. Left out: this session's project (its git repository, else its folder).",
        max_length=MAX_NAME,
    ),
]
ReviewProject = Annotated[
    str | None,
    Field(
        description=f"{_NAME}, or '*' for every project: the project analyze and cleanup "
        "cover; for merge, the project the merged episode goes to ('*': its episodes' own). "
        "Left out: this session's project (merge: its episodes' own).",
        max_length=MAX_NAME,
    ),
]
Items = Annotated[
    list[Annotated[str, Field(max_length=MAX_ITEM_CHARS)]] | None,
    Field(max_length=MAX_ITEMS, description=f"Up to {MAX_ITEMS} short items."),
]
Refs = Annotated[
    list[Annotated[str, Field(max_length=64)]],
    Field(
        min_length=1,
        max_length=MAX_ITEMS,
        description="Episode ids: 8 characters as shown, or any unique prefix of 4+; "
        "'last' means the hits (weak matches aside) of this session's latest logged search: "
        "the latest memrl_retrieve that searched, or showed an episode by id. A listing "
        "(all=true), a refused or failed call, and a search on a read-only store are not "
        "logged, so 'last' stays the search before; the reply names the search it rated.",
    ),
]


class ErrorResolved(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt key would lose its text

    error: Annotated[str, Field(max_length=MAX_ITEM_CHARS, description="The error message")]
    resolution: Annotated[str, Field(max_length=MAX_ITEM_CHARS, description="What fixed it")] = ""


def result(model: BaseModel, text: str) -> CallToolResult:
    safe = text.encode("utf-8", "replace").decode("utf-8")
    return CallToolResult(
        content=[TextContent(type="text", text=safe)],
        structured_content=model.model_dump(mode="json"),
    )


def every_project(value: str | None) -> str | None:
    """A project to read from: '*' (every project) is the same as leaving it out."""
    return None if value == ALL else value


def clean_project(value: str | None, *, named: bool = False) -> str | None:
    """None for 'not given' (null or blank); otherwise a printable name. With `named`, the
    name is one to file an episode under, so '*' (all projects, to memrl_review) is not."""
    if value is None or not value.strip():
        return None
    try:
        value = given(value)  # 'acme/app/' is 'acme/app'
    except MemrlError as exc:
        raise ToolError(str(exc)) from None
    if not value.isprintable():
        raise ToolError("project must be a printable project name, e.g. 'acme/app'")
    if named and value == "*":
        raise ToolError(
            "'*' means every project and cannot name one; leave project out for this "
            "session's project, or give a name such as 'acme/app'"
        )
    return value


def with_defaults(
    fn: Callable[..., T], fields: dict[str, Any] | None = None, **defaults: Any
) -> Callable[..., T]:
    """`fn` with other defaults in its signature, which is what the SDK builds a tool's schema
    from, and fills in the arguments a call leaves out with; `fields` adds to a parameter's
    Field (a limit read from the settings, say), whose schema the SDK validates calls by."""
    sig = inspect.signature(fn, eval_str=True)
    params = [
        p.replace(
            default=defaults.get(p.name, p.default),
            annotation=Annotated[p.annotation, fields[p.name]]
            if fields and p.name in fields
            else p.annotation,
        )
        for p in sig.parameters.values()
    ]

    @functools.wraps(fn)
    def tool(*args: Any, **kwargs: Any) -> T:
        return fn(*args, **kwargs)

    tool.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
    return tool


# what a tool's `summary` is, before its limit
SUMMARIES = {
    "memrl_capture": "What was done and learned, in a few sentences",
    "memrl_review": "merge: one summary covering all of them",
}


class Tools:
    def __init__(self, backend: Backend) -> None:
        self.b = backend

    def declared(self, name: str) -> Callable[..., CallToolResult]:
        """The tool to register as `name`. memrl_retrieve's `limit` defaults to
        `retrieval.limit` (at most 50), as `memrl search` does; a summary's limit is
        `capture.max_summary_chars`, declared in the schema. Both are read when the server is
        built, as the server reads every setting once."""
        fn = getattr(self, name)
        if name == "memrl_retrieve":
            return with_defaults(fn, limit=min(self._settings.retrieval.limit, MAX_LIMIT))
        if name in SUMMARIES:
            limit = self._settings.capture.max_summary_chars
            said = f"{SUMMARIES[name]} (≤ {limit:,} characters)."
            return with_defaults(fn, {"summary": Field(max_length=limit, description=said)})
        return fn

    @functools.cached_property
    def _settings(self) -> Settings:
        """Read once for every tool declared: config.toml is read as the server starts."""
        return self.b.settings()

    def _run(self, tool: str, fn: Callable[[Memory], T]) -> T:
        return self._guarded(tool, lambda: self.b.call(fn))

    def _guarded(self, tool: str, work: Callable[[], T]) -> T:
        try:
            return work()
        except ToolError:
            raise
        except MemrlError as exc:
            raise ToolError(str(exc)) from None
        except ValidationError as exc:
            raise ToolError(describe_validation(exc, "input")) from None
        except Exception as exc:
            path = self.b.log_crash(tool, exc)
            where = f"; details are in {path}" if path else ""
            raise ToolError(
                f"memrl hit an unexpected error ({type(exc).__name__}){where}. Try again; if it "
                "persists, run `memrl status` in a terminal."
            ) from None

    def memrl_retrieve(
        self,
        query: Annotated[
            str,
            Field(
                max_length=MAX_QUERY_CHARS,
                description="What you are about to do, or the exact error line. An episode id "
                "(8 characters as shown; a shorter prefix of 4+ needs a digit in it) or 'latest' "
                "shows that episode in full.",
            ),
        ] = "",
        all: Annotated[
            bool,
            Field(
                strict=True,
                description="List episodes newest first instead of searching (paged). A query "
                "then keeps those whose task or summary contains it.",
            ),
        ] = False,
        limit: Annotated[
            int,
            Field(strict=True, ge=1, le=MAX_LIMIT, description="Results per call, 1–50."),
        ] = 5,  # registered with retrieval.limit instead: see declared()
        project: AnyProject = None,
        page: Annotated[
            int,
            Field(strict=True, ge=1, le=100_000, description="Page of the listing (all=true)."),
        ] = 1,
    ) -> Annotated[CallToolResult, models.RetrieveResult]:
        project = every_project(clean_project(project))
        out = self._run(
            "memrl_retrieve",
            lambda m: retrieve.run(m, self.b, query, all, limit, project, page),
        )
        return result(out, render.retrieve(out))

    def memrl_capture(
        self,
        summary: Annotated[
            str,
            Field(
                description="What was done and learned, in a few sentences (≤ 20,000 characters)."
            ),
        ],
        outcome: Literal["success", "partial", "failure", "unknown"] = "success",
        task: Annotated[str | None, Field(max_length=2_000, description="What was asked.")] = None,
        task_type: TaskTypeName | None = None,
        project: CaptureProject = None,
        what_worked: Items = None,
        what_failed: Items = None,
        files_modified: Items = None,
        tags: Annotated[
            list[Annotated[str, Field(max_length=MAX_TAG_CHARS)]] | None,
            Field(max_length=MAX_ITEMS),
        ] = None,
        errors_resolved: Annotated[list[ErrorResolved] | None, Field(max_length=MAX_ITEMS)] = None,
    ) -> Annotated[CallToolResult, models.CaptureResult]:
        data = {
            "summary": summary,
            "outcome": outcome,
            "task": task,
            "task_type": task_type,
            "project": clean_project(project, named=True) or self.b.project,
            "what_worked": what_worked,
            "what_failed": what_failed,
            "files": files_modified,
            "tags": tags,
            "errors_resolved": [e.model_dump() for e in errors_resolved or []],
        }
        out = self._run("memrl_capture", lambda m: actions.capture(m, self.b, data))
        return result(out, render.capture(out))

    def memrl_feedback(
        self,
        episodes: Refs,
        helpful: Annotated[
            bool, Field(strict=True, description="true if it helped, false if it misled.")
        ],
    ) -> Annotated[CallToolResult, models.FeedbackResult]:
        out = self._run("memrl_feedback", lambda m: actions.feedback(m, self.b, episodes, helpful))
        return result(out, render.feedback(out))

    def memrl_status(
        self, project: OwnProject = None
    ) -> Annotated[CallToolResult, models.StatusResult]:
        named = clean_project(project)
        scope = every_project(named) if named else self.b.project  # "*": every project
        out = self._guarded(  # also while the settings do not load: it says what is wrong
            "memrl_status",
            lambda: self.b.call_despite_settings(
                lambda m, settings_error, kept: actions.status(
                    m,
                    self.b,
                    scope,
                    named=named is not None,
                    settings_error=settings_error,
                    settings_kept=kept,
                )
            ),
        )
        return result(out, render.status(out))

    def memrl_stats(
        self, project: AnyProject = None
    ) -> Annotated[CallToolResult, models.StatsResult]:
        project = every_project(clean_project(project))
        out = self._run("memrl_stats", lambda m: actions.stats(m, project))
        return result(out, render.stats(out))

    def memrl_propagate(
        self,
        temporal: Annotated[
            bool,
            Field(
                strict=True,
                description="Also credit outcomes whose earlier retrievals were never credited.",
            ),
        ] = True,
        project: AnyProject = None,
    ) -> Annotated[CallToolResult, models.PropagateResult]:
        project = every_project(clean_project(project))
        out = self._run("memrl_propagate", lambda m: actions.propagate(m, project, temporal))
        return result(out, render.propagate(out))

    def memrl_review(
        self,
        action: Literal["analyze", "merge", "cleanup"] = "analyze",
        episodes: Annotated[
            list[Annotated[str, Field(max_length=64)]] | None,
            Field(
                max_length=MAX_ITEMS,
                description="merge: the ids to merge (2 or more); "
                "cleanup: archive only these of the dead weight (left out: all of it).",
            ),
        ] = None,
        summary: Annotated[
            str | None, Field(description="merge: one summary covering all of them.")
        ] = None,
        project: ReviewProject = None,
        dry_run: Annotated[
            bool, Field(strict=True, description="Only show what would change.")
        ] = True,
    ) -> Annotated[CallToolResult, models.ReviewResult]:
        named = clean_project(project)
        scope = every_project(named) if named else self.b.project  # "*": every project
        out = self._run(
            "memrl_review",
            lambda m: actions.review(
                m, action, episodes, summary, scope, dry_run, named=named is not None
            ),
        )
        return result(out, render.review(out))
