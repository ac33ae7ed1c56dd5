"""WHO (and WHOX), WHOIS, WHOWAS and LIST as a client sees them."""

from conferenceroom.client.commands.query import WHO_MAX_MATCHES, WHOWAS_REPLY_MAX
from conferenceroom.modes import ModeChange
from tests.helpers import (
    START, clear_all, feed, join_channel, make_core, make_oper, make_remote_server, make_remote_user,
    make_settings, register, sent, sent_codes, sent_lines,
)


def _set_modes(core, channel, *letters):
    """Set channel flags (as the server) and clear output."""
    core.network.apply_channel_modes(core.network.me, channel, [ModeChange(True, m) for m in letters])
    clear_all(core)


# -- WHO ----------------------------------------------------------------------------------


def test_who_nick_classic_reply() -> None:
    """WHO <nick> gives one 352 with every field, then 315 with the mask as sent."""
    core = make_core()
    register(core, "alice")
    bob = register(core, "bob")
    feed(bob, "WHO ALICE")
    reply, end = sent(bob)
    assert reply.command == "352"
    assert reply.params == (
        "bob", "*", "~alice", "127.0.0.1", "test.local", "alice", "H", "0 Real alice"
    )
    assert end.command == "315" and end.params[:2] == ("bob", "ALICE")


def test_who_away_and_oper_flags() -> None:
    """G marks an away user and * an operator."""
    core = make_core()
    alice, bob = register(core, "alice"), register(core, "bob")
    core.network.set_oper(alice.user, "admin", frozenset("o"))
    feed(alice, "AWAY :brb")
    feed(bob, "WHO alice")
    assert sent(bob)[0].params[6] == "G*"


def test_who_channel_lists_members_with_prefixes() -> None:
    """WHO #chan shows each member with the channel name and its prefix."""
    core = make_core()
    alice, bob = register(core, "alice"), register(core, "bob")
    join_channel(core, alice, "#chan", "o", "v")
    join_channel(core, bob, "#chan")
    feed(bob, "WHO #CHAN")
    *replies, end = sent(bob)
    rows = sorted((m.params[1], m.params[5], m.params[6]) for m in replies)
    assert rows == [("#chan", "alice", "H@"), ("#chan", "bob", "H")]
    assert end.params[1] == "#CHAN"


def test_who_and_whois_show_owner_as_tilde() -> None:
    """An owner shows as ~ in WHO's flags and in WHOIS's channel list."""
    core = make_core()
    alice, bob = register(core, "alice"), register(core, "bob")
    join_channel(core, alice, "#chan", "q", "o")
    feed(bob, "WHO #chan")
    assert sent(bob)[0].params[6] == "H~"
    feed(bob, "WHOIS alice")
    assert [m.params[2] for m in sent(bob) if m.command == "319"] == ["~#chan"]


def test_who_multi_prefix() -> None:
    """With multi-prefix every status prefix of a member is shown."""
    core = make_core()
    alice = register(core, "alice")
    bob = register(core, "bob", caps="multi-prefix")
    join_channel(core, alice, "#chan", "o", "v")
    feed(bob, "WHO #chan")
    assert sent(bob)[0].params[6] == "H@+"


def test_who_invisible_user_hidden_from_masks() -> None:
    """An invisible user is hidden from mask queries, but not from an exact nick or a peer."""
    core = make_core()
    evan, shiv = register(core, "evan"), register(core, "shiv")
    evan.user.set_mode("i")
    feed(shiv, "WHO eva*")
    assert sent_codes(shiv) == ["315"]
    feed(shiv, "WHO evan")
    assert sent_codes(shiv) == ["352", "315"]
    join_channel(core, evan, "#test")
    join_channel(core, shiv, "#test")
    feed(shiv, "WHO eva*")
    assert sent_codes(shiv) == ["352", "315"]


def test_who_invisible_member_hidden_from_outsiders() -> None:
    """WHO #chan from a non-member hides invisible members; members see everyone."""
    core = make_core()
    evan, ann, out = register(core, "evan"), register(core, "ann"), register(core, "out")
    evan.user.set_mode("i")
    join_channel(core, evan, "#chan")
    join_channel(core, ann, "#chan")
    feed(out, "WHO #chan")
    assert [m.params[5] for m in sent(out) if m.command == "352"] == ["ann"]
    feed(ann, "WHO #chan")
    assert sorted(m.params[5] for m in sent(ann) if m.command == "352") == ["ann", "evan"]


