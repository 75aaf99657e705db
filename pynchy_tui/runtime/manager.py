"""One long-lived sandbox per active workspace: started on first need, reused warm, stopped
after the idle timeout (files stay on disk), restarted fresh after it dies."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pynchy_tui.bus import Bus
from pynchy_tui.config.models import Config
from pynchy_tui.events import ContainerStateChanged
from pynchy_tui.runtime.base import Limits, OutputCallback, Sandbox, SandboxDied, SandboxSpec
from pynchy_tui.state import containers
from pynchy_tui.state.db import Store

log = logging.getLogger(__name__)

HOW_TO_GET_ONE = (
    "no isolating runtime is available. Install Docker Engine or Podman (and start it, e.g. "
    "`systemctl --user start podman.socket`), or bubblewrap (`apt install bubblewrap`). "
    'To run tools on this machine without isolation, set runtime = "process" and '
    "allow_unsandboxed = true in [runtime] of config.toml."
)


class RuntimeRefused(Exception):
    """No runtime may run this workspace's tools; the message says how to fix that."""


async def select_runtime(
    wanted: str, allow_unsandboxed: bool, runtimes: dict[str, Any]
) -> tuple[Any, str]:
    """The runtime to use and why; raises RuntimeRefused with the way out."""
    if wanted == "auto":
        tried = []
        for name in ("docker", "bubblewrap"):
            rt = runtimes.get(name)
            if rt is None:
                tried.append(f"{name}: not installed")
                continue
            ok, why = await rt.available()
            if ok:
                return rt, f"auto: {name} ({why})"
            tried.append(f"{name}: {why}")
        raise RuntimeRefused(HOW_TO_GET_ONE + " [" + "; ".join(tried) + "]")
    rt = runtimes.get(wanted)
    if rt is None:
        raise RuntimeRefused(f"runtime {wanted!r} is not available in this pynchy install")
    if not rt.isolated and not allow_unsandboxed:
        raise RuntimeRefused(
            f"runtime {wanted!r} has no isolation; set allow_unsandboxed = true in [runtime] "
            "to accept that, or use docker or bubblewrap"
        )
    ok, why = await rt.available()
    if not ok:
        raise RuntimeRefused(f"runtime {wanted!r} is not usable: {why}")
    return rt, f"{wanted} ({why})"


class SandboxManager:
    def __init__(
        self,
        config: Config,
        store: Store,
        bus: Bus,
        runtimes: dict[str, Any],
        workspace_dir: Callable[[str], Path],
        workspace_id: Callable[[str], int | None],
    ) -> None:
        self.config = config
        self.store = store
        self.bus = bus
        self.runtimes = runtimes
        self.workspace_dir = workspace_dir
        self.workspace_id = workspace_id
        self._boxes: dict[str, Sandbox] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._idle: dict[str, asyncio.TimerHandle] = {}
        self._busy: dict[str, int] = {}
        self.started_at: dict[str, float] = {}
        self.last_tool: dict[str, str] = {}

    def runtime_name(self, workspace: str) -> str:
        box = self._boxes.get(workspace)
        if box is not None:
            return box.runtime
        ws = self.config.workspaces.get(workspace)
        return (ws.runtime if ws and ws.runtime else None) or self.config.runtime.runtime

    def sandbox(self, workspace: str) -> Sandbox | None:
        return self._boxes.get(workspace)

    async def _set_state(self, workspace: str, runtime: str, state: str, detail: str = "") -> None:
        self.bus.publish(ContainerStateChanged(workspace, runtime, state, detail))
        ws_id = self.workspace_id(workspace)
        if ws_id is not None:
            box = self._boxes.get(workspace)
            await self.store.call(
                containers.upsert,
                ws_id,
                runtime,
                state,
                box.id if box else None,
                detail or None,
                self.last_tool.get(workspace),
            )

    def spec_for(self, workspace: str) -> SandboxSpec:
        ws = self.config.workspaces.get(workspace)
        rc = self.config.runtime
        return SandboxSpec(
            workspace=workspace,
            workspace_dir=self.workspace_dir(workspace),
            image=rc.image,
            network=ws.network if ws else "none",
            limits=Limits(cpus=rc.cpus, memory=rc.memory, pids=rc.pids),
            labels={"pynchy.managed": "true", "pynchy.workspace": workspace},
        )

    async def ensure(self, workspace: str) -> Sandbox:
        lock = self._locks.setdefault(workspace, asyncio.Lock())
        async with lock:
            box = self._boxes.get(workspace)
            if box is not None and box.alive:
                return box
            if box is not None:  # died: start a fresh one
                self._boxes.pop(workspace, None)
                with contextlib.suppress(Exception):
                    await box.stop()
            ws = self.config.workspaces.get(workspace)
            wanted = (ws.runtime if ws and ws.runtime else None) or self.config.runtime.runtime
            rt, _why = await select_runtime(
                wanted, self.config.runtime.allow_unsandboxed, self.runtimes
            )
            await self._set_state(workspace, rt.name, "starting")
            try:
                box = await rt.start(self.spec_for(workspace))
            except Exception as exc:
                await self._set_state(workspace, rt.name, "error", str(exc))
                raise
            self._boxes[workspace] = box
            self.started_at[workspace] = time.time()
            await self._set_state(workspace, rt.name, "idle", "" if rt.isolated else "UNSANDBOXED")
            return box

    async def call(
        self,
        workspace: str,
        op: str,
        args: dict[str, Any],
        on_output: OutputCallback | None = None,
        tool: str | None = None,
    ) -> dict[str, Any]:
        box = await self.ensure(workspace)
        self._cancel_idle(workspace)
        self._busy[workspace] = self._busy.get(workspace, 0) + 1
        if tool:
            self.last_tool[workspace] = tool
        if self._busy[workspace] == 1:
            await self._set_state(workspace, box.runtime, "busy", tool or op)
        try:
            return await box.call(op, args, on_output)
        except SandboxDied as exc:
            self._boxes.pop(workspace, None)
            await self._set_state(workspace, box.runtime, "error", str(exc))
            raise
        finally:
            self._busy[workspace] -= 1
            if self._busy[workspace] == 0 and self._boxes.get(workspace) is box:
                await self._set_state(workspace, box.runtime, "idle")
                self._arm_idle(workspace)

    def _cancel_idle(self, workspace: str) -> None:
        handle = self._idle.pop(workspace, None)
        if handle is not None:
            handle.cancel()

    def _arm_idle(self, workspace: str) -> None:
        self._cancel_idle(workspace)
        timeout = self.config.runtime.idle_timeout
        if timeout > 0:
            loop = asyncio.get_running_loop()
            self._idle[workspace] = loop.call_later(
                timeout, lambda: asyncio.ensure_future(self.hibernate(workspace))
            )

    async def hibernate(self, workspace: str) -> None:
        """Stop the sandbox, keep the files; the next call wakes it."""
        if self._busy.get(workspace):
            return
        box = self._boxes.pop(workspace, None)
        self._cancel_idle(workspace)
        if box is None:
            return
        await box.stop()
        await self._set_state(workspace, box.runtime, "hibernated")

    async def stop_all(self) -> None:
        for workspace in list(self._boxes):
            box = self._boxes.pop(workspace)
            self._cancel_idle(workspace)
            try:
                await box.stop()
            except Exception:
                log.exception("stopping sandbox of %s failed", workspace)
            await self._set_state(workspace, box.runtime, "absent")
