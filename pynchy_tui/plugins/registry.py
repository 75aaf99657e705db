"""Load plugins: the built-ins, then every `pynchy` entry point. A broken plugin is reported
and skipped; it never takes the host down."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import pluggy

from pynchy_tui.plugins.builtin import Builtin
from pynchy_tui.plugins.hookspecs import PynchySpecs

log = logging.getLogger(__name__)


@dataclass
class Plugins:
    pm: pluggy.PluginManager
    failures: list[tuple[str, str]] = field(default_factory=list)

    _cache: dict[str, list[Any]] = field(default_factory=dict)

    def _collect(self, hook: str) -> list[Any]:
        """Each hook is called once per process; failures are recorded once."""
        if hook not in self._cache:
            self._cache[hook] = self._call(hook)
        return self._cache[hook]

    def collect_all(self) -> None:
        """Call every hook now, so failures can be reported at start-up."""
        for name in (
            "pynchy_providers",
            "pynchy_runtimes",
            "pynchy_tools",
            "pynchy_tips",
            "pynchy_agent_hooks",
            "pynchy_observers",
        ):
            self._collect(name)

    def _call(self, hook: str) -> list[Any]:
        results = []
        caller = getattr(self.pm.hook, hook)
        for impl in caller.get_hookimpls():
            try:
                value = impl.function()
            except Exception as exc:  # one plugin's bug must not hide the others
                name = self.pm.get_name(impl.plugin) or repr(impl.plugin)
                self.failures.append((name, f"{hook}: {exc!r}"))
                log.exception("plugin %s failed in %s", name, hook)
                continue
            if value is not None:
                results.append(value)
        return results

    def providers(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        # Registration order: built-ins first, so a plugin can replace a built-in provider.
        for mapping in self._collect("pynchy_providers"):
            out.update(mapping)
        return out

    def runtimes(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for items in self._collect("pynchy_runtimes"):
            for r in items:
                out[r.name] = r
        return out

    def tools(self) -> list[Any]:
        return [t for items in self._collect("pynchy_tools") for t in items]

    def tips(self) -> list[str]:
        return [t for items in self._collect("pynchy_tips") for t in items]

    def agent_hooks(self) -> list[Any]:
        return [h for items in self._collect("pynchy_agent_hooks") for h in items]

    def observers(self) -> list[Any]:
        return [o for items in self._collect("pynchy_observers") for o in items]


def load_plugins(extra: list[Any] | None = None, entry_points: bool = True) -> Plugins:
    pm = pluggy.PluginManager("pynchy")
    pm.add_hookspecs(PynchySpecs)
    plugins = Plugins(pm)
    pm.register(Builtin(), name="builtin")
    if entry_points:
        for ep in metadata.entry_points(group="pynchy"):
            try:
                obj = ep.load()
                pm.register(obj() if isinstance(obj, type) else obj, name=ep.name)
            except Exception as exc:
                plugins.failures.append((ep.name, f"failed to load: {exc!r}"))
                log.exception("plugin %s failed to load", ep.name)
    for i, obj in enumerate(extra or []):
        pm.register(obj, name=f"extra-{i}")
    return plugins
