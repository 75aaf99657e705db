"""Provides the audit view (F4): every policy decision, automatic or human, filterable by
workspace and decision."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Label, Select

from pynchy_tui.tool_args import summarize_args

if TYPE_CHECKING:
    from pynchy_tui.app import PynchyApp

DECISIONS = ["allow", "ask", "deny", "approved", "denied", "expired"]


class AuditScreen(Screen[None]):
    BINDINGS = [Binding("escape,f4", "app.pop_screen", "Close")]
    DEFAULT_CSS = """
    AuditScreen .title { height: 1; padding: 0 1; background: $panel; text-style: bold; }
    AuditScreen .filters { height: auto; padding: 0 1; }
    AuditScreen .filters > Select { width: 40; margin-right: 2; }
    AuditScreen DataTable { height: 1fr; }
    """

    def compose(self) -> ComposeResult:
        app: PynchyApp = self.app  # type: ignore[assignment]
        names = [w.name for w in app.host.list_workspaces()]
        yield Label("Audit log: every tool call and who decided", classes="title")
        with Horizontal(classes="filters"):
            yield Select([(n, n) for n in names], prompt="all workspaces", id="ws")
            yield Select([(d, d) for d in DECISIONS], prompt="all decisions", id="decision")
        yield DataTable(cursor_type="row", id="audit")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for col in ("time", "workspace", "tool", "what", "decision", "rule", "by"):
            table.add_column(col, key=col)
        self.reload()

    def on_select_changed(self, event: Select.Changed) -> None:
        self.reload()

    @work(exclusive=True, group="audit")
    async def reload(self) -> None:
        app: PynchyApp = self.app  # type: ignore[assignment]
        ws = self.query_one("#ws", Select).value
        decision = self.query_one("#decision", Select).value
        rows = await app.host.audit_rows(
            ws if isinstance(ws, str) else None, decision if isinstance(decision, str) else None
        )
        table = self.query_one(DataTable)
        table.clear()
        for r in rows:
            when = dt.datetime.fromtimestamp(r["created_at"]).strftime("%m-%d %H:%M:%S")
            table.add_row(
                when,
                r["workspace"],
                r["tool"],
                summarize_args(r["args"], 40),
                r["decision"],
                r.get("rule_id") or "",
                r["actor"],
            )
