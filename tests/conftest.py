"""Shared fixtures: an isolated PYNCHY_HOME, scripted model servers, and a started Host."""

from __future__ import annotations

import asyncio
import os
import textwrap
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pynchy_tui.bus import Subscription
from pynchy_tui.config import load_config, resolve_paths
from pynchy_tui.events import Event
from pynchy_tui.host.host import Host
from pynchy_tui.testing.scripted_model import ScriptedModelServer


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "pynchy-home"
    root.mkdir()
    monkeypatch.setenv("PYNCHY_HOME", str(root))
    return root


@pytest.fixture
def scripted() -> Iterator[Callable[..., ScriptedModelServer]]:
    servers: list[ScriptedModelServer] = []

    def make(script: list[Any] | None = None) -> ScriptedModelServer:
        server = ScriptedModelServer(script=script or []).start()
        servers.append(server)
        return server

    yield make
    for s in servers:
        s.stop()


def process_runtime_toml() -> str:
    return textwrap.dedent(
        """
        [runtime]
        runtime = "process"
        allow_unsandboxed = true
        idle_timeout = "0s"

        [limits]
        retry_base_delay = "0.01s"
        """
    )


def account_toml(
    name: str, server: ScriptedModelServer, provider: str = "openai", **extra: Any
) -> str:
    url = server.openai_url if provider == "openai" else server.url
    lines = [
        f"[accounts.{name}]",
        f'provider = "{provider}"',
        'model = "scripted-model"',
        f'base_url = "{url}"',
    ]
    lines += [f"{k} = {v!r}".replace("'", '"') for k, v in extra.items()]
    return "\n".join(lines) + "\n"


@pytest.fixture
async def make_host(home: Path) -> AsyncIterator[Callable[[str], Any]]:
    hosts: list[Host] = []

    async def make(config_text: str) -> Host:
        (home / "config.toml").write_text(config_text)
        paths = resolve_paths()
        host = Host(load_config(paths.config_file), paths)
        await host.start()
        hosts.append(host)
        return host

    yield make
    for h in hosts:
        await h.stop()


async def wait_for(
    sub: Subscription, predicate: Callable[[Event], bool], timeout: float = 20.0
) -> Event:
    """The first event on `sub` matching `predicate` (events before it are skipped)."""

    async def scan() -> Event:
        async for event in sub:
            if predicate(event):
                return event
        raise AssertionError("subscription closed")

    return await asyncio.wait_for(scan(), timeout)


def engine_required() -> bool:
    return bool(os.environ.get("CI"))


async def until(pred: Callable[[], Any], timeout: float = 15.0) -> Any:
    """Wait for state that publishes no events (a fake platform's side, a channel's state)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not (value := pred()):
        if loop.time() > end:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.02)
    return value


async def channel_host(
    make_host: Callable[[str], Any], server: ScriptedModelServer, channel: str, channel_toml: str
) -> Host:
    """A host with one account on `server`, workspace `w`, the process runtime and the
    channel `channel` configured by `channel_toml`, once that channel is connected."""
    host = await make_host(
        account_toml("acc", server) + "[workspaces.w]\n" + process_runtime_toml() + channel_toml
    )
    await until(lambda: host.channels.states.get(channel) == "connected")
    return host
