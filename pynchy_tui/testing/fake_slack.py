"""A local stand-in for Slack: the Web API subset pynchy uses and a Socket Mode websocket.

Runs an aiohttp server on its own thread and loop. Web API (`POST /api/METHOD`):
`auth.test`, `apps.connections.open` (answers this server's websocket URL),
`chat.postMessage`, `chat.update`, `conversations.history` (exclusive `oldest`, newest
first), `files.info`; files download from `GET /files/ID`. The websocket (`/link`) says
`hello`, then carries `events_api` envelopes for what the person posts and records the
client's acks. `down()` closes every websocket and answers 503 until `up()`;
`drop_live = True` stores messages without pushing them over the socket (a lost event).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from typing import Any

BOT_USER = "UBOT"


class FakeSlackServer:
    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = 0
        self.lock = threading.Lock()
        self.history: dict[str, list[dict[str, Any]]] = {}  # channel -> messages, oldest first
        self.sent: list[dict[str, Any]] = []  # bot messages (channel, ts, text, edits)
        self.files: dict[str, bytes] = {}
        self.acks: list[str] = []
        self.calls: list[str] = []
        self.is_up = True
        self.drop_live = False
        self._seq = itertools.count(1)
        self._ts_base = int(time.time())
        self._sockets: set[Any] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: Any = None
        self._ready = threading.Event()

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> FakeSlackServer:
        threading.Thread(target=self._run, daemon=True, name="fake-slack").start()
        self._ready.wait(10)
        return self

    def _run(self) -> None:
        from aiohttp import web

        loop = asyncio.new_event_loop()
        self._loop = loop
        app = web.Application()
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/api/{method}", self._api)  # the SDK reads history with GET
        app.router.add_get("/link", self._ws)
        app.router.add_get("/files/{id}", self._file)
        self._runner = web.AppRunner(app, handle_signals=False)
        loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, self.host, 0)
        loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._ready.set()
        loop.run_forever()
        loop.run_until_complete(self._runner.cleanup())
        loop.close()

    def stop(self) -> None:
        if self._loop is None:
            return
        self.down()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._loop = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/api/"

    def _call(self, coro: Any) -> Any:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    def down(self) -> None:
        self.is_up = False
        if self._loop is not None:  # not waited for: closing needs the client's answer,
            # and the client may run on the caller's (then blocked) event loop
            asyncio.run_coroutine_threadsafe(self._close_sockets(), self._loop)

    def up(self) -> None:
        self.is_up = True

    async def _close_sockets(self) -> None:
        for ws in list(self._sockets):
            await ws.close()
        self._sockets.clear()

    # -- the person's side ---------------------------------------------------------------

    def _ts(self) -> str:
        return f"{self._ts_base}.{next(self._seq):06d}"

    def post(
        self, channel: str, user: str, text: str, *, audio: bytes | None = None
    ) -> dict[str, Any]:
        msg: dict[str, Any] = {"type": "message", "user": user, "text": text, "ts": self._ts()}
        if audio is not None:
            fid = f"F{next(self._seq)}"
            self.files[fid] = audio
            msg["subtype"] = "file_share"
            msg["files"] = [
                {
                    "id": fid,
                    "name": "audio_message.m4a",
                    "mimetype": "audio/mp4",
                    "subtype": "slack_audio",
                    "url_private_download": f"http://{self.host}:{self.port}/files/{fid}",
                    "size": len(audio),
                }
            ]
        with self.lock:
            self.history.setdefault(channel, []).append(msg)
        if self.is_up and not self.drop_live and self._loop is not None:
            self._call(self._push(channel, msg))
        return msg

    async def _push(self, channel: str, msg: dict[str, Any]) -> None:
        envelope = {
            "envelope_id": f"env-{msg['ts']}",
            "type": "events_api",
            "accepts_response_payload": False,
            "retry_attempt": 0,
            "retry_reason": "",
            "payload": {
                "token": "x",
                "team_id": "T1",
                "api_app_id": "A1",
                "type": "event_callback",
                "event_id": f"Ev{msg['ts']}",
                "event_time": int(time.time()),
                "event": {**msg, "channel": channel, "channel_type": "channel"},
            },
        }
        for ws in list(self._sockets):
            await ws.send_str(json.dumps(envelope))

    def texts(self, channel: str) -> list[str]:
        with self.lock:
            return [m["text"] for m in self.sent if m["channel"] == channel]

    # -- server side ---------------------------------------------------------------------

    async def _ws(self, request: Any) -> Any:
        from aiohttp import WSMsgType, web

        if not self.is_up:
            return web.Response(status=503)
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._sockets.add(ws)
        await ws.send_str(
            json.dumps({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A1"}})
        )
        async for m in ws:
            if m.type == WSMsgType.TEXT:
                data = json.loads(m.data)
                if "envelope_id" in data:
                    self.acks.append(data["envelope_id"])
        self._sockets.discard(ws)
        return ws

    async def _file(self, request: Any) -> Any:
        from aiohttp import web

        data = self.files.get(request.match_info["id"])
        if not self.is_up or data is None:
            return web.Response(status=503 if not self.is_up else 404)
        return web.Response(body=data, content_type="audio/mp4")

    async def _api(self, request: Any) -> Any:
        from aiohttp import web

        method = request.match_info["method"]
        self.calls.append(method)
        if not self.is_up:
            return web.Response(status=503, text="unavailable")
        if request.method == "GET":
            params = dict(request.query)
        elif request.content_type == "application/json":
            params = await request.json()
        else:
            params = dict(await request.post())
        return web.json_response(self.handle(method, params))

    def handle(self, method: str, p: dict[str, Any]) -> dict[str, Any]:
        if method == "auth.test":
            return {"ok": True, "user_id": BOT_USER, "bot_id": "B1", "team_id": "T1",
                    "user": "pynchy", "team": "test", "url": "https://test.slack.com/"}  # fmt: skip
        if method == "apps.connections.open":
            return {"ok": True, "url": f"ws://{self.host}:{self.port}/link"}
        if method == "chat.postMessage":
            channel, text = str(p["channel"]), str(p.get("text", ""))
            msg = {"type": "message", "user": BOT_USER, "bot_id": "B1", "text": text,
                   "ts": self._ts()}  # fmt: skip
            with self.lock:
                self.sent.append({"channel": channel, "ts": msg["ts"], "text": text, "edits": []})
                self.history.setdefault(channel, []).append(msg)
            return {"ok": True, "channel": channel, "ts": msg["ts"], "message": msg}
        if method == "chat.update":
            channel, ts, text = str(p["channel"]), str(p["ts"]), str(p.get("text", ""))
            with self.lock:
                for s in self.sent:
                    if s["channel"] == channel and s["ts"] == ts:
                        s["text"] = text
                        s["edits"].append(text)
                        return {"ok": True, "channel": channel, "ts": ts, "text": text}
            return {"ok": False, "error": "message_not_found"}
        if method == "conversations.history":
            channel = str(p["channel"])
            oldest = float(p.get("oldest") or 0)
            limit = int(p.get("limit") or 100)
            start = int(p.get("cursor") or 0)  # pages run from the newest to older messages
            with self.lock:
                msgs = [m for m in self.history.get(channel, []) if float(m["ts"]) > oldest]
            newest_first = list(reversed(msgs))
            more = start + limit < len(msgs)
            return {
                "ok": True,
                "messages": newest_first[start : start + limit],
                "has_more": more,
                "response_metadata": {"next_cursor": str(start + limit) if more else ""},
            }
        return {"ok": False, "error": "unknown_method"}
