"""Provides the help screen: every key binding and slash command."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

from pynchy_tui.widgets.composer import SLASH_COMMANDS

KEYS = [
    ("Enter / Ctrl+S", "send the message"),
    ("Ctrl+J (Shift+Enter)", "new line in the message"),
    ("Up / Down", "walk your sent messages (on the first/last line)"),
    ("Tab", "complete a slash command"),
    ("Ctrl+N / Ctrl+B", "next / previous workspace"),
    ("Ctrl+W", "focus the workspaces list"),
    ("Ctrl+T", "focus the transcript; End jumps to the latest message"),
    ("Ctrl+L", "focus the composer"),
    ("Enter (on a tool block)", "expand or collapse it; o opens the whole output"),
    ("Ctrl+P", "command palette: workspaces and actions"),
    ("F1", "this help"),
    ("F2", "settings"),
    ("F5", "the full-screen diff (workspaces bound to a git repository)"),
    ("Ctrl+Q", "quit"),
]


def help_markdown() -> str:
    lines = ["# pynchy help", "", "## Keys", "", "| key | does |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in KEYS]
    lines += ["", "## Slash commands", "", "| command | does |", "|---|---|"]
    lines += [f"| `{(c.name + ' ' + c.args).strip()}` | {c.help} |" for c in SLASH_COMMANDS]
    lines += ["", "Press Escape to close."]
    return "\n".join(lines)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,f1,q", "dismiss", "Close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 90%;
        max-width: 100;
        height: 90%;
        background: $surface;
        border: thick $primary;
        padding: 0 1;
    }
    """

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Markdown(help_markdown())

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(None)
