"""Host side of the toolbox protocol: JSON lines over a pair of asyncio streams.

One reader task routes replies to waiting calls by id and stream events to their callbacks.
A malformed line from the sandbox is logged and dropped; EOF fails every call in flight with
SandboxDied so the model gets a clear tool error instead of a hang.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
import json
import logging
from typing import Any

from pynchy_tui.runtime.base import OutputCallback, SandboxDied, ToolboxError

log = logging.getLogger(__name__)

MAX_LINE = 16 * 1024 * 1024


class ToolboxClient:
    def __init__(self, reader: asyncio.StreamReader, writer: Any, name: str) -> None:
        self._reader = reader
        self._writer = writer
        self._name = name
        self._ids = itertools.count(1)
        self._pending: dict[str, tuple[asyncio.Future[dict[str, Any]], OutputCallback | None]] = {}
        self._closed: str | None = None
        self._task = asyncio.create_task(self._read_loop(), name=f"toolbox-reader-{name}")
        self.rejected_lines = 0
        self._callbacks: set[asyncio.Future[Any]] = set()

    @property
    def alive(self) -> bool:
        return self._closed is None

    async def call(
        self, op: str, args: dict[str, Any], on_output: OutputCallback | None = None
    ) -> dict[str, Any]:
        if self._closed is not None:
            raise SandboxDied(self._closed)
        call_id = f"c{next(self._ids)}"
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[call_id] = (fut, on_output)
        line = json.dumps({"id": call_id, "op": op, "args": args}, ensure_ascii=False) + "\n"
        try:
            self._writer.write(line.encode())
            await self._writer.drain()
        except (ConnectionError, BrokenPipeError, RuntimeError) as exc:
            self._pending.pop(call_id, None)
            self._fail_all(f"sandbox {self._name} is gone ({exc})")
            raise SandboxDied(self._closed or str(exc)) from exc
        try:
            reply = await fut
        except asyncio.CancelledError:
            if op == "exec" and self._closed is None:
                # Stop the command in the sandbox too; don't wait for its reply.
                self._send_nowait(
                    {"id": f"x{call_id}", "op": "cancel", "args": {"target": call_id}}
                )
            raise
        finally:
            self._pending.pop(call_id, None)
        if reply.get("ok"):
            return reply.get("result") or {}
        raise ToolboxError(str(reply.get("error", "toolbox error")), str(reply.get("code", "")))

    def _send_nowait(self, obj: dict[str, Any]) -> None:
        try:
            self._writer.write((json.dumps(obj) + "\n").encode())
        except Exception:  # the sandbox is going away anyway
            log.debug("could not send cancel to %s", self._name)

    async def _read_loop(self) -> None:
        reason = f"sandbox {self._name} exited"
        try:
            while True:
                try:
                    raw = await self._reader.readline()
                except ValueError:  # line over the stream limit
                    self.rejected_lines += 1
                    log.warning("toolbox %s: oversized line rejected", self._name)
                    continue
                if not raw:
                    break
                self._dispatch(raw)
        except (ConnectionError, asyncio.IncompleteReadError) as exc:
            reason = f"sandbox {self._name} connection lost ({exc})"
        except asyncio.CancelledError:
            reason = f"sandbox {self._name} was stopped"
            raise
        finally:
            self._fail_all(reason)

    def _dispatch(self, raw: bytes) -> None:
        try:
            msg = json.loads(raw)
            if not isinstance(msg, dict):
                raise ValueError("not an object")
        except ValueError:
            self.rejected_lines += 1
            log.warning("toolbox %s: malformed line rejected: %r", self._name, raw[:200])
            return
        entry = self._pending.get(str(msg.get("id")))
        if entry is None:
            if msg.get("id") is not None and not str(msg.get("id")).startswith("x"):
                log.debug("toolbox %s: reply for unknown id %r", self._name, msg.get("id"))
            return
        fut, on_output = entry
        if "event" in msg:
            if on_output is not None:
                try:
                    result = on_output(str(msg.get("event")), str(msg.get("data", "")))
                    if inspect.isawaitable(result):
                        task = asyncio.ensure_future(result)
                        self._callbacks.add(task)
                        task.add_done_callback(self._callbacks.discard)
                except Exception:
                    log.exception("output callback failed")
            return
        if not fut.done():
            fut.set_result(msg)

    def _fail_all(self, reason: str) -> None:
        if self._closed is None:
            self._closed = reason
        for fut, _ in list(self._pending.values()):
            if not fut.done():
                fut.set_exception(SandboxDied(reason))
        self._pending.clear()

    async def close(self) -> None:
        self._fail_all(f"sandbox {self._name} was stopped")
        try:
            self._writer.close()
        except Exception:
            log.debug("closing toolbox writer failed", exc_info=True)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task
