"""SETNAME and RENAME (IRCv3 setname, draft/channel-rename) as clients see them, here and across links."""

from conferenceroom.modes import ModeChange
from tests.unit.linknet import Mesh
from tests.helpers import (
    feed, join_channel, make_core, make_remote_server, make_remote_user, register, sent,
)


def test_setname_confirmed_and_shown_to_peers_with_the_cap() -> None:
    """SETNAME changes the real name (WHOIS shows it); the user and peers with setname see
    SETNAME; a peer without the cap sees nothing."""
    core = make_core()
    alice = register(core, "alice", caps="setname")
    bob = register(core, "bob", caps="setname")
    carol = register(core, "carol")
    for conn in (alice, bob, carol):
        join_channel(core, conn, "#c")
        sent(conn)
    feed(alice, "SETNAME :Alice Liddell")
    assert [(m.command, m.source, m.params) for m in sent(alice)] == [
        ("SETNAME", "alice!~alice@127.0.0.1", ("Alice Liddell",))]
    assert [m.command for m in sent(bob)] == ["SETNAME"]
    assert sent(carol) == []
    feed(carol, "WHOIS alice")
    assert [m.params[-1] for m in sent(carol) if m.command == "311"] == ["Alice Liddell"]


def test_setname_invalid_is_a_standard_fail() -> None:
    """A too long or blank real name gets FAIL SETNAME INVALID_REALNAME and changes nothing."""
    core = make_core()
    alice = register(core, "alice", caps="setname")
    feed(alice, "SETNAME :" + "x" * 151, "SETNAME : ")
    got = sent(alice)
    assert [m.params[:2] for m in got] == [("SETNAME", "INVALID_REALNAME")] * 2
    assert all(m.command == "FAIL" for m in got)
    assert alice.user.realname == "Real alice"


def test_setname_and_bot_mode_cross_a_chain_of_servers() -> None:
    """Over alpha - beta - gamma, a SETNAME on alpha (ENCAP * SETNAME) and a +B (a user mode)
    reach gamma's copy of the user; nothing loops back."""
    mesh = Mesh()
    alpha, beta, gamma = (mesh.node(n, s) for n, s in (("alpha.lab", "1AA"), ("beta.lab", "2BB"),
                                                        ("gamma.lab", "3CC")))
    mesh.link(alpha, beta)
    mesh.link(beta, gamma)
    user = alpha.add_user("alice")
    mesh.pump()
    alpha.network.set_realname(user, "Alice Liddell")
    alpha.network.apply_user_modes(user, user, [ModeChange(True, "B")])
    mesh.pump()
    far = gamma.user("alice")
    assert far.realname == "Alice Liddell" and "B" in far.modes
    assert beta.user("alice").realname == "Alice Liddell"
    assert not gamma.wrong_direction and not alpha.wrong_direction


# -- UTF8ONLY -------------------------------------------------------------------------


def _utf8only_core():
    from tests.helpers import make_settings

    return make_core(make_settings(utf8only=True))


def test_utf8only_off_by_default_keeps_the_latin1_fallback() -> None:
    """By default UTF8ONLY is not advertised and a Latin-1 message is delivered (as UTF-8)."""
    core = make_core()
    alice, bob = register(core, "alice"), register(core, "bob")
    assert "UTF8ONLY" not in core.isupport()
    alice.dataReceived(b"PRIVMSG bob :caf\xe9\r\n")
    assert [m.params[1] for m in sent(bob)] == ["caf\u00e9"]


def test_utf8only_refuses_invalid_utf8_with_fail() -> None:
    """With general set utf8only on: 005 has UTF8ONLY; a line with invalid UTF-8 gets
    FAIL <command> INVALID_UTF8 (with the label) and reaches nobody; valid UTF-8 passes."""
    core = _utf8only_core()
    assert "UTF8ONLY" in core.isupport()
    alice = register(core, "alice", caps="labeled-response batch")
    bob = register(core, "bob")
    alice.dataReceived(b"@label=u1 PRIVMSG bob :hi\xaa\r\n")
    (fail,) = sent(alice)
    assert (fail.command, fail.params[:2], fail.tags.get("label")) == ("FAIL", ("PRIVMSG", "INVALID_UTF8"), "u1")
    assert sent(bob) == []
    alice.dataReceived("PRIVMSG bob :caf\u00e9 \u2615\r\n".encode())
    assert [m.params[1] for m in sent(bob)] == ["caf\u00e9 \u2615"]


