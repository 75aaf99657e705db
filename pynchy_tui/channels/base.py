"""The channel contract: what a bridge (Slack, Telegram, WhatsApp, a plugin's) implements.

A channel moves chat messages between one platform and pynchy's bus. It does not decide
anything: the `ChannelManager` (channels/manager.py) owns trust, deduplication, cursors, the
outbound ledger and retries, so every bridge gets the same reliability for free.

A bridge is registered through the `pynchy_channels` hook as a *factory*: a callable with a
`type` attribute (the `type = "..."` of `[channels.NAME]`), called as
`factory(name, settings)` where `settings` is the channel's `ChannelConfig`.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, runtime_checkable

from pynchy_tui.events import ChannelStateChanged

__all__ = ["ChannelStateChanged"]


@dataclass(frozen=True)
class VoiceNote:
    """An audio attachment; the manager downloads it (`Channel.download`) and transcribes it."""

    ref: str  # the platform's handle: a Telegram file_id, a Slack file URL, a WhatsApp media id
    file_name: str = "voice.ogg"
    mime: str = "audio/ogg"
    duration_s: float | None = None


@dataclass(frozen=True)
class InboundMessage:
    """One message a person sent on a platform."""

    message_id: str  # the platform's id, unique within (channel, chat): the dedupe key
    chat: str
    sender: str
    text: str
    ts: float
    voice: VoiceNote | None = None
    # Where a later `fetch_since` should start so that it no longer returns this message.
    cursor: str | None = None
    # An answer to an approval prompt sent by the manager (a button press): (approval id, yes?)
    approval: tuple[str, bool] | None = None
    sender_name: str | None = None


OnInbound = Callable[[InboundMessage], Awaitable[None]]


class ChannelError(Exception):
    """A platform call failed. `retryable` errors are retried by the manager with back-off."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


@runtime_checkable
class Channel(Protocol):
    """What a bridge implements. Every method may raise `ChannelError`."""

    name: str  # the config table's NAME
    type: str  # telegram | slack | whatsapp | fake | a plugin's
    max_length: int  # longest text one message may carry on this platform
    # "chat": cursors are per chat (Slack history); "channel": one cursor for the whole
    # channel (Telegram update ids), stored under the chat "*".
    cursor_scope: str

    async def connect(self, on_inbound: OnInbound, cursors: dict[str, str | None]) -> None:
        """Reach the platform and start receiving; each new message is passed to
        `on_inbound`, one at a time, in order. `cursors` (chat or "*" -> cursor) say where
        receiving left off before. Raises when the platform cannot be reached."""
        ...

    async def disconnect(self) -> None:
        """Stop receiving and release connections. Must not raise."""
        ...

    async def send(self, chat: str, text: str) -> str:
        """Post `text` (already formatted, at most `max_length`); return its message id."""
        ...

    async def edit(self, chat: str, message_id: str, text: str) -> None:
        """Replace the text of a message this channel sent (streaming)."""
        ...

    async def typing(self, chat: str) -> None:
        """Show a typing indicator, where the platform has one."""
        ...

    async def fetch_since(self, chat: str, cursor: str | None) -> list[InboundMessage]:
        """Messages of `chat` after `cursor`, oldest first (catch-up after an outage).
        A channel whose live receive already resumes from its cursor returns []."""
        ...

    async def download(self, voice: VoiceNote) -> bytes:
        """The bytes of a voice note."""
        ...

    def format(self, text: str) -> str:
        """Markdown from the agent -> this platform's markup."""
        ...

    @property
    def connected(self) -> bool: ...


class ChannelBase:
    """Defaults for bridges: no typing indicator, no catch-up, text passed through."""

    type: ClassVar[str] = "base"
    max_length = 4000
    cursor_scope = "chat"
    can_edit = True  # False: no streaming previews (the platform cannot edit messages)

    def __init__(self, name: str, settings: Any) -> None:
        self.name = name
        self.settings = settings
        self._connected = False

    @property
    def connected(self) -> bool:
        return self._connected

    async def typing(self, chat: str) -> None:
        return None

    async def fetch_since(self, chat: str, cursor: str | None) -> list[InboundMessage]:
        return []

    async def download(self, voice: VoiceNote) -> bytes:
        raise ChannelError(f"{self.type} cannot download voice notes", retryable=False)

    def format(self, text: str) -> str:
        return text


def split_text(text: str, limit: int) -> list[str]:
    """Split a long reply into pieces of at most `limit` characters, preferring paragraph,
    then line, then word boundaries; never splits inside a fenced code block if avoidable."""
    text = text.strip()
    if len(text) <= limit:
        return [text] if text else []
    out: list[str] = []
    rest = text
    while len(rest) > limit:
        window = rest[:limit]
        cut = -1
        for sep in ("\n\n", "\n", " "):
            i = window.rfind(sep)
            if i > limit // 3:
                cut = i
                break
        if cut <= 0:
            cut = limit
        out.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        out.append(rest)
    return [p for p in out if p]


_APPROVAL_RE = re.compile(
    r"^\s*/?(approve|allow|deny|reject)\s+([A-Za-z0-9_.:-]+)\s*(.*)$", re.I | re.S
)


def parse_approval_reply(text: str) -> tuple[str, bool, str | None] | None:
    """ "approve ID" / "deny ID reason" -> (id, approved, reason); anything else -> None."""
    m = _APPROVAL_RE.match(text or "")
    if not m:
        return None
    verb, approval_id, reason = m.group(1).lower(), m.group(2), m.group(3).strip()
    return approval_id, verb in ("approve", "allow"), reason or None
