"""The docker runtime against the real engine (Podman behind the Docker API here, Docker Engine
elsewhere): every toolbox op over the attach stream, streaming, cancel, hardening, hibernate and
wake, a sandbox killed from outside, orphans after a host crash, limits, stats, an agent turn."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest

import pynchy_tui
from pynchy_tui.events import (
    ContainerStateChanged,
    ContainerStats,
    Notice,
    ToolOutput,
    TurnFinished,
)
from pynchy_tui.runtime.base import Limits, SandboxDied
from pynchy_tui.runtime.docker import DockerRuntime, container_name, engine_candidates
from pynchy_tui.runtime.manager import home_id, select_runtime
from pynchy_tui.state import containers
from tests.conftest import account_toml, wait_for
from tests.integration.conftest import (
    cancel_exec,
    every_toolbox_op,
    runtime_toml,
    streamed_exec,
)

# One worker runs every test here (make test: -n 2 --dist loadgroup): they share the engine.
pytestmark = [pytest.mark.engine, pytest.mark.xdist_group("engine")]


def _tool_results(request: dict[str, Any]) -> list[str]:
    return [m["content"] for m in request["body"]["messages"] if m["role"] == "tool"]


# -- finding the engine (no engine needed) ------------------------------------------------


def test_engine_candidates_docker_host_alone_else_the_usual_sockets() -> None:
    assert engine_candidates({"DOCKER_HOST": "unix:///x.sock"}) == [
        ("unix:///x.sock", "DOCKER_HOST")
    ]
    urls = [u for u, _ in engine_candidates({"XDG_RUNTIME_DIR": "/run/user/1234"})]
    assert urls == [
        "unix:///var/run/docker.sock",
        "unix:///run/podman/podman.sock",
        "unix:///run/user/1234/podman/podman.sock",
        "unix:///run/user/1234/docker.sock",
    ]


async def test_no_engine_says_where_it_looked(tmp_path: Path) -> None:
    rt = DockerRuntime([(f"unix://{tmp_path}/none.sock", "a test socket")])
    ok, why = await rt.available()
    assert not ok and f"{tmp_path}/none.sock" in why and "no socket" in why


# -- the real engine ----------------------------------------------------------------------


async def test_available_names_the_engine_and_socket(docker_rt: DockerRuntime) -> None:
    ok, why = await docker_rt.available()
    assert ok
    assert docker_rt.url and docker_rt.url in why
    assert ("Podman" in why or "Docker Engine" in why) and "found through" in why


async def test_every_toolbox_op_and_warm_reuse(docker_rt: DockerRuntime, make_spec) -> None:
    spec = make_spec(docker_rt)
    box = await docker_rt.start(spec)
    try:
        assert box.root == "/workspace" and box.alive
        await every_toolbox_op(box, spec.workspace_dir)
        assert box.alive  # one long-lived toolbox served every call
    finally:
        await box.stop()


async def test_exec_output_streams_and_cancel_stops_the_command(
    docker_rt: DockerRuntime, make_spec
) -> None:
    spec = make_spec(docker_rt)
    box = await docker_rt.start(spec)
    try:
        await streamed_exec(box, spec.workspace_dir)
        await cancel_exec(box)
    finally:
        await box.stop()


async def test_sandbox_is_hardened(docker_rt: DockerRuntime, make_spec) -> None:
    spec = make_spec(docker_rt, limits=Limits(cpus=0.5, memory="300m", pids=77))
    box = await docker_rt.start(spec)
    try:
        attrs = await asyncio.to_thread(docker_rt.client.api.inspect_container, box.id)
        hc = attrs["HostConfig"]
        assert hc["ReadonlyRootfs"] is True
        assert {c.upper().removeprefix("CAP_") for c in hc["CapDrop"]} >= {"ALL"} or len(
            hc["CapDrop"]
        ) > 10
        assert any("no-new-privileges" in o for o in hc["SecurityOpt"] or [])
        assert hc["NetworkMode"] == "none"
        assert hc["Memory"] == 300 * 1024 * 1024 and hc["NanoCpus"] == 500_000_000
        assert hc["PidsLimit"] == 77
        binds = " ".join(hc.get("Binds") or [])
        assert f"{spec.workspace_dir.resolve()}:/workspace" in binds
        assert "/opt/pynchy/toolbox:ro" in binds or "/opt/pynchy/toolbox:ro," in binds
        labels = attrs["Config"]["Labels"]
        assert labels["pynchy.managed"] == "true" and labels["pynchy.workspace"] == "w"
        assert attrs["Name"].lstrip("/") == container_name(spec)
        r = await box.call(
            "exec",
            {
                "command": "id -u; grep -E '^(CapEff|NoNewPrivs)' /proc/self/status; "
                "ls /opt/pynchy/toolbox; touch /opt/pynchy/toolbox/x 2>&1; touch /etc/x 2>&1"
            },
        )
        lines = r["stdout"].splitlines()
        assert lines[0] != "0"  # not root
        assert "CapEff:\t0000000000000000" in lines and "NoNewPrivs:\t1" in lines
        assert "toolbox.py" in lines
        assert r["stdout"].count("Read-only file system") == 2
    finally:
        await box.stop()


async def test_hibernate_after_idle_then_wake_with_files_intact(make_host, scripted) -> None:
    host = await make_host(
        "[workspaces.w]\n" + runtime_toml("docker", idle_timeout="0.5s", memory="256m")
    )
    mgr = host.sandboxes
    with host.bus.subscribe(ContainerStateChanged) as sub:
        await mgr.call("w", "write", {"path": "keep.txt", "content": "kept across sleep"})
        first = mgr.sandbox("w")
        assert first is not None
        ev = await wait_for(sub, lambda e: e.workspace == "w" and e.state == "hibernated", 15)
    assert ev.runtime == "docker" and mgr.sandbox("w") is None
    rt = mgr.runtimes["docker"]
    state = await asyncio.to_thread(rt.inspect_state, first.id)
    assert state["Running"] is False  # stopped, not removed
    row = {r["workspace"]: r for r in await host.store.call(containers.all_states)}["w"]
    assert row["state"] == "hibernated"
    with host.bus.subscribe(ContainerStateChanged) as sub:
        r = await mgr.call("w", "read", {"path": "keep.txt"})
        states = []
        while (e := sub.get_nowait()) is not None:
            states.append(e.state)  # type: ignore[union-attr]
    assert r["content"] == "kept across sleep"
    assert states[:2] == ["starting", "idle"]
    assert mgr.sandbox("w").id == first.id  # the same container woke up
    assert (host.workspace_dir("w") / "keep.txt").read_text() == "kept across sleep"


async def test_sandbox_killed_mid_exec_errors_clearly_and_next_call_starts_fresh(
    make_host,
) -> None:
    host = await make_host("[workspaces.w]\n" + runtime_toml("docker"))
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
        await mgr.runtimes["docker"].kill(box.id)
        with pytest.raises(SandboxDied) as err:
            await asyncio.wait_for(task, 15)
        ev = await wait_for(sub, lambda e: e.state == "error", 10)
    message = str(err.value)
    assert container_name(mgr.spec_for("w")) in message and "137" in message
    assert "killed" in message
    assert ev.workspace == "w" and "137" in ev.detail
    r = await mgr.call("w", "exec", {"command": "echo fresh"})
    assert r["stdout"] == "fresh\n"
    assert mgr.sandbox("w").id != box.id


async def test_agent_turn_in_docker_runs_bash_and_edit_file(make_host, scripted) -> None:
    server = scripted(
        [
            [{"tool": "bash", "args": {"command": "echo hi-from-docker > hello.txt; id -u; pwd"}}],
            [{"tool": "write_file", "args": {"path": "notes/todo.txt", "content": "milk\neggs\n"}}],
            [
                {
                    "tool": "edit_file",
                    "args": {"path": "notes/todo.txt", "old_string": "eggs", "new_string": "bread"},
                }
            ],
            [{"text": "done in the container"}],
        ]
    )
    host = await make_host(
        account_toml("acc", server) + "[workspaces.w]\n" + runtime_toml("docker")
    )
    with host.bus.subscribe(TurnFinished) as sub:
        await host.submit("w", "make the list")
        done = await wait_for(sub, lambda e: e.workspace == "w", 60)
    assert done.status == "done", done.error
    ws = host.workspace_dir("w")
    assert (ws / "hello.txt").read_text() == "hi-from-docker\n"
    assert (ws / "notes" / "todo.txt").read_text() == "milk\nbread\n"
    results = _tool_results(server.requests[-1])
    assert "/workspace" in results[0] and "[exit code 0]" in results[0]
    assert results[0].splitlines()[0] != "0"  # the agent is not root in the container
    assert "1 replacement" in results[2]
    assert host.sandboxes.sandbox("w").runtime == "docker"


async def test_agent_sees_a_clear_tool_error_when_the_sandbox_dies(make_host, scripted) -> None:
    server = scripted(
        [
            [{"tool": "bash", "args": {"command": "echo started; sleep 60"}}],
            [{"tool": "bash", "args": {"command": "echo after-the-crash"}}],
            [{"text": "recovered"}],
        ]
    )
    host = await make_host(
        account_toml("acc", server) + "[workspaces.w]\n" + runtime_toml("docker")
    )
    with host.bus.subscribe(ToolOutput, TurnFinished, ContainerStateChanged) as sub:
        await host.submit("w", "go")
        await wait_for(sub, lambda e: isinstance(e, ToolOutput) and "started" in e.data, 30)
        box = host.sandboxes.sandbox("w")
        await host.sandboxes.runtimes["docker"].kill(box.id)
        err = await wait_for(sub, lambda e: isinstance(e, ContainerStateChanged), 15)
        done = await wait_for(sub, lambda e: isinstance(e, TurnFinished), 60)
    assert err.state == "error"  # type: ignore[union-attr]
    assert done.status == "done", done.error
    results = _tool_results(server.requests[-1])
    assert "sandbox stopped" in results[0] and "137" in results[0]
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
        await host.sandboxes.call("w", "write", {"path": "left.txt", "content": "first run"})
        print("ready", box.id, flush=True)
        await asyncio.sleep(3600)

    asyncio.run(main())
    """
)


