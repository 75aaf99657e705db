"""A scripted stand-in for the Anthropic and OpenAI model APIs.

``ScriptedModelServer`` is a small local HTTP server (stdlib only) that speaks enough of
the Anthropic Messages API and the OpenAI Chat Completions API for the real ``anthropic``
and ``openai`` SDKs to talk to it: streaming (SSE) and non-streaming, text and tool calls,
HTTP errors, delays and dropped connections. What it answers is decided by a *script*, a
list of replies consumed one per model request; every request is recorded so tests can
assert on what the client sent.

Run it standalone with::

    python -m pynchy_tui.testing.scripted_model --port 0 --script script.json

The script format and the HTTP endpoints are documented in ``docs/scripted-model.md``.
This module deliberately imports nothing outside the standard library.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import email.parser
import email.policy
import itertools
import json
import logging
import re
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "DEFAULT_TRANSCRIPT",
    "EXHAUSTED_TEXT",
    "MODEL_ID",
    "ScriptError",
    "ScriptedModelServer",
    "main",
    "normalize_reply",
]

logger = logging.getLogger(__name__)

EXHAUSTED_TEXT = "(scripted model: script exhausted)"
DEFAULT_TRANSCRIPT = "scripted transcript"
MODEL_ID = "scripted-model"

_STEP_KEYS: dict[str, frozenset[str]] = {
    "text": frozenset({"text", "chunk", "interval_ms"}),
    "tool": frozenset({"tool", "args", "id"}),
    "error": frozenset({"error", "message", "retry_after", "repeat", "type", "code"}),
    "delay_ms": frozenset({"delay_ms"}),
    "disconnect": frozenset({"disconnect"}),
    "usage": frozenset({"usage"}),
    "stop_reason": frozenset({"stop_reason"}),
}

_ANTHROPIC_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}

_OPENAI_ERROR_TYPES = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("permission_error", None),
    404: ("invalid_request_error", "not_found"),
    429: ("rate_limit_error", "rate_limit_exceeded"),
}

# Anthropic stop_reason -> OpenAI finish_reason.
_FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "tool_use": "tool_calls",
    "max_tokens": "length",
    "refusal": "content_filter",
    "pause_turn": "stop",
}

_WORD_RE = re.compile(r"\s*\S+|\s+")


class ScriptError(ValueError):
    """The script (or a reply added at runtime) is malformed."""


# ---------------------------------------------------------------------------
# Script handling
# ---------------------------------------------------------------------------


def _step_kind(step: dict[str, Any]) -> str:
    for kind in _STEP_KEYS:
        if kind in step:
            return kind
    raise ScriptError(f"unknown step {step!r}: expected one of {', '.join(_STEP_KEYS)}")


def _validate_step(step: Any, where: str) -> dict[str, Any]:
    if isinstance(step, str):
        return {"text": step}
    if not isinstance(step, dict):
        raise ScriptError(f"{where}: a step must be a JSON object, got {step!r}")
    kind = _step_kind(step)
    extra = set(step) - _STEP_KEYS[kind]
    if extra:
        raise ScriptError(f"{where}: unexpected key(s) {sorted(extra)} in {kind} step {step!r}")
    if kind == "text" and not isinstance(step["text"], str):
        raise ScriptError(f"{where}: 'text' must be a string")
    if kind == "tool":
        if not isinstance(step["tool"], str) or not step["tool"]:
            raise ScriptError(f"{where}: 'tool' must be a non-empty tool name")
        if not isinstance(step.get("args", {}), dict):
            raise ScriptError(f"{where}: 'args' must be a JSON object")
    if kind == "error" and not isinstance(step["error"], int):
        raise ScriptError(f"{where}: 'error' must be an HTTP status code")
    if kind == "usage" and not isinstance(step["usage"], dict):
        raise ScriptError(f"{where}: 'usage' must be a JSON object")
    for key in ("chunk", "interval_ms", "delay_ms", "repeat"):
        if key in step and (not isinstance(step[key], int | float) or step[key] < 0):
            raise ScriptError(f"{where}: {key!r} must be a non-negative number")
    if kind == "text" and "chunk" in step and step["chunk"] < 1:
        raise ScriptError(f"{where}: 'chunk' must be at least 1")
    return dict(step)


def normalize_reply(raw: Any, index: int = 0) -> dict[str, Any]:
    """Validate one script reply and return it as ``{"steps": [...], "match": str | None}``.

    Accepted spellings: a list of steps; ``{"steps": [...], "match": "..."}``; a single
    step object (shorthand for a one-step reply); a bare string (a one-step text reply).
    Inside a step list a bare string is shorthand for ``{"text": ...}``.
    """
    where = f"reply {index}"
    match: str | None = None
    if isinstance(raw, str):
        steps: Any = [{"text": raw}]
    elif isinstance(raw, list):
        steps = raw
    elif isinstance(raw, dict) and "steps" in raw:
        extra = set(raw) - {"steps", "match"}
        if extra:
            raise ScriptError(f"{where}: unexpected key(s) {sorted(extra)}")
        steps = raw["steps"]
        match = raw.get("match")
        if match is not None and not isinstance(match, str):
            raise ScriptError(f"{where}: 'match' must be a string")
        if not isinstance(steps, list):
            raise ScriptError(f"{where}: 'steps' must be a list")
    elif isinstance(raw, dict):
        steps = [raw]
    else:
        raise ScriptError(f"{where}: a reply must be a list of steps or an object, got {raw!r}")
    checked = [_validate_step(step, f"{where}, step {i}") for i, step in enumerate(steps)]
    return {"steps": checked, "match": match}


class _Reply:
    __slots__ = ("index", "match", "steps", "uses_left")

    def __init__(self, index: int, normalized: dict[str, Any]) -> None:
        self.index = index
        self.steps: list[dict[str, Any]] = normalized["steps"]
        self.match: str | None = normalized["match"]
        repeat = max((int(s.get("repeat", 0)) for s in self.steps if "error" in s), default=0)
        self.uses_left = 1 + repeat

    def fits(self, text: str) -> bool:
        return self.match is None or self.match in text


def _load_script_file(path: str | Path) -> tuple[list[Any], list[Any]]:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if isinstance(data, list):
        return data, []
    if isinstance(data, dict):
        extra = set(data) - {"replies", "transcripts"}
        if extra:
            raise ScriptError(f"{path}: unexpected top-level key(s) {sorted(extra)}")
        replies = data.get("replies", [])
        transcripts = data.get("transcripts", [])
        if not isinstance(replies, list) or not isinstance(transcripts, list):
            raise ScriptError(f"{path}: 'replies' and 'transcripts' must be lists")
        return replies, transcripts
    raise ScriptError(f"{path}: a script must be a JSON list of replies")


# ---------------------------------------------------------------------------
# Helpers for building responses
# ---------------------------------------------------------------------------


def _text_pieces(step: dict[str, Any]) -> list[str]:
    text: str = step["text"]
    if not text:
        return []
    chunk = step.get("chunk")
    if chunk:
        n = int(chunk)
        return [text[i : i + n] for i in range(0, len(text), n)]
    return _WORD_RE.findall(text)


def _json_pieces(payload: str, parts: int = 3) -> list[str]:
    if len(payload) <= parts:
        return [payload]
    size = -(-len(payload) // parts)
    return [payload[i : i + size] for i in range(0, len(payload), size)]


def _count_chars(value: Any) -> int:
    """Characters of the text carried by a message ``content`` (string, blocks or parts)."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, list):
        return sum(_count_chars(v) for v in value)
    if not isinstance(value, dict):
        return 0
    total = 0
    for key in ("text", "content", "thinking"):
        total += _count_chars(value.get(key))
    if "input" in value:
        total += len(json.dumps(value["input"]))
    function = value.get("function")
    if isinstance(function, dict):
        total += _count_chars(function.get("name")) + _count_chars(function.get("arguments"))
    total += _count_chars(value.get("tool_calls"))
    return total


