# -*- test-case-name: tests.unit.test_modes -*-
"""Mode tables and mode-string parsing: pure functions, no state.

Channel modes: lists ``b e I``; ``k`` takes a parameter to set and unset;
``l`` takes one only to set; flags ``i m n p s t``; member status ``q o v``
(``q`` is the ConferenceRoom channel owner).  User modes ``i o w s`` plus
``A`` (server administrator), ``a`` (services administrator), ``B`` (bot),
``r`` (logged in to an account) and ``z`` (connected over TLS); ``r`` and ``z``
are the server's to set and remove, never the user's.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


class ModeKind(enum.Enum):
    """How a mode letter takes its parameter."""

    LIST = "list"  # parameter always; no parameter lists the entries
    PARAM = "param"  # parameter to set and to unset (k)
    PARAM_ON_SET = "param_on_set"  # parameter only to set (l)
    FLAG = "flag"  # never a parameter
    STATUS = "status"  # a member's status, parameter is a nick


CHANNEL_MODES: dict[str, ModeKind] = {
    "b": ModeKind.LIST,
    "e": ModeKind.LIST,
    "I": ModeKind.LIST,
    "k": ModeKind.PARAM,
    "l": ModeKind.PARAM_ON_SET,
    "i": ModeKind.FLAG,
    "m": ModeKind.FLAG,
    "n": ModeKind.FLAG,
    "p": ModeKind.FLAG,
    "s": ModeKind.FLAG,
    "t": ModeKind.FLAG,
    "q": ModeKind.STATUS,
    "o": ModeKind.STATUS,
    "v": ModeKind.STATUS,
}

USER_MODES: dict[str, ModeKind] = {ch: ModeKind.FLAG for ch in "iowsAaBrz"}
USER_SETTABLE = "iwsB"  # what a user may set on themselves; o, A, a come from OPER
SERVER_USER_MODES = "rz"  # set and removed by the server only (r: logged in; z: connected over TLS)
BOT_MODE = "B"  # IRCv3 bot mode (ISUPPORT BOT=B): the bot tag, WHOIS 335, WHO flag

# Member status, highest rank first, with the prefix shown in NAMES/WHO.
STATUS_PREFIXES: tuple[tuple[str, str], ...] = (("q", "~"), ("o", "@"), ("v", "+"))
STATUS_RANK = {mode: len(STATUS_PREFIXES) - i for i, (mode, _) in enumerate(STATUS_PREFIXES)}
PREFIX_OF = dict(STATUS_PREFIXES)
MODE_OF_PREFIX = {prefix: mode for mode, prefix in STATUS_PREFIXES}

LIST_NAMES = {"b": "ban", "e": "exception", "I": "invite exception"}
MAX_PARAM_MODES = 4  # ISUPPORT MODES
MAX_LIST_ENTRIES = 100  # ISUPPORT MAXLIST per list


@dataclass(frozen=True)
class ModeChange:
    """One mode letter added or removed, with its parameter if any.

    A status change (q, o, v) names its member by ``member`` (the
    :class:`~conferenceroom.network.User`): the state model keys status by
    user, never by nick, since a nick can change hands (a rename, a
    collision) between the request and its application.  ``param`` is then
    only the nick shown to clients; links render ``member``'s UID instead.
    ``member`` is left out of comparisons.
    """

    adding: bool
    mode: str
    param: str | None = None
    member: Any = field(default=None, compare=False, repr=False)

    def shown(self) -> "ModeChange":
        """This change as clients see it now: a status change shows its member's current nick."""
        if self.member is None or self.param == self.member.nick:
            return self
        return ModeChange(self.adding, self.mode, self.member.nick, self.member)


@dataclass
class ParsedModes:
    """The result of reading a mode string and its parameters."""

    changes: list[ModeChange] = field(default_factory=list)
    list_queries: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)


