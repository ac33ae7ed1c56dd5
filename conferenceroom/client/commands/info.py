# -*- test-case-name: tests.unit.test_client_info -*-
"""Server queries: MOTD, LUSERS, VERSION, TIME, ADMIN, INFO, STATS, LINKS, MAP, HELP.

Queries that name another server (``VERSION remote.test``) are resolved to
a :class:`Server` (a server name, a mask, or a nick standing for the server
that user is on) and, when that server is not us, passed on through its
route for the link layer to carry; an unknown target gets 402.
"""

from __future__ import annotations

import platform
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import TYPE_CHECKING

import twisted

from ... import __version__
from ...casemap import match
from ...dispatch import command
from ...network import Server
from ...statsreport import OPER_ONLY_STATS, stats_rows, uptime_parts
from ...wire import Message
from ..welcome import send_isupport, send_lusers, send_motd

if TYPE_CHECKING:
    from ..protocol import ClientConnection


# -- target resolution -----------------------------------------------------------


def find_target_server(conn: "ClientConnection", target: str) -> Server | None:
    """The server ``target`` names: a server name or mask, or a user's server.

    Sends 402 and returns None when nothing matches.
    """
    network = conn.core.network
    server = network.find_server(target)
    if server is None:
        user = network.find_user(target)
        if user is not None:
            server = user.server
    if server is None and match(target, network.me.name):
        server = network.me
    if server is None:
        server = next((s for name, s in sorted(network.servers.items()) if match(target, s.name)), None)
    if server is None:
        conn.reply("ERR_NOSUCHSERVER", target)
    return server


def local_target(conn: "ClientConnection", msg: Message, index: int) -> bool:
    """True if the query in ``msg`` is for this server and should be answered here.

    With a target parameter at ``index`` naming another server, the query is
    passed on through that server's route; an unknown target gets 402.
    """
    if len(msg.params) <= index or not msg.params[index]:
        return True
    server = find_target_server(conn, msg.params[index])
    if server is None:
        return False
    if server is conn.core.network.me:
        return True
    forward(conn, server, msg, index)
    return False


def forward(conn: "ClientConnection", server: Server, msg: Message, index: int) -> None:
    """Pass ``msg`` on toward ``server`` with its target parameter set to its name."""
    user = conn.user
    assert user is not None
    params = list(msg.params)
    params[index] = server.name
    conn.core.router.deliver(user, server, msg.command, tuple(params))


# -- MOTD / LUSERS / VERSION / TIME / ADMIN / INFO ------------------------------------


@command("MOTD", syntax="MOTD [<server>]")
def handle_motd(conn: "ClientConnection", msg: Message) -> None:
    """MOTD [<server>]: the message of the day."""
    if local_target(conn, msg, 0):
        send_motd(conn)


@command("LUSERS", syntax="LUSERS [<mask> [<server>]]")
def handle_lusers(conn: "ClientConnection", msg: Message) -> None:
    """LUSERS [<mask> [<server>]]: user, operator, channel and server counts (with a server, its own)."""
    if local_target(conn, msg, 1):
        send_lusers(conn)


@command("VERSION", syntax="VERSION [<server>]")
def handle_version(conn: "ClientConnection", msg: Message) -> None:
    """VERSION [<server>]: 351 then the ISUPPORT lines."""
    if not local_target(conn, msg, 0):
        return
    core = conn.core
    comments = f"{core.settings.description} (Twisted {twisted.__version__}, Python {platform.python_version()})"
    conn.reply("RPL_VERSION", core.version, core.name, comments)
    send_isupport(conn)


@command("TIME", syntax="TIME [<server>]")
def handle_time(conn: "ClientConnection", msg: Message) -> None:
    """TIME [<server>]: 391 with a timestamp and a readable time."""
    if not local_target(conn, msg, 0):
        return
    now = conn.core.clock.seconds()
    text = datetime.fromtimestamp(now, timezone.utc).strftime("%A %B %d %Y -- %H:%M:%S +00:00")
    conn.reply("RPL_TIME", conn.core.name, int(now), text)


@command("ADMIN", syntax="ADMIN [<server>]")
def handle_admin(conn: "ClientConnection", msg: Message) -> None:
    """ADMIN [<server>]: 256-259 from the settings."""
    if not local_target(conn, msg, 0):
        return
    s = conn.core.settings
    conn.reply("RPL_ADMINME", conn.core.name)
    conn.reply("RPL_ADMINLOC1", s.description or conn.core.name)
    conn.reply("RPL_ADMINLOC2", f"{s.network} network")
    conn.reply("RPL_ADMINEMAIL", s.contact or "No administrative contact configured")


@command("INFO", syntax="INFO [<server>]")
def handle_info(conn: "ClientConnection", msg: Message) -> None:
    """INFO [<server>]: 371 lines about the software, then 374."""
    if not local_target(conn, msg, 0):
        return
    core = conn.core
    for line in (
        f"conferenceroom {__version__}",
        "An IRC server in the spirit of ConferenceRoom, written in Python on Twisted.",
        "",
        f"Twisted {twisted.__version__}",
        f"Python {platform.python_version()} ({platform.python_implementation()})",
        "",
        f"Online since {core.created}",
        f"Up {format_uptime(core.clock.seconds() - core.boot_time)}",
    ):
        conn.reply("RPL_INFO", line)
    conn.reply("RPL_ENDOFINFO")


