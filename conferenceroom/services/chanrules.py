# -*- test-case-name: tests.unit.test_chanrules -*-
"""ChanServ's rules, pure: access levels, who may change what, mode locks.

The ConferenceRoom ladder, highest first (the number is what the store keeps):

======== == ==================================================================
FOUNDER  6 the registering account; one per channel; gets +q (owner) on join
MGR      5 manager: may change the access list up to SOP, SET, AKICK; +o
SOP      4 super op: may change the access list up to AOP, AKICK; +o
AOP      3 auto op: +o on join; OP/DEOP, topic under TOPICLOCK
VOP      2 auto voice: +v on join; VOICE/DEVOICE themselves
UOP      1 user: no mode, may INVITE themselves past +i/+l/bans and UNBAN themselves
======== == ==================================================================

An entry is an account name (matches a user logged in to it) or a
``nick!user@host`` mask.  A user's level is the highest of the founder's
and of every entry it matches.  Nothing here touches the network or the
store: :mod:`conferenceroom.services.chanserv` applies these rules.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from ..casemap import fold, match, normalize_mask
from ..limits import KEYLEN

MASK_CHARS = "!@*?"


class Level(enum.IntEnum):
    """An access level; higher means more."""

    NONE = 0
    UOP = 1
    VOP = 2
    AOP = 3
    SOP = 4
    MGR = 5
    FOUNDER = 6


#: The names an operator may type for each level that can be given with ACCESS ADD.
LEVEL_NAMES: dict[str, Level] = {
    "UOP": Level.UOP, "USER": Level.UOP,
    "VOP": Level.VOP, "VOICE": Level.VOP,
    "AOP": Level.AOP, "OP": Level.AOP,
    "SOP": Level.SOP,
    "MGR": Level.MGR, "MANAGER": Level.MGR,
}

#: What each level gets on join (and what OP gives back); UOP gets nothing.
AUTO_MODE: dict[Level, str] = {
    Level.FOUNDER: "q", Level.MGR: "o", Level.SOP: "o", Level.AOP: "o", Level.VOP: "v",
}

# Who may do what (the lowest level allowed).
LIST_LEVEL = Level.UOP  # ACCESS LIST, AKICK LIST
AKICK_LEVEL = Level.SOP  # AKICK ADD/DEL
OP_LEVEL = Level.AOP  # OP/DEOP anyone, VOICE/DEVOICE others
VOICE_LEVEL = Level.VOP  # VOICE/DEVOICE yourself
INVITE_LEVEL = Level.UOP  # INVITE, UNBAN (yourself)
SET_LEVEL = Level.MGR  # SET TOPICLOCK/MLOCK/SECUREOPS
TOPIC_LEVEL = Level.AOP  # may change a topic-locked channel's topic
SECUREOPS_LEVEL = Level.AOP  # may hold +o under SECUREOPS (+q needs FOUNDER)


def level_name(level: Level) -> str:
    """How a level is shown: ``FOUNDER``, ``MGR``, ``SOP``, ..."""
    return level.name


def parse_level(text: str) -> Level | None:
    """The level an operator typed (name or number 1-5), or None."""
    word = text.strip().upper()
    if word.isdigit() and 1 <= int(word) <= int(Level.MGR):
        return Level(int(word))
    return LEVEL_NAMES.get(word)


def highest_grantable(actor: Level) -> Level:
    """The highest level ``actor`` may add or remove: FOUNDER any up to MGR, MGR to SOP, SOP to AOP."""
    if actor >= Level.FOUNDER:
        return Level.MGR
    if actor >= Level.MGR:
        return Level.SOP
    if actor >= Level.SOP:
        return Level.AOP
    return Level.NONE


def may_change(actor: Level, old: Level | None, new: Level | None) -> bool:
    """True if ``actor`` may turn an entry at ``old`` (None: absent) into ``new`` (None: deleted)."""
    top = highest_grantable(actor)
    return all(level is None or (level != Level.NONE and level <= top) for level in (old, new))


def is_mask(entry: str) -> bool:
    """True if an access entry is a mask rather than an account name."""
    return any(ch in entry for ch in MASK_CHARS)


def entry_key(entry: str) -> str:
    """The stored form of an entry: an account name as typed, a mask completed to ``n!u@h``."""
    return normalize_mask(entry) if is_mask(entry) else entry


def entry_matches(entry: str, account: str | None, masks: Iterable[str]) -> bool:
    """True if ``entry`` matches a user logged in to ``account`` whose ``n!u@h`` forms are ``masks``."""
    if is_mask(entry):
        return any(match(entry, mask) for mask in masks)
    return account is not None and fold(entry) == fold(account)


def user_masks(nick: str, ident: str, host: str, realhost: str, ip: str) -> tuple[str, ...]:
    """The ``nick!ident@host`` forms an entry or ban may match: shown host, real host and IP."""
    base = f"{nick}!{ident}@"
    return tuple(dict.fromkeys((base + host, base + realhost, base + ip)))


def level_of(
    founder: str, entries: Iterable[tuple[str, Level]], account: str | None, masks: Iterable[str]
) -> Level:
    """A user's level in a channel founded by ``founder`` with access ``entries``."""
    if account is not None and founder and fold(account) == fold(founder):
        return Level.FOUNDER
    masks = tuple(masks)
    return max((level for entry, level in entries if entry_matches(entry, account, masks)),
               default=Level.NONE)


