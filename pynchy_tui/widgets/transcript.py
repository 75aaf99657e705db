"""Provides the transcript: the selected workspace's conversation, anchored to the bottom.

Replies stream into one ChatMessage per turn. Only the most recent items stay mounted; older
ones load on demand from the host's history (so 10,000 messages cost one page). The live
transcript keeps to the same window: while it follows the latest, messages beyond WINDOW are
unmounted from the top, cut at a stored message so that "load earlier" pages back exactly
what was unmounted. Every mounted widget costs each frame's layout, so an afternoon of
streaming must not pile them up."""

from __future__ import annotations

from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Button

from pynchy_tui.host.history import HistoryItem
from pynchy_tui.widgets.chat_message import ChatMessage
from pynchy_tui.widgets.tool_call import ToolCallBlock

WINDOW = 100  # chat messages kept while following the latest: one history page (HISTORY_PAGE)


class Transcript(VerticalScroll):
    """Chat items of one workspace. Parents call its methods; it posts `LoadEarlier` upward."""

    BINDINGS = [Binding("end", "jump_latest", "Latest", show=False)]

    DEFAULT_CSS = """
    Transcript { height: 1fr; padding: 0 1; layout: stream; }
    Transcript > #load-earlier { width: 100%; margin: 0 0 1 0; }
    """

    class LoadEarlier(Message):
        def __init__(self, before_id: int) -> None:
            super().__init__()
            self.before_id = before_id

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._replies: dict[int, ChatMessage] = {}
        self._tools: dict[str, ToolCallBlock] = {}
        self._last_reply: ChatMessage | None = None
        self.oldest_id: int | None = None
        self.has_more = False
        self.reading_back = False  # scrolled away from the latest: the window waits
        self.follow_held = False  # typing: the anchor is off until the pause (hold_follow)

    def release_anchor(self) -> None:
        """The person scrolled up (Textual's anchor lets go): keep what they read mounted."""
        super().release_anchor()
        self.reading_back = True

    def hold_follow(self, hold: bool) -> None:
        """While the person types, a growing reply does not scroll the transcript (each scroll
        repaints all of it, and keys wait for that); when they pause it follows again, at
        once. Only a transcript that is following the latest is held."""
        if hold and self._anchored and not self._anchor_released:
            self._anchored = False
            self.follow_held = True
        elif not hold and self.follow_held:
            self.follow_held = False
            self._anchored = True
            if self._anchor_released:  # they scrolled up meanwhile: back at the bottom?
                self._check_anchor()
            if not self._anchor_released:
                self.anchor()
                self.call_later(self._trim)  # the window waited while the view held still

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if self.reading_back and new_value >= self.max_scroll_y:
            self.reading_back = False  # back at the latest: the anchor holds again

    def on_mount(self) -> None:
        self.anchor()

    async def show_history(self, items: list[HistoryItem], more: bool) -> None:
        """Replace everything with a page of history (newest last)."""
        await self.remove_children()
        self._replies.clear()
        self._tools.clear()
        self.has_more = more
        self.oldest_id = next((i.message_id for i in items if i.message_id is not None), None)
        widgets = [self._widget_for(i) for i in items]
        if more:
            widgets.insert(0, Button("load earlier messages", id="load-earlier", variant="default"))
        await self.mount_all(widgets)
        self.scroll_end(animate=False)
        self.anchor()
        self.reading_back = False

    async def prepend_history(self, items: list[HistoryItem], more: bool) -> None:
        button = self.query("#load-earlier")
        anchor_widget = button.first() if button else None
        widgets = [self._widget_for(i) for i in items]
        if widgets:
            target = (
                self.children[1] if anchor_widget is not None and len(self.children) > 1 else None
            )
            if target is not None:
                await self.mount_all(widgets, before=target)
            else:
                await self.mount_all(widgets, before=0)
        self.oldest_id = next(
            (i.message_id for i in items if i.message_id is not None), self.oldest_id
        )
        self.has_more = more
        if not more and anchor_widget is not None:
            await anchor_widget.remove()

    def _widget_for(self, item: HistoryItem) -> ChatMessage | ToolCallBlock:
        if item.kind == "tool":
            block = ToolCallBlock(item.call_id, item.tool, item.args)
            failed = item.result is None or item.is_error
            block.output = item.result if item.result is not None else ""
            block.status = "error" if failed else "ok"
            block.summary = (
                "no result (interrupted)"
                if item.result is None
                else ("error" if failed else "done")
            )
            block.set_class(False, "-running")
            block.set_class(failed, "-error")
            block.title = block._title_text()
            block._refresh_output()
            self._tools[item.call_id] = block
            return block
        return ChatMessage(
            item.kind,
            item.text,
            source=item.source,
            sender=item.sender,
            trusted=item.trusted,
            message_id=item.message_id,
        )

    async def _add(self, widget: ChatMessage | ToolCallBlock) -> None:
        await self.mount(widget)
        if not self.reading_back and not self.follow_held:  # trimming moves the view
            await self._trim()

    async def _trim(self) -> None:
        """Unmount the oldest items beyond WINDOW messages. The first item kept is a stored
        message (its id is where "load earlier" pages back from), so tool calls and the text
        of intermediate steps before it go too: the history page brings them back."""
        items = [c for c in self.children if isinstance(c, ChatMessage | ToolCallBlock)]
        messages = [c for c in items if isinstance(c, ChatMessage)]
        excess = len(messages) - WINDOW
        if excess <= 0:
            return
        keep = next((m for m in messages[excess:] if m.message_id is not None), None)
        if keep is None:
            return  # nothing stored to page back from: keep everything
        gone = items[: items.index(keep)]
        for w in gone:
            if isinstance(w, ToolCallBlock):
                self._tools.pop(w.call_id, None)
        await self.remove_children(gone)
        self.oldest_id = keep.message_id
        self.has_more = True
        if not self.query("#load-earlier"):
            await self.mount(
                Button("load earlier messages", id="load-earlier", variant="default"), before=0
            )

    async def add_message(
        self,
        role: str,
        text: str,
        *,
        source: str = "tui",
        sender: str | None = None,
        trusted: bool = True,
        level: str = "",
        message_id: int | None = None,
    ) -> ChatMessage:
        msg = ChatMessage(
            role,
            text,
            source=source,
            sender=sender,
            trusted=trusted,
            level=level,
            message_id=message_id,
        )
        await self._add(msg)
        return msg

    async def append_delta(self, turn_id: int, text: str) -> None:
        msg = self._replies.get(turn_id)
        if msg is None:
            msg = ChatMessage("assistant")
            self._replies[turn_id] = msg
            await self._add(msg)
        await msg.write(text)

    async def end_step(self, turn_id: int) -> None:
        """A model step ended (tools may follow): the next text starts a new block."""
        msg = self._replies.pop(turn_id, None)
        if msg is not None:
            await msg.stop()
            self._last_reply = msg

    async def final_reply(self, turn_id: int, text: str, message_id: int | None = None) -> None:
        """The reply as stored; shown as its own message if nothing was streamed for it."""
        msg = self._replies.pop(turn_id, None)
        if msg is not None:
            await msg.stop()
            msg.message_id = message_id
            if msg.text.strip() != text.strip():
                await msg.set_text(text)
            self._badge_channel_reply(msg)
            return
        last = self._last_reply
        if last is not None and last.is_attached and last.text.strip() == text.strip():
            last.message_id = message_id
            self._badge_channel_reply(last)
            return
        self._badge_channel_reply(await self.add_message("assistant", text, message_id=message_id))

    def _badge_channel_reply(self, reply: ChatMessage) -> None:
        """A reply to a message from a channel went back there too: show its badge."""
        for child in reversed(self.children):
            if isinstance(child, ChatMessage) and child.role == "user" and child is not reply:
                if child.source.startswith("channel:"):
                    reply.mark_via(child.source)
                return

    async def discard_partial(self, turn_id: int) -> None:
        """The provider is retrying: what streamed so far will be sent again."""
        msg = self._replies.pop(turn_id, None)
        if msg is not None:
            await msg.stop()
            await msg.remove()

    async def tool_started(self, call_id: str, tool: str, args: dict) -> None:
        block = ToolCallBlock(call_id, tool, args)
        self._tools[call_id] = block
        await self._add(block)

    def tool_output(self, call_id: str, data: str) -> None:
        block = self._tools.get(call_id)
        if block is not None:
            block.add_output(data)

    def tool_finished(self, call_id: str, ok: bool, summary: str, duration_ms: int) -> None:
        block = self._tools.get(call_id)
        if block is not None:
            block.finish(ok, summary, duration_ms)

    async def action_jump_latest(self) -> None:
        self.scroll_end(animate=False)
        self.anchor()
        self.reading_back = False
        await self._trim()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "load-earlier" and self.oldest_id is not None:
            event.stop()
            self.post_message(self.LoadEarlier(self.oldest_id))
