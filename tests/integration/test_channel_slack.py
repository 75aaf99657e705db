"""The Slack bridge through slack-bolt (Socket Mode) and slack-sdk (Web API) against a local
fake Slack: inbound to a reply with streaming edits, a voice note, an untrusted sender, an
approval answered in the channel, a lost event caught up from history, an outage."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from pynchy_tui.channels.slack import markdown_to_mrkdwn
from pynchy_tui.events import ApprovalDecided, ApprovalRequested, MessageReceived, TurnFinished
from pynchy_tui.state import messages
from pynchy_tui.testing.fake_slack import FakeSlackServer
from tests.conftest import channel_host, until, wait_for

CH = "C100"


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSlackServer]:
    monkeypatch.setenv("PYNCHY_TEST_SLACK_BOT", "xoxb-test")
    monkeypatch.setenv("PYNCHY_TEST_SLACK_APP", "xapp-test")
    server = FakeSlackServer().start()
    yield server
    server.stop()


def slack_toml(server: FakeSlackServer, **extra: str) -> str:
    lines = [
        "[channels.sl]",
        'type = "slack"',
        'token_env = "PYNCHY_TEST_SLACK_BOT"',
        'app_token_env = "PYNCHY_TEST_SLACK_APP"',
        f'base_url = "{server.url}"',
        f'chats = {{ "{CH}" = "w" }}',
        'trusted = ["UALICE"]',
        'edit_interval = "0.05s"',
        'catch_up_interval = "0.3s"',
    ]
    lines += [f"{k} = {v}" for k, v in extra.items()]
    return "\n".join(lines) + "\n"


async def _host(make_host, scripted, slack, script, **extra: str):
    server = scripted(script)
    return await channel_host(make_host, server, "sl", slack_toml(slack, **extra)), server


async def test_inbound_reply_streaming_voice_untrusted(make_host, scripted, slack) -> None:
    long = "**Yes**: " + "word " * 40
    host, server = await _host(
        make_host,
        scripted,
        slack,
        [[{"text": long, "chunk": 8, "interval_ms": 20}], "heard", "noted"],
    )
    server.add_transcripts(["water the plants"])
    with host.bus.subscribe(MessageReceived) as sub:
        slack.post(CH, "UALICE", "hello")
        ev = await wait_for(sub, lambda e: True)
        assert ev.source == "channel:sl" and ev.trusted and ev.sender == "UALICE"
        await until(lambda: slack.texts(CH) == [markdown_to_mrkdwn(long.strip())])
        assert len(slack.sent[0]["edits"]) >= 2
        slack.post(CH, "UALICE", "", audio=b"\x00\x00\x00 ftypM4A audio")
        ev = await wait_for(sub, lambda e: True)
        assert ev.text == "[Voice: water the plants]"
        await until(lambda: slack.texts(CH)[-1:] == ["heard"])
        slack.post(CH, "UMALLORY", "psst")
        ev = await wait_for(sub, lambda e: True)
        assert ev.trusted is False
    await until(lambda: slack.texts(CH)[-1:] == ["noted"])
    assert slack.acks  # events were acknowledged over the socket


async def test_approval_answered_in_the_channel(make_host, scripted, slack) -> None:
    host, _ = await _host(
        make_host,
        scripted,
        slack,
        [[{"tool": "bash", "args": {"command": "curl https://example.com"}}], ["got it"]],
        stream="false",
    )
    with host.bus.subscribe(ApprovalRequested, ApprovalDecided, TurnFinished) as sub:
        slack.post(CH, "UALICE", "fetch the page")
        req = await wait_for(sub, lambda e: isinstance(e, ApprovalRequested))
        await until(lambda: any(req.approval_id in t for t in slack.texts(CH)))
        slack.post(CH, "UALICE", f"deny {req.approval_id} not today")
        dec = await wait_for(sub, lambda e: isinstance(e, ApprovalDecided))
        assert not dec.approved and dec.decided_by == "UALICE"
        await wait_for(sub, lambda e: isinstance(e, TurnFinished))
    await until(lambda: slack.texts(CH)[-1:] == ["got it"])


async def test_lost_event_and_outage_caught_up_once_in_order(make_host, scripted, slack) -> None:
    host, _ = await _host(make_host, scripted, slack, [f"r{i}" for i in range(8)], stream="false")
    slack.post(CH, "UALICE", "m0")
    await until(lambda: slack.texts(CH) == ["r0"])
    slack.drop_live = True  # the socket loses this event: history has it
    slack.post(CH, "UALICE", "m1")
    slack.drop_live = False
    await until(lambda: slack.texts(CH) == ["r0", "r1"])
    slack.down()
    await until(lambda: host.channels.states.get("sl") in ("disconnected", "error"))
    slack.post(CH, "UALICE", "m2")
    await asyncio.sleep(0.4)
    slack.up()
    ws = host.get_workspace("w")
    loop = asyncio.get_running_loop()
    end = loop.time() + 30
    while True:
        rows = await host.store.call(messages.history, ws.id)
        ins = [r.text for r in rows if r.direction == "in"]
        outs = [r.text for r in rows if r.direction == "out"]
        if ins == ["m0", "m1", "m2"] and not host.is_busy("w") and slack.texts(CH) == outs:
            break
        assert loop.time() < end, (ins, outs, slack.texts(CH))
        await asyncio.sleep(0.05)


async def test_catch_up_reads_every_history_page(make_host, scripted, slack) -> None:
    """450 messages during an outage are more than one page (200) of conversations.history:
    all of them arrive, once, in order."""
    host, _ = await _host(make_host, scripted, slack, [f"r{i}" for i in range(50)], stream="false")
    slack.post(CH, "UALICE", "first")
    ws = host.get_workspace("w")

    async def inbound() -> list[str]:
        rows = await host.store.call(messages.history, ws.id, 10_000)
        return [r.text for r in rows if r.direction == "in"]

    loop = asyncio.get_running_loop()
    end = loop.time() + 15
    while await inbound() != ["first"]:
        assert loop.time() < end
        await asyncio.sleep(0.05)
    slack.down()
    await until(lambda: host.channels.states.get("sl") in ("disconnected", "error"))
    sent = [f"m{i}" for i in range(450)]
    for text in sent:
        slack.post(CH, "UALICE", text)
    slack.up()
    end = loop.time() + 30
    while (got := await inbound()) != ["first", *sent]:
        assert loop.time() < end, (len(got), got[:3], got[-3:])
        await asyncio.sleep(0.1)
    assert slack.calls.count("conversations.history") >= 3


def test_mrkdwn() -> None:
    assert markdown_to_mrkdwn("**a** & [l](https://e.com) `x<y`") == (
        "*a* &amp; <https://e.com|l> `x&lt;y`"
    )
