"""Provides the containers pane: each sandbox's runtime, state, uptime, CPU, memory and last
tool, updated in place (keyed rows), with an UNSANDBOXED warning for the process runtime."""

from __future__ import annotations

import time
from dataclasses import dataclass

from rich.text import Text
from textual.widgets import DataTable

COLUMNS = ("workspace", "runtime", "state", "up", "cpu", "mem", "tool")


@dataclass
class SandboxView:
    workspace: str
    runtime: str
    state: str
    started: float | None = None
    cpu: float | None = None
    memory: int | None = None
    last_tool: str = ""
    detail: str = ""


def _mem(n: int | None) -> str:
    if n is None:
        return "–"
    for unit in ("B", "K", "M", "G"):
        if n < 1024:
            return f"{n:.0f}{unit}"
        n //= 1024
    return f"{n}T"


def _uptime(started: float | None, now: float) -> str:
    if started is None:
        return "–"
    s = int(now - started)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


class ContainerTable(DataTable):
    DEFAULT_CSS = """
    ContainerTable { height: auto; max-height: 12; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        # No cell padding: each cell carries one trailing space, so seven columns fit the pane.
        super().__init__(
            id=id, cursor_type="row", zebra_stripes=False, show_cursor=False, cell_padding=0
        )
        self.views: dict[str, SandboxView] = {}

    def on_mount(self) -> None:
        for col in COLUMNS:
            self.add_column(f"{col} ", key=col)

    def apply(self, view: SandboxView, now: float | None = None) -> None:
        now = time.time() if now is None else now
        self.views[view.workspace] = view
        runtime = Text(view.runtime + " ")
        if view.runtime == "process":
            runtime = Text.assemble(("UNSANDBOXED", "bold reverse"), " ")
        state_style = {"busy": "bold", "error": "bold", "starting": "italic"}.get(view.state, "")
        cells = [
            view.workspace + " ",
            runtime,
            Text(view.state + " ", style=state_style),
            _uptime(view.started if view.state in ("idle", "busy") else None, now) + " ",
            (f"{view.cpu:.0f}%" if view.cpu is not None else "–") + " ",
            _mem(view.memory) + " ",
            view.last_tool or "–",
        ]
        key = view.workspace
        if key in self.rows:
            for col, value in zip(COLUMNS, cells, strict=True):
                self.update_cell(key, col, value, update_width=True)
        else:
            self.add_row(*cells, key=key)

    def forget(self, workspace: str) -> None:
        if workspace in self.rows:
            self.remove_row(workspace)
        self.views.pop(workspace, None)
