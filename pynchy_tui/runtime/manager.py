"""One long-lived sandbox per active workspace: started on first need, reused warm, stopped
after the idle timeout (files stay on disk), restarted fresh after it dies.

States (ContainerStateChanged): absent, starting, idle, busy, hibernated, error. At host start
`start()` reconciles what an earlier run left on the machine (adopt or remove; never leak) and
starts the stats publisher (ContainerStats every 2 s for running sandboxes), which also notices
sandboxes that died while idle. A clean host stop removes every sandbox it started.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pynchy_tui.bus import Bus
from pynchy_tui.config.models import Config
from pynchy_tui.events import ContainerStateChanged, ContainerStats, Notice
from pynchy_tui.runtime.base import (
    LABEL_HOME,
    LABEL_MANAGED,
    LABEL_WORKSPACE,
    Limits,
    ManagedSandbox,
    OutputCallback,
    Sandbox,
    SandboxDied,
    SandboxSpec,
)
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


STATS_INTERVAL = 2.0
RECONCILE_TIMEOUT = 30.0


def home_id(data_dir: Path) -> str:
    """Names one pynchy home: a host only ever touches sandboxes labelled with its own."""
    return hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:16]


class SandboxManager:
    def __init__(
        self,
        config: Config,
        store: Store,
        bus: Bus,
        runtimes: dict[str, Any],
        workspace_dir: Callable[[str], Path],
        workspace_id: Callable[[str], int | None],
        paths: Any = None,
    ) -> None:
        self.config = config
        self.store = store
        self.bus = bus
        self.runtimes = runtimes
        self.workspace_dir = workspace_dir
        self.workspace_id = workspace_id
        self.paths = paths
        data_dir = paths.data_dir if paths is not None else workspace_dir("_").parent.parent
        self.home = home_id(data_dir)
        self._boxes: dict[str, Sandbox] = {}
        self._rt_of: dict[str, Any] = {}
        self._hibernated: dict[str, tuple[Any, str]] = {}  # workspace -> (runtime, sandbox id)
        self._locks: dict[str, asyncio.Lock] = {}
        self._idle: dict[str, asyncio.TimerHandle] = {}
        self._busy: dict[str, int] = {}
        self._stats_task: asyncio.Task[None] | None = None
        self._refusals_seen: set[str] = set()
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
        mounts: tuple[Any, ...] = ()
        if self.paths is not None:
            from pynchy_tui.runtime.mounts import mounts_for

            allowed = mounts_for(
                workspace,
                self.paths.config_dir,
                [self.paths.config_dir, self.paths.data_dir, self.paths.log_dir],
            )
            mounts = allowed.mounts
            for line in allowed.refused:
                if line not in self._refusals_seen:
                    self._refusals_seen.add(line)
                    self.bus.publish(Notice("warning", f"mount not allowed: {line}", workspace))
        return SandboxSpec(
            workspace=workspace,
            workspace_dir=self.workspace_dir(workspace),
            image=rc.image,
            mounts=mounts,
            network=ws.network if ws else "none",
            limits=Limits(cpus=rc.cpus, memory=rc.memory, pids=rc.pids),
            labels={LABEL_MANAGED: "true", LABEL_WORKSPACE: workspace, LABEL_HOME: self.home},
            base_image=rc.base_image,
        )

    # -- host start: reconcile what an earlier run left, publish stats --------------------

    async def start(self) -> None:
        """Called once by the host at start."""
        try:
            await asyncio.wait_for(self.reconcile(), RECONCILE_TIMEOUT)
        except Exception as exc:
            log.exception("reconciling sandboxes left by an earlier run failed")
            self.bus.publish(Notice("warning", f"could not check for leftover sandboxes: {exc}"))
        if self._stats_task is None:
            self._stats_task = asyncio.create_task(self._stats_loop(), name="sandbox-stats")

    async def reconcile(self) -> dict[str, list[str]]:
        """Sandboxes of this pynchy home left by an earlier run: a running one whose workspace
        still exists is adopted (if its runtime can reconnect), a stopped one is kept as the
        workspace's hibernated sandbox, everything else is removed. Other homes' sandboxes
        are never touched."""
        report: dict[str, list[str]] = {"adopted": [], "kept": [], "removed": []}
        for rt in self._configured_runtimes():
            if not getattr(rt, "isolated", False):
                continue
            try:
                found: list[ManagedSandbox] = list(await rt.list_managed())
            except Exception:
                log.warning("listing %s sandboxes failed", rt.name, exc_info=True)
                continue
            for item in found:
                if not isinstance(item, ManagedSandbox) or item.home != self.home:
                    continue
                ws = item.workspace
                outcome = "removed"
                if ws and self.workspace_id(ws) is not None and ws not in self._boxes:
                    outcome = await self._adopt(rt, item)
                if outcome == "removed":
                    with contextlib.suppress(Exception):
                        await rt.remove(item.id)
                report[outcome].append(f"{rt.name}:{ws}:{item.id[:12]}")
        if any(report.values()):
            log.info("sandboxes left by an earlier run: %s", report)
        return report

    def _configured_runtimes(self) -> list[Any]:
        """The runtimes this config can pick (only those are asked what they left)."""
        wanted = {self.config.runtime.runtime}
        wanted |= {w.runtime for w in self.config.workspaces.values() if w.runtime}
        if "auto" in wanted:
            wanted |= {"docker", "bubblewrap"}
        return [rt for name, rt in self.runtimes.items() if name in wanted]

    async def _adopt(self, rt: Any, item: ManagedSandbox) -> str:
        ws = item.workspace
        if not item.running:
            self._hibernated[ws] = (rt, item.id)
            await self._set_state(ws, rt.name, "hibernated", "left by an earlier run")
            return "kept"
        adopt = getattr(rt, "adopt", None)
        box = await adopt(item, self.spec_for(ws)) if adopt is not None else None
        if box is None:
            return "removed"
        self._boxes[ws] = box
        self._rt_of[ws] = rt
        self.started_at[ws] = time.time()
        await self._set_state(ws, rt.name, "idle", "adopted from an earlier run")
        self._arm_idle(ws)
        return "adopted"

    async def _stats_loop(self) -> None:
        while True:
            await asyncio.sleep(STATS_INTERVAL)
            try:
                await self.publish_stats()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("publishing sandbox stats failed")

    async def publish_stats(self) -> None:
        for workspace, box in list(self._boxes.items()):
            if not box.alive:
                if not self._busy.get(workspace):  # a call in flight reports it itself
                    await self._died(workspace, box, "the sandbox stopped unexpectedly")
                continue
            stats_fn = getattr(box, "stats", None)
            if stats_fn is None:
                continue
            try:
                st = await asyncio.wait_for(stats_fn(), STATS_INTERVAL)
            except Exception:
                log.debug("stats of %s failed", workspace, exc_info=True)
                continue
            if st is None or self._boxes.get(workspace) is not box:
                continue
            self.bus.publish(
                ContainerStats(
                    workspace,
                    box.runtime,
                    st.cpu_percent,
                    st.memory_bytes,
                    time.time() - self.started_at.get(workspace, time.time()),
                    self.last_tool.get(workspace),
                )
            )

    async def _died(self, workspace: str, box: Sandbox, reason: str) -> None:
        """Forget a dead sandbox (the next call starts a fresh one) and say so."""
        if self._boxes.get(workspace) is not box:
            return  # already hibernated, stopped or replaced: not ours to clean up any more
        self._boxes.pop(workspace, None)
        self._cancel_idle(workspace)
        rt = self._rt_of.pop(workspace, None)
        await self._set_state(workspace, box.runtime, "error", reason)
        with contextlib.suppress(Exception):
            await box.stop()
        if rt is not None:
            with contextlib.suppress(Exception):
                await rt.remove(box.id)

    async def ensure(self, workspace: str) -> Sandbox:
        lock = self._locks.setdefault(workspace, asyncio.Lock())
        async with lock:
            box = self._boxes.get(workspace)
            if box is not None and box.alive:
                return box
            if box is not None:  # died: start a fresh one
                await self._died(workspace, box, "the sandbox stopped unexpectedly")
            ws = self.config.workspaces.get(workspace)
            wanted = (ws.runtime if ws and ws.runtime else None) or self.config.runtime.runtime
            rt, _why = await select_runtime(
                wanted, self.config.runtime.allow_unsandboxed, self.runtimes
            )
            old = self._hibernated.pop(workspace, None)
            if old is not None and old[0] is not rt:  # the runtime changed: drop the old one
                with contextlib.suppress(Exception):
                    await old[0].remove(old[1])
            await self._set_state(workspace, rt.name, "starting")
            try:
                box = await rt.start(self.spec_for(workspace))
            except Exception as exc:
                await self._set_state(workspace, rt.name, "error", str(exc))
                raise
            self._boxes[workspace] = box
            self._rt_of[workspace] = rt
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
            result = await box.call(op, args, on_output)
        except SandboxDied as exc:
            await self._died(workspace, box, str(exc))
            raise
        else:
            if result.get("oom_killed"):
                limit = self.config.runtime.memory
                self.bus.publish(
                    Notice(
                        "warning",
                        f"{workspace}: a command was killed at the sandbox memory limit ({limit})",
                        workspace,
                    )
                )
            return result
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
        rt = self._rt_of.pop(workspace, None)
        await box.stop()
        if rt is not None:
            self._hibernated[workspace] = (rt, box.id)
        await self._set_state(workspace, box.runtime, "hibernated")

    async def stop_all(self) -> None:
        """Host stop: stop and remove every sandbox this run started or kept (files stay)."""
        if self._stats_task is not None:
            self._stats_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._stats_task
            self._stats_task = None
        for workspace in list(self._boxes):
            box = self._boxes.pop(workspace)
            rt = self._rt_of.pop(workspace, None)
            self._cancel_idle(workspace)
            try:
                await box.stop()
                if rt is not None:
                    await rt.remove(box.id)
            except Exception:
                log.exception("stopping sandbox of %s failed", workspace)
            await self._set_state(workspace, box.runtime, "absent")
        for workspace, (rt, sandbox_id) in list(self._hibernated.items()):
            self._hibernated.pop(workspace, None)
            try:
                await rt.remove(sandbox_id)
            except Exception:
                log.exception("removing the hibernated sandbox of %s failed", workspace)
            await self._set_state(workspace, rt.name, "absent")
