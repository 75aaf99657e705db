"""Pilot tests of the flows a person meets: send, stream, tools, switch, slash commands,
settings, tips, onboarding, demo, long histories."""

from __future__ import annotations

import stat
from pathlib import Path

from pynchy_tui.config import load_config
from pynchy_tui.screens.help import HelpScreen
from pynchy_tui.screens.onboarding import OnboardingScreen
from pynchy_tui.screens.pager import PagerScreen
from pynchy_tui.screens.settings import SettingsScreen
from pynchy_tui.widgets.chat_message import ChatMessage
from pynchy_tui.widgets.composer import Composer
from pynchy_tui.widgets.container_table import ContainerTable
from pynchy_tui.widgets.tips_bar import TipsBar
from pynchy_tui.widgets.tool_call import ToolCallBlock
from pynchy_tui.widgets.transcript import Transcript
from tests.conftest import account_toml, process_runtime_toml
from tests.ui.conftest import fill_history, ready, send, texts, type_text, wait_until

TOOL_REPLY = [
    [{"text": "Let me check."}, {"tool": "bash", "args": {"command": "seq 1 40"}}],
    [
        {
            "text": "Here is code:\n\n```python\nprint('hi')\n```\n\nDone.",
            "chunk": 3,
            "interval_ms": 2,
        }
    ],
]


def cfg(server, extra: str = "") -> str:
    return (
        account_toml("local", server)
        + "[workspaces.alpha]\n[workspaces.beta]\n"
        + process_runtime_toml()
        + extra
    )


async def test_send_streams_reply_and_shows_tool_call(make_app, scripted) -> None:
    server = scripted(TOOL_REPLY)
    app = make_app(cfg(server))
    async with app.run_test(size=(140, 40)) as pilot:
        await ready(pilot)
        assert app.main_screen.selected == "alpha"
        await type_text(pilot, "hello agent")
        await pilot.press("enter")
        await wait_until(pilot, lambda: any("Done." in t for t in texts(app)))
        assert texts(app)[0] == "hello agent"
        assert "Let me check." in texts(app)
        block = app.main_screen.query_one(ToolCallBlock)
        assert block.tool == "bash" and block.status == "ok"
        assert "exit 0" in str(block.title)
        assert "lines hidden" in str(block._output_widget.render())  # 40 lines: head + tail
        # The reply is Markdown with a fenced code block.
        reply = app.main_screen.query(ChatMessage).last()
        assert "```python" in reply.text
        # The turn's end is its own event, maybe in the next batch of host events.
        await wait_until(pilot, lambda: app.main_screen.views["alpha"].status == "idle")
        # The whole output opens in the pager.
        block.focus()
        block.action_open_output()
        await wait_until(pilot, lambda: isinstance(app.screen, PagerScreen))
        assert "40" in app.screen.text
        await pilot.press("escape")


async def test_switch_workspace_with_keys_and_mouse_and_unread(make_app, scripted) -> None:
    server = scripted([[{"text": "reply in beta"}]])
    app = make_app(cfg(server))
    async with app.run_test(size=(140, 40)) as pilot:
        await ready(pilot)
        host = app.host
        await host.submit("beta", "from elsewhere", source="cli")
        await wait_until(pilot, lambda: app.main_screen.views["beta"].unread >= 2)
        assert texts(app) == []  # alpha shows nothing of beta
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: app.main_screen.selected == "beta")
        await wait_until(pilot, lambda: "reply in beta" in texts(app))
        assert app.main_screen.views["beta"].unread == 0
        assert "from elsewhere" in texts(app)
        msg = app.main_screen.query(ChatMessage).first()
        assert "[cli]" in msg.header_text()
        await pilot.press("ctrl+b")
        await wait_until(pilot, lambda: app.main_screen.selected == "alpha")
        await pilot.click(
            "#workspaces", offset=(4, 3)
        )  # beta: its status line (options are two lines)
        await wait_until(pilot, lambda: app.main_screen.selected == "beta")


async def test_slash_commands(make_app, scripted, home: Path) -> None:
    server = scripted(
        [[{"tool": "bash", "args": {"command": "sleep 20"}}], [{"text": "after stop"}]]
    )
    app = make_app("# my config\n" + cfg(server) + account_toml("other", server))
    async with app.run_test(size=(140, 40)) as pilot:
        await ready(pilot)
        await type_text(pilot, "/ne")
        assert "/new" in str(app.main_screen.query_one("#hint").render())
        await pilot.press("tab")
        assert app.main_screen.query_one(Composer).text == "/new "
        await type_text(pilot, "gamma")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.main_screen.selected == "gamma")
        await send(pilot, "/rename delta")
        await wait_until(pilot, lambda: app.main_screen.selected == "delta")
        assert "delta" in [w.name for w in app.host.list_workspaces()]
        await send(pilot, "/account other")
        await wait_until(pilot, lambda: app.host.account_name("delta") == "other")
        assert load_config(home / "config.toml").workspaces["delta"].account == "other"
        await send(pilot, "/model bigger-model")
        await wait_until(pilot, lambda: app.host.config.accounts["other"].model == "bigger-model")
        text = (home / "config.toml").read_text()
        assert "# my config" in text and 'model = "bigger-model"' in text
        await send(pilot, "start something long")
        await wait_until(pilot, lambda: app.main_screen.views["delta"].status == "tool")
        await send(pilot, "/stop")
        await wait_until(pilot, lambda: app.main_screen.views["delta"].status == "idle")
        await wait_until(pilot, lambda: any("cancelled" in t for t in texts(app)))
        await send(pilot, "/clear")
        await wait_until(pilot, lambda: any("Conversation cleared" in t for t in texts(app)))
        await send(pilot, "/help")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.press("escape")
        await send(pilot, "/bogus")
        await pilot.pause()
        assert app.main_screen.query_one(Composer).text == ""