async def test_orphans_after_a_host_crash_are_adopted_or_removed(
    home: Path, make_host, make_spec, docker_rt: DockerRuntime, tmp_path: Path
) -> None:
    config = "[workspaces.w]\n" + runtime_toml("docker")
    (home / "config.toml").write_text(config)
    mine = home_id(home / "data")
    try:
        left = await _crash_a_host(home, tmp_path)
        await _restart_reconciles(mine, config, make_host, make_spec, docker_rt, left)
    finally:  # whatever happened, leave nothing of this home behind
        for m in await docker_rt.list_managed():
            if m.home == mine:
                await docker_rt.remove(m.id)


async def _crash_a_host(home: Path, tmp_path: Path) -> str:
    """A host in a child process starts the sandbox of w, then is killed with SIGKILL."""
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
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    assert line.startswith("ready "), line
    return line.split()[1]


async def _restart_reconciles(
    mine: str, config: str, make_host: Any, make_spec: Any, docker_rt: DockerRuntime, left: str
) -> None:
    # A sandbox for a workspace that no longer exists, and one of another pynchy home.
    ghost_spec = make_spec(docker_rt, workspace="ghost")
    ghost_spec.labels["pynchy.home"] = mine
    ghost = await docker_rt.start(ghost_spec)
    other = await docker_rt.start(make_spec(docker_rt, workspace="w"))
    await ghost.kill_stream()
    await other.kill_stream()

    host = await make_host(config)
    assert host.sandboxes.home == mine
    with pytest.raises(Exception, match=r"[Nn]o such|not found|404"):
        await asyncio.to_thread(docker_rt.client.api.inspect_container, ghost.id)
    assert await asyncio.to_thread(docker_rt.inspect_state, other.id)  # never touched
    row = {r["workspace"]: r for r in await host.store.call(containers.all_states)}["w"]
    assert row["state"] in ("idle", "hibernated") and "earlier run" in (row["detail"] or "")
    r = await host.sandboxes.call("w", "read", {"path": "left.txt"})
    assert r["content"] == "first run"
    assert host.sandboxes.sandbox("w").id == left  # adopted or woken, not replaced
    await host.stop()
    leftover = [m for m in await docker_rt.list_managed() if m.home == mine]
    assert leftover == []  # a clean stop leaves nothing behind