# -- mode locks ------------------------------------------------------------------

LOCKABLE_FLAGS = "imnpst"


@dataclass(frozen=True)
class ModeLock:
    """Modes kept on (``on``, with ``key``/``limit``) and off (``off``, ``k``/``l`` included) in a channel."""

    on: str = ""
    off: str = ""
    key: str | None = None
    limit: int | None = None

    def __bool__(self) -> bool:
        return bool(self.on or self.off or self.key is not None or self.limit is not None)

    def text(self) -> str:
        """The lock as an operator would type it: ``+ntk-s key``."""
        on = self.on + ("k" if self.key is not None else "") + ("l" if self.limit is not None else "")
        words = [("+" + on if on else "") + ("-" + self.off if self.off else "")]
        if self.key is not None:
            words.append(self.key)
        if self.limit is not None:
            words.append(str(self.limit))
        return " ".join(words) if words[0] else "(none)"


class ModeLockError(ValueError):
    """A mode lock that cannot be kept; the message is the sentence shown to the user."""


def parse_mode_lock(words: list[str]) -> ModeLock:
    """Read ``+nt-s+k key +l 10`` style words into a :class:`ModeLock` (later letters win).

    Lockable: the flags ``imnpst``, ``k`` (a key to set, none to unset) and
    ``l`` (a limit to set, none to unset).  Anything else raises
    :class:`ModeLockError` with the reason.
    """
    if not words or not words[0]:
        raise ModeLockError("Give the modes to lock, e.g. +nt-s or +k key")
    modes, params = words[0], list(words[1:])
    on: dict[str, None] = {}
    off: dict[str, None] = {}
    key: str | None = None
    limit: int | None = None
    adding = True
    for ch in modes:
        if ch in "+-":
            adding = ch == "+"
            continue
        if ch not in LOCKABLE_FLAGS + "kl":
            raise ModeLockError(f"Mode {ch} cannot be locked (lockable: {LOCKABLE_FLAGS}kl)")
        keep, drop = (on, off) if adding else (off, on)
        drop.pop(ch, None)
        if ch == "k" and adding:
            if not params:
                raise ModeLockError("+k needs the key to lock, e.g. +k secret")
            key = params.pop(0)
            if not valid_key(key):
                raise ModeLockError(f"Invalid channel key: {key} (1-{KEYLEN} printable characters, no space or comma)")
            continue
        if ch == "l" and adding:
            if not params:
                raise ModeLockError("+l needs the limit to lock, e.g. +l 50")
            text = params.pop(0)
            if not text.isdigit() or not 0 < int(text) < 2**31:
                raise ModeLockError(f"Invalid limit: {text} (a number from 1)")
            limit = int(text)
            continue
        if ch == "k":
            key = None
        elif ch == "l":
            limit = None
        keep[ch] = None
    if params:
        raise ModeLockError(f"Unused parameter: {params[0]}")
    flags_on = "".join(sorted(c for c in on if c in LOCKABLE_FLAGS))
    flags_off = "".join(sorted(off))
    return ModeLock(flags_on, flags_off, key, limit)


def valid_key(key: str) -> bool:
    """A usable channel key: 1-23 printable ASCII characters, no space or comma, not starting with ':'."""
    return (0 < len(key) <= KEYLEN and key.isascii() and key.isprintable()
            and not key.startswith(":") and not any(ch in key for ch in " ,"))


def lock_corrections(
    lock: ModeLock, flags: Iterable[str], key: str | None, limit: int | None
) -> list[tuple[bool, str, str | None]]:
    """The ``(adding, mode, param)`` changes that bring a channel's modes back under ``lock``."""
    flags = set(flags)
    changes: list[tuple[bool, str, str | None]] = []
    changes += [(True, ch, None) for ch in lock.on if ch not in flags]
    changes += [(False, ch, None) for ch in lock.off if ch in LOCKABLE_FLAGS and ch in flags]
    if lock.key is not None and key != lock.key:
        changes.append((True, "k", lock.key))
    elif "k" in lock.off and key is not None:
        changes.append((False, "k", key))
    if lock.limit is not None and limit != lock.limit:
        changes.append((True, "l", str(lock.limit)))
    elif "l" in lock.off and limit is not None:
        changes.append((False, "l", None))
    return changes
