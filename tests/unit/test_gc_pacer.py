"""The GC pacer: full collections wait for a pause in typing, never longer than max_gap."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from pynchy_tui.gc_pacer import FULL_AFTER, OFF, GcPacer


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def pacer(clock: Clock) -> Iterator[GcPacer]:
    saved = gc.get_threshold()
    p = GcPacer(quiet=1.0, min_gap=10.0, max_gap=30.0, clock=clock)
    yield p
    gc.set_threshold(*saved)


def test_attach_turns_automatic_full_collections_off_and_detach_restores(pacer) -> None:
    before = gc.get_threshold()
    pacer.attach()
    pacer.attach()
    assert gc.get_threshold()[2] == OFF
    pacer.detach()
    assert gc.get_threshold()[2] == OFF  # one user left
    pacer.detach()
    assert gc.get_threshold() == before
    pacer.detach()  # an extra detach changes nothing
    assert gc.get_threshold() == before


def test_nothing_to_collect_is_never_due(pacer, clock) -> None:
    clock.now += 1000
    assert not pacer.due(FULL_AFTER - 1)
    assert pacer.due(FULL_AFTER)


def test_waits_for_min_gap_and_a_pause_in_typing(pacer, clock) -> None:
    clock.now += 5
    assert not pacer.due(FULL_AFTER)  # too soon after the last one
    clock.now += 6
    pacer.note_input()
    assert not pacer.due(FULL_AFTER)  # typing
    clock.now += 0.5
    assert not pacer.due(FULL_AFTER)
    clock.now += 0.6
    assert pacer.due(FULL_AFTER)  # quiet for 1.1 s


def test_collects_after_max_gap_even_while_typing(pacer, clock) -> None:
    for _ in range(30):
        clock.now += 1
        pacer.note_input()
        if clock.now - 1000 < 30:
            assert not pacer.due(FULL_AFTER)
    assert pacer.due(FULL_AFTER)


def test_tick_collects_only_while_attached_and_restarts_the_gap(pacer, clock) -> None:
    clock.now += 100
    gc.collect()
    assert not pacer.tick()  # not attached
    pacer.attach()
    clock.now += 100
    for _ in range(FULL_AFTER * 12):  # drive enough generation-1 collections
        gc.collect(1)
    assert gc.get_count()[2] >= FULL_AFTER
    assert pacer.tick()
    assert pacer.collections == 1
    assert gc.get_count()[2] == 0
    assert not pacer.tick()  # the gap starts again
    pacer.detach()
