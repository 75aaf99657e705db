"""kill -9 of a running `pynchy serve` loses nothing: committed messages stay, the interrupted
turn is marked, and the next message is answered with a consistent transcript."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import account_toml, process_runtime_toml

PYNCHY = [sys.executable, "-m", "pynchy_tui"]


def _start_serve(env: dict[str, str]) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        PYNCHY + ["serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert "ready" in line, line + proc.stderr.read() if proc.stderr else ""
    return proc


def _send(env: dict[str, str], text: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        PYNCHY + ["send", "-w", "w", text], env=env, capture_output=True, text=True, timeout=timeout
    )


def _db(home: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(home / "data" / "pynchy.db")
    conn.row_factory = sqlite3.Row
    return conn


@pytest.mark.parametrize("phase", ["model_call", "tool_exec"])
def test_kill_9_mid_turn_then_restart(phase: str, home: Path, scripted) -> None:
    if phase == "model_call":
        first = [{"text": "thinking..."}, {"delay_ms": 60_000}, {"text": "never"}]
    else:
        first = [{"tool": "bash", "args": {"command": "echo started > started.txt; sleep 60"}}]
    server = scripted([first, [{"text": "answer after restart"}]])
    (home / "config.toml").write_text(
        account_toml("acc", server) + "[workspaces.w]\n" + process_runtime_toml()
    )
    env = {**os.environ, "PYNCHY_HOME": str(home)}

    serve = _start_serve(env)
    sender = subprocess.Popen(
        PYNCHY + ["send", "-w", "w", "first message"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        server.wait_for_requests(1, timeout=20)
        if phase == "tool_exec":
            marker = home / "data" / "workspaces" / "w" / "started.txt"
            deadline = time.monotonic() + 20
            while not marker.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            assert marker.exists()
        serve.send_signal(signal.SIGKILL)
        serve.wait(10)
    finally:
        sender.wait(20)
    assert sender.returncode != 0  # the client saw its host vanish

    conn = _db(home)
    msgs = conn.execute("SELECT * FROM messages WHERE direction = 'in'").fetchall()
    assert [m["text"] for m in msgs] == ["first message"]
    assert conn.execute("SELECT status FROM turns").fetchall()[0][0] == "running"
    conn.close()

    serve = _start_serve(env)
    try:
        conn = _db(home)
        turns = conn.execute("SELECT status, error FROM turns ORDER BY id").fetchall()
        assert [t["status"] for t in turns] == ["interrupted"]
        notices = conn.execute("SELECT text FROM messages WHERE role = 'system'").fetchall()
        assert any("interrupted" in n[0] for n in notices)
        conn.close()

        result = _send(env, "are you back?")
        assert result.returncode == 0, result.stderr
        assert "answer after restart" in result.stdout
        body = server.requests[-1]["body"]
        users = [m["content"] for m in body["messages"] if m["role"] == "user"]
        assert users == ["first message", "are you back?"]
        if phase == "tool_exec":  # the dangling call got a synthetic result
            tools = [m for m in body["messages"] if m["role"] == "tool"]
            assert len(tools) == 1 and "interrupted" in tools[0]["content"]
        conn = _db(home)
        assert [r[0] for r in conn.execute("SELECT status FROM turns ORDER BY id")] == [
            "interrupted",
            "done",
        ]
        assert (
            conn.execute("SELECT COUNT(*) FROM messages WHERE status = 'pending'").fetchone()[0]
            == 0
        )
        conn.close()
    finally:
        serve.send_signal(signal.SIGTERM)
        assert serve.wait(20) == 0


def test_committed_but_unconsumed_message_is_requeued(home: Path, scripted) -> None:
    """A message committed just before a crash (no turn took it yet) is answered on restart."""
    server = scripted([[{"text": "picked up after restart"}]])
    (home / "config.toml").write_text(
        account_toml("acc", server) + "[workspaces.w]\n" + process_runtime_toml()
    )
    env = {**os.environ, "PYNCHY_HOME": str(home)}
    serve = _start_serve(env)
    serve.send_signal(signal.SIGKILL)
    serve.wait(10)
    conn = _db(home)
    ws_id = conn.execute("SELECT id FROM workspaces WHERE name = 'w'").fetchone()[0]
    conn.execute(
        "INSERT INTO messages (workspace_id, direction, source, role, text, status, created_at, updated_at)"
        " VALUES (?, 'in', 'tui', 'user', 'left behind', 'pending', 0, 0)",
        (ws_id,),
    )
    conn.commit()
    conn.close()
    serve = _start_serve(env)
    try:
        server.wait_for_requests(1, timeout=20)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            conn = _db(home)
            rows = conn.execute("SELECT text FROM messages WHERE role = 'assistant'").fetchall()
            conn.close()
            if rows:
                break
            time.sleep(0.05)
        assert [r[0] for r in rows] == ["picked up after restart"]
    finally:
        serve.send_signal(signal.SIGTERM)
        assert serve.wait(20) == 0
