"""Channel commands: JOIN, PART, TOPIC, NAMES, INVITE, KICK, and the can_send/is_banned helpers."""

from __future__ import annotations

from conferenceroom.client.commands.channel import CHANLIMIT, can_send, is_banned
from conferenceroom.wire import Message
from tests.helpers import (
    make_settings,
    codes,
    connect,
    feed,
    joined,
    make_core,
    make_owner,
    make_remote_server,
    make_remote_user,
    register,
    sent,
)


def chan(core, name="#c"):
    """The channel ``name`` of ``core``'s network."""
    return core.network.find_channel(name)


# -- JOIN ------------------------------------------------------------------------


def test_join_creates_channel_with_op_and_sends_names() -> None:
    """The first joiner gets JOIN, then 353 with @nick and 366, and no 331."""
    core = make_core()
    alice = register(core, "alice")
    feed(alice, "JOIN #Chan")
    out = sent(alice)
    assert out[0] == Message("JOIN", ("#Chan",), "alice!~alice@127.0.0.1")
    assert codes(out[1:]) == ["353", "366"]
    assert out[1].params == ("alice", "=", "#Chan", "@alice")
    assert out[2].params[:2] == ("alice", "#Chan")


def test_join_existing_channel_shows_topic_and_tells_members() -> None:
    """Joining a channel with a topic gives 332/333 before NAMES; members see the JOIN."""
    core = make_core()
    alice = joined(core, "alice", "#c")
    feed(alice, "TOPIC #c :hello world")
    sent(alice)
    bob = register(core, "bob")
    feed(bob, "JOIN #C")
    out = sent(bob)
    assert out[0].command == "JOIN" and out[0].params == ("#c",)
    assert codes(out[1:]) == ["332", "333", "353", "366"]
    assert out[1].params == ("bob", "#c", "hello world")
    assert out[2].params[2] == "alice!~alice@127.0.0.1"
    assert out[3].params[3] == "@alice bob"
    assert sent(alice) == [Message("JOIN", ("#c",), "bob!~bob@127.0.0.1")]


def test_join_twice_is_ignored() -> None:
    """JOIN of a channel one is already on sends nothing."""
    core = make_core()
    alice = joined(core, "alice", "#c")
    feed(alice, "JOIN #c")
    assert sent(alice) == []


def test_join_bad_names() -> None:
    """An invalid channel name (no prefix, a bad character, longer than
    CHANNELLEN) is ERR_NOSUCHCHANNEL (403), which RFC 2812 defines as "the
    given channel name is invalid"; 476 is for masks, not names."""
    core = make_core()
    alice = register(core, "alice")
    feed(alice, "JOIN nochan", "JOIN #a\x07b", "JOIN #" + "x" * 60)
    assert codes(sent(alice)) == ["403", "403", "403"]


def test_join_list_with_keys() -> None:
    """Comma lists pair channels and keys by position."""
    core = make_core()
    alice = joined(core, "alice", "#a", "#b")
    feed(alice, "MODE #a +k ka", "MODE #b +k kb")
    bob = register(core, "bob")
    feed(bob, "JOIN #a,#b,#c ka,wrong")
    out = sent(bob)
    assert [m.params[0] for m in out if m.command == "JOIN"] == ["#a", "#c"]
    assert [m.params[1] for m in out if m.command == "475"] == ["#b"]


def test_join_key_required() -> None:
    """+k refuses a missing or wrong key with 475 and admits the right one."""
    core = make_core()
    alice = joined(core, "alice", "#c")
    feed(alice, "MODE #c +k beer")
    bob = register(core, "bob")
    feed(bob, "JOIN #c", "JOIN #c bees")
    assert codes(sent(bob)) == ["475", "475"]
    feed(bob, "JOIN #c beer")
    assert sent(bob)[0].command == "JOIN"


def test_join_limit() -> None:
    """+l refuses a joiner when the channel is full with 471."""
    core = make_core()
    alice = joined(core, "alice", "#c")
    feed(alice, "MODE #c +l 1")
    bob = register(core, "bob")
    feed(bob, "JOIN #c")
    assert sent(bob) == [Message("471", ("bob", "#c", "Cannot join channel (+l)"), "test.local")]


def test_join_invite_only_and_invite() -> None:
    """+i refuses with 473 until an INVITE, which is used up by the JOIN."""
    core = make_core()
    alice = joined(core, "alice", "#c")
    feed(alice, "MODE #c +i")
    bob = register(core, "bob")
    feed(bob, "JOIN #c")
    assert codes(sent(bob)) == ["473"]
    feed(alice, "INVITE bob #c")
    feed(bob, "JOIN #c")
    assert sent(bob)[1].command == "JOIN"
    feed(bob, "PART #c", "JOIN #c")
    assert codes(sent(bob))[-1] == "473"


