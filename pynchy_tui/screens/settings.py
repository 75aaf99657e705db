"""Provides the settings screen (F2): theme, tips, default account and model, runtime and idle
timeout, saved to config.toml with the user's comments kept."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Switch

from pynchy_tui.config import ConfigError, update_config
from pynchy_tui.config.durations import format_duration, parse_duration
from pynchy_tui.themes import SHIPPED_THEME_NAMES

if TYPE_CHECKING:
    from pynchy_tui.app import PynchyApp

RUNTIMES = ["auto", "docker", "bubblewrap", "process"]


class SettingsScreen(ModalScreen[bool]):
    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "save", "Save")]
    DEFAULT_CSS = """
    SettingsScreen { align: center middle; }
    SettingsScreen > Vertical {
        width: 76;
        height: auto;
        max-height: 95%;
        background: $surface;
        border: thick $primary;
        padding: 0 1;
    }
    SettingsScreen .title { text-style: bold; padding: 0 0 1 0; }
    SettingsScreen .row { height: auto; margin: 0 0 1 0; }
    SettingsScreen .row > Label { width: 20; padding: 1 1 0 0; }
    SettingsScreen .row > Input, SettingsScreen .row > Select { width: 1fr; }
    SettingsScreen #error { color: $error; height: auto; }
    SettingsScreen .buttons { height: auto; align-horizontal: right; }
    """

    def compose(self) -> ComposeResult:
        app: PynchyApp = self.app  # type: ignore[assignment]
        c = app.host.config
        accounts = list(c.accounts)
        default = c.default_account()
        themes = list(dict.fromkeys([*SHIPPED_THEME_NAMES, *app.available_themes]))
        with Vertical():
            yield Label("Settings (saved to config.toml)", classes="title")
            with VerticalScroll():
                with Horizontal(classes="row"):
                    yield Label("Theme")
                    yield Select(
                        [(t, t) for t in themes], value=app.theme, allow_blank=False, id="theme"
                    )
                with Horizontal(classes="row"):
                    yield Label("Beginner tips")
                    yield Switch(value=c.ui.tips, id="tips")
                with Horizontal(classes="row"):
                    yield Label("Default account")
                    if accounts:
                        yield Select(
                            [(a, a) for a in accounts],
                            value=default,
                            allow_blank=False,
                            id="account",
                        )
                    else:
                        yield Label("none yet (onboarding adds one)", id="account-none")
                with Horizontal(classes="row"):
                    yield Label("Model")
                    model = c.accounts[default].model if default else ""
                    yield Input(model, id="model", disabled=not accounts)
                with Horizontal(classes="row"):
                    yield Label("Runtime")
                    yield Select(
                        [(r, r) for r in RUNTIMES],
                        value=c.runtime.runtime,
                        allow_blank=False,
                        id="runtime",
                    )
                with Horizontal(classes="row"):
                    yield Label("Idle timeout")
                    yield Input(format_duration(c.runtime.idle_timeout), id="idle")
            yield Label("", id="error")
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Save", id="save", variant="primary")

    def on_select_changed(self, event: Select.Changed) -> None:
        app: PynchyApp = self.app  # type: ignore[assignment]
        if event.select.id == "account" and isinstance(event.value, str):
            self.query_one("#model", Input).value = app.host.config.accounts[event.value].model
        elif event.select.id == "theme" and isinstance(event.value, str):
            app.theme = event.value  # preview; restored on cancel

    def on_mount(self) -> None:
        self._theme_before = self.app.theme

    async def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save":
            await self.action_save()
        else:
            self.action_cancel()

    def action_cancel(self) -> None:
        self.app.theme = self._theme_before
        self.dismiss(False)

    async def action_save(self) -> None:
        app: PynchyApp = self.app  # type: ignore[assignment]
        c = app.host.config
        error = self.query_one("#error", Label)
        idle_text = self.query_one("#idle", Input).value
        try:
            idle = parse_duration(idle_text)
        except ValueError as exc:
            error.update(f"Idle timeout: {exc}")
            return
        updates: dict[tuple[str, ...], object] = {
            ("ui", "theme"): self.query_one("#theme", Select).value,
            ("ui", "tips"): self.query_one("#tips", Switch).value,
            ("runtime", "runtime"): self.query_one("#runtime", Select).value,
            ("runtime", "idle_timeout"): idle_text.strip(),
        }
        account = None
        if c.accounts:
            account = str(self.query_one("#account", Select).value)
            model = self.query_one("#model", Input).value.strip()
            if not model:
                error.update("Model: must not be empty")
                return
            updates[("defaults", "account")] = account
            updates[("accounts", account, "model")] = model
        import asyncio

        try:
            await asyncio.to_thread(update_config, app.paths.config_file, updates)
        except (ConfigError, OSError) as exc:
            error.update(str(exc))
            return
        c.ui.theme = str(updates[("ui", "theme")])
        c.ui.tips = bool(updates[("ui", "tips")])
        c.runtime.runtime = updates[("runtime", "runtime")]  # type: ignore[assignment]
        c.runtime.idle_timeout = idle
        if account is not None:
            c.defaults.account = account
            c.accounts[account].model = str(updates[("accounts", account, "model")])
        app.theme = c.ui.theme
        self.dismiss(True)
