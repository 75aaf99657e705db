"""The built-in plugin: providers and runtimes shipped with pynchy, registered like any other."""

from __future__ import annotations

from typing import Any

from pynchy_tui.plugins.hookspecs import hookimpl


def _anthropic(**kw: Any) -> Any:
    from pynchy_tui.providers.anthropic import AnthropicProvider

    return AnthropicProvider(**kw)


def _openai(**kw: Any) -> Any:
    from pynchy_tui.providers.openai import OpenAIProvider

    return OpenAIProvider(**kw)


def _channel(type_: str, module: str, cls: str) -> Any:
    """A lazy channel factory: the bridge's client library is imported only when used."""

    def factory(name: str, settings: Any) -> Any:
        import importlib

        return getattr(importlib.import_module(module), cls)(name, settings)

    factory.type = type_  # type: ignore[attr-defined]
    return factory


class Builtin:
    @hookimpl
    def pynchy_providers(self) -> dict[str, Any]:
        return {"anthropic": _anthropic, "openai": _openai}

    @hookimpl
    def pynchy_runtimes(self) -> list[Any]:
        # These modules import nothing heavy: the docker SDK is imported only when used.
        from pynchy_tui.runtime.bubblewrap import BubblewrapRuntime
        from pynchy_tui.runtime.docker import DockerRuntime
        from pynchy_tui.runtime.process import ProcessRuntime

        return [DockerRuntime(), BubblewrapRuntime(), ProcessRuntime()]

    @hookimpl
    def pynchy_channels(self) -> list[Any]:
        return [
            _channel("fake", "pynchy_tui.testing.fake_channel", "FakeChannel"),
            _channel("telegram", "pynchy_tui.channels.telegram", "TelegramChannel"),
            _channel("slack", "pynchy_tui.channels.slack", "SlackChannel"),
            _channel("whatsapp", "pynchy_tui.channels.whatsapp", "WhatsAppChannel"),
        ]
