"""Provides PynchyApp: one Textual screen that embeds the host on the same event loop."""

from __future__ import annotations

import contextlib
import gc
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import work
from textual.app import App
from textual.binding import Binding

from pynchy_tui.commands import WorkspaceCommands
from pynchy_tui.config import Config, Paths, update_config
from pynchy_tui.config.models import AccountConfig, WorkspaceConfig
from pynchy_tui.input_priority import InputPriority
from pynchy_tui.messages import HostFailed
from pynchy_tui.screens.main import MainScreen
from pynchy_tui.themes import BUILTIN_THEMES, DEFAULT_THEME

if TYPE_CHECKING:
    from pynchy_tui.host.host import Host

_HERE = Path(__file__).resolve().parent


class PynchyApp(App[int]):
    CSS_PATH = [_HERE / "app.tcss", _HERE / "screens" / "main.tcss"]  # absolute: subclasses
    TITLE = "pynchy"
    COMMANDS = App.COMMANDS | {WorkspaceCommands}
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", priority=True),
        Binding("f1", "help", "Help"),
        Binding("f2", "settings", "Settings"),
        Binding("f3", "approvals", "Approvals"),
        Binding("f4", "audit", "Audit", show=False),
        Binding("ctrl+p", "command_palette", "Palette", show=True),
    ]

    def __init__(
        self,
        config: Config,
        paths: Paths,
        *,
        host: Host | None = None,
        demo: bool = False,
        control: bool = True,
        onboarding: bool = True,
        probe_ollama: bool = True,
    ) -> None:
        super().__init__()
        self.config = config
        self.paths = paths
        self._host = host
        self.demo: Any = None  # the demo's scripted server, when running
        self._want_demo = demo
        self._control_enabled = control
        self._onboarding = onboarding
        self._probe_ollama = probe_ollama
        self._control: Any = None
        self._tips: Any = None
        self.exit_code = 0
        self.closing = False
        for theme in BUILTIN_THEMES.values():
            self.register_theme(theme)
        self._bad_theme = config.ui.theme not in self.available_themes
        self.theme = DEFAULT_THEME if self._bad_theme else config.ui.theme
        self.main_screen = MainScreen()
        self.input_priority = InputPriority()  # the composer reports keys, the bridge yields

    def get_default_screen(self) -> MainScreen:
        return self.main_screen

    @property
    def host(self) -> Host:
        """The host, built on first use: the first frame must not wait for the agent stack
        (providers, runtimes, git, policy) to import."""
        if self._host is None:
            from pynchy_tui.host.host import Host

            self._host = Host(self.config, self.paths)
        return self._host

    @property
    def host_ready(self) -> bool:
        return self._host is not None and self._host.state == "ready"

    def on_mount(self) -> None:
        if self._bad_theme:
            self.notify(
                f"unknown theme {self.config.ui.theme!r}; using {DEFAULT_THEME}", severity="warning"
            )
        self.call_after_refresh(self._boot)  # paint the screen first, then build the host

    def _boot(self) -> None:
        from pynchy_tui.bridge import run_bridge

        if self.closing:
            return
        sub = self.host.bus.subscribe(maxsize=20_000)  # before start: no event is missed
        if not gc.isenabled():  # `pynchy` paused the collector for start-up (cli._tui)
            gc.freeze()  # what start-up built lives for the session: keep it out of collections
            gc.enable()
        self.run_worker(
            run_bridge(sub, self.main_screen, priority=self.input_priority),
            name="bridge",
            group="host",
            exit_on_error=False,
        )
        self.run_worker(self._run_host(), name="host", group="host", exit_on_error=False)

    async def _run_host(self) -> None:
        try:
            await self.host.start()
        except Exception as exc:
            self.post_message(HostFailed(f"the host could not start: {exc}"))
            return
        if self._control_enabled:
            from pynchy_tui.host.control import ControlServer

            self._control = ControlServer(self.host, self.paths.socket_path)
            try:
                await self._control.start()
            except OSError:
                self._control = None
        if self._want_demo:
            await self.start_demo()
        elif not self.host.config.accounts and self._onboarding:
            self.run_onboarding()

    def on_host_failed(self, message: HostFailed) -> None:
        self.notify(message.text, severity="error", timeout=30)
        self.main_screen.status.host_state = "failed"

    # -- actions ---------------------------------------------------------------------------

    def action_help(self) -> None:
        from pynchy_tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_approvals(self) -> None:
        self.main_screen.open_inbox()

    def action_audit(self) -> None:
        from pynchy_tui.screens.audit import AuditScreen

        if not isinstance(self.screen, AuditScreen):
            self.push_screen(AuditScreen())

    def action_settings(self) -> None:
        from pynchy_tui.screens.settings import SettingsScreen

        if not isinstance(self.screen, SettingsScreen):
            self.push_screen(SettingsScreen(), self._settings_closed)

    def _settings_closed(self, saved: bool | None) -> None:
        if saved:
            self.notify("settings saved to config.toml")
            self.run_worker(self.main_screen.refresh_workspaces(), group="ui", exit_on_error=False)

    @work(exclusive=True, group="onboarding")
    async def run_onboarding(self) -> None:
        from pynchy_tui.screens.onboarding import OnboardingScreen

        result = await self.push_screen_wait(
            OnboardingScreen(None if self._probe_ollama else False)
        )
        if result == "demo":
            await self.start_demo()
        elif result:
            if not self.host.list_workspaces():
                await self.host.create_workspace("main")
            await self.main_screen.refresh_workspaces()
            self.notify(f"account {result} saved; say hello!")

    @work(group="confirm")
    async def confirm_delete(self, name: str) -> None:
        from pynchy_tui.screens.prompt import PromptScreen

        answer = await self.push_screen_wait(
            PromptScreen(
                f"Delete workspace {name}? Its files move to the trash folder. "
                "Type its name to confirm:"
            )
        )
        if answer == name:
            await self.main_screen.delete_workspace(name)
        elif answer:
            self.notify("names did not match; nothing deleted")

    async def save_account(self, name: str, account: AccountConfig) -> None:
        """Persist an account from onboarding and make it the default."""
        import asyncio

        await self.host.add_account(name, account)
        await asyncio.to_thread(
            update_config, self.paths.config_file, {("defaults", "account"): name}
        )
        self.host.config.defaults.account = name

    async def start_demo(self) -> None:
        """The offline tour: a scripted model, in memory only, clearly labelled."""
        from pynchy_tui.demo import (
            DEMO_ACCOUNT,
            DEMO_FIRST_MESSAGE,
            DEMO_WORKSPACE,
            start_demo_server,
        )

        if self.demo is None:
            self.demo = start_demo_server()
        account = AccountConfig(
            provider="openai", model="scripted-demo", base_url=self.demo.openai_url
        )
        await self.host.add_account(DEMO_ACCOUNT, account, persist=False)
        self.host.config.workspaces.setdefault(
            DEMO_WORKSPACE, WorkspaceConfig(account=DEMO_ACCOUNT)
        )
        self.host.config.workspaces[DEMO_WORKSPACE].account = DEMO_ACCOUNT
        if DEMO_WORKSPACE not in {w.name for w in self.host.list_workspaces()}:
            await self.host.create_workspace(DEMO_WORKSPACE)
        self.main_screen.status.demo = True
        await self.main_screen.refresh_workspaces()
        await self.main_screen.select(DEMO_WORKSPACE)
        await self.host.submit(DEMO_WORKSPACE, DEMO_FIRST_MESSAGE, source="tui")

    def next_tip(self) -> str | None:
        if not self.host.config.ui.tips or self.host.store is None:
            return None
        if self._tips is None:
            from pynchy_tui.tips import TipRotation

            self._tips = TipRotation(self.host.store.call_sync, self.host.plugins.tips())
        return self._tips.after_message()

    async def action_quit(self) -> None:
        await self.shutdown()
        self.exit(self.exit_code)

    async def shutdown(self) -> None:
        self.closing = True
        self.workers.cancel_group(self, "host")  # the bridge first: no events into a closing UI
        if self._control is not None:
            await self._control.stop()
            self._control = None
        if self._host is not None:
            with contextlib.suppress(Exception):
                await self._host.stop()
        if self.demo is not None:
            self.demo.stop()
            self.demo = None

    async def on_unmount(self) -> None:
        await self.shutdown()