def test_join_invite_exception() -> None:
    """A user matching an I-list mask joins a +i channel without an INVITE."""
    core = make_core()
    alice = joined(core, "alice", "#c")
    feed(alice, "MODE #c +iI bob!*@*")
    bob, carol = register(core, "bob"), register(core, "carol")
    feed(bob, "JOIN #c")
    feed(carol, "JOIN #c")
    assert sent(bob)[0].command == "JOIN"
    assert codes(sent(carol)) == ["473"]


def test_join_ban_and_exception() -> None:
    """A ban gives 474 unless an e-list mask matches; bans match the IP too."""
    core = make_core()
    alice = joined(core, "alice", "#c")
    feed(alice, "MODE #c +b *!*@127.0.0.1")
    bob = register(core, "bob")
    feed(bob, "JOIN #c")
    assert codes(sent(bob)) == ["474"]
    feed(alice, "MODE #c +e bob!*@*")
    feed(bob, "JOIN #c")
    assert sent(bob)[0].command == "JOIN"


def test_ban_matches_real_host_and_ip() -> None:
    """A user whose shown host differs is still caught by a ban on the real host or IP."""
    core = make_core()
    alice = joined(core, "alice", "#c")
    bob = register(core, "bob", ip="10.1.2.3")
    core.network.set_host(bob.user, "~bob", "cloaked.example")
    feed(alice, "MODE #c +b *!*@10.1.2.3")
    feed(bob, "JOIN #c")
    assert codes(sent(bob)) == ["474"]


def test_invite_overrides_limit_and_ban_but_not_key() -> None:
    """An invited user passes +l and +b, but still needs the key."""
    core = make_core()
    alice = joined(core, "alice", "#c")
    feed(alice, "MODE #c +lbk 1 bob!*@* sesame")
    bob = register(core, "bob")
    feed(alice, "INVITE bob #c")
    feed(bob, "JOIN #c")
    assert codes(sent(bob)) == ["INVITE", "475"]
    feed(bob, "JOIN #c sesame")
    assert sent(bob)[0].command == "JOIN"


def test_join_check_order() -> None:
    """With +k, +l, +i and +b all failing, the key error comes first."""
    core = make_core()
    alice = joined(core, "alice", "#c")
    feed(alice, "MODE #c +kilb key 1 bob!*@*")
    bob = register(core, "bob")
    feed(bob, "JOIN #c")
    assert codes(sent(bob)) == ["475"]
    feed(bob, "JOIN #c key")
    assert codes(sent(bob)) == ["471"]
    feed(alice, "MODE #c -l")
    feed(bob, "JOIN #c key")
    assert codes(sent(bob)) == ["473"]
    feed(alice, "MODE #c -i")
    feed(bob, "JOIN #c key")
    assert codes(sent(bob)) == ["474"]


def test_too_many_channels() -> None:
    """Joining more than CHANLIMIT channels gives 405."""
    core = make_core()
    alice = register(core, "alice")
    feed(alice, "JOIN " + ",".join(f"#c{i}" for i in range(CHANLIMIT + 1)))
    out = sent(alice)
    assert len(alice.user.channels) == CHANLIMIT
    assert out[-1] == Message(
        "405", ("alice", f"#c{CHANLIMIT}", "You have joined too many channels"), "test.local"
    )


def test_join_zero_parts_everything() -> None:
    """JOIN 0 leaves every channel, each with a PART."""
    core = make_core()
    alice = joined(core, "alice", "#a", "#b")
    feed(alice, "JOIN 0")
    out = sent(alice)
    assert sorted(m.params[0] for m in out if m.command == "PART") == ["#a", "#b"]
    assert alice.user.channels == {}
    assert chan(core, "#a") is None


def test_join_channel_with_remote_members() -> None:
    """Joining a channel whose other members are behind a link lists them in NAMES.

    The client announcer writes only to local clients; telling links is the
    link layer's own event subscriber, so nothing is relayed from here.
    """
    core = make_core()
    server = make_remote_server(core)
    for nick in ("rem1", "rem2"):
        user = make_remote_user(core, server, nick)
        core.network.join(user, "#c", origin=server.route)
    route = server.route
    route.relayed.clear()
    alice = register(core, "alice")
    feed(alice, "JOIN #c")
    assert route.relayed == []
    assert {u.nick for u in core.network.find_channel("#c").members} == {"rem1", "rem2", "alice"}
    names = [m for m in sent(alice) if m.command == "353"][0]
    assert set(names.params[3].split()) == {"rem1", "rem2", "alice"}


