"""The bus: typed subscriptions, and a slow subscriber never blocks the publisher."""

from __future__ import annotations

import asyncio

from pynchy_tui.bus import Bus
from pynchy_tui.events import AgentDelta, Lagged, Notice, ToolOutput, TurnFinished, TurnStarted


async def test_subscribers_get_only_their_types_in_order() -> None:
    bus = Bus()
    turns = bus.subscribe(TurnStarted, TurnFinished)
    everything = bus.subscribe()
    bus.publish(TurnStarted("w", 1, "a", "m"))
    bus.publish(Notice("info", "x"))
    bus.publish(TurnFinished("w", 1, "done"))
    assert [type(await turns.get()).__name__ for _ in range(2)] == ["TurnStarted", "TurnFinished"]
    assert turns.get_nowait() is None
    assert [type(await everything.get()).__name__ for _ in range(3)] == [
        "TurnStarted",
        "Notice",
        "TurnFinished",
    ]


async def test_deltas_coalesce_for_a_slow_subscriber() -> None:
    bus = Bus()
    sub = bus.subscribe(AgentDelta)
    for word in ["a", "b", "c"]:
        bus.publish(AgentDelta("w", 1, word))
    bus.publish(AgentDelta("w", 2, "z"))
    first, second = await sub.get(), await sub.get()
    assert (first.text, second.text) == ("abc", "z")


async def test_full_queue_drops_droppable_events_first() -> None:
    bus = Bus()
    sub = bus.subscribe(maxsize=3)
    bus.publish(ToolOutput("w", "c1", "stdout", "x"))
    bus.publish(TurnStarted("w", 1, "a", "m"))
    bus.publish(Notice("info", "n1"))
    bus.publish(Notice("info", "n2"))  # evicts the ToolOutput, not a durable event
    got = [sub.get_nowait() for _ in range(3)]
    assert [type(e).__name__ for e in got] == ["TurnStarted", "Notice", "Notice"]
    assert sub.dropped == 1


async def test_overflow_of_durable_events_reports_lag() -> None:
    bus = Bus()
    sub = bus.subscribe(maxsize=2)
    for i in range(5):
        bus.publish(Notice("info", str(i)))
    first = sub.get_nowait()
    assert isinstance(first, Lagged) and first.missed == 3
    assert [sub.get_nowait().text for _ in range(2)] == ["0", "1"]  # type: ignore[union-attr]


async def test_publish_never_blocks_without_consumers() -> None:
    bus = Bus()
    bus.subscribe(maxsize=10)
    for i in range(50_000):
        bus.publish(AgentDelta("w", i, "x"))  # returns immediately, bounded memory
    assert bus.published == 50_000


async def test_closed_subscription_ends_iteration() -> None:
    bus = Bus()
    sub = bus.subscribe()

    async def consume() -> int:
        n = 0
        async for _ in sub:
            n += 1
        return n

    task = asyncio.create_task(consume())
    bus.publish(Notice("info", "x"))
    await asyncio.sleep(0)
    sub.close()
    assert await asyncio.wait_for(task, 2) == 1
