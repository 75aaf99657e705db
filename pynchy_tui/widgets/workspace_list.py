"""Provides the workspaces pane: each workspace with its live status, unread count and model."""

from __future__ import annotations

from dataclasses import dataclass

from textual.content import Content
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

STATUS_GLYPH = {  # theme variables only, so every theme (ansi ones too) stays legible
    "idle": ("●", "success"),
    "thinking": ("◐", "warning"),
    "tool": ("⚙", "warning"),
    "approval": ("?", "accent"),
    "hibernated": ("◌", "text-muted"),
    "error": ("✕", "error"),
}


@dataclass
class WorkspaceView:
    name: str
    status: str = "idle"  # idle | thinking | tool | approval | hibernated | error
    unread: int = 0
    account: str = ""
    model: str = ""
    detail: str = ""


class WorkspaceList(OptionList):
    """A line-API list of workspaces; posts `Selected` when the person picks one."""

    DEFAULT_CSS = """
    WorkspaceList { height: 1fr; border: none; padding: 0; }
    """

    class Selected(Message):
        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._names: list[str] = []
        self._views_by_name: dict[str, WorkspaceView] = {}

    def set_workspaces(self, views: list[WorkspaceView], selected: str | None) -> None:
        """Rebuild the options, keeping the highlight on `selected`."""
        names = [v.name for v in views]
        if names == self._names and self.option_count == len(names):
            for v in views:  # same rows: update in place, keep scroll and hover state
                self.replace_option_prompt(v.name, self._render(v))
        else:
            self.clear_options()
            self.add_options([Option(self._render(v), id=v.name) for v in views])
        self._names = names
        self._views_by_name = {v.name: v for v in views}
        if selected in names:
            self.highlighted = names.index(selected)

    def _render(self, v: WorkspaceView) -> Content:
        glyph, var = STATUS_GLYPH.get(v.status, ("●", "success"))
        status = {"tool": "running a tool", "approval": "waiting for approval"}.get(
            v.status, v.status
        )
        unread = f" [bold $accent]({v.unread})[/]" if v.unread else ""
        room = (self.size.width or 28) - 4 - len(status)
        model = f" · {v.model}" if v.model and room > 6 else ""
        if len(model) > room:
            model = model[: max(room - 1, 0)] + "…"
        return Content.from_markup(
            f"[${var}]{glyph}[/] [bold]$name[/]{unread}\n  [dim]{status}$model[/]",
            name=v.name,
            model=model,
        )

    def on_resize(self) -> None:
        if self._names:
            for v in self._views_by_name.values():
                self.replace_option_prompt(v.name, self._render(v))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id:
            self.post_message(self.Selected(event.option.id))
