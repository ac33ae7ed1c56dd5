"""PRIVMSG, NOTICE, TAGMSG, WALLOPS, AWAY, ISON and USERHOST as a client sees them."""

from conferenceroom.modes import ModeChange
from conferenceroom.events import HERE
from conferenceroom.wire import Message
from tests.helpers import (
    feed, join_channel, make_core, make_oper, make_remote_server, make_remote_user, make_settings, register, sent,
    sent_codes,
)


# -- PRIVMSG / NOTICE to users -------------------------------------------------------


def test_privmsg_to_user() -> None:
    """A private message reaches its target with the sender's full mask as source."""
    core = make_core()
    alice, bob = register(core, "alice"), register(core, "bob")
    feed(alice, "PRIVMSG Bob :hello there")
    assert sent(alice) == []
    (got,) = sent(bob)
    assert got == Message("PRIVMSG", ("bob", "hello there"), "alice!~alice@127.0.0.1")


def test_notice_to_user() -> None:
    """NOTICE reaches a user like PRIVMSG does."""
    core = make_core()
    alice, bob = register(core, "alice"), register(core, "bob")
    feed(alice, "NOTICE bob :psst")
    assert sent(bob) == [Message("NOTICE", ("bob", "psst"), "alice!~alice@127.0.0.1")]


def test_privmsg_no_such_nick() -> None:
    """An unknown nick gets 401 with that nick."""
    core = make_core()
    alice = register(core, "alice")
    feed(alice, "PRIVMSG nobody :hi")
    (reply,) = sent(alice)
    assert reply.command == "401" and reply.params[:2] == ("alice", "nobody")


def test_privmsg_no_recipient_and_no_text() -> None:
    """No target gives 411 naming the command; no or empty text gives 412."""
    core = make_core()
    alice = register(core, "alice")
    register(core, "bob")
    feed(alice, "PRIVMSG")
    (reply,) = sent(alice)
    assert reply.command == "411" and "PRIVMSG" in reply.params[-1]
    feed(alice, "PRIVMSG bob")
    assert sent_codes(alice) == ["412"]
    feed(alice, "PRIVMSG bob :")
    assert sent_codes(alice) == ["412"]


def test_notice_errors_are_never_answered() -> None:
    """NOTICE to nobody, without text, or to too many targets gets no reply."""
    core = make_core()
    alice = register(core, "alice")
    feed(alice, "NOTICE nobody :hi", "NOTICE #nochan :hi", "NOTICE", "NOTICE alice",
         "NOTICE a,b,c,d,e :hi", "NOTICE $*.net :hi")
    assert sent(alice) == []


def test_privmsg_away_target_gets_301() -> None:
    """PRIVMSG to an away user still delivers, and the sender gets 301; NOTICE does not."""
    core = make_core()
    alice, bob = register(core, "alice"), register(core, "bob")
    feed(bob, "AWAY :gone fishing")
    sent(bob)
    feed(alice, "PRIVMSG bob :hi")
    (reply,) = sent(alice)
    assert reply.command == "301" and reply.params == ("alice", "bob", "gone fishing")
    assert [m.command for m in sent(bob)] == ["PRIVMSG"]
    feed(alice, "NOTICE bob :hi")
    assert sent(alice) == []


def test_privmsg_multiple_targets_and_duplicates() -> None:
    """Comma-separated targets each get the message once, even if named twice."""
    core = make_core()
    alice, bob, carol = (register(core, n) for n in ("alice", "bob", "carol"))
    feed(alice, "PRIVMSG bob,carol,BOB :hi all")
    assert len(sent(bob)) == 1
    assert sent(carol)[0].params == ("carol", "hi all")


def test_privmsg_too_many_targets() -> None:
    """More than MAXTARGETS (4) distinct targets gives 407 and delivers nothing."""
    core = make_core()
    alice, bob = register(core, "alice"), register(core, "bob")
    feed(alice, "PRIVMSG bob,c1,c2,c3,c4 :hi")
    (reply,) = sent(alice)
    assert reply.command == "407" and reply.params[1] == "c4"
    assert sent(bob) == []


def test_privmsg_updates_idle_time() -> None:
    """PRIVMSG resets the sender's idle time."""
    core = make_core()
    alice = register(core, "alice")
    register(core, "bob")
    core.clock.advance(100)
    feed(alice, "PRIVMSG bob :hi")
    assert alice.user.last_active == core.clock.seconds()


