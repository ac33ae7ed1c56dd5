# -*- test-case-name: tests.unit.test_network_ts -*-
"""Timestamp (TS6) rules, as ircd-hybrid 8.2 applies them: pure decisions.

Every server of a network must resolve a nick collision or a channel that
exists on both sides of a netjoin the same way, from the same data, or the
network stops agreeing.  These functions make those decisions;
:class:`conferenceroom.network.Network` applies them (``add_user``,
``change_nick``, ``netjoin``, ``burst_topic``, ``ts_accepts``) and emits
the events, so the link layer only parses, calls and relays.

Nick collisions (hybrid ``m_nick.c``): equal TS kills both; otherwise, for
the same user (same ident and IP, not host) the newer one survives, for
different users the older one.  Channel TS (``m_sjoin.c``): a lower TS wins
and wipes the other side's modes, statuses, lists and topic; equal TS
merges (flags of both, the larger limit, the greater key); a higher TS is
ignored except that its users join without status.  TBURST (``m_tburst.c``):
the incoming topic is taken from services, with a lower channel TS, or with
an equal channel TS and a newer topic TS (so on equal channels the newer
topic wins, as hybrid decides; a tie keeps each side's own topic).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .casemap import fold
from .modes import CHANNEL_MODES, STATUS_PREFIXES, ModeChange, ModeKind

if TYPE_CHECKING:
    from .network import Channel, Membership, User

NICK_COLLISION = "Nick collision (new)"
NICK_CHANGE_COLLISION = "Nick change collision"


class Loser(enum.Enum):
    """Which side of a nick collision dies."""

    BOTH = "both"
    EXISTING = "existing"  # the user we already had
    INCOMING = "incoming"  # the user being introduced or renamed


def nick_collision(
    existing_ts: float, existing_ident: str, existing_ip: str,
    incoming_ts: float, incoming_ident: str, incoming_ip: str,
) -> Loser:
    """Who loses when two users want one nick (TS: signon or nick-change time)."""
    # Whole seconds: the wire carries integers, so a peer compares those too.
    ours, theirs = int(existing_ts), int(incoming_ts)
    if ours == theirs:
        return Loser.BOTH
    same_user = fold(existing_ident) == fold(incoming_ident) and existing_ip == incoming_ip
    incoming_older = theirs < ours
    if same_user:
        return Loser.EXISTING if not incoming_older else Loser.INCOMING
    return Loser.EXISTING if incoming_older else Loser.INCOMING


@dataclass(frozen=True)
class NickCollision:
    """What a collision did: who was killed (the link layer sends the KILLs).

    A killed ``existing`` user was removed with a ``UserKilled`` event
    (origin HERE, so every link hears of it); a killed ``incoming`` user
    from a link was never added, so only that link needs ``KILL <uid>``.
    """

    nick: str
    existing: "User"
    incoming: "User"
    killed: tuple["User", ...]
    reason: str

    @property
    def accepted(self) -> bool:
        """True if the incoming user (or nick change) went through."""
        return self.incoming not in self.killed


def ts_accepts(ours: int, theirs: int) -> bool:
    """The simple rule of TMODE and BMASK: applied unless their channel TS is higher."""
    return theirs <= ours


def merge_simple_modes(channel: "Channel", theirs: Sequence[ModeChange]) -> list[ModeChange]:
    """The changes that add ``theirs`` (flags, key, limit of an SJOIN) to ``channel``'s modes.

    Used when their side is kept (equal TS, or ours was wiped): flags are
    added, the greater key (by code point) and the larger limit win, so both
    sides pick the same one.
    """
    changes: list[ModeChange] = []
    flags = set(channel.flags)
    key, limit = channel.key, channel.limit
    for change in theirs:
        kind = CHANNEL_MODES.get(change.mode)
        if not change.adding or kind is None:
            continue
        plain = change.member is None
        # An incoming change that already says the same is kept (they are immutable): a burst
        # merges thousands of channels, and a new ModeChange costs more than the rest of the loop.
        if kind is ModeKind.FLAG and change.mode not in flags:
            flags.add(change.mode)
            changes.append(change if plain and change.param is None else ModeChange(True, change.mode))
        elif change.mode == "k" and change.param and (key is None or change.param > key):
            key = change.param
            changes.append(change if plain else ModeChange(True, "k", key))
        elif change.mode == "l" and change.param and change.param.isdecimal():
            value = int(change.param)
            if value > 0 and (limit is None or value > limit):
                limit = value
                shown = str(value)
                changes.append(change if plain and change.param == shown else ModeChange(True, "l", shown))
    return changes


def topic_burst_wins(
    our_channel_ts: int, our_topic_ts: int, channel_ts: int, topic_ts: int, services: bool
) -> bool:
    """True if a TBURST replaces our topic."""
    if services or channel_ts < our_channel_ts:
        return True
    return channel_ts == our_channel_ts and topic_ts > our_topic_ts


@dataclass(frozen=True)
class NetjoinResult:
    """What :meth:`Network.netjoin` did with one SJOIN."""

    channel: "Channel"
    created: bool  # the channel was new here
    lowered: bool  # our TS was higher: we took theirs and wiped our side
    kept_theirs: bool  # their modes and statuses were taken (False: their TS was higher)
    joined: tuple["Membership", ...]


def status_wiped(members: Any) -> list[ModeChange]:
    """The changes that remove every status in ``members`` (User -> Membership)."""
    return [
        ModeChange(False, mode, user.nick, user)
        for user, membership in members.items()
        for mode, _ in STATUS_PREFIXES
        if mode in membership.status
    ]
