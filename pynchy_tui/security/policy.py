"""The policy gate every tool call passes before it reaches a sandbox.

This is the foundation's policy: file tools are confined to the workspace (the toolbox checks
again), everything else is allowed and audited. The security issue replaces the rule set with
the command classifier, profiles and taint; the contract (`check` -> Decision) stays.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from typing import Any, Literal

Verdict = Literal["allow", "ask", "deny"]
FILE_TOOLS = {"read_file", "write_file", "edit_file", "list_dir", "glob", "grep"}


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    reason: str
    rule_id: str


@dataclass
class Taint:
    untrusted_sources: list[str] = field(default_factory=list)
    secrets_read: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ToolCallInfo:
    tool: str
    args: dict[str, Any]


def _escapes(path: str, root: str) -> bool:
    if not isinstance(path, str):
        return True
    joined = path if posixpath.isabs(path) else posixpath.join(root, path)
    norm = posixpath.normpath(joined)
    return not (norm == root or norm.startswith(root.rstrip("/") + "/"))


def check(call: ToolCallInfo, root: str, taint: Taint | None = None) -> Decision:
    if call.tool in FILE_TOOLS:
        path = call.args.get("path", ".")
        if _escapes(path, root):
            return Decision("deny", f"path {path!r} is outside the workspace", "fs.confine")
    if "__invalid_json__" in call.args:
        return Decision("deny", "the tool arguments were not valid JSON", "args.invalid")
    return Decision("allow", "allowed by the default policy", "default.allow")
