"""Mode tables and parsing (modes.py) and the MODE command for channels and users."""

from __future__ import annotations

import pytest

from conferenceroom.modes import (
    CHANNEL_MODES,
    MAX_LIST_ENTRIES,
    ModeChange,
    format_mode_changes,
    isupport_chanmodes,
    isupport_prefix,
    parse_mode_string,
    prefix_string,
    rank,
)
from conferenceroom.wire import Message
from tests.helpers import codes, feed, joined, make_core, make_owner, register, sent

START_TS = "1700000000"


def modes_of(messages: list[Message]) -> list[tuple[str, ...]]:
    """The parameters of the MODE lines among ``messages``."""
    return [m.params for m in messages if m.command == "MODE"]


def setup_pair():
    """A core with alice (op, creator) and bob (plain member) on #c."""
    core = make_core()
    alice = joined(core, "alice", "#c")
    bob = joined(core, "bob", "#c")
    alice.transport.clear()
    return core, alice, bob


# -- parse_mode_string and friends ----------------------------------------------------


def test_parse_flags_and_params() -> None:
    """Signs switch direction; parameters are taken in order by modes that need them."""
    parsed = parse_mode_string(["+nt-m+kl", "key", "10"], CHANNEL_MODES)
    assert parsed.changes == [
        ModeChange(True, "n"), ModeChange(True, "t"), ModeChange(False, "m"),
        ModeChange(True, "k", "key"), ModeChange(True, "l", "10"),
    ]
    assert parsed.unknown == [] and parsed.list_queries == []


def test_parse_missing_params() -> None:
    """A list mode without a parameter is a query; -k without one gets *; +l/+o without one are dropped."""
    parsed = parse_mode_string(["+bl-ko"], CHANNEL_MODES)
    assert parsed.list_queries == ["b"]
    assert parsed.changes == [ModeChange(False, "k", "*")]


def test_parse_l_removal_takes_no_param() -> None:
    """-l does not consume a parameter; the next mode gets it."""
    parsed = parse_mode_string(["-l+o", "alice"], CHANNEL_MODES)
    assert parsed.changes == [ModeChange(False, "l"), ModeChange(True, "o", "alice")]


def test_parse_unknown_once_per_char() -> None:
    """Unknown letters are reported once each, in order."""
    parsed = parse_mode_string(["+XnXYn"], CHANNEL_MODES)
    assert parsed.unknown == ["X", "Y"]
    assert parsed.changes == [ModeChange(True, "n"), ModeChange(True, "n")]


def test_parse_modes_limit() -> None:
    """Modes needing a parameter past MODES=4 are ignored."""
    parsed = parse_mode_string(["+vvvvv", "a", "b", "c", "d", "e"], CHANNEL_MODES)
    assert [c.param for c in parsed.changes] == ["a", "b", "c", "d"]


def test_format_and_prefix_helpers() -> None:
    """format_mode_changes groups signs; prefixes and ranks follow q > o > v."""
    changes = [ModeChange(True, "o", "a"), ModeChange(True, "v", "b"), ModeChange(False, "b", "m!*@*")]
    assert format_mode_changes(changes) == ["+ov-b", "a", "b", "m!*@*"]
    assert format_mode_changes([]) == []
    assert prefix_string({"v", "o", "q"}, multi=True) == "~@+"
    assert prefix_string({"v", "o"}, multi=False) == "@"
    assert prefix_string(set(), multi=True) == ""
    assert [rank(s) for s in ({"q"}, {"o", "v"}, {"v"}, set())] == [3, 2, 1, 0]
    assert isupport_prefix() == "(qov)~@+"
    assert isupport_chanmodes() == "beI,k,l,imnpst"


# -- channel mode query ------------------------------------------------------------------


def test_channel_mode_query() -> None:
    """MODE #c gives 324 then 329; the key is shown to members only."""
    core, alice, bob = setup_pair()
    feed(alice, "MODE #c")
    assert sent(alice) == [
        Message("324", ("alice", "#c", "+"), "test.local"),
        Message("329", ("alice", "#c", START_TS), "test.local"),
    ]
    feed(alice, "MODE #c +ntkl secret 5")
    sent(alice)
    feed(alice, "MODE #c")
    assert sent(alice)[0].params == ("alice", "#c", "+ntkl", "secret", "5")
    carol = register(core, "carol")
    feed(carol, "MODE #c")
    assert sent(carol)[0].params == ("carol", "#c", "+ntkl", "*", "5")


