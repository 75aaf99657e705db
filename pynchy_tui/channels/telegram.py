"""Telegram bridge (python-telegram-bot's `Bot`, long-polling `getUpdates` ourselves).

pynchy drives `getUpdates` itself instead of using PTB's Application/Updater, so the update
offset only moves past an update once the manager has committed it: the offset *is* the
channel-wide inbound cursor (stored under chat "*"). Telegram keeps unconfirmed updates for
24 hours, so an outage or a restart resumes exactly where it stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import os
import re
from typing import Any

from pynchy_tui.channels.base import ChannelBase, ChannelError, InboundMessage, VoiceNote

log = logging.getLogger(__name__)


class TelegramChannel(ChannelBase):
    type = "telegram"
    max_length = 3800  # 4096 after HTML markup, with room to spare
    cursor_scope = "channel"

    def __init__(self, name: str, settings: Any) -> None:
        super().__init__(name, settings)
        env = settings.token_env or "TELEGRAM_BOT_TOKEN"
        self.token = os.environ.get(env, "")
        if not self.token:
            raise ChannelError(f"the bot token is not set: export {env}", retryable=False)
        self.poll_timeout = float(settings.options.get("poll_timeout", "25"))
        self.bot: Any = None
        self._offset: int | None = None
        self._task: asyncio.Task[None] | None = None
        self._on_inbound: Any = None

    async def connect(self, on_inbound: Any, cursors: dict[str, str | None]) -> None:
        import telegram
        from telegram.request import HTTPXRequest

        base = (self.settings.base_url or "https://api.telegram.org").rstrip("/")
        request = HTTPXRequest(connect_timeout=5, read_timeout=10, write_timeout=10)
        poll = HTTPXRequest(connect_timeout=5, read_timeout=self.poll_timeout + 10)
        self.bot = telegram.Bot(
            self.token,
            base_url=f"{base}/bot",
            base_file_url=f"{base}/file/bot",
            request=request,
            get_updates_request=poll,
        )
        try:
            await self.bot.initialize()  # getMe: fails while the platform is unreachable
        except Exception as exc:
            raise _error(exc) from None
        cursor = cursors.get("*")
        if self._offset is None and cursor:
            self._offset = int(cursor)
        self._on_inbound = on_inbound
        self._connected = True
        self._task = asyncio.create_task(self._poll(), name=f"telegram-{self.name}-poll")

    async def _poll(self) -> None:
        from telegram.error import TelegramError

        try:
            while self._connected:
                try:
                    updates = await self.bot.get_updates(
                        offset=self._offset,
                        timeout=int(self.poll_timeout),
                        allowed_updates=["message", "callback_query"],
                    )
                except TelegramError as exc:
                    log.info("telegram %s: polling failed: %s", self.name, exc)
                    return
                for update in updates:
                    msg = self._convert(update)
                    if msg is not None:
                        try:
                            await self._on_inbound(msg)
                        except asyncio.CancelledError:
                            raise
                        except Exception as exc:  # not committed: poll it again later
                            log.info("telegram %s: inbound not taken: %s", self.name, exc)
                            await asyncio.sleep(1)
                            break
                    self._offset = update.update_id + 1
        finally:
            self._connected = False

    def _convert(self, update: Any) -> InboundMessage | None:
        cursor = str(update.update_id + 1)
        if update.callback_query is not None:
            q = update.callback_query
            m = re.match(r"^(approve|deny):(.+)$", q.data or "")
            if not m or q.message is None:
                return None
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().create_task(q.answer())
            return InboundMessage(
                message_id=f"cb:{q.id}",
                chat=str(q.message.chat.id),
                sender=str(q.from_user.id),
                sender_name=q.from_user.username,
                text="",
                ts=q.message.date.timestamp(),
                cursor=cursor,
                approval=(m.group(2), m.group(1) == "approve"),
            )
        m = update.message
        if m is None or m.from_user is None:
            return None
        voice = None
        if m.voice is not None:
            voice = VoiceNote(m.voice.file_id, "voice.ogg", m.voice.mime_type or "audio/ogg")
        elif m.audio is not None:
            voice = VoiceNote(m.audio.file_id, m.audio.file_name or "audio.mp3", "audio/mpeg")
        text = m.text or m.caption or ""
        if not text and voice is None:
            return None
        return InboundMessage(
            message_id=str(m.message_id),
            chat=str(m.chat.id),
            sender=str(m.from_user.id),
            sender_name=m.from_user.username,
            text=text,
            ts=m.date.timestamp(),
            voice=voice,
            cursor=cursor,
        )

    async def disconnect(self) -> None:
        self._connected = False
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        bot, self.bot = self.bot, None
        if bot is not None:
            with contextlib.suppress(Exception):
                await bot.shutdown()

    def _live(self) -> Any:
        if self.bot is None:
            raise ChannelError("not connected")
        return self.bot

    async def send(self, chat: str, text: str) -> str:
        bot = self._live()
        try:
            msg = await bot.send_message(chat_id=int(chat), text=text, parse_mode="HTML")
        except Exception as exc:
            err = _error(exc)
            if err.retryable or "parse" not in str(exc).lower():
                raise err from None
            msg = await bot.send_message(chat_id=int(chat), text=_strip_tags(text))
        return str(msg.message_id)

    async def edit(self, chat: str, message_id: str, text: str) -> None:
        bot = self._live()
        try:
            await bot.edit_message_text(
                text=text, chat_id=int(chat), message_id=int(message_id), parse_mode="HTML"
            )
        except Exception as exc:
            if "not modified" in str(exc).lower():
                return
            raise _error(exc) from None

    async def typing(self, chat: str) -> None:
        with contextlib.suppress(Exception):
            await self._live().send_chat_action(chat_id=int(chat), action="typing")

    async def download(self, voice: VoiceNote) -> bytes:
        bot = self._live()
        try:
            f = await bot.get_file(voice.ref)
            return bytes(await f.download_as_bytearray())
        except Exception as exc:
            raise _error(exc) from None

    def format(self, text: str) -> str:
        return markdown_to_telegram_html(text)


def _error(exc: BaseException) -> ChannelError:
    from telegram import error as tg

    if isinstance(exc, ChannelError):
        return exc
    if isinstance(exc, tg.RetryAfter | tg.TimedOut | tg.NetworkError):
        retryable = not isinstance(exc, tg.BadRequest)
        return ChannelError(f"telegram: {exc}", retryable=retryable)
    if isinstance(exc, tg.TelegramError):
        return ChannelError(f"telegram: {exc}", retryable=False)
    return ChannelError(f"telegram: {exc!r}")


def _strip_tags(text: str) -> str:
    return html.unescape(re.sub(r"</?[a-z]+[^>]*>", "", text))


def markdown_to_telegram_html(text: str) -> str:
    """The agent's Markdown as Telegram HTML: code blocks, inline code, bold, italics, links;
    everything else escaped."""
    out: list[str] = []
    for i, part in enumerate(re.split(r"```(?:[\w+-]*\n)?(.*?)```", text, flags=re.S)):
        if i % 2:
            out.append(f"<pre>{html.escape(part.rstrip())}</pre>")
            continue
        pieces = re.split(r"`([^`\n]+)`", part)
        for j, p in enumerate(pieces):
            if j % 2:
                out.append(f"<code>{html.escape(p)}</code>")
                continue
            p = html.escape(p, quote=False)
            p = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", p)
            p = re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", r"<i>\1</i>", p)
            p = re.sub(
                r"\[([^\]]+)\]\((https?://[^)\s]+)\)",
                lambda m: f'<a href="{html.escape(m.group(2))}">{m.group(1)}</a>',
                p,
            )
            out.append(p)
    return "".join(out)