async def test_composer_history_walks_sent_messages(make_app, scripted) -> None:
    server = scripted([[{"text": "a"}], [{"text": "b"}]])
    app = make_app(cfg(server))
    async with app.run_test(size=(140, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "first")
        await send(pilot, "second")
        composer = app.main_screen.query_one(Composer)
        await pilot.press("up")
        assert composer.text == "second"
        await pilot.press("up")
        assert composer.text == "first"
        await pilot.press("down")
        assert composer.text == "second"
        await pilot.press("down")
        assert composer.text == ""
        await wait_until(pilot, lambda: "b" in texts(app))


async def test_keys_arriving_at_once_are_sent_in_order(make_app, scripted) -> None:
    """ "hello" and Enter read in one go (a fast typist, tmux send-keys, a paste without
    bracketed paste): the message is all of it, not what reached the composer first."""
    from textual import events

    server = scripted([[{"text": "ok"}]])
    app = make_app(cfg(server))
    async with app.run_test(size=(140, 40)) as pilot:
        await ready(pilot)
        composer = app.main_screen.query_one(Composer)
        composer.focus()
        await pilot.pause()
        for key, char in [*((c, c) for c in "hello"), ("enter", "\r")]:
            event = events.Key(key, char)
            event.set_sender(app)
            app._driver.send_message(event)  # as the driver posts them, none awaited
        await wait_until(pilot, lambda: "ok" in texts(app))
        assert texts(app)[-2:] == ["hello", "ok"]
        assert composer.text == ""


async def test_settings_round_trip_keeps_comments(make_app, scripted, home: Path) -> None:
    server = scripted([])
    app = make_app("# top comment\n" + cfg(server, "\n[ui]\ntips = true # tips on\n"))
    async with app.run_test(size=(140, 40)) as pilot:
        await ready(pilot)
        await pilot.press("f2")
        await wait_until(pilot, lambda: isinstance(app.screen, SettingsScreen))
        screen = app.screen
        screen.query_one("#theme").value = "pynchy-light"
        screen.query_one("#tips").value = False
        screen.query_one("#idle").value = "15m"
        screen.query_one("#model").value = "newer-model"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: not isinstance(app.screen, SettingsScreen))
        text = (home / "config.toml").read_text()
        assert "# top comment" in text and "# tips on" in text
        c = load_config(home / "config.toml")
        assert c.ui.theme == "pynchy-light" and c.ui.tips is False
        assert c.runtime.idle_timeout == 900 and c.accounts["local"].model == "newer-model"
        assert c.defaults.account == "local"
        assert app.theme == "pynchy-light"
        assert stat.S_IMODE((home / "config.toml").stat().st_mode) == 0o600
        # A bad value is refused on screen and nothing is written.
        await pilot.press("f2")
        await wait_until(pilot, lambda: isinstance(app.screen, SettingsScreen))
        app.screen.query_one("#idle").value = "whenever"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, SettingsScreen)
        assert "Idle timeout" in str(app.screen.query_one("#error").render())
        await pilot.press("escape")
        assert load_config(home / "config.toml").runtime.idle_timeout == 900


async def test_tips_rotate_persist_and_turn_off(make_app, scripted) -> None:
    server = scripted([[{"text": f"r{i}"}] for i in range(8)])
    app = make_app(cfg(server))
    async with app.run_test(size=(140, 40)) as pilot:
        await ready(pilot)
        bar = app.main_screen.query_one(TipsBar)
        shown = []
        for i in range(7):
            await send(pilot, f"message {i}")
            shown.append(str(bar.render()) if bar.has_class("-shown") else None)
            await wait_until(pilot, lambda i=i: f"r{i}" in texts(app))
        assert [s is not None for s in shown] == [True, False, False, True, False, False, True]
        tips = [s for s in shown if s]
        assert len(set(tips)) == 3  # no repeats
        app.host.config.ui.tips = False
        for _ in range(3):
            assert app.next_tip() is None
    # Seen state survives a restart: the next tip is a new one.
    from pynchy_tui.state import kv

    app2 = make_app(cfg(server))
    async with app2.run_test(size=(140, 40)) as pilot:
        await ready(pilot)
        seen = app2.host.store.call_sync(kv.get, "tips.seen")
        assert len(seen) == 3
        for _ in range(2):
            app2.next_tip()
        tip = app2.next_tip()
        assert tip is not None and f"tip: {tip}" not in tips


