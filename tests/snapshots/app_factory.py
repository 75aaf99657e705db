"""Deterministic apps for snapshot tests: real app and host, fixed config, no animation, no
cursor blink, and host events injected with fixed values."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pynchy_tui.app import PynchyApp
from pynchy_tui.config import load_config, resolve_paths
from pynchy_tui.events import (
    AgentDelta,
    AgentText,
    ContainerStateChanged,
    ContainerStats,
    Event,
    MessageReceived,
    ToolFinished,
    ToolStarted,
    TurnStarted,
)
from pynchy_tui.messages import HostEvents
from pynchy_tui.widgets.composer import Composer

CONFIG = """
[accounts.personal]
provider = "anthropic"
model = "claude-sonnet-4-5"
api_key = "sk-snapshot"

[accounts.local]
provider = "openai"
model = "qwen2.5-coder"
base_url = "http://127.0.0.1:9/v1"

[workspaces.notes]
account = "personal"

[workspaces.garden]
account = "local"

[workspaces.website]
account = "personal"

[runtime]
runtime = "process"
allow_unsandboxed = true
"""


class SnapshotApp(PynchyApp):
    def on_mount(self) -> None:
        # Textual calls PynchyApp.on_mount too (handlers run for each class in the MRO).
        self.animation_level = "none"
        self.call_after_refresh(self._no_blink)

    def _no_blink(self) -> None:
        for composer in self.main_screen.query(Composer):
            composer.cursor_blink = False


def make_snapshot_app(config: str = CONFIG, theme: str | None = None, **kwargs: Any) -> SnapshotApp:
    home = Path(os.environ["PYNCHY_HOME"])
    text = config + (f'\n[ui]\ntheme = "{theme}"\n' if theme else "")
    (home / "config.toml").write_text(text)
    paths = resolve_paths()
    kwargs.setdefault("control", False)
    kwargs.setdefault("onboarding", False)
    kwargs.setdefault("probe_ollama", False)
    return SnapshotApp(load_config(paths.config_file), paths, **kwargs)


async def wait_ready(pilot: Any) -> None:
    from tests.ui.conftest import ready

    await ready(pilot)


async def inject(pilot: Any, events: list[Event], workspace: str = "notes") -> None:
    """Select `workspace`, wait for its (empty) history, then apply `events`."""
    from tests.ui.conftest import wait_until

    app = pilot.app
    await app.main_screen.select(workspace)
    await wait_until(pilot, lambda: app.main_screen.history_shown == workspace)
    app.main_screen.post_message(HostEvents(events))
    await settle(pilot)


async def settle(pilot: Any) -> None:
    """Wait until every streamed message has been rendered in full, then let layout finish."""
    from pynchy_tui.widgets.chat_message import ChatMessage
    from tests.ui.conftest import wait_until

    def rendered() -> bool:
        msgs = list(pilot.app.main_screen.query(ChatMessage))
        return all(m.body.source == m.text for m in msgs)

    await pilot.pause()
    await wait_until(pilot, rendered)
    for _ in range(3):
        await pilot.pause()
    await pilot.wait_for_scheduled_animations()


FENCED_REPLY = (
    "Here is the fix for the parser:\n\n```python\ndef parse(line: str) -> dict:\n"
    '    key, _, value = line.partition("=")\n    return {key.strip(): value.strip()}\n```\n\n'
    "Now I'll run the tests"
)


def busy_events() -> list[Event]:
    """Three workspaces: notes mid-stream with a finished tool call, garden running a tool."""
    out: list[Event] = [
        ContainerStateChanged("notes", "process", "busy", "UNSANDBOXED"),
        ContainerStats("notes", "process", 12.0, 48 * 1024 * 1024, 125.0, "bash"),
        ContainerStateChanged("garden", "docker", "busy"),
        ContainerStats("garden", "docker", 87.0, 310 * 1024 * 1024, 3700.0, "grep"),
        ContainerStateChanged("website", "docker", "hibernated"),
        MessageReceived("notes", 1, "user", "Fix the config parser and run the tests.", "tui"),
        TurnStarted("notes", 7, "personal", "claude-sonnet-4-5"),
        AgentDelta("notes", 7, "Let me look at the parser first."),
        AgentText("notes", 7, "Let me look at the parser first."),
        ToolStarted("notes", 7, "call_1", "bash", {"command": "pytest -q tests/test_parser.py"}),
        ToolFinished("notes", 7, "call_1", "bash", False, "exit 1", 1840),
        TurnStarted("garden", 8, "local", "qwen2.5-coder"),
        ToolStarted("garden", 8, "call_2", "grep", {"pattern": "TODO"}),
    ]
    # Stream the fenced reply in small chunks, as a model would.
    for i in range(0, len(FENCED_REPLY), 7):
        out.append(AgentDelta("notes", 7, FENCED_REPLY[i : i + 7]))
    return out


def diff_snapshot(workspace: str = "notes") -> Any:
    """A fixed diff: a Python edit in two hunks, a new file, a deletion, an uncommitted
    change and a long generated file that the pane cuts."""
    from pynchy_tui.gitops.diff import DiffSnapshot, FileDiff

    parser = (
        "@@ -1,6 +1,7 @@",
        ' """Parse key=value config files."""',
        "-import re",
        "+import re",
        "+from pathlib import Path",
        " ",
        " def parse(line: str) -> dict:",
        '-    key, value = line.split("=")',
        '+    key, _, value = line.partition("=")',
        "     return {key.strip(): value.strip()}",
        "@@ -20,4 +21,6 @@ def load(path):",
        "     for line in text.splitlines():",
        "-        out.update(parse(line))",
        '+        if line.strip() and not line.startswith("#"):',
        "+            out.update(parse(line))",
        "     return out",
    )
    test = (
        "@@ -0,0 +1,5 @@",
        "+from config import parse",
        "+",
        "+",
        "+def test_value_with_equals():",
        '+    assert parse("a = b=c") == {"a": "b=c"}',
    )
    table = ("@@ -0,0 +1,120 @@",) + tuple(f"+ROW_{i:03d} = {i * 7}" for i in range(120))
    files = (
        FileDiff("config.py", "M", 5, 3, lines=parser),
        FileDiff(
            "old_parser.py", "D", 0, 2, lines=("@@ -1,2 +0,0 @@", "-def parse(line):", "-    pass")
        ),
        FileDiff("table.py", "A", 120, 0, lines=table),
        FileDiff("tests/test_config.py", "A", 5, 0, uncommitted=True, lines=test),
    )
    return DiffSnapshot(workspace, f"pynchy/{workspace}", "main", "0" * 40, "1" * 40, files, 2, 1)
