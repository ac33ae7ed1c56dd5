# -*- test-case-name: tests.unit.test_link_handshake -*-
"""TS6 handshake lines as ircd-hybrid 8.2 writes them, and the checks on their fields.

Pure functions: no network state, no clock (callers pass the time).  The
ConferenceRoom additions ride in CAPAB tokens that hybrid ignores (see
``docs/link-protocol.md``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from conferenceroom.wire import Message

TS_CURRENT = 6  # the TS protocol version we speak
TS_MIN = 6  # the oldest TS protocol version we accept

#: Standard TS6 capabilities we announce: end-of-burst markers, ENCAP and TBURST relaying.
OUR_CAPABS: tuple[str, ...] = ("EOB", "ENCAP", "TBURST")
#: Capabilities a peer must announce.  Hybrid 8.2 requires none of its own;
#: we need explicit end-of-burst markers to tell burst from live traffic.
REQUIRED_CAPABS: frozenset[str] = frozenset({"EOB"})
#: Hybrid refuses a peer whose QOP/AOP differ from its own channel settings,
#: so on the passive side we mirror whichever of these the peer announced.
MIRRORED_CAPABS: tuple[str, ...] = ("QOP", "AOP")

CR_SERIAL = "CR-SERIAL"  # CR-SERIAL=102-0000-001: our serial
CR_ROLE = "CR-ROLE"  # CR-ROLE=hub or CR-ROLE=leaf: our role
CR_OWNER = "CR-OWNER"  # we carry channel owner (+q, '~' in SJOIN)
CR_SERVICES = "CR-SERVICES"  # CR-SERVICES=services.example.org: the services server our side has
ROLES = ("hub", "leaf")

_SID = re.compile(r"[0-9][A-Z0-9]{2}")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9_-]*[A-Za-z0-9])?"
_SERVER_NAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})+")
_SERIAL = re.compile(r"\d{3}-\d{4}-\d{3}")
_FLAGS = re.compile(r"\+[A-Za-z]*")
MAX_SERVER_NAME = 63  # hybrid's HOSTLEN


def valid_sid(sid: str) -> bool:
    """True for a TS6 server ID: a digit, then two of A-Z and 0-9."""
    return _SID.fullmatch(sid) is not None


def valid_server_name(name: str) -> bool:
    """True for a host-style server name with at least one dot, at most 63 characters."""
    return len(name) <= MAX_SERVER_NAME and _SERVER_NAME.fullmatch(name) is not None


def valid_serial(serial: str) -> bool:
    """True for a ConferenceRoom serial such as ``102-0000-001``."""
    return _SERIAL.fullmatch(serial) is not None


def valid_flags(flags: str) -> bool:
    """True for SERVER/SID flags: ``+`` followed by letters (``+``, ``+h``)."""
    return _FLAGS.fullmatch(flags) is not None


def build_pass(password: str) -> Message:
    """``PASS <password>``: hybrid 8.2 reads only the password."""
    return Message("PASS", (password,))


def our_capab_tokens(serial: str, role: str, extra: Iterable[str] = (), services: str | None = None
                     ) -> tuple[str, ...]:
    """The CAPAB tokens we announce: standard ones, *extra* (mirrored QOP/AOP), then ours.

    *services* names the services server our side of the network has (ours
    or one we learned from a link): one network may hold only one.
    """
    if role not in ROLES:
        raise ValueError(f"role must be hub or leaf, not {role!r}")
    if not valid_serial(serial):
        raise ValueError(f"serial must look like 102-0000-001, not {serial!r}")
    standard = list(OUR_CAPABS) + [t for t in extra if t not in OUR_CAPABS]
    tokens = (*standard, f"{CR_SERIAL}={serial}", f"{CR_ROLE}={role}", CR_OWNER)
    return (*tokens, f"{CR_SERVICES}={services}") if services else tokens


def looks_like_services(name: str) -> bool:
    """True for a server name like a services server's (``services.<domain>``)."""
    return name.lower().startswith("services.")


def build_capab(tokens: Iterable[str]) -> Message:
    """``CAPAB :<tokens>`` (always one trailing parameter, as hybrid sends it)."""
    return Message("CAPAB", (" ".join(tokens),))


def build_server(name: str, sid: str, description: str, hidden: bool = False) -> Message:
    """``SERVER <name> 1 <SID> +[h] :<description>``: the five-parameter hybrid form."""
    return Message("SERVER", (name, "1", sid, "+h" if hidden else "+", description))


def build_svinfo(sid: str, now: float) -> Message:
    """``:<SID> SVINFO 6 6 0 :<unix time>``."""
    return Message("SVINFO", (str(TS_CURRENT), str(TS_MIN), "0", str(int(now))), source=sid)


def build_pong(sid: str, name: str, peer_sid: str) -> Message:
    """``:<SID> PONG <our name> :<peer SID>``: the answer to a peer's ``PING``."""
    return Message("PONG", (name, peer_sid), source=sid)


def build_error(host: str, reason: str) -> Message:
    """``ERROR :Closing Link: <host> (<reason>)``: the last line before closing a link."""
    return Message("ERROR", (f"Closing Link: {host} ({reason})",))
