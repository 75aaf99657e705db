"""Escape attempts from inside a sandbox, for each isolating runtime. Each must fail: reading a
host file that was not mounted, writing outside /workspace, following a symlink out of the
workspace, reaching the network with network = "none", seeing a host environment secret, and
getting a refused path mounted through the allowlist."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pynchy_tui.events import Notice
from pynchy_tui.runtime.base import Mount, ToolboxError
from pynchy_tui.runtime.toolbox_path import toolbox_script
from tests.integration.conftest import runtime_toml

# The docker cases share the engine: keep this module on one xdist worker.
pytestmark = [pytest.mark.engine, pytest.mark.xdist_group("engine")]

RUNTIMES = ["docker", "bubblewrap"]


async def _sh(box: Any, command: str) -> dict[str, Any]:
    return await box.call("exec", {"command": command, "timeout": 30})


async def _escape_code(box: Any, op: str, args: dict[str, Any]) -> str:
    with pytest.raises(ToolboxError) as err:
        await box.call(op, args)
    return err.value.code


@pytest.fixture
def host_secret(tmp_path: Path) -> tuple[Path, str]:
    token = "HOST-SECRET-" + uuid.uuid4().hex
    d = tmp_path / "host-only"
    d.mkdir()
    (d / "secret.txt").write_text(token + "\n")
    return d / "secret.txt", token


async def test_cannot_read_a_host_file_that_was_not_mounted(
    any_rt: Any, make_spec, host_secret: tuple[Path, str]
) -> None:
    secret, token = host_secret
    box = await any_rt.start(make_spec(any_rt))
    try:
        r = await _sh(
            box,
            f"cat {secret}; ls {secret.parent}; cat /proc/1/root{secret}; "
            f"cat /proc/self/root{secret}; ls /proc/1/cwd/..; echo end",
        )
        assert token not in r["stdout"] + r["stderr"]
        assert r["stdout"].rstrip().endswith("end") and "No such file" in r["stderr"]
        assert await _escape_code(box, "read", {"path": str(secret)}) == "path_escape"
        assert await _escape_code(box, "read", {"path": "../" * 12 + str(secret)}) == (
            "path_escape"
        )
    finally:
        await box.stop()


async def test_cannot_write_outside_the_workspace(any_rt: Any, make_spec, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    target = outside / "escaped.txt"
    box = await any_rt.start(make_spec(any_rt))
    try:
        r = await _sh(
            box,
            f"mkdir -p {outside}; echo pwned > {target}; "
            "for p in /etc /usr /opt/pynchy/toolbox / /var; do "
            "  touch $p/pwned 2>/dev/null && echo WROTE $p; done; echo end",
        )
        assert "WROTE" not in r["stdout"] and r["stdout"].endswith("end\n")
        assert await _escape_code(box, "write", {"path": str(target), "content": "x"}) == (
            "path_escape"
        )
        code = await _escape_code(box, "write", {"path": "../escaped.txt", "content": "x"})
        assert code == "path_escape"
    finally:
        await box.stop()
    # Whatever the commands managed inside (a private /tmp), nothing reached the host.
    assert not target.exists() and list(outside.iterdir()) == []
    assert not (toolbox_script().parent / "pwned").exists()
    assert not (tmp_path / "escaped.txt").exists()


async def test_cannot_follow_a_symlink_out_of_the_workspace(
    any_rt: Any, make_spec, host_secret: tuple[Path, str]
) -> None:
    secret, token = host_secret
    spec = make_spec(any_rt)
    ws = spec.workspace_dir
    (ws / "out").symlink_to(secret.parent)  # planted on the host
    (ws / "direct").symlink_to(secret)
    box = await any_rt.start(spec)
    try:
        for path in ("out/secret.txt", "direct"):
            assert await _escape_code(box, "read", {"path": path}) == "path_escape"
        code = await _escape_code(box, "write", {"path": "out/planted.txt", "content": "x"})
        assert code == "path_escape"
        code = await _escape_code(box, "edit", {"path": "direct", "old": "H", "new": "h"})
        assert code == "path_escape"
        r = await _sh(box, "cat out/secret.txt direct; ln -s / rootlink; echo end")
        assert token not in r["stdout"] and r["stdout"].endswith("end\n")
        # A link made inside the sandbox does not open the host either.
        assert await _escape_code(box, "read", {"path": "rootlink/etc/hostname"}) == ("path_escape")
        r = await _sh(box, f"cat rootlink{secret} 2>&1; echo end")
        assert token not in r["stdout"]
        g = await box.call("glob", {"pattern": "**/*"})
        assert all("secret" not in m for m in g["matches"])
        gr = await box.call("grep", {"pattern": "HOST-SECRET"})
        assert gr["matches"] == []
    finally:
        await box.stop()
    assert not (secret.parent / "planted.txt").exists()
    assert secret.read_text() == token + "\n"


def _host_ips() -> list[str]:
    ips = {"127.0.0.1"}
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.255.255.255", 1))  # no packet is sent: it only picks a route
            ips.add(s.getsockname()[0])
        except OSError:
            pass
    return sorted(ips)


PROBE = """
import json, socket, sys
out = {}
for host, port in json.loads(sys.argv[1]):
    try:
        socket.create_connection((host, port), 3).close()
        out[f"{host}:{port}"] = "connected"
    except OSError as exc:
        out[f"{host}:{port}"] = type(exc).__name__ + ": " + str(exc)
try:
    socket.getaddrinfo("example.com", 80)
    out["dns"] = "resolved"