# -- channels ---------------------------------------------------------------------------------


def test_privmsg_to_channel() -> None:
    """A channel message reaches every other member, not the sender."""
    core = make_core()
    alice, bob, carol = (register(core, n) for n in ("alice", "bob", "carol"))
    join_channel(core, alice, "#chan")
    join_channel(core, bob, "#chan")
    feed(alice, "PRIVMSG #CHAN :hello channel")
    assert sent(alice) == []
    assert sent(bob) == [Message("PRIVMSG", ("#chan", "hello channel"), "alice!~alice@127.0.0.1")]
    assert sent(carol) == []


def test_privmsg_no_such_channel() -> None:
    """A channel that does not exist gives 401 with its name."""
    core = make_core()
    alice = register(core, "alice")
    feed(alice, "PRIVMSG #nowhere :hi")
    (reply,) = sent(alice)
    assert reply.command == "401" and reply.params[1] == "#nowhere"


def test_privmsg_cannot_send_no_external() -> None:
    """A non-member sending to a +n channel gets 404 and nobody receives it."""
    core = make_core()
    alice, bob = register(core, "alice"), register(core, "bob")
    channel = join_channel(core, bob, "#chan", "o")
    core.network.apply_channel_modes(bob.user, channel, [ModeChange(True, "n")])
    sent(bob)
    feed(alice, "PRIVMSG #chan :let me in")
    (reply,) = sent(alice)
    assert reply.command == "404" and reply.params[1] == "#chan"
    assert reply.params[2].startswith("Cannot send to channel")
    assert sent(bob) == []


def test_privmsg_cannot_send_moderated_and_banned() -> None:
    """+m silences members without voice; a banned member gets 404 too."""
    core = make_core()
    alice, bob = register(core, "alice"), register(core, "bob")
    channel = join_channel(core, bob, "#chan", "o")
    join_channel(core, alice, "#chan")
    core.network.apply_channel_modes(bob.user, channel, [ModeChange(True, "m")])
    sent(alice), sent(bob)
    feed(alice, "PRIVMSG #chan :hello?")
    assert sent_codes(alice) == ["404"]
    core.network.apply_channel_modes(
        bob.user, channel, [ModeChange(False, "m"), ModeChange(True, "b", "alice!*@*")]
    )
    sent(alice), sent(bob)
    feed(alice, "PRIVMSG #chan :hello?")
    assert sent_codes(alice) == ["404"]
    assert sent(bob) == []
    feed(alice, "NOTICE #chan :hello?")
    assert sent(alice) == [] and sent(bob) == []


def test_statusmsg_reaches_only_operators() -> None:
    """PRIVMSG @#chan goes only to members with op or higher, keeping the @ target."""
    core = make_core()
    op, voiced, plain = (register(core, n) for n in ("op", "voiced", "plain"))
    join_channel(core, op, "#chan", "o")
    join_channel(core, voiced, "#chan", "v")
    join_channel(core, plain, "#chan")
    feed(plain, "PRIVMSG @#chan :for operators")
    assert sent(plain) == []
    assert sent(op) == [Message("PRIVMSG", ("@#chan", "for operators"), "plain!~plain@127.0.0.1")]
    assert sent(voiced) == []
    feed(plain, "NOTICE +#chan :for voices")
    assert [m.params[0] for m in sent(op)] == ["+#chan"]
    assert [m.params[0] for m in sent(voiced)] == ["+#chan"]


def test_statusmsg_owner_prefix() -> None:
    """~#chan reaches only channel owners; `.` is no status prefix any more."""
    core = make_core()
    owner, op = register(core, "owner"), register(core, "op")
    join_channel(core, owner, "#chan", "q")
    join_channel(core, op, "#chan", "o")
    feed(op, "PRIVMSG ~#chan :owners only")
    assert sent(op) == [] and sent(owner)[0].params[0] == "~#chan"
    feed(op, "PRIVMSG .#chan :owners only")
    assert [m.command for m in sent(op)] == ["401"] and sent(owner) == []


# -- remote targets ------------------------------------------------------------------------------


