"""The `process` runtime: the toolbox as a plain local subprocess. NO isolation.

Only used when the user opts in (`runtime = "process"` and `allow_unsandboxed = true`); the UI
marks such sandboxes UNSANDBOXED. The environment is scrubbed so no host secret is inherited.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from typing import Any

from pynchy_tui.runtime.base import OutputCallback, SandboxSpec
from pynchy_tui.runtime.toolbox_client import MAX_LINE, ToolboxClient
from pynchy_tui.runtime.toolbox_path import toolbox_script

SAFE_ENV = ("PATH", "LANG", "LC_ALL", "TERM", "TZ")


def scrubbed_env(spec: SandboxSpec) -> dict[str, str]:
    env = {k: os.environ[k] for k in SAFE_ENV if k in os.environ}
    env["HOME"] = str(spec.workspace_dir)
    env["PYNCHY_WORKSPACE"] = spec.workspace
    env.update(spec.env)
    return env


class ProcessSandbox:
    runtime = "process"

    def __init__(self, proc: asyncio.subprocess.Process, spec: SandboxSpec) -> None:
        assert proc.stdout is not None and proc.stdin is not None
        self.proc = proc
        self.id = f"pid-{proc.pid}"
        self.root = str(spec.workspace_dir)
        self.client = ToolboxClient(proc.stdout, proc.stdin, spec.workspace)

    @property
    def alive(self) -> bool:
        return self.proc.returncode is None and self.client.alive

    async def call(
        self, op: str, args: dict[str, Any], on_output: OutputCallback | None = None
    ) -> dict[str, Any]:
        return await self.client.call(op, args, on_output)

    async def stop(self) -> None:
        await self.client.close()
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 3)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                await self.proc.wait()


class ProcessRuntime:
    name = "process"
    isolated = False

    async def available(self) -> tuple[bool, str]:
        return True, "always available, but runs tools on the host with no isolation"

    async def start(self, spec: SandboxSpec) -> ProcessSandbox:
        spec.workspace_dir.mkdir(parents=True, exist_ok=True)
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            str(toolbox_script()),
            "--root",
            str(spec.workspace_dir),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            cwd=str(spec.workspace_dir),
            env=scrubbed_env(spec),
            start_new_session=True,
            limit=MAX_LINE,
        )
        sandbox = ProcessSandbox(proc, spec)
        await sandbox.call("hello", {})
        return sandbox

    async def list_managed(self) -> list[str]:
        return []

    async def remove(self, sandbox_id: str) -> None:
        return None
