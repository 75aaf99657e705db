"""Provides the full-screen diff: the file list on the left, the whole patch on the right
(line numbers, syntax highlighting, files over 2,000 lines cut until expanded). Only the
rows on screen are drawn, so huge diffs stay responsive."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer, Label, OptionList
from textual.widgets.option_list import Option

from pynchy_tui.gitops.diff import DiffSnapshot
from pynchy_tui.widgets.diff_pane import file_label, summary
from pynchy_tui.widgets.diff_view import DiffView

PER_FILE = 2000


class DiffScreen(Screen[None]):
    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "Close"),
        Binding("e", "expand", "Expand all"),
        Binding("tab", "switch", "Files / diff", show=False),
    ]
    DEFAULT_CSS = """
    DiffScreen #diff-title { height: 1; padding: 0 1; background: $panel; text-style: bold; }
    DiffScreen #diff-screen-files { width: 44; height: 1fr; border: none;
        border-right: solid $panel-lighten-1; padding: 0; background: $surface; }
    DiffScreen #diff-screen-files:focus { border: none; border-right: solid $primary; }
    DiffScreen #diff-screen-view { width: 1fr; height: 1fr; }
    """

    def __init__(self, snapshot: DiffSnapshot) -> None:
        super().__init__()
        self.snapshot = snapshot
        self._all = False

    def compose(self) -> ComposeResult:
        yield Label(summary(self.snapshot), id="diff-title")
        with Horizontal():
            yield OptionList(id="diff-screen-files")
            yield DiffView(per_file=PER_FILE, numbers=True, id="diff-screen-view")
        yield Footer()

    @property
    def view(self) -> DiffView:
        return self.query_one(DiffView)

    def on_mount(self) -> None:
        self.update(self.snapshot)
        self.view.focus()

    def update(self, snapshot: DiffSnapshot) -> None:
        """Show a newer snapshot of the same workspace (the diff changed while open)."""
        self.snapshot = snapshot
        self.query_one("#diff-title", Label).update(summary(snapshot))
        files = self.query_one(OptionList)
        highlighted = files.highlighted
        files.clear_options()
        theme = self.app.current_theme
        colors = (
            {
                "added": theme.success or "",
                "removed": theme.error or "",
                "dirty": theme.warning or "",
            }
            if theme
            else {}
        )
        files.add_options([Option(file_label(f, colors), id=f.path) for f in snapshot.files])
        if highlighted is not None and snapshot.files:
            files.highlighted = min(highlighted, len(snapshot.files) - 1)
        self.view.show(snapshot)

    @on(OptionList.OptionHighlighted, "#diff-screen-files")
    @on(OptionList.OptionSelected, "#diff-screen-files")
    def _file(self, event: OptionList.OptionHighlighted | OptionList.OptionSelected) -> None:
        if event.option_id:
            self.view.scroll_to_file(event.option_id)

    @on(DiffView.LoadFile)
    async def _load(self, event: DiffView.LoadFile) -> None:
        git = getattr(self.app, "host", None) and self.app.host.git  # type: ignore[attr-defined]
        if git is not None:
            lines = await git.file_lines(self.snapshot.workspace, event.path)
            event.view.set_file_lines(event.path, lines)

    def action_expand(self) -> None:
        self._all = not self._all
        self.view.expand_all(self._all)

    def action_switch(self) -> None:
        files = self.query_one(OptionList)
        (self.view if files.has_focus else files).focus()
