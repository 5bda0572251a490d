"""The MCPServer: the seven tools registered, and arguments checked before they run.

The SDK's own report on bad arguments is a pydantic dump; Claude does better with one
line per problem and the tool's parameters beside it, so that report is rewritten here.
Unknown parameters are refused too: silently ignoring `projct="x"` would search the wrong
place.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp.types import ToolAnnotations
from pydantic import ValidationError

from memrl import __version__
from memrl.mcp import protocol
from memrl.mcp.backend import Backend
from memrl.mcp.tools import Tools
from memrl.views import plural

DESCRIPTIONS = {
    "memrl_retrieve": (
        "Search past experiences before non-trivial work: give the task in a sentence or the "
        "exact error line. Results are ranked by relevance (meaning and exact words) and "
        "learned utility, weak matches marked, from all projects unless `project` is given "
        "(each result names its project). Give an episode id as the query to see it in full; "
        "all=true lists episodes newest first, paged."
    ),
    "memrl_capture": (
        "Save what this task taught, at its end, without being asked: summary, outcome, what "
        "worked, what failed, errors resolved, files modified. Failures are worth capturing. "
        "Earlier retrievals in this session share the outcome's credit. `project` defaults to "
        "this session's project; set it to file a memory under another project."
    ),
    "memrl_feedback": (
        "Rate retrieved memories: helpful=true when one helped, false when it misled or did "
        "not apply. Returns each episode's utility before and after."
    ),
    "memrl_status": (
        "Memory health: episode counts for a project (default: this session's project) and "
        "overall, index and model state, and what to fix."
    ),
    "memrl_stats": (
        "Statistics: episodes per project and outcome, utility distribution, the most useful "
        "memories, feedback counts. All projects unless `project` is given."
    ),
    "memrl_propagate": (
        "Maintenance: recompute how utility spreads between similar episodes, and with "
        "temporal=true credit outcomes whose earlier retrievals were never credited. Covers "
        "every project unless `project` is given; then only that project's episodes are "
        "updated (value reaching them from other projects included) and only its outcomes "
        "credited. Returns what changed."
    ),
    "memrl_review": (
        'Curate the memory (default: this session\'s project; project="*" for all). '
        "analyze: near-duplicate clusters, stale, unused and dead-weight episodes. merge: "
        "combine the given episodes (2+) into one, with a summary you write; it stays in their "
        "project unless `project` names another. cleanup: archive the dead weight "
        "(restorable). merge and cleanup are dry runs unless dry_run=false."
    ),
}

READ_ONLY = {"memrl_status", "memrl_stats"}


def _usage(schema: dict[str, Any]) -> str:
    """`query (string), limit (integer 1–50), …` from a tool's input schema."""
    required = set(schema.get("required", []))
    parts = []
    for name, prop in schema.get("properties", {}).items():
        kinds = [prop, *prop.get("anyOf", [])]
        enum = next((k["enum"] for k in kinds if "enum" in k), None)
        typed = [k for k in kinds if k.get("type") and k.get("type") != "null"]
        kind = "|".join(map(str, enum)) if enum else (typed[0]["type"] if typed else "object")
        if kind == "array":
            items = typed[0].get("items", {})
            ref = items.get("$ref", "").rsplit("/", 1)[-1]
            fields = schema.get("$defs", {}).get(ref, {}).get("properties", {})
            kind = "list of " + (
                "{" + ", ".join(fields) + "}" if fields else items.get("type", "any")
            )
        lo, hi = prop.get("minimum"), prop.get("maximum")
        if lo is not None and hi is not None:
            kind += f" {lo}–{hi}"
        extra = ", required" if name in required else ""
        parts.append(f"{name} ({kind}{extra})")
    return ", ".join(parts)


