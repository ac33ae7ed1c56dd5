"""
Channels against a real ``twistd -n conferenceroom`` process: every channel
mode (b e I k l i m n t s p q o v) and its effect as a second client sees
it, bans and exceptions, KICK/INVITE/TOPIC/PART with their error numerics,
and NAMES/LIST visibility of secret and private channels.
"""

from __future__ import annotations

from tests.integration.ircclient import unique_nick


def _chan(prefix="c"):
    """A channel name no other test uses."""
    return "#" + unique_nick(prefix)


def _names(lines):
    """Nicks (with prefixes) of every 353 in ``lines``."""
    return [n for m in lines if m.command == "353" for n in m.trailing.split()]


def _setup(shared_server, irc_client, n=2, prefix="u"):
    """``n`` registered clients; the first creates a fresh channel (and is op)."""
    clients = [irc_client(shared_server, unique_nick(prefix)) for _ in range(n)]
    chan = _chan()
    clients[0].join(chan)
    return chan, clients


def _mode(op, chan, modes, *also):
    """Op sets ``modes`` and waits for its own MODE echo; returns it."""
    op.send(f"MODE {chan} {modes}")
    got = op.expect(lambda m: m.command == "MODE" and m.params[0] == chan)
    for other in also:
        other.expect(lambda m: m.command == "MODE" and m.params[0] == chan)
    return got


def _join_error(client, chan, key=None):
    """JOIN and return the numeric (or JOIN) that answers it."""
    client.send(f"JOIN {chan}" + (f" {key}" if key else ""))
    return client.expect(lambda m: m.command in ("471", "473", "474", "475", "403", "476")
                         or (m.command == "JOIN" and m.nick == client.nick))


# -- creation, NAMES, default modes ---------------------------------------------------


def test_creator_is_op_and_default_modes(shared_server, irc_client):
    """The creator of a channel is @ in NAMES; the channel starts +nt and
    MODE shows 324 and 329."""
    chan, (a,) = _setup(shared_server, irc_client, 1)
    a.send(f"NAMES {chan}")
    lines = a.collect("366")
    assert _names(lines) == [f"@{a.nick}"]
    assert lines[0].params[1] == "=", lines[0].raw
    a.send(f"MODE {chan}")
    modes = a.expect("324")
    assert modes.params[1] == chan and modes.params[2] == "+nt", modes.raw
    created = a.expect("329")
    assert created.params[2].isdigit()


def test_second_join_seen_and_names(shared_server, irc_client):
    """A second joiner is announced to the first and gets NAMES with @op."""
    chan, (a, b) = _setup(shared_server, irc_client)
    lines = b.join(chan)
    assert set(_names(lines)) == {f"@{a.nick}", b.nick}
    join = a.expect("JOIN")
    assert join.source.startswith(f"{b.nick}!~") and join.params == [chan]


# -- o v q --------------------------------------------------------------------------


def test_op_and_voice_seen_by_others(shared_server, irc_client):
    """+o and +v are announced to every member and shown as @ and + in
    NAMES (with multi-prefix both at once); -o is announced too."""
    chan, (a, b) = _setup(shared_server, irc_client)
    c = irc_client(shared_server, unique_nick("mp"), caps=["multi-prefix"])
    b.join(chan)
    c.join(chan)
    got = _mode(a, chan, f"+ov {b.nick} {b.nick}", b)
    assert got.params[1:] == ["+ov", b.nick, b.nick], got.raw
    seen = c.expect(lambda m: m.command == "MODE")
    assert seen.nick == a.nick and seen.params[1:] == ["+ov", b.nick, b.nick]
    c.send(f"NAMES {chan}")
    assert f"@+{b.nick}" in _names(c.collect("366"))
    a.send(f"NAMES {chan}")
    assert f"@{b.nick}" in _names(a.collect("366"))
    _mode(a, chan, f"-o {b.nick}", b)
    assert c.expect("MODE").params[1:] == ["-o", b.nick]
    a.send(f"NAMES {chan}")
    assert f"+{b.nick}" in _names(a.collect("366"))


