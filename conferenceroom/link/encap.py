# -*- test-case-name: tests.unit.test_link_commands -*-
"""ENCAP from a peer: passed on, and applied here when it names us (CHGHOST, CERTFP, RENAME,
SETNAME, GLOBOPS, OPERWALL, SU/LOGIN, CR-ROLE; SASL through :mod:`.saslrelay`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..casemap import match, valid_channel
from ..dispatch import command
from ..limits import REALNAMELEN
from ..network import User
from ..wire import Message
from . import remoteops
from .messages import wall
from .saslrelay import encap_sasl
from .side import LinkSide
from .users import from_services, set_certfp


def _encap_chghost(side: LinkSide, link: Any, source: Any, args: tuple[str, ...]) -> None:
    if len(args) < 2:
        return
    user = side.network.users_by_uid.get(args[0])
    if user is not None and args[1] != user.host:
        side.network.set_host(user, user.ident, args[1], origin=link.route)


def _encap_wall(label: str) -> Callable[..., None]:
    def handle(side: LinkSide, link: Any, source: Any, args: tuple[str, ...]) -> None:
        if args:
            wall(side, source, label, args[-1])
    return handle


def _encap_login(side: LinkSide, link: Any, source: Any, args: tuple[str, ...]) -> None:
    """``ENCAP * SU <UID> [<account>]`` (charybdis/atheme) or ``ENCAP * LOGIN <account>``."""
    if isinstance(source, User) and len(args) == 1:
        user, account = source, args[0]
    else:
        user = side.network.users_by_uid.get(args[0]) if args else None
        account = args[1] if len(args) > 1 else "*"
    if user is not None and from_services(side, link, source, "ENCAP SU"):
        side.network.set_account(user, account, origin=link.route)


def _encap_certfp(side: LinkSide, link: Any, source: Any, args: tuple[str, ...]) -> None:
    """``:<UID> ENCAP * CERTFP :<fingerprint>`` (charybdis family)."""
    if args:
        set_certfp(side, link, source, args[-1])


def _encap_setname(side: LinkSide, link: Any, source: Any, args: tuple[str, ...]) -> None:
    """``:<UID> ENCAP * SETNAME :<real name>`` (IRCv3 setname between ConferenceRoom servers)."""
    if isinstance(source, User) and args and args[-1] != source.realname:
        side.network.set_realname(source, args[-1][:REALNAMELEN], origin=link.route)


def _encap_rename(side: LinkSide, link: Any, source: Any, args: tuple[str, ...]) -> None:
    """``:<source> ENCAP * RENAME <channel TS> <old> <new> :<reason>`` (draft/channel-rename).

    Applied when the channel has that TS and the new name is free (or the same name folded).
    """
    if len(args) < 3:
        return
    network = side.network
    channel = network.find_channel(args[1])
    new = args[2]
    taken = network.find_channel(new)
    if channel is None or str(channel.ts) != args[0] or not valid_channel(new) or (
        taken is not None and taken is not channel
    ):
        side.notice(f"RENAME of {args[1]} to {new} from {getattr(source, 'name', None) or source.nick} "
                    "does not fit this server's channels; ignored")
        return
    network.rename_channel(source, channel, new, args[3] if len(args) > 3 else "", origin=link.route)


ENCAP_HANDLERS: dict[str, Callable[..., None]] = {
    "CHGHOST": _encap_chghost,
    "CERTFP": _encap_certfp,
    "RENAME": _encap_rename,
    "SETNAME": _encap_setname,
    "GLOBOPS": _encap_wall("GLOBOPS"),
    "OPERWALL": _encap_wall("OPERWALL"),
    "SU": _encap_login,
    "LOGIN": _encap_login,
    "CR-ROLE": remoteops.encap_role,
}


#: ENCAP commands that change network state: the announcer passes the change on.
STATE_ENCAPS = frozenset({"CHGHOST", "SU", "LOGIN", "SETNAME", "RENAME", "CR-ROLE"})  # CR-ROLE: for the peer only


@command("ENCAP", min_params=2, origin="server")
def handle_encap(side: LinkSide, link: Any, source: Any, msg: Message) -> None:
    """``:<source> ENCAP <server mask> <command> ...``: passed on, and handled here if it matches us.

    A state change we apply (CHGHOST, SU, LOGIN) reaches the other links as
    our own announcement, so it is not passed on a second time.
    """
    mask, sub = msg.params[0], msg.params[1].upper()
    if sub == "SASL":
        encap_sasl(side, link, source, msg)
        return
    for_us = match(mask, side.me.name) or mask == side.me.sid
    handler = ENCAP_HANDLERS.get(sub) if for_us else None
    if handler is None or sub not in STATE_ENCAPS:
        side.forward(link, msg)
    if handler is not None:
        handler(side, link, source, msg.params[2:])
