"""The bubblewrap runtime with the real `bwrap`: every toolbox op, streaming, cancel, namespaces,
hibernate and wake, a sandbox killed from outside, a host crash, limits, selection, an agent turn."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import pynchy_tui
from pynchy_tui.events import ContainerStateChanged, ToolOutput, TurnFinished
from pynchy_tui.runtime.base import Limits, SandboxDied
from pynchy_tui.runtime.bubblewrap import BubblewrapRuntime, _marker_of
from pynchy_tui.runtime.docker import DockerRuntime
from pynchy_tui.runtime.manager import RuntimeRefused, home_id, select_runtime
from pynchy_tui.state import containers
from tests.conftest import account_toml, wait_for
from tests.integration.conftest import (
    cancel_exec,
    every_toolbox_op,
    runtime_toml,
    streamed_exec,
    wait_until,
)

pytestmark = [pytest.mark.engine, pytest.mark.xdist_group("bwrap")]


def _tool_results(request: dict[str, Any]) -> list[str]:
    return [m["content"] for m in request["body"]["messages"] if m["role"] == "tool"]


def _gone(pid: int) -> bool:
    return _marker_of(pid) is None


async def test_available_says_which_bwrap_works(bwrap_rt: BubblewrapRuntime) -> None:
    ok, why = await bwrap_rt.available()
    assert ok and "bubblewrap" in why and "works" in why


async def test_missing_bwrap_says_how_to_get_it(tmp_path: Path) -> None:
    ok, why = await BubblewrapRuntime(bwrap=str(tmp_path / "no-bwrap")).available()
    assert not ok and "does not run" in why


async def test_every_toolbox_op_and_warm_reuse(bwrap_rt: BubblewrapRuntime, make_spec) -> None:
    spec = make_spec(bwrap_rt)
    box = await bwrap_rt.start(spec)
    try:
        assert box.root == "/workspace"
        await every_toolbox_op(box, spec.workspace_dir)
        assert box.alive
    finally:
        await box.stop()


async def test_exec_output_streams_and_cancel_stops_the_command(
    bwrap_rt: BubblewrapRuntime, make_spec
) -> None:
    spec = make_spec(bwrap_rt)
    box = await bwrap_rt.start(spec)
    try:
        await streamed_exec(box, spec.workspace_dir)
        await cancel_exec(box)
    finally:
        await box.stop()


async def test_sandbox_has_its_own_namespaces_and_no_privileges(
    bwrap_rt: BubblewrapRuntime, make_spec
) -> None:
    spec = make_spec(bwrap_rt)
    box = await bwrap_rt.start(spec)
    try:
        with open(f"/proc/{box.proc.pid}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
        for flag in (b"--unshare-all", b"--die-with-parent", b"--new-session", b"--remount-ro"):
            assert flag in argv
        assert b"--share-net" not in argv
        r = await box.call(
            "exec",
            {
                "command": "id -u; hostname; grep -E '^(CapEff|NoNewPrivs)' /proc/self/status; "
                "ls /proc | grep -c '^[0-9]'; tail -n +3 /proc/net/dev | cut -d: -f1; "
                "touch /x /usr/x /opt/pynchy/toolbox/x 2>&1; ls /home /root 2>&1; "
                "echo tmp > /tmp/t && cat /tmp/t; echo home > ~/h && cat ~/h"
            },
        )
        out = r["stdout"]
        lines = out.splitlines()
        assert lines[0] != "0" and lines[1] == "pynchy-w"
        assert "CapEff:\t0000000000000000" in lines and "NoNewPrivs:\t1" in lines
        assert int(lines[4]) < 15  # a pid namespace of its own: only the sandbox's processes
        assert [x.strip() for x in lines[5:6]] == ["lo"]
        assert out.count("Read-only file system") == 3
        assert "agent" in out and "/root" in out  # /home holds only the private home; no /root
        assert "tmp\nhome\n" in out
    finally:
        await box.stop()
    assert await wait_until(lambda: _gone(box.proc.pid), 5, "bwrap to exit")


async def test_hibernate_after_idle_then_wake_with_files_intact(make_host) -> None:
    host = await make_host("[workspaces.w]\n" + runtime_toml("bubblewrap", idle_timeout="0.3s"))
    mgr = host.sandboxes
    with host.bus.subscribe(ContainerStateChanged) as sub:
        await mgr.call("w", "write", {"path": "keep.txt", "content": "kept across sleep"})
        first = mgr.sandbox("w")
        ev = await wait_for(sub, lambda e: e.workspace == "w" and e.state == "hibernated", 15)
    assert ev.runtime == "bubblewrap" and mgr.sandbox("w") is None
    assert first is not None and first.proc.returncode is not None  # really stopped
    row = {r["workspace"]: r for r in await host.store.call(containers.all_states)}["w"]
    assert row["state"] == "hibernated"
    r = await mgr.call("w", "read", {"path": "keep.txt"})
    assert r["content"] == "kept across sleep"
    assert mgr.sandbox("w").alive and mgr.sandbox("w").id != first.id


async def test_sandbox_killed_mid_exec_errors_clearly_and_next_call_starts_fresh(
    make_host,
) -> None:
    host = await make_host("[workspaces.w]\n" + runtime_toml("bubblewrap"))
    mgr = host.sandboxes
    box = await mgr.ensure("w")
    started = asyncio.Event()
    with host.bus.subscribe(ContainerStateChanged) as sub:
        task = asyncio.create_task(
            mgr.call(
                "w",
                "exec",
                {"command": "echo started; sleep 60", "timeout": 90},
                lambda s, d: started.set(),
                tool="bash",
            )
        )
        await asyncio.wait_for(started.wait(), 15)
        os.kill(box.proc.pid, signal.SIGKILL)
        with pytest.raises(SandboxDied) as err:
            await asyncio.wait_for(task, 15)
        ev = await wait_for(sub, lambda e: e.state == "error", 10)
    assert "SIGKILL" in str(err.value) and "SIGKILL" in ev.detail
    r = await mgr.call("w", "exec", {"command": "echo fresh"})
    assert r["stdout"] == "fresh\n" and mgr.sandbox("w").id != box.id


async def test_agent_turn_in_bwrap_runs_bash_and_edit_file(make_host, scripted) -> None:
    server = scripted(
        [
            [{"tool": "bash", "args": {"command": "echo hi-from-bwrap > hello.txt; pwd"}}],
            [{"tool": "write_file", "args": {"path": "notes/todo.txt", "content": "milk\neggs\n"}}],
            [
                {
                    "tool": "edit_file",
                    "args": {"path": "notes/todo.txt", "old_string": "eggs", "new_string": "bread"},
                }
            ],
            [{"text": "done in bubblewrap"}],
        ]
    )
    host = await make_host(
        account_toml("acc", server) + "[workspaces.w]\n" + runtime_toml("bubblewrap")
    )
    with host.bus.subscribe(TurnFinished) as sub:
        await host.submit("w", "make the list")
        done = await wait_for(sub, lambda e: e.workspace == "w", 60)
    assert done.status == "done", done.error
    ws = host.workspace_dir("w")
    assert (ws / "hello.txt").read_text() == "hi-from-bwrap\n"
    assert (ws / "notes" / "todo.txt").read_text() == "milk\nbread\n"
    results = _tool_results(server.requests[-1])
    assert results[0].startswith("/workspace") and "1 replacement" in results[2]
    assert host.sandboxes.sandbox("w").runtime == "bubblewrap"


async def test_agent_sees_a_clear_tool_error_when_the_sandbox_dies(make_host, scripted) -> None:
    server = scripted(
        [
            [{"tool": "bash", "args": {"command": "echo started; sleep 60"}}],
            [{"tool": "bash", "args": {"command": "echo after-the-crash"}}],
            [{"text": "recovered"}],
        ]
    )
    host = await make_host(
        account_toml("acc", server) + "[workspaces.w]\n" + runtime_toml("bubblewrap")
    )
    with host.bus.subscribe(ToolOutput, TurnFinished) as sub:
        await host.submit("w", "go")
        await wait_for(sub, lambda e: isinstance(e, ToolOutput) and "started" in e.data, 30)
        os.kill(host.sandboxes.sandbox("w").proc.pid, signal.SIGKILL)
        done = await wait_for(sub, lambda e: isinstance(e, TurnFinished), 60)
    assert done.status == "done", done.error
    results = _tool_results(server.requests[-1])
    assert "sandbox stopped" in results[0] and "SIGKILL" in results[0]
    assert "after-the-crash" in results[1]


REPO = Path(pynchy_tui.__file__).resolve().parents[1]  # the child imports this tree
CHILD = textwrap.dedent(
    """
    import asyncio
    from pynchy_tui.config import load_config, resolve_paths
    from pynchy_tui.host.host import Host

    async def main():
        paths = resolve_paths()
        host = Host(load_config(paths.config_file), paths)
        await host.start()
        box = await host.sandboxes.ensure("w")
        await host.sandboxes.call("w", "exec", {"command": "sleep 3600 > /dev/null 2>&1 &"})
        print("ready", box.proc.pid, flush=True)
        await asyncio.sleep(3600)

    asyncio.run(main())
    """
)


async def test_host_crash_takes_its_sandboxes_along_and_restart_cleans_up(
    home: Path, make_host, make_spec, bwrap_rt: BubblewrapRuntime, tmp_path: Path
) -> None:
    config = "[workspaces.w]\n" + runtime_toml("bubblewrap")
    (home / "config.toml").write_text(config)
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    child = subprocess.Popen(
        [sys.executable, str(script)],
        env={**os.environ, "PYNCHY_HOME": str(home), "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = await asyncio.wait_for(asyncio.to_thread(child.stdout.readline), 60)  # type: ignore[union-attr]
        assert line.startswith("ready "), line
        pid = int(line.split()[1])
        assert not _gone(pid)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    # --die-with-parent: the sandbox (and the command it left in the background) die too.
    await wait_until(lambda: _gone(pid), 10, "the orphaned bwrap to die")
    # One that survived somehow (here: started by this test under the same home) is removed.
    mine = home_id(home / "data")
    spec = make_spec(bwrap_rt, workspace="w")
    spec.labels["pynchy.home"] = mine
    survivor = await bwrap_rt.start(spec)
    other = await bwrap_rt.start(make_spec(bwrap_rt, workspace="w"))  # another home: untouched
    try:
        host = await make_host(config)
        await wait_until(lambda: _gone(survivor.proc.pid), 10, "the survivor to be removed")
        assert other.alive

        async def none_left() -> bool:
            return [m for m in await bwrap_rt.list_managed() if m.home == mine] == []

        await wait_until(none_left, 10, "no sandbox of the crashed host to be left")
        r = await host.sandboxes.call("w", "exec", {"command": "echo works"})
        assert r["stdout"] == "works\n"
    finally:
        await other.stop()
        await survivor.stop()


async def test_memory_limit_refuses_a_hog_and_the_sandbox_survives(
    bwrap_rt: BubblewrapRuntime, make_spec
) -> None:
    box = await bwrap_rt.start(make_spec(bwrap_rt, limits=Limits(memory="256m", pids=64)))
    try:
        r = await box.call(
            "exec", {"command": "python3 -c 'b = bytearray(1 << 30); print(\"survived\")'"}
        )
        assert r["exit_code"] != 0 and "MemoryError" in r["stderr"]
        lim = await box.call("exec", {"command": "ulimit -d; ulimit -u"})
        assert lim["stdout"].split() == [str(256 * 1024), "64"]
        ok = await box.call("exec", {"command": "python3 -c 'b = bytearray(8 << 20); print(1)'"})
        assert ok["exit_code"] == 0
    finally:
        await box.stop()


async def test_auto_picks_bubblewrap_without_an_engine_else_refuses_with_a_way_out(
    tmp_path: Path, bwrap_rt: BubblewrapRuntime
) -> None:
    no_engine = DockerRuntime([(f"unix://{tmp_path}/none.sock", "test")])
    rt, why = await select_runtime("auto", False, {"docker": no_engine, "bubblewrap": bwrap_rt})
    assert rt is bwrap_rt and why.startswith("auto: bubblewrap")
    no_bwrap = BubblewrapRuntime(bwrap=str(tmp_path / "none"))
    with pytest.raises(RuntimeRefused) as err:
        await select_runtime("auto", False, {"docker": no_engine, "bubblewrap": no_bwrap})
    text = str(err.value)
    assert "Podman" in text and "bubblewrap" in text and "allow_unsandboxed" in text
    assert "none.sock" in text  # and what was tried


async def test_a_sandbox_that_dies_while_idle_is_noticed_and_replaced(make_host) -> None:
    host = await make_host("[workspaces.w]\n" + runtime_toml("bubblewrap", idle_timeout="60s"))
    box = await host.sandboxes.ensure("w")
    with host.bus.subscribe(ContainerStateChanged) as sub:
        os.kill(box.proc.pid, signal.SIGKILL)
        ev = await wait_for(sub, lambda e: e.workspace == "w", 10)  # the stats loop sees it
    assert ev.state == "error" and host.sandboxes.sandbox("w") is None
    r = await host.sandboxes.call("w", "exec", {"command": "echo back"})
    assert r["stdout"] == "back\n" and host.sandboxes.sandbox("w").id != box.id


async def test_stats_are_published_for_running_sandboxes(make_host) -> None:
    from pynchy_tui.events import ContainerStats

    host = await make_host("[workspaces.w]\n" + runtime_toml("bubblewrap"))
    await host.sandboxes.call(
        "w",
        "exec",
        {"command": "nice -n 19 timeout 8 sh -c 'while :; do :; done' > /dev/null 2>&1 &"},
        tool="bash",
    )
    with host.bus.subscribe(ContainerStats) as sub:
        ev = await wait_for(sub, lambda e: e.workspace == "w" and e.cpu_percent > 20, 15)
    await host.sandboxes.call("w", "exec", {"command": "pkill -f 'while :' || true"})
    assert ev.runtime == "bubblewrap" and ev.memory_bytes > 1 << 20  # type: ignore[union-attr]
    assert ev.last_tool == "bash"  # type: ignore[union-attr]