def test_status_mode_errors(shared_server, irc_client):
    """MODE +o on an unknown nick gets 401, on a non-member 441; a non-op
    gets 482; an op cannot give +q (owner) without being owner: 482."""
    chan, (a, b) = _setup(shared_server, irc_client)
    outsider = irc_client(shared_server, unique_nick("out"))
    b.join(chan)
    a.send(f"MODE {chan} +o nosuchnick99")
    assert a.expect("401").params[1] == "nosuchnick99"
    a.send(f"MODE {chan} +v {outsider.nick}")
    err = a.expect("441")
    assert err.params[1:3] == [outsider.nick, chan], err.raw
    b.send(f"MODE {chan} +o {b.nick}")
    assert b.expect("482").params[1] == chan
    a.send(f"MODE {chan} +q {b.nick}")
    assert a.expect(["482", "MODE"]).command == "482"
    b.assert_silent("MODE", timeout=0.3)


def test_unknown_channel_mode(shared_server, irc_client):
    """An unknown channel mode letter gets 472 naming it."""
    chan, (a,) = _setup(shared_server, irc_client, 1)
    a.send(f"MODE {chan} +Z")
    err = a.expect("472")
    assert err.params[1] == "Z", err.raw


# -- n t m --------------------------------------------------------------------------


def test_no_external_messages(shared_server, irc_client):
    """+n (the default) refuses a non-member's PRIVMSG with 404; after -n
    the member receives it."""
    chan, (a, b) = _setup(shared_server, irc_client)
    b.send(f"PRIVMSG {chan} :from outside")
    err = b.expect("404")
    assert err.params[1] == chan, err.raw
    a.assert_silent("PRIVMSG", timeout=0.2)
    _mode(a, chan, "-n")
    b.send(f"PRIVMSG {chan} :from outside again")
    got = a.expect("PRIVMSG")
    assert got.nick == b.nick and got.params == [chan, "from outside again"]


def test_topic_lock(shared_server, irc_client):
    """+t (default) keeps non-ops from changing the topic (482); after -t a
    plain member may, and everyone sees the TOPIC."""
    chan, (a, b) = _setup(shared_server, irc_client)
    b.join(chan)
    b.send(f"TOPIC {chan} :by b")
    assert b.expect("482").params[1] == chan
    _mode(a, chan, "-t", b)
    b.send(f"TOPIC {chan} :by b now")
    seen = a.expect("TOPIC")
    assert seen.nick == b.nick and seen.params == [chan, "by b now"]
    assert b.expect("TOPIC").params == [chan, "by b now"]


def test_moderated(shared_server, irc_client):
    """+m: an unvoiced member gets 404; with +v the member may speak; the op
    always may."""
    chan, (a, b) = _setup(shared_server, irc_client)
    b.join(chan)
    _mode(a, chan, "+m", b)
    b.send(f"PRIVMSG {chan} :muted?")
    assert b.expect("404").params[1] == chan
    a.assert_silent("PRIVMSG", timeout=0.2)
    a.send(f"PRIVMSG {chan} :op speaks")
    assert b.expect("PRIVMSG").trailing == "op speaks"
    _mode(a, chan, f"+v {b.nick}", b)
    b.send(f"PRIVMSG {chan} :voiced now")
    assert a.expect("PRIVMSG").trailing == "voiced now"


# -- k l i I -----------------------------------------------------------------------


def test_key(shared_server, irc_client):
    """+k: joining without or with a wrong key gets 475, the right key
    works; members see the key in 324, non-members do not."""
    chan, (a, b) = _setup(shared_server, irc_client)
    got = _mode(a, chan, "+k sesame")
    assert got.params[1:] == ["+k", "sesame"]
    assert _join_error(b, chan).command == "475"
    assert _join_error(b, chan, "wrong").command == "475"
    b.send(f"MODE {chan}")
    shown = b.expect("324")
    assert "sesame" not in shown.params and "k" in shown.params[2], shown.raw
    assert _join_error(b, chan, "sesame").command == "JOIN"
    b.send(f"MODE {chan}")
    assert "sesame" in b.expect("324").params
    _mode(a, chan, "-k *", b)
    a.send(f"MODE {chan}")
    assert "k" not in a.expect("324").params[2]


def test_invalid_key_rejected(shared_server, irc_client):
    """A key with a comma or over KEYLEN is refused with 696 and not set."""
    chan, (a,) = _setup(shared_server, irc_client, 1)
    a.send(f"MODE {chan} +k a,b")
    err = a.expect(["696", "MODE"])
    assert err.command == "696" and err.params[2] == "k", err.raw


