"""The Router: each local member once, each remote route once, never back to the origin."""

from __future__ import annotations

from twisted.internet import task

from conferenceroom.events import HERE
from conferenceroom.network import Network, Server, User
from conferenceroom.routing import Router
from conferenceroom.wire import Message
from tests.helpers import RecordingRoute
from conferenceroom.routing import Relay


class LocalRoute:
    """A local client connection that records what it was sent."""

    is_client = True

    def __init__(self, caps: set[str] | None = None) -> None:
        self.caps = caps or set()
        self.got: list[Message] = []

    def send(self, message: Message) -> None:
        """Record ``message``."""
        self.got.append(message)


class World:
    """A network with two local users and two remote users on one link, all in #c."""

    def __init__(self) -> None:
        clock = task.Clock()
        self.network = Network(Server("me.test", "0AA"), clock)
        self.router = Router(self.network)
        self.link = RecordingRoute()
        self.other_link = RecordingRoute()
        self.remote = Server("remote.test", "1RM", uplink=self.network.me, route=self.link, hopcount=1)
        self.network.add_server(self.remote, origin=self.link)
        self.far = Server("far.test", "2FR", uplink=self.network.me, route=self.other_link, hopcount=1)
        self.network.add_server(self.far, origin=self.other_link)
        self.a = self.local("alice")
        self.b = self.local("bob", {"multi-prefix"})
        self.r1 = self.user("rem1", self.remote)
        self.r2 = self.user("rem2", self.remote)
        for user in (self.a, self.b, self.r1, self.r2):
            self.network.join(user, "#c", origin=HERE if user.route.is_client else user.route)
        channel = self.network.find_channel("#c")
        assert channel is not None
        self.channel = channel

    def local(self, nick: str, caps: set[str] | None = None) -> User:
        """A local user with a recording connection."""
        user = User(self.network.next_uid(), nick, nick, "h", nick, self.network.me, LocalRoute(caps))
        self.network.add_user(user)
        return user

    def user(self, nick: str, server: Server) -> User:
        """A user behind ``server``'s link."""
        user = User(server.sid + nick.upper().ljust(6, "A")[:6], nick, nick, "h", nick, server, server.route)
        self.network.add_user(user, origin=server.route)
        return user


MSG = Message("PRIVMSG", ("#c", "hi"), "x!y@z")
SENDER = User("0AAZZZZZZ", "x", "y", "z", "sender", Server("me.test", "0AA"), None)


def test_to_channel_locals_once_and_route_once() -> None:
    """Each local member gets the line once; the shared remote route gets one relay."""
    w = World()
    w.router.to_channel(w.channel, MSG, sender=SENDER)
    assert w.a.route.got == [MSG] and w.b.route.got == [MSG]
    assert w.link.relayed == [(MSG, w.channel, HERE)] and w.link.relays[0].sender is SENDER
    assert w.other_link.relayed == []


def test_to_channel_exclude_sender() -> None:
    """``exclude`` leaves the sender out (no echo without echo-message)."""
    w = World()
    w.router.to_channel(w.channel, MSG, exclude=w.a, sender=SENDER)
    assert w.a.route.got == [] and w.b.route.got == [MSG]
    assert len(w.link.relayed) == 1


def test_to_channel_never_back_to_origin_route() -> None:
    """A message that arrived over a link is not relayed back over it."""
    w = World()
    w.router.to_channel(w.channel, MSG, exclude=w.r1, origin=w.link)
    assert w.link.relayed == []
    assert w.a.route.got == [MSG] and w.b.route.got == [MSG]


def test_to_channel_relays_per_route() -> None:
    """Members behind two different links give one relay on each, carrying the origin."""
    w = World()
    far_user = w.user("far", w.far)
    w.network.join(far_user, "#c", origin=w.other_link)
    w.router.to_channel(w.channel, MSG, origin="somewhere", sender=SENDER)
    assert len(w.link.relayed) == 1 and len(w.other_link.relayed) == 1
    assert w.other_link.relayed[0] == (MSG, w.channel, "somewhere")