def test_who_secret_channel_hidden_from_outsiders() -> None:
    """WHO on a secret channel gives only 315 to a non-member."""
    core = make_core()
    alice, bob = register(core, "alice"), register(core, "bob")
    channel = join_channel(core, alice, "#secret")
    _set_modes(core, channel, "s")
    feed(bob, "WHO #secret")
    assert sent_codes(bob) == ["315"]


def test_who_star_and_field_matching() -> None:
    """WHO * lists visible users; masks match user, host, realname and server too."""
    core = make_core()
    register(core, "alice")
    bob = register(core, "bob")
    feed(bob, "WHO *")
    assert sorted(m.params[5] for m in sent(bob) if m.command == "352") == ["alice", "bob"]
    feed(bob, "WHO ~ali*")
    assert [m.params[5] for m in sent(bob) if m.command == "352"] == ["alice"]
    feed(bob, "WHO :*Real al*")
    assert [m.params[5] for m in sent(bob) if m.command == "352"] == ["alice"]
    feed(bob, "WHO test.local")
    assert len([m for m in sent(bob) if m.command == "352"]) == 2
    feed(bob, "WHO nobody")
    assert sent_codes(bob) == ["315"]


def test_who_operators_only() -> None:
    """WHO <mask> o lists only operators."""
    core = make_core()
    alice, bob = register(core, "alice"), register(core, "bob")
    core.network.set_oper(alice.user, "admin", frozenset("o"))
    feed(bob, "WHO * o")
    assert [m.params[5] for m in sent(bob) if m.command == "352"] == ["alice"]


def test_whox_all_fields_in_standard_order() -> None:
    """WHOX fields come in the order t c u i h s n f d l a o r, whatever order was asked."""
    core = make_core()
    alice, bob = register(core, "alice"), register(core, "bob")
    join_channel(core, alice, "#chan", "o")
    feed(bob, "WHO alice %" + "".join(reversed("tcuihsnfdlaor")) + ",123")
    reply, end = sent(bob)
    assert reply.command == "354"
    assert reply.params == (
        "bob", "123", "*", "~alice", "255.255.255.255", "127.0.0.1", "test.local", "alice",
        "H", "0", "0", "0", "n/a", "Real alice",
    )
    assert end.params[1] == "alice"


def test_whox_token_account_and_ip() -> None:
    """%tna gives token, nick and account (0 when none); operators see the real IP."""
    core = make_core()
    alice, bob = register(core, "alice"), register(core, "bob")
    feed(bob, "WHO alice %tn,321")
    assert sent(bob)[0].params == ("bob", "321", "alice")
    alice.user.account = "alacct"
    feed(bob, "WHO alice %na")
    assert sent(bob)[0].params == ("bob", "alice", "alacct")
    bob.user.account = None
    feed(bob, "WHO bob %na")
    assert sent(bob)[0].params == ("bob", "bob", "0")
    core.network.set_oper(bob.user, "admin", frozenset("o"))
    sent(bob)
    feed(bob, "WHO alice %i")
    assert sent(bob)[0].params == ("bob", "127.0.0.1")


def test_whox_channel_field_and_idle() -> None:
    """On a channel query the c field is the channel; l is the idle time of local users."""
    core = make_core()
    alice, bob = register(core, "alice"), register(core, "bob")
    join_channel(core, alice, "#chan")
    core.clock.advance(42)
    feed(bob, "WHO #chan %cnl")
    assert sent(bob)[0].params == ("bob", "#chan", "alice", "42")


def test_who_remote_user() -> None:
    """A remote user shows its own server and hop count."""
    core = make_core()
    server = make_remote_server(core)
    make_remote_user(core, server, "rob")
    bob = register(core, "bob")
    feed(bob, "WHO rob")
    reply = sent(bob)[0]
    assert reply.params[4] == "remote.test" and reply.params[7] == "1 Remote rob"