def test_limit(shared_server, irc_client):
    """+l 2: the third joiner gets 471; a bad limit gets 696; -l lifts it."""
    chan, (a, b, c) = _setup(shared_server, irc_client, 3)
    got = _mode(a, chan, "+l 2")
    assert got.params[1:] == ["+l", "2"]
    assert _join_error(b, chan).command == "JOIN"
    assert _join_error(c, chan).command == "471"
    a.send(f"MODE {chan} +l notanumber")
    err = a.expect("696")
    assert err.params[2] == "l", err.raw
    _mode(a, chan, "-l", b)
    assert _join_error(c, chan).command == "JOIN"


def test_invite_only_and_invite(shared_server, irc_client):
    """+i: JOIN gets 473; INVITE answers the op with 341 and the target
    sees INVITE, after which its JOIN succeeds."""
    chan, (a, b) = _setup(shared_server, irc_client)
    _mode(a, chan, "+i")
    assert _join_error(b, chan).command == "473"
    a.send(f"INVITE {b.nick} {chan}")
    inv = a.expect("341")
    assert inv.params[1:] == [b.nick, chan], inv.raw
    seen = b.expect("INVITE")
    assert seen.nick == a.nick and seen.params == [b.nick, chan], seen.raw
    assert _join_error(b, chan).command == "JOIN"


def test_invite_exception_list(shared_server, irc_client):
    """+I nick!*@*: a matching user joins a +i channel uninvited; MODE #c I
    lists it (346/347); a non-matching user still gets 473."""
    chan, (a, b, c) = _setup(shared_server, irc_client, 3)
    _mode(a, chan, f"+iI {b.nick}!*@*")
    a.send(f"MODE {chan} I")
    entry = a.expect("346")
    assert entry.params[1:3] == [chan, f"{b.nick}!*@*"], entry.raw
    assert a.expect("347").params[1] == chan
    assert _join_error(b, chan).command == "JOIN"
    assert _join_error(c, chan).command == "473"


def test_invite_errors(shared_server, irc_client):
    """INVITE errors: 401 unknown nick, 403 unknown channel, 442 inviter
    not on the channel, 443 target already there, 482 non-op on +i."""
    chan, (a, b, c) = _setup(shared_server, irc_client, 3)
    a.send(f"INVITE nosuchnick77 {chan}")
    assert a.expect("401").params[1] == "nosuchnick77"
    a.send(f"INVITE {b.nick} #nosuchchan77")
    assert a.expect("403").params[1] == "#nosuchchan77"
    b.send(f"INVITE {c.nick} {chan}")
    assert b.expect("442").params[1] == chan
    b.join(chan)
    a.send(f"INVITE {b.nick} {chan}")
    err = a.expect("443")
    assert err.params[1:3] == [b.nick, chan], err.raw
    _mode(a, chan, "+i", b)
    b.send(f"INVITE {c.nick} {chan}")
    assert b.expect("482").params[1] == chan


# -- b e ---------------------------------------------------------------------------


def test_ban_blocks_join_and_speech(shared_server, irc_client):
    """+b nick!*@*: the banned user's JOIN gets 474; a banned member cannot
    speak (404); MODE #c b lists the ban (367/368) to anyone; -b lifts it."""
    chan, (a, b, c) = _setup(shared_server, irc_client, 3)
    c.join(chan)
    _mode(a, chan, f"+b {b.nick}!*@*", c)
    assert _join_error(b, chan).command == "474"
    _mode(a, chan, f"+b {c.nick}!*@*", c)
    c.send(f"PRIVMSG {chan} :can I talk?")
    err = c.expect("404")
    assert err.params[1] == chan
    b.send(f"MODE {chan} b")
    bans = b.collect("368")
    masks = [m.params[2] for m in bans if m.command == "367"]
    assert set(masks) == {f"{b.nick}!*@*", f"{c.nick}!*@*"}, masks
    setter = next(m for m in bans if m.command == "367").params[3]
    assert setter.startswith(a.nick), setter
    _mode(a, chan, f"-b {b.nick}!*@*", c)
    assert _join_error(b, chan).command == "JOIN"


def test_ban_by_host_and_normalised_mask(shared_server, irc_client):
    """A host-only ban (*!*@127.0.0.1) matches every local user; a bare nick
    is normalised to nick!*@* in the MODE shown to members."""
    chan, (a, b) = _setup(shared_server, irc_client)
    got = _mode(a, chan, f"+b {b.nick}")
    assert got.params[1:] == ["+b", f"{b.nick}!*@*"], got.raw
    _mode(a, chan, f"-b {b.nick}!*@*")
    _mode(a, chan, "+b *!*@127.0.0.1")
    assert _join_error(b, chan).command == "474"


