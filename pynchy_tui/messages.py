"""Provides the Textual messages that cross from the host (via the bridge) to the UI."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:
    from pynchy_tui.events import Event


@dataclass
class HostEvents(Message):
    """A batch of bus events, coalesced by the bridge; one per frame at most."""

    events: list[Event]


@dataclass
class HostFailed(Message):
    """The host worker could not start or crashed; the text says why."""

    text: str
