"""The in-process pub/sub bus.

`publish` never blocks and never awaits: each subscriber has a bounded queue. When it is full,
droppable events are coalesced (consecutive deltas of one turn merge) or evicted first; if the
queue is full of durable events the subscriber is marked lagged and told how many it missed.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import logging
from collections.abc import AsyncIterator, Callable

from pynchy_tui.events import AgentDelta, Event, Lagged, ToolOutput

log = logging.getLogger(__name__)


class Subscription:
    def __init__(self, bus: Bus, types: tuple[type[Event], ...], maxsize: int) -> None:
        self._bus = bus
        self.types = types
        self.maxsize = maxsize
        self._queue: collections.deque[Event] = collections.deque()
        self._wakeup = asyncio.Event()
        self._missed = 0
        self.dropped = 0
        self.closed = False

    def wants(self, event: Event) -> bool:
        return not self.types or isinstance(event, self.types)

    def offer(self, event: Event) -> None:
        q = self._queue
        if q and _coalesce(q, event):
            return
        if len(q) >= self.maxsize:
            if event.droppable:
                self.dropped += 1
                return
            for i, old in enumerate(q):
                if old.droppable:
                    del q[i]
                    self.dropped += 1
                    break
            else:
                self._missed += 1
                self.dropped += 1
                return
        q.append(event)
        self._wakeup.set()

    def get_nowait(self) -> Event | None:
        if self._missed:
            missed, self._missed = self._missed, 0
            return Lagged(missed=missed)
        if self._queue:
            return self._queue.popleft()
        return None

    async def get(self) -> Event:
        while True:
            event = self.get_nowait()
            if event is not None:
                return event
            if self.closed:
                raise StopAsyncIteration
            self._wakeup.clear()
            await self._wakeup.wait()

    def __aiter__(self) -> AsyncIterator[Event]:
        return self

    async def __anext__(self) -> Event:
        return await self.get()

    def close(self) -> None:
        self.closed = True
        self._wakeup.set()
        self._bus._subs.discard(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _coalesce(q: collections.deque[Event], event: Event) -> bool:
    """Merge a streaming delta into the one at the tail of the queue, if it continues it."""
    tail = q[-1]
    if isinstance(event, AgentDelta) and isinstance(tail, AgentDelta):
        same = (tail.workspace, tail.turn_id) == (event.workspace, event.turn_id)
        if same:
            q[-1] = dataclasses.replace(tail, text=tail.text + event.text)
        return same
    if isinstance(event, ToolOutput) and isinstance(tail, ToolOutput):
        same = (tail.call_id, tail.stream) == (event.call_id, event.stream)
        if same:
            q[-1] = dataclasses.replace(tail, data=tail.data + event.data)
        return same
    return False


class Bus:
    def __init__(self, default_maxsize: int = 1000) -> None:
        self._subs: set[Subscription] = set()
        self.default_maxsize = default_maxsize
        self.published = 0
        self._observers: list[Callable[[Event], object]] = []

    def add_observer(self, fn: Callable[[Event], object]) -> None:
        """Call `fn(event)` synchronously for every event (plugins: logging, metrics)."""
        self._observers.append(fn)

    def publish(self, event: Event) -> None:
        self.published += 1
        for fn in self._observers:
            try:
                fn(event)
            except Exception:  # an observer's bug never reaches the publisher
                log.exception("bus observer %r failed", fn)
        for sub in tuple(self._subs):
            if sub.wants(event):
                sub.offer(event)

    def subscribe(self, *types: type[Event], maxsize: int | None = None) -> Subscription:
        sub = Subscription(self, types, maxsize or self.default_maxsize)
        self._subs.add(sub)
        return sub

    def close(self) -> None:
        for sub in tuple(self._subs):
            sub.close()