def test_who_needs_a_mask() -> None:
    """WHO without a mask gets 461."""
    core = make_core()
    bob = register(core, "bob")
    feed(bob, "WHO")
    assert sent_codes(bob) == ["461"]


# -- WHOIS ----------------------------------------------------------------------------------


def test_whois_basic() -> None:
    """WHOIS starts with 311, includes channels and server, and ends with 318."""
    core = make_core()
    alice, bob = register(core, "alice"), register(core, "bob")
    join_channel(core, alice, "#chan1", "o")
    join_channel(core, alice, "#chan2", "o")
    core.clock.advance(7)
    feed(bob, "WHOIS Alice")
    out = sent(bob)
    codes = [m.command for m in out]
    assert codes == ["311", "319", "312", "317", "318"]
    assert out[0].params == ("bob", "alice", "~alice", "127.0.0.1", "*", "Real alice")
    assert sorted(out[1].params[2].split()) == ["@#chan1", "@#chan2"]
    assert out[2].params[:3] == ("bob", "alice", "test.local")
    assert out[3].params[2:4] == ("7", str(int(START)))
    assert out[4].params[:2] == ("bob", "alice")


def test_whois_away_oper_account_secure() -> None:
    """301, 313, 330 and 671 appear when they apply."""
    core = make_core()
    alice, bob = register(core, "alice"), register(core, "bob")
    core.network.set_oper(alice.user, "admin", frozenset("a"))
    feed(alice, "AWAY :on a break")
    alice.user.account = "alacct"
    alice.user.set_mode("z")  # a TLS client
    feed(bob, "WHOIS alice")
    by_code = {m.command: m for m in sent(bob)}
    assert by_code["301"].params == ("bob", "alice", "on a break")
    assert by_code["313"].params == ("bob", "alice", "is a Server Administrator")
    assert by_code["330"].params[:3] == ("bob", "alice", "alacct")
    assert "671" in by_code
    core.network.set_oper(alice.user, "plain", frozenset("g"))
    feed(bob, "WHOIS alice")
    assert {m.command: m for m in sent(bob)}["313"].params[2] == "is an IRC operator"


def test_whois_real_host_only_to_opers_and_self() -> None:
    """378 and 338 go to the user itself and to operators only."""
    core = make_core()
    alice, bob = register(core, "alice"), register(core, "bob")
    feed(bob, "WHOIS alice")
    assert not {"338", "378"} & set(sent_codes(bob))
    feed(alice, "WHOIS alice")
    assert {"338", "378"} <= set(sent_codes(alice))
    core.network.set_oper(bob.user, "admin", frozenset("o"))
    sent(bob)
    feed(bob, "WHOIS alice")
    out = {m.command: m for m in sent(bob)}
    assert out["338"].params[:3] == ("bob", "alice", "127.0.0.1")


def test_whois_hides_secret_channels() -> None:
    """Secret channels are left out of 319 unless the asker is in them."""
    core = make_core()
    alice, bob = register(core, "alice"), register(core, "bob")
    join_channel(core, alice, "#open")
    secret = join_channel(core, alice, "#hidden")
    _set_modes(core, secret, "s")
    feed(bob, "WHOIS alice")
    assert [m.params[2] for m in sent(bob) if m.command == "319"] == ["@#open"]
    join_channel(core, bob, "#hidden")
    feed(bob, "WHOIS alice")
    assert sorted([m.params[2] for m in sent(bob) if m.command == "319"][0].split()) == [
        "@#hidden", "@#open"
    ]


def test_whois_invisible_shows_shared_channels_only() -> None:
    """An invisible user's channels are shown only where the asker is too."""
    core = make_core()
    alice, bob = register(core, "alice"), register(core, "bob")
    alice.user.set_mode("i")
    join_channel(core, alice, "#xyz")
    feed(bob, "WHOIS alice")
    assert "319" not in sent_codes(bob)
    join_channel(core, bob, "#xyz")
    feed(bob, "WHOIS alice")
    assert "319" in sent_codes(bob)


