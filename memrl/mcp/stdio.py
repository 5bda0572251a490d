"""Serving over stdio with a handshake that does not wait for the MCP SDK to load.

Claude Code times out servers that are slow to answer `initialize`, and importing the
SDK alone takes a second or more. So the first line is read here: a well-formed
`initialize` is answered at once from `memrl.mcp.protocol`, then the SDK is imported,
and the model and LanceDB load in the background as soon as the server runs. The SDK is handed the same
`initialize` (so its session state is right) and its duplicate answer is dropped; every
later message flows through it untouched, bar the lines it would drop without an answer,
which `memrl.mcp.refusals` answers.

The real stdin and stdout are taken over first: fd 0 then reads /dev/null and fd 1
writes to stderr, so nothing a library prints can corrupt the protocol stream.

A client waits for the answer to every request it sent, so the server ends as it would at
the end of its input both when that comes and when it is stopped (SIGTERM, Ctrl-C), and
either way it first answers every request it had received.
"""

from __future__ import annotations

import json
import os
import select
import sys
import threading
import time
from typing import IO, Any

from memrl.mcp import protocol
from memrl.mcp.backend import Backend
from memrl.mcp.refusals import MAX_REQUEST_BYTES, id_or_none, oversized, refusal

FIRST_LINE_WAIT = 0.3  # seconds to wait for `initialize` before loading anything
STOP_WAIT = 10.0  # seconds the calls under way may take to finish once input ends or a stop
CHUNK = 1 << 16  # bytes read from the client at a time


def _take_stdio() -> tuple[int, IO[bytes]]:
    wire_in = os.dup(0)
    wire_out = os.fdopen(os.dup(1), "wb")
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)
    return wire_in, wire_out


def _readable(fd: int, timeout: float | None, stop_fd: int) -> bool:
    """Has the client sent more within `timeout` (None: however long it takes), before a stop
    was asked through `stop_fd`?"""
    try:
        ready, _, _ = select.select([fd, stop_fd], [], [], timeout)
    except (OSError, ValueError):  # not selectable (e.g. Windows pipes): just read
        return True
    return fd in ready


class _Wire:
    """The client's input, split into lines here rather than in a file's buffer, so that what
    it sent is known: once a stop is asked (a byte on `stop_fd`), what was sent before is
    read, and then input ends."""

    def __init__(self, fd: int, stop_fd: int) -> None:
        self.fd = fd
        self.stop_fd = stop_fd
        self.buffer = bytearray()

    def ready(self, timeout: float) -> bool:
        return bool(self.buffer) or _readable(self.fd, timeout, self.stop_fd)

    def readline(self, limit: int) -> bytes:
        """The next line with its newline, at most `limit` bytes; b"" at the end of input."""
        scanned = 0
        while (end := self.buffer.find(b"\n", scanned, limit)) < 0 and len(self.buffer) < limit:
            scanned = len(self.buffer)
            chunk = os.read(self.fd, CHUNK) if _readable(self.fd, None, self.stop_fd) else b""
            if not chunk:
                break
            self.buffer += chunk
        size = end + 1 if end >= 0 else min(limit, len(self.buffer))
        line = bytes(self.buffer[:size])
        del self.buffer[:size]
        return line


class _Calls:
    """The requests handed to the SDK and not answered yet."""

    def __init__(self) -> None:
        self._open: set[str | int] = set()
        self._changed = threading.Condition()

    def asked(self, line: bytes) -> None:
        msg = _parsed(line)
        with self._changed:
            if isinstance(msg.get("method"), str) and id_or_none(msg.get("id")) is not None:
                self._open.add(msg["id"])
            elif msg.get("method") == "notifications/cancelled":  # a cancelled call gets no reply
                params = msg.get("params")
                self._open.discard(params.get("requestId") if isinstance(params, dict) else None)
                self._changed.notify_all()

    def answered(self, msg: dict[str, Any]) -> None:
        if "result" in msg or "error" in msg:
            with self._changed:
                self._open.discard(msg.get("id"))
                self._changed.notify_all()

    def wait(self, timeout: float) -> None:
        """Until every call is answered, for at most `timeout` seconds."""
        with self._changed:
            self._changed.wait_for(lambda: not self._open, timeout)


def _parsed(text: str | bytes) -> dict[str, Any]:
    try:
        msg = json.loads(text)
    except (ValueError, RecursionError):
        return {}
    return msg if isinstance(msg, dict) else {}


