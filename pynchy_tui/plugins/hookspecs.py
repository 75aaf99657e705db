"""Hook specifications (pluggy project "pynchy"). Built-ins implement them like any plugin."""

from __future__ import annotations

from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("pynchy")
hookimpl = pluggy.HookimplMarker("pynchy")


class PynchySpecs:
    @hookspec
    def pynchy_providers(self) -> dict[str, Any]:
        """Provider factories by provider name: `factory(api_key=, base_url=, timeout=)`."""

    @hookspec
    def pynchy_runtimes(self) -> list[Any]:
        """Runtime instances (name, isolated, available(), start(spec), ...)."""

    @hookspec
    def pynchy_channels(self) -> list[Any]:
        """Channel bridge factories."""

    @hookspec
    def pynchy_tools(self) -> list[Any]:
        """Extra agent tools (`pynchy_tui.agents.tools.Tool`)."""

    @hookspec
    def pynchy_tips(self) -> list[str]:
        """Beginner tips shown in the TUI (never in the agent's prompt)."""

    @hookspec
    def pynchy_agent_hooks(self) -> list[Any]:
        """Objects with optional pre_tool_use / post_tool_use / prompt_submit / turn_end."""

    @hookspec
    def pynchy_workspace_specs(self) -> dict[str, Any]:
        """Workspaces a plugin provides, name -> settings dict."""

    @hookspec
    def pynchy_observers(self) -> list[Any]:
        """Callables receiving every bus event (for logging, metrics)."""
