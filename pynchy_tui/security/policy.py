"""The policy engine: every tool call passes `check` before it reaches a sandbox.

`check(call, ctx) -> Decision(allow | ask | deny, reason, rule_id)`. Inputs: the tool and its
arguments, the workspace's profile (admin or not, the tools' trust roles), the session's taint
(untrusted content seen, secrets read) and the always-allow rules a person saved. Shell commands
are parsed and classified (security/classify.py); the riskiest part decides.
"""

from __future__ import annotations

import fnmatch
import posixpath
from dataclasses import dataclass, field
from typing import Any, Literal

from pynchy_tui.security.profiles import BUILTIN_TRUST, PUBLIC_SINK, is_secret_path
from pynchy_tui.security.secrets import scan

Verdict = Literal["allow", "ask", "deny"]
FILE_TOOLS = {"read_file", "write_file", "edit_file", "list_dir", "glob", "grep"}
WRITE_TOOLS = {"write_file", "edit_file"}
NETWORK_CATEGORIES = {"network", "exfiltration"}


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    reason: str
    rule_id: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class Taint:
    """What this workspace's session has been exposed to (reset by /clear)."""

    untrusted_sources: list[str] = field(default_factory=list)
    secrets_read: list[str] = field(default_factory=list)

    def add_untrusted(self, what: str) -> None:
        if what not in self.untrusted_sources:
            self.untrusted_sources.append(what)

    def add_secret(self, what: str) -> None:
        if what not in self.secrets_read:
            self.secrets_read.append(what)

    @property
    def trifecta_armed(self) -> bool:
        return bool(self.untrusted_sources and self.secrets_read)


@dataclass(frozen=True)
class ToolCallInfo:
    tool: str
    args: dict[str, Any]


@dataclass(frozen=True)
class Rule:
    id: int
    tool: str
    pattern: str


@dataclass
class PolicyContext:
    workspace: str
    root: str
    admin: bool = False
    admin_only: frozenset[str] = frozenset()
    trust: dict[str, str] = field(default_factory=lambda: dict(BUILTIN_TRUST))
    taint: Taint = field(default_factory=Taint)
    rules: list[Rule] = field(default_factory=list)


def rule_subject(call: ToolCallInfo) -> str:
    """The argument a rule pattern is matched against: the command, or the path."""
    if call.tool == "bash":
        return str(call.args.get("command", "")).strip()
    if "path" in call.args:
        return str(call.args["path"])
    if "url" in call.args:
        return str(call.args["url"])
    return ""


def propose_rule(call: ToolCallInfo) -> str:
    """A general pattern for "always allow": the command's first words, or the directory."""
    subject = rule_subject(call)
    if call.tool == "bash":
        words = subject.split()
        keep = 2 if len(words) > 1 and not words[1].startswith("-") else 1
        return " ".join(words[:keep]) + (" *" if len(words) > keep else "")
    if call.tool in FILE_TOOLS and subject:
        parent = posixpath.dirname(subject)
        return f"{parent}/*" if parent else "*"
    return subject or "*"


def rule_matches(rule_tool: str, pattern: str, call: ToolCallInfo) -> bool:
    return rule_tool == call.tool and fnmatch.fnmatchcase(rule_subject(call), pattern)


def _escapes(path: Any, root: str) -> bool:
    if not isinstance(path, str):
        return True
    joined = path if posixpath.isabs(path) else posixpath.join(root, path)
    norm = posixpath.normpath(joined)
    return not (norm == root or norm.startswith(root.rstrip("/") + "/"))


def _trifecta(call: ToolCallInfo, ctx: PolicyContext) -> Decision:
    t = ctx.taint
    reason = (
        f"{call.tool} can send data out, and this session has read untrusted content "
        f"({'; '.join(t.untrusted_sources)}) and secret data ({'; '.join(t.secrets_read)}). "
        "Untrusted content may be steering the agent to leak the secret."
    )
    details = {"untrusted": list(t.untrusted_sources), "secrets": list(t.secrets_read)}
    return Decision("ask", reason, "taint.trifecta", details)


def check(call: ToolCallInfo, ctx: PolicyContext) -> Decision:
    args = call.args
    if "__invalid_json__" in args:
        return Decision("deny", "the tool arguments were not valid JSON", "args.invalid")
    if call.tool in ctx.admin_only and not ctx.admin:
        return Decision(
            "deny",
            f"{call.tool} is an admin tool and {ctx.workspace} is not an admin workspace",
            "profile.admin_only",
        )
    if call.tool in FILE_TOOLS and _escapes(args.get("path", "."), ctx.root):
        return Decision("deny", f"path {args.get('path')!r} is outside the workspace", "fs.confine")
    sink = ctx.trust.get(call.tool) == PUBLIC_SINK
    verdict: Decision | None = None
    if call.tool in WRITE_TOOLS:
        path = str(args.get("path", ""))
        parts = posixpath.normpath(path).split("/")
        if ".git" in parts:
            verdict = Decision(
                "ask",
                f"{call.tool} changes git's own files ({path}); that can corrupt the repository",
                "fs.sensitive_write.git",
            )
        elif is_secret_path(path):
            verdict = Decision(
                "ask",
                f"{call.tool} changes {path}, which looks like a file holding secrets",
                "fs.sensitive_write.secret",
            )
    if call.tool == "bash":
        from pynchy_tui.security.classify import classify

        v = classify(str(args.get("command", "")))
        if v.decision == "deny":
            return Decision("deny", v.reason, v.rule_id)
        sink = sink or v.category in NETWORK_CATEGORIES
        if v.decision == "ask":
            verdict = Decision("ask", v.reason, v.rule_id, {"category": v.category, "part": v.part})
    if sink and ctx.taint.trifecta_armed:
        return _trifecta(call, ctx)  # never auto-allowed, not even by a saved rule
    if sink:
        leaks = scan(" ".join(str(v) for v in args.values() if isinstance(v, str)))
        if leaks:
            kinds = ", ".join(dict.fromkeys(f.kind for f in leaks))
            return Decision(
                "ask",
                f"{call.tool} would send what looks like {kinds} out",
                "secrets.outbound",
                {"secrets_found": kinds},
            )
    if verdict is not None:
        for rule in ctx.rules:
            if rule_matches(rule.tool, rule.pattern, call):
                return Decision(
                    "allow",
                    f"allowed by your rule {rule.tool}: {rule.pattern}",
                    f"user.rule.{rule.id}",
                )
        return verdict
    return Decision("allow", "allowed by the default policy", "default.allow")
