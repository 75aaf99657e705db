"""Plugins: extra tools, agent hooks, observers and tips reach the host; a broken plugin is
reported once and skipped, never taking the host down."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pynchy_tui.agents.tools import Tool, ToolResult
from pynchy_tui.config import load_config, resolve_paths
from pynchy_tui.events import Notice, TurnFinished
from pynchy_tui.host.host import Host
from pynchy_tui.plugins.hookspecs import hookimpl
from pynchy_tui.plugins.registry import load_plugins
from tests.conftest import account_toml, process_runtime_toml, wait_for


class Recorder:
    def __init__(self) -> None:
        self.events: list[str] = []
        self.turns: list[tuple[str, str]] = []
        self.blocked: list[str] = []

    def pre_tool_use(self, workspace: str, tool: str, args: dict[str, Any]) -> str | None:
        if tool == "bash" and "launch-codes" in args.get("command", ""):
            self.blocked.append(args["command"])
            return "no deleting today"
        return None

    def turn_end(self, workspace: str, status: str) -> None:
        self.turns.append((workspace, status))


async def _shout(ctx: Any, args: dict[str, Any]) -> ToolResult:
    return ToolResult(args["text"].upper(), summary="shouted")


class GoodPlugin:
    def __init__(self, rec: Recorder) -> None:
        self.rec = rec

    @hookimpl
    def pynchy_tools(self) -> list[Any]:
        schema = {
            "type": "object",
            "properties": {"text": {"type": "string"}},
            "required": ["text"],
        }
        return [Tool("shout", "Upper-case a text.", schema, _shout)]

    @hookimpl
    def pynchy_agent_hooks(self) -> list[Any]:
        return [self.rec]

    @hookimpl
    def pynchy_observers(self) -> list[Any]:
        return [lambda ev: self.rec.events.append(type(ev).__name__)]

    @hookimpl
    def pynchy_tips(self) -> list[str]:
        return ["a tip from a plugin"]


class BrokenPlugin:
    @hookimpl
    def pynchy_tools(self) -> list[Any]:
        raise RuntimeError("plugin bug")


async def test_plugin_tools_hooks_observers_and_a_broken_plugin(home: Path, scripted) -> None:
    server = scripted(
        [
            [
                {"tool": "shout", "args": {"text": "hello"}},
                {"tool": "bash", "args": {"command": "echo launch-codes"}},
            ],
            [{"text": "done"}],
        ]
    )
    (home / "config.toml").write_text(
        account_toml("acc", server) + "[workspaces.w]\n" + process_runtime_toml()
    )
    rec = Recorder()
    paths = resolve_paths()
    plugins = load_plugins([GoodPlugin(rec), BrokenPlugin()], entry_points=False)
    host = Host(load_config(paths.config_file), paths, plugins=plugins)
    with host.bus.subscribe(Notice, TurnFinished) as sub:
        await host.start()
        try:
            notice = await wait_for(sub, lambda e: isinstance(e, Notice))
            assert "plugin extra-1 was skipped" in notice.text and "plugin bug" in notice.text
            await host.submit("w", "go")
            done = await wait_for(sub, lambda e: isinstance(e, TurnFinished))
        finally:
            await host.stop()
    assert done.status == "done"
    assert len(plugins.failures) == 1  # recorded once, however often hooks are asked for
    names = {t["function"]["name"] for t in server.requests[0]["body"]["tools"]}
    assert "shout" in names
    results = [m["content"] for m in server.requests[1]["body"]["messages"] if m["role"] == "tool"]
    assert results[0] == "HELLO"
    assert "blocked by a plugin: no deleting today" in results[1]
    assert rec.blocked == ["echo launch-codes"]
    assert rec.turns == [("w", "done")]
    assert "TurnStarted" in rec.events and "ToolFinished" in rec.events
    assert "a tip from a plugin" in plugins.tips()
