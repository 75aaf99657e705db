"""`pynchy serve` with a Telegram channel against the fake Bot API, as a real process:
kill -9 mid-turn loses and repeats nothing; SIGTERM during connect, reconnect and streaming
always exits 0 without a traceback in the log."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pynchy_tui.testing.fake_telegram import FakeTelegramServer
from tests.conftest import account_toml, process_runtime_toml
from tests.integration.test_channel_telegram import ALICE, CHAT, telegram_toml

PYNCHY = [sys.executable, "-m", "pynchy_tui"]


@pytest.fixture
def tg() -> Iterator[FakeTelegramServer]:
    server = FakeTelegramServer().start()
    yield server
    server.stop()


def _serve(env: dict[str, str]) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        PYNCHY + ["serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert "ready" in line, line + (proc.stderr.read() if proc.stderr else "")
    return proc


def _until(pred: Callable[[], Any], timeout: float = 30.0) -> Any:
    """Wait for state in another process (the host) or thread (the fake platform)."""
    end = time.monotonic() + timeout
    while not (value := pred()):
        if time.monotonic() > end:
            raise AssertionError("condition not reached")
        time.sleep(0.05)
    return value


def _rows(home: Path, direction: str) -> list[str]:
    conn = sqlite3.connect(home / "data" / "pynchy.db")
    try:
        return [
            r[0]
            for r in conn.execute(
                "SELECT text FROM messages WHERE direction = ? ORDER BY id", (direction,)
            )
        ]
    finally:
        conn.close()


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "PYNCHY_HOME": str(home), "PYNCHY_TEST_TG_TOKEN": "123:ABC"}


def test_kill_9_mid_turn_everything_once_in_order(home: Path, scripted, tg) -> None:
    server = scripted(
        ["r0", "r1", [{"delay_ms": 60_000}, {"text": "never"}], "after restart", "r4"]
    )
    (home / "config.toml").write_text(
        account_toml("acc", server)
        + "[workspaces.w]\n"
        + process_runtime_toml()
        + telegram_toml(tg, stream="false")
    )
    env = _env(home)
    proc = _serve(env)
    try:
        tg.post_text(CHAT, ALICE, "m0")
        _until(lambda: tg.texts(CHAT) == ["r0"])
        tg.post_text(CHAT, ALICE, "m1")
        _until(lambda: tg.texts(CHAT) == ["r0", "r1"])
        tg.post_text(CHAT, ALICE, "m2")
        server.wait_for_requests(3, timeout=30)  # the model is working on m2
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        tg.post_text(CHAT, ALICE, "m3")  # the person writes while the host is dead
        proc = _serve(env)
        _until(lambda: "after restart" in tg.texts(CHAT))
        tg.post_text(CHAT, ALICE, "m4")
        _until(lambda: tg.texts(CHAT)[-1:] == ["r4"])
        time.sleep(0.3)  # nothing more is on its way (a duplicate would show by now)
        assert _rows(home, "in") == ["m0", "m1", "m2", "m3", "m4"]
        outs = _rows(home, "out")
        assert tg.texts(CHAT) == outs  # every reply and notice, once, in order
        assert "interrupted" in outs[2]  # the person is told the turn for m2 was cut short
    finally:
        proc.terminate()
        assert proc.wait(20) == 0


@pytest.mark.parametrize("seed", range(50))
def test_sigterm_during_connect_reconnect_and_streaming(home: Path, scripted, tg, seed) -> None:
    """Real processes, 50 times: SIGTERM of `pynchy serve` at a random point while the
    channel connects, reconnects or streams; exit 0 and no traceback, every time."""
    rnd = random.Random(seed)
    long = [{"text": "x " * 400, "chunk": 4, "interval_ms": 5}]
    server = scripted([long] * 3)
    (home / "config.toml").write_text(
        account_toml("acc", server)
        + "[workspaces.w]\n"
        + process_runtime_toml()
        + telegram_toml(tg)
    )
    phase = ["connect", "reconnect", "stream"][seed % 3]
    if phase == "connect":
        tg.fail_next["getMe"] = 3
    proc = _serve(_env(home))
    if phase == "reconnect":
        tg.down()
        time.sleep(rnd.uniform(0.05, 0.6))
    elif phase == "stream":
        tg.post_text(CHAT, ALICE, "talk a lot")
        _until(lambda: tg.sent, timeout=20)
        time.sleep(rnd.uniform(0.0, 0.3))
    else:
        time.sleep(rnd.uniform(0.0, 0.3))
    proc.send_signal(signal.SIGTERM)
    rc = proc.wait(30)
    err = proc.stderr.read() if proc.stderr else ""
    logs = "".join(p.read_text() for p in home.rglob("pynchy.log*"))
    assert rc == 0, err
    assert "Traceback" not in err and "Traceback" not in logs, logs + err
