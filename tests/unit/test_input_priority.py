"""Input priority: while keys come, host events reach the screen less often and never
between a key and the frame that shows it (pynchy_tui/input_priority.py, bridge.py)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import AsyncIterator

from pynchy_tui.bridge import run_bridge
from pynchy_tui.bus import Bus
from pynchy_tui.events import AgentDelta
from pynchy_tui.input_priority import InputPriority
from pynchy_tui.messages import HostEvents


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_typing_window_and_frame() -> None:
    clock = Clock()
    p = InputPriority(slow=0.25, window=0.5, clock=clock)
    assert not p.typing() and p.frame(1 / 30) == 1 / 30
    p.key()
    assert p.typing() and p.frame(1 / 30) == 0.25
    clock.now += 0.6
    assert not p.typing() and p.frame(1 / 30) == 1 / 30


async def test_wait_painted_returns_on_paint_or_after_hold_max() -> None:
    p = InputPriority(hold_max=0.05)
    await asyncio.wait_for(p.wait_painted(), 1)  # no key yet: nothing to wait for
    p.key()
    waiter = asyncio.create_task(p.wait_painted())
    await asyncio.sleep(0.01)
    assert not waiter.done()
    p.painted()
    await asyncio.wait_for(waiter, 1)
    p.key()  # never painted: the hold gives up
    t0 = time.monotonic()
    await p.wait_painted()
    assert time.monotonic() - t0 >= 0.04


class Target:
    def __init__(self) -> None:
        self.batches: list[tuple[float, list]] = []

    def post_message(self, message: HostEvents) -> None:
        self.batches.append((time.monotonic(), message.events))


@contextlib.asynccontextmanager
async def bridged(p: InputPriority) -> AsyncIterator[tuple[Bus, Target]]:
    """A real bus and the bridge with `p`, posting into a Target, for one test."""
    bus, target = Bus(), Target()
    task = asyncio.create_task(run_bridge(bus.subscribe(), target, frame=0.001, priority=p))
    await asyncio.sleep(0.01)
    try:
        yield bus, target
    finally:
        task.cancel()


async def test_bridge_holds_events_until_the_key_is_painted() -> None:
    p = InputPriority(slow=0.01, window=0.5, hold_max=5)
    async with bridged(p) as (bus, target):
        p.key()
        bus.publish(AgentDelta("w", 1, "held"))
        await asyncio.sleep(0.1)
        assert target.batches == []  # the key's frame is not drawn yet
        p.painted()
        for _ in range(500):
            if target.batches:
                break
            await asyncio.sleep(0.01)
        assert [e.text for e in target.batches[0][1]] == ["held"]


async def test_bridge_batches_slow_down_while_typing() -> None:
    p = InputPriority(slow=0.2, window=5, hold_max=0.01)
    async with bridged(p) as (bus, target):
        p.key()
        p.painted()
        for i in range(30):  # a stream of deltas for 0.45 s
            bus.publish(AgentDelta("w", 1, f"d{i} "))
            await asyncio.sleep(0.015)
        await asyncio.sleep(0.25)
        times = [t for t, _ in target.batches]
        texts = "".join(e.text for _, events in target.batches for e in events)
        assert texts == "".join(f"d{i} " for i in range(30))  # coalesced, nothing lost
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert gaps and min(gaps) >= 0.19, gaps  # at most one batch per 0.2 s, not per frame
