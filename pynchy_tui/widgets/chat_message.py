"""Provides one chat message: a small header (who, where from) and a Markdown body that can
stream (one MarkdownStream per reply)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Label

if TYPE_CHECKING:  # Markdown (markdown-it, pygments) loads with the first message, not
    # with the first frame: an empty transcript needs none of it
    from textual.widgets import Markdown
    from textual.widgets.markdown import MarkdownStream

ROLE_LABEL = {"user": "you", "assistant": "agent", "system": "pynchy"}


class ChatMessage(Vertical):
    """A user, assistant or system message. `source` other than tui/cli shows a badge."""

    DEFAULT_CSS = """
    ChatMessage { height: auto; padding: 0 1; margin: 0 0 1 0; layout: stream; }
    ChatMessage > .header { height: 1; color: $text-muted; }
    ChatMessage > Markdown { margin: 0; padding: 0; layout: stream; }
    ChatMessage.-user { border-left: thick $primary; }
    ChatMessage.-assistant { border-left: thick $secondary; }
    ChatMessage.-system { border-left: thick $warning; }
    ChatMessage.-system > Markdown { color: $text-muted; }
    ChatMessage.-error { border-left: thick $error; }
    """

    def __init__(
        self,
        role: str,
        text: str = "",
        *,
        source: str = "tui",
        sender: str | None = None,
        trusted: bool = True,
        level: str = "",
        message_id: int | None = None,
    ) -> None:
        super().__init__(classes=f"-{role}" + (f" -{level}" if level else ""))
        self.role = role
        self.message_id = message_id  # the stored message; None until a streamed reply is stored
        self._text = text
        self.source = source
        self.sender = sender
        self.trusted = trusted
        self._stream: MarkdownStream | None = None
        self.via: str | None = None  # a reply that also went to this channel

    def header_text(self) -> str:
        who = ROLE_LABEL.get(self.role, self.role)
        parts = [who]
        if self.source not in ("tui", "agent"):
            parts.append(f"[{self.source}]")
        if self.via:
            parts.append(f"→ [{self.via}]")
        if self.role == "user" and self._text.startswith(("[Voice:", "[Voice note:")):
            parts.append("[voice]")
        if self.sender:
            parts.append(self.sender)
        if not self.trusted:
            parts.append("(untrusted)")
        return " ".join(parts)

    def mark_via(self, source: str) -> None:
        """Badge a reply that went out through a channel as well."""
        self.via = source
        for label in self.query(".header"):
            if isinstance(label, Label):
                label.update(self.header_text())

    def compose(self) -> ComposeResult:
        from pynchy_tui.widgets.chat_markdown import ChatMarkdown

        yield Label(self.header_text(), classes="header")
        yield ChatMarkdown(self._text)

    @property
    def body(self) -> Markdown:
        from textual.widgets import Markdown

        return self.query_one(Markdown)

    async def write(self, delta: str) -> None:
        """Append streamed text; starts the stream on first use."""
        if self._stream is None:
            self._stream = self.body.get_stream(self.body)
        self._text += delta
        await self._stream.write(delta)

    async def stop(self) -> None:
        if self._stream is not None:
            await self._stream.stop()
            self._stream = None

    async def set_text(self, text: str) -> None:
        """Replace the whole text (a finished reply that differs from what streamed)."""
        await self.stop()
        self._text = text
        await self.body.update(text)

    @property
    def text(self) -> str:
        return self._text
