"""Provides the diff pane. Until a workspace is bound to a git repository it says so honestly."""

from __future__ import annotations

from textual.widgets import Static


class DiffPane(Static):
    DEFAULT_CSS = """
    DiffPane { height: 1fr; padding: 0 1; color: $text-muted; }
    """

    def show_workspace(self, workspace: str | None, repo: str | None) -> None:
        if workspace is None:
            self.update("no workspace selected")
        elif repo is None:
            self.update(f"no repository: {workspace} is not bound to a git repo")
        else:
            self.update(f"{repo}: diffs appear here once worktrees are set up")