def test_mode_no_such_channel() -> None:
    """MODE on a missing channel is 403 (also when changing status)."""
    core, alice, _ = setup_pair()
    feed(alice, "MODE #nope", "MODE #nope +o alice")
    assert codes(sent(alice)) == ["403", "403"]


# -- flags ------------------------------------------------------------------------------------


@pytest.mark.parametrize("flag", list("imnpst"))
def test_flag_set_and_unset(flag: str) -> None:
    """Each flag mode is set and unset by an op and announced to every member."""
    core, alice, bob = setup_pair()
    channel = core.network.find_channel("#c")
    feed(alice, f"MODE #c +{flag}")
    expected = Message("MODE", ("#c", f"+{flag}"), "alice!~alice@127.0.0.1")
    assert sent(alice) == [expected] and sent(bob) == [expected]
    assert flag in channel.flags
    feed(alice, f"MODE #c +{flag}")
    assert sent(alice) == []
    feed(alice, f"MODE #c -{flag}")
    assert modes_of(sent(bob)) == [("#c", f"-{flag}")]
    assert flag not in channel.flags


def test_combined_flags_in_one_line() -> None:
    """Several changes are announced as one MODE line."""
    core, alice, bob = setup_pair()
    feed(alice, "MODE #c +ntov-s bob bob")
    assert modes_of(sent(bob)) == [("#c", "+ntov", "bob", "bob")]


def test_plain_member_and_voice_cannot_change_modes() -> None:
    """A member without op (even voiced) gets a single 482 and nothing changes."""
    core, alice, bob = setup_pair()
    feed(bob, "MODE #c +o bob")
    assert sent(bob) == [Message("482", ("bob", "#c", "You're not channel operator"), "test.local")]
    feed(alice, "MODE #c +v bob")
    sent(bob)
    feed(bob, "MODE #c +nt")
    assert codes(sent(bob)) == ["482"]
    assert core.network.find_channel("#c").flags == set()


def test_non_member_cannot_change_modes() -> None:
    """Someone outside the channel gets exactly one 482."""
    core, alice, bob = setup_pair()
    carol = register(core, "carol")
    feed(carol, "MODE #c +o carol")
    assert codes(sent(carol)) == ["482"]


def test_unknown_mode_chars() -> None:
    """Unknown letters get 472 once each; the known ones still apply."""
    core, alice, bob = setup_pair()
    feed(alice, "MODE #c +XnXY")
    out = sent(alice)
    assert [(m.command, m.params[1]) for m in out if m.command == "472"] == [("472", "X"), ("472", "Y")]
    assert modes_of(out) == [("#c", "+n")]


def test_modes_param_limit_applied() -> None:
    """Only the first four parameter modes of one MODE command take effect."""
    core, alice, bob = setup_pair()
    names = ["u1", "u2", "u3", "u4", "u5"]
    for i, nick in enumerate(names):
        joined(core, nick, "#c", ip=f"10.0.0.{i + 1}")
    sent(alice)
    feed(alice, "MODE #c +vvvvv " + " ".join(names))
    assert modes_of(sent(alice)) == [("#c", "+vvvv", "u1", "u2", "u3", "u4")]


# -- key and limit -------------------------------------------------------------------------------


def test_key_set_and_unset() -> None:
    """+k sets the key; -k with or without a parameter removes it."""
    core, alice, bob = setup_pair()
    channel = core.network.find_channel("#c")
    feed(alice, "MODE #c +k beer")
    assert modes_of(sent(bob)) == [("#c", "+k", "beer")]
    assert channel.key == "beer"
    sent(alice)
    feed(alice, "MODE #c +k beer")
    assert sent(alice) == []
    feed(alice, "MODE #c -k")
    assert modes_of(sent(bob)) == [("#c", "-k", "*")]
    feed(alice, "MODE #c +k other", "MODE #c -k whatever")
    assert modes_of(sent(bob)) == [("#c", "+k", "other"), ("#c", "-k", "*")]
    assert channel.key is None
    sent(alice)
    feed(alice, "MODE #c -k")
    assert sent(alice) == []


@pytest.mark.parametrize("key", ["with spaces", "x" * 24, "", "a,b", ":colon"])
def test_invalid_keys(key: str) -> None:
    """A malformed key gets 696 with * as parameter and leaves no key set."""
    core, alice, bob = setup_pair()
    feed(alice, f"MODE #c +k :{key}")
    out = sent(alice)
    assert len(out) == 1 and out[0].command == "696"
    assert out[0].params[:4] == ("alice", "#c", "k", "*")
    assert core.network.find_channel("#c").key is None