def test_exception_overrides_ban(shared_server, irc_client):
    """+e matching a banned user lets it join and speak; MODE #c e lists the
    exception (348/349) to members and refuses non-members (442)."""
    chan, (a, b, c) = _setup(shared_server, irc_client, 3)
    _mode(a, chan, f"+be *!*@127.0.0.1 {b.nick}!*@*")
    assert _join_error(c, chan).command == "474"
    assert _join_error(b, chan).command == "JOIN"
    b.send(f"PRIVMSG {chan} :excepted")
    assert a.expect("PRIVMSG").trailing == "excepted"
    b.send(f"MODE {chan} e")
    assert b.expect("348").params[2] == f"{b.nick}!*@*"
    b.expect("349")
    c.send(f"MODE {chan} e")
    assert c.expect(["442", "348", "349"]).command == "442"


# -- s p and visibility --------------------------------------------------------------


def test_secret_channel_hidden(shared_server, irc_client):
    """+s: outsiders get only 366 from NAMES, nothing in LIST, no channel in
    WHOIS; members see it with the @ symbol in NAMES."""
    chan, (a, b) = _setup(shared_server, irc_client)
    public = _chan("pub")
    a.join(public)  # a public channel the outsider does see, so an empty answer cannot pass
    _mode(a, chan, "+s")
    b.send(f"NAMES {chan}")
    lines = b.collect("366")
    assert [m.command for m in lines] == ["366"], [m.raw for m in lines]
    b.send("LIST")
    listed = [m.params[1] for m in b.collect("323") if m.command == "322"]
    assert public in listed and chan not in listed, listed
    b.send(f"WHOIS {a.nick}")
    whois = b.collect("318")
    channels = [c.lstrip("~&@%+") for m in whois if m.command == "319" for c in m.trailing.split()]
    assert channels == [public], [m.raw for m in whois]
    a.send(f"NAMES {chan}")
    names = a.expect("353")
    assert names.params[1] == "@", names.raw
    a.send("LIST")
    assert chan in [m.params[1] for m in a.collect("323") if m.command == "322"]


def test_private_channel_hidden(shared_server, irc_client):
    """+p: NAMES symbol * for members; outsiders do not see it in LIST or
    NAMES."""
    chan, (a, b) = _setup(shared_server, irc_client)
    public = _chan("pub")
    a.join(public)  # a public channel the outsider does see, so an empty LIST cannot pass
    _mode(a, chan, "+p")
    a.send(f"NAMES {chan}")
    assert a.expect("353").params[1] == "*"
    b.send("LIST")
    listed = [m.params[1] for m in b.collect("323") if m.command == "322"]
    assert public in listed and chan not in listed, listed
    b.send(f"NAMES {chan}")
    assert [m.command for m in b.collect("366")] == ["366"]


def test_names_hides_invisible_users_from_outsiders(shared_server, irc_client):
    """Outsiders' NAMES of a public channel omit +i members; members see all."""
    chan, (a, b) = _setup(shared_server, irc_client)
    a.send(f"MODE {a.nick} +i")
    a.expect("MODE")
    c = irc_client(shared_server, unique_nick("vis"))
    c.join(chan)
    b.send(f"NAMES {chan}")
    outside = _names(b.collect("366"))
    assert outside == [c.nick], outside  # the visible member is listed, the +i op is not
    c.send(f"NAMES {chan}")
    assert set(_names(c.collect("366"))) == {f"@{a.nick}", c.nick}


# -- TOPIC ----------------------------------------------------------------------------


def test_topic_set_query_and_join(shared_server, irc_client):
    """TOPIC shows 331 without a topic; setting it is announced; TOPIC then
    gives 332 and 333 (setter, time); a joiner gets 332 in its JOIN burst;
    an empty TOPIC clears it."""
    chan, (a, b) = _setup(shared_server, irc_client)
    a.send(f"TOPIC {chan}")
    assert a.expect("331").params[1] == chan
    a.send(f"TOPIC {chan} :Hello world topic")
    assert a.expect("TOPIC").params == [chan, "Hello world topic"]
    lines = b.join(chan)
    topic = next(m for m in lines if m.command == "332")
    assert topic.params[1:] == [chan, "Hello world topic"]
    b.send(f"TOPIC {chan}")
    assert b.expect("332").trailing == "Hello world topic"
    who = b.expect("333")
    assert who.params[2].startswith(a.nick) and who.params[3].isdigit(), who.raw
    a.send(f"TOPIC {chan} :")
    assert b.expect("TOPIC").params == [chan, ""]
    b.send(f"TOPIC {chan}")
    assert b.expect(["331", "332"]).command == "331"


