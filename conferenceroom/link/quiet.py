# -*- test-case-name: tests.unit.test_link_protocol -*-
"""The garbage collector paused while accepted peers' bursts come in.

A burst builds tens of thousands of long-lived objects (users, memberships);
collecting while they are made walks them again and again, full passes
over a growing heap included, for no garbage.  The collector is paused from
a link's acceptance until the peer's EOB, the link's end or a time bound,
whichever comes first, and counted per link: it resumes (if it was on)
when the last holder lets go.  Nothing is frozen, so cyclic garbage made
meanwhile is found by the next collection.
"""

from __future__ import annotations

import gc
from typing import Any


class CollectorPause:
    """Who holds the collector paused; the first holder pauses it, the last one lets it run again."""

    def __init__(self, collector: Any = gc) -> None:
        self._gc = collector
        self._holders: set[object] = set()
        self._resume = False

    @property
    def holders(self) -> int:
        """How many holders keep the collector paused."""
        return len(self._holders)

    def hold(self, holder: object) -> None:
        """Pause the collector for ``holder`` (again: no effect)."""
        if holder in self._holders:
            return
        if not self._holders:
            self._resume = self._gc.isenabled()
            self._gc.disable()
        self._holders.add(holder)

    def release(self, holder: object) -> None:
        """``holder`` no longer needs the pause; the last one resumes a collector that was running."""
        if holder not in self._holders:
            return
        self._holders.discard(holder)
        if not self._holders and self._resume:
            self._gc.enable()


#: The process's one pause (the collector is process-wide).
PAUSE = CollectorPause()