def test_statusmsg_filters_by_rank() -> None:
    """``@`` (or ``o``) reaches operators and owners only; ``+`` adds voiced members."""
    w = World()
    w.channel.members[w.a].status = {"o"}
    w.channel.members[w.b].status = {"v"}
    w.router.to_channel(w.channel, MSG, status="@", sender=SENDER)
    assert w.a.route.got == [MSG] and w.b.route.got == []
    assert w.link.relayed == []
    w.a.route.got.clear()
    w.router.to_channel(w.channel, MSG, status="o")
    assert w.a.route.got == [MSG] and w.b.route.got == []
    w.a.route.got.clear()
    w.router.to_channel(w.channel, MSG, status="+")
    assert w.a.route.got == [MSG] and w.b.route.got == [MSG]


def test_statusmsg_owner_counts_as_op_and_remote_op_relayed() -> None:
    """An owner (``~``/q) gets ``@`` messages; a remote op causes one relay."""
    w = World()
    w.channel.members[w.a].status = {"q"}
    w.channel.members[w.r2].status = {"o"}
    w.router.to_channel(w.channel, MSG, status="@", sender=SENDER)
    assert w.a.route.got == [MSG] and w.b.route.got == []
    assert len(w.link.relayed) == 1
    w.a.route.got.clear()
    w.router.to_channel(w.channel, MSG, status="~", sender=SENDER)
    assert w.a.route.got == [MSG]
    assert len(w.link.relayed) == 1


def test_to_user_local_and_remote() -> None:
    """to_user sends to a local connection, relays to a remote user, skips the origin."""
    w = World()
    w.router.to_user(w.a, MSG)
    assert w.a.route.got == [MSG]
    w.router.to_user(w.r1, MSG, origin="x", sender=SENDER)
    assert w.link.relayed == [(MSG, w.r1, "x")]
    w.router.to_user(w.r1, MSG, origin=w.link, sender=SENDER)
    assert len(w.link.relayed) == 1


def test_to_local_filters() -> None:
    """to_local skips remote users, the excluded one, and filters by capability."""
    w = World()
    everyone = [w.a, w.b, w.r1, w.a]
    w.router.to_local({w.a, w.b, w.r1}, MSG, exclude=w.b)
    assert w.a.route.got == [MSG] and w.b.route.got == [] and w.link.relayed == []
    w.a.route.got.clear()
    w.router.to_local(everyone[:3], MSG, cap="multi-prefix")
    assert w.a.route.got == [] and w.b.route.got == [MSG]
    w.b.route.got.clear()
    w.router.to_local(everyone[:3], MSG, without_cap="multi-prefix")
    assert w.a.route.got == [MSG] and w.b.route.got == []


def test_to_local_builder_per_recipient() -> None:
    """A callable builds the message per recipient; None skips that one."""
    w = World()
    w.router.to_local([w.a, w.b], lambda u: None if u is w.a else Message("NOTICE", (u.nick, "x")))
    assert w.a.route.got == [] and w.b.route.got == [Message("NOTICE", ("bob", "x"))]


def test_to_opers() -> None:
    """to_opers reaches local operators holding the flag."""
    w = World()
    w.network.set_oper(w.a, "root", frozenset("a"))
    w.network.set_oper(w.r1, "root", frozenset("a"))
    w.router.to_opers(lambda u: Message("NOTICE", (u.nick, "hey")), flag="a")
    assert w.a.route.got == [Message("NOTICE", ("alice", "hey"))]
    assert w.b.route.got == [] and w.link.relayed == []
    w.router.to_opers(lambda u: Message("NOTICE", (u.nick, "hey")), flag="c")
    assert len(w.a.route.got) == 1


def test_is_local() -> None:
    """is_local tells client routes from links."""
    w = World()
    assert Router.is_local(w.a) and not Router.is_local(w.r1)