def test_topic_errors(shared_server, irc_client):
    """TOPIC of an unknown channel gets 403; setting it from outside 442;
    reading a +s channel from outside 442."""
    chan, (a, b) = _setup(shared_server, irc_client)
    b.send("TOPIC #nosuchchan55")
    assert b.expect("403").params[1] == "#nosuchchan55"
    b.send(f"TOPIC {chan} :outsider")
    assert b.expect("442").params[1] == chan
    _mode(a, chan, "+s")
    b.send(f"TOPIC {chan}")
    assert b.expect(["442", "331", "332"]).command == "442"


# -- KICK / PART ------------------------------------------------------------------------


def test_kick_seen_by_all(shared_server, irc_client):
    """KICK is seen by the kicker, the victim and other members with the
    reason; the victim is no longer in NAMES."""
    chan, (a, b, c) = _setup(shared_server, irc_client, 3)
    b.join(chan)
    c.join(chan)
    a.send(f"KICK {chan} {b.nick} :behave")
    for client in (a, b, c):
        kick = client.expect("KICK")
        assert kick.nick == a.nick and kick.params == [chan, b.nick, "behave"], kick.raw
    a.send(f"NAMES {chan}")
    assert b.nick not in [n.lstrip("@+") for n in _names(a.collect("366"))]


def test_kick_default_reason_and_errors(shared_server, irc_client):
    """KICK without reason uses the kicker's nick; errors: 403, 442, 482
    (non-op), 441 (target not on channel), 401 (unknown nick)."""
    chan, (a, b, c) = _setup(shared_server, irc_client, 3)
    b.join(chan)
    c.send(f"KICK {chan} {b.nick}")
    assert c.expect("442").params[1] == chan
    c.join(chan)
    c.send(f"KICK {chan} {b.nick}")
    assert c.expect("482").params[1] == chan
    a.send("KICK #nosuchchan66 x")
    assert a.expect("403").params[1] == "#nosuchchan66"
    outsider = irc_client(shared_server, unique_nick("ko"))
    a.send(f"KICK {chan} {outsider.nick}")
    err = a.expect("441")
    assert err.params[1:3] == [outsider.nick, chan]
    a.send(f"KICK {chan} nosuchnick66")
    assert a.expect("401").params[1] == "nosuchnick66"
    a.send(f"KICK {chan} {c.nick}")
    kick = b.expect("KICK")
    assert kick.params == [chan, c.nick, a.nick], kick.raw


def test_part_seen_and_errors(shared_server, irc_client):
    """PART with a reason is seen by members; PART of a channel one is not
    on gets 442, of an unknown one 403."""
    chan, (a, b) = _setup(shared_server, irc_client)
    b.join(chan)
    b.send(f"PART {chan} :see you")
    part = a.expect("PART")
    assert part.nick == b.nick and part.params == [chan, "see you"]
    b.send(f"PART {chan}")
    assert b.expect("442").params[1] == chan
    b.send("PART #nosuchchan44")
    assert b.expect("403").params[1] == "#nosuchchan44"


def test_join_errors_and_multi_join(shared_server, irc_client):
    """JOIN of a bad name gets 403/476; JOIN #a,#b joins both; JOIN 0 parts
    every channel."""
    (a,) = [irc_client(shared_server, unique_nick("mj"))]
    a.send("JOIN nochanprefix")
    assert a.expect(["403", "476"]).params[1] == "nochanprefix"
    one, two = _chan("mja"), _chan("mjb")
    a.send(f"JOIN {one},{two}")
    joined = [a.expect("JOIN").params[0] for _ in range(2)]
    assert joined == [one, two]
    a.send("JOIN 0")
    parted = {a.expect("PART").params[0] for _ in range(2)}
    assert parted == {one, two}


def test_mode_by_non_member_and_unknown_channel(shared_server, irc_client):
    """MODE on an unknown channel gets 403; a non-member changing modes 482;
    a non-member may still read the modes (324)."""
    chan, (a, b) = _setup(shared_server, irc_client)
    b.send("MODE #nosuchchan33 +m")
    assert b.expect("403").params[1] == "#nosuchchan33"
    b.send(f"MODE {chan} +m")
    assert b.expect("482").params[1] == chan
    b.send(f"MODE {chan}")
    assert b.expect("324").params[1] == chan