def test_utf8only_realname_refused_at_registration() -> None:
    """A USER line with a Latin-1 real name is refused with FAIL; the client can send it again."""
    from tests.helpers import connect

    core = _utf8only_core()
    conn = connect(core)
    conn.dataReceived(b"NICK bar\r\nUSER u * * :i\xe8rc\xe9\r\n")
    assert [(m.command, m.params[:2]) for m in sent(conn)] == [("FAIL", ("USER", "INVALID_UTF8"))]
    assert conn.user is None
    feed(conn, "USER u * * :irc")
    assert conn.user is not None


def test_utf8only_setting_in_the_admin_grammar() -> None:
    """AS GENERAL SET UTF8ONLY ON is a setting of its own, said back like the others."""
    from conferenceroom.admin import Settings, build_tree

    result = build_tree(bcrypt_rounds=4).execute_line(Settings(), "general set utf8only on")
    assert result.settings.utf8only is True and result.replies == ["UTF-8 only set to on"]


# -- message-tags across links ------------------------------------------------------------


def test_client_tags_and_tagmsg_cross_conferenceroom_links_only() -> None:
    """A TAGMSG and a PRIVMSG with +tags from alpha reach a message-tags client on gamma
    (through beta) with the tags and msgid; a hybrid peer gets the PRIVMSG without tags and
    no TAGMSG; a client without message-tags gets no TAGMSG."""
    from tests.unit.linknet import HYBRID_CAPS

    mesh = Mesh()
    alpha, beta, gamma = (mesh.node(n, s) for n, s in (("alpha.lab", "1AA"), ("beta.lab", "2BB"),
                                                        ("gamma.lab", "3CC")))
    mesh.link(alpha, beta)
    mesh.link(beta, gamma)
    hybrid = mesh.node("hybrid.lab", "4DD")
    to_hybrid, _ = mesh.link(alpha, hybrid, a_caps=HYBRID_CAPS)
    hybrid.network.join(hybrid.add_user("hank"), "#c")
    alice = alpha.add_user("alice")
    gus, plain = gamma.add_user("gus"), gamma.add_user("plain")
    gus.route.caps = frozenset({"message-tags"})
    for node, user in ((alpha, alice), (gamma, gus), (gamma, plain)):
        node.network.join(user, "#c")
    mesh.pump()
    to_hybrid.lines()
    channel = alpha.network.find_channel("#c")
    alpha.router.deliver(alice, channel, "TAGMSG", ("#c",), tags={"+typing": "active", "msgid": "m1"},
                         exclude=alice, cap="message-tags")
    alpha.router.deliver(alice, channel, "PRIVMSG", ("#c", "hi"), tags={"+react": "x", "msgid": "m2"},
                         exclude=alice)
    mesh.pump()
    got = [(m.command, m.tags) for m in gus.route.received if m.command in ("TAGMSG", "PRIVMSG")]
    assert got == [("TAGMSG", {"+typing": "active", "msgid": "m1"}),
                   ("PRIVMSG", {"+react": "x", "msgid": "m2"})]
    assert [m.command for m in plain.route.received if m.command in ("TAGMSG", "PRIVMSG")] == ["PRIVMSG"]
    hybrid_lines = [line for line in to_hybrid.lines() if "PRIVMSG" in line or "TAGMSG" in line]
    assert hybrid_lines == [f":{alice.uid} PRIVMSG #c :hi"]


# -- RENAME (draft/channel-rename) -------------------------------------------------------


