"""Fixtures for the isolating runtimes: the real engine (Docker Engine or Podman) and real bwrap.

`require_runtime(name)` is the one place that decides what happens when a runtime is missing:
under CI (env CI set) the test FAILS; elsewhere it is skipped with the reason. The agent image
is built (or found up to date) once per session.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import textwrap
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pynchy_tui.runtime.base import (
    LABEL_HOME,
    LABEL_MANAGED,
    LABEL_WORKSPACE,
    Limits,
    SandboxSpec,
)
from tests.conftest import engine_required

_probed: dict[str, tuple[bool, str]] = {}


def _run(make_coro: Callable[[], Any]) -> Any:
    """Run a coroutine to completion on a loop of its own (callers may be inside one)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(make_coro())).result()


def _probe(name: str) -> tuple[bool, str]:
    if name == "docker":
        from pynchy_tui.runtime.docker import DockerRuntime
        from pynchy_tui.runtime.image import ensure_image

        rt = DockerRuntime()
        ok, why = _run(rt.available)
        if not ok:
            return False, why
        try:
            image_id, _built, _digest = ensure_image(rt.client, "pynchy-agent:latest")
        except Exception as exc:
            return False, f"the agent image does not build ({exc}); set PYNCHY_BASE_IMAGE?"
        return True, f"{why}; image {image_id[:19]}"
    if name == "bubblewrap":
        from pynchy_tui.runtime.bubblewrap import BubblewrapRuntime

        return _run(BubblewrapRuntime().available)
    raise ValueError(name)


@pytest.fixture(scope="session")
def require_runtime() -> Callable[[str], str]:
    """require_runtime("docker" | "bubblewrap") -> why it is usable; fails under CI, skips
    elsewhere, when it is not."""

    def require(name: str) -> str:
        if name not in _probed:
            _probed[name] = _probe(name)
        ok, why = _probed[name]
        if not ok:
            if engine_required():
                pytest.fail(f"CI needs the {name} runtime, which is unusable: {why}", False)
            pytest.skip(f"the {name} runtime is unusable here: {why}")
        return why

    return require


@pytest.fixture
def docker_rt(require_runtime: Callable[[str], str]) -> Any:
    from pynchy_tui.runtime.docker import DockerRuntime

    require_runtime("docker")
    return DockerRuntime()


@pytest.fixture
def bwrap_rt(require_runtime: Callable[[str], str]) -> Any:
    from pynchy_tui.runtime.bubblewrap import BubblewrapRuntime

    require_runtime("bubblewrap")
    return BubblewrapRuntime()


@pytest.fixture(params=["docker", "bubblewrap"])
def any_rt(request: pytest.FixtureRequest, require_runtime: Callable[[str], str]) -> Any:
    """Each isolating runtime in turn."""
    from pynchy_tui.runtime.bubblewrap import BubblewrapRuntime
    from pynchy_tui.runtime.docker import DockerRuntime

    require_runtime(request.param)
    return DockerRuntime() if request.param == "docker" else BubblewrapRuntime()


@pytest.fixture
async def make_spec(tmp_path: Path) -> AsyncIterator[Callable[..., SandboxSpec]]:
    """SandboxSpecs under a home label of their own; every sandbox of that home is removed
    afterwards, whichever runtime started it."""
    home = "t" + uuid.uuid4().hex[:15]
    used: list[Any] = []

    def make(rt: Any, workspace: str = "w", **kw: Any) -> SandboxSpec:
        if rt not in used:
            used.append(rt)
        ws_dir = kw.pop("workspace_dir", None) or tmp_path / f"ws-{workspace}"
        ws_dir.mkdir(parents=True, exist_ok=True)
        return SandboxSpec(
            workspace=workspace,
            workspace_dir=ws_dir,
            labels={LABEL_MANAGED: "true", LABEL_WORKSPACE: workspace, LABEL_HOME: home},
            limits=kw.pop("limits", Limits(cpus=1.0, memory="512m", pids=256)),
            **kw,
        )

    make.home = home  # type: ignore[attr-defined]
    yield make
    for rt in used:
        with contextlib.suppress(Exception):
            for found in await rt.list_managed():
                if found.home == home:
                    await rt.remove(found.id)


def runtime_toml(runtime: str, idle_timeout: str = "0s", **extra: Any) -> str:
    lines = [f"{k} = {v!r}".replace("'", '"') for k, v in extra.items()]
    return (
        textwrap.dedent(
            f"""
        [runtime]
        runtime = "{runtime}"
        idle_timeout = "{idle_timeout}"
        """
        )
        + "\n".join(lines)
        + '\n[limits]\nretry_base_delay = "0.01s"\n'
    )