def test_remote_join_not_echoed_to_its_link() -> None:
    """A JOIN arriving from a link reaches local members but is not relayed back."""
    core = make_core()
    server = make_remote_server(core)
    alice = joined(core, "alice", "#c")
    rem = make_remote_user(core, server, "rem")
    server.route.relayed.clear()
    core.network.join(rem, "#c", origin=server.route)
    assert sent(alice) == [Message("JOIN", ("#c",), "rem!~rem@remote.host")]
    assert server.route.relayed == []


# -- PART ------------------------------------------------------------------------


def test_part_with_reason_and_errors() -> None:
    """PART tells every member with the reason; 403 for no channel, 442 for non-members."""
    core = make_core()
    alice = joined(core, "alice", "#c")
    bob = joined(core, "bob", "#c")
    sent(alice)
    carol = register(core, "carol")
    feed(carol, "PART #c", "PART #nope")
    assert codes(sent(carol)) == ["442", "403"]
    feed(bob, "PART #c :bye all")
    expected = Message("PART", ("#c", "bye all"), "bob!~bob@127.0.0.1")
    assert sent(bob) == [expected]
    assert sent(alice) == [expected]


def test_part_last_member_removes_channel() -> None:
    """A channel disappears when its last member leaves."""
    core = make_core()
    alice = joined(core, "alice", "#c")
    feed(alice, "PART #c")
    assert sent(alice) == [Message("PART", ("#c",), "alice!~alice@127.0.0.1")]
    assert chan(core) is None


# -- TOPIC ---------------------------------------------------------------------------


def test_topic_query_set_and_clear() -> None:
    """TOPIC queries (331, then 332/333), sets (broadcast) and clears with an empty text."""
    core = make_core()
    alice = joined(core, "alice", "#c")
    bob = joined(core, "bob", "#c")
    sent(alice)
    feed(bob, "TOPIC #c")
    assert sent(bob) == [Message("331", ("bob", "#c", "No topic is set"), "test.local")]
    feed(alice, "TOPIC #c :new topic")
    expected = Message("TOPIC", ("#c", "new topic"), "alice!~alice@127.0.0.1")
    assert sent(alice) == [expected] and sent(bob) == [expected]
    feed(bob, "TOPIC #c")
    out = sent(bob)
    assert codes(out) == ["332", "333"]
    assert out[1].params == ("bob", "#c", "alice!~alice@127.0.0.1", str(int(core.clock.seconds())))
    feed(alice, "TOPIC #c :")
    assert sent(bob) == [Message("TOPIC", ("#c", ""), "alice!~alice@127.0.0.1")]
    assert chan(core).topic == ""


def test_topic_errors() -> None:
    """403 for no channel, 442 to set from outside, 482 under +t without op."""
    core = make_core()
    alice = joined(core, "alice", "#c")
    bob = joined(core, "bob", "#c")
    carol = register(core, "carol")
    feed(carol, "TOPIC #nope", "TOPIC #c :x")
    assert codes(sent(carol)) == ["403", "442"]
    feed(bob, "TOPIC #c :allowed without +t")
    assert sent(bob)[0].command == "TOPIC"
    feed(alice, "MODE #c +t")
    sent(bob)
    feed(bob, "TOPIC #c :refused")
    assert sent(bob) == [Message("482", ("bob", "#c", "You're not channel operator"), "test.local")]


def test_topic_owner_counts_as_op() -> None:
    """A channel owner (q) without o may set the topic under +t."""
    core = make_core()
    alice = joined(core, "alice", "#c")
    bob = joined(core, "bob", "#c")
    make_owner(core, bob)
    feed(alice, "MODE #c +t")
    sent(bob)
    feed(bob, "TOPIC #c :owner topic")
    assert sent(bob)[0].command == "TOPIC"


def test_topic_truncated_to_topiclen() -> None:
    """A topic longer than TOPICLEN (300) is cut, and RPL_TOPIC still fits 512 bytes
    with the longest server name, nick and channel name."""
    core = make_core(make_settings(name="s" * 59 + ".net"))
    nick, chan = "n" * 30, "#" + "c" * 49
    alice = joined(core, nick, chan)
    feed(alice, f"TOPIC {chan} :" + "x" * 400)
    assert sent(alice)[0].params[1] == "x" * 300
    feed(alice, f"TOPIC {chan}")
    raw = alice.transport.value().split(b"\r\n")[0]
    assert raw.endswith(b"x" * 300) and len(raw) + 2 <= 512