def test_whois_unknown_nick() -> None:
    """An unknown nick gets 401 then 318."""
    core = make_core()
    bob = register(core, "bob")
    feed(bob, "WHOIS ghost")
    out = sent(bob)
    assert [m.command for m in out] == ["401", "318"]
    assert out[0].params[1] == "ghost" and out[1].params[1] == "ghost"


def test_whois_no_nick() -> None:
    """WHOIS without a nick gets 431."""
    core = make_core()
    bob = register(core, "bob")
    feed(bob, "WHOIS")
    assert sent_codes(bob) == ["431"]


def test_whois_with_server_parameter() -> None:
    """WHOIS <server> <nick> and WHOIS <nick> <nick> work; an unknown server gets 402."""
    core = make_core()
    register(core, "alice")
    bob = register(core, "bob")
    feed(bob, "WHOIS test.local alice")
    assert sent_codes(bob)[0] == "311"
    feed(bob, "WHOIS alice alice")
    assert sent_codes(bob)[0] == "311"
    feed(bob, "WHOIS no.such.server alice")
    assert sent_codes(bob) == ["402"]


def test_whois_remote_user_has_no_idle() -> None:
    """A remote user's WHOIS names its server and has no 317."""
    core = make_core()
    server = make_remote_server(core)
    make_remote_user(core, server, "rob")
    bob = register(core, "bob")
    feed(bob, "WHOIS rob")
    out = sent(bob)
    assert "317" not in [m.command for m in out]
    assert [m.params[2] for m in out if m.command == "312"] == ["remote.test"]


def test_whois_nick_nick_of_a_remote_user_asks_its_server() -> None:
    """WHOIS rob rob (or WHOIS <rob's server> rob) goes to rob's server, which
    answers with idle time; nothing is answered here meanwhile."""
    core = make_core()
    server = make_remote_server(core)
    rob = make_remote_user(core, server, "rob")
    bob = register(core, "bob")
    for line in ("WHOIS rob rob", "WHOIS remote.test rob", "WHOIS remote.* ROB"):
        feed(bob, line)
        assert sent(bob) == []
        relay = server.route.relays[-1]
        assert (relay.message.command, relay.sender, relay.target) == ("WHOIS", bob.user, rob)
        assert relay.message.params == ("rob", "rob")
    assert len(server.route.relays) == 3
    feed(bob, "WHOIS test.local rob")  # another server named: answered here, no idle
    assert [m.command for m in sent(bob)][-1] == "318" and len(server.route.relays) == 3


# -- WHOWAS --------------------------------------------------------------------------------------


def _quit_as(core, nick, ident):
    """Register ``nick`` with ``ident`` and quit, leaving a WHOWAS entry (the socket then closes)."""
    conn = register(core, nick)
    conn.user.ident = ident
    feed(conn, "QUIT :bye")
    conn.connectionLost(None)


def test_whowas_newest_first_and_count() -> None:
    """WHOWAS lists entries newest first; a positive count limits them."""
    core = make_core()
    bob = register(core, "bob")
    _quit_as(core, "nick2", "~ident2")
    _quit_as(core, "nick2", "~ident3")
    feed(bob, "WHOWAS nick2")
    out = sent(bob)
    assert [m.command for m in out] == ["314", "312", "314", "312", "369"]
    assert out[0].params == ("bob", "nick2", "~ident3", "127.0.0.1", "*", "Real nick2")
    assert out[1].params[2] == "test.local"
    assert out[2].params[2] == "~ident2"
    feed(bob, "WHOWAS nick2 1")
    assert sent_codes(bob) == ["314", "312", "369"]
    feed(bob, "WHOWAS nick2 -1")
    assert sent_codes(bob).count("314") == 2


def test_whowas_unknown_and_missing() -> None:
    """An unknown nick gets 406 then 369; no nick at all gets 431."""
    core = make_core()
    bob = register(core, "bob")
    feed(bob, "WHOWAS ghost")
    out = sent(bob)
    assert [m.command for m in out] == ["406", "369"]
    assert out[1].params[1] == "ghost"
    feed(bob, "WHOWAS")
    assert sent_codes(bob) == ["431"]


# -- LIST ---------------------------------------------------------------------------------------------


def _listed(conn):
    out = sent(conn)
    assert out[0].command == "321" and out[-1].command == "323"
    return {m.params[1]: m for m in out if m.command == "322"}


