"""Provides the tips bar: one beginner tip at a time, hidden when there is none."""

from __future__ import annotations

from textual.widgets import Static


class TipsBar(Static):
    DEFAULT_CSS = """
    TipsBar { height: auto; padding: 0 1; background: $boost; color: $text-muted; display: none; }
    TipsBar.-shown { display: block; }
    """

    def show_tip(self, tip: str | None) -> None:
        self.update(f"tip: {tip}" if tip else "")
        self.set_class(bool(tip), "-shown")