def test_limit_set_change_and_unset() -> None:
    """+l sets and changes the limit, -l (no parameter) removes it."""
    core, alice, bob = setup_pair()
    channel = core.network.find_channel("#c")
    feed(alice, "MODE #c +l 2", "MODE #c +l 2", "MODE #c +l 05")
    assert modes_of(sent(bob)) == [("#c", "+l", "2"), ("#c", "+l", "5")]
    assert channel.limit == 5
    feed(alice, "MODE #c -l")
    assert modes_of(sent(bob)) == [("#c", "-l")]
    assert channel.limit is None


@pytest.mark.parametrize("value", ["0", "-1", "abc", ""])
def test_invalid_limits(value: str) -> None:
    """A limit that is not a positive number gets 696 and sets nothing."""
    core, alice, bob = setup_pair()
    feed(alice, f"MODE #c +l :{value}")
    out = sent(alice)
    assert codes(out) == ["696"] and out[0].params[1:3] == ("#c", "l")
    assert core.network.find_channel("#c").limit is None


def test_limit_missing_param_ignored() -> None:
    """+l without a parameter is ignored silently."""
    core, alice, bob = setup_pair()
    feed(alice, "MODE #c +l")
    assert sent(alice) == []


# -- list modes ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "mode,entry,end",
    [("b", "367", "368"), ("e", "348", "349"), ("I", "346", "347")],
)
def test_list_add_view_remove(mode: str, entry: str, end: str) -> None:
    """Masks are normalised, listed with setter and time, and removed case-insensitively."""
    core, alice, bob = setup_pair()
    feed(alice, f"MODE #c +{mode} Evil")
    assert modes_of(sent(bob)) == [("#c", f"+{mode}", "Evil!*@*")]
    sent(alice)
    feed(alice, f"MODE #c +{mode} evil!*@*")
    assert sent(alice) == []
    feed(alice, f"MODE #c {mode}")
    assert sent(alice) == [
        Message(entry, ("alice", "#c", "Evil!*@*", "alice!~alice@127.0.0.1", START_TS), "test.local"),
        Message(end, ("alice", "#c", sent_end_text(end)), "test.local"),
    ]
    feed(alice, f"MODE #c -{mode} EVIL!*@*")
    assert modes_of(sent(bob)) == [("#c", f"-{mode}", "Evil!*@*")]
    sent(alice)
    feed(alice, f"MODE #c -{mode} nothere")
    assert sent(alice) == []


def sent_end_text(code: str) -> str:
    """The text of the end-of-list numeric ``code``."""
    return {
        "368": "End of Channel Ban List",
        "349": "End of Channel Exception List",
        "347": "End of Channel Invite Exception List",
    }[code]


def test_mask_normalisation() -> None:
    """nick, user@host and host.name masks are completed to nick!user@host."""
    core, alice, bob = setup_pair()
    feed(alice, "MODE #c +bbb nick ident@host some.host")
    assert modes_of(sent(bob)) == [("#c", "+bbb", "nick!*@*", "*!ident@host", "*!*@some.host")]


def test_list_viewing_rights() -> None:
    """Anyone may see the ban list; exception lists need membership (442)."""
    core, alice, bob = setup_pair()
    feed(alice, "MODE #c +be x y")
    sent(bob)
    carol = register(core, "carol")
    feed(carol, "MODE #c +b", "MODE #c e", "MODE #c I")
    assert codes(sent(carol)) == ["367", "368", "442", "442"]
    feed(bob, "MODE #c e")
    assert codes(sent(bob)) == ["348", "349"]


def test_list_query_needs_no_op() -> None:
    """A plain member's list query with a change gets the list and one 482."""
    core, alice, bob = setup_pair()
    feed(bob, "MODE #c b")
    assert codes(sent(bob)) == ["368"]
    feed(bob, "MODE #c +bn")
    assert codes(sent(bob)) == ["368", "482"]


def test_list_full() -> None:
    """Past MAXLIST entries a new mask gets 478 naming the mode."""
    core, alice, bob = setup_pair()
    channel = core.network.find_channel("#c")
    core.network.apply_channel_modes(
        alice.user, channel, [ModeChange(True, "b", f"n{i}!*@*") for i in range(MAX_LIST_ENTRIES - 1)]
    )
    sent(alice)
    feed(alice, "MODE #c +bb last1 last2")
    out = sent(alice)
    assert modes_of(out) == [("#c", "+b", "last1!*@*")]
    assert [m.params for m in out if m.command == "478"] == [
        ("alice", "#c", "b", "Channel list is full")
    ]


