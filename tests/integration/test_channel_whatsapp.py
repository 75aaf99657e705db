"""The WhatsApp Cloud API bridge (webhook in, Graph API out) against a local fake that signs
and retries webhooks as Meta does: inbound to a reply, a voice note, an untrusted sender, an
approval answered in the chat, an outage and a restart with nothing lost or doubled."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator

import pytest

from pynchy_tui.channels.whatsapp import markdown_to_whatsapp
from pynchy_tui.events import ApprovalDecided, ApprovalRequested, MessageReceived, TurnFinished
from pynchy_tui.state import messages
from pynchy_tui.testing.fake_whatsapp import FakeWhatsAppServer
from tests.conftest import channel_host, until, wait_for

ALICE, MALLORY = "15550001", "15559999"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def wa(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeWhatsAppServer]:
    monkeypatch.setenv("PYNCHY_TEST_WA_TOKEN", "EAAtest")
    monkeypatch.setenv("PYNCHY_TEST_WA_SECRET", "s3cret")
    server = FakeWhatsAppServer(app_secret="s3cret").start()
    yield server
    server.stop()


def wa_toml(server: FakeWhatsAppServer, port: int) -> str:
    return (
        "\n".join(
            [
                "[channels.wa]",
                'type = "whatsapp"',
                'token_env = "PYNCHY_TEST_WA_TOKEN"',
                'app_secret_env = "PYNCHY_TEST_WA_SECRET"',
                'phone_number_id = "PHONE"',
                f'base_url = "{server.url}"',
                f"webhook_port = {port}",
                f'chats = {{ "{ALICE}" = "w", "{MALLORY}" = "w" }}',
                f'trusted = ["{ALICE}"]',
            ]
        )
        + "\n"
    )


async def _host(make_host, scripted, wa, script):
    server = scripted(script)
    port = _free_port()
    host = await channel_host(make_host, server, "wa", wa_toml(wa, port))
    wa.webhook_url = f"http://127.0.0.1:{port}/webhook"
    return host, server, port


async def test_reply_voice_untrusted(make_host, scripted, wa) -> None:
    host, server, _ = await _host(make_host, scripted, wa, ["**hi** there", "heard", "ok"])
    server.add_transcripts(["buy milk"])
    with host.bus.subscribe(MessageReceived) as sub:
        wa.post_text(ALICE, "hello", name="Alice")
        ev = await wait_for(sub, lambda e: True)
        assert ev.source == "channel:wa" and ev.trusted and ev.sender == "Alice"
        await until(lambda: wa.texts(ALICE) == ["*hi* there"])  # no streaming: one message
        wa.post_voice(ALICE, b"OggS opus")
        ev = await wait_for(sub, lambda e: True)
        assert ev.text == "[Voice: buy milk]"
        await until(lambda: wa.texts(ALICE)[-1:] == ["heard"])
        wa.post_text(MALLORY, "hey")
        ev = await wait_for(sub, lambda e: True)
        assert ev.trusted is False
    await until(lambda: wa.texts(MALLORY) == ["ok"])


async def test_approval_answered_in_the_chat(make_host, scripted, wa) -> None:
    host, _, _ = await _host(
        make_host,
        scripted,
        wa,
        [[{"tool": "bash", "args": {"command": "curl https://example.com"}}], ["done"]],
    )
    with host.bus.subscribe(ApprovalRequested, ApprovalDecided, TurnFinished) as sub:
        wa.post_text(ALICE, "fetch it")
        req = await wait_for(sub, lambda e: isinstance(e, ApprovalRequested))
        await until(lambda: any(req.approval_id in t for t in wa.texts(ALICE)))
        wa.post_text(ALICE, f"approve {req.approval_id}")
        dec = await wait_for(sub, lambda e: isinstance(e, ApprovalDecided))
        assert dec.approved
        await wait_for(sub, lambda e: isinstance(e, TurnFinished))
    await until(lambda: wa.texts(ALICE)[-1:] == ["done"])


async def test_outage_and_restart_once_in_order(make_host, scripted, wa) -> None:
    host, _, port = await _host(make_host, scripted, wa, [f"r{i}" for i in range(8)])
    wa.post_text(ALICE, "m0")
    await until(lambda: wa.texts(ALICE) == ["r0"])
    wa.down()  # Graph API fails and webhooks are held
    wa.post_text(ALICE, "m1")
    await asyncio.sleep(0.3)
    wa.up()
    await until(lambda: wa.texts(ALICE) == ["r0", "r1"])
    await host.stop()  # the host is away: webhooks fail and are retried by the platform
    wa.post_text(ALICE, "m2")
    await until(lambda: any(s != 200 for _, s in wa.deliveries))
    host2 = await make_host((host.paths.config_file).read_text())
    await until(lambda: wa.texts(ALICE) == ["r0", "r1", "r2"])
    ws = host2.get_workspace("w")
    rows = await host2.store.call(messages.history, ws.id)
    assert [r.text for r in rows if r.direction == "in"] == ["m0", "m1", "m2"]
    assert port


def test_whatsapp_markup() -> None:
    assert markdown_to_whatsapp("**a** ~~b~~ [l](https://e.com)") == "*a* ~b~ l (https://e.com)"
