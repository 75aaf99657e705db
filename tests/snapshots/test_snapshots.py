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
