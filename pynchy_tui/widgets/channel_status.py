"""Provides the channel list: each configured chat bridge and its connection state."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

STYLE = {
    "connected": "green",
    "connecting": "yellow",
    "disconnected": "red",
    "error": "red",
}
MARK = {"connected": "●", "connecting": "◌", "disconnected": "○", "error": "✗"}


class ChannelStatus(Static):
    """One line per channel: `● phone telegram connected`. Hidden while there are none."""

    DEFAULT_CSS = """
    ChannelStatus { height: auto; padding: 0 1; display: none; }
    ChannelStatus.-shown { display: block; }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__("", **kwargs)  # type: ignore[arg-type]
        self.channels: dict[str, tuple[str, str, str]] = {}

    def set_state(self, name: str, type_: str, state: str, detail: str = "") -> None:
        self.channels[name] = (type_, state, detail)
        self.set_class(True, "-shown")
        self.update(self.render_text())

    def render_text(self) -> Text:
        out = Text()
        for i, (name, (type_, state, detail)) in enumerate(sorted(self.channels.items())):
            if i:
                out.append("\n")
            out.append(f"{MARK.get(state, '?')} ", style=STYLE.get(state, ""))
            out.append(f"{name} ", style="bold")
            out.append(f"{type_} ", style="dim")
            out.append(state, style=STYLE.get(state, ""))
            if detail and state != "connected":
                out.append(f" · {detail[:60]}", style="dim")
        return out