def test_list_all_with_modes_and_topic() -> None:
    """LIST gives 321, a 322 per channel with count and [+modes] topic, and 323."""
    core = make_core()
    alice, bob = register(core, "alice"), register(core, "bob")
    channel = join_channel(core, alice, "#chan")
    join_channel(core, bob, "#chan")
    _set_modes(core, channel, "n", "t")
    core.network.set_topic(alice.user, channel, "Welcome all", alice.user.mask)
    join_channel(core, alice, "#bare")
    feed(bob, "LIST")
    listed = _listed(bob)
    assert listed["#chan"].params[2:] == ("2", "[+nt] Welcome all")
    assert listed["#bare"].params[2:] == ("1", "")


def test_list_hides_secret_unless_member() -> None:
    """A secret channel is listed only for its members."""
    core = make_core()
    alice, bob = register(core, "alice"), register(core, "bob")
    _set_modes(core, join_channel(core, alice, "#gen"), "s")
    feed(bob, "LIST")
    assert _listed(bob) == {}
    feed(alice, "LIST")
    assert list(_listed(alice)) == ["#gen"]
    feed(bob, "LIST #gen")
    assert _listed(bob) == {}


def test_list_names_and_masks() -> None:
    """LIST takes channel names, masks (M) and negated masks (N)."""
    core = make_core()
    alice, bob = register(core, "alice"), register(core, "bob")
    join_channel(core, alice, "#chan1")
    join_channel(core, alice, "#chan2")
    feed(bob, "LIST #CHAN1,#nonexistent")
    assert set(_listed(bob)) == {"#chan1"}
    feed(bob, "LIST *an2")
    assert set(_listed(bob)) == {"#chan2"}
    feed(bob, "LIST #c*n2")
    assert set(_listed(bob)) == {"#chan2"}
    feed(bob, "LIST !*an1")
    assert set(_listed(bob)) == {"#chan2"}
    feed(bob, "LIST !#ch*")
    assert set(_listed(bob)) == set()


def test_list_user_counts() -> None:
    """>n and <n filter on the number of members (U)."""
    core = make_core()
    alice, bob = register(core, "alice"), register(core, "bob")
    join_channel(core, alice, "#chan1")
    join_channel(core, alice, "#chan2")
    join_channel(core, bob, "#chan2")
    for spec, expected in ((">0", {"#chan1", "#chan2"}), ("<1", set()), (">1", {"#chan2"}),
                           ("<2", {"#chan1"}), ("<100", {"#chan1", "#chan2"})):
        feed(bob, f"LIST {spec}")
        assert set(_listed(bob)) == expected, spec


def test_list_creation_and_topic_times() -> None:
    """C>n/C<n and T>n/T<n compare minutes since creation and topic change."""
    core = make_core()
    alice, bob = register(core, "alice"), register(core, "bob")
    first = join_channel(core, alice, "#chan1")
    core.network.set_topic(alice.user, first, "First", alice.user.mask)
    core.clock.advance(120)
    second = join_channel(core, alice, "#chan2")
    core.network.set_topic(alice.user, second, "Second", alice.user.mask)
    core.clock.advance(60)
    sent(alice)
    cases = (("C>2", {"#chan1"}), ("C<2", {"#chan2"}), ("C<0", set()), ("C>0", {"#chan1", "#chan2"}),
             ("C<10", {"#chan1", "#chan2"}), ("T>2", {"#chan1"}), ("T<2", {"#chan2"}),
             ("T<0", set()), ("T>0", {"#chan1", "#chan2"}), ("C>2,>0", {"#chan1"}))
    for spec, expected in cases:
        feed(bob, f"LIST {spec}")
        assert set(_listed(bob)) == expected, spec


def test_list_counts_remote_members() -> None:
    """Remote members count toward the channel's size."""
    core = make_core()
    server = make_remote_server(core)
    rob = make_remote_user(core, server, "rob")
    bob = register(core, "bob")
    join_channel(core, rob, "#far")
    feed(bob, "LIST")
    assert _listed(bob)["#far"].params[2] == "1"


# -- long and large answers ---------------------------------------------------------------------


