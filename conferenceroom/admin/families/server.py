# -*- test-case-name: tests.unit.test_admin_server -*-
"""SERVER: server definitions (the manual's "servers tab").

A definition lives under a local handle (``tenor``, ``soprano``).  Each
field is declared once in :data:`FIELDS`; the SET verbs, their help, the
per-definition LIST and the canonical writer all come from that table.
The writer keeps each definition's lines together::

    server tenor add
    server tenor set name tenor.*
    server tenor set serial 101-0001-001
    server tenor enable

Linking acts on these definitions elsewhere; here they are stored, listed,
validated and written.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, Mapping

from conferenceroom.admin.settings import ServerDef, Settings
from conferenceroom.admin.tree import Arg, Context, Entries, Family, Outcome, Param, Refused, Verb
from conferenceroom.admin.types import (
    ArgType, BindIP, Choice, Clearable, Fingerprint, HostOrIP, Int, LinkPassword, NameMask, OnOff, Token,
)

HANDLE = Param("handle", Token("handle", r"[A-Za-z0-9][A-Za-z0-9_-]*", "letters, digits, _ or -", 32))
_SERIAL = Token("serial", r"\d{3}-\d{4}-\d{3}", "a serial like 101-0001-001")
_DEFAULTS = {f.name: f.default for f in fields(ServerDef) if f.name != "handle"}


@dataclass(frozen=True)
class Field:
    """One SET-able field of a server definition."""

    keyword: str
    attr: str
    type: ArgType
    label: str
    help: str
    secret: bool = False


#: Every ``SERVER <handle> SET <keyword> <value>`` field, in writer and LIST order.
FIELDS: tuple[Field, ...] = (
    Field("name", "name", NameMask(), "Name mask",
          "name (or mask, like tenor.* or *.example.com) the peer must announce; * by default"),
    Field("serial", "serial", Clearable(_SERIAL), "Serial",
          "serial the peer must present, like 101-0001-001 (none clears; a serial or a password is required)"),
    Field("password", "password", Clearable(LinkPassword()), "Password",
          "shared link password, sent to and expected from the peer (none clears; never shown)", secret=True),
    Field("fingerprint", "fingerprint", Clearable(Fingerprint()), "Fingerprint",
          "SHA-256 fingerprint the peer's TLS certificate must have (hex, colons allowed; none clears)"),
    Field("role", "role", Choice("hub", "leaf"), "Role",
          "role assumed for a peer that does not announce one, such as plain TS6 (leaf by default)"),
    Field("host", "host", Clearable(HostOrIP()), "Host",
          "host name or IP to connect out to (none clears; only needed to connect out)"),
    Field("port", "port", Clearable(Int("port", 1, 65535)), "Port",
          "port to connect out to (none clears; only needed to connect out)"),
    Field("bindip", "bindip", BindIP(), "Bind IP", "local IP to connect out from (* for any)"),
    Field("ping", "ping", Int("seconds", 10, 86400), "Ping",
          "seconds of silence before we PING; no answer in as long drops the link (90 by default)"),
    Field("auto", "auto", OnOff(), "Auto-connect", "on: auto-connect out to it (upstream); off: only accept it"),
    Field("secure", "secure", OnOff(), "Secure", "use TLS when connecting out"),
    Field("secureonly", "secureonly", OnOff(), "Secure only", "accept this peer only over TLS"),
)


SERVERS: Entries[ServerDef] = Entries("servers", "No server definition {name} (SERVER {name} ADD creates it)")


def _put(s: Settings, d: ServerDef) -> Settings:
    return SERVERS.put(s, d.handle, d)


def _needs_secret(handle: str) -> str:
    return (f"Server {handle} needs a serial or a password before it can be enabled "
            f"(SERVER {handle} SET SERIAL <serial> or SERVER {handle} SET PASSWORD <password>)")


def _summary(d: ServerDef) -> str:
    parts = [f"name {d.name}", f"serial {d.serial or '(none)'}", d.role]
    if d.host:
        parts.append(f"host {d.host}:{d.port or '?'}")
    parts.append("upstream (auto)" if d.auto else "downstream")
    if d.secure or d.secureonly:
        parts.append("TLS" + (" only" if d.secureonly else ""))
    if d.password:
        parts.append("password set")
    if d.fingerprint:
        parts.append("fingerprint pinned")
    return f"{d.handle}: {', '.join(parts)}; {'enabled' if d.enabled else 'disabled'}"


def _details(d: ServerDef) -> list[str]:
    lines = [f"Server {d.handle} ({'enabled' if d.enabled else 'disabled'}):"]
    for f in FIELDS:
        value = getattr(d, f.attr)
        shown = "(not set)" if value is None else f.type.display(value)
        if f.attr == "ping":
            shown += " seconds"
        lines.append(f"  {f.label}: {shown}")
    return lines


# -- apply functions ---------------------------------------------------------


def _list_all(ctx: Context, s: Settings, v: Mapping[str, Any]) -> Outcome:
    if not s.servers:
        return Outcome(s, ("No server definitions (SERVER <handle> ADD creates one)",))
    return Outcome(s, (f"Server definitions ({len(s.servers)}):",
                       *(f"  {_summary(s.servers[k])}" for k in sorted(s.servers))))


def _add(ctx: Context, s: Settings, v: Mapping[str, Any]) -> Outcome:
    handle = v["handle"]
    if s.server(handle) is not None:
        raise Refused(f"Server definition {handle} already exists")
    return Outcome(_put(s, ServerDef(handle)),
                   (f"Server definition {handle} added (disabled; set a serial or a password, then ENABLE)",))


def _write_all(s: Settings):
    for key in sorted(s.servers):
        d = s.servers[key]
        yield f"server {d.handle} add"
        for f in FIELDS:
            value = getattr(d, f.attr)
            if value != _DEFAULTS[f.attr]:
                yield f"server {d.handle} set {f.keyword} {f.type.format(value)}"
        if d.enabled:
            yield f"server {d.handle} enable"


def _delete(ctx: Context, s: Settings, v: Mapping[str, Any]) -> Outcome:
    d = SERVERS.get(s, v["handle"])
    return Outcome(SERVERS.drop(s, d.handle), (f"Server definition {d.handle} deleted",))


def _list_one(ctx: Context, s: Settings, v: Mapping[str, Any]) -> Outcome:
    return Outcome(s, tuple(_details(SERVERS.get(s, v["handle"]))))


def _enable(on: bool):
    def apply(ctx: Context, s: Settings, v: Mapping[str, Any]) -> Outcome:
        d = SERVERS.get(s, v["handle"])
        if on and not d.can_enable:
            raise Refused(_needs_secret(d.handle))
        return Outcome(_put(s, replace(d, enabled=on)),
                       (f"Server {d.handle} {'enabled' if on else 'disabled'}",))

    return apply


def _set(f: Field):
    def apply(ctx: Context, s: Settings, v: Mapping[str, Any]) -> Outcome:
        d = SERVERS.get(s, v["handle"])
        new = replace(d, **{f.attr: v["value"]})
        if new.enabled and not new.can_enable:
            raise Refused(f"Server {d.handle} is enabled and needs a serial or a password; "
                          f"set the other first or DISABLE it")
        value = v["value"]
        if value is None:
            done = "cleared"
        elif f.secret:
            done = "set"
        else:
            done = f"set to {f.type.display(value)}"
        return Outcome(_put(s, new), (f"Server {d.handle}: {f.label.lower()} {done}",))

    return apply


def family() -> Family:
    """Declare the SERVER family."""
    enable_help = "enable the definition (needs a serial or a password)"
    disable_help = "disable the definition (its link, if any, is dropped)"
    return Family("server", "server definitions for linking (the servers tab)", verbs=(
        Verb(("server",), "list every server definition", _list_all),
        Verb(("server", HANDLE, "add"), "create a (disabled) server definition", _add, write=_write_all),
        Verb(("server", HANDLE, "del"), "delete a server definition", _delete),
        Verb(("server", HANDLE, "list"), "show every field of one definition (the password as (set))", _list_one),
        Verb(("server", HANDLE, "enable"), enable_help, _enable(True), slot="server.enabled"),
        Verb(("server", HANDLE, "disable"), disable_help, _enable(False), slot="server.enabled"),
        Verb(("server", HANDLE, "set", "enable"), enable_help, _enable(True), slot="server.enabled"),
        Verb(("server", HANDLE, "set", "disable"), disable_help, _enable(False), slot="server.enabled"),
        *(Verb(("server", HANDLE, "set", f.keyword), f.help, _set(f), (Arg("value", f.type),)) for f in FIELDS),
    ))