def format_uptime(seconds: float) -> str:
    """``N days H:MM:SS``."""
    days, hours, minutes, secs = uptime_parts(seconds)
    return f"{days} days {hours}:{minutes:02d}:{secs:02d}"


# -- STATS --------------------------------------------------------------------------


@command("STATS", min_params=1, penalty=2, syntax="STATS <query> [<server>]")
def handle_stats(conn: "ClientConnection", msg: Message) -> None:
    """STATS <query> [<server>]: u uptime, m commands, l/L connections (a
    user sees only its own, an operator also the server links); for operators o oper entries, k/K K-lines and
    AKILLs, z/Z Z-lines, c server definitions.  With a server, that server answers."""
    if not local_target(conn, msg, 1):
        return
    core = conn.core
    user = conn.user
    assert user is not None
    letter = msg.params[0][0]
    core.notice_opers(f"STATS {letter} requested by {user.nick} ({user.ident}@{user.realhost})")
    if letter in OPER_ONLY_STATS and not user.is_oper:
        conn.reply("ERR_NOPRIVILEGES")
    else:
        for name, args in stats_rows(core, letter, oper=user.is_oper, own=user):
            conn.reply(name, *args)
    conn.reply("RPL_ENDOFSTATS", letter)


# -- LINKS / MAP --------------------------------------------------------------------


def server_tree(root: Server, servers: list[Server]) -> Iterator[tuple[Server, str]]:
    """Each server below ``root`` (root first) with its ``|-``/`` `- `` tree prefix."""
    children: dict[int, list[Server]] = {}
    for server in servers:
        if server.uplink is not None and server is not root:
            children.setdefault(id(server.uplink), []).append(server)

    def walk(server: Server, indent: str, prefix: str) -> Iterator[tuple[Server, str]]:
        yield server, prefix
        kids = sorted(children.get(id(server), []), key=lambda s: s.name.lower())
        for i, kid in enumerate(kids):
            last = i == len(kids) - 1
            yield from walk(kid, indent + ("   " if last else "|  "), indent + ("`- " if last else "|- "))

    yield from walk(root, "", "")


@command("LINKS", syntax="LINKS [[<server>] <mask>]")
def handle_links(conn: "ClientConnection", msg: Message) -> None:
    """LINKS [[<server>] <mask>]: 364 per known server, then 365."""
    if len(msg.params) >= 2 and not local_target(conn, msg, 0):
        return
    mask = msg.params[-1] if msg.params and msg.params[-1] else "*"
    network = conn.core.network
    for server, _ in server_tree(network.me, list(network.servers.values())):
        if not match(mask, server.name):
            continue
        uplink = server.uplink.name if server.uplink is not None else server.name
        conn.reply("RPL_LINKS", server.name, uplink, server.hopcount, server.description)
    conn.reply("RPL_ENDOFLINKS", mask)


@command("MAP", syntax="MAP")
def handle_map(conn: "ClientConnection", msg: Message) -> None:
    """MAP: the server tree with user counts, then 017."""
    network = conn.core.network
    total = len(network.users_by_uid)
    rows = list(server_tree(network.me, list(network.servers.values())))
    labels = [f"{prefix}{server.name} ({server.sid})" for server, prefix in rows]
    width = max(len(label) for label in labels) + 4
    for (server, _), label in zip(rows, labels):
        count = len(server.users)
        share = 100.0 * count / total if total else 0.0
        dots = "." * (width - len(label))
        noun = "user" if count == 1 else "users"
        conn.reply("RPL_MAP", f"{label} {dots} {count} {noun} [{share:.1f}%]")
    conn.reply("RPL_MAPEND")


# -- HELP -------------------------------------------------------------------------


HELP_INDEX = "*"
HELP_WIDTH = 8  # command names per RPL_HELPTXT line of the index


@command("HELP", syntax="HELP [<command>]")
@command("HELPOP", syntax="HELPOP [<command>]")
def handle_help(conn: "ClientConnection", msg: Message) -> None:
    """HELP [<command>]: the syntax and purpose of a command, or the list of
    commands; 704, 705 lines, 706, or 524 for an unknown subject."""
    table = conn.core.commands
    if not msg.params or not msg.params[0]:
        verbs = sorted(v for v, spec in table.specs.items()
                       if spec.oper is None or conn.user is not None and conn.user.is_oper)
        conn.reply("RPL_HELPSTART", HELP_INDEX, "conferenceroom help: HELP <command> for one command")
        conn.reply("RPL_HELPTXT", HELP_INDEX, "Commands:")
        for i in range(0, len(verbs), HELP_WIDTH):
            conn.reply("RPL_HELPTXT", HELP_INDEX, " ".join(verbs[i:i + HELP_WIDTH]))
        conn.reply("RPL_ENDOFHELP", HELP_INDEX)
        return
    subject = msg.params[0]
    spec = table.get(subject)
    if spec is None:
        conn.reply("ERR_HELPNOTFOUND", subject)
        return
    verb = spec.verb
    conn.reply("RPL_HELPSTART", verb, spec.syntax or verb)
    doc = (spec.handler.__doc__ or "").strip()
    for line in doc.splitlines():
        if line.strip():
            conn.reply("RPL_HELPTXT", verb, line.strip())
    if spec.oper is not None:
        conn.reply("RPL_HELPTXT", verb, "Only IRC operators may use this command.")
    conn.reply("RPL_ENDOFHELP", verb)
