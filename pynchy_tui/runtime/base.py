"""The runtime contract: where a workspace's toolbox runs, and how isolated it is."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

Network = Literal["none", "allowlist", "full"]
OutputCallback = Callable[[str, str], Awaitable[None] | None]  # (stream, data)


@dataclass(frozen=True)
class Mount:
    host_path: Path
    container_path: str
    read_only: bool = True


def parse_memory(value: str) -> int:
    """Bytes in a memory size like "2g", "512m", "64MiB" or "1048576"."""
    units = {"k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
    v = value.strip().lower().removesuffix("b").removesuffix("i") or "0"
    if v[-1] in units:
        return int(float(v[:-1]) * units[v[-1]])
    return int(float(v))


@dataclass(frozen=True)
class Limits:
    cpus: float = 2.0
    memory: str = "2g"
    pids: int = 512


# Labels every isolating runtime puts on what it starts, so a later run can find it again.
LABEL_MANAGED = "pynchy.managed"
LABEL_WORKSPACE = "pynchy.workspace"
LABEL_HOME = "pynchy.home"  # which pynchy home (data dir) started it: hosts never touch others'
LABEL_SPEC = "pynchy.spec"  # hash of what the sandbox was created with; a change recreates it

SANDBOX_WORKSPACE = "/workspace"  # the workspace as the model sees it in isolating runtimes
SANDBOX_TOOLBOX_DIR = "/opt/pynchy/toolbox"
SANDBOX_HOME = "/home/agent"


@dataclass(frozen=True)
class SandboxSpec:
    workspace: str
    workspace_dir: Path
    image: str = "pynchy-agent:latest"
    mounts: tuple[Mount, ...] = ()
    network: Network = "none"
    env: dict[str, str] = field(default_factory=dict)  # never secrets
    limits: Limits = Limits()
    labels: dict[str, str] = field(default_factory=dict)
    base_image: str | None = None  # image builds: the BASE_IMAGE build arg (None: the default)


@dataclass(frozen=True)
class ManagedSandbox:
    """A sandbox a runtime finds on the machine that pynchy started (maybe in an earlier run)."""

    id: str
    runtime: str
    workspace: str
    home: str
    running: bool
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SandboxStats:
    cpu_percent: float  # 100.0 = one core fully busy
    memory_bytes: int


class SandboxDied(Exception):
    """The sandbox went away while a call was in flight."""


class ToolboxError(Exception):
    """The toolbox answered a call with an error."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


class Sandbox(Protocol):
    """A running toolbox. `stop()` hibernates: the sandbox stops, the workspace files stay, and
    the runtime's next `start()` of the same spec may wake it. Optional: `async stats() ->
    SandboxStats | None` (resource use; the manager publishes it every 2 s when present)."""

    id: str
    runtime: str
    root: str  # the workspace path as the toolbox sees it

    async def call(
        self, op: str, args: dict[str, Any], on_output: OutputCallback | None = None
    ) -> dict[str, Any]: ...

    @property
    def alive(self) -> bool: ...

    async def stop(self) -> None: ...


class Runtime(Protocol):
    """`start` gives a running sandbox for the spec, waking a hibernated one when it matches;
    `remove` deletes a sandbox for good (its workspace files stay on the host);
    `list_managed` lists what pynchy started that is still on the machine (running or not).
    Optional: `async adopt(found: ManagedSandbox, spec) -> Sandbox | None`, to reconnect to a
    sandbox an earlier run left running."""

    name: str
    isolated: bool

    async def available(self) -> tuple[bool, str]: ...

    async def start(self, spec: SandboxSpec) -> Sandbox: ...

    async def list_managed(self) -> list[ManagedSandbox]: ...

    async def remove(self, sandbox_id: str) -> None: ...
