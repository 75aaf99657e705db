"""Provides a compact, collapsible tool call block: tool, argument summary, status, duration,
and its output shortened to head and tail (the whole text opens in a pager)."""

from __future__ import annotations

from textual.binding import Binding
from textual.message import Message
from textual.widgets import Collapsible, Static

from pynchy_tui.tool_args import summarize_args

HEAD, TAIL = 8, 6


def shorten(text: str, head: int = HEAD, tail: int = TAIL) -> tuple[str, int]:
    """(head + marker + tail, number of hidden lines)."""
    lines = text.splitlines()
    if len(lines) <= head + tail:
        return text, 0
    hidden = len(lines) - head - tail
    body = "\n".join(
        [*lines[:head], f"… {hidden} lines hidden (press o to open all) …", *lines[-tail:]]
    )
    return body, hidden


class ToolCallBlock(Collapsible):
    """One tool call. Collapsed by default; `o` opens the full output."""

    BINDINGS = [Binding("o", "open_output", "Open output", show=False)]

    DEFAULT_CSS = """
    ToolCallBlock { height: auto; margin: 0 0 1 2; padding: 0; border: none; background: $surface; }
    ToolCallBlock.-error > CollapsibleTitle { color: $error; }
    ToolCallBlock.-running > CollapsibleTitle { color: $warning; }
    ToolCallBlock > Contents { padding: 0 1; }
    ToolCallBlock .output { color: $text-muted; }
    """

    class OpenOutput(Message):
        def __init__(self, title: str, text: str) -> None:
            super().__init__()
            self.title = title
            self.text = text

    def __init__(self, call_id: str, tool: str, args: dict, *, collapsed: bool = True) -> None:
        self.call_id = call_id
        self.tool = tool
        self.args = args
        self.status = "running"
        self.duration_ms: int | None = None
        self.output = ""
        self.summary = ""
        self._output_widget = Static("", classes="output", markup=False)
        super().__init__(
            self._output_widget, title=self._title_text(), collapsed=collapsed, classes="-running"
        )

    def _title_text(self) -> str:
        arg = summarize_args(self.args, 60)
        if self.status == "running":
            state = "running…"
        else:
            mark = "✓" if self.status == "ok" else "✕"
            state = f"{mark} {self.summary}"
            if self.duration_ms is not None:
                state += (
                    f" · {self.duration_ms / 1000:.1f}s"
                    if self.duration_ms >= 100
                    else f" · {self.duration_ms} ms"
                )
        return f"{self.tool}  {arg}  {state}"

    def add_output(self, data: str) -> None:
        self.output += data
        self._refresh_output()

    def finish(self, ok: bool, summary: str, duration_ms: int, result: str | None = None) -> None:
        self.status = "ok" if ok else "error"
        self.summary = summary
        self.duration_ms = duration_ms
        if result is not None:
            self.output = result
        self.title = self._title_text()
        self.set_class(False, "-running")
        self.set_class(not ok, "-error")
        self._refresh_output()

    def _refresh_output(self) -> None:
        shown, _hidden = shorten(self.output.rstrip("\n"))
        self._output_widget.update(shown or "(no output)")

    def action_open_output(self) -> None:
        self.post_message(
            self.OpenOutput(f"{self.tool}: {summarize_args(self.args, 60)}", self.output)
        )
