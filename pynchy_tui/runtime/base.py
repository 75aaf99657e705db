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


@dataclass(frozen=True)
class Limits:
    cpus: float = 2.0
    memory: str = "2g"
    pids: int = 512


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


class SandboxDied(Exception):
    """The sandbox went away while a call was in flight."""


class ToolboxError(Exception):
    """The toolbox answered a call with an error."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


class Sandbox(Protocol):
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
    name: str
    isolated: bool

    async def available(self) -> tuple[bool, str]: ...

    async def start(self, spec: SandboxSpec) -> Sandbox: ...

    async def list_managed(self) -> list[str]: ...

    async def remove(self, sandbox_id: str) -> None: ...
