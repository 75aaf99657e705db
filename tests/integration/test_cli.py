"""The command line as a person meets it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import account_toml, process_runtime_toml

PYNCHY = [sys.executable, "-m", "pynchy_tui"]


def run(home: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYNCHY_HOME": str(home)}
    return subprocess.run(
        PYNCHY + list(args), env=env, capture_output=True, text=True, timeout=timeout
    )


def test_version(home: Path) -> None:
    r = run(home, "--version")
    assert r.returncode == 0 and r.stdout.startswith("pynchy 0.")


def test_send_streams_the_reply_and_tools(home: Path, scripted) -> None:
    server = scripted(
        [
            [{"tool": "bash", "args": {"command": "echo hi > hi.txt"}}],
            [{"text": "wrote hi.txt for you"}],
        ]
    )
    (home / "config.toml").write_text(
        account_toml("acc", server, "anthropic", api_key="k") + process_runtime_toml()
    )
    r = run(home, "send", "--create", "-w", "fresh", "please", "write")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "wrote hi.txt for you"
    assert "> bash: echo hi > hi.txt" in r.stderr
    assert (home / "data" / "workspaces" / "fresh" / "hi.txt").read_text() == "hi\n"
    assert server.requests[0]["body"]["messages"][0]["content"][0]["text"] == "please write"


def test_send_prints_send_message_texts_and_flags_retries(home: Path, scripted) -> None:
    server = scripted(
        [
            [{"tool": "send_message", "args": {"text": "progress: halfway"}}],
            [{"text": "partial"}, {"error": 500}],
            [{"text": "final answer"}],
        ]
    )
    (home / "config.toml").write_text(
        account_toml("acc", server) + "[workspaces.w]\n" + process_runtime_toml()
    )
    r = run(home, "send", "-w", "w", "go")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == "progress: halfway"
    assert r.stdout.strip().endswith("final answer")
    assert "discarded" in r.stderr and "retry 1" in r.stderr


async def test_in_process_send_runs_only_its_own_workspace(home: Path, scripted) -> None:
    """A message another workspace left committed (a crash, a channel) is not run by a
    one-shot `pynchy send`: it waits, still pending, for the next full host."""
    import asyncio

    from pynchy_tui.config import load_config, resolve_paths
    from pynchy_tui.events import TurnFinished
    from pynchy_tui.host.host import Host
    from pynchy_tui.state import messages, workspaces
    from pynchy_tui.state.db import Store
    from tests.conftest import wait_for

    server = scripted([[{"text": "answer for w"}], [{"text": "answer for other"}]])
    (home / "config.toml").write_text(
        account_toml("acc", server)
        + "[workspaces.w]\n[workspaces.other]\n"
        + process_runtime_toml()
    )
    paths = resolve_paths()
    paths.ensure()
    store = Store(paths.db_path)
    try:
        other = store.call_sync(workspaces.ensure, "other", "acc")
        store.call_sync(messages.add_inbound, other.id, "left for later", source="tui")
        r = await asyncio.to_thread(run, home, "send", "-w", "w", "hi")
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == "answer for w"
        assert len(server.requests) == 1
        left = store.call_sync(messages.pending, other.id)
        assert [m.text for m in left] == ["left for later"]
    finally:
        store.close()

    host = Host(load_config(paths.config_file), paths)  # a full host runs it
    with host.bus.subscribe(TurnFinished) as sub:
        await host.start()
        try:
            done = await wait_for(sub, lambda e: e.workspace == "other")
        finally:
            await host.stop()
    assert done.status == "done"
    assert len(server.requests) == 2
    assert "left for later" in str(server.requests[1]["body"]["messages"])


def test_send_to_unknown_workspace_fails_clearly(home: Path) -> None:
    (home / "config.toml").write_text("[workspaces.notes]\n" + process_runtime_toml())
    r = run(home, "send", "-w", "nope", "hi")
    assert r.returncode == 1
    assert "no workspace named 'nope'" in r.stderr and "notes" in r.stderr


def test_send_failure_exits_non_zero_with_the_reason(home: Path, scripted) -> None:
    server = scripted([[{"error": 401, "message": "invalid x-api-key"}]])
    (home / "config.toml").write_text(
        account_toml("acc", server, "anthropic", api_key="bad")
        + "[workspaces.w]\n"
        + process_runtime_toml()
    )
    r = run(home, "send", "-w", "w", "hi")
    assert r.returncode == 1
    assert "401" in r.stderr and "invalid x-api-key" in r.stderr


def test_config_error_refuses_to_start(home: Path) -> None:
    (home / "config.toml").write_text("[runtime]\nruntime = 'auto'\nidle_timeout = 'soon'\n")
    for cmd in (["serve"], ["send", "-w", "x", "hi"]):
        r = run(home, *cmd)
        assert r.returncode == 2
        assert f"{home / 'config.toml'}, line 3, key 'runtime.idle_timeout'" in r.stderr


def test_doctor_ready_and_not_ready(home: Path, scripted) -> None:
    r = run(home, "doctor")
    assert r.returncode == 1 and "accounts" in r.stdout and "FAIL" in r.stdout
    server = scripted([])
    (home / "config.toml").write_text(account_toml("acc", server) + process_runtime_toml())
    r = run(home, "doctor")
    assert r.returncode == 0, r.stdout
    assert "reachable" in r.stdout and "selected runtime: process" in r.stdout
    (home / "config.toml").write_text(
        account_toml("acc", server)
    )  # auto, no isolating runtime here?
    r = run(home, "doctor")
    assert "selected runtime" in r.stdout


def test_doctor_reports_unreachable_endpoint(home: Path) -> None:
    (home / "config.toml").write_text(
        '[accounts.gone]\nprovider = "openai"\nmodel = "m"\nbase_url = "http://127.0.0.1:9/v1"\n'
        + process_runtime_toml()
    )
    r = run(home, "doctor")
    assert r.returncode == 1 and "account gone" in r.stdout and "FAIL" in r.stdout
