"""Provides the composer: multi-line input with send key, history and slash-command completion."""

from __future__ import annotations

from dataclasses import dataclass

from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.widgets import TextArea

from pynchy_tui.gc_pacer import PACER


@dataclass(frozen=True)
class SlashCommand:
    name: str
    args: str
    help: str


SLASH_COMMANDS = [
    SlashCommand("/new", "NAME", "create a workspace and switch to it"),
    SlashCommand("/rename", "NAME", "rename this workspace"),
    SlashCommand("/clear", "", "start a fresh conversation (history stays visible)"),
    SlashCommand("/model", "MODEL", "set the model of this workspace's account"),
    SlashCommand("/account", "NAME", "use another account for this workspace"),
    SlashCommand("/stop", "", "cancel the running turn"),
    SlashCommand("/help", "", "show keys and commands"),
]


def complete(prefix: str) -> list[SlashCommand]:
    word = prefix.split(" ", 1)[0]
    return [c for c in SLASH_COMMANDS if c.name.startswith(word)]


class Composer(TextArea):
    """Enter sends; Ctrl+J (or Shift+Enter where the terminal reports it) adds a line.
    Up/Down on the first/last line walk the history; Tab completes a slash command.

    While mounted it holds the GC pacer (full collections wait for a pause in typing)."""

    BINDINGS = [
        Binding("enter", "submit", "Send"),  # handled in _on_key, in order (see there)
        Binding("ctrl+s", "submit", "Send", show=False),
        Binding("ctrl+j,shift+enter", "newline", "New line", show=False),
        Binding("tab", "complete", "Complete", show=False),
        Binding("up", "history(-1)", show=False),
        Binding("down", "history(1)", show=False),
    ]

    DEFAULT_CSS = """
    Composer { height: auto; min-height: 3; max-height: 10; border: tall $primary 40%; }
    Composer:focus { border: tall $primary; }
    """

    class Submitted(Message):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    class Hint(Message):
        """The slash-command hint to show (empty to hide)."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(
            id=id,
            soft_wrap=True,
            show_line_numbers=False,
            highlight_cursor_line=False,
            placeholder="Message the agent… (Enter sends, / for commands)",
        )
        self.sent_history: list[str] = []
        self._pos: int | None = None
        self._hint = ""  # the hint last posted
        self._resized = True  # False while a change of height waits for the next layout

    def on_mount(self) -> None:
        PACER.attach()
        self.set_interval(0.5, PACER.tick, name="gc-pacer")

    def on_unmount(self) -> None:
        PACER.detach()

    async def _on_key(self, event: events.Key) -> None:
        PACER.note_input()
        if event.key == "enter":
            # Sent here, after the keys typed before it: as a priority binding it ran as soon
            # as the app read it, ahead of those keys still queued for this widget, so
            # "hello⏎" arriving at once (a fast typist, tmux, a paste) sent "" or "h".
            event.stop()
            event.prevent_default()
            self.action_submit()
            return
        priority = getattr(self.app, "input_priority", None)  # PynchyApp's; none in a bare app
        if priority is None:
            await super()._on_key(event)
            return
        priority.key()
        height = self.wrapped_document.height
        await super()._on_key(event)
        # Only a typed character is in the text by now (Backspace, arrows, history... are
        # bindings that run later); and only when no layout of the composer is pending.
        if self.wrapped_document.height != height:
            self._resized = False
        if event.is_printable and self._resized and self._paint_now():
            priority.painted()
        else:
            self.call_after_refresh(priority.painted)

    def on_resize(self) -> None:
        self._resized = True  # laid out at its current height: safe to paint in place

    def _paint_now(self) -> bool:
        """Draw the composer now, in a frame of its own, rather than in the next frame with
        whatever a streaming reply left to lay out (that frame can take 20 ms and more).
        Only when its size did not change: then its place on screen is the same. Uses
        Textual's compositor directly (textual is pinned in pyproject)."""
        screen, app = self.screen, self.app
        if not screen.is_current or app._batch_count or self.region.area == 0:
            return False
        compositor = screen._compositor
        compositor.update_widgets({self})
        app._display(screen, compositor.render_update(screen_stack=app._background_screens))
        return True

    def action_submit(self) -> None:
        text = self.text.strip()
        if not text:
            return
        if not self.sent_history or self.sent_history[-1] != text:
            self.sent_history.append(text)
        self._pos = None
        self.text = ""
        self._hint = ""
        self.post_message(self.Hint(""))
        self.post_message(self.Submitted(text))

    def action_newline(self) -> None:
        self.insert("\n")

    def action_complete(self) -> None:
        if self.text.startswith("/") and " " not in self.text:
            matches = complete(self.text)
            if len(matches) == 1:
                self.text = matches[0].name + " "
                self.move_cursor(self.document.end)
            elif matches:
                common = _common_prefix([m.name for m in matches])
                self.text = common
                self.move_cursor(self.document.end)

    def action_history(self, step: int) -> None:
        row, _ = self.cursor_location
        at_edge = row == 0 if step < 0 else row == self.document.line_count - 1
        if not at_edge or not self.sent_history:
            self.move_cursor_relative(rows=step)
            return
        if self._pos is None:
            if step > 0:
                return
            self._pos = len(self.sent_history)
        self._pos = max(0, min(len(self.sent_history), self._pos + step))
        self.text = self.sent_history[self._pos] if self._pos < len(self.sent_history) else ""
        self.move_cursor(self.document.end)

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        text = self.text
        if text.startswith("/") and "\n" not in text:
            matches = complete(text)
            hint = "   ".join(f"{m.name} {m.args}".strip() + f" — {m.help}" for m in matches[:4])
            hint = hint or "unknown command: /help lists them"
        else:
            hint = ""
        if hint != self._hint:  # a changed hint re-lays out the screen: not on every key
            self._hint = hint
            self.post_message(self.Hint(hint))


def _common_prefix(words: list[str]) -> str:
    first, last = min(words), max(words)
    i = 0
    while i < len(first) and first[i] == last[i]:
        i += 1
    return first[:i]