class _Lines:
    """The client's lines as text, starting with the one already read."""

    def __init__(self, wire: _Wire, first: bytes | None, replies: _Replies) -> None:
        self.wire = wire
        self.first = first
        self.replies = replies

    def _next(self) -> bytes | None:
        """The next line, or None after answering (or dropping) one too large to read."""
        if self.first is not None:
            line, self.first = self.first, None
        else:
            line = self.wire.readline(MAX_REQUEST_BYTES)
        if len(line) < MAX_REQUEST_BYTES or line.endswith(b"\n"):
            return line
        head, tail, size = line[:4096], line[-4096:], len(line)
        while line and not line.endswith(b"\n"):  # skip the rest without holding it
            line = self.wire.readline(1 << 20)
            size += len(line)
            tail = (tail + line)[-4096:]
        answer = oversized(head, tail, size)
        if answer is not None:
            self.replies.write_raw(answer)
        return None

    def readline(self) -> str:
        while True:
            line = self._next()
            if line is None:
                continue
            if not line:  # the end: the SDK would drop the calls under way, so answer them first
                self.replies.calls.wait(STOP_WAIT)
                return ""
            answer = refusal(line)
            if answer is None:
                self.replies.calls.asked(line)
                return line.decode("utf-8", errors="replace")
            self.replies.write_raw(answer)

    def close(self) -> None:
        pass  # the descriptor belongs to the process, not to the SDK


class _Replies:
    """The SDK's output, minus its answer to the `initialize` already answered; each message
    is flushed as it is written, and `calls` told which requests it answers."""

    def __init__(self, wire: IO[bytes], lock: threading.Lock, skip_id: Any) -> None:
        self.wire = wire
        self.lock = lock
        self.skip_id = skip_id
        self.skipping = skip_id is not None
        self.calls = _Calls()

    def write(self, text: str) -> int:
        msg = _parsed(text)
        skipped = (
            self.skipping and msg.get("id") == self.skip_id and ("result" in msg or "error" in msg)
        )
        if skipped:
            self.skipping = False
        else:
            self.write_raw(text.encode("utf-8"))
        self.calls.answered(msg)
        return len(text)

    def write_raw(self, line: bytes) -> None:
        with self.lock:
            self.wire.write(line)
            self.wire.flush()

    def flush(self) -> None:
        with self.lock:
            self.wire.flush()

    def close(self) -> None:
        self.flush()


async def _serve_sdk(server: Any, lines: _Lines, replies: _Replies) -> None:
    import anyio
    from mcp.server.stdio import stdio_server

    async with stdio_server(anyio.wrap_file(lines), anyio.wrap_file(replies)) as (read, write):  # type: ignore[arg-type]
        low = server._lowlevel_server  # MCPServer.run_stdio_async, with our streams
        await low.run(read, write, low.create_initialization_options())


def _stop_when_asked(wire_out: IO[bytes], lock: threading.Lock) -> int:
    """On SIGTERM (Claude Code ending a session) or SIGINT: read what the client sent before,
    answer it, and exit; the descriptor returned becomes readable then.

    Sessions end right after Claude is told to capture what it learned: a capture killed
    between its file and its index row would leave an episode that search cannot find until
    `memrl index` runs, and one not answered leaves Claude unsure it was kept. Calls not done
    within STOP_WAIT seconds are left, as the signal's default would have left them.
    """
    import signal

    stop_fd, ask_fd = os.pipe()

    def finish() -> None:  # the server normally ends before this
        time.sleep(STOP_WAIT + 1)
        with lock:  # never leave a reply half written
            try:
                wire_out.flush()
            except (OSError, ValueError):
                pass
            sys.stderr.flush()
            os._exit(0)

    def asked(_signum: int, _frame: Any) -> None:
        os.write(ask_fd, b"\0")
        threading.Thread(target=finish, name="memrl-stop", daemon=True).start()

    signal.signal(signal.SIGTERM, asked)
    signal.signal(signal.SIGINT, asked)
    return stop_fd


def serve() -> None:
    wire_fd, wire_out = _take_stdio()
    lock = threading.Lock()
    wire_in = _Wire(wire_fd, _stop_when_asked(wire_out, lock))
    first: bytes | None = None
    skip_id: Any = None
    if wire_in.ready(FIRST_LINE_WAIT):
        first = wire_in.readline(MAX_REQUEST_BYTES)
        if not first:
            return  # the client went away before saying anything
        fast = protocol.fast_initialize(first)
        if fast is not None:
            skip_id, reply = fast
            with lock:
                wire_out.write(reply)
                wire_out.flush()

    # Imports stay on this thread: two threads importing the same packages at once (the SDK
    # and the core share pydantic, anyio, httpx…) can deadlock in the import system. The
    # warm-up thread starts from the server's lifespan, once all that is loaded, and only
    # imports what nothing else here needs (the model runtime, LanceDB).
    import anyio

    import memrl.memory  # noqa: F401
    from memrl.mcp.server import build_server

    backend = Backend()
    server = build_server(backend=backend)
    try:
        replies = _Replies(wire_out, lock, skip_id)
        anyio.run(_serve_sdk, server, _Lines(wire_in, first, replies), replies)
    finally:
        backend.finish(STOP_WAIT)
        sys.stderr.flush()