def test_whois_channel_lines_fit_512_bytes() -> None:
    """A user in many long-named channels gets several 319 lines, each within 512 bytes and
    holding whole channel names, even with a 63-character server name and 30-character nicks."""
    core = make_core(make_settings(name="irc." + "x" * 55 + ".org"))
    target = register(core, "t" * 30)
    asker = register(core, "a" * 30)
    names = [f"#{i:02d}" + "c" * 35 for i in range(50)]
    for name in names:
        join_channel(core, target, name)
    feed(asker, "WHOIS " + "t" * 30)
    lines = [line for line in sent_lines(asker) if " 319 " in line]
    assert len(lines) > 1
    assert all(len(line.encode()) + 2 <= 512 for line in lines)
    shown = [word.lstrip("@") for line in lines for word in line.split(" :", 1)[1].split()]
    assert sorted(shown) == sorted(names)


def test_list_condition_with_a_non_ascii_digit_is_not_an_error() -> None:
    """``LIST <²`` is not a valid member-count condition; it is answered like any
    other unknown name (321, 323), never with an internal error."""
    core = make_core()
    alice, bob = register(core, "alice"), register(core, "bob")
    join_channel(core, alice, "#chan")
    feed(bob, "LIST <\u00b2")
    assert sent_codes(bob) == ["321", "323"]
    feed(bob, "LIST C>\u00b2")
    assert sent_codes(bob) == ["321", "323"]


def test_whowas_takes_a_nick_not_a_mask() -> None:
    """WHOWAS looks a nick up exactly (no wildcards, RFC 2812 3.6.3): ``WHOWAS *``
    does not dump the whole history."""
    core = make_core()
    bob = register(core, "bob")
    _quit_as(core, "nick1", "~ident1")
    _quit_as(core, "nick2", "~ident2")
    feed(bob, "WHOWAS nick*")
    assert sent_codes(bob) == ["406", "369"]
    feed(bob, "WHOWAS NICK1")
    assert sent_codes(bob) == ["314", "312", "369"]


def test_whowas_answer_is_bounded() -> None:
    """However many entries a nick has and whatever count is asked for, one WHOWAS
    answers at most WHOWAS_REPLY_MAX entries (newest first), then 369."""
    core = make_core()
    bob = register(core, "bob")
    for i in range(WHOWAS_REPLY_MAX + 10):
        _quit_as(core, "busy", f"~id{i}")
    for query in ("WHOWAS busy", "WHOWAS busy 100000", "WHOWAS busy 0"):
        feed(bob, query)
        out = sent(bob)
        assert [m.command for m in out].count("314") == WHOWAS_REPLY_MAX, query
        assert out[0].params[2] == f"~id{WHOWAS_REPLY_MAX + 9}"
        assert out[-1].command == "369"


def test_who_mask_answer_is_bounded_for_non_operators() -> None:
    """A non-operator's WHO by mask stops after WHO_MAX_MATCHES users with 416
    (too many matches) before 315; a channel WHO and an operator's WHO are whole."""
    core = make_core()
    server = make_remote_server(core)
    for i in range(WHO_MAX_MATCHES + 5):
        make_remote_user(core, server, f"u{i}")
    bob, oper = register(core, "bob"), register(core, "oper")
    make_oper(oper)
    feed(bob, "WHO *")
    out = sent(bob)
    assert [m.command for m in out].count("352") == WHO_MAX_MATCHES
    assert [m.command for m in out[-2:]] == ["416", "315"]
    assert out[-2].params[1] == "WHO"
    feed(oper, "WHO *")
    assert sent_codes(oper).count("352") == WHO_MAX_MATCHES + 7


def test_whowas_count_in_other_digits_is_no_count() -> None:
    """A WHOWAS count written in non-ASCII digits ("١", which int() would
    accept) is ignored like any other non-number: every entry is shown."""
    core = make_core()
    bob = register(core, "bob")
    for i in range(3):
        _quit_as(core, "gone", f"~id{i}")
    feed(bob, "WHOWAS gone \u0661")
    assert sent_codes(bob).count("314") == 3
    feed(bob, "WHOWAS gone 1")
    assert sent_codes(bob).count("314") == 1
