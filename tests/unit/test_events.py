"""The event bus: subscribers in order, each only for the kinds of event it asked for."""

from __future__ import annotations

import pytest

from conferenceroom import events as ev
from conferenceroom.network import Server


def _server(name: str = "a.test") -> Server:
    return Server(name, "1AA")


def test_subscriber_with_kinds_gets_only_those_events() -> None:
    """A subscriber naming ServerIntroduced is not called for an AwayChanged; one without kinds gets both."""
    bus = ev.EventBus()
    every: list[ev.Event] = []
    servers: list[ev.Event] = []
    bus.subscribe(every.append)
    bus.subscribe(servers.append, kinds=(ev.ServerIntroduced,))
    introduced = ev.ServerIntroduced(_server())
    away = ev.AwayChanged(object())  # type: ignore[arg-type]
    bus.emit(away)
    bus.emit(introduced)
    assert every == [away, introduced]
    assert servers == [introduced]


def test_kinds_keep_subscription_order() -> None:
    """Subscribers of one kind are called in the order they subscribed, filtered or not."""
    bus = ev.EventBus()
    calls: list[str] = []
    bus.subscribe(lambda e: calls.append("first"), kinds=(ev.ServerIntroduced,))
    bus.subscribe(lambda e: calls.append("second"))
    bus.subscribe(lambda e: calls.append("third"), kinds=(ev.ServerIntroduced, ev.NetSplit))
    bus.emit(ev.ServerIntroduced(_server()))
    assert calls == ["first", "second", "third"]


def test_subscribing_later_is_seen_by_the_next_event() -> None:
    """A subscriber added after events of a kind were emitted gets the next event of that kind."""
    bus = ev.EventBus()
    early: list[ev.Event] = []
    late: list[ev.Event] = []
    bus.subscribe(early.append, kinds=(ev.ServerIntroduced,))
    bus.emit(ev.ServerIntroduced(_server("a.test")))
    bus.subscribe(late.append, kinds=(ev.ServerIntroduced,))
    second = ev.ServerIntroduced(_server("b.test"))
    bus.emit(second)
    assert late == [second] and len(early) == 2


def test_unsubscribe_stops_delivery_and_unknown_raises() -> None:
    """After unsubscribe a filtered subscriber hears nothing; unsubscribing a stranger is an error."""
    bus = ev.EventBus()
    seen: list[ev.Event] = []
    bus.subscribe(seen.append, kinds=(ev.ServerIntroduced,))
    bus.emit(ev.ServerIntroduced(_server()))
    bus.unsubscribe(seen.append)
    bus.emit(ev.ServerIntroduced(_server()))
    assert len(seen) == 1
    with pytest.raises(ValueError):
        bus.unsubscribe(seen.append)


def test_subscriber_added_during_emit_waits_for_the_next_event() -> None:
    """A subscriber that subscribes another while an event is delivered does not change that delivery."""
    bus = ev.EventBus()
    added: list[ev.Event] = []

    def first(event: ev.Event) -> None:
        if not added:
            bus.subscribe(added.append)
            added.append(event)  # marker: subscribed once

    bus.subscribe(first)
    one = ev.ServerIntroduced(_server())
    bus.emit(one)
    assert added == [one]
    two = ev.ServerIntroduced(_server())
    bus.emit(two)
    assert added == [one, two]


def test_event_constructor_checks_origin_and_defaults_netjoin() -> None:
    """An event built with keywords equals one built positionally (netjoin False); origin None is refused."""
    server = _server()
    members = {server: None}.keys()
    built = ev.ChannelParted(server, "chan", "bye", members, origin="L")  # type: ignore[arg-type]
    keywords = ev.ChannelParted(user=server, channel="chan", reason="bye", members=members, origin="L")  # type: ignore[arg-type]
    assert keywords == built and keywords.netjoin is False and keywords.origin == "L"
    with pytest.raises(TypeError):
        ev.ChannelParted(server, "chan", None, members, origin=None)  # type: ignore[arg-type]