def _estimate_input_tokens(body: dict[str, Any]) -> int:
    messages = body.get("messages")
    chars = _count_chars(messages if isinstance(messages, list) else [])
    chars += _count_chars(body.get("system"))
    return max(1, chars // 4)


def _content_text(content: Any) -> str:
    """Text of a message ``content`` (string or list of blocks / parts)."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    parts: list[str] = []
    for block in content:
        if isinstance(block, str):
            parts.append(block)
        elif isinstance(block, dict):
            if isinstance(block.get("text"), str):
                parts.append(block["text"])
            elif block.get("type") == "tool_result":
                parts.append(_content_text(block.get("content")))
    return "\n".join(p for p in parts if p)


def last_user_text(body: Any) -> str:
    """The text of the last ``role: user`` message of a request body ("" if none)."""
    if not isinstance(body, dict):
        return ""
    messages = body.get("messages")
    if not isinstance(messages, list):
        return ""
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return _content_text(message.get("content"))
    return ""


def _sse(event: str | None, data: Any) -> bytes:
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {payload}\n\n".encode()


def _anthropic_error(status: int, message: str, err_type: str | None = None) -> dict[str, Any]:
    if err_type is None:
        err_type = _ANTHROPIC_ERROR_TYPES.get(status, "api_error" if status >= 500 else "")
        err_type = err_type or "invalid_request_error"
    return {"type": "error", "error": {"type": err_type, "message": message}}


def _openai_error(
    status: int, message: str, err_type: str | None = None, code: Any = None
) -> dict[str, Any]:
    default_type, default_code = _OPENAI_ERROR_TYPES.get(
        status,
        ("server_error", "server_error") if status >= 500 else ("invalid_request_error", None),
    )
    return {
        "error": {
            "message": message,
            "type": err_type or default_type,
            "param": None,
            "code": code if code is not None else default_code,
        }
    }


def _default_error_message(status: int) -> str:
    return {
        400: "Bad request (scripted)",
        401: "Invalid API key (scripted)",
        403: "Permission denied (scripted)",
        404: "Not found (scripted)",
        429: "Rate limit exceeded (scripted)",
        500: "Internal server error (scripted)",
        503: "Service unavailable (scripted)",
        529: "Overloaded (scripted)",
    }.get(status, f"Scripted error {status}")


def _models_payload() -> dict[str, Any]:
    # One document that both SDKs accept: Anthropic's page fields plus OpenAI's list fields.
    return {
        "object": "list",
        "data": [_model_payload(MODEL_ID)],
        "has_more": False,
        "first_id": MODEL_ID,
        "last_id": MODEL_ID,
    }


def _model_payload(model_id: str) -> dict[str, Any]:
    return {
        "id": model_id,
        "type": "model",
        "object": "model",
        "display_name": "Scripted Model",
        "created_at": "2024-01-01T00:00:00Z",
        "created": 1704067200,
        "owned_by": "pynchy",
    }


def _parse_multipart(content_type: str, body: bytes) -> dict[str, Any]:
    """Parse a multipart/form-data body into {name: str | {"filename", "content"}}."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise ValueError("not a multipart body")
    fields: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        payload = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        if filename is not None:
            fields[name] = {"filename": filename, "content": payload}
        else:
            fields[name] = payload.decode("utf-8", "replace")
    return fields


class _Abort(Exception):
    """Raised inside a handler to drop the connection without answering further."""


# ---------------------------------------------------------------------------
# The server
# ---------------------------------------------------------------------------


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], owner: ScriptedModelServer) -> None:
        self.owner = owner
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug("scripted model: connection error from %s", client_address, exc_info=True)