def test_topic_of_secret_channel_hidden() -> None:
    """A non-member asking the topic of a secret channel gets 442."""
    core = make_core()
    alice = joined(core, "alice", "#c")
    feed(alice, "TOPIC #c :hidden", "MODE #c +s")
    bob = register(core, "bob")
    feed(bob, "TOPIC #c")
    assert codes(sent(bob)) == ["442"]


# -- NAMES ------------------------------------------------------------------------


def test_names_symbols() -> None:
    """The 353 symbol is = for public, * for private and @ for secret channels."""
    core = make_core()
    alice = joined(core, "alice", "#c")
    for modes, symbol in (("", "="), ("+p", "*"), ("-p+s", "@")):
        if modes:
            feed(alice, f"MODE #c {modes}")
        sent(alice)
        feed(alice, "NAMES #c")
        assert sent(alice)[0].params[1] == symbol


def test_names_prefixes_and_multi_prefix() -> None:
    """Without multi-prefix only the highest prefix shows; with it all, highest first."""
    core = make_core()
    plain = joined(core, "alice", "#c")
    multi = joined(core, "bob", "#c", caps="multi-prefix")
    make_owner(core, plain)
    feed(plain, "MODE #c +vo alice bob")
    feed(plain, "NAMES #c")
    feed(multi, "NAMES #c")
    assert [m for m in sent(plain) if m.command == "353"][0].params[3] == "~alice @bob"
    assert [m for m in sent(multi) if m.command == "353"][0].params[3] == "~@+alice @bob"


def test_names_userhost_in_names() -> None:
    """userhost-in-names shows nick!user@host."""
    core = make_core()
    alice = joined(core, "alice", "#c", caps="userhost-in-names")
    feed(alice, "NAMES #c")
    assert sent(alice)[0].params[3] == "@alice!~alice@127.0.0.1"


def test_names_invisible_and_secret_hidden_from_outsiders() -> None:
    """Outsiders do not see +i members nor secret channels; both get 366."""
    core = make_core()
    alice = joined(core, "alice", "#c")
    bob = joined(core, "bob", "#c")
    feed(bob, "MODE bob +i")
    carol = register(core, "carol")
    feed(carol, "NAMES #c")
    out = sent(carol)
    assert out[0].params == ("carol", "=", "#c", "@alice")
    feed(alice, "MODE #c +s")
    feed(carol, "NAMES #c")
    assert codes(sent(carol)) == ["366"]


def test_names_nonexistent_and_invalid() -> None:
    """NAMES of a missing or invalid channel is a lone 366 naming it."""
    core = make_core()
    alice = register(core, "alice")
    feed(alice, "NAMES #nope", "NAMES invalid")
    out = sent(alice)
    assert [(m.command, m.params[1]) for m in out] == [("366", "#nope"), ("366", "invalid")]


def test_names_without_argument_lists_visible_channels() -> None:
    """Bare NAMES lists each visible channel and ends with one 366 *."""
    core = make_core()
    alice = joined(core, "alice", "#a")
    bob = joined(core, "bob", "#b", "#s")
    feed(bob, "MODE #s +s")
    feed(alice, "NAMES")
    out = sent(alice)
    assert [(m.command, m.params[2]) for m in out[:-1]] == [("353", "#a"), ("353", "#b")]
    assert out[-1].command == "366" and out[-1].params[1] == "*"


def test_names_split_over_lines() -> None:
    """A long member list is split so each 353 line fits in 512 bytes."""
    core = make_core()
    conns = [joined(core, f"user{i:02d}xxxxxxxxxxxxxxxxxxx", "#c", ip=f"10.0.{i}.1") for i in range(40)]
    first = conns[0]
    feed(first, "NAMES #c")
    data = first.transport.value().split(b"\r\n")
    lines = [line for line in data if b" 353 " in line]
    assert len(lines) > 1 and all(len(line) + 2 <= 512 for line in lines)
    names = [n for m in sent(first) if m.command == "353" for n in m.params[3].split()]
    assert len(names) == 40


# -- INVITE --------------------------------------------------------------------------


def test_invite_success_and_away() -> None:
    """INVITE gives 341 (and 301 if away) to the inviter and INVITE to the target."""
    core = make_core()
    alice = joined(core, "alice", "#c")
    bob = register(core, "bob")
    core.network.set_away(bob.user, "lunch")
    feed(alice, "INVITE bob #c")
    assert sent(alice) == [
        Message("341", ("alice", "bob", "#c"), "test.local"),
        Message("301", ("alice", "bob", "lunch"), "test.local"),
    ]
    assert sent(bob) == [Message("INVITE", ("bob", "#c"), "alice!~alice@127.0.0.1")]