async def test_onboarding_writes_a_valid_config(make_app, scripted, home: Path) -> None:
    server = scripted([[{"text": "hi from the new account"}]])
    app = make_app("", onboarding=True)
    async with app.run_test(size=(140, 45)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, OnboardingScreen))
        screen = app.screen
        await wait_until(
            pilot, lambda: any(b.region.width > 0 for b in screen.query("#p-compatible"))
        )
        await pilot.pause()
        await pilot.click("#p-compatible")
        await wait_until(pilot, lambda: screen.choice == "compatible")
        screen.query_one("#url").value = server.openai_url
        screen.query_one("#model").value = "scripted-model"
        screen.query_one("#name").value = "mine"
        await pilot.click("#test")
        await wait_until(pilot, lambda: "connected" in str(screen.query_one("#result").render()))
        await pilot.click("#save")
        await wait_until(pilot, lambda: not isinstance(app.screen, OnboardingScreen))
        c = load_config(home / "config.toml")
        assert c.accounts["mine"].base_url == server.openai_url
        assert c.accounts["mine"].provider == "openai" and c.defaults.account == "mine"
        await wait_until(pilot, lambda: app.main_screen.selected == "main")
        await send(pilot, "hello")
        await wait_until(pilot, lambda: "hi from the new account" in texts(app))


async def test_onboarding_reports_a_failed_connection(make_app) -> None:
    app = make_app("", onboarding=True)
    async with app.run_test(size=(140, 45)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, OnboardingScreen))
        screen = app.screen
        await wait_until(
            pilot, lambda: any(b.region.width > 0 for b in screen.query("#p-compatible"))
        )
        await pilot.pause()
        await pilot.click("#p-compatible")
        await wait_until(pilot, lambda: screen.choice == "compatible")
        screen.query_one("#url").value = "http://127.0.0.1:9/v1"
        screen.query_one("#model").value = "m"
        await pilot.click("#test")
        await wait_until(pilot, lambda: "failed" in str(screen.query_one("#result").render()), 30)


async def test_demo_tour_runs_tools_in_the_sandbox(make_app, home: Path) -> None:
    app = make_app(process_runtime_toml(), demo=True)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_until(pilot, lambda: app.main_screen.selected == "demo", 20)
        await wait_until(pilot, lambda: any("To use a real model" in t for t in texts(app)), 30)
        assert app.main_screen.status.demo
        assert "DEMO" in str(app.main_screen.status.render())
        tools = [b.tool for b in app.main_screen.query(ToolCallBlock)]
        assert tools == ["bash", "write_file", "edit_file", "bash"]
        assert (
            home / "data" / "workspaces" / "demo" / "hello.py"
        ).read_text() == "print('greetings from the pynchy demo')\n"
        assert "demo" in app.main_screen.query_one(ContainerTable).views
        assert "demo" not in load_config(home / "config.toml").accounts  # never saved


async def test_long_history_mounts_one_page_and_loads_more(make_app, scripted) -> None:
    server = scripted([])
    app = make_app(cfg(server))
    async with app.run_test(size=(140, 40)) as pilot:
        await ready(pilot)
        fill_history(app, "beta", 10_000)
        await app.main_screen.select("beta")
        transcript = app.main_screen.query_one(Transcript)
        await wait_until(pilot, lambda: len(transcript.query(ChatMessage)) > 0)
        assert len(transcript.query(ChatMessage)) == 100
        assert transcript.query(ChatMessage).last().text == "old message 9999"
        transcript.query_one("#load-earlier").press()
        await wait_until(pilot, lambda: len(transcript.query(ChatMessage)) == 200)
        assert transcript.query(ChatMessage).first().text == "old message 9800"


async def test_palette_creates_renames_and_deletes_workspaces(
    make_app, scripted, home: Path
) -> None:
    from pynchy_tui.screens.prompt import PromptScreen

    server = scripted([])
    app = make_app(cfg(server))
    async with app.run_test(size=(140, 40)) as pilot:
        await ready(pilot)

        async def palette(command: str) -> None:
            await pilot.press("ctrl+p")
            await pilot.pause()
            for ch in command:
                await pilot.press("space" if ch == " " else ch)
            await pilot.pause(0.3)
            await pilot.press("enter")

        await palette("new workspace")
        await wait_until(pilot, lambda: isinstance(app.screen, PromptScreen))
        await type_text(pilot, "scratch")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.main_screen.selected == "scratch")
        await palette("rename workspace")
        await wait_until(pilot, lambda: isinstance(app.screen, PromptScreen))
        app.screen.query_one("#answer").value = "draft"
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.main_screen.selected == "draft")
        await palette("delete workspace draft")
        await wait_until(pilot, lambda: isinstance(app.screen, PromptScreen))
        await type_text(pilot, "draft")
        await pilot.press("enter")
        await wait_until(pilot, lambda: "draft" not in [w.name for w in app.host.list_workspaces()])
        assert app.main_screen.selected in ("alpha", "beta")


async def test_no_color_is_honoured(make_app, scripted, monkeypatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app(cfg(scripted([])))
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        assert app.no_color  # Textual renders monochrome; nothing of ours re-adds colour
