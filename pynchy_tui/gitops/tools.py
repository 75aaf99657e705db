"""The agent's git tool: `sync_to_main`. Allowed by the default policy, audited like every
tool call (the loop's policy check), and offered only in workspaces bound to a repository."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from pynchy_tui.agents.tools import Tool, ToolContext, ToolResult


async def _sync(ctx: ToolContext, a: dict[str, Any]) -> ToolResult:
    result = await ctx.host_action("sync_to_main", ctx.workspace)
    return ToolResult(result.message, is_error=not result.ok, summary=result.status)


SYNC_TO_MAIN = Tool(
    "sync_to_main",
    "Put the commits of this workspace's branch on the repository's main branch: rebase the "
    "branch onto main (or merge, per the workspace's policy), then fast-forward main. Commit "
    "your work first. On a conflict main is not changed and the conflicting files are listed: "
    "resolve them, `git add`, `git rebase --continue`, then call this again.",
    {"type": "object", "properties": {}, "required": [], "additionalProperties": False},
    _sync,
)


def git_tools(is_bound: Callable[[str], bool]) -> list[Tool]:
    """The git tools, offered only where `is_bound(workspace)`."""
    return [replace(SYNC_TO_MAIN, visible=is_bound)]
