"""Typed events on the bus. Frozen dataclasses; durable facts are in SQLite first.

`droppable` events (streaming deltas, stats) are UI-only: a slow subscriber may see them
coalesced or not at all. Everything else is delivered unless the subscriber lags so far that
its queue is full of non-droppable events, in which case it gets a `Lagged` marker and should
re-read state from SQLite.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass(frozen=True)
class Event:
    droppable: ClassVar[bool] = False
    ts: float = field(default_factory=time.time, kw_only=True)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["type"] = type(self).__name__
        return data


@dataclass(frozen=True)
class HostStateChanged(Event):
    state: str  # starting | ready | stopping | stopped
    detail: str = ""


@dataclass(frozen=True)
class WorkspaceChanged(Event):
    workspace: str
    change: str  # created | renamed | deleted | updated
    old_name: str | None = None


@dataclass(frozen=True)
class MessageReceived(Event):
    workspace: str
    message_id: int
    role: str
    text: str
    source: str
    sender: str | None = None
    trusted: bool = True


@dataclass(frozen=True)
class MessageSent(Event):
    """An outbound chat message (a final reply, send_message, a system notice)."""

    workspace: str
    message_id: int
    role: str
    text: str
    turn_id: int | None = None


@dataclass(frozen=True)
class TurnStarted(Event):
    workspace: str
    turn_id: int
    account: str
    model: str


@dataclass(frozen=True)
class AgentDelta(Event):
    droppable: ClassVar[bool] = True
    workspace: str
    turn_id: int
    text: str


@dataclass(frozen=True)
class AgentText(Event):
    """A finished block of assistant text (one model step)."""

    workspace: str
    turn_id: int
    text: str


@dataclass(frozen=True)
class ToolStarted(Event):
    workspace: str
    turn_id: int
    call_id: str
    tool: str
    args: dict[str, Any]


@dataclass(frozen=True)
class ToolOutput(Event):
    droppable: ClassVar[bool] = True
    workspace: str
    call_id: str
    stream: str
    data: str


@dataclass(frozen=True)
class ToolFinished(Event):
    workspace: str
    turn_id: int
    call_id: str
    tool: str
    ok: bool
    summary: str
    duration_ms: int


@dataclass(frozen=True)
class ProviderRetry(Event):
    workspace: str
    turn_id: int
    attempt: int
    delay: float
    reason: str


@dataclass(frozen=True)
class TurnFinished(Event):
    workspace: str
    turn_id: int
    status: str  # done | failed | cancelled | interrupted | limit
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    error: str | None = None


@dataclass(frozen=True)
class ContainerStateChanged(Event):
    workspace: str
    runtime: str
    state: str  # absent | starting | idle | busy | hibernated | error
    detail: str = ""


@dataclass(frozen=True)
class ContainerStats(Event):
    droppable: ClassVar[bool] = True
    workspace: str
    runtime: str
    cpu_percent: float
    memory_bytes: int
    uptime_s: float
    last_tool: str | None = None


@dataclass(frozen=True)
class ApprovalRequested(Event):
    workspace: str
    approval_id: str
    tool: str
    args: dict[str, Any]
    reason: str
    rule_id: str = ""
    details: dict[str, Any] = field(default_factory=dict)  # taint sources, diff preview


@dataclass(frozen=True)
class ApprovalDecided(Event):
    workspace: str
    approval_id: str
    approved: bool
    decided_by: str
    status: str = "approved"  # approved | denied | expired


@dataclass(frozen=True)
class DiffChanged(Event):
    """Files (or git state) of a workspace bound to a repository changed: its diff is stale.
    Debounced by the watcher; the UI re-reads the diff (off the event loop) when it shows it."""

    workspace: str


@dataclass(frozen=True)
class SyncFinished(Event):
    """A sync of a workspace's branch to main ended (tool or TUI)."""

    workspace: str
    status: str  # synced | nothing | conflict | rejected | refused | error
    message: str
    conflicts: list[str] = field(default_factory=list)
    main: str = ""  # main's new commit when synced
    by: str = "agent"  # agent | person


@dataclass(frozen=True)
class ChannelStateChanged(Event):
    """A channel bridge's connection: connecting | connected | disconnected | error."""

    channel: str
    type: str
    state: str
    detail: str = ""
    chats: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Notice(Event):
    """Something the person should see: a recovery, a refused runtime, a plugin failure."""

    level: str  # info | warning | error
    text: str
    workspace: str | None = None


@dataclass(frozen=True)
class Lagged(Event):
    """Sent to a subscriber whose queue overflowed: `missed` events were dropped."""

    missed: int