async def wait_until(predicate: Callable[[], Any], timeout: float = 15.0, what: str = "") -> Any:
    """Poll `predicate` (sync or async) until it returns something truthy."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        await asyncio.sleep(0.05)


async def every_toolbox_op(box: Any, host_dir: Path) -> None:
    """Each toolbox op once through a live sandbox, checked against the host's view."""
    hello = await box.call("hello", {})
    assert hello["root"] == "/workspace" and hello["protocol"] == 1
    (host_dir / "from-host.txt").write_text("written on the host\n")
    r = await box.call("exec", {"command": "pwd; cat from-host.txt; echo oops >&2; exit 3"})
    assert r["stdout"] == "/workspace\nwritten on the host\n"
    assert r["stderr"] == "oops\n" and r["exit_code"] == 3
    w = await box.call("write", {"path": "src/app.py", "content": "def main():\n    return 1\n"})
    assert w["created"] is True
    assert (host_dir / "src" / "app.py").read_text() == "def main():\n    return 1\n"
    e = await box.call("edit", {"path": "src/app.py", "old": "return 1", "new": "return 42"})
    assert e["replacements"] == 1
    assert "return 42" in (host_dir / "src" / "app.py").read_text()
    rd = await box.call("read", {"path": "src/app.py"})
    assert rd["content"] == "def main():\n    return 42\n" and rd["total_lines"] == 2
    ls = await box.call("ls", {"path": "."})
    assert {(x["name"], x["type"]) for x in ls["entries"]} >= {
        ("src", "dir"),
        ("from-host.txt", "file"),
    }
    g = await box.call("glob", {"pattern": "**/*.py"})
    assert g["matches"] == ["src/app.py"]
    gr = await box.call("grep", {"pattern": r"return \d+"})
    assert gr["matches"] == [{"path": "src/app.py", "line": 2, "text": "    return 42"}]
    st = await box.call("stat", {"path": "src/app.py"})
    assert (
        st["exists"] and st["type"] == "file" and st["size"] == len("def main():\n    return 42\n")
    )
    missing = await box.call("stat", {"path": "nope"})
    assert missing["exists"] is False
    c = await box.call("cancel", {"target": "no-such-call"})
    assert c == {"cancelled": False}


async def streamed_exec(box: Any, host_dir: Path) -> None:
    """Output arrives while the command still runs: the command waits for a file the test
    creates only after it has seen the first line."""
    seen: list[tuple[str, str]] = []
    first = asyncio.Event()

    def on_output(stream: str, data: str) -> None:
        seen.append((stream, data))
        if "first" in data:
            first.set()

    command = "echo first; while [ ! -e go ]; do sleep 0.02; done; echo second; echo err >&2"
    task = asyncio.create_task(box.call("exec", {"command": command, "timeout": 30}, on_output))
    await asyncio.wait_for(first.wait(), 15)
    assert not task.done()  # it is still waiting for us
    (host_dir / "go").write_text("")
    r = await asyncio.wait_for(task, 15)
    assert r["exit_code"] == 0 and r["stdout"] == "first\nsecond\n"
    assert "".join(d for s, d in seen if s == "stdout") == "first\nsecond\n"
    assert "".join(d for s, d in seen if s == "stderr") == "err\n"


async def cancel_exec(box: Any) -> None:
    """Cancelling the call stops the command inside the sandbox; the sandbox stays usable."""
    started = asyncio.Event()
    task = asyncio.create_task(
        box.call(
            "exec",
            {"command": "echo started; exec sleep 41", "timeout": 60},
            lambda s, d: started.set(),
        )
    )
    await asyncio.wait_for(started.wait(), 15)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    async def gone() -> bool:
        r = await box.call("exec", {"command": "ps -eo args | grep -c '^sleep 41' || true"})
        return r["stdout"].strip() == "0"

    await wait_until(gone, 10, "the cancelled command to die")
    assert (await box.call("exec", {"command": "echo still here"}))["stdout"] == "still here\n"


@pytest.fixture
def host_secret_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    secrets = {
        "ANTHROPIC_API_KEY": "sk-ant-host-secret-" + uuid.uuid4().hex,
        "OPENAI_API_KEY": "sk-openai-host-secret-" + uuid.uuid4().hex,
        "AWS_SECRET_ACCESS_KEY": "aws-host-secret-" + uuid.uuid4().hex,
        "PYNCHY_TEST_SECRET": "pynchy-host-secret-" + uuid.uuid4().hex,
    }
    for k, v in secrets.items():
        monkeypatch.setenv(k, v)
    yield secrets
