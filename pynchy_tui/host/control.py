"""The running host's control socket (a unix socket in the data dir, JSON lines).

`pynchy send` and other CLI commands use it to talk to a host that is already running (the
TUI or `pynchy serve`) instead of opening the database behind its back.

Requests: {"op": "status"} | {"op": "workspaces"} |
          {"op": "submit", "workspace", "text", "source"?, "create"?: bool} |
          {"op": "approvals"} | {"op": "decide", "id", "approved": bool, "reason"?, "by"?}
A submit is answered {"ok": true, "message_id"} and then by that workspace's events, one per
line ({"type": "AgentDelta", ...}), ending with the TurnFinished of the turn that answered it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from pathlib import Path
from typing import Any

from pynchy_tui.events import (
    AgentDelta,
    Event,
    MessageSent,
    Notice,
    ProviderRetry,
    ToolFinished,
    ToolStarted,
    TurnFinished,
    TurnStarted,
)
from pynchy_tui.host.errors import HostError
from pynchy_tui.host.host import Host
from pynchy_tui.state import messages

log = logging.getLogger(__name__)
STREAMED = (
    AgentDelta,
    ToolStarted,
    ToolFinished,
    TurnStarted,
    TurnFinished,
    MessageSent,
    ProviderRetry,
    Notice,
)


class ControlServer:
    def __init__(self, host: Host, path: Path) -> None:
        self.host = host
        self.path = path
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        self._server = await asyncio.start_unix_server(
            self._handle, path=str(self.path), limit=2**20
        )
        os.chmod(self.path, 0o600)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            raw = await reader.readline()
            try:
                req = json.loads(raw)
                if not isinstance(req, dict):
                    raise ValueError("not an object")
            except ValueError:
                await _send(writer, {"ok": False, "error": "malformed request"})
                return
            await self._serve(req, writer)
        except (ConnectionError, asyncio.CancelledError):
            pass
        except Exception as exc:
            log.exception("control request failed")
            with contextlib.suppress(Exception):
                await _send(writer, {"ok": False, "error": f"internal error: {exc!r}"})
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    async def _serve(self, req: dict[str, Any], writer: asyncio.StreamWriter) -> None:
        op = req.get("op")
        host = self.host
        if op == "status":
            await _send(writer, {"ok": True, **host.status()})
        elif op == "workspaces":
            rows = [
                {"name": w.name, "account": host.account_name(w.name), "busy": host.is_busy(w.name)}
                for w in host.list_workspaces()
            ]
            await _send(writer, {"ok": True, "workspaces": rows})
        elif op == "submit":
            await self._submit(req, writer)
        elif op == "approvals":
            await _send(writer, {"ok": True, "approvals": await host.pending_approvals()})
        elif op == "decide":
            won, row = await host.decide_approval(
                str(req.get("id", "")),
                bool(req.get("approved")),
                by=str(req.get("by", "cli")),
                via=str(req.get("via", "cli")),
                reason=req.get("reason") or None,
            )
            await _send(writer, {"ok": True, "won": won, "approval": row})
        else:
            await _send(writer, {"ok": False, "error": f"unknown op {op!r}"})

    async def _submit(self, req: dict[str, Any], writer: asyncio.StreamWriter) -> None:
        host = self.host
        name, text = str(req.get("workspace", "")), str(req.get("text", ""))
        with host.bus.subscribe(*STREAMED, maxsize=10_000) as sub:
            try:
                if req.get("create") and name not in {w.name for w in host.list_workspaces()}:
                    await host.create_workspace(name)
                msg = await host.submit(name, text, source=str(req.get("source", "cli")))
            except HostError as exc:
                await _send(writer, {"ok": False, "error": str(exc)})
                return
            await _send(writer, {"ok": True, "message_id": msg.id})
            async for event in sub:
                if getattr(event, "workspace", None) != name:
                    continue
                await _send(writer, event.to_dict())
                if isinstance(event, TurnFinished) and await _answered(host, msg.id, event):
                    return


async def _answered(host: Host, message_id: int, event: TurnFinished) -> bool:
    assert host.store is not None
    row = await host.store.call(messages.get, message_id)
    return row is not None and row.turn_id == event.turn_id


async def _send(writer: asyncio.StreamWriter, obj: dict[str, Any] | Event) -> None:
    writer.write((json.dumps(obj, ensure_ascii=False, default=str) + "\n").encode())
    await writer.drain()


async def request(
    path: Path, obj: dict[str, Any]
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_unix_connection(str(path), limit=2**24)
    writer.write((json.dumps(obj) + "\n").encode())
    await writer.drain()
    return reader, writer
