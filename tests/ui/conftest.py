"""UI fixtures: the real app with a real host (SQLite, toolbox) against the scripted model."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pynchy_tui.app import PynchyApp
from pynchy_tui.config import load_config, resolve_paths


@pytest.fixture(autouse=True)
def _quiet_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "UTC")
    monkeypatch.delenv("NO_COLOR", raising=False)


@pytest.fixture
def make_app(home: Path) -> Callable[..., PynchyApp]:
    def make(config_text: str = "", **kwargs: Any) -> PynchyApp:
        (home / "config.toml").write_text(config_text)
        paths = resolve_paths()
        kwargs.setdefault("control", False)
        return PynchyApp(load_config(paths.config_file), paths, **kwargs)

    return make


async def wait_until(pilot: Any, predicate: Callable[[], Any], timeout: float = 15.0) -> None:
    """Pause the pilot until `predicate()` is truthy (never sleep-and-hope)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await pilot.pause(0.02)


async def ready(pilot: Any) -> None:
    app = pilot.app
    await wait_until(
        pilot, lambda: app.host.state == "ready" and app.main_screen.status.host_state == "ready"
    )
    await pilot.pause()


async def type_text(pilot: Any, text: str) -> None:
    for ch in text:
        await pilot.press(
            "space" if ch == " " else ch if len(ch) == 1 and ch.isalnum() else _key(ch)
        )


def _key(ch: str) -> str:
    names = {
        "/": "slash",
        "-": "minus",
        ".": "full_stop",
        ",": "comma",
        "?": "question_mark",
        "!": "exclamation_mark",
        ":": "colon",
        "_": "underscore",
        "'": "apostrophe",
    }
    return names.get(ch, ch)


async def send(pilot: Any, text: str) -> None:
    """Put `text` in the composer and press Enter, as a person would after typing it."""
    from pynchy_tui.widgets.composer import Composer

    composer = pilot.app.main_screen.query_one(Composer)
    composer.focus()
    composer.text = text
    await pilot.press("enter")


def texts(app: PynchyApp) -> list[str]:
    from pynchy_tui.widgets.chat_message import ChatMessage

    return [m.text for m in app.main_screen.query(ChatMessage)]


def fill_history(app: PynchyApp, workspace: str, count: int) -> None:
    """`count` stored assistant messages ("old message N") in `workspace`, in one commit."""
    from pynchy_tui.state import messages, workspaces

    def fill(conn: Any) -> None:
        ws = workspaces.get(conn, workspace)
        conn.execute("BEGIN")
        for i in range(count):
            messages.add_outbound(conn, ws.id, f"old message {i}", role="assistant")
        conn.execute("COMMIT")

    app.host.store.call_sync(fill)
