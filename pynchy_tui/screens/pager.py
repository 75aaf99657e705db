"""Provides the pager: a tool's whole output, full screen, scrollable."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Label, TextArea


class PagerScreen(Screen[None]):
    BINDINGS = [Binding("escape,q", "app.pop_screen", "Close")]
    DEFAULT_CSS = """
    PagerScreen Label { height: 1; padding: 0 1; background: $panel; text-style: bold; }
    PagerScreen TextArea { height: 1fr; }
    """

    def __init__(self, title: str, text: str) -> None:
        super().__init__()
        self.title_text = title
        self.text = text

    def compose(self) -> ComposeResult:
        yield Label(self.title_text)
        yield TextArea(self.text, read_only=True, show_line_numbers=True)
        yield Footer()
