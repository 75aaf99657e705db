"""Channels in the TUI: 100 consecutive exchanges from a channel each show their reply without
a follow-up message (the messaging-desync bug, B3), with the channel's badge."""

from __future__ import annotations

import pytest

from pynchy_tui.testing.fake_channel import FakePlatform
from pynchy_tui.widgets.channel_status import ChannelStatus
from pynchy_tui.widgets.chat_message import ChatMessage
from tests.conftest import account_toml, process_runtime_toml
from tests.ui.conftest import ready, texts, wait_until

N = 100


def _config(server, name: str) -> str:
    return (
        account_toml("local", server)
        + "[workspaces.w]\n"
        + process_runtime_toml().replace('idle_timeout = "0s"', 'idle_timeout = "600s"')
        + f'[channels.{name}]\ntype = "fake"\nchats = {{ "c1" = "w" }}\ntrusted = ["alice"]\n'
        + 'edit_interval = "0.05s"\n'
    )


# About 30 s for 100 exchanges on a 2-core machine under Pilot; the transcript's cost grows
# with its length, so give it more than the default 120 s budget under load.
@pytest.mark.timeout(300)
async def test_100_channel_exchanges_each_show_their_reply(make_app, scripted) -> None:
    platform = FakePlatform("phone")
    try:
        server = scripted([f"answer {i}" for i in range(N)])
        app = make_app(_config(server, "phone"))
        async with app.run_test(size=(120, 40)) as pilot:
            await ready(pilot)
            await wait_until(pilot, lambda: app.host.channels.states.get("phone") == "connected")
            for i in range(N):
                platform.post("c1", "alice", f"question {i}")
                await wait_until(pilot, lambda i=i: f"answer {i}" in texts(app))
                await wait_until(pilot, lambda i=i: f"answer {i}" in platform.sent_texts("c1"))
            assert platform.sent_texts("c1") == [f"answer {i}" for i in range(N)]
            badges = [m for m in app.main_screen.query(ChatMessage) if m.source == "channel:phone"]
            assert badges and badges[-1].text == f"question {N - 1}"

            def replies() -> list[ChatMessage]:
                return [m for m in app.main_screen.query(ChatMessage) if m.role == "assistant"]

            # The badge comes with the stored reply, just after the streamed text shows.
            await wait_until(pilot, lambda: replies()[-1].via is not None)
            assert replies()[-1].via == "channel:phone" and "→ [channel:phone]" in (
                replies()[-1].header_text()
            )
            status = app.main_screen.query_one(ChannelStatus)
            assert status.channels["phone"][1] == "connected"
            assert "phone" in str(status.render_text())
    finally:
        FakePlatform.registry.pop("phone", None)
