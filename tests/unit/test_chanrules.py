"""ChanServ's pure rules: levels, the access ladder, entry matching, mode locks."""

from __future__ import annotations

import pytest

from conferenceroom.services.chanrules import (
    Level,
    ModeLock,
    ModeLockError,
    entry_key,
    highest_grantable,
    level_of,
    lock_corrections,
    may_change,
    parse_level,
    parse_mode_lock,
)

MASKS = ("alice!ali@host.example", "alice!ali@10.0.0.1")


def test_parse_level_names_and_numbers() -> None:
    """Operators may type a level by name (any case) or number; FOUNDER and junk are refused."""
    assert parse_level("sop") is Level.SOP
    assert parse_level("Manager") is Level.MGR
    assert parse_level("3") is Level.AOP
    assert parse_level("founder") is None
    assert parse_level("6") is None
    assert parse_level("boss") is None


def test_ladder_founder_manager_sop() -> None:
    """The founder grants up to MGR, a MGR up to SOP, a SOP up to AOP; AOP and below nothing."""
    assert highest_grantable(Level.FOUNDER) is Level.MGR
    assert highest_grantable(Level.MGR) is Level.SOP
    assert highest_grantable(Level.SOP) is Level.AOP
    assert highest_grantable(Level.AOP) is Level.NONE
    assert may_change(Level.MGR, None, Level.SOP)
    assert not may_change(Level.MGR, None, Level.MGR)
    assert not may_change(Level.MGR, Level.MGR, None)  # cannot delete a peer
    assert may_change(Level.SOP, Level.VOP, Level.AOP)
    assert not may_change(Level.SOP, Level.AOP, Level.SOP)  # cannot raise to own level
    assert not may_change(Level.AOP, None, Level.UOP)


def test_level_of_founder_account_and_masks() -> None:
    """The founder's account is FOUNDER; otherwise the best matching entry, account or mask."""
    entries = [("bob", Level.SOP), ("*!*@host.example", Level.VOP), ("*!*@10.*", Level.AOP)]
    assert level_of("Alice", entries, "alice", MASKS) is Level.FOUNDER
    assert level_of("carol", entries, "BOB", ("bob!b@elsewhere",)) is Level.SOP
    assert level_of("carol", entries, None, MASKS) is Level.AOP
    assert level_of("carol", entries, None, ("x!y@nowhere",)) is Level.NONE
    # An account entry never matches a user not logged in, whatever the nick.
    assert level_of("carol", [("bob", Level.SOP)], None, ("bob!b@h",)) is Level.NONE


def test_entry_key_completes_masks_keeps_accounts() -> None:
    """A mask is completed to nick!user@host; an account name is kept as typed."""
    assert entry_key("*@host") == "*!*@host"
    assert entry_key("bad!*") == "bad!*@*"
    assert entry_key("Bob") == "Bob"


def test_mode_lock_parse_and_text() -> None:
    """+nt-s+k key locks n and t on, s off and the key; later letters override earlier ones."""
    lock = parse_mode_lock(["+nt-s+k", "sekrit"])
    assert lock == ModeLock("nt", "s", "sekrit", None)
    assert lock.text() == "+ntk-s sekrit"
    assert parse_mode_lock(["+nt-t+l", "20"]) == ModeLock("n", "t", None, 20)
    assert parse_mode_lock(["-kl"]) == ModeLock("", "kl", None, None)


@pytest.mark.parametrize("words, reason", [
    (["+o"], "cannot be locked"),
    (["+b"], "cannot be locked"),
    (["+k"], "+k needs the key"),
    (["+l", "lots"], "Invalid limit"),
    (["+l", "0"], "Invalid limit"),
    (["+k", "a,b"], "Invalid channel key"),
    (["+n", "extra"], "Unused parameter"),
    ([""], "Give the modes"),
])
def test_mode_lock_errors(words: list[str], reason: str) -> None:
    """Locks that cannot be kept are refused with the reason a user can act on."""
    with pytest.raises(ModeLockError, match=reason.replace("+", r"\+")):
        parse_mode_lock(words)


def test_lock_corrections() -> None:
    """Corrections add missing on-modes, remove off-modes, and restore the locked key and limit."""
    lock = ModeLock("nt", "si", "key", None)
    assert lock_corrections(lock, {"n", "s"}, None, 5) == [
        (True, "t", None), (False, "s", None), (True, "k", "key")]
    off = ModeLock("", "kl")
    assert lock_corrections(off, set(), "old", 5) == [(False, "k", "old"), (False, "l", None)]
    assert lock_corrections(ModeLock("nt"), {"n", "t"}, None, None) == []