def test_rename_seen_as_rename_or_as_part_and_join() -> None:
    """An op's RENAME: members with the cap see RENAME; others see PART of the old name,
    JOIN of the new one and its names; the channel keeps modes, ops and topic."""
    core = make_core()
    op = register(core, "op", caps="draft/channel-rename")
    legacy = register(core, "legacy")
    join_channel(core, op, "#bar", "o")
    join_channel(core, legacy, "#bar")
    feed(op, "TOPIC #bar :the topic", "MODE #bar +k beer")
    sent(op), sent(legacy)
    feed(op, "RENAME #bar #qux :tidy up")
    assert [(m.command, m.params) for m in sent(op)] == [("RENAME", ("#bar", "#qux", "tidy up"))]
    got = sent(legacy)
    assert [m.command for m in got[:2]] == ["PART", "JOIN"]
    assert got[0].params[0] == "#bar" and got[1].params == ("#qux",)
    assert "332" in [m.command for m in got] and got[-1].command == "366"
    channel = core.network.find_channel("#qux")
    assert core.network.find_channel("#bar") is None and channel.key == "beer"
    assert channel.topic == "the topic"


def test_rename_refusals() -> None:
    """Not an op: 482; a taken name: FAIL CHANNEL_NAME_IN_USE; # to &: FAIL CANNOT_RENAME;
    a bad name: FAIL CHANNEL_NAME_INVALID; no such channel: 403; a case change is allowed."""
    core = make_core()
    op = register(core, "op", caps="draft/channel-rename")
    other = register(core, "other")
    join_channel(core, op, "#a", "o")
    join_channel(core, op, "#b", "o")
    join_channel(core, other, "#a")
    sent(op), sent(other)
    feed(other, "RENAME #a #c")
    assert [m.command for m in sent(other)] == ["482"]
    feed(op, "RENAME #a #B", "RENAME #a &a", "RENAME #a #no,comma", "RENAME #zz #y")
    got = sent(op)
    assert [m.params[:2] if m.command == "FAIL" else m.command for m in got] == [
        ("RENAME", "CHANNEL_NAME_IN_USE"), ("RENAME", "CANNOT_RENAME"), ("RENAME", "CHANNEL_NAME_INVALID"), "403"]
    feed(op, "RENAME #a #A")
    assert [m.command for m in sent(op)] == ["RENAME"] and core.network.find_channel("#a").name == "#A"


def test_rename_crosses_conferenceroom_links() -> None:
    """A rename on alpha reaches gamma through beta (ENCAP * RENAME with the channel TS):
    the channel is found there by its new name only."""
    mesh = Mesh()
    alpha, beta, gamma = (mesh.node(n, s) for n, s in (("alpha.lab", "1AA"), ("beta.lab", "2BB"),
                                                        ("gamma.lab", "3CC")))
    mesh.link(alpha, beta)
    mesh.link(beta, gamma)
    alice = alpha.add_user("alice")
    alpha.network.join(alice, "#old")
    gamma.network.join(gamma.add_user("gus"), "#old")
    mesh.pump()
    alpha.network.rename_channel(alice, alpha.network.find_channel("#old"), "#new", "why")
    mesh.pump()
    for node in (beta, gamma):
        assert node.network.find_channel("#old") is None
        assert {u.nick for u in node.network.find_channel("#new").members} == {"alice", "gus"}


# -- MARKREAD (draft/read-marker) ------------------------------------------------------------


def test_markread_set_get_never_backwards_and_on_join() -> None:
    """MARKREAD stores a timestamp per target and only moves it forward; a get without one
    is ``*``; JOIN sends MARKREAD before 366; mistakes are FAIL standard replies."""
    core = make_core()
    alice = register(core, "alice", caps="draft/read-marker")
    feed(alice, "JOIN #test")
    got = sent(alice)
    cmds = [m.command for m in got]
    assert cmds.index("MARKREAD") < cmds.index("366")
    assert got[cmds.index("MARKREAD")].params == ("#test", "*")
    feed(alice, "MARKREAD #test timestamp=2020-01-01T00:00:00.000Z",
         "MARKREAD #test timestamp=2019-01-01T00:00:00.000Z", "MARKREAD #TEST")
    assert [m.params for m in sent(alice)] == [("#test", "timestamp=2020-01-01T00:00:00.000Z")] * 2 + [
        ("#TEST", "timestamp=2020-01-01T00:00:00.000Z")]
    feed(alice, "MARKREAD", "MARKREAD #test timestamp=soon", "MARKREAD #test *")
    assert [m.params[:2] for m in sent(alice)] == [
        ("MARKREAD", "NEED_MORE_PARAMS"), ("MARKREAD", "INVALID_PARAMS"), ("MARKREAD", "INVALID_PARAMS")]


