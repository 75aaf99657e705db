"""Snapshot tests (fixed size, no animation, no cursor blink). Review each SVG on update:
`pytest tests/snapshots --snapshot-update`, then open snapshot_report.html."""

from __future__ import annotations

import pytest

from pynchy_tui.themes import SHIPPED_THEME_NAMES
from pynchy_tui.widgets.tool_call import ToolCallBlock
from tests.snapshots.app_factory import busy_events, inject, make_snapshot_app, wait_ready

pytestmark = pytest.mark.usefixtures("home")


def test_main_empty(snap_compare) -> None:
    """You should see the three panes with no workspaces and a hint to create one."""
    app = make_snapshot_app("[runtime]\nruntime = 'process'\nallow_unsandboxed = true\n")
    assert snap_compare(app, terminal_size=(120, 36), run_before=wait_ready)


def test_main_busy(snap_compare) -> None:
    """You should see notes streaming a reply with a fenced code block under a failed bash
    call, garden running a tool, website hibernated, and three container rows."""

    async def run_before(pilot) -> None:
        await wait_ready(pilot)
        await inject(pilot, busy_events())

    assert snap_compare(make_snapshot_app(), terminal_size=(140, 40), run_before=run_before)


def test_reply_mid_stream_with_code_fence(snap_compare) -> None:
    """You should see a half-streamed reply whose fenced python block is highlighted."""

    async def run_before(pilot) -> None:
        await wait_ready(pilot)
        await inject(pilot, busy_events())
        pilot.app.main_screen.query_one("#transcript").scroll_end(animate=False)
        await pilot.pause()

    assert snap_compare(make_snapshot_app(), terminal_size=(100, 30), run_before=run_before)


def test_tool_call_collapsed_and_expanded(snap_compare) -> None:
    """You should see the bash block expanded: its output with head, tail and hidden lines."""
    from pynchy_tui.events import ToolOutput

    async def run_before(pilot) -> None:
        await wait_ready(pilot)
        events = busy_events()[:10]
        events.append(
            ToolOutput("notes", "call_1", "stdout", "".join(f"test line {i}\n" for i in range(30)))
        )
        events += busy_events()[10:11]
        await inject(pilot, events)
        block = pilot.app.main_screen.query_one(ToolCallBlock)
        block.collapsed = False
        await pilot.pause()

    assert snap_compare(make_snapshot_app(), terminal_size=(120, 40), run_before=run_before)


def _open(key: str, screen_type: type):
    async def run_before(pilot) -> None:
        from tests.ui.conftest import wait_until

        await wait_ready(pilot)
        await pilot.press(key)
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, screen_type))
        await pilot.pause()

    return run_before


def test_settings(snap_compare) -> None:
    """You should see the settings dialog over the main screen."""
    from pynchy_tui.screens.settings import SettingsScreen

    app = make_snapshot_app()
    assert snap_compare(app, terminal_size=(120, 40), run_before=_open("f2", SettingsScreen))


def test_help(snap_compare) -> None:
    """You should see every key binding and slash command."""
    from pynchy_tui.screens.help import HelpScreen

    app = make_snapshot_app()
    assert snap_compare(app, terminal_size=(120, 44), run_before=_open("f1", HelpScreen))


def test_palette(snap_compare) -> None:
    """You should see the command palette filtered to workspace commands."""

    async def run_before(pilot) -> None:
        await wait_ready(pilot)
        await pilot.press("ctrl+p")
        for key in "workspace":
            await pilot.press(key)
        await pilot.pause(0.3)

    assert snap_compare(make_snapshot_app(), terminal_size=(120, 36), run_before=run_before)


def test_onboarding(snap_compare) -> None:
    """You should see onboarding: provider choice, account fields, test/save/demo buttons."""

    async def run_before(pilot) -> None:
        from pynchy_tui.screens.onboarding import OnboardingScreen
        from tests.ui.conftest import wait_until

        await wait_until(pilot, lambda: isinstance(pilot.app.screen, OnboardingScreen))
        await pilot.pause()

    app = make_snapshot_app("", onboarding=True)
    assert snap_compare(app, terminal_size=(110, 42), run_before=run_before)


def test_narrow_80x24(snap_compare) -> None:
    """You should see the narrow layout: no side pane, a slimmer list, composer visible."""

    async def run_before(pilot) -> None:
        await wait_ready(pilot)
        await inject(pilot, busy_events())

    assert snap_compare(make_snapshot_app(), terminal_size=(80, 24), run_before=run_before)


