"""Slack bridge: slack-bolt in Socket Mode for events, the Web API (slack-sdk) for sending,
editing and history (`conversations.history` from the chat's cursor, a message ts)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import time
from typing import Any

from pynchy_tui.channels.base import ChannelBase, ChannelError, InboundMessage, VoiceNote

log = logging.getLogger(__name__)


class _NoTracebacks(logging.Filter):
    """The Socket Mode client logs its reconnect attempts with tracebacks; an outage is
    expected, so keep the message and drop the traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.exc_info = None
        record.exc_text = None
        if record.levelno >= logging.ERROR:
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


_sdk_log = logging.getLogger("pynchy_tui.channels.slack.sdk")
_sdk_log.addFilter(_NoTracebacks())


class SlackChannel(ChannelBase):
    type = "slack"
    max_length = 3900
    cursor_scope = "chat"

    def __init__(self, name: str, settings: Any) -> None:
        super().__init__(name, settings)
        token_env = settings.token_env or "SLACK_BOT_TOKEN"
        app_env = settings.app_token_env or "SLACK_APP_TOKEN"
        self.token = os.environ.get(token_env, "")
        self.app_token = os.environ.get(app_env, "")
        if not self.token or not self.app_token:
            raise ChannelError(
                f"Slack needs a bot token and an app token: export {token_env} and {app_env}",
                retryable=False,
            )
        self.web: Any = None
        self.handler: Any = None
        self.bot_user: str | None = None
        self._watch: asyncio.Task[None] | None = None

    async def connect(self, on_inbound: Any, cursors: dict[str, str | None]) -> None:
        from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
        from slack_bolt.app.async_app import AsyncApp
        from slack_sdk.web.async_client import AsyncWebClient

        base = self.settings.base_url or "https://slack.com/api/"
        self.web = AsyncWebClient(token=self.token, base_url=base.rstrip("/") + "/", timeout=10)
        try:
            auth = await self.web.auth_test()
        except Exception as exc:
            raise _error(exc) from None
        self.bot_user = auth.get("user_id")
        app = AsyncApp(client=self.web, logger=_sdk_log)

        @app.event("message")
        async def _message(event: dict[str, Any]) -> None:
            msg = self._convert(event.get("channel", ""), event)
            if msg is not None:
                await on_inbound(msg)

        self.handler = AsyncSocketModeHandler(app, self.app_token, logger=_sdk_log)
        try:
            await asyncio.wait_for(self.handler.connect_async(), 10)
        except Exception as exc:
            await self.disconnect()
            raise _error(exc) from None
        self._connected = True
        self._watch = asyncio.create_task(self._watch_socket(), name=f"slack-{self.name}-watch")

    async def _watch_socket(self) -> None:
        """Lost socket -> `connected` False, so the manager reconnects and catches up."""
        down = 0
        while self._connected and self.handler is not None:
            await asyncio.sleep(0.2)
            try:
                ok = await self.handler.client.is_connected()
            except Exception:
                ok = False
            down = 0 if ok else down + 1
            if down >= 2:
                self._connected = False

    def _convert(self, chat: str, event: dict[str, Any]) -> InboundMessage | None:
        if event.get("bot_id") or event.get("user") in (None, self.bot_user):
            return None
        if event.get("subtype") not in (None, "file_share", "thread_broadcast"):
            return None
        voice = None
        for f in event.get("files") or []:
            if str(f.get("mimetype", "")).startswith("audio/") or f.get("subtype") == (
                "slack_audio"
            ):
                voice = VoiceNote(
                    f["url_private_download"], f.get("name") or "audio.m4a", f["mimetype"]
                )
                break
        text = event.get("text") or ""
        if not text and voice is None:
            return None
        return InboundMessage(
            message_id=event["ts"],
            chat=chat,
            sender=event["user"],
            text=text,
            ts=float(event["ts"]),
            voice=voice,
            cursor=event["ts"],
        )

    async def disconnect(self) -> None:
        self._connected = False
        watch, self._watch = self._watch, None
        if watch is not None:
            watch.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await watch
        handler, self.handler = self.handler, None
        if handler is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(handler.close_async(), 5)
        web, self.web = self.web, None
        if web is not None and getattr(web, "session", None) is not None:
            with contextlib.suppress(Exception):
                await web.session.close()

    def _live(self) -> Any:
        if self.web is None:
            raise ChannelError("not connected")
        return self.web

    async def send(self, chat: str, text: str) -> str:
        try:
            resp = await self._live().chat_postMessage(channel=chat, text=text)
        except Exception as exc:
            raise _error(exc) from None
        return str(resp["ts"])

    async def edit(self, chat: str, message_id: str, text: str) -> None:
        try:
            await self._live().chat_update(channel=chat, ts=message_id, text=text)
        except Exception as exc:
            raise _error(exc) from None

    async def fetch_since(self, chat: str, cursor: str | None) -> list[InboundMessage]:
        oldest = cursor or f"{time.time() - 24 * 3600:.6f}"
        events: dict[str, dict[str, Any]] = {}  # by ts: pages may overlap
        page: str | None = None
        while True:  # every page: a long outage must not lose the oldest messages
            try:
                resp = await self._live().conversations_history(
                    channel=chat, oldest=oldest, inclusive=False, limit=200, cursor=page
                )
            except Exception as exc:
                raise _error(exc) from None
            for event in resp.get("messages") or []:
                events[str(event.get("ts"))] = event
            page = (resp.get("response_metadata") or {}).get("next_cursor") or None
            if not resp.get("has_more") or page is None:
                break
        out = []
        for event in sorted(events.values(), key=lambda e: float(e.get("ts") or 0)):
            msg = self._convert(chat, event)
            if msg is not None:
                out.append(msg)
        return out

    async def download(self, voice: VoiceNote) -> bytes:
        import aiohttp

        headers = {"Authorization": f"Bearer {self.token}"}
        try:
            async with (
                aiohttp.ClientSession() as session,
                session.get(voice.ref, headers=headers) as resp,
            ):
                if resp.status != 200:
                    raise ChannelError(f"slack file download: HTTP {resp.status}")
                return await resp.read()
        except aiohttp.ClientError as exc:
            raise ChannelError(f"slack file download: {exc}") from None

    def format(self, text: str) -> str:
        return markdown_to_mrkdwn(text)


def _error(exc: BaseException) -> ChannelError:
    if isinstance(exc, ChannelError):
        return exc
    from slack_sdk.errors import SlackApiError

    if isinstance(exc, SlackApiError):
        data = getattr(exc.response, "data", None)
        code = data.get("error") if isinstance(data, dict) else None
        status = getattr(exc.response, "status_code", 0) or 0
        retryable = code in ("ratelimited", "internal_error", "fatal_error") or status >= 500
        return ChannelError(f"slack: {code or exc}", retryable=retryable)
    return ChannelError(f"slack: {exc!r}")


def markdown_to_mrkdwn(text: str) -> str:
    """The agent's Markdown as Slack mrkdwn: `**b**` -> `*b*`, links -> `<url|text>`,
    `&`, `<`, `>` escaped; code spans and blocks kept."""
    out: list[str] = []
    for i, part in enumerate(re.split(r"(```.*?```|`[^`\n]+`)", text, flags=re.S)):
        if i % 2:
            out.append(part.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))
            continue
        p = part.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        p = re.sub(r"\*\*(.+?)\*\*", r"*\1*", p)
        p = re.sub(r"\[([^\]]+)\]\((https?://[^)\s]+)\)", r"<\2|\1>", p)
        out.append(p)
    return "".join(out)