def parse_mode_string(
    args: Sequence[str],
    table: dict[str, ModeKind],
    max_params: int = MAX_PARAM_MODES,
) -> ParsedModes:
    """Read ``+ab-c`` style ``args[0]`` with parameters ``args[1:]``.

    A mode that needs a missing parameter is skipped (a list mode without
    one is a query of that list); modes with parameters beyond
    ``max_params`` are ignored, as clients expect from ISUPPORT MODES.
    """
    result = ParsedModes()
    if not args:
        return result
    params = list(args[1:])
    adding = True
    used_params = 0
    for ch in args[0]:
        if ch in "+-":
            adding = ch == "+"
            continue
        kind = table.get(ch)
        if kind is None:
            if ch not in result.unknown:
                result.unknown.append(ch)
            continue
        takes_param = kind in (ModeKind.LIST, ModeKind.PARAM, ModeKind.STATUS) or (
            kind is ModeKind.PARAM_ON_SET and adding
        )
        if not takes_param:
            result.changes.append(ModeChange(adding, ch))
            continue
        if not params:
            if kind is ModeKind.LIST:
                if ch not in result.list_queries:
                    result.list_queries.append(ch)
            elif kind is ModeKind.PARAM and not adding:
                result.changes.append(ModeChange(False, ch, "*"))
            continue
        param = params.pop(0)
        used_params += 1
        if used_params > max_params:
            continue
        result.changes.append(ModeChange(adding, ch, param))
    return result


def format_mode_changes(changes: Sequence[ModeChange]) -> list[str]:
    """Render ``changes`` as ``["+ov-b", "nick", "nick", "mask"]``."""
    letters = []
    params = []
    current = None
    for change in changes:
        sign = "+" if change.adding else "-"
        if sign != current:
            letters.append(sign)
            current = sign
        letters.append(change.mode)
        if change.param is not None:
            params.append(change.param)
    return ["".join(letters), *params] if letters else []


def prefix_string(status: set[str] | frozenset[str], multi: bool) -> str:
    """The NAMES/WHO prefix for a member with ``status`` modes."""
    found = [prefix for mode, prefix in STATUS_PREFIXES if mode in status]
    if multi:
        return "".join(found)
    return found[0] if found else ""


def rank(status: set[str] | frozenset[str]) -> int:
    """Numeric rank of a member: 3 owner, 2 operator, 1 voice, 0 none."""
    return max((STATUS_RANK[m] for m in status if m in STATUS_RANK), default=0)


def top_status(status: set[str] | frozenset[str]) -> str:
    """The highest status mode of a member (``q``, ``o``, ``v``), or "" without one."""
    return next((mode for mode, _ in STATUS_PREFIXES if mode in status), "")


def isupport_prefix() -> str:
    """The ISUPPORT PREFIX value, e.g. ``(qov)~@+``."""
    modes = "".join(mode for mode, _ in STATUS_PREFIXES)
    prefixes = "".join(prefix for _, prefix in STATUS_PREFIXES)
    return f"({modes}){prefixes}"


def isupport_chanmodes() -> str:
    """The ISUPPORT CHANMODES value: lists, param, param-on-set, flags."""
    groups: dict[ModeKind, str] = {kind: "" for kind in ModeKind}
    for ch, kind in CHANNEL_MODES.items():
        groups[kind] += ch
    return ",".join(
        groups[k] for k in (ModeKind.LIST, ModeKind.PARAM, ModeKind.PARAM_ON_SET, ModeKind.FLAG)
    )


# -- owner (q) toward peers without it ----------------------------------------------
#
# Plain TS6 peers (ircd-hybrid with its default channel::enable_owner = no)
# know no owner status.  Our choice: toward such a peer an owner is an
# operator.  Their status is sent as ``o`` (the SJOIN prefix ``@``), and a q
# change is sent as the o change it makes visible there, or not at all when
# the peer's view does not change (+q for a member already +o, -o for a member
# who keeps q).  Peers that advertise owner support get q unchanged.


def peer_status(status: set[str] | frozenset[str], peer_has_owner: bool) -> set[str]:
    """The status modes a peer sees for a member with ``status``."""
    if peer_has_owner or "q" not in status:
        return set(status)
    return (set(status) - {"q"}) | {"o"}


def peer_status_change(
    change: ModeChange, status_after: set[str] | frozenset[str], peer_has_owner: bool
) -> ModeChange | None:
    """``change`` (applied, leaving ``status_after``) as a peer sees it; None if invisible there."""
    if peer_has_owner or change.mode not in ("q", "o"):
        return change
    before = set(status_after)
    (before.discard if change.adding else before.add)(change.mode)
    was_op = "o" in peer_status(before, False)
    is_op = "o" in peer_status(status_after, False)
    if was_op == is_op:
        return None
    return ModeChange(is_op, "o", change.param, change.member)