def test_invite_errors() -> None:
    """401 no such nick, 403 no channel, 442 not on it, 443 already there, 482 under +i."""
    core = make_core()
    alice = joined(core, "alice", "#c")
    bob = joined(core, "bob", "#c")
    carol = register(core, "carol")
    sent(alice)
    feed(alice, "INVITE nobody #c", "INVITE carol #nope", "INVITE bob #c")
    assert codes(sent(alice)) == ["401", "403", "443"]
    feed(carol, "INVITE bob #c")
    assert codes(sent(carol)) == ["442"]
    feed(bob, "INVITE carol #c")
    assert codes(sent(bob)) == ["341"]
    feed(alice, "MODE #c +i")
    sent(bob)
    feed(bob, "INVITE carol #c")
    assert codes(sent(bob)) == ["482"]
    sent(alice)
    feed(alice, "INVITE", "INVITE bob")
    assert codes(sent(alice)) == ["461", "461"]


def test_invite_notify_for_ops() -> None:
    """Channel operators with invite-notify see the INVITE; plain members do not."""
    core = make_core()
    alice = joined(core, "alice", "#c")
    op = joined(core, "op", "#c", caps="invite-notify")
    member = joined(core, "member", "#c", caps="invite-notify")
    feed(alice, "MODE #c +o op")
    sent(op), sent(member)
    register(core, "bob")
    feed(alice, "INVITE bob #c")
    assert codes(sent(op)) == ["INVITE"]
    assert sent(member) == []


def test_invite_remote_user_recorded() -> None:
    """Inviting a user on another server is confirmed and recorded in the state."""
    core = make_core()
    server = make_remote_server(core)
    rem = make_remote_user(core, server, "rem")
    alice = joined(core, "alice", "#c")
    feed(alice, "INVITE rem #c")
    assert codes(sent(alice)) == ["341"]
    assert "#c" in rem.invited


# -- KICK ---------------------------------------------------------------------------


def test_kick_with_and_without_reason() -> None:
    """KICK tells every member; without a reason the kicker's nick is used."""
    core = make_core()
    alice = joined(core, "alice", "#c")
    bob = joined(core, "bob", "#c")
    carol = joined(core, "carol", "#c")
    sent(alice), sent(bob)
    feed(alice, "KICK #c bob :bye")
    expected = Message("KICK", ("#c", "bob", "bye"), "alice!~alice@127.0.0.1")
    assert sent(alice) == [expected] and sent(bob) == [expected] and sent(carol) == [expected]
    feed(alice, "KICK #c carol")
    assert sent(carol) == [Message("KICK", ("#c", "carol", "alice"), "alice!~alice@127.0.0.1")]
    assert set(chan(core).members) == {alice.user}


def test_kick_multiple_targets_and_kicklen() -> None:
    """KICK #c a,b kicks each with its own line; reasons are cut to KICKLEN (300)."""
    core = make_core()
    alice = joined(core, "alice", "#c")
    joined(core, "bob", "#c")
    joined(core, "carol", "#c")
    sent(alice)
    feed(alice, "KICK #c bob,carol :" + "r" * 400)
    out = sent(alice)
    assert [(m.params[1], len(m.params[2])) for m in out] == [("bob", 300), ("carol", 300)]


def test_kick_errors() -> None:
    """403 no channel, 442 kicker not on it, 482 not op, 401 no nick, 441 target not on it."""
    core = make_core()
    alice = joined(core, "alice", "#c")
    bob = joined(core, "bob", "#c")
    carol = register(core, "carol")
    feed(carol, "KICK #nope bob", "KICK #c bob")
    assert codes(sent(carol)) == ["403", "442"]
    feed(bob, "KICK #c alice")
    assert codes(sent(bob)) == ["482"]
    sent(alice)
    feed(alice, "KICK #c nobody", "KICK #c carol")
    out = sent(alice)
    assert codes(out) == ["401", "441"]
    assert out[1].params == ("alice", "carol", "#c", "They aren't on that channel")
    feed(alice, "KICK #c")
    assert codes(sent(alice)) == ["461"]


def test_op_cannot_kick_owner() -> None:
    """An operator may not kick the channel owner; the owner may kick an operator."""
    core = make_core()
    alice = joined(core, "alice", "#c")
    bob = joined(core, "bob", "#c")
    make_owner(core, alice)
    feed(alice, "MODE #c +o bob")
    sent(bob)
    feed(bob, "KICK #c alice")
    assert codes(sent(bob)) == ["482"]
    feed(alice, "KICK #c bob")
    assert codes(sent(bob)) == ["KICK"]