def _explain(name: str, exc: ValidationError, schema: dict[str, Any]) -> str:
    problems = []
    for err in exc.errors()[:8]:
        loc = ".".join(str(p) for p in err["loc"]) or "arguments"
        msg = err["msg"].replace("Input should", "should").replace("Value error, ", "")
        msg = msg.replace("should be a valid boolean", "should be true or false")
        if err["type"] == "model_type":  # "… or instance of ErrorResolved": a class of ours
            msg = "should be an object"
        if err["type"] == "missing":
            problems.append(f"{loc} is required")
            continue
        if err["type"] == "string_unicode":
            problems.append(f"{loc} is not valid UTF-8 text (a lone surrogate); send plain text")
            continue
        if err["type"] == "extra_forbidden":
            problems.append(f"{loc} is not a known field")
            continue
        ctx, given = err.get("ctx", {}), err.get("input")
        if err["type"] == "string_too_long" and isinstance(given, str):
            problems.append(f"{loc} is {len(given):,} characters; at most {ctx['max_length']:,}")
            continue
        if err["type"] == "too_short" and not ctx.get("actual_length"):
            problems.append(f"{loc} is empty: give at least one")
            continue
        if err["type"] in ("too_long", "too_short") and "actual_length" in ctx:
            most = "at most" if err["type"] == "too_long" else "at least"
            bound = ctx.get("max_length", ctx.get("min_length"))
            problems.append(f"{loc} has {plural(ctx['actual_length'], 'item')}; {most} {bound}")
            continue
        shown = repr(err.get("input"))
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        problems.append(f"{loc} {msg} (got {shown})")
    return _safe(
        f"{name}: invalid arguments — " + "; ".join(problems) + f". It takes: {_usage(schema)}."
    )


def _safe(text: str) -> str:
    """Lone surrogates from the caller's input cannot be encoded as JSON: replace them."""
    return text.encode("utf-8", "replace").decode("utf-8")


class MemrlServer(MCPServer[Any]):
    """The SDK's server, with the tools bound to one backend and arguments checked first."""

    def __init__(self, backend: Backend, *, warm: bool = True) -> None:
        @asynccontextmanager
        async def lifespan(_server: MCPServer[Any]) -> AsyncIterator[dict[str, Any]]:
            if warm:
                backend.start_warmup()
            yield {}

        super().__init__(
            protocol.NAME,
            instructions=protocol.INSTRUCTIONS,
            version=__version__,
            lifespan=lifespan,
            log_level="WARNING",
        )
        self.backend = backend
        tools = Tools(backend)
        for name, text in DESCRIPTIONS.items():
            self.add_tool(
                tools.declared(name),
                name=name,
                description=text,
                annotations=ToolAnnotations(
                    read_only_hint=name in READ_ONLY,
                    destructive_hint=name == "memrl_review",
                    open_world_hint=False,
                ),
            )
        self._schemas: dict[str, dict[str, Any]] = {}

    async def _schema(self, name: str) -> dict[str, Any] | None:
        if not self._schemas:
            self._schemas = {t.name: t.input_schema for t in await self.list_tools()}
        return self._schemas.get(name)

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Any = None) -> Any:
        schema = await self._schema(name)
        if schema is None:
            raise ToolError(
                _safe(f"there is no tool {name!r}; the tools are {', '.join(DESCRIPTIONS)}")
            )
        unknown = sorted(set(arguments or {}) - set(schema.get("properties", {})))
        if unknown:
            shown = ", ".join(repr(u)[:40] for u in unknown[:5])
            raise ToolError(_safe(f"{name} has no parameter {shown}. It takes: {_usage(schema)}."))
        try:
            return await super().call_tool(name, arguments or {}, context)
        except UnexpectedToolError:
            raise
        except ToolError as exc:
            if isinstance(exc.__cause__, ValidationError):
                raise ToolError(_explain(name, exc.__cause__, schema)) from None
            said = str(exc).removeprefix(f"Error executing tool {name}: ")
            raise ToolError(_safe(f"{name}: {said}")) from None  # it may quote the caller