def test_ban_stops_join_until_removed() -> None:
    """A ban set by MODE refuses JOIN; removing it lets the user in."""
    core, alice, bob = setup_pair()
    feed(alice, "MODE #c +b Carol!*@*")
    carol = register(core, "carol")
    feed(carol, "JOIN #c")
    assert codes(sent(carol)) == ["474"]
    feed(alice, "MODE #c -b carol!*@*")
    feed(carol, "JOIN #c")
    assert sent(carol)[0].command == "JOIN"


# -- status modes and the owner ----------------------------------------------------------------


def test_op_and_voice_grant_and_remove() -> None:
    """An op gives and takes o and v; the nick is shown in its own case."""
    core, alice, bob = setup_pair()
    feed(alice, "MODE #c +ov BOB BOB")
    assert modes_of(sent(bob)) == [("#c", "+ov", "bob", "bob")]
    assert core.network.find_channel("#c").members[bob.user].status == {"o", "v"}
    sent(alice)
    feed(bob, "MODE #c -v+v alice alice")
    assert modes_of(sent(alice)) == [("#c", "+v", "alice")]
    sent(bob)
    feed(alice, "MODE #c -ov bob bob")
    assert modes_of(sent(bob)) == [("#c", "-ov", "bob", "bob")]


def test_status_target_errors() -> None:
    """A status change on a missing nick is 401, on a non-member 441."""
    core, alice, bob = setup_pair()
    register(core, "carol")
    feed(alice, "MODE #c +o nobody", "MODE #c +v carol")
    out = sent(alice)
    assert codes(out) == ["401", "441"]
    assert out[1].params == ("alice", "carol", "#c", "They aren't on that channel")


def test_deop_self() -> None:
    """An op may remove their own o."""
    core, alice, bob = setup_pair()
    feed(alice, "MODE #c -o alice")
    assert modes_of(sent(alice)) == [("#c", "-o", "alice")]


def test_only_owner_sets_owner() -> None:
    """An op cannot give or take q; the owner can."""
    core, alice, bob = setup_pair()
    feed(alice, "MODE #c +q bob")
    assert codes(sent(alice)) == ["482"]
    make_owner(core, alice)
    feed(alice, "MODE #c +q bob")
    assert modes_of(sent(bob)) == [("#c", "+q", "bob")]
    feed(alice, "MODE #c -q bob")
    assert modes_of(sent(bob)) == [("#c", "-q", "bob")]


def test_op_cannot_touch_owner() -> None:
    """An op cannot deop or devoice the owner; the owner can deop an op."""
    core, alice, bob = setup_pair()
    make_owner(core, alice)
    feed(alice, "MODE #c +o bob")
    sent(bob)
    feed(bob, "MODE #c -o alice", "MODE #c -q alice")
    assert codes(sent(bob)) == ["482", "482"]
    feed(alice, "MODE #c -o bob")
    assert modes_of(sent(bob)) == [("#c", "-o", "bob")]


def test_owner_without_op_can_change_modes() -> None:
    """The owner outranks an op: q alone is enough to set modes."""
    core, alice, bob = setup_pair()
    make_owner(core, bob)
    feed(bob, "MODE #c +m")
    assert modes_of(sent(bob)) == [("#c", "+m")]


def test_owner_shown_in_names() -> None:
    """The owner is shown with the ~ prefix."""
    core, alice, bob = setup_pair()
    make_owner(core, bob)
    feed(bob, "NAMES #c")
    assert sent(bob)[0].params[3] == "@alice ~bob"


# -- user modes ------------------------------------------------------------------------------


def test_user_mode_query_and_set() -> None:
    """MODE <self> gives 221; +iw and -w change it and are echoed as MODE."""
    core = make_core()
    alice = register(core, "alice")
    feed(alice, "MODE alice")
    assert sent(alice) == [Message("221", ("alice", "+"), "test.local")]
    feed(alice, "MODE alice +iws")
    assert sent(alice) == [Message("MODE", ("alice", "+iws"), "alice")]
    feed(alice, "MODE alice -w", "MODE alice")
    out = sent(alice)
    assert out[0] == Message("MODE", ("alice", "-w"), "alice")
    assert out[1].params == ("alice", "+is")


def test_user_mode_oper_flags_not_settable() -> None:
    """+o, +A and +a by a user are ignored without a reply."""
    core = make_core()
    alice = register(core, "alice")
    feed(alice, "MODE alice +oAa")
    assert sent(alice) == []
    assert alice.user.modes == set()