def test_to_opers_user_mode_and_exclude() -> None:
    """to_opers can require a user mode (+s server notices) and leave one operator out."""
    w = World()
    w.network.set_oper(w.a, "root", frozenset("a"))
    w.network.set_oper(w.b, "root", frozenset("a"))
    w.b.set_mode("s")
    w.router.to_opers(lambda u: Message("NOTICE", (u.nick, "snote")), user_mode="s")
    assert w.a.route.got == [] and w.b.route.got == [Message("NOTICE", ("bob", "snote"))]
    w.router.to_opers(lambda u: Message("NOTICE", (u.nick, "hi")), exclude=w.b)
    assert w.a.route.got == [Message("NOTICE", ("alice", "hi"))] and len(w.b.route.got) == 1


def test_deliver_renders_client_form_and_hands_links_the_objects() -> None:
    """deliver: local members get nick!user@host; the link gets one Relay with the sender and channel objects."""
    w = World()
    out = w.router.deliver(w.a, w.channel, "PRIVMSG", ("#c", "hello"), exclude=w.a, tags={"msgid": "1"})
    assert out == Message("PRIVMSG", ("#c", "hello"), "alice!alice@h")
    assert w.b.route.got == [out] and w.a.route.got == []
    [relay] = w.link.relays
    assert relay == Relay(w.a, w.channel, out, HERE) and relay.message.tags == {"msgid": "1"}
    assert w.other_link.relays == []


def test_deliver_from_a_remote_user_never_goes_back() -> None:
    """A message from a user behind a link reaches locals and other links, never its own link."""
    w = World()
    far_user = w.user("far", w.far)
    w.network.join(far_user, "#c", origin=w.other_link)
    w.router.deliver(w.r1, w.channel, "NOTICE", ("#c", "x"), exclude=w.r1, origin=w.link)
    assert w.link.relays == [] and [r.sender for r in w.other_link.relays] == [w.r1]
    assert w.a.route.got[0].source == "rem1!rem1@h"


def test_deliver_to_a_mask_once_per_link() -> None:
    """A mask or broadcast delivery reaches each local recipient once and each link once, whatever its users."""
    w = World()
    w.r1.set_mode("w")
    w.r2.set_mode("w")
    w.b.set_mode("w")
    readers = [u for u in w.network.users_by_uid.values() if "w" in u.modes]
    w.router.deliver(w.a, "*", "WALLOPS", ("news",), recipients=readers)
    assert [r.target for r in w.link.relays] == ["*"] and w.link.relays[0].sender is w.a
    assert w.b.route.got == [Message("WALLOPS", ("news",), "alice!alice@h")] and w.a.route.got == []
    w.router.deliver(w.r1, "*", "WALLOPS", ("back",), recipients=readers, origin=w.link)
    assert len(w.link.relays) == 1


def test_deliver_to_a_server_and_statusmsg_relay() -> None:
    """A server target goes to its route only; a STATUSMSG relay says which status it was for."""
    w = World()
    w.router.deliver(w.a, w.remote, "VERSION", ("remote.test",))
    assert [(r.target, r.message.source) for r in w.link.relays] == [(w.remote, "alice!alice@h")]
    w.router.deliver(w.a, w.network.me, "VERSION", ("me.test",))
    assert len(w.link.relays) == 1
    w.channel.members[w.r1].status = {"v"}
    w.router.deliver(w.a, w.channel, "PRIVMSG", ("+#c", "v"), status="+", exclude=w.a)
    assert w.link.relays[-1].status == "v"


def test_link_without_sender_is_a_plain_error() -> None:
    """Reaching a link through to_user without a sender object is refused loudly, not sent half-formed."""
    w = World()
    try:
        w.router.to_user(w.r1, MSG)
    except ValueError as exc:
        assert "sender" in str(exc)
    else:
        raise AssertionError("relayed without a sender")
