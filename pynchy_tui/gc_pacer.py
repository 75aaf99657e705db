"""Provides the GC pacer: full cyclic-GC collections when the person is not typing.

A full (generation 2) collection walks every object the collector tracks. With a transcript
on screen that is a few hundred thousand (Textual keeps each rendered line as a Strip with its
own small caches), so one collection stops the event loop for 100-200 ms. CPython starts one
whenever enough objects have survived the young collections, and a UI redrawing at 30-60
frames a second while replies stream promotes that many about every second: keys typed then
wait for it (bench/tui_stream.py measured a key p99 of 190-270 ms, 23 full collections taking
3.4 s of an 8 s key phase).

The pacer turns CPython's automatic full collections off and runs them itself: once there is
something to collect (as many young collections as CPython's own threshold asks for), when no
key has been typed for `quiet` seconds and `min_gap` has passed since the last one, and
regardless of typing once `max_gap` has passed, so garbage that outlives the young
generations still goes within `max_gap`. Young collections stay automatic; a larger first
threshold lets per-frame temporaries die by reference counting before a collection sees them.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

YOUNG = 2_000  # CPython's default is 700
MIDDLE = 10  # as CPython: a generation-1 collection every 10 young ones
OFF = 1_000_000_000  # a generation-2 threshold CPython never reaches
FULL_AFTER = 10  # generation-1 collections since the last full one: CPython's own threshold


class GcPacer:
    """Runs full collections at quiet moments; `attach` / `detach` count its users."""

    def __init__(
        self,
        *,
        quiet: float = 1.0,
        min_gap: float = 10.0,
        max_gap: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.quiet, self.min_gap, self.max_gap = quiet, min_gap, max_gap
        self.clock = clock
        self.users = 0
        self.collections = 0
        self.last_full = clock()
        self.last_input = float("-inf")
        self._saved: tuple[int, int, int] | None = None

    def attach(self) -> None:
        """Take over full collections (the first user saves CPython's thresholds)."""
        if self.users == 0:
            self._saved = gc.get_threshold()
            gc.set_threshold(YOUNG, MIDDLE, OFF)
            self.last_full = self.clock()
        self.users += 1

    def detach(self) -> None:
        """The last user gone: CPython's thresholds back."""
        if self.users == 0:
            return
        self.users -= 1
        if self.users == 0 and self._saved is not None:
            gc.set_threshold(*self._saved)
            self._saved = None

    def note_input(self) -> None:
        """A key was typed: the next `quiet` seconds are no time for a pause."""
        self.last_input = self.clock()

    def due(self, pending: int) -> bool:
        """Whether to collect now; `pending` = generation-1 collections since the last full."""
        if pending < FULL_AFTER:
            return False
        now = self.clock()
        since = now - self.last_full
        if since >= self.max_gap:
            return True
        return since >= self.min_gap and now - self.last_input >= self.quiet

    def tick(self) -> bool:
        """Called about twice a second: run a full collection if one is due."""
        if self.users == 0 or not gc.isenabled() or not self.due(gc.get_count()[2]):
            return False
        gc.collect()
        self.collections += 1
        self.last_full = self.clock()
        return True


PACER = GcPacer()
