"""MONITOR and extended-monitor as a client sees them (local and remote users)."""

from conferenceroom.client.monitor import MONITOR_LIMIT
from conferenceroom.network import Server
from tests.helpers import (
    feed, join_channel, make_core, make_remote_server, make_remote_user, register, sent,
)


def _isupport(core, conn) -> str:
    feed(conn, "VERSION")
    return " ".join(" ".join(m.params) for m in sent(conn) if m.command == "005")


def test_isupport_advertises_monitor_limit() -> None:
    """005 carries MONITOR=<limit> and extended-monitor is offered in CAP LS."""
    core = make_core()
    alice = register(core, "alice")
    assert f"MONITOR={MONITOR_LIMIT}" in _isupport(core, alice)
    assert "extended-monitor" in core.capabilities


def test_monitor_add_reports_online_and_offline() -> None:
    """MONITOR + answers 730 with the full mask of online targets and 731 for the others."""
    core = make_core()
    alice, _ = register(core, "alice"), register(core, "bob")
    feed(alice, "MONITOR + Bob,carol")
    got = sent(alice)
    assert [(m.command, m.params[1]) for m in got] == [
        ("730", "bob!~bob@127.0.0.1"), ("731", "carol")]


def test_monitor_sign_on_nick_change_and_quit() -> None:
    """A watcher sees 730 when the nick signs on, 731/730 around a nick change and 731 on quit."""
    core = make_core()
    alice = register(core, "alice")
    feed(alice, "MONITOR + bob,robert")
    sent(alice)
    bob = register(core, "bob")
    assert [(m.command, m.params[1]) for m in sent(alice)] == [("730", "bob!~bob@127.0.0.1")]
    feed(bob, "NICK robert")
    assert [(m.command, m.params[1]) for m in sent(alice)] == [
        ("731", "bob"), ("730", "robert!~bob@127.0.0.1")]
    feed(bob, "QUIT :bye")
    assert [(m.command, m.params[1]) for m in sent(alice)] == [("731", "robert")]


def test_monitor_remove_clear_list_and_status() -> None:
    """MONITOR - and C answer nothing; L lists the targets (732, 733); S gives 730/731 for each."""
    core = make_core()
    alice, _ = register(core, "alice"), register(core, "bob")
    feed(alice, "MONITOR + bob,carol,dave")
    sent(alice)
    feed(alice, "MONITOR - dave")
    assert sent(alice) == []
    feed(alice, "MONITOR L")
    got = sent(alice)
    assert [m.command for m in got] == ["732", "733"]
    assert set(got[0].params[1].split(",")) == {"bob", "carol"}
    feed(alice, "MONITOR S")
    assert sorted((m.command, m.params[1]) for m in sent(alice)) == [
        ("730", "bob!~bob@127.0.0.1"), ("731", "carol")]
    feed(alice, "MONITOR C")
    assert sent(alice) == []
    feed(alice, "MONITOR L")
    assert [m.command for m in sent(alice)] == ["733"]


def test_monitor_list_full_734() -> None:
    """Beyond the limit, 734 names the limit and the targets not added; the rest stay."""
    core = make_core()
    alice = register(core, "alice")
    names = [f"n{i}" for i in range(MONITOR_LIMIT)]
    feed(alice, "MONITOR + " + ",".join(names[:-1]))
    sent(alice)
    feed(alice, "MONITOR + last,extra")
    got = sent(alice)
    assert got[0].command == "734" and got[0].params[1:3] == (str(MONITOR_LIMIT), "extra")
    assert [(m.command, m.params[1]) for m in got[1:]] == [("731", "last")]


def test_monitor_masks_and_bad_nicks_are_not_watched() -> None:
    """A hostmask target is not a nick: it is not watched, so no 730 follows a sign-on."""
    core = make_core()
    alice = register(core, "alice")
    feed(alice, "MONITOR + *!bob@127.0.0.1")
    sent(alice)
    register(core, "bob")
    assert sent(alice) == []
    feed(alice, "MONITOR L")
    assert [m.command for m in sent(alice)] == ["733"]


