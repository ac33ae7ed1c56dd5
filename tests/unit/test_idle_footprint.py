"""What an idle registered client holds: shared read-only parts instead of per-client copies,
with every behaviour the user sees unchanged (issue 11, RSS per idle client)."""

from __future__ import annotations

from tests.helpers import connect, feed, make_core, register, sent


def test_users_without_modes_share_one_mode_set_and_modes_stay_per_user() -> None:
    """Two idle clients hold the same empty mode set (no 216-byte set each); MODE +i on one
    shows in its own 221 and not in the other's, and -i takes it back."""
    core = make_core()
    ann, bob = register(core, "ann"), register(core, "bob")
    assert ann.user.modes is bob.user.modes
    assert not ann.user.modes
    feed(ann, "MODE ann +i")
    sent(ann)
    feed(ann, "MODE ann")
    feed(bob, "MODE bob")
    assert [m.params[-1] for m in sent(ann) if m.command == "221"] == ["+i"]
    assert [m.params[-1] for m in sent(bob) if m.command == "221"] == ["+"]
    feed(ann, "MODE ann -i", "MODE ann")
    assert [m.params[-1] for m in sent(ann) if m.command == "221"] == ["+"]
    assert ann.user.modes is bob.user.modes


def test_users_with_the_same_modes_share_them() -> None:
    """Clients that set the same modes (+iw, a common client default) hold one set between them."""
    core = make_core()
    ann, bob = register(core, "ann"), register(core, "bob")
    feed(ann, "MODE ann +iw")
    feed(bob, "MODE bob +wi")
    assert ann.user.modes == {"i", "w"}
    assert ann.user.modes is bob.user.modes


def test_a_lowercase_nick_is_its_own_key_in_the_nick_table() -> None:
    """The nick table keeps a nick that folding leaves unchanged under the nick's own string (no
    second copy per user); a nick with capitals is still found in any case."""
    core = make_core()
    ann, bob = register(core, "ann"), register(core, "Bob")
    keys = {key: key for key in core.network.users._data}
    assert keys["ann"] is ann.user.nick
    assert core.network.find_user("BOB") is bob.user and core.network.find_user("ann") is ann.user
    feed(ann, "NICK anna")
    assert {key: key for key in core.network.users._data}["anna"] is ann.user.nick
    assert core.network.find_user("ANNA") is ann.user and core.network.find_user("ann") is None


def test_clients_due_in_the_same_second_share_the_deadline_key() -> None:
    """Clients connecting in the same second hold one deadline key between them, and each is
    still pinged after 90 idle seconds."""
    core = make_core()
    ann, bob = register(core, "ann"), register(core, "bob")
    assert ann._due_key == bob._due_key and ann._due_key is bob._due_key
    sent(ann), sent(bob)
    core.clock.advance(92)
    assert [m.command for m in sent(ann)] == ["PING"] and [m.command for m in sent(bob)] == ["PING"]


def test_an_idle_client_keeps_no_per_connection_dict_and_rare_state_still_works() -> None:
    """A registered idle client's connection keeps its rare state (certificate, link, quit reason,
    junk counter) as shared defaults, not per-client fields; junk input still counts for that
    client alone and QUIT still gives its reason."""
    core = make_core()
    ann, bob = register(core, "ann"), register(core, "bob")
    assert ann.__dict__ == {} and bob.__dict__ == {}
    rare = ("certfp", "link", "junk_lines", "_quit_reason", "_abort_timer", "_prelude", "lost", "_discarding")
    assert not [name for name in rare if hasattr(type(type(ann).__dict__[name]), "__set__")]  # no slots
    assert ann.certfp is None and ann.link is None and ann.junk_lines == 0
    ann.dataReceived(b"\x00\x01\r\n")
    assert ann.junk_lines == 1 and bob.junk_lines == 0
    sent(bob)
    feed(bob, "QUIT :gone fishing")
    assert [m.params[-1] for m in sent(bob) if m.command == "ERROR"] == ["Closing Link: 127.0.0.1 (Quit: gone fishing)"]


def test_clients_with_the_same_real_name_and_ident_share_them() -> None:
    """Two clients sending the same USER line hold one ident and one real-name string between
    them, and each still shows its own nick with them in WHOIS."""
    core = make_core()
    ann = connect(core)
    bob = connect(core, ip="10.0.0.2")
    feed(ann, "NICK ann", "USER bot 0 * :Bot of the week")
    feed(bob, "NICK bob", "USER bot 0 * :Bot of the week")
    assert ann.user.realname is bob.user.realname and ann.user.ident is bob.user.ident
    sent(ann)
    feed(ann, "WHOIS bob")
    assert [m.params[1:] for m in sent(ann) if m.command == "311"] == [
        ("bob", "~bot", "10.0.0.2", "*", "Bot of the week")
    ]
