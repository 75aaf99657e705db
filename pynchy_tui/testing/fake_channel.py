"""An in-process fake chat platform and its channel (`type = "fake"`), for tests and demos.

`FakePlatform(name)` registers itself under the channel name; a `[channels.NAME]` table with
`type = "fake"` then connects to it. The platform keeps every chat's history, can go down
(`platform.down()`: connected channels drop, sends fail) and come back (`platform.up()`),
and records what the bot sent and edited.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pynchy_tui.channels.base import ChannelBase, ChannelError, InboundMessage, VoiceNote


@dataclass
class BotMessage:
    chat: str
    message_id: str
    text: str
    edits: list[str] = field(default_factory=list)


class FakePlatform:
    registry: ClassVar[dict[str, FakePlatform]] = {}

    def __init__(self, name: str, *, max_length: int = 4000) -> None:
        self.name = name
        self.max_length = max_length
        self.is_up = True
        self.history: dict[str, list[InboundMessage]] = {}
        self.bot: list[BotMessage] = []
        self.files: dict[str, bytes] = {}
        self.typing: list[str] = []
        self._seq = itertools.count(1)
        self._channels: list[FakeChannel] = []
        self.fail_sends = 0  # the next N sends fail (retryable)
        FakePlatform.registry[name] = self

    # -- the person's side ---------------------------------------------------------------

    def post(
        self, chat: str, sender: str, text: str, *, voice: bytes | None = None
    ) -> InboundMessage:
        """A person sends a message; live channels get it at once (when the platform is up)."""
        seq = next(self._seq)
        note = None
        if voice is not None:
            ref = f"file-{seq}"
            self.files[ref] = voice
            note = VoiceNote(ref)
        msg = InboundMessage(
            message_id=f"m{seq}",
            chat=chat,
            sender=sender,
            text=text,
            ts=time.time(),
            voice=note,
            cursor=str(seq),
        )
        self.history.setdefault(chat, []).append(msg)
        if self.is_up:
            for ch in self._channels:
                ch._deliver_live(msg)
        return msg

    def sent_texts(self, chat: str) -> list[str]:
        """What the person now sees from the bot in `chat`, oldest first (edits applied)."""
        return [m.text for m in self.bot if m.chat == chat]

    def down(self) -> None:
        self.is_up = False
        for ch in list(self._channels):
            ch._drop()

    def up(self) -> None:
        self.is_up = True

    # -- the bot API ---------------------------------------------------------------------

    def _check(self) -> None:
        if not self.is_up:
            raise ChannelError("fake platform is down")

    def api_send(self, chat: str, text: str) -> str:
        self._check()
        if self.fail_sends:
            self.fail_sends -= 1
            raise ChannelError("fake send failure")
        if len(text) > self.max_length:
            raise ChannelError("message too long", retryable=False)
        msg = BotMessage(chat, f"b{next(self._seq)}", text)
        self.bot.append(msg)
        return msg.message_id

    def api_edit(self, chat: str, message_id: str, text: str) -> None:
        self._check()
        for m in self.bot:
            if m.message_id == message_id and m.chat == chat:
                m.edits.append(text)
                m.text = text
                return
        raise ChannelError("message to edit not found", retryable=False)


class FakeChannel(ChannelBase):
    type = "fake"
    cursor_scope = "chat"

    def __init__(self, name: str, settings: Any) -> None:
        super().__init__(name, settings)
        self.platform: FakePlatform | None = None
        self._on_inbound: Any = None
        self._queue: asyncio.Queue[InboundMessage] | None = None
        self._task: asyncio.Task[None] | None = None
        self.max_length = 4000

    async def connect(self, on_inbound: Any, cursors: dict[str, str | None]) -> None:
        platform = FakePlatform.registry.get(self.name)
        if platform is None or not platform.is_up:
            raise ChannelError("fake platform unreachable")
        self.platform = platform
        self.max_length = platform.max_length
        self._on_inbound = on_inbound
        self._queue = asyncio.Queue()
        self._task = asyncio.create_task(self._pump(self._queue))
        platform._channels.append(self)
        self._connected = True

    async def _pump(self, queue: asyncio.Queue[InboundMessage]) -> None:
        while True:
            msg = await queue.get()
            try:
                await self._on_inbound(msg)
            except asyncio.CancelledError:
                raise
            except Exception:
                pass  # left for catch-up: the cursor did not move past it

    def _deliver_live(self, msg: InboundMessage) -> None:
        if self._queue is not None and self._connected:
            self._queue.put_nowait(msg)

    def _drop(self) -> None:
        self._connected = False
        if self.platform and self in self.platform._channels:
            self.platform._channels.remove(self)
        if self._task:
            self._task.cancel()
        self._queue = None

    async def disconnect(self) -> None:
        self._drop()

    def _live(self) -> FakePlatform:
        if self.platform is None or not self._connected:
            raise ChannelError("not connected")
        return self.platform

    async def send(self, chat: str, text: str) -> str:
        return self._live().api_send(chat, text)

    async def edit(self, chat: str, message_id: str, text: str) -> None:
        self._live().api_edit(chat, message_id, text)

    async def typing(self, chat: str) -> None:
        self._live().typing.append(chat)

    async def fetch_since(self, chat: str, cursor: str | None) -> list[InboundMessage]:
        platform = self._live()
        platform._check()
        after = int(cursor or 0)
        return [m for m in platform.history.get(chat, []) if int(m.cursor or 0) > after]

    async def download(self, voice: VoiceNote) -> bytes:
        return self._live().files[voice.ref]
