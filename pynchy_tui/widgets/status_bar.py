"""Provides the status bar: host state, running agents, today's tokens and cost."""

from __future__ import annotations

from textual.reactive import reactive
from textual.widgets import Static


class StatusBar(Static):
    DEFAULT_CSS = """
    StatusBar { height: 1; padding: 0 1; background: $panel; color: $text-muted; }
    """

    host_state: reactive[str] = reactive("starting")
    running: reactive[int] = reactive(0)
    tokens: reactive[int] = reactive(0)
    cost: reactive[float] = reactive(0.0)
    runtime: reactive[str] = reactive("")
    demo: reactive[bool] = reactive(False)

    def render(self) -> str:
        parts = [f"host {self.host_state}", f"{self.running} running"]
        parts.append(f"today {self.tokens:,} tokens · ${self.cost:.4f}")
        if self.runtime:
            parts.append(f"runtime {self.runtime}")
        if self.demo:
            parts.append("DEMO (scripted model, offline)")
        return "  ·  ".join(parts)
