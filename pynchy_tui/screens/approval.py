"""Provides the approval dialog: what the agent wants to do, why the policy asks, and the
choices — allow once, always allow (with a preview of the rule), deny with a reason."""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.highlight import highlight
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from pynchy_tui.security.policy import ToolCallInfo, propose_rule

if TYPE_CHECKING:
    from pynchy_tui.app import PynchyApp


@dataclass(frozen=True)
class ApprovalAnswer:
    approved: bool
    reason: str | None = None
    rule: str | None = None  # "always allow": the pattern to save


def colored_diff(diff: str) -> Content:
    styles = {"+": "$success", "-": "$error", "@": "$accent"}
    lines = []
    for line in diff.splitlines():
        style = "bold" if line.startswith(("+++", "---")) else styles.get(line[:1], "")
        lines.append(Content.styled(line, style) if style else Content(line))
    return Content("\n").join(lines)


def what_it_does(tool: str, args: dict[str, Any]) -> Any:
    """A renderable of the call: the command, a diff for edits, the file for writes."""
    if tool == "bash":
        return highlight(str(args.get("command", "")), language="bash")
    if tool == "edit_file":
        old = str(args.get("old_string", "")).splitlines()
        new = str(args.get("new_string", "")).splitlines()
        diff = "\n".join(
            difflib.unified_diff(
                old, new, f"a/{args.get('path')}", f"b/{args.get('path')}", lineterm=""
            )
        )
        return colored_diff(diff)
    if tool == "write_file":
        content = str(args.get("content", ""))
        lines = content.splitlines()
        head = "\n".join(lines[:20]) + (
            f"\n… {len(lines) - 20} more lines" if len(lines) > 20 else ""
        )
        return f"write {args.get('path')} ({len(content)} characters):\n{head}"
    return json.dumps(args, indent=2, ensure_ascii=False)


class ApprovalScreen(ModalScreen[ApprovalAnswer | None]):
    BINDINGS = [
        Binding("y", "allow", "Allow once"),
        Binding("a", "always", "Always allow"),
        Binding("n", "deny", "Deny"),
        Binding("escape", "later", "Decide later"),
    ]
    DEFAULT_CSS = """
    ApprovalScreen { align: center middle; }
    ApprovalScreen > Vertical {
        width: 90%;
        max-width: 110;
        height: auto;
        max-height: 90%;
        background: $surface;
        border: thick $warning;
        padding: 0 1;
    }
    ApprovalScreen .title { text-style: bold; color: $warning; padding: 1 0 0 0; }
    ApprovalScreen .reason { padding: 1 0 0 0; }
    ApprovalScreen .taint { color: $error; padding: 1 0 0 0; }
    ApprovalScreen .meta { color: $text-muted; }
    ApprovalScreen #call {
        height: auto;
        max-height: 20;
        background: $panel;
        padding: 0 1;
        margin: 1 0 0 0;
    }
    ApprovalScreen #rule-box { height: auto; display: none; padding: 1 0 0 0; }
    ApprovalScreen #rule-box.-shown { display: block; }
    ApprovalScreen #deny-reason { margin: 1 0 0 0; }
    ApprovalScreen .buttons { height: auto; padding: 1 0; }
    ApprovalScreen .buttons > Button { margin-right: 1; }
    """

    def __init__(self, approval: dict[str, Any]) -> None:
        super().__init__()
        self.approval = approval
        self.proposed = propose_rule(ToolCallInfo(approval["tool"], approval["args"]))
        details = approval.get("details") or {}
        self.trifecta = approval.get("rule_id") == "taint.trifecta"
        self.untrusted = details.get("untrusted", [])
        self.secrets = details.get("secrets", [])

    def compose(self) -> ComposeResult:
        a = self.approval
        with Vertical():
            yield Label(
                f"Approval needed · {a['workspace']} wants to run {a['tool']}", classes="title"
            )
            with VerticalScroll(id="call"):
                yield Static(what_it_does(a["tool"], a["args"]))
            yield Static(f"Why pynchy asks: {a.get('reason')}", classes="reason", markup=False)
            if self.trifecta:
                lines = ["This could leak a secret:"]
                lines += [f"  untrusted source: {u}" for u in self.untrusted]
                lines += [f"  secret read: {s}" for s in self.secrets]
                yield Static("\n".join(lines), classes="taint", markup=False)
            yield Label(f"rule {a.get('rule_id')} · approval {a['id']}", classes="meta")
            with Vertical(id="rule-box"):
                yield Label("", id="rule-preview")
                with Horizontal(classes="buttons"):
                    yield Button("Save rule and allow", id="save-rule", variant="success")
                    yield Button("Back", id="rule-back")
            yield Input(
                placeholder="reason for denying (optional; the agent reads it)", id="deny-reason"
            )
            with Horizontal(classes="buttons", id="choices"):
                yield Button("Allow once (y)", id="allow", variant="success")
                if not self.trifecta:
                    yield Button("Always allow… (a)", id="always", variant="primary")
                yield Button("Deny (n)", id="deny", variant="error")

    def on_mount(self) -> None:
        self.query_one("#allow", Button).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "always" and self.trifecta:
            return False  # the trifecta is never turned into a standing rule
        # While typing a reason, letters are text, not choices.
        return not (action in ("allow", "always", "deny") and isinstance(self.focused, Input))

    async def on_button_pressed(self, event: Button.Pressed) -> None:
        actions = {
            "allow": self.action_allow,
            "deny": self.action_deny,
            "always": self.action_always,
            "save-rule": self._save_rule,
            "rule-back": self._rule_back,
        }
        handler = actions.get(event.button.id or "")
        if handler is not None:
            await handler()

    async def action_allow(self) -> None:
        self.dismiss(ApprovalAnswer(True))

    async def action_deny(self) -> None:
        reason = self.query_one("#deny-reason", Input).value.strip() or None
        self.dismiss(ApprovalAnswer(False, reason))

    async def on_input_submitted(self, event: Input.Submitted) -> None:
        await self.action_deny()

    async def action_always(self) -> None:
        app: PynchyApp = self.app  # type: ignore[assignment]
        a = self.approval
        count = await app.host.rule_preview(a["workspace"], a["tool"], self.proposed)
        self.query_one("#rule-preview", Label).update(
            f"Always allow in {a['workspace']}:  {a['tool']}: {self.proposed}\n"
            f"It would have matched {count} earlier call(s) in the audit log."
        )
        self.query_one("#rule-box").add_class("-shown")
        self.query_one("#save-rule", Button).focus()

    async def _save_rule(self) -> None:
        self.dismiss(ApprovalAnswer(True, rule=self.proposed))

    async def _rule_back(self) -> None:
        self.query_one("#rule-box").remove_class("-shown")
        self.query_one("#allow", Button).focus()

    async def action_later(self) -> None:
        self.dismiss(None)
