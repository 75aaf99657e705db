"""Provides input priority: while the person types, streamed replies yield the screen.

A streaming reply costs a frame per update (Markdown re-parses and re-lays out its last
block), and at 30 updates a second those frames fill most of the event loop, so a key
usually arrives while one is being drawn and then waits for it. While keys are coming
(`window` seconds since the last one), the bridge posts host events at most every `slow`
seconds instead of every frame, and never between a key and the frame that shows it: that
frame then holds the typed character and nothing else. The reply catches up in the next
batch; nothing is dropped, only coalesced.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

SLOW = 0.25  # seconds between host-event batches while typing (4 a second)
WINDOW = 0.5  # typing "is going on" this long after a key
HOLD_MAX = 0.1  # a key's frame never holds back host events longer than this


class InputPriority:
    def __init__(
        self,
        *,
        slow: float = SLOW,
        window: float = WINDOW,
        hold_max: float = HOLD_MAX,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.slow, self.window, self.hold_max = slow, window, hold_max
        self.clock = clock
        self.last_key = float("-inf")
        self._painted: asyncio.Event | None = None  # clear: a key waits for its frame

    def key(self) -> None:
        """A key arrived; call `painted` once the frame that shows it is drawn."""
        self.last_key = self.clock()
        if self._painted is None:
            self._painted = asyncio.Event()
        self._painted.clear()

    def painted(self) -> None:
        if self._painted is not None:
            self._painted.set()

    def typing(self) -> bool:
        return self.clock() - self.last_key < self.window

    def frame(self, normal: float) -> float:
        """Seconds between batches of host events now."""
        return max(normal, self.slow) if self.typing() else normal

    async def wait_painted(self) -> None:
        """Until the last key's frame is drawn (at most `hold_max`)."""
        event = self._painted
        if event is None or event.is_set():
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), self.hold_max)
