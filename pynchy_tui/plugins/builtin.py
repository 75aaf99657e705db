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
