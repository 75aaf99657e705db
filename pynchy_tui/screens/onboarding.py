"""Provides onboarding, shown when no account is configured: pick Anthropic, OpenAI or an
OpenAI-compatible server (a local Ollama is offered when one answers), give or point to the
key, test the connection, save. Or start the offline demo."""

from __future__ import annotations

import asyncio
import contextlib
import urllib.request
from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Button, Input, Label, RadioButton, RadioSet, Static

from pynchy_tui.config.models import AccountConfig

if TYPE_CHECKING:
    from pynchy_tui.app import PynchyApp

OLLAMA_URL = "http://127.0.0.1:11434"
CHOICES = {
    "anthropic": (
        "Anthropic (Claude)",
        "anthropic",
        "claude-sonnet-4-5",
        None,
        "ANTHROPIC_API_KEY",
    ),
    "openai": ("OpenAI", "openai", "gpt-4.1", None, "OPENAI_API_KEY"),
    "compatible": (
        "OpenAI-compatible server (vLLM, LM Studio, ...)",
        "openai",
        "",
        "http://127.0.0.1:8000/v1",
        "",
    ),
    "ollama": (
        "Local Ollama (found at 127.0.0.1:11434)",
        "openai",
        "qwen2.5-coder",
        f"{OLLAMA_URL}/v1",
        "",
    ),
}


def ollama_answers(url: str = OLLAMA_URL, timeout: float = 0.5) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/api/version", timeout=timeout) as resp:
            return resp.status == 200
    except (OSError, ValueError):
        return False


class OnboardingScreen(Screen[str | None]):
    """Dismisses with the saved account name, "demo", or None (skipped)."""

    BINDINGS = [Binding("escape", "skip", "Skip for now")]
    DEFAULT_CSS = """
    OnboardingScreen { align: center middle; }
    OnboardingScreen > Vertical {
        width: 84;
        height: auto;
        max-height: 100%;
        background: $surface;
        border: thick $primary;
        padding: 0 2;
    }
    OnboardingScreen .title { text-style: bold; color: $primary; padding: 1 0 0 0; }
    OnboardingScreen .help { color: $text-muted; padding: 0 0 1 0; }
    OnboardingScreen .row { height: auto; }
    OnboardingScreen .row > Label { width: 14; padding: 1 1 0 0; }
    OnboardingScreen .row > Input { width: 1fr; }
    OnboardingScreen #result { height: auto; padding: 1 0 0 0; }
    OnboardingScreen #result.-ok { color: $success; }
    OnboardingScreen #result.-fail { color: $error; }
    OnboardingScreen .buttons { height: auto; padding: 1 0; }
    OnboardingScreen .buttons > Button { margin-right: 1; }
    """

    def __init__(self, offer_ollama: bool | None = None) -> None:
        super().__init__()
        self.offer_ollama = offer_ollama
        self.choice = "anthropic"

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Welcome to pynchy", classes="title")
            yield Static(
                "Agents think here and act in sandboxes. Connect a model account to start; "
                "keys stay on this machine and never enter a sandbox.",
                classes="help",
            )
            with RadioSet(id="provider"):
                for key, (label, *_rest) in CHOICES.items():
                    if key == "ollama":
                        continue
                    yield RadioButton(label, value=key == "anthropic", id=f"p-{key}")
            with Horizontal(classes="row"):
                yield Label("Account name")
                yield Input("personal", id="name")
            with Horizontal(classes="row"):
                yield Label("Model")
                yield Input(CHOICES["anthropic"][2], id="model")
            with Horizontal(classes="row", id="url-row"):
                yield Label("Base URL")
                yield Input("", placeholder="default endpoint", id="url")
            with Horizontal(classes="row"):
                yield Label("Key variable")
                yield Input(
                    "ANTHROPIC_API_KEY", id="key-env", placeholder="env var holding the key"
                )
            with Horizontal(classes="row"):
                yield Label("or paste key")
                yield Input(
                    "", password=True, id="key", placeholder="saved in config.toml (mode 0600)"
                )
            yield Label("", id="result")
            with Horizontal(classes="buttons"):
                yield Button("Test connection", id="test")
                yield Button("Save", id="save", variant="primary")
                yield Button("Try the offline demo", id="demo", variant="warning")

    async def on_mount(self) -> None:
        if self.offer_ollama is None:
            self.offer_ollama = await asyncio.to_thread(ollama_answers)
        if self.offer_ollama:
            label = CHOICES["ollama"][0]
            await self.query_one(RadioSet).mount(RadioButton(label, id="p-ollama"))

    @on(RadioSet.Changed)
    def _provider_changed(self, event: RadioSet.Changed) -> None:
        key = (event.pressed.id or "p-anthropic").removeprefix("p-")
        self.choice = key
        _label, _provider, model, url, key_env = CHOICES[key]
        self.query_one("#model", Input).value = model
        self.query_one("#url", Input).value = url or ""
        self.query_one("#key-env", Input).value = key_env
        if key in ("ollama", "compatible"):
            self.query_one("#name", Input).value = "local"

    def account(self) -> AccountConfig:
        provider = CHOICES[self.choice][1]
        url = self.query_one("#url", Input).value.strip() or None
        key_env = self.query_one("#key-env", Input).value.strip() or None
        key = self.query_one("#key", Input).value.strip() or None
        return AccountConfig(
            provider=provider,  # type: ignore[arg-type]
            model=self.query_one("#model", Input).value.strip(),
            base_url=url,
            api_key_env=key_env,
            api_key=key,
        )

    def _result(self, text: str, ok: bool) -> None:
        label = self.query_one("#result", Label)
        label.update(text)
        label.set_class(ok, "-ok")
        label.set_class(not ok, "-fail")

    async def test_connection(self) -> bool:
        from pynchy_tui.providers.accounts import api_key_for, build_provider

        try:
            account = self.account()
        except ValueError as exc:
            self._result(f"check the fields: {exc}", False)
            return False
        if account.provider == "anthropic" and not api_key_for(account):
            self._result(
                f"no key: export {account.api_key_env or 'ANTHROPIC_API_KEY'}=... or paste it",
                False,
            )
            return False
        app: PynchyApp = self.app  # type: ignore[assignment]
        self._result("testing…", True)
        provider = build_provider(account, app.host.plugins.providers())
        try:
            detail = await provider.check()
        except Exception as exc:
            self._result(f"connection failed: {exc}", False)
            return False
        finally:
            with contextlib.suppress(Exception):
                await provider.close()
        self._result(f"connected: {detail}", True)
        return True

    async def on_button_pressed(self, event: Button.Pressed) -> None:
        app: PynchyApp = self.app  # type: ignore[assignment]
        if event.button.id == "test":
            await self.test_connection()
        elif event.button.id == "save":
            name = self.query_one("#name", Input).value.strip() or "personal"
            try:
                account = self.account()
            except ValueError as exc:
                self._result(f"check the fields: {exc}", False)
                return
            if not account.model:
                self._result("the model name is required", False)
                return
            try:
                await app.save_account(name, account)
            except Exception as exc:
                self._result(f"could not save: {exc}", False)
                return
            self.dismiss(name)
        elif event.button.id == "demo":
            self.dismiss("demo")

    def action_skip(self) -> None:
        self.dismiss(None)