# -- can_send / is_banned ------------------------------------------------------------


def test_can_send_rules() -> None:
    """+n keeps out outsiders, +m needs voice, a banned member needs voice."""
    core = make_core()
    alice = joined(core, "alice", "#c")
    bob = joined(core, "bob", "#c")
    outsider = register(core, "carol")
    channel = chan(core)
    assert can_send(outsider.user, channel) is None
    feed(alice, "MODE #c +n")
    assert can_send(outsider.user, channel) == "Cannot send to channel (no external messages)"
    assert can_send(bob.user, channel) is None
    feed(alice, "MODE #c +b bob!*@*")
    assert can_send(bob.user, channel) == "Cannot send to channel (you are banned)"
    feed(alice, "MODE #c +e *!~bob@*")
    assert can_send(bob.user, channel) is None
    feed(alice, "MODE #c -e+m *!~bob@*")
    assert can_send(bob.user, channel) == "Cannot send to channel (+m)"
    feed(alice, "MODE #c +v bob")
    assert can_send(bob.user, channel) is None
    assert can_send(alice.user, channel) is None


def test_is_banned_lists() -> None:
    """is_banned honours e exceptions for b, and matches the e or I list directly."""
    core = make_core()
    alice = joined(core, "alice", "#c")
    bob = register(core, "bob")
    channel = chan(core)
    feed(alice, "MODE #c +bI bob I@*")
    assert is_banned(channel, bob.user)
    assert not is_banned(channel, bob.user, "I")
    feed(alice, "MODE #c +e *!*@127.*")
    assert not is_banned(channel, bob.user)
    assert is_banned(channel, bob.user, "e")
    assert is_banned(channel, alice.user, "I") is False


def test_unregistered_channel_commands() -> None:
    """Channel commands before registration get 451."""
    from tests.helpers import connect

    core = make_core()
    conn = connect(core)
    feed(conn, "JOIN #c", "PART #c", "TOPIC #c", "NAMES", "INVITE a #c", "KICK #c a", "MODE #c")
    assert set(codes(sent(conn))) == {"451"}


def test_new_channel_defaults_to_nt() -> None:
    """A channel created on this server starts +nt, as operators expect."""
    core = make_core(default_modes="nt")
    alice = register(core, "alice")
    feed(alice, "JOIN #fresh", "MODE #fresh")
    modes = [m for m in sent(alice) if m.command == "324"][0]
    assert modes.params[2] == "+nt"
    bob = register(core, "bob")
    feed(bob, "PRIVMSG #fresh :hello from outside")
    assert [m.command for m in sent(bob)] == ["404"]


def test_invite_ends_with_the_channel() -> None:
    """An INVITE is to one channel: once that channel is gone (everyone left),
    it does not let the user into a new channel of the same name that
    someone else set +i (as in Solanum and hybrid, invites die with the channel)."""
    core = make_core()
    alice = joined(core, "alice", "#c")
    feed(alice, "MODE #c +i")
    bob = register(core, "bob")
    feed(alice, "INVITE bob #c", "PART #c")
    assert core.network.find_channel("#c") is None
    carol = joined(core, "carol", "#c")
    feed(carol, "MODE #c +i")
    sent(bob)
    feed(bob, "JOIN #c")
    assert codes(sent(bob)) == ["473"]



def test_names_answers_each_channel_once_up_to_targmax() -> None:
    """NAMES #c,#C,#c... answers #c once; more than TARGMAX NAMES (4) channels
    is refused with 407 (ERR_TOOMANYTARGETS) naming the first one too many."""
    core = make_core()
    alice = joined(core, "alice", "#a", "#b", "#c", "#d", "#e")
    feed(alice, "NAMES " + ",".join(["#c", "#C"] * 50))
    assert [m.params[1] for m in sent(alice) if m.command == "366"] == ["#c"]
    feed(alice, "NAMES #a,#b,#c,#d")
    assert [m.params[1] for m in sent(alice) if m.command == "366"] == ["#a,#b,#c,#d"]
    feed(alice, "NAMES #a,#b,#c,#d,#e")
    [refusal] = sent(alice)
    assert refusal.command == "407" and refusal.params[1] == "#e"