except OSError as exc:
    out["dns"] = str(exc)
print(json.dumps(out))
"""


@pytest.mark.parametrize("network", ["none", "full"])
async def test_network_none_reaches_nothing(any_rt: Any, make_spec, network: str) -> None:
    """With network = "none" nothing on the host or beyond answers; "full" is the control that
    shows the probe can succeed at all."""
    accepted: list[str] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(str(writer.get_extra_info("peername")))
        writer.close()

    server = await asyncio.start_server(handle, "0.0.0.0", 0)
    port = server.sockets[0].getsockname()[1]
    targets = [[ip, port] for ip in _host_ips()] + [["1.1.1.1", 53], ["8.8.8.8", 53]]
    box = await any_rt.start(make_spec(any_rt, network=network))
    try:
        await box.call("write", {"path": "probe.py", "content": PROBE})
        r = await _sh(box, f"python3 probe.py '{json.dumps(targets)}'; cat /proc/net/dev")
        result = json.loads(r["stdout"].splitlines()[0])
        interfaces = [
            line.split(":")[0].strip() for line in r["stdout"].splitlines()[3:] if ":" in line
        ]
    finally:
        await box.stop()
        server.close()
        await server.wait_closed()
    host_ip_keys = [f"{ip}:{port}" for ip in _host_ips()]
    if network == "none":
        assert all(v != "connected" for v in result.values()), result
        assert result["dns"] != "resolved"
        assert accepted == []
        assert interfaces == ["lo"]
    else:
        assert any(result[k] == "connected" for k in host_ip_keys), result
        assert accepted


@pytest.mark.parametrize("runtime", RUNTIMES)
async def test_no_host_secret_reaches_the_sandbox_environment(
    runtime: str,
    require_runtime: Callable[[str], str],
    host_secret_env: dict[str, str],
    make_host,
) -> None:
    require_runtime(runtime)
    host = await make_host("[workspaces.w]\n" + runtime_toml(runtime))
    r = await host.sandboxes.call(
        "w",
        "exec",
        {"command": "env; for f in /proc/[0-9]*/environ; do tr '\\0' '\\n' < $f; done"},
    )
    seen = r["stdout"] + r["stderr"]
    assert "PYNCHY_WORKSPACE=w" in seen  # the probe did read the environment
    for name, value in host_secret_env.items():
        assert value not in seen and f"{name}=" not in seen


@pytest.mark.parametrize("runtime", RUNTIMES)
async def test_refused_paths_are_not_mounted_even_when_allowlisted(
    runtime: str,
    require_runtime: Callable[[str], str],
    make_host,
    home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    require_runtime(runtime)
    token = "KEY-" + uuid.uuid4().hex
    fake_home = tmp_path / "person"
    for sub, name in ((".ssh", "id_ed25519"), (".aws", "credentials"), (".gnupg", "secring")):
        (fake_home / sub).mkdir(parents=True)
        (fake_home / sub / name).write_text(token)
    (fake_home / "looks-harmless").symlink_to(fake_home / ".ssh")
    monkeypatch.setenv("HOME", str(fake_home))
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "data.txt").write_text("shared data\n")
    sock = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock").removeprefix("unix://")
    entries = [
        ("~/.ssh", "/mnt/ssh"),
        ("~/.aws", "/mnt/aws"),
        ("~/.gnupg", "/mnt/gnupg"),
        ("~/looks-harmless", "/mnt/harmless"),
        ("~", "/mnt/home"),
        (str(home / "data"), "/mnt/pynchy-data"),
        (str(home / "data" / "workspaces"), "/mnt/workspaces"),
        (str(home), "/mnt/pynchy-config"),
        (sock, "/mnt/engine.sock"),
        ("/var/run/docker.sock", "/mnt/docker.sock"),
        (str(shared), "/mnt/shared"),  # the one allowed entry
    ]
    (home / "mount-allowlist.toml").write_text(
        "".join(f'[[mount]]\npath = "{p}"\ncontainer_path = "{c}"\n\n' for p, c in entries)
    )
    host = await make_host("[workspaces.w]\n" + runtime_toml(runtime))
    with host.bus.subscribe(Notice) as sub:
        r = await host.sandboxes.call(
            "w",
            "exec",
            {
                "command": "ls /mnt; cat /mnt/shared/data.txt; touch /mnt/shared/new 2>&1; "
                "find / -xdev \\( -name id_ed25519 -o -name credentials -o -name secring "
                "-o -name 'pynchy.db' -o -name '*.sock' \\) 2>/dev/null; echo end"
            },
        )
        notices = []
        while (e := sub.get_nowait()) is not None:
            notices.append(e.text)  # type: ignore[union-attr]
    out = r["stdout"]
    lines = out.splitlines()
    assert lines[0] == "shared" and lines[1] == "shared data"
    assert "Read-only file system" in out  # allowed mounts are read-only by default
    assert lines[-1] == "end" and len(lines) == 4  # find found nothing
    assert token not in out
    refused = [n for n in notices if "mount not allowed" in n]
    assert len(refused) == len(entries) - 1, notices
    assert all("refused" in n for n in refused)
    # And a runtime refuses such a mount even if a caller skipped the allowlist.
    rt = host.sandboxes.runtimes[runtime]
    spec = host.sandboxes.spec_for("w")
    bad = type(spec)(**{**spec.__dict__, "mounts": (Mount(fake_home / ".ssh", "/mnt/ssh"),)})
    with pytest.raises(PermissionError, match="refused"):
        await rt.start(bad)