class ScriptedModelServer:
    """A local fake of the Anthropic and OpenAI APIs, driven by a script.

    ``script`` is a list of replies (see ``docs/scripted-model.md``); ``transcripts`` a list
    of strings (or ``{"error": status}`` objects) answering audio transcription requests.
    """

    def __init__(
        self,
        script: Iterable[Any] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        transcripts: Iterable[Any] | None = None,
    ) -> None:
        self.host = host
        self._requested_port = port
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._replies: list[_Reply] = []
        self._requests: list[dict[str, Any]] = []
        self._exhausted = 0
        self._ids = itertools.count(1)
        self._tool_ids = itertools.count(1)
        self.transcripts: list[Any] = list(transcripts or [])
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.add_replies(script or [])

    # -- construction ------------------------------------------------------------------

    @classmethod
    def from_file(cls, path: str | Path, **kwargs: Any) -> ScriptedModelServer:
        """Build a server from a JSON script file.

        The file holds either a list of replies or ``{"replies": [...], "transcripts": [...]}``.
        """
        replies, transcripts = _load_script_file(path)
        server = cls(replies, **kwargs)
        server.transcripts.extend(transcripts)
        return server

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> ScriptedModelServer:
        if self._httpd is not None:
            return self
        self._httpd = _HTTPServer((self.host, self._requested_port), self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"scripted-model:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        with httpd.connections_lock:
            conns = list(httpd.connections)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> ScriptedModelServer:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("scripted model server is not running")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """Base URL for the Anthropic SDK (``base_url=server.url``)."""
        return f"http://{self.host}:{self.port}"

    @property
    def openai_url(self) -> str:
        """Base URL for the OpenAI SDK (``base_url=server.openai_url``)."""
        return f"{self.url}/v1"

    # -- script --------------------------------------------------------------------------

    def add_replies(self, replies: Iterable[Any]) -> None:
        """Append replies to the script (validated first; nothing is added on error)."""
        if isinstance(replies, str | dict):
            raise ScriptError("add_replies() takes a list of replies")
        with self._lock:
            start = len(self._replies)
            new = [
                _Reply(start + i, normalize_reply(raw, start + i)) for i, raw in enumerate(replies)
            ]
            self._replies.extend(new)
            self._changed.notify_all()

    def add_transcripts(self, transcripts: Iterable[Any]) -> None:
        with self._lock:
            self.transcripts.extend(transcripts)

    @property
    def requests(self) -> list[dict[str, Any]]:
        """A copy of every recorded request, oldest first."""
        with self._lock:
            return copy.deepcopy(self._requests)

    @property
    def exhausted(self) -> int:
        """How many model requests were answered after the script ran out."""
        with self._lock:
            return self._exhausted

    @property
    def consumed(self) -> int:
        with self._lock:
            return sum(1 for r in self._replies if r.uses_left <= 0)

    @property
    def remaining(self) -> int:
        with self._lock:
            return sum(1 for r in self._replies if r.uses_left > 0)

    def state(self) -> dict[str, int]:
        with self._lock:
            return {
                "consumed": self.consumed,
                "remaining": self.remaining,
                "exhausted": self._exhausted,
            }

    def wait_for_requests(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Block until at least ``count`` requests were recorded; return them all."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self._requests) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        f"expected {count} requests, got {len(self._requests)} in {timeout}s"
                    )
                self._changed.wait(left)
            return copy.deepcopy(self._requests)

    # -- used by the handler ---------------------------------------------------------------

    def _record(self, record: dict[str, Any]) -> None:
        with self._lock:
            self._requests.append(record)
            self._changed.notify_all()

    def _take_reply(self, record: dict[str, Any]) -> _Reply | None:
        """Pick the reply for a model request and record the request, atomically."""
        text = last_user_text(record.get("body"))
        with self._lock:
            chosen = next((r for r in self._replies if r.uses_left > 0 and r.fits(text)), None)
            if chosen is None:
                self._exhausted += 1
                record["reply_index"] = None
            else:
                chosen.uses_left -= 1
                record["reply_index"] = chosen.index
            self._requests.append(record)
            self._changed.notify_all()
            return chosen

    def _take_transcript(self) -> Any:
        with self._lock:
            if self.transcripts:
                return self.transcripts.pop(0)
            return DEFAULT_TRANSCRIPT

    def _next_id(self) -> int:
        with self._lock:
            return next(self._ids)

    def _next_tool_id(self, prefix: str) -> str:
        with self._lock:
            return f"{prefix}{next(self._tool_ids)}"


# ---------------------------------------------------------------------------
# Reply planning (provider neutral)
# ---------------------------------------------------------------------------


class _Plan:
    """A reply turned into a flat list of operations plus its summary numbers."""

    def __init__(self, steps: list[dict[str, Any]], server: ScriptedModelServer, api: str):
        self.ops: list[tuple[Any, ...]] = []
        self.usage: dict[str, Any] = {}
        self.stop_reason: str | None = None
        self.has_tools = False
        output_chars = 0
        prefix = "toolu_" if api == "anthropic" else "call_"
        for step in steps:
            if "text" in step:
                interval = float(step.get("interval_ms", 0)) / 1000
                for i, piece in enumerate(_text_pieces(step)):
                    if i and interval:
                        self.ops.append(("sleep", interval))
                    self.ops.append(("text", piece))
                    output_chars += len(piece)
                if not step["text"]:
                    self.ops.append(("text", ""))
            elif "tool" in step:
                call_id = step.get("id") or server._next_tool_id(prefix)
                args = json.dumps(step.get("args", {}))
                self.ops.append(("tool", str(call_id), step["tool"], args))
                output_chars += len(args) + len(step["tool"])
                self.has_tools = True
            elif "delay_ms" in step:
                self.ops.append(("sleep", float(step["delay_ms"]) / 1000))
            elif "disconnect" in step:
                if step["disconnect"]:
                    self.ops.append(("disconnect",))
            elif "error" in step:
                self.ops.append(("error", step))
            elif "usage" in step:
                self.usage.update(step["usage"])
            elif "stop_reason" in step:
                self.stop_reason = str(step["stop_reason"])
        self.output_tokens = max(1, output_chars // 4)

    def leading(self) -> tuple[float, tuple[Any, ...] | None, list[tuple[Any, ...]]]:
        """Split off leading sleeps; return (sleep, first non-sleep op, rest)."""
        total = 0.0
        for i, op in enumerate(self.ops):
            if op[0] != "sleep":
                return total, op, self.ops[i:]
            total += op[1]
        return total, None, []

    def anthropic_stop_reason(self) -> str:
        return self.stop_reason or ("tool_use" if self.has_tools else "end_turn")

    def openai_finish_reason(self) -> str:
        reason = self.stop_reason or ("tool_use" if self.has_tools else "end_turn")
        return _FINISH_REASONS.get(reason, reason)

    def input_tokens(self, body: dict[str, Any]) -> int:
        value = self.usage.get("input_tokens", self.usage.get("prompt_tokens"))
        return int(value) if value is not None else _estimate_input_tokens(body)

    def output_tokens_used(self) -> int:
        value = self.usage.get("output_tokens", self.usage.get("completion_tokens"))
        return int(value) if value is not None else self.output_tokens


_EXHAUSTED_STEPS = [{"text": EXHAUSTED_TEXT}]


# ---------------------------------------------------------------------------
# HTTP handler
# ---------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ScriptedModel/1.0"
    server: _HTTPServer

    # -- plumbing ------------------------------------------------------------------------

    def setup(self) -> None:
        super().setup()
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("scripted model: " + format, *args)

    @property
    def owner(self) -> ScriptedModelServer:
        return self.server.owner

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            data = bytearray()
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(data)
                data += self.rfile.read(size)
                self.rfile.readline(65537)
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send_bytes(
        self,
        status: int,
        data: bytes,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        self._answered = True

    def _send_json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        self._send_bytes(status, json.dumps(obj).encode(), headers=headers)

    def _start_stream(self, headers: dict[str, str] | None = None) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream; charset=utf-8")
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self._answered = True

    def _chunk(self, data: bytes) -> None:
        if data:
            self.wfile.write(b"%X\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

    def _end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _drop(self) -> None:
        """Close the connection abruptly (no further bytes, no proper end of body)."""
        self.close_connection = True
        self._answered = True
        with contextlib.suppress(OSError):
            self.wfile.flush()
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)
        raise _Abort

    # -- routing -------------------------------------------------------------------------

    def _dispatch(self) -> None:
        self._answered = False
        path = urlsplit(self.path).path.rstrip("/") or "/"
        api = self._api_for(path)
        try:
            raw = self._read_body()
            self._route(path, raw)
        except _Abort:
            self.close_connection = True
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            logger.debug("scripted model: client went away on %s %s", self.command, path)
            self.close_connection = True
        except Exception:
            logger.exception("scripted model: error handling %s %s", self.command, path)
            if self._answered:
                self.close_connection = True
                return
            message = "scripted model internal error"
            body = (
                _anthropic_error(500, message)
                if api == "anthropic"
                else _openai_error(500, message)
            )
            try:
                self._send_json(500, body)
            except OSError:
                self.close_connection = True

    def _api_for(self, path: str) -> str:
        bare = path[3:] if path.startswith("/v1/") else path
        if bare.startswith("/messages"):
            return "anthropic"
        if bare.startswith(("/chat/", "/audio/")):
            return "openai"
        if bare.startswith("/models"):
            return "anthropic" if "anthropic-version" in self.headers else "openai"
        return "other"

    def _record_for(self, path: str, body: Any) -> dict[str, Any]:
        return {
            "api": self._api_for(path),
            "method": self.command,
            "path": path,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": body,
            "reply_index": None,
        }

    def _route(self, path: str, raw: bytes) -> None:
        method = self.command
        if path.startswith("/_scripted/"):
            self._route_helper(method, path, raw)
            return
        bare = path[3:] if path.startswith("/v1/") else path
        api = self._api_for(path)

        if method == "GET" and bare == "/models":
            self.owner._record(self._record_for(path, None))
            self._send_json(200, _models_payload())
            return
        if method == "GET" and bare.startswith("/models/"):
            self.owner._record(self._record_for(path, None))
            self._send_json(200, _model_payload(bare[len("/models/") :]))
            return
        if method == "POST" and bare == "/audio/transcriptions":
            self._transcription(path, raw)
            return
        if method == "POST" and bare in (
            "/messages",
            "/messages/count_tokens",
            "/chat/completions",
        ):
            body = self._parse_json(raw)
            if not isinstance(body, dict):
                self.owner._record(self._record_for(path, None))
                message = "request body is not a valid JSON object"
                self._send_error_body(api, 400, message)
                return
            if bare == "/messages/count_tokens":
                self.owner._record(self._record_for(path, body))
                self._send_json(200, {"input_tokens": _estimate_input_tokens(body)})
                return
            record = self._record_for(path, body)
            reply = self.owner._take_reply(record)
            steps = reply.steps if reply is not None else _EXHAUSTED_STEPS
            plan = _Plan(steps, self.owner, api)
            if api == "anthropic":
                self._anthropic(body, plan)
            else:
                self._openai(body, plan)
            return

        self.owner._record(self._record_for(path, self._parse_json(raw) if raw else None))
        self._send_error_body(api, 404, f"no route for {method} {path} (scripted model)")

    @staticmethod
    def _parse_json(raw: bytes) -> Any:
        try:
            return json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return None

    def _send_error_body(
        self,
        api: str,
        status: int,
        message: str,
        *,
        err_type: str | None = None,
        code: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        if api == "anthropic":
            body = _anthropic_error(status, message, err_type)
            body["request_id"] = f"req_scripted_{self.owner._next_id()}"
        else:
            body = _openai_error(status, message, err_type, code)
        self._send_json(status, body, headers=headers)

    def _route_helper(self, method: str, path: str, raw: bytes) -> None:
        owner = self.owner
        if method == "GET" and path == "/_scripted/requests":
            self._send_json(200, owner.requests)
        elif method == "GET" and path == "/_scripted/state":
            self._send_json(200, owner.state())
        elif method == "POST" and path in ("/_scripted/replies", "/_scripted/transcripts"):
            data = self._parse_json(raw)
            if not isinstance(data, list):
                self._send_json(400, {"error": {"message": "expected a JSON list"}})
                return
            try:
                if path == "/_scripted/replies":
                    owner.add_replies(data)
                else:
                    owner.add_transcripts(data)
            except ScriptError as exc:
                self._send_json(400, {"error": {"message": str(exc)}})
                return
            self._send_json(200, owner.state())
        else:
            self._send_json(404, {"error": {"message": f"no helper route {method} {path}"}})

    # -- shared reply prelude --------------------------------------------------------------

    def _error_step(self, api: str, step: dict[str, Any]) -> None:
        status = int(step["error"])
        headers: dict[str, str] = {}
        if step.get("retry_after") is not None:
            headers["retry-after"] = str(step["retry_after"])
        self._send_error_body(
            api,
            status,
            str(step.get("message") or _default_error_message(status)),
            err_type=step.get("type"),
            code=step.get("code"),
            headers=headers,
        )

    def _prelude(self, api: str, plan: _Plan) -> list[tuple[Any, ...]] | None:
        """Handle leading delays, errors and disconnects; return the ops left to stream."""
        wait, first, rest = plan.leading()
        if wait:
            time.sleep(wait)
        if first is not None and first[0] == "error":
            self._error_step(api, first[1])
            return None
        if first is not None and first[0] == "disconnect":
            self._drop()
        return rest

    def _non_stream_ops(self, api: str, ops: list[tuple[Any, ...]]) -> bool:
        """For non-streaming replies: apply delays, errors, disconnects. False if answered."""
        for op in ops:
            if op[0] == "sleep":
                time.sleep(op[1])
            elif op[0] == "error":
                self._error_step(api, op[1])
                return False
            elif op[0] == "disconnect":
                self._drop()
        return True

    # -- Anthropic ----------------------------------------------------------------------

    def _anthropic(self, body: dict[str, Any], plan: _Plan) -> None:
        ops = self._prelude("anthropic", plan)
        if ops is None:
            return
        model = str(body.get("model") or MODEL_ID)
        msg_id = f"msg_scripted_{self.owner._next_id()}"
        headers = {"request-id": f"req_scripted_{self.owner._next_id()}"}
        input_tokens = plan.input_tokens(body)
        usage_extra = {
            k: plan.usage[k]
            for k in ("cache_creation_input_tokens", "cache_read_input_tokens")
            if k in plan.usage
        }
        if not body.get("stream"):
            if not self._non_stream_ops("anthropic", ops):
                return
            content: list[dict[str, Any]] = []
            for op in ops:
                if op[0] == "text":
                    if content and content[-1]["type"] == "text":
                        content[-1]["text"] += op[1]
                    else:
                        content.append({"type": "text", "text": op[1]})
                elif op[0] == "tool":
                    content.append(
                        {"type": "tool_use", "id": op[1], "name": op[2], "input": json.loads(op[3])}
                    )
            message = {
                "id": msg_id,
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": content,
                "stop_reason": plan.anthropic_stop_reason(),
                "stop_sequence": None,
                "usage": {
                    "input_tokens": input_tokens,
                    "output_tokens": plan.output_tokens_used(),
                    **usage_extra,
                },
            }
            self._send_json(200, message, headers=headers)
            return

        self._start_stream(headers)
        self._chunk(
            _sse(
                "message_start",
                {
                    "type": "message_start",
                    "message": {
                        "id": msg_id,
                        "type": "message",
                        "role": "assistant",
                        "model": model,
                        "content": [],
                        "stop_reason": None,
                        "stop_sequence": None,
                        "usage": {"input_tokens": input_tokens, "output_tokens": 1, **usage_extra},
                    },
                },
            )
        )
        self._chunk(_sse("ping", {"type": "ping"}))
        index = -1
        open_block: str | None = None

        def close_block() -> None:
            nonlocal open_block
            if open_block is not None:
                self._chunk(
                    _sse("content_block_stop", {"type": "content_block_stop", "index": index})
                )
                open_block = None

        for op in ops:
            kind = op[0]
            if kind == "sleep":
                time.sleep(op[1])
            elif kind == "disconnect":
                self._drop()
            elif kind == "error":
                step = op[1]
                status = int(step["error"])
                message = str(step.get("message") or _default_error_message(status))
                self._chunk(_sse("error", _anthropic_error(status, message, step.get("type"))))
                self._end_stream()
                return
            elif kind == "text":
                if open_block != "text":
                    close_block()
                    index += 1
                    open_block = "text"
                    self._chunk(
                        _sse(
                            "content_block_start",
                            {
                                "type": "content_block_start",
                                "index": index,
                                "content_block": {"type": "text", "text": ""},
                            },
                        )
                    )
                if op[1]:
                    self._chunk(
                        _sse(
                            "content_block_delta",
                            {
                                "type": "content_block_delta",
                                "index": index,
                                "delta": {"type": "text_delta", "text": op[1]},
                            },
                        )
                    )
            elif kind == "tool":
                close_block()
                index += 1
                open_block = "tool_use"
                self._chunk(
                    _sse(
                        "content_block_start",
                        {
                            "type": "content_block_start",
                            "index": index,
                            "content_block": {
                                "type": "tool_use",
                                "id": op[1],
                                "name": op[2],
                                "input": {},
                            },
                        },
                    )
                )
                for piece in _json_pieces(op[3]):
                    self._chunk(
                        _sse(
                            "content_block_delta",
                            {
                                "type": "content_block_delta",
                                "index": index,
                                "delta": {"type": "input_json_delta", "partial_json": piece},
                            },
                        )
                    )
                close_block()
        close_block()
        self._chunk(
            _sse(
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": plan.anthropic_stop_reason(), "stop_sequence": None},
                    "usage": {"output_tokens": plan.output_tokens_used()},
                },
            )
        )
        self._chunk(_sse("message_stop", {"type": "message_stop"}))
        self._end_stream()

    # -- OpenAI --------------------------------------------------------------------------

    def _openai(self, body: dict[str, Any], plan: _Plan) -> None:
        ops = self._prelude("openai", plan)
        if ops is None:
            return
        model = str(body.get("model") or MODEL_ID)
        completion_id = f"chatcmpl-scripted-{self.owner._next_id()}"
        created = int(time.time())
        headers = {"x-request-id": f"req_scripted_{self.owner._next_id()}"}
        prompt_tokens = plan.input_tokens(body)
        completion_tokens = plan.output_tokens_used()
        usage: dict[str, Any] = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        cached = plan.usage.get("cache_read_input_tokens", plan.usage.get("cached_tokens"))
        if cached is not None:
            usage["prompt_tokens_details"] = {"cached_tokens": int(cached)}
        finish_reason = plan.openai_finish_reason()

        if not body.get("stream"):
            if not self._non_stream_ops("openai", ops):
                return
            text = "".join(op[1] for op in ops if op[0] == "text")
            tool_calls = [
                {"id": op[1], "type": "function", "function": {"name": op[2], "arguments": op[3]}}
                for op in ops
                if op[0] == "tool"
            ]
            message: dict[str, Any] = {
                "role": "assistant",
                "content": text if (text or not tool_calls) else None,
                "refusal": None,
            }
            if tool_calls:
                message["tool_calls"] = tool_calls
            self._send_json(
                200,
                {
                    "id": completion_id,
                    "object": "chat.completion",
                    "created": created,
                    "model": model,
                    "system_fingerprint": None,
                    "choices": [
                        {
                            "index": 0,
                            "message": message,
                            "logprobs": None,
                            "finish_reason": finish_reason,
                        }
                    ],
                    "usage": usage,
                },
                headers=headers,
            )
            return

        stream_options = body.get("stream_options")
        include_usage = isinstance(stream_options, dict) and bool(
            stream_options.get("include_usage")
        )

        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            data: dict[str, Any] = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "system_fingerprint": None,
                "choices": [
                    {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
                ],
            }
            if include_usage:
                data["usage"] = None
            return _sse(None, data)

        self._start_stream(headers)
        self._chunk(chunk({"role": "assistant", "content": "", "refusal": None}))
        tool_index = -1
        for op in ops:
            kind = op[0]
            if kind == "sleep":
                time.sleep(op[1])
            elif kind == "disconnect":
                self._drop()
            elif kind == "error":
                step = op[1]
                status = int(step["error"])
                message_text = str(step.get("message") or _default_error_message(status))
                error = _openai_error(status, message_text, step.get("type"), step.get("code"))
                self._chunk(_sse(None, error))
                self._end_stream()
                return
            elif kind == "text":
                if op[1]:
                    self._chunk(chunk({"content": op[1]}))
            elif kind == "tool":
                tool_index += 1
                self._chunk(
                    chunk(
                        {
                            "tool_calls": [
                                {
                                    "index": tool_index,
                                    "id": op[1],
                                    "type": "function",
                                    "function": {"name": op[2], "arguments": ""},
                                }
                            ]
                        }
                    )
                )
                for piece in _json_pieces(op[3]):
                    self._chunk(
                        chunk(
                            {
                                "tool_calls": [
                                    {"index": tool_index, "function": {"arguments": piece}}
                                ]
                            }
                        )
                    )
        self._chunk(chunk({}, finish_reason))
        if include_usage:
            self._chunk(
                _sse(
                    None,
                    {
                        "id": completion_id,
                        "object": "chat.completion.chunk",
                        "created": created,
                        "model": model,
                        "system_fingerprint": None,
                        "choices": [],
                        "usage": usage,
                    },
                )
            )
        self._chunk(b"data: [DONE]\n\n")
        self._end_stream()

    # -- audio ---------------------------------------------------------------------------

    def _transcription(self, path: str, raw: bytes) -> None:
        content_type = self.headers.get("content-type", "")
        try:
            fields = _parse_multipart(content_type, raw)
        except Exception:
            fields = None
        upload = fields.get("file") if fields else None
        if not fields or not isinstance(upload, dict):
            self.owner._record(self._record_for(path, None))
            self._send_error_body("openai", 400, "expected multipart/form-data with a 'file' field")
            return
        body: dict[str, Any] = {
            k: v for k, v in fields.items() if k != "file" and isinstance(v, str)
        }
        body["file_name"] = upload["filename"]
        body["file_size"] = len(upload["content"])
        self.owner._record(self._record_for(path, body))
        entry = self.owner._take_transcript()
        if isinstance(entry, dict) and "error" in entry:
            self._error_step("openai", entry)
            return
        text = entry.get("text", "") if isinstance(entry, dict) else str(entry)
        response_format = body.get("response_format") or "json"
        if response_format in ("text", "srt", "vtt"):
            self._send_bytes(200, text.encode(), content_type="text/plain; charset=utf-8")
            return
        payload: dict[str, Any] = {"text": text}
        if response_format == "verbose_json":
            payload.update(
                {"task": "transcribe", "language": "english", "duration": 1.0, "segments": []}
            )
        self._send_json(200, payload)


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------


class _StopSignal(Exception):
    pass


def _raise_stop(signum: int, frame: Any) -> None:
    raise _StopSignal


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pynchy_tui.testing.scripted_model",
        description="Serve a scripted fake of the Anthropic and OpenAI model APIs.",
    )
    parser.add_argument("--port", type=int, default=0, help="port to bind (0 picks a free one)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind")
    parser.add_argument("--script", help="JSON script file (list of replies)")
    parser.add_argument("--verbose", "-v", action="store_true", help="log requests to stderr")
    args = parser.parse_args(argv)

    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(message)s",
    )
    try:
        if args.script:
            server = ScriptedModelServer.from_file(args.script, host=args.host, port=args.port)
        else:
            server = ScriptedModelServer(host=args.host, port=args.port)
    except (OSError, ValueError) as exc:
        print(f"scripted model: cannot load script: {exc}", file=sys.stderr)
        return 2

    signal.signal(signal.SIGTERM, _raise_stop)
    signal.signal(signal.SIGINT, _raise_stop)
    try:
        try:
            server.start()
        except OSError as exc:
            print(
                f"scripted model: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr
            )
            return 2
        print(f"scripted model listening on {server.url}", flush=True)
        while True:
            time.sleep(3600)
    except _StopSignal:
        pass
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
