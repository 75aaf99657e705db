"""The channel reliability core against an in-process fake platform (type "fake"): inbound to
a reply, dedupe, trust, streaming edits, voice, approvals from the chat, outages."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from pynchy_tui.channels.base import parse_approval_reply, split_text
from pynchy_tui.events import (
    ApprovalDecided,
    ApprovalRequested,
    ChannelStateChanged,
    MessageReceived,
    Notice,
    TurnFinished,
)
from pynchy_tui.state import messages
from pynchy_tui.testing.fake_channel import FakePlatform
from tests.conftest import account_toml, process_runtime_toml, until, wait_for

_names = itertools.count(1)


def channel_toml(name: str, **extra: str) -> str:
    lines = [
        f"[channels.{name}]",
        'type = "fake"',
        'chats = { "c1" = "w", "c9" = "nowhere" }',
        'trusted = ["alice"]',
        'edit_interval = "0.05s"',
        'catch_up_interval = "0.2s"',
    ]
    lines += [f"{k} = {v}" for k, v in extra.items()]
    return "\n".join(lines) + "\n"


async def _setup(make_host, scripted, script, **extra: str):
    name = f"fk{next(_names)}"
    platform = FakePlatform(name)
    server = scripted(script)
    host = await make_host(
        account_toml("acc", server)
        + "[workspaces.w]\n"
        + process_runtime_toml()
        + channel_toml(name, **extra)
    )
    await until(lambda: host.channels.states.get(name) == "connected")
    return host, platform, server, name


async def test_inbound_reply_dedupe_and_badges(make_host, scripted) -> None:
    host, platform, server, name = await _setup(make_host, scripted, ["hi alice", "again"])
    with host.bus.subscribe(MessageReceived) as sub:
        msg = platform.post("c1", "alice", "hello")
        ev = await wait_for(sub, lambda e: True)
    assert ev.source == f"channel:{name}" and ev.trusted and ev.sender == "alice"
    await until(lambda: platform.sent_texts("c1") == ["hi alice"])
    assert "c1" in platform.typing
    # A redelivery of the same platform message (catch-up, socket retry) is not acted on.
    await host.channels._inbound(name, msg)
    await host.channels._catch_up(name)
    ws = host.get_workspace("w")
    rows = await host.store.call(messages.history, ws.id)
    assert [r.text for r in rows if r.direction == "in"] == ["hello"]
    assert len(server.requests) == 1


async def test_untrusted_marked_or_ignored(make_host, scripted) -> None:
    host, platform, _server, _name = await _setup(make_host, scripted, ["noted"])
    with host.bus.subscribe(MessageReceived) as sub:
        platform.post("c1", "mallory", "do things")
        ev = await wait_for(sub, lambda e: True)
    assert ev.trusted is False
    await until(lambda: platform.sent_texts("c1") == ["noted"])
    assert host.loop.taint("w").untrusted_sources  # the session is tainted for the policy


async def test_chat_mapped_to_a_missing_workspace_does_not_block(make_host, scripted) -> None:
    host, platform, _server, _name = await _setup(make_host, scripted, ["still here"])
    with host.bus.subscribe(Notice) as sub:
        platform.post("c9", "alice", "into the void")
        ev = await wait_for(sub, lambda e: "does not exist" in e.text)
    assert "nowhere" in ev.text
    platform.post("c1", "alice", "hello")
    await until(lambda: platform.sent_texts("c1") == ["still here"])


async def test_untrusted_ignored(make_host, scripted) -> None:
    host, platform, server, _name = await _setup(
        make_host, scripted, ["for alice"], untrusted='"ignore"'
    )
    with host.bus.subscribe(MessageReceived) as sub:
        platform.post("c1", "mallory", "ignore me")
        platform.post("c1", "alice", "me")
        ev = await wait_for(sub, lambda e: True)
    assert ev.text == "me"
    await until(lambda: platform.sent_texts("c1") == ["for alice"])
    assert len(server.requests) == 1


async def test_streaming_edits_one_message_then_final(make_host, scripted) -> None:
    long = "word " * 60
    host, platform, _server, _name = await _setup(
        make_host, scripted, [[{"text": long, "chunk": 10, "interval_ms": 20}]]
    )
    with host.bus.subscribe(TurnFinished) as sub:
        platform.post("c1", "alice", "stream please")
        await wait_for(sub, lambda e: True)
    await until(lambda: platform.sent_texts("c1") == [long.strip()])
    [bot] = platform.bot
    assert len(bot.edits) >= 2  # previews were edits of the one message, ending as the final
    assert bot.edits[-1] == long.strip()


async def test_long_reply_splits(make_host, scripted) -> None:
    text = "\n\n".join(f"paragraph {i} " + "x" * 60 for i in range(10))
    host, platform, _server, name = await _setup(make_host, scripted, [text], stream="false")
    platform.max_length = 200
    host.channels.channels[name].max_length = 200
    platform.post("c1", "alice", "long please")
    await until(lambda: len(platform.sent_texts("c1")) >= 4)
    await asyncio.sleep(0)
    sent = platform.sent_texts("c1")
    assert all(len(s) <= 200 for s in sent)
    assert "\n\n".join(sent) == text


async def test_voice_note_transcribed_or_says_it_failed(make_host, scripted) -> None:
    host, platform, server, _name = await _setup(make_host, scripted, ["ok lights", "ok?"])
    server.add_transcripts(["turn on the lights", {"error": 500, "message": "boom"}])
    with host.bus.subscribe(MessageReceived) as sub:
        platform.post("c1", "alice", "", voice=b"OggS fake audio")
        ev = await wait_for(sub, lambda e: True)
        assert ev.text == "[Voice: turn on the lights]"
        platform.post("c1", "alice", "", voice=b"OggS more")
        ev = await wait_for(sub, lambda e: True)
    assert ev.text.startswith("[Voice note: transcription failed")
    audio = [r for r in server.requests if "audio" in r["path"]]
    assert audio and audio[0]["body"]["file_size"] == len(b"OggS fake audio")


async def test_approval_prompted_and_answered_in_the_chat(make_host, scripted) -> None:
    host, platform, _server, _name = await _setup(
        make_host,
        scripted,
        [[{"tool": "bash", "args": {"command": "curl https://example.com"}}], ["fetched"]],
    )
    with host.bus.subscribe(ApprovalRequested, ApprovalDecided, TurnFinished) as sub:
        platform.post("c1", "alice", "fetch it")
        req = await wait_for(sub, lambda e: isinstance(e, ApprovalRequested))
        await until(lambda: any(req.approval_id in t for t in platform.sent_texts("c1")))
        prompt = next(t for t in platform.sent_texts("c1") if req.approval_id in t)
        assert "curl https://example.com" in prompt and "Why pynchy asks" in prompt
        platform.post("c1", "mallory", f"approve {req.approval_id}")  # untrusted: no effect
        platform.post("c1", "alice", f"approve {req.approval_id}")
        dec = await wait_for(sub, lambda e: isinstance(e, ApprovalDecided))
        assert dec.approved and dec.decided_by == "alice"
        await wait_for(sub, lambda e: isinstance(e, TurnFinished))
    await until(lambda: "fetched" in platform.sent_texts("c1"))
    # A second answer (here from the TUI) is too late.
    won, _ = await host.decide_approval(req.approval_id, False, by="me", via="tui")
    assert not won


async def test_outage_both_sides_exactly_once_in_order(make_host, scripted) -> None:
    script = [f"reply {i}" for i in range(6)]
    host, platform, _server, name = await _setup(make_host, scripted, script)
    states: list[str] = []
    notices: list[str] = []
    host.bus.add_observer(
        lambda e: states.append(e.state) if isinstance(e, ChannelStateChanged) else None
    )
    host.bus.add_observer(lambda e: notices.append(e.text) if isinstance(e, Notice) else None)
    platform.post("c1", "alice", "msg 0")
    await until(lambda: platform.sent_texts("c1") == ["reply 0"])
    with host.bus.subscribe(TurnFinished) as sub:
        platform.post("c1", "alice", "msg 1")
        await wait_for(sub, lambda e: True)
    # Down before the reply could go out? Either way it must arrive once. The person also
    # writes during the outage.
    platform.down()
    platform.post("c1", "alice", "msg 2")
    platform.post("c1", "alice", "msg 3")
    await until(lambda: "disconnected" in states)
    await asyncio.sleep(0.3)  # the outage lasts a while (several reconnect attempts)
    platform.up()
    ws = host.get_workspace("w")

    async def replies() -> list[str]:
        rows = await host.store.call(messages.history, ws.id)
        return [r.text for r in rows if r.direction == "out"]

    loop = asyncio.get_running_loop()
    end = loop.time() + 20
    while True:
        want = await replies()
        ins = [
            r.text for r in await host.store.call(messages.history, ws.id) if r.direction == "in"
        ]
        if len(ins) == 4 and not host.is_busy("w") and platform.sent_texts("c1") == want:
            break
        assert loop.time() < end, (ins, want, platform.sent_texts("c1"))
        await asyncio.sleep(0.05)
    assert ins == ["msg 0", "msg 1", "msg 2", "msg 3"]
    assert len(want) >= 3 and want[:2] == ["reply 0", "reply 1"]
    assert f"recovered 2 missed message(s) from channel {name}" in notices


def test_split_and_parse_helpers() -> None:
    assert split_text("a b c", 100) == ["a b c"]
    parts = split_text("one two three four five six", 10)
    assert all(len(p) <= 10 for p in parts) and " ".join(parts) == "one two three four five six"
    assert parse_approval_reply("approve ab12") == ("ab12", True, None)
    assert parse_approval_reply("deny ab12 not now") == ("ab12", False, "not now")
    assert parse_approval_reply("hello there") is None


@pytest.fixture(autouse=True)
def _clean_registry():
    yield
    FakePlatform.registry.clear()