def test_names_of_several_channels_ends_with_one_366_naming_the_list() -> None:
    """NAMES #a,#nope,#b gives the 353s of #a then #b, then one 366 naming the
    list as sent; an unknown channel in the list adds nothing but its name."""
    core = make_core()
    alice = joined(core, "alice", "#a", "#b")
    feed(alice, "NAMES #a,#nope,#B")
    out = [(m.command, m.params[2] if m.command == "353" else m.params[1]) for m in sent(alice)]
    assert out == [("353", "#a"), ("353", "#b"), ("366", "#a,#nope,#B")]
    feed(alice, "NAMES #nope,#none")
    assert [(m.command, m.params[1]) for m in sent(alice)] == [("366", "#nope,#none")]
    feed(alice, "NAMES #b")
    assert [m.command for m in sent(alice)] == ["353", "366"]


def test_quit_reason_is_cut_to_quitlen() -> None:
    """A very long QUIT reason reaches peers cut to 300 characters, as one whole line."""
    core = make_core()
    alice = joined(core, "alice", "#q")
    bob = joined(core, "bob", "#q")
    sent(bob)
    feed(alice, "QUIT :" + "x" * 450)
    [quit_msg] = [m for m in sent(bob) if m.command == "QUIT"]
    assert quit_msg.params[0] == "Quit: " + "x" * 300


def test_topic_length_counts_bytes_not_characters() -> None:
    """TOPICLEN is in bytes: a topic of 3-byte characters is cut at 100 whole characters."""
    core = make_core()
    alice = joined(core, "alice", "#c")
    feed(alice, "TOPIC #c :" + "€" * 150)
    assert sent(alice)[0].params[1] == "€" * 100


def _kicks(conn) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """(channel, nick) of each KICK the client saw since the last call."""
    return [(m.params[0], m.params[1]) for m in sent(conn) if m.command == "KICK"]


def test_kick_several_channels_one_nick_kicks_from_each() -> None:
    """KICK #a,#b bob kicks bob from both channels, not only from #a."""
    core = make_core()
    alice = joined(core, "alice", "#a", "#b")
    bob = joined(core, "bob", "#a", "#b")
    sent(alice)
    feed(alice, "KICK #a,#b bob :out")
    assert _kicks(bob) == [("#a", "bob"), ("#b", "bob")]
    assert bob.user.channels == {}


def test_kick_channels_and_nicks_pair_up() -> None:
    """KICK #a,#b bob,carol kicks bob from #a and carol from #b (RFC 2812 3.2.8)."""
    core = make_core()
    alice = joined(core, "alice", "#a", "#b")
    joined(core, "bob", "#a", "#b")
    joined(core, "carol", "#a", "#b")
    sent(alice)
    feed(alice, "KICK #a,#b bob,carol")
    assert _kicks(alice) == [("#a", "bob"), ("#b", "carol")]


def test_kick_mismatched_lists_and_too_many_targets() -> None:
    """Two channels and three nicks is 461; more than TARGMAX KICK (4) kicks
    in one line is 407 naming the first one over, and nobody is kicked."""
    core = make_core()
    alice = joined(core, "alice", "#a", "#b")
    for i, nick in enumerate(("n1", "n2", "n3", "n4", "n5")):
        joined(core, nick, "#a", ip=f"10.0.0.{i}")
    sent(alice)
    feed(alice, "KICK #a,#b n1,n2,n3")
    assert codes(sent(alice)) == ["461"]
    feed(alice, "KICK #a n1,n2,n3,n4,n5")
    [refusal] = sent(alice)
    assert refusal.command == "407" and refusal.params[1] == "n5"
    assert len(core.network.find_channel("#a").members) == 6
    feed(alice, "KICK #a n1,n2,n3,n4")
    assert len(_kicks(alice)) == 4


def test_targmax_matches_what_commands_accept() -> None:
    """TARGMAX in 005 says KICK:4 and LIST without a limit, and each verb
    with a number gets 407 one past it (NOTICE never answers, RFC 2812 3.3.2)."""
    core = make_core()
    conn = connect(core)
    feed(conn, "NICK alice", "USER al 0 * :Alice")
    [targmax] = [p for m in sent(conn) if m.command == "005" for p in m.params if p.startswith("TARGMAX=")]
    limits = dict(item.split(":") for item in targmax.split("=", 1)[1].split(","))
    assert limits["KICK"] == "4" and limits["LIST"] == "" and limits["WHOIS"] == "1"
    register(core, "bob")
    over = {
        "NAMES": "NAMES #1,#2,#3,#4,#5",
        "PRIVMSG": "PRIVMSG a,b,c,d,e :hi",
        "KICK": "KICK #1 a,b,c,d,e",
        "WHOIS": "WHOIS alice,bob",
    }
    for verb, limit in limits.items():
        if limit and verb in over:
            feed(conn, over[verb])
            assert "407" in codes(sent(conn)), verb


