"""WhatsApp bridge over the Cloud API: a webhook server in the bridge (inbound), the Graph
API (outbound, media). No linked-device option: it cannot be made reliable offline-testable
with a real client library today (see docs/channels.md).

Reliability comes from the webhook contract: the bridge answers 200 only after the manager
has committed the message, so Meta redelivers what pynchy did not take (an outage, a
restart); redeliveries are deduplicated by the `wamid` message id. There is no history API,
so `fetch_since` returns nothing, and messages cannot be edited, so replies are not streamed.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import os
import re
from typing import Any

from pynchy_tui.channels.base import ChannelBase, ChannelError, InboundMessage, VoiceNote

log = logging.getLogger(__name__)
GRAPH_VERSION = "v21.0"


class WhatsAppChannel(ChannelBase):
    type = "whatsapp"
    max_length = 4000
    cursor_scope = "chat"
    can_edit = False

    def __init__(self, name: str, settings: Any) -> None:
        super().__init__(name, settings)
        token_env = settings.token_env or "WHATSAPP_TOKEN"
        self.token = os.environ.get(token_env, "")
        self.verify_token = os.environ.get(settings.verify_token_env or "", "")
        self.app_secret = os.environ.get(settings.app_secret_env or "", "")
        if not self.token or not settings.phone_number_id:
            raise ChannelError(
                f"WhatsApp needs an access token (export {token_env}) and phone_number_id",
                retryable=False,
            )
        self.base = (settings.base_url or "https://graph.facebook.com").rstrip("/")
        self.session: Any = None
        self._runner: Any = None
        self.port: int | None = None

    async def connect(self, on_inbound: Any, cursors: dict[str, str | None]) -> None:
        import aiohttp
        from aiohttp import web

        self.session = aiohttp.ClientSession(
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=aiohttp.ClientTimeout(total=15),
        )

        async def verify(request: web.Request) -> web.Response:
            q = request.query
            if q.get("hub.mode") == "subscribe" and q.get("hub.verify_token") == self.verify_token:
                return web.Response(text=q.get("hub.challenge", ""))
            return web.Response(status=403)

        async def receive(request: web.Request) -> web.Response:
            body = await request.read()
            if self.app_secret:
                want = "sha256=" + hmac.new(self.app_secret.encode(), body, "sha256").hexdigest()
                if not hmac.compare_digest(want, request.headers.get("X-Hub-Signature-256", "")):
                    return web.Response(status=401)
            try:
                payload = json.loads(body)
            except ValueError:
                return web.Response(status=400)
            try:
                for msg in self._convert(payload):
                    await on_inbound(msg)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # not committed: a non-200 makes the platform retry
                log.info("whatsapp %s: webhook not taken: %s", self.name, exc)
                return web.Response(status=503)
            return web.Response(text="ok")

        app = web.Application()
        app.router.add_get("/webhook", verify)
        app.router.add_post("/webhook", receive)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.settings.webhook_host, self.settings.webhook_port)
        try:
            await site.start()
        except OSError as exc:
            await self.disconnect()
            raise ChannelError(f"whatsapp webhook: {exc}") from None
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._connected = True

    def _convert(self, payload: dict[str, Any]) -> list[InboundMessage]:
        out = []
        for entry in payload.get("entry") or []:
            for change in entry.get("changes") or []:
                value = change.get("value") or {}
                names = {
                    c.get("wa_id"): (c.get("profile") or {}).get("name")
                    for c in value.get("contacts") or []
                }
                for m in value.get("messages") or []:
                    voice = None
                    text = ""
                    if m.get("type") == "text":
                        text = (m.get("text") or {}).get("body", "")
                    elif m.get("type") == "audio":
                        audio = m.get("audio") or {}
                        mime = str(audio.get("mime_type") or "audio/ogg").split(";")[0]
                        voice = VoiceNote(audio["id"], "voice.ogg", mime)
                    elif m.get("type") == "button":
                        text = (m.get("button") or {}).get("text", "")
                    else:
                        continue
                    sender = str(m.get("from"))
                    out.append(
                        InboundMessage(
                            message_id=str(m["id"]),
                            chat=sender,  # a WhatsApp chat is the person's number
                            sender=sender,
                            sender_name=names.get(m.get("from")),
                            text=text,
                            ts=float(m.get("timestamp") or 0),
                            voice=voice,
                        )
                    )
        return out

    async def disconnect(self) -> None:
        self._connected = False
        runner, self._runner = self._runner, None
        if runner is not None:
            with contextlib.suppress(Exception):
                await runner.cleanup()
        session, self.session = self.session, None
        if session is not None:
            with contextlib.suppress(Exception):
                await session.close()

    async def _graph(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        import aiohttp

        if self.session is None:
            raise ChannelError("not connected")
        try:
            async with self.session.request(method, f"{self.base}/{path}", **kw) as resp:
                data = await resp.json(content_type=None)
                if resp.status >= 400:
                    err = (data or {}).get("error", {}) if isinstance(data, dict) else {}
                    retryable = resp.status >= 500 or resp.status == 429
                    raise ChannelError(
                        f"whatsapp: HTTP {resp.status} {err.get('message', '')}".strip(),
                        retryable=retryable,
                    )
                return data
        except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
            raise ChannelError(f"whatsapp: {exc!r}") from None

    async def send(self, chat: str, text: str) -> str:
        body = {
            "messaging_product": "whatsapp",
            "to": chat,
            "type": "text",
            "text": {"body": text, "preview_url": False},
        }
        path = f"{GRAPH_VERSION}/{self.settings.phone_number_id}/messages"
        data = await self._graph("POST", path, json=body)
        return str(data["messages"][0]["id"])

    async def edit(self, chat: str, message_id: str, text: str) -> None:
        raise ChannelError("WhatsApp messages cannot be edited", retryable=False)

    async def download(self, voice: VoiceNote) -> bytes:
        import aiohttp

        info = await self._graph("GET", f"{GRAPH_VERSION}/{voice.ref}")
        assert self.session is not None
        try:
            async with self.session.get(info["url"]) as resp:
                if resp.status != 200:
                    raise ChannelError(f"whatsapp media: HTTP {resp.status}")
                return await resp.read()
        except aiohttp.ClientError as exc:
            raise ChannelError(f"whatsapp media: {exc!r}") from None

    def format(self, text: str) -> str:
        return markdown_to_whatsapp(text)


def markdown_to_whatsapp(text: str) -> str:
    """Markdown -> WhatsApp: `**b**` -> `*b*`, `~~s~~` -> `~s~`, links as `text (url)`."""
    parts = re.split(r"(```.*?```)", text, flags=re.S)
    for i in range(0, len(parts), 2):
        p = re.sub(r"\*\*(.+?)\*\*", r"*\1*", parts[i])
        p = re.sub(r"~~(.+?)~~", r"~\1~", p)
        p = re.sub(r"\[([^\]]+)\]\((https?://[^)\s]+)\)", r"\1 (\2)", p)
        parts[i] = p
    return "".join(parts)