def test_markread_shared_by_the_sessions_of_an_account() -> None:
    """Two sessions logged in to one account share markers; a set is told to the other one."""
    core = make_core()
    one = register(core, "one", caps="draft/read-marker")
    two = register(core, "two", caps="draft/read-marker")
    for conn in (one, two):
        core.network.set_account(conn.user, "acct")
    sent(one), sent(two)
    feed(one, "MARKREAD bob timestamp=2023-07-04T00:00:00.000Z")
    assert [m.params for m in sent(two)] == [("bob", "timestamp=2023-07-04T00:00:00.000Z")]
    feed(two, "MARKREAD bob")
    assert sent(two)[0].params[1] == "timestamp=2023-07-04T00:00:00.000Z"


# -- REDACT (draft/message-redaction) -------------------------------------------------------

REDACT_CAPS = "message-tags echo-message draft/message-redaction"


def _said(conn, text):
    feed(conn, text)
    return sent(conn)[-1].tags["msgid"]


def test_redact_own_and_as_operator_told_to_capable_members() -> None:
    """A sender redacts its message, a channel operator anyone's; members with the cap see
    REDACT (with the reason), a member without it sees nothing."""
    core = make_core()
    alice = register(core, "alice", caps=REDACT_CAPS)
    bob = register(core, "bob", caps=REDACT_CAPS)
    plain = register(core, "plain", caps="message-tags")
    join_channel(core, alice, "#c", "o")
    join_channel(core, bob, "#c")
    join_channel(core, plain, "#c")
    sent(alice), sent(bob), sent(plain)
    mine = _said(alice, "PRIVMSG #c :oops")
    sent(bob), sent(plain)
    feed(alice, f"REDACT #c {mine} :wrong channel")
    for conn in (alice, bob):
        assert [(m.command, m.source.split("!")[0], m.params) for m in sent(conn)] == [
            ("REDACT", "alice", ("#c", mine, "wrong channel"))]
    assert sent(plain) == []
    theirs = _said(bob, "PRIVMSG #c :spam")
    sent(alice)
    feed(alice, f"REDACT #c {theirs}")
    assert [m.params for m in sent(bob)] == [("#c", theirs)]


def test_redact_refusals() -> None:
    """A non-operator redacting another's message: FAIL REDACT_FORBIDDEN (nobody told); an
    unknown msgid or the wrong target: FAIL UNKNOWN_MSGID; a channel one is not in or an
    unknown nick: FAIL INVALID_TARGET."""
    core = make_core()
    alice = register(core, "alice", caps=REDACT_CAPS)
    bob = register(core, "bob", caps=REDACT_CAPS)
    join_channel(core, alice, "#c", "o")
    join_channel(core, bob, "#c")
    join_channel(core, bob, "#d")
    sent(alice), sent(bob)
    mine = _said(alice, "PRIVMSG #c :hello")
    sent(bob)
    feed(bob, f"REDACT #c {mine}", "REDACT #c nosuchid", f"REDACT #d {mine}", f"REDACT #nowhere {mine}",
         f"REDACT nobody {mine}")
    assert [m.params[:4] for m in sent(bob)] == [
        ("REDACT", "REDACT_FORBIDDEN", "#c", mine), ("REDACT", "UNKNOWN_MSGID", "#c", "nosuchid"),
        ("REDACT", "UNKNOWN_MSGID", "#d", mine), ("REDACT", "INVALID_TARGET", "#nowhere", "You are not in that channel or no such nick"),
        ("REDACT", "INVALID_TARGET", "nobody", "You are not in that channel or no such nick")]
    assert sent(alice) == []


def test_redact_private_message() -> None:
    """The sender of a private message may redact it; both parties with the cap are told."""
    core = make_core()
    alice = register(core, "alice", caps=REDACT_CAPS)
    bob = register(core, "bob", caps=REDACT_CAPS)
    msgid = _said(alice, "PRIVMSG bob :psst")
    sent(bob)
    feed(alice, f"REDACT bob {msgid}")
    assert [m.command for m in sent(alice)] == ["REDACT"]
    assert [m.params for m in sent(bob)] == [("bob", msgid)]
    feed(bob, f"REDACT alice {msgid}")
    assert sent(bob)[0].params[1] == "REDACT_FORBIDDEN"
