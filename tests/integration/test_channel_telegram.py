"""The Telegram bridge through python-telegram-bot against a local fake Bot API server:
inbound to a reply, streaming edits, a voice note, an untrusted sender, an approval answered
from the chat (text reply and inline button), and an outage."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from pynchy_tui.channels.telegram import markdown_to_telegram_html
from pynchy_tui.events import ApprovalDecided, ApprovalRequested, MessageReceived, TurnFinished
from pynchy_tui.state import messages
from pynchy_tui.testing.fake_telegram import FakeTelegramServer
from tests.conftest import account_toml, channel_host, process_runtime_toml, until, wait_for

CHAT, ALICE, MALLORY = 1001, 7, 666


@pytest.fixture
def tg(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeTelegramServer]:
    monkeypatch.setenv("PYNCHY_TEST_TG_TOKEN", "123:ABC")
    server = FakeTelegramServer().start()
    yield server
    server.stop()


def telegram_toml(server: FakeTelegramServer, **extra: str) -> str:
    lines = [
        "[channels.tg]",
        'type = "telegram"',
        'token_env = "PYNCHY_TEST_TG_TOKEN"',
        f'base_url = "{server.url}"',
        f'chats = {{ "{CHAT}" = "w" }}',
        f'trusted = ["{ALICE}"]',
        'edit_interval = "0.05s"',
        'options = { poll_timeout = "1" }',
    ]
    lines += [f"{k} = {v}" for k, v in extra.items()]
    return "\n".join(lines) + "\n"


async def _host(make_host, scripted, tg, script, **extra: str):
    server = scripted(script)
    return await channel_host(make_host, server, "tg", telegram_toml(tg, **extra)), server


async def test_inbound_to_reply_with_streaming_edits(make_host, scripted, tg) -> None:
    long = "**Sure**: " + "word " * 40
    host, _ = await _host(
        make_host, scripted, tg, [[{"text": long, "chunk": 8, "interval_ms": 20}]]
    )
    with host.bus.subscribe(MessageReceived) as sub:
        tg.post_text(CHAT, ALICE, "hello bot", username="alice")
        ev = await wait_for(sub, lambda e: True)
    assert ev.source == "channel:tg" and ev.trusted and ev.text == "hello bot"
    final = markdown_to_telegram_html(long.strip())
    await until(lambda: tg.texts(CHAT) == [final])
    [sent] = tg.sent
    assert len(sent["edits"]) >= 2 and sent["parse_mode"] == "HTML"
    assert (CHAT, "typing") in tg.actions


async def test_voice_untrusted_and_restart_without_redelivery(make_host, scripted, tg) -> None:
    host, server = await _host(make_host, scripted, tg, ["heard you", "hm"], stream="false")
    server.add_transcripts(["remind me to call mum"])
    with host.bus.subscribe(MessageReceived) as sub:
        tg.post_voice(CHAT, ALICE, b"OggS\x00voice", username="alice")
        ev = await wait_for(sub, lambda e: True)
        assert ev.text == "[Voice: remind me to call mum]"
        await until(lambda: tg.texts(CHAT) == ["heard you"])  # its own turn, not joined
        tg.post_text(CHAT, MALLORY, "hi from a stranger", username="mallory")
        ev = await wait_for(sub, lambda e: True)
        assert ev.trusted is False and ev.sender == "mallory"
    await until(lambda: tg.texts(CHAT) == ["heard you", "hm"])
    audio = [r for r in server.requests if "audio" in r["path"]]
    assert audio[0]["body"]["file_size"] == len(b"OggS\x00voice")
    # Restart: the stored offset means nothing is taken (or answered) twice.
    await host.stop()
    host2, _ = await _host(make_host, scripted, tg, [])
    await asyncio.sleep(0.5)
    ws = host2.get_workspace("w")
    rows = await host2.store.call(messages.history, ws.id)
    assert len([r for r in rows if r.direction == "in"]) == 2
    assert tg.texts(CHAT) == ["heard you", "hm"]


async def test_approval_answered_from_the_chat(make_host, scripted, tg) -> None:
    host, _ = await _host(
        make_host,
        scripted,
        tg,
        [
            [{"tool": "bash", "args": {"command": "curl https://example.com"}}],
            ["fetched it"],
        ],
        stream="false",
    )
    with host.bus.subscribe(ApprovalRequested, ApprovalDecided, TurnFinished) as sub:
        tg.post_text(CHAT, ALICE, "get the page", username="alice")
        req = await wait_for(sub, lambda e: isinstance(e, ApprovalRequested))
        await until(lambda: any(req.approval_id in t for t in tg.texts(CHAT)))
        tg.post_text(CHAT, ALICE, f"approve {req.approval_id}", username="alice")
        dec = await wait_for(sub, lambda e: isinstance(e, ApprovalDecided))
        assert dec.approved and dec.decided_by == "alice"
        await wait_for(sub, lambda e: isinstance(e, TurnFinished))
    await until(lambda: tg.texts(CHAT)[-1] == "fetched it")
    assert any("approved by alice" in t for t in tg.texts(CHAT))


async def test_outage_then_everything_once_in_order(make_host, scripted, tg) -> None:
    host, _ = await _host(make_host, scripted, tg, [f"r{i}" for i in range(10)], stream="false")
    tg.post_text(CHAT, ALICE, "m0")
    await until(lambda: tg.texts(CHAT) == ["r0"])
    tg.down()
    await until(lambda: host.channels.states.get("tg") in ("disconnected", "error"))
    tg.post_text(CHAT, ALICE, "m1")  # written during the outage
    tg.post_text(CHAT, ALICE, "m2")
    await asyncio.sleep(0.5)
    tg.up()
    ws = host.get_workspace("w")

    async def state() -> tuple[list[str], list[str]]:
        rows = await host.store.call(messages.history, ws.id)
        ins = [r.text for r in rows if r.direction == "in"]
        outs = [r.text for r in rows if r.direction == "out"]
        return ins, outs

    loop = asyncio.get_running_loop()
    end = loop.time() + 30
    while True:
        ins, outs = await state()
        if ins == ["m0", "m1", "m2"] and not host.is_busy("w") and tg.texts(CHAT) == outs:
            break
        assert loop.time() < end, (ins, outs, tg.texts(CHAT))
        await asyncio.sleep(0.05)


def test_markdown_to_html() -> None:
    assert markdown_to_telegram_html("**a** <b> `x<y` [l](https://e.com)") == (
        '<b>a</b> &lt;b&gt; <code>x&lt;y</code> <a href="https://e.com">l</a>'
    )
    assert markdown_to_telegram_html("```py\nif a < b:\n```") == "<pre>if a &lt; b:</pre>"


async def test_stop_at_50_random_points_is_clean(
    home, scripted, tg, caplog: pytest.LogCaptureFixture
) -> None:
    """Stop (what SIGTERM does in `pynchy serve`) at random points of connect, reconnect
    and streaming, 50 times: never an exception, never a logged traceback."""
    import logging
    import random

    from pynchy_tui.config import load_config, resolve_paths
    from pynchy_tui.host.host import Host

    rnd = random.Random(7)
    server = scripted([[{"text": "y " * 300, "chunk": 3, "interval_ms": 2}]] * 60)
    (home / "config.toml").write_text(
        account_toml("acc", server) + "[workspaces.w]\n" + process_runtime_toml()
        + telegram_toml(tg)
    )  # fmt: skip
    paths = resolve_paths()
    caplog.set_level(logging.INFO)
    for i in range(50):
        phase = ("connect", "reconnect", "stream")[i % 3]
        tg.up()
        if phase == "connect":
            tg.fail_next["getMe"] = rnd.randint(0, 2)
        host = Host(load_config(paths.config_file), paths)
        await host.start()
        if phase == "reconnect":
            await until(lambda h=host: h.channels.states.get("tg") == "connected")
            tg.down()
        elif phase == "stream":
            tg.post_text(CHAT, ALICE, f"go {i}")
        await asyncio.sleep(rnd.uniform(0, 0.25))
        await host.stop()
    bad = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert not bad, [r.getMessage() for r in bad]
