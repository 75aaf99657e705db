"""Provides the command palette's workspace and action commands."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from pynchy_tui.app import PynchyApp


class WorkspaceCommands(Provider):
    """Switch workspace; new / rename / delete / clear; stop; settings; help."""

    def _commands(self) -> list[tuple[str, Callable[[], Any], str]]:
        app: PynchyApp = self.app  # type: ignore[assignment]
        main = app.main_screen
        out: list[tuple[str, Callable[[], Any], str]] = []
        for ws in app.host.list_workspaces() if app.host_ready else []:
            out.append(
                (f"Switch to workspace {ws.name}", partial(main.select, ws.name), "workspace")
            )
        out += [
            ("New workspace", main.prompt_new_workspace, "create a workspace and switch to it"),
            ("Rename workspace", main.prompt_rename_workspace, "rename the selected workspace"),
            ("Clear conversation", partial(main.run_slash, "/clear"), "the agent starts fresh"),
            (
                "Stop the running turn",
                partial(main.run_slash, "/stop"),
                "cancel what the agent does",
            ),
            *self._git_commands(),
            ("Settings", app.action_settings, "theme, tips, accounts, runtime (F2)"),
            ("Help", app.action_help, "keys and slash commands (F1)"),
        ]
        for ws in app.host.list_workspaces() if app.host_ready else []:
            out.append(
                (
                    f"Delete workspace {ws.name}",
                    partial(app.confirm_delete, ws.name),
                    "files move to the trash folder",
                )
            )
        return out

    def _git_commands(self) -> list[tuple[str, Callable[[], Any], str]]:
        """Git actions for the selected workspace: bind it, or sync and view its diff."""
        app: PynchyApp = self.app  # type: ignore[assignment]
        main = app.main_screen
        name = main.selected
        if name is None or not app.host_ready:
            return []
        conf = app.host.config.workspaces.get(name)
        if conf is None or not conf.repo:
            return [
                (
                    "Bind workspace to a git repository",
                    main.prompt_bind_repo,
                    f"{name} works on its own clone, on branch pynchy/{name}",
                )
            ]
        out: list[tuple[str, Callable[[], Any], str]] = [
            (
                f"Sync {name} to main",
                main.sync_selected,
                "rebase the branch on main, then fast-forward main"
                if conf.sync == "rebase"
                else "merge the branch into main",
            ),
            ("Show the diff full screen", main.action_diff_full, "every file, line numbers (F5)"),
        ]
        if conf.deputy_review:
            out.insert(
                1,
                (
                    f"Sync {name} to main without the deputy review",
                    partial(main.sync_selected, False),
                    "you take the reviewer's place",
                ),
            )
        return out

    async def discover(self) -> Hits:
        for name, callback, help_text in self._commands():
            yield DiscoveryHit(name, partial(self._run, callback), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, callback, help_text in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(
                    score, matcher.highlight(name), partial(self._run, callback), help=help_text
                )

    def _run(self, callback: Callable[[], Any]) -> None:
        self.app.run_worker(callback(), group="palette", exit_on_error=False)