async def test_memory_hog_is_killed_at_the_limit_and_reported(make_host) -> None:
    host = await make_host("[workspaces.w]\n" + runtime_toml("docker", memory="96m"))
    mgr = host.sandboxes
    with host.bus.subscribe(Notice) as sub:
        r = await mgr.call(
            "w",
            "exec",
            {"command": "python3 -c 'b = bytearray(400 * 1024 * 1024); print(\"survived\")'"},
            tool="bash",
        )
        notice = await wait_for(sub, lambda e: "memory limit" in e.text, 5)
    assert r["exit_code"] in (-9, 137) and "survived" not in r["stdout"]
    assert r.get("oom_killed") is True and "out-of-memory killer" in r["stderr"]
    assert "96m" in notice.text and notice.workspace == "w"  # type: ignore[union-attr]
    # The toolbox itself survived; the sandbox keeps working.
    assert (await mgr.call("w", "exec", {"command": "echo alive"}))["stdout"] == "alive\n"
    # A command under the limit is fine.
    ok = await mgr.call("w", "exec", {"command": "python3 -c 'b = bytearray(8 << 20); print(1)'"})
    assert ok["exit_code"] == 0 and not ok.get("oom_killed")


async def test_stats_are_published_for_running_sandboxes(make_host) -> None:
    host = await make_host("[workspaces.w]\n" + runtime_toml("docker", cpus=0.5))
    await host.sandboxes.call(
        "w",
        "exec",
        {"command": "nice -n 19 timeout 8 sh -c 'while :; do :; done' > /dev/null 2>&1 &"},
        tool="bash",
    )
    with host.bus.subscribe(ContainerStats) as sub:
        ev = await wait_for(sub, lambda e: e.workspace == "w" and e.cpu_percent > 20, 15)
    await host.sandboxes.call("w", "exec", {"command": "pkill -f 'while :' || true"})
    assert ev.runtime == "docker" and ev.memory_bytes > 1 << 20  # type: ignore[union-attr]
    assert ev.uptime_s > 0 and ev.last_tool == "bash"  # type: ignore[union-attr]