def test_list_shows_public_channel_with_topic(shared_server, irc_client):
    """LIST shows a public channel with its member count and topic between
    321 and 323."""
    chan, (a, b) = _setup(shared_server, irc_client)
    a.send(f"TOPIC {chan} :listed topic")
    a.expect("TOPIC")
    b.send(f"LIST {chan}")
    lines = b.collect("323")
    assert lines[0].command == "321"
    entry = next(m for m in lines if m.command == "322")
    assert entry.params[1:3] == [chan, "1"] and "listed topic" in entry.trailing, entry.raw


def test_join_caps_extended_join_and_userhost_in_names(shared_server, irc_client):
    """A member with extended-join sees a JOIN with account (*) and realname;
    with userhost-in-names its NAMES show nick!user@host; others see the
    plain forms."""
    chan = _chan("xj")
    a = irc_client(shared_server, unique_nick("xa"),
                   caps=["extended-join", "userhost-in-names"])
    b = irc_client(shared_server, unique_nick("xb"), realname="Bee Real")
    c = irc_client(shared_server, unique_nick("xc"))
    a.join(chan)
    c.join(chan)
    a.expect("JOIN")
    b.join(chan)
    ext = a.expect("JOIN")
    assert ext.params == [chan, "*", "Bee Real"], ext.raw
    plain = c.expect("JOIN")
    assert plain.params == [chan], plain.raw
    a.send(f"NAMES {chan}")
    names = _names(a.collect("366"))
    assert f"{b.nick}!~{b.nick.lower()}@127.0.0.1" in names, names
    assert f"@{a.nick}!~{a.nick.lower()}@127.0.0.1" in names, names


def test_invite_notify_to_other_ops(shared_server, irc_client):
    """With invite-notify, another channel operator sees the INVITE one op
    sends; a member without the cap does not."""
    chan = _chan("in")
    op = irc_client(shared_server, unique_nick("io"))
    other_op = irc_client(shared_server, unique_nick("ip"), caps=["invite-notify"])
    plain = irc_client(shared_server, unique_nick("iq"))
    target = irc_client(shared_server, unique_nick("it"))
    op.join(chan)
    other_op.join(chan)
    plain.join(chan)
    _mode(op, chan, f"+io {other_op.nick}", other_op, plain)
    op.send(f"INVITE {target.nick} {chan}")
    op.expect("341")
    seen = other_op.expect("INVITE")
    assert seen.nick == op.nick and seen.params == [target.nick, chan], seen.raw
    plain.assert_silent("INVITE", timeout=0.3)


def test_names_without_channel(shared_server, irc_client):
    """NAMES without a channel lists visible channels and ends with 366 *."""
    chan, (a,) = _setup(shared_server, irc_client, 1)
    a.send("NAMES")
    lines = a.collect(lambda m: m.command == "366")
    assert lines[-1].params[1] == "*", lines[-1].raw
    assert any(m.command == "353" and m.params[2] == chan for m in lines)


def test_names_of_two_channels_gives_every_353_then_one_366(shared_server, irc_client):
    """NAMES #a,#b answers the 353 of #a, the 353 of #b, then one 366 naming
    "#a,#b", to a member and to an outsider alike."""
    a = irc_client(shared_server, unique_nick("na"))
    b = irc_client(shared_server, unique_nick("nb"))
    first, second = _chan("na"), _chan("nb")
    a.join(first)
    a.join(second)
    for who in (a, b):
        who.send(f"NAMES {first},{second}")
        lines = who.collect(lambda m: m.command == "366")
        got = [(m.command, m.params[2] if m.command == "353" else m.params[1]) for m in lines
               if m.command in ("353", "366")]
        assert got == [("353", first), ("353", second), ("366", f"{first},{second}")], got
        assert all(m.params[-1] == f"@{a.nick}" for m in lines if m.command == "353")


def test_kick_one_nick_from_several_channels(shared_server, irc_client):
    """KICK #a,#b nick kicks nick from both channels (the victim sees two KICKs)."""
    a = irc_client(shared_server, unique_nick("ka"))
    b = irc_client(shared_server, unique_nick("kb"))
    first, second = _chan("ka"), _chan("kb")
    for chan in (first, second):
        a.join(chan)
        b.join(chan)
    a.send(f"KICK {first},{second} {b.nick} :both")
    kicks = [b.expect("KICK", timeout=3), b.expect("KICK", timeout=3)]
    assert [(m.params[0], m.params[1], m.params[2]) for m in kicks] == [
        (first, b.nick, "both"), (second, b.nick, "both")]
