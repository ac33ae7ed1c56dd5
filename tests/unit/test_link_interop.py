"""Defects found by linking a real ircd-hybrid 8.2 to us (tests/network/test_hybrid_interop.py),
each reproduced here on two in-memory servers running the real TS6 modules."""

from __future__ import annotations

from typing import Any

from conferenceroom.link.wiring import attach, load_ts6
from conferenceroom.wire import parse
from tests.helpers import feed, make_oper, register
from tests.unit.linkpair import Pair, linked, oper_on, soprano_and_tenor


def real_pair() -> tuple[Any, Any, Pair]:
    """soprano (hub) and tenor (leaf) with the real TS6 handlers, burst and relays, linked."""
    soprano, tenor = soprano_and_tenor()
    ts6 = load_ts6()
    for core in (soprano, tenor):
        attach(core, ts6)
    pair = linked(soprano, tenor)
    assert len(soprano.links) == len(tenor.links) == 1
    return soprano, tenor, pair


def global_notices(conn: Any) -> list[str]:
    """``*** Global -- ...`` notice texts a client was sent since the last call (cleared)."""
    data = conn.transport.value()
    conn.transport.clear()
    texts = [parse(raw).params[-1] for raw in data.split(b"\r\n") if raw]
    return [t for t in texts if t.startswith("*** Global -- ")]


def test_globops_from_a_local_operator_reaches_operators_on_linked_servers() -> None:
    """GLOBOPS typed on tenor reaches soprano's +s operators as a Global notice (it went to
    tenor's own operators only, so hybrid's operators never saw our GLOBOPS)."""
    soprano, tenor, pair = real_pair()
    watcher = oper_on(soprano, "watcher")
    sender = register(tenor, "sender")
    make_oper(sender, "o", "Sender")
    feed(sender, "GLOBOPS :rebooting the hub at noon")
    pair.pump()
    assert global_notices(watcher) == ["*** Global -- from sender: rebooting the hub at noon"]
    [line] = [m for m in pair.lines("a>p") if m.command == "GLOBOPS"]
    assert (line.source, line.params) == (sender.user.uid, ("rebooting the hub at noon",))