# -- the mute extban ---------------------------------------------------------------


def test_mute_extban_lets_join_but_not_speak() -> None:
    """+b m:<mask> (EXTBAN=,m): the muted user joins and reads but gets 404 when speaking;
    voice, an +e m:<mask> or -b lifts it; the list shows the entry as set."""
    from tests.helpers import joined, sent
    core = make_core()
    op = joined(core, "chanop", "#chan")
    assert "EXTBAN=,m" in core.isupport()
    feed(op, "MODE #chan +b m:bar")
    assert [m.params for m in sent(op)][-1][-2:] == ("+b", "m:bar!*@*")
    bar = joined(core, "bar", "#chan")
    assert core.network.find_user("bar") in core.network.find_channel("#chan").members
    feed(bar, "PRIVMSG #chan :hi")
    (refused,) = sent(bar)
    assert refused.command == "404" and "muted" in refused.params[-1]
    assert [m for m in sent(op) if m.command == "PRIVMSG"] == []
    feed(bar, "MODE #chan +b")
    assert [m.params[2] for m in sent(bar) if m.command == "367"] == ["m:bar!*@*"]
    feed(op, "MODE #chan +e m:*!*bar@*")
    feed(bar, "PRIVMSG #chan :excepted")
    assert [m.params[-1] for m in sent(op) if m.command == "PRIVMSG"] == ["excepted"]
    feed(op, "MODE #chan -e m:*!*bar@*", "MODE #chan +v bar")
    feed(bar, "PRIVMSG #chan :voiced")
    assert [m.params[-1] for m in sent(op) if m.command == "PRIVMSG"] == ["voiced"]
    feed(op, "MODE #chan -v bar", "MODE #chan -b m:bar!*@*")
    feed(bar, "PRIVMSG #chan :free")
    assert [m.params[-1] for m in sent(op) if m.command == "PRIVMSG"] == ["free"]


def test_join_replies_are_the_numeric_table_lines_and_fit_in_512_bytes() -> None:
    """Topic (332/333), NAMES (353/366) on JOIN are exactly the numeric table's lines: every status
    shown (multi-prefix), full masks (userhost-in-names), non-ASCII hosts counted in bytes."""
    from conferenceroom.numerics import numeric

    core = make_core()
    alice = joined(core, "alice", "#c")
    feed(alice, "TOPIC #c :the topic, with spaces")
    server = make_remote_server(core)
    for i in range(30):
        remote = make_remote_user(core, server, f"r{i:02d}xxxxxxxxxx")
        remote.host = remote.realhost = "höst-ünïcode.example"  # 2 bytes per accented letter
        status = ("o", "v", "ov", "")[i % 4]
        core.network.join(remote, "#c", origin=server.route, status=status)
    bob = register(core, "bob", caps="multi-prefix userhost-in-names")
    feed(bob, "JOIN #c")
    out = sent(bob)
    assert [m.command for m in out[:3]] == ["JOIN", "332", "333"]
    topic = core.network.find_channel("#c")
    assert out[1] == numeric("RPL_TOPIC", core.name, "bob", "#c", "the topic, with spaces")
    assert out[2] == numeric("RPL_TOPICWHOTIME", core.name, "bob", "#c", topic.topic_setter, topic.topic_ts)
    names = [m for m in out if m.command == "353"]
    assert len(names) > 1
    for m in names:
        assert m == numeric("RPL_NAMREPLY", core.name, "bob", "=", "#c", m.params[3])
    assert out[-1] == numeric("RPL_ENDOFNAMES", core.name, "bob", "#c")
    lines = [line for line in bob.transport.value().split(b"\r\n") if b" 353 " in line]
    assert all(len(line) + 2 <= 512 for line in lines)
    # Packed: no line could have taken the next line's first name.
    for line, following in zip(lines, lines[1:]):
        assert len(line) + 1 + len(following.rsplit(b":", 1)[1].split(b" ")[0]) + 2 > 512
    items = [n for m in names for n in m.params[3].split()]
    assert "@alice!~alice@127.0.0.1" in items and "bob!~bob@127.0.0.1" in items
    host = "höst-ünïcode.example"
    expected = {"@alice!~alice@127.0.0.1", "bob!~bob@127.0.0.1"} | {
        ("@", "+", "@+", "")[i % 4] + f"r{i:02d}xxxxxxxxxx!~r{i:02d}xxxxxxxxxx@{host}" for i in range(30)
    }
    assert sorted(items) == sorted(expected)  # every member whole: no line was cut at 512 bytes
