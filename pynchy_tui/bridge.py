"""Provides the bridge: bus events -> batched, coalesced Textual messages.

The host publishes at its own pace; the UI wants at most one update per frame. The bridge
drains whatever is queued, merges consecutive deltas (the bus already concatenates them)
and keeps only the newest stats per sandbox, then posts one `HostEvents` message.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pynchy_tui.bus import Subscription
from pynchy_tui.events import ContainerStats, Event
from pynchy_tui.input_priority import InputPriority
from pynchy_tui.messages import HostEvents

FRAME = 1 / 30


def coalesce(events: list[Event]) -> list[Event]:
    """Latest-value-wins for stats; everything else in order."""
    latest: dict[str, int] = {}
    for i, ev in enumerate(events):
        if isinstance(ev, ContainerStats):
            latest[ev.workspace] = i
    return [
        ev
        for i, ev in enumerate(events)
        if not isinstance(ev, ContainerStats) or latest[ev.workspace] == i
    ]


async def run_bridge(
    sub: Subscription,
    target: Any,
    frame: float = FRAME,
    priority: InputPriority | None = None,
) -> None:
    """Forward events from `sub` to `target.post_message` until cancelled.

    The caller subscribes before starting the host, so no start-up event is missed. With
    `priority`, batches slow down while the person types and wait for a key's frame."""
    loop = asyncio.get_running_loop()
    last = 0.0
    with sub:
        while True:
            batch = [await sub.get()]
            while True:
                gap = priority.frame(frame) if priority is not None else frame
                wait = last + gap - loop.time()
                if wait <= 0:
                    break
                await asyncio.sleep(wait)  # posted recently: let this frame's worth accumulate
            if priority is not None:
                await priority.wait_painted()
            while (ev := sub.get_nowait()) is not None:
                batch.append(ev)
            target.post_message(HostEvents(coalesce(batch)))
            last = loop.time()
