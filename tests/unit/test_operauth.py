"""Operator login rules shared by OPER and the manhole: back-off, dummy cost, entry rules."""

from __future__ import annotations

from twisted.internet import task

from conferenceroom.admin.settings import OperEntry
from conferenceroom.operauth import Backoff, entry_refusal


def _clock() -> task.Clock:
    clock = task.Clock()
    clock.advance(1000)
    return clock


def test_backoff_doubles_and_is_bounded() -> None:
    """Past the free attempts each attempt waits twice as long, never longer than the cap."""
    clock = _clock()
    backoff = Backoff(clock, free=2, base=1.0, cap=8.0)
    waits = []
    for _ in range(8):
        wait = backoff.book(["ip:1"])
        clock.advance(wait)
        waits.append(wait)
    assert waits == [0, 0, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


def test_backoff_forgets_quiet_keys() -> None:
    """A key with no attempt for the forget period starts again with free attempts."""
    clock = _clock()
    backoff = Backoff(clock, free=1, base=1.0, cap=60.0, forget=100.0)
    backoff.book(["k"])
    backoff.book(["k"])
    assert backoff.waiting("k") > 0
    clock.advance(101)
    assert backoff.book(["k"]) == 0


def test_backoff_success_clears() -> None:
    """A success forgets the failures of its keys."""
    clock = _clock()
    backoff = Backoff(clock, free=1)
    backoff.book(["a", "b"])
    backoff.book(["a", "b"])
    backoff.succeeded(["a"])
    assert backoff.waiting("a") == 0 and backoff.waiting("b") > 0


def test_backoff_memory_is_bounded() -> None:
    """Guesses at ever new names keep at most max_keys records."""
    clock = _clock()
    backoff = Backoff(clock, max_keys=50)
    for i in range(500):
        backoff.book([f"name:{i}"])
    assert len(backoff._records) <= 50


def test_entry_refusal_reasons() -> None:
    """Each rule of an oper entry gives its own reason (for the log only)."""
    entry = OperEntry("x", "h", frozenset("a"), ("*@10.*",))
    assert entry_refusal(None, ["u@h"], True) == "no such operator name"
    assert entry_refusal(OperEntry("x", "h", frozenset("ad")), ["u@h"], True).endswith("(flag d)")
    assert entry_refusal(OperEntry("x", "h", frozenset("ae")), ["u@h"], False).endswith("(flag e)")
    assert entry_refusal(entry, ["u@192.0.2.1"], True) == "host does not match the operator entry"
    assert entry_refusal(entry, ["u@10.0.0.1"], True) is None
    assert entry_refusal(OperEntry("x", "h", frozenset("h")), ["u@h"], True, need="a") == \
        "operator entry lacks flag a"
