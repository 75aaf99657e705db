"""Provides the diff pane: the selected workspace's changes against the main commit its branch
forked from (committed and uncommitted together), as a summary line, a file list with +/-
counts and the syntax-highlighted patch. Long files are cut per file (Enter expands); `f` (or
F5) opens the full-screen diff. A workspace without a repository says so plainly."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from pynchy_tui.widgets.diff_view import DiffView

if TYPE_CHECKING:
    from pynchy_tui.gitops.diff import DiffSnapshot, FileDiff

PER_FILE = 40


def file_label(f: FileDiff, colors: dict[str, str] | None = None) -> Text:
    """`M  +12 -3 path ●`: status, counts (in the theme's success / error colours), path, and
    a dot when the file has uncommitted changes."""
    c = colors or {}
    t = Text(no_wrap=True, overflow="ellipsis")
    t.append(f"{f.status} ", style="bold")
    if f.binary:
        t.append(f"{'bin':>10} ")
    else:
        pad = max(0, 9 - len(str(f.added)) - len(str(f.removed)))
        t.append(" " * pad)
        t.append(f"+{f.added}", style=c.get("added", ""))
        t.append(" ")
        t.append(f"−{f.removed} ", style=c.get("removed", ""))
    t.append(f.path)
    if f.uncommitted:
        t.append(" ●", style=c.get("dirty", ""))
    return t


def summary(snap: DiffSnapshot) -> str:
    if not snap.files:
        text = f"{snap.branch}: no changes against {snap.main}"
    else:
        n = len(snap.files)
        text = (
            f"{snap.branch} ← {snap.main} · {n} file{'s' * (n != 1)} +{snap.added} −{snap.removed}"
        )
    bits = []
    if snap.ahead:
        bits.append(f"{snap.ahead} commit{'s' * (snap.ahead != 1)} to sync")
    if snap.uncommitted:
        bits.append(f"● {len(snap.uncommitted)} uncommitted")
    if snap.behind:
        bits.append(f"{snap.main} +{snap.behind}")
    if snap.operation:
        where = f": {', '.join(snap.conflicts[:3])}" if snap.conflicts else ""
        bits.append(f"⚠ {snap.operation} in progress{where}")
    return text + ("" if not bits else " · " + " · ".join(bits))


class DiffPane(Vertical):
    DEFAULT_CSS = """
    DiffPane { height: 1fr; }
    DiffPane #diff-summary { height: auto; max-height: 3; padding: 0 1; color: $text-muted; }
    DiffPane #diff-summary.-warning { color: $warning; }
    DiffPane #diff-files { height: auto; max-height: 7; border: none; padding: 0;
        background: $surface; scrollbar-size-vertical: 1; }
    DiffPane #diff-files:focus { border: none; }
    DiffPane #diff-view { height: 1fr; scrollbar-size-horizontal: 0; }
    DiffPane.-empty #diff-files, DiffPane.-empty #diff-view { display: none; }
    DiffPane.-empty #diff-summary { height: 1fr; max-height: 100%; }
    """
    BINDINGS = [Binding("f", "full", "Full diff", show=False)]

    class OpenFull(Message):
        """The person wants the full-screen diff of the workspace shown."""

        def __init__(self, workspace: str | None) -> None:
            super().__init__()
            self.workspace = workspace

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.workspace: str | None = None
        self.snapshot: DiffSnapshot | None = None
        self.message = ""

    def compose(self) -> ComposeResult:
        # The file list and the patch view mount with the first diff that has files: most
        # start-ups (and workspaces without a repository) never need them, and the first
        # frame should not wait for them.
        yield Static(self.message, id="diff-summary")

    def on_mount(self) -> None:
        self.add_class("-empty")

    @property
    def view(self) -> DiffView:
        return self.query_one(DiffView)

    @property
    def _has_parts(self) -> bool:
        return bool(self.query("#diff-files"))

    def _mount_parts(self) -> None:
        self.mount(OptionList(id="diff-files"), DiffView(per_file=PER_FILE, id="diff-view"))

    @property
    def summary_text(self) -> str:
        return str(self.query_one("#diff-summary", Static).render())

    # -- what to show ---------------------------------------------------------------------

    def show_message(self, text: str, warning: bool = False) -> None:
        self.message = text
        self.snapshot = None
        if self.is_mounted:
            s = self.query_one("#diff-summary", Static)
            s.update(text)
            s.set_class(warning, "-warning")
            self.add_class("-empty")
            if self._has_parts:
                self.view.show(None)
                self.query_one(OptionList).clear_options()

    def show_workspace(self, workspace: str | None, repo: str | None) -> None:
        """A workspace was selected: say what we know before its diff is read."""
        changed = workspace != self.workspace
        self.workspace = workspace
        if workspace is None:
            self.show_message("no workspace selected")
        elif repo is None:
            self.show_message(f"no repository: {workspace} is not bound to a git repo")
        elif changed or self.snapshot is None:
            self.show_message(f"{repo}: reading the diff…")

    def show_snapshot(self, snap: DiffSnapshot) -> None:
        if snap.workspace != self.workspace:
            return
        self.snapshot = snap
        self.message = summary(snap)
        s = self.query_one("#diff-summary", Static)
        s.update(self.message)
        s.set_class(bool(snap.operation), "-warning")
        self.set_class(not snap.files, "-empty")
        if not self._has_parts:
            if not snap.files:
                return
            self._mount_parts()
        files = self.query_one(OptionList)
        highlighted = files.highlighted
        files.clear_options()
        colors = self._colors()
        files.add_options([Option(file_label(f, colors), id=f.path) for f in snap.files])
        if highlighted is not None and snap.files:
            files.highlighted = min(highlighted, len(snap.files) - 1)
        self.view.show(snap)

    def _colors(self) -> dict[str, str]:
        theme = self.app.current_theme
        if theme is None:
            return {}
        return {
            "added": theme.success or "",
            "removed": theme.error or "",
            "dirty": theme.warning or "",
        }

    # -- interaction ----------------------------------------------------------------------

    @on(OptionList.OptionSelected, "#diff-files")
    def _file_chosen(self, event: OptionList.OptionSelected) -> None:
        if event.option_id:
            self.view.scroll_to_file(event.option_id)
            self.view.focus()

    def action_full(self) -> None:
        self.post_message(self.OpenFull(self.workspace))