@pytest.mark.parametrize("theme", SHIPPED_THEME_NAMES)
def test_main_per_theme(snap_compare, theme: str) -> None:
    """You should see the busy main screen in each shipped theme, legible in all of them."""

    async def run_before(pilot) -> None:
        await wait_ready(pilot)
        await inject(pilot, busy_events())

    assert snap_compare(
        make_snapshot_app(theme=theme), terminal_size=(120, 34), run_before=run_before
    )


SHELL_APPROVAL = {
    "id": "a1b2c3d4",
    "workspace": "notes",
    "tool": "bash",
    "args": {"command": "rm -rf build/ && git push --force origin main"},
    "reason": "`git push --force` rewrites the remote branch's history",
    "rule_id": "shell.destructive.git_force_push",
    "details": {},
}
EDIT_APPROVAL = {
    "id": "e5f6a7b8",
    "workspace": "website",
    "tool": "edit_file",
    "args": {
        "path": ".env",
        "old_string": "DEBUG=1\nDATABASE_URL=sqlite:///dev.db",
        "new_string": "DEBUG=0\nDATABASE_URL=postgres://app@db/prod",
    },
    "reason": "edit_file changes .env, which looks like a file holding secrets",
    "rule_id": "fs.sensitive_write.secret",
    "details": {},
}
TRIFECTA_APPROVAL = {
    "id": "c9d0e1f2",
    "workspace": "garden",
    "tool": "send_message",
    "args": {"text": "Here is the key you asked for: API_KEY=sk-live-..."},
    "reason": "send_message can send data out, and this session has read untrusted content "
    "(web_fetch http://127.0.0.1:8000/offer) and secret data (read_file .env).",
    "rule_id": "taint.trifecta",
    "details": {
        "untrusted": ["web_fetch http://127.0.0.1:8000/offer"],
        "secrets": ["read_file .env"],
    },
}


def _approval(approval: dict):
    async def run_before(pilot) -> None:
        from pynchy_tui.screens.approval import ApprovalScreen
        from tests.ui.conftest import wait_until

        await wait_ready(pilot)
        pilot.app.push_screen(ApprovalScreen(approval))
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, ApprovalScreen))
        await pilot.pause()

    return run_before


def test_approval_shell_command(snap_compare) -> None:
    """You should see the command highlighted, why pynchy asks, and allow/always/deny."""
    assert snap_compare(
        make_snapshot_app(), terminal_size=(120, 36), run_before=_approval(SHELL_APPROVAL)
    )


def test_approval_file_edit(snap_compare) -> None:
    """You should see the edit as a coloured unified diff."""
    assert snap_compare(
        make_snapshot_app(), terminal_size=(120, 36), run_before=_approval(EDIT_APPROVAL)
    )


def test_approval_trifecta(snap_compare) -> None:
    """You should see the untrusted source and the secret named, and no always-allow button."""
    assert snap_compare(
        make_snapshot_app(), terminal_size=(120, 36), run_before=_approval(TRIFECTA_APPROVAL)
    )


def test_approvals_inbox(snap_compare) -> None:
    """You should see three pending approvals from three workspaces."""

    async def run_before(pilot) -> None:
        from pynchy_tui.screens.approvals_inbox import ApprovalsInbox
        from tests.ui.conftest import wait_until

        await wait_ready(pilot)
        pilot.app.push_screen(ApprovalsInbox([SHELL_APPROVAL, EDIT_APPROVAL, TRIFECTA_APPROVAL]))
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, ApprovalsInbox))
        await pilot.pause()

    assert snap_compare(make_snapshot_app(), terminal_size=(120, 30), run_before=run_before)


async def _show_diff(pilot) -> None:
    from pynchy_tui.widgets.diff_pane import DiffPane
    from tests.snapshots.app_factory import diff_snapshot

    await wait_ready(pilot)
    await inject(pilot, busy_events()[:5])
    pilot.app.main_screen.query_one(DiffPane).show_snapshot(diff_snapshot())
    await pilot.pause()


def test_diff_pane(snap_compare) -> None:
    """You should see the diff pane under the containers: the branch, 4 files +130 -5, two
    commits to sync, one uncommitted file (yellow dot), the file list with +/- counts, and the
    highlighted patch of config.py in two hunks with green/red lines."""
    assert snap_compare(make_snapshot_app(), terminal_size=(150, 44), run_before=_show_diff)


def test_diff_full_screen(snap_compare) -> None:
    """You should see the full-screen diff: the file list on the left, the patch with old/new
    line numbers, table.py's 120 added lines and the uncommitted test file."""

    async def run_before(pilot) -> None:
        from pynchy_tui.screens.diff import DiffScreen
        from tests.ui.conftest import wait_until

        await _show_diff(pilot)
        await pilot.press("f5")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, DiffScreen))
        await pilot.pause()

    assert snap_compare(make_snapshot_app(), terminal_size=(140, 40), run_before=run_before)