def test_privmsg_to_remote_user_is_relayed_once() -> None:
    """A message to a user behind a link is relayed through its route once."""
    core = make_core()
    server = make_remote_server(core)
    remote = make_remote_user(core, server, "rob")
    alice = register(core, "alice")
    feed(alice, "PRIVMSG rob :over the wire")
    (relayed,) = server.route.relayed
    message, target, origin = relayed
    assert message.command == "PRIVMSG" and message.params == ("rob", "over the wire")
    assert message.source == "alice!~alice@127.0.0.1"
    assert target is remote and origin is HERE
    assert server.route.relays[0].sender is alice.user  # the link renders its UID


def test_channel_message_relayed_once_per_route() -> None:
    """Two remote members behind one link cost one relay; the origin route gets none."""
    core = make_core()
    server = make_remote_server(core)
    rob, ron = make_remote_user(core, server, "rob"), make_remote_user(core, server, "ron")
    alice = register(core, "alice")
    join_channel(core, alice, "#chan")
    core.network.join(rob, "#chan", origin=server.route)
    core.network.join(ron, "#chan", origin=server.route)
    sent(alice)
    feed(alice, "PRIVMSG #chan :everyone")
    assert len(server.route.relayed) == 1
    assert server.route.relayed[0][1].name == "#chan"


def test_echo_message_to_channel_and_user() -> None:
    """With echo-message the sender gets its own message back, same as recipients."""
    core = make_core()
    alice = register(core, "alice", caps="echo-message")
    bob = register(core, "bob")
    join_channel(core, alice, "#chan")
    feed(alice, "PRIVMSG #chan :alone here", "NOTICE bob :hi bob")
    echoes = sent(alice)
    assert echoes == [
        Message("PRIVMSG", ("#chan", "alone here"), "alice!~alice@127.0.0.1"),
        Message("NOTICE", ("bob", "hi bob"), "alice!~alice@127.0.0.1"),
    ]
    assert sent(bob) == [echoes[1]]


def test_echo_message_to_self_is_delivery_and_echo() -> None:
    """Messaging oneself with echo-message gives the delivered message and its echo (as
    Ergo and InspIRCd do, and as labeled-response needs: only the echo is the reply);
    without echo-message, one copy."""
    core = make_core()
    alice = register(core, "alice", caps="echo-message")
    feed(alice, "PRIVMSG alice :note to self")
    assert [m.params for m in sent(alice)] == [("alice", "note to self")] * 2
    bob = register(core, "bob")
    feed(bob, "PRIVMSG bob :note to self")
    assert len(sent(bob)) == 1


def test_client_tags_relayed_to_message_tags_clients() -> None:
    """+tags go to clients with message-tags (with a shared msgid), server tags are dropped."""
    core = make_core()
    alice = register(core, "alice", caps="message-tags echo-message")
    bob = register(core, "bob", caps="message-tags")
    carol = register(core, "carol")
    for conn in (alice, bob, carol):
        join_channel(core, conn, "#chan")
    feed(alice, "@+draft/react=yes;fizz=buzz PRIVMSG #chan :tagged")
    echo, = sent(alice)
    got, = sent(bob)
    assert got.tags["+draft/react"] == "yes" and "fizz" not in got.tags
    assert echo.tags["+draft/react"] == "yes"
    assert got.tags["msgid"] == echo.tags["msgid"]
    plain, = sent(carol)
    assert plain.tags == {} and plain.params == ("#chan", "tagged")


def test_client_tags_ignored_without_message_tags() -> None:
    """A sender that did not negotiate message-tags cannot pass client tags on."""
    core = make_core()
    alice = register(core, "alice")
    bob = register(core, "bob", caps="message-tags")
    feed(alice, "@+x=y PRIVMSG bob :hi")
    (got,) = sent(bob)
    assert "+x" not in got.tags and "msgid" in got.tags


def test_server_time_added_by_connection() -> None:
    """A recipient with server-time sees a time tag on delivered messages."""
    core = make_core()
    alice = register(core, "alice")
    bob = register(core, "bob", caps="server-time")
    feed(alice, "PRIVMSG bob :when?")
    (got,) = sent(bob)
    assert got.tags["time"].endswith("Z")


