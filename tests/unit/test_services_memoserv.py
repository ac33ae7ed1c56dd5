"""MemoServ: SEND, LIST, READ, DEL and the new-memo notices (unit level)."""

from __future__ import annotations

import pytest

from tests.helpers import register
from tests.unit.svchelpers import ask, notices_from, restart_services, services_core


@pytest.fixture
def core(tmp_path):
    """A core running services, with accounts alice and bob registered (both online and identified)."""
    core = services_core(tmp_path)
    for nick in ("alice", "bob"):
        conn = register(core, nick)
        ask(conn, "NickServ", "REGISTER s3cret!")
    return core


def _conn(core, nick):
    return core.network.find_user(nick).route


def test_send_notifies_an_online_recipient(core):
    """SEND stores the memo, confirms it, and tells the recipient at once."""
    alice, bob = _conn(core, "alice"), _conn(core, "bob")
    assert ask(alice, "MemoServ", "SEND bob see you at  noon") == ["Memo sent to bob."]
    assert notices_from(bob, "MemoServ") == [
        "You have a new memo (1) from alice. Type /msg MemoServ READ 1 to read it."]


def test_list_read_del(core):
    """LIST numbers the memos with * for unread; READ shows and marks read; DEL renumbers; DEL ALL empties."""
    alice, bob = _conn(core, "alice"), _conn(core, "bob")
    ask(alice, "MemoServ", "SEND bob first")
    ask(alice, "MemoServ", "SEND bob second")
    lines = ask(bob, "MemoServ", "LIST")
    assert lines[0] == "You have 2 memos (2 unread):"
    assert lines[1].startswith(" *1. from alice at ") and lines[2].startswith(" *2. from alice at ")
    assert ask(bob, "MemoServ", "READ 2")[1] == "second"
    assert ask(bob, "MemoServ", "LIST")[0] == "You have 2 memos (1 unread):"
    assert [line for line in ask(bob, "MemoServ", "READ NEW") if not line.startswith("Memo ")] == ["first"]
    assert ask(bob, "MemoServ", "READ NEW") == ["You have no new memos."]
    assert ask(bob, "MemoServ", "READ 9") == ["You have no memo 9."]
    assert ask(bob, "MemoServ", "READ x") == ["Syntax: READ <number>|NEW"]
    assert ask(bob, "MemoServ", "DEL 1") == ["Memo 1 deleted; the memos after it moved up one number."]
    assert ask(bob, "MemoServ", "READ 1")[1] == "second"
    assert ask(bob, "MemoServ", "DEL ALL") == ["Deleted 1 memo."]
    assert ask(bob, "MemoServ", "LIST") == ["You have no memos."]


def test_send_errors(core):
    """Unregistered targets, unidentified senders, long memos and a missing text are refused."""
    alice = _conn(core, "alice")
    assert ask(alice, "MemoServ", "SEND nobody hi") == ["nobody is not a registered nickname."]
    assert ask(alice, "MemoServ", "SEND bob " + "x" * 401) == ["That memo is too long: at most 400 characters."]
    assert ask(alice, "MemoServ", "SEND bob") == ["Syntax: SEND <nick|account> <text>",
                                                  "Type /msg MemoServ HELP SEND for more."]
    carol = register(core, "carol")
    assert ask(carol, "MemoServ", "SEND bob hi") == [
        "You are not identified: /msg NickServ IDENTIFY <password> first."]
    assert ask(carol, "MemoServ", "LIST") == ["You are not identified: /msg NickServ IDENTIFY <password> first."]


def test_memos_wait_for_login_and_survive_restart(core):
    """A memo for someone offline is kept (across a services restart) and announced at their next IDENTIFY."""
    alice = _conn(core, "alice")
    _conn(core, "bob").close("bye")
    ask(alice, "MemoServ", "SEND bob hello there")
    restart_services(core)
    bob = register(core, "bob")
    from tests.helpers import feed, sent

    feed(bob, "PRIVMSG NickServ :IDENTIFY s3cret!")
    texts = [m.params[-1] for m in sent(bob) if m.command == "NOTICE"]
    assert texts == ["You are now identified for bob.",
                     "You have 1 new memo. Type /msg MemoServ LIST to see them."]
    assert ask(bob, "MemoServ", "READ 1")[1] == "hello there"


def test_new_memo_notice_on_identify(core):
    """IDENTIFY with unread memos: MemoServ says "You have N new memos"."""
    from tests.helpers import feed, sent

    alice = _conn(core, "alice")
    ask(alice, "MemoServ", "SEND bob one")
    ask(alice, "MemoServ", "SEND bob two")
    bob = _conn(core, "bob")
    ask(bob, "NickServ", "LOGOUT")
    sent(bob)
    feed(bob, "PRIVMSG NickServ :IDENTIFY s3cret!")
    texts = [m.params[-1] for m in sent(bob) if m.command == "NOTICE"]
    assert "You have 2 new memos. Type /msg MemoServ LIST to see them." in texts


def test_dropped_account_loses_its_memos(core):
    """Dropping an account deletes its memos; a new account of that name starts empty."""
    alice, bob = _conn(core, "alice"), _conn(core, "bob")
    ask(alice, "MemoServ", "SEND bob kept?")
    ask(bob, "NickServ", "DROP s3cret!")
    ask(bob, "NickServ", "REGISTER n3wpass")
    assert ask(bob, "MemoServ", "LIST") == ["You have no memos."]


def test_help_for_every_command(core):
    """HELP answers for each MemoServ command."""
    alice = _conn(core, "alice")
    for name in ("SEND", "LIST", "READ", "DEL", "HELP"):
        assert ask(alice, "MemoServ", f"HELP {name}")[0].startswith(f"Help for {name}: ")
