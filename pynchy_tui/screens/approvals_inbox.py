"""Provides the approvals inbox (F3): every pending approval of every workspace."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label

from pynchy_tui.tool_args import summarize_args

if TYPE_CHECKING:
    from pynchy_tui.app import PynchyApp


class ApprovalsInbox(ModalScreen[str | None]):
    """Dismisses with the id of the approval to open, or None."""

    BINDINGS = [Binding("escape,f3", "close", "Close")]
    DEFAULT_CSS = """
    ApprovalsInbox { align: center middle; }
    ApprovalsInbox > Vertical {
        width: 90%;
        max-width: 120;
        height: auto;
        max-height: 80%;
        background: $surface;
        border: thick $accent;
        padding: 0 1;
    }
    ApprovalsInbox .title { text-style: bold; padding: 1 0; }
    ApprovalsInbox DataTable { height: auto; max-height: 20; }
    ApprovalsInbox .empty { color: $text-muted; padding: 0 0 1 0; }
    """

    def __init__(self, pending: list[dict[str, Any]]) -> None:
        super().__init__()
        self.pending = pending

    def compose(self) -> ComposeResult:
        with Vertical():
            n = len(self.pending)
            yield Label(
                f"Approvals waiting: {n}" + ("  (Enter opens one)" if n else ""), classes="title"
            )
            if not self.pending:
                yield Label("Nothing is waiting for you.", classes="empty")
            table: DataTable = DataTable(cursor_type="row", id="inbox")
            yield table

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for col in ("workspace", "tool", "what", "why", "id"):
            table.add_column(col, key=col)
        for a in self.pending:
            table.add_row(
                a["workspace"],
                a["tool"],
                summarize_args(a["args"], 40),
                (a.get("reason") or "")[:50],
                a["id"],
                key=a["id"],
            )
        table.focus()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.dismiss(str(event.row_key.value))

    def action_close(self) -> None:
        self.dismiss(None)

    @property
    def papp(self) -> PynchyApp:
        return self.app  # type: ignore[return-value]
