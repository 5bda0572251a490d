"""Answers to the lines the MCP SDK would drop without replying, leaving a caller waiting.

Kept apart from the stdio loop: each is worked out from the line alone.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_REQUEST_BYTES = 2 * 1024 * 1024  # a whole episode is at most 512 KB; escaping can double it
_ID = re.compile(rb'"id"\s*:\s*(-?\d+|"(?:[^"\\]|\\.)*")')
_METHOD = re.compile(rb'"method"\s*:\s*"([^"]*)"')
_ARGUMENTS_NOT_AN_OBJECT = re.compile(rb'"arguments"\s*:\s*[^\s{n]')  # a string, a list…
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
SURROGATE_HINT = (
    "the request holds a lone UTF-16 surrogate (an escape such as \\ud800 without its pair), "
    "which is not valid Unicode text; send the text as UTF-8 (or as a complete escaped pair)"
)


def refusal(line: bytes) -> bytes | None:
    """The answer to a line the SDK would drop without replying, or None to pass it on.

    The SDK logs a line it cannot read as a JSON-RPC message and moves on, so a caller who
    sent a request waits forever. Such lines are answered here instead, with the request's
    id where one can be found: a tool call gets a tool error; anything else, a JSON-RPC
    error. JSON allows escapes such as `\\ud800` that stand for no character; a request
    holding one is refused with what to send instead.
    """
    import mcp_types

    if not line.strip():
        return None  # a blank line: nothing was asked
    try:
        mcp_types.jsonrpc_message_adapter.validate_json(line, by_name=False)
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        problem = _first_problem(exc)
    else:  # read, perhaps as a notification: a request's id of the wrong kind is ignored
        if _ARGUMENTS_NOT_AN_OBJECT.search(line):
            return _arguments(line)
        if b'"id"' not in line or _ID.search(line[:4096]) or not _bad_id(line):
            return None
        return _error(None, INVALID_REQUEST, "a request's id must be a string or a number")
    try:
        msg = json.loads(line)
    except RecursionError:
        msg = None
        problem = "it nests arrays or objects too deeply"
    except ValueError:
        found = _ID.search(line[:4096])
        req_id = json.loads(found.group(1)) if found else None
        return _error(req_id, PARSE_ERROR, f"the line is not valid JSON ({problem})")
    if isinstance(msg, list):
        return _batch(msg)
    if not isinstance(msg, dict):
        found = _ID.search(line[:4096])
        if found is None:
            return _error(None, INVALID_REQUEST, f"not a JSON-RPC message ({problem})")
        msg = {"id": json.loads(found.group(1)), "method": _method(line)}
    if "id" in msg and "method" not in msg and "result" not in msg and "error" not in msg:
        return _error(id_or_none(msg["id"]), INVALID_REQUEST, "a request needs a method")
    if "id" not in msg or not isinstance(msg.get("method"), str):
        return None  # a notification or a response: nobody waits for an answer
    req_id = id_or_none(msg["id"])
    if _LONE_SURROGATE.search(json.dumps(msg.get("params"), ensure_ascii=False)):
        text = SURROGATE_HINT
    elif "params" in msg and not isinstance(msg["params"], dict):
        text = "params must be a JSON object"
    else:
        text = f"not a valid JSON-RPC request ({problem})"
    return _reply(req_id, msg["method"], text)


PARSE_ERROR, INVALID_REQUEST, INVALID_PARAMS = -32700, -32600, -32602


def _first_problem(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if errors is None:
        return str(exc)
    first = errors()[0]
    msg = str(first.get("msg", "")).removeprefix("Invalid JSON: ")
    if "recursion limit" in msg:
        return "it nests arrays or objects too deeply"
    return msg or "not a JSON-RPC message"


def id_or_none(value: Any) -> Any:
    """The id to answer with: the request's own, when it is a valid one."""
    return value if isinstance(value, str | int) and not isinstance(value, bool) else None


def _bad_id(line: bytes) -> bool:
    """Is this a request whose id is neither a string nor a number (null, true, {…})?"""
    try:
        msg = json.loads(line)
    except (ValueError, RecursionError):
        return False
    return (
        isinstance(msg, dict) and "id" in msg and "method" in msg and id_or_none(msg["id"]) is None
    )


def _batch(msgs: list[Any]) -> bytes:
    """A refusal for each request in a batch, with its own id, so a caller waiting on any
    of them hears why; a batch holding no request gets one, with a null id."""
    text = "batches are not supported: send one message per line"
    ids = [id_or_none(m["id"]) for m in msgs if isinstance(m, dict) and "id" in m and "method" in m]
    answers = [_error(i, INVALID_REQUEST, text) for i in ids if i is not None]
    return b"".join(answers) or _error(None, INVALID_REQUEST, text)


def _arguments(line: bytes) -> bytes | None:
    """The answer to a tool call whose arguments are not an object (the SDK's own says only
    "Invalid request parameters"); often the object was sent as JSON text, a string."""
    try:
        msg = json.loads(line)
    except (ValueError, RecursionError):
        return None
    params = msg.get("params") if isinstance(msg, dict) else None
    if not isinstance(params, dict) or msg.get("method") != "tools/call" or "id" not in msg:
        return None
    args = params.get("arguments")
    if args is None or isinstance(args, dict):
        return None
    name = params.get("name")
    kind = {str: "a string", list: "a list", bool: "true or false"}.get(type(args), "a number")
    text = (
        f"{name + ': ' if isinstance(name, str) else ''}arguments must be a JSON object of "
        f'the tool\'s parameters, such as {{"query": "…"}}, not {kind}'
    )
    if isinstance(args, str) and args.strip().startswith("{"):
        text += " holding JSON text: send the object itself, not encoded as a string"
    return _reply(id_or_none(msg["id"]), "tools/call", text)


def _method(line: bytes) -> str:
    found = _METHOD.search(line[:4096])
    return found.group(1).decode("utf-8", "replace") if found else ""


def _error(req_id: Any, code: int, text: str) -> bytes:
    reply = {"jsonrpc": "2.0", "id": req_id, "error": {"code": code, "message": text}}
    return json.dumps(reply).encode() + b"\n"


def _reply(req_id: Any, method: str, text: str) -> bytes:
    if method == "tools/call":  # the caller's mistake to read and fix: a tool error
        result = {"content": [{"type": "text", "text": text}], "isError": True}
        return json.dumps({"jsonrpc": "2.0", "id": req_id, "result": result}).encode() + b"\n"
    return _error(req_id, INVALID_PARAMS, text)


def oversized(head: bytes, tail: bytes, size: int) -> bytes | None:
    """The answer to a request too large to read, if its id can be found at either end."""
    found = _ID.search(head) or _ID.search(tail)
    if found is None:
        return None
    text = (
        f"the request is {size / 1e6:.1f} MB; requests are limited to "
        f"{MAX_REQUEST_BYTES // (1024 * 1024)} MB (a query to 2,000 characters; an episode to "
        "512 KB, its summary to 20,000 characters). Send a shorter request."
    )
    return _reply(json.loads(found.group(1)), _method(head) or _method(tail), text)