def test_monitor_without_subcommand_461() -> None:
    """MONITOR alone is 461; an unknown subcommand is answered, not ignored."""
    core = make_core()
    alice = register(core, "alice")
    feed(alice, "MONITOR")
    assert [m.command for m in sent(alice)] == ["461"]
    feed(alice, "MONITOR X foo")
    got = sent(alice)
    assert got and got[0].command in ("FAIL", "421", "461")


def test_monitor_long_replies_are_split_under_512_bytes() -> None:
    """A full list of long nicks is split across several 731/732 lines of at most 512 bytes."""
    core = make_core()
    alice = register(core, "alice")
    names = [f"nick{i:02d}xxxxxxxxxxxxxxxxxxxxxx" for i in range(MONITOR_LIMIT)]
    for start in range(0, len(names), 10):
        feed(alice, "MONITOR + " + ",".join(names[start:start + 10]))
    lines = alice.transport.value().split(b"\r\n")
    assert all(len(line) <= 510 for line in lines)
    alice.transport.clear()
    feed(alice, "MONITOR L")
    got = sent(alice)
    listed = [n for m in got if m.command == "732" for n in m.params[1].split(",")]
    assert sorted(listed) == sorted(names) and len(got) > 2


def test_monitor_sees_remote_users_and_netsplit() -> None:
    """Remote sign-ons, nick changes and a netsplit reach watchers from the network model."""
    core = make_core()
    alice = register(core, "alice")
    feed(alice, "MONITOR + rob,robby")
    sent(alice)
    server = make_remote_server(core)
    rob = make_remote_user(core, server, "rob")
    assert [(m.command, m.params[1]) for m in sent(alice)] == [("730", "rob!~rob@remote.host")]
    core.network.change_nick(rob, "robby", origin=server.route)
    assert [m.command for m in sent(alice)] == ["731", "730"]
    core.network.remove_server(server, "gone", origin=server.route)
    assert [(m.command, m.params[1]) for m in sent(alice)] == [("731", "robby")]


def test_watcher_quitting_forgets_its_list() -> None:
    """A watcher that leaves stops being told (and nothing is sent to its closed connection)."""
    core = make_core()
    alice = register(core, "alice")
    feed(alice, "MONITOR + bob")
    feed(alice, "QUIT")
    register(core, "bob")
    assert not core.monitor.watchers


def test_extended_monitor_away_and_no_duplicates() -> None:
    """With extended-monitor and away-notify a watcher sees AWAY of a monitored nick once,
    even when it also shares a channel; without away-notify it sees nothing."""
    core = make_core()
    alice = register(core, "alice", caps="extended-monitor away-notify")
    carol = register(core, "carol", caps="extended-monitor")
    feed(alice, "MONITOR + bob")
    feed(carol, "MONITOR + bob")
    bob = register(core, "bob")
    sent(alice), sent(carol)
    feed(bob, "AWAY :afk")
    got = sent(alice)
    assert [(m.command, m.source, m.params) for m in got] == [("AWAY", "bob!~bob@127.0.0.1", ("afk",))]
    assert sent(carol) == []
    join_channel(core, alice, "#c")
    join_channel(core, bob, "#c")
    sent(alice)
    feed(bob, "AWAY")
    assert [(m.command, m.params) for m in sent(alice)] == [("AWAY", ())]


def test_extended_monitor_setname_and_chghost() -> None:
    """extended-monitor watchers with setname / chghost see SETNAME and CHGHOST of the nick."""
    core = make_core()
    alice = register(core, "alice", caps="extended-monitor setname chghost")
    feed(alice, "MONITOR + bob")
    bob = register(core, "bob", caps="setname")
    sent(alice)
    feed(bob, "SETNAME :Robert")
    assert [(m.command, m.params) for m in sent(alice)] == [("SETNAME", ("Robert",))]
    core.network.set_host(bob.user, "~bob", "new.host")
    assert [(m.command, m.params) for m in sent(alice)] == [("CHGHOST", ("~bob", "new.host"))]