async def test_image_rebuilds_only_when_the_build_context_changes(
    docker_rt: DockerRuntime, tmp_path: Path
) -> None:
    from pynchy_tui.runtime.image import HASH_LABEL, ensure_image
    from pynchy_tui.runtime.toolbox_path import container_dir

    ctx = tmp_path / "ctx"
    shutil.copytree(container_dir(), ctx, ignore=shutil.ignore_patterns("__pycache__"))
    tag = f"pynchy-agent:rebuild-{uuid.uuid4().hex[:8]}"
    client = docker_rt.client

    def ensure() -> tuple[str, bool, str]:
        return ensure_image(client, tag, context=ctx)

    try:
        _image_id, built, digest = await asyncio.to_thread(ensure)
        assert built and client.images.get(tag).labels[HASH_LABEL] == digest
        assert (await asyncio.to_thread(ensure))[1] is False
        (ctx / "toolbox" / "toolbox.py").write_text("# changed: mounted, so no rebuild\n")
        assert (await asyncio.to_thread(ensure))[1] is False
        with (ctx / "Dockerfile").open("a") as f:
            f.write("\n# a change to the build context\n")
        _id2, built2, digest2 = await asyncio.to_thread(ensure)
        assert built2 and digest2 != digest
        assert (await asyncio.to_thread(ensure))[1] is False
    finally:
        await asyncio.to_thread(client.images.remove, tag, force=True)


async def test_auto_picks_docker_and_doctor_says_why(docker_rt: DockerRuntime, home: Path) -> None:
    from pynchy_tui.runtime.bubblewrap import BubblewrapRuntime

    rt, why = await select_runtime(
        "auto", False, {"docker": docker_rt, "bubblewrap": BubblewrapRuntime()}
    )
    assert rt is docker_rt and why.startswith("auto: docker (") and docker_rt.url in why
    (home / "config.toml").write_text('[runtime]\nruntime = "auto"\n')
    r = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "pynchy_tui", "doctor"],
        env={**os.environ, "PYNCHY_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    lines = r.stdout.splitlines()
    selected = next(x for x in lines if "selected runtime" in x)
    assert "[ ok ]" in selected and "auto: docker" in selected and docker_rt.url in selected
    assert any("runtime docker" in x and "[ ok ]" in x for x in lines)


async def test_a_sandbox_that_dies_while_idle_is_noticed_and_replaced(make_host) -> None:
    host = await make_host("[workspaces.w]\n" + runtime_toml("docker", idle_timeout="60s"))
    box = await host.sandboxes.ensure("w")
    with host.bus.subscribe(ContainerStateChanged) as sub:
        await host.sandboxes.runtimes["docker"].kill(box.id)
        ev = await wait_for(sub, lambda e: e.workspace == "w", 10)  # the stats loop sees it
    assert ev.state == "error" and host.sandboxes.sandbox("w") is None
    r = await host.sandboxes.call("w", "exec", {"command": "echo back"})
    # A fresh sandbox answers; the engine may reuse the stopped container's id (files kept).
    fresh = host.sandboxes.sandbox("w")
    assert r["stdout"] == "back\n" and fresh is not box and fresh.alive


async def test_adopt_reattaches_to_a_running_sandbox(docker_rt: DockerRuntime, make_spec) -> None:
    """What a restarted host does with a container Docker Engine kept running."""
    spec = make_spec(docker_rt)
    first = await docker_rt.start(spec)
    try:
        await first.call("write", {"path": "a.txt", "content": "from before"})
        found = [m for m in await docker_rt.list_managed() if m.id == first.id]
        assert len(found) == 1 and found[0].running and found[0].workspace == "w"
        again = await docker_rt.adopt(found[0], spec)
        assert again is not None and again.id == first.id
        assert (await again.call("read", {"path": "a.txt"}))["content"] == "from before"
        changed = make_spec(docker_rt, limits=Limits(cpus=0.25, memory="128m", pids=10))
        assert await docker_rt.adopt(found[0], changed) is None  # a spec change: no adoption
        await again.kill_stream()
    finally:
        await first.stop()