def test_tagmsg_only_to_message_tags_clients() -> None:
    """TAGMSG reaches members with message-tags only, with the client tags."""
    core = make_core()
    alice = register(core, "alice", caps="message-tags echo-message")
    bob = register(core, "bob", caps="message-tags")
    carol = register(core, "carol", caps="server-time")
    for conn in (alice, bob, carol):
        join_channel(core, conn, "#chan")
    feed(alice, "@+typing=active TAGMSG #chan")
    (got,) = sent(bob)
    assert got.command == "TAGMSG" and got.params == ("#chan",) and got.tags["+typing"] == "active"
    assert sent(carol) == []
    assert sent(alice)[0].command == "TAGMSG"
    feed(alice, "@+typing=active TAGMSG carol")
    assert sent(carol) == []


# -- masks ----------------------------------------------------------------------------------


def test_server_mask_needs_oper() -> None:
    """A non-operator sending to $mask gets 481."""
    core = make_core()
    alice = register(core, "alice")
    feed(alice, "PRIVMSG $*.local :hello all")
    assert sent_codes(alice) == ["481"]


def test_server_mask_reaches_local_and_remote_users() -> None:
    """An operator's $mask message reaches users on each matching server."""
    core = make_core()
    server = make_remote_server(core, "remote.local")
    rob = make_remote_user(core, server, "rob")
    oper, bob = register(core, "oper"), register(core, "bob")
    make_oper(oper)
    feed(oper, "PRIVMSG $*.local :maintenance soon")
    assert sent(bob) == [Message("PRIVMSG", ("$*.local", "maintenance soon"), oper.user.mask)]
    assert sent(oper) == []
    ron = make_remote_user(core, server, "ron")  # two users behind one link: still one relay
    feed(oper, "PRIVMSG $*.local :maintenance soon")
    assert rob in server.users and ron in server.users
    assert [(m.params, t) for m, t, _ in server.route.relayed] == [
        (("$*.local", "maintenance soon"), "$*.local")
    ] * 2


def test_mask_toplevel_errors() -> None:
    """A mask without a dot gives 413, a wildcard top level 414."""
    core = make_core()
    oper = register(core, "oper")
    make_oper(oper)
    feed(oper, "PRIVMSG $* :x")
    assert sent_codes(oper) == ["413"]
    feed(oper, "PRIVMSG $*.* :x")
    assert sent_codes(oper) == ["414"]
    feed(oper, "PRIVMSG #*.l?c* :x")
    assert sent_codes(oper) == ["414"]


def test_host_mask() -> None:
    """An operator's #hostmask message reaches users whose host matches."""
    core = make_core()
    server = make_remote_server(core)
    make_remote_user(core, server, "rob")
    oper, bob = register(core, "oper"), register(core, "bob")
    make_oper(oper)
    feed(oper, "NOTICE #*.0.0.1 :local hosts")
    assert sent(bob)[0].params == ("#*.0.0.1", "local hosts")
    assert server.route.relayed == []


# -- WALLOPS ------------------------------------------------------------------------------------


def test_wallops_to_plus_w_users() -> None:
    """WALLOPS from an operator reaches users with +w, local and remote."""
    core = make_core()
    server = make_remote_server(core)
    rob = make_remote_user(core, server, "rob")
    rob.set_mode("w")
    oper, bob, carol = (register(core, n) for n in ("oper", "bob", "carol"))
    make_oper(oper)
    bob.user.set_mode("w")
    feed(oper, "WALLOPS :network news")
    assert sent(bob) == [Message("WALLOPS", ("network news",), oper.user.mask)]
    assert sent(carol) == [] and sent(oper) == []
    assert [t for _, t, _ in server.route.relayed] == ["*"]  # once for the link, not per remote user
    server.route.relayed.clear()
    make_remote_user(core, server, "ron").set_mode("w")
    feed(oper, "WALLOPS :more news")
    assert len(server.route.relayed) == 1 and rob.modes == {"w"}


def test_wallops_needs_oper() -> None:
    """WALLOPS from a normal user gets 481."""
    core = make_core()
    alice = register(core, "alice")
    feed(alice, "WALLOPS :hi")
    assert sent_codes(alice) == ["481"]


# -- AWAY / ISON / USERHOST ---------------------------------------------------------------------