def test_user_mode_deoper_removes_admin_modes() -> None:
    """-o by an operator removes o, A and a and the oper privileges."""
    core = make_core()
    alice = register(core, "alice")
    core.network.set_oper(alice.user, "admin", frozenset("as"))
    sent(alice)
    feed(alice, "MODE alice -o")
    assert sent(alice) == [Message("MODE", ("alice", "-oAa"), "alice")]
    assert not alice.user.is_oper and alice.user.oper_flags == frozenset()


def test_user_mode_errors() -> None:
    """Unknown flags give one 501, another user's nick 502, a missing nick 401."""
    core = make_core()
    alice = register(core, "alice")
    register(core, "bob")
    feed(alice, "MODE alice +iXY")
    out = sent(alice)
    assert codes(out) == ["501", "MODE"]
    feed(alice, "MODE bob", "MODE bob +i", "MODE nobody")
    assert codes(sent(alice)) == ["502", "502", "401"]


def test_mode_needs_a_target() -> None:
    """MODE without parameters is 461."""
    core = make_core()
    alice = register(core, "alice")
    feed(alice, "MODE")
    assert codes(sent(alice)) == ["461"]


def test_long_masks_split_over_lines_that_fit() -> None:
    """Four long ban masks (as many as MODES allows) would make one MODE line
    longer than 512 bytes: the change is announced over several MODE lines,
    each within the limit, and no mask is cut."""
    core, alice, bob = setup_pair()
    masks = [c * 120 for c in "wxyz"]
    feed(alice, "MODE #c +bbbb " + " ".join(masks))
    raw = bob.transport.value().split(b"\r\n")
    assert all(len(line) <= 510 for line in raw)
    shown = [p for params in modes_of(sent(bob)) for p in params[2:]]
    assert shown == [m + "!*@*" for m in masks]
    assert [e.mask for e in core.network.find_channel("#c").lists["b"]] == shown


def test_many_flag_changes_split_over_lines_that_fit() -> None:
    """A MODE line toggling a flag hundreds of times is announced in full,
    over as many MODE lines as needed, none longer than 512 bytes."""
    core, alice, bob = setup_pair()
    feed(alice, "MODE #c " + "+m-m" * 120)
    raw = bob.transport.value().split(b"\r\n")
    assert all(len(line) <= 510 for line in raw)
    letters = "".join(params[1] for params in modes_of(sent(bob)))
    assert letters == "+m-m" * 120
    assert "m" not in core.network.find_channel("#c").flags


def test_overlong_mask_refused() -> None:
    """A list mask longer than any nick!user@host could need is refused with
    696 ERR_INVALIDMODEPARAM (so RPL_BANLIST and MODE lines always fit); the
    other changes of the line still apply."""
    core, alice, bob = setup_pair()
    feed(alice, "MODE #c +bn " + "x" * 300)
    out = sent(alice)
    assert [m.params[:3] for m in out if m.command == "696"] == [("alice", "#c", "b")]
    assert modes_of(out) == [("#c", "+n")]
    assert core.network.find_channel("#c").lists["b"] == []


def test_owner_is_an_op_for_peers_without_owner() -> None:
    """Toward a plain TS6 peer an owner is shown as op; a peer that knows q sees q."""
    from conferenceroom.modes import peer_status

    assert peer_status({"q", "v"}, peer_has_owner=False) == {"o", "v"}
    assert peer_status({"q", "o"}, peer_has_owner=False) == {"o"}
    assert peer_status({"q"}, peer_has_owner=True) == {"q"}
    assert peer_status({"v"}, peer_has_owner=False) == {"v"}


def test_owner_changes_for_peers_without_owner() -> None:
    """q changes become the o change the peer can see, or nothing where its view stays the same."""
    from conferenceroom.modes import peer_status_change

    plus_q = ModeChange(True, "q", "bob")
    assert peer_status_change(plus_q, {"q"}, False) == ModeChange(True, "o", "bob")
    assert peer_status_change(plus_q, {"q", "o"}, False) is None  # already @ there
    minus_q = ModeChange(False, "q", "bob")
    assert peer_status_change(minus_q, set(), False) == ModeChange(False, "o", "bob")
    assert peer_status_change(minus_q, {"o"}, False) is None
    minus_o = ModeChange(False, "o", "bob")
    assert peer_status_change(minus_o, {"q"}, False) is None  # still owner, so still @ there
    assert peer_status_change(minus_o, set(), False) == minus_o
    assert peer_status_change(plus_q, {"q"}, True) is plus_q
    voice = ModeChange(True, "v", "bob")
    assert peer_status_change(voice, {"q", "v"}, False) is voice