def test_away_set_and_clear() -> None:
    """AWAY :text gives 306, AWAY alone 305; peers with away-notify are told."""
    core = make_core()
    alice = register(core, "alice")
    bob = register(core, "bob", caps="away-notify")
    join_channel(core, alice, "#chan")
    join_channel(core, bob, "#chan")
    feed(alice, "AWAY :lunch")
    assert sent_codes(alice) == ["306"]
    assert alice.user.away == "lunch"
    assert sent(bob) == [Message("AWAY", ("lunch",), alice.user.mask)]
    feed(alice, "AWAY")
    assert sent_codes(alice) == ["305"]
    assert alice.user.away is None
    assert sent(bob) == [Message("AWAY", (), alice.user.mask)]
    feed(alice, "AWAY :")
    assert sent_codes(alice) == ["305"]


def test_away_text_is_truncated() -> None:
    """Away messages are cut to AWAYLEN (300)."""
    core = make_core()
    alice = register(core, "alice")
    feed(alice, "AWAY :" + "x" * 400)
    assert len(alice.user.away) == 300


def test_awaylen_counts_utf8_bytes_and_cuts_whole_characters() -> None:
    """AWAYLEN (300) is in bytes: 200 three-byte characters are cut to 100
    whole characters, and a text ending in a split character loses it whole."""
    core = make_core()
    alice = register(core, "alice")
    feed(alice, "AWAY :" + "\u20ac" * 160)
    assert alice.user.away == "\u20ac" * 100
    feed(alice, "AWAY :" + "x" * 299 + "\u00e9")
    assert alice.user.away == "x" * 299
    assert len(alice.user.away.encode()) <= 300


def test_ison() -> None:
    """ISON lists the online nicks in their own case, from one or many parameters."""
    core = make_core()
    alice = register(core, "alice")
    register(core, "Bob")
    feed(alice, "ISON bob nobody ALICE")
    assert sent(alice)[0].params == ("alice", "Bob alice")
    feed(alice, "ISON :nobody bob")
    assert sent(alice)[0].params == ("alice", "Bob")


def test_userhost() -> None:
    """USERHOST shows nick[*]=(+|-)user@host for up to five nicks."""
    core = make_core()
    alice, bob = register(core, "alice"), register(core, "bob")
    make_oper(bob)
    feed(bob, "AWAY :away")
    feed(alice, "USERHOST alice bob nobody")
    (reply,) = sent(alice)
    assert reply.command == "302"
    assert reply.params[1] == "alice=+~alice@127.0.0.1 bob*=-~bob@127.0.0.1"
    feed(alice, "USERHOST alice alice alice alice alice alice")
    assert len(sent(alice)[0].params[1].split()) == 5


def test_missing_parameters() -> None:
    """ISON, USERHOST, WALLOPS and TAGMSG without parameters get 461."""
    core = make_core()
    alice = register(core, "alice")
    for verb in ("ISON", "USERHOST", "TAGMSG"):
        feed(alice, verb)
        assert sent_codes(alice) == ["461"], verb


def test_ison_reply_always_fits_one_line() -> None:
    """ISON naming more online nicks than one reply line can hold answers whole nicks only."""
    core = make_core()
    for i in range(40):
        register(core, f"n{i:02d}" + "x" * 20, ip=f"192.0.2.{i + 1}")
    asker = register(core, "a" * 30)
    wanted = " ".join(f"n{i:02d}" + "x" * 20 for i in range(40))[:503]
    feed(asker, "ISON " + wanted)
    raw = asker.transport.value()
    [reply] = sent(asker)
    assert len(raw) <= 512
    online = reply.params[-1].split()
    assert online and all(n in wanted.split() for n in online)


def test_userhost_reply_always_fits_one_line() -> None:
    """Five long USERHOST entries (30-character nicks, 63-character hosts, a 63-character
    server name) would pass 512 bytes: the single 302 holds only the entries that fit
    whole, never one cut in the middle."""
    core = make_core(make_settings(name="irc." + "x" * 55 + ".org"))
    nicks = [f"n{i}" + "x" * 28 for i in range(5)]
    host = "h" * 59 + ".org"
    for i, nick in enumerate(nicks):
        conn = register(core, nick, ip=f"192.0.2.{i + 1}")
        core.network.set_host(conn.user, conn.user.ident, host)
    asker = register(core, "a" * 30)
    feed(asker, "USERHOST " + " ".join(nicks))
    raw = asker.transport.value()
    [reply] = sent(asker)
    assert len(raw) <= 512
    entries = reply.params[-1].split()
    assert 0 < len(entries) < 5
    assert entries == [f"{nick}=+~{nick[:9]}@{host}" for nick in nicks[: len(entries)]]
