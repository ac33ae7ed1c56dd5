# -*- test-case-name: tests.unit.test_admin_websocket -*-
"""GENERAL WEBSOCKET: the WebSocket client listener, its allowed origins and trusted proxies.

The verbs belong to the GENERAL family (``GENERAL WEBSOCKET PORT 8067``);
:func:`verbs` is spliced into :func:`conferenceroom.admin.families.general.family`.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any, Mapping

from conferenceroom.admin.settings import Settings
from conferenceroom.admin.tree import Arg, Context, Option, Outcome, Refused, Verb, choice, setting
from conferenceroom.admin.types import ArgType, Int, IPMask, OnOff

# scheme://host[:port], the host a name (globs allowed) or a bracketed IPv6 address.
_ORIGIN = re.compile(r"(https?)://([a-z0-9*?](?:[a-z0-9*?.-]{0,252})|\[[0-9a-f:.]{2,45}\])(:[0-9]{1,5})?")


class Origin(ArgType):
    """A web origin a browser sends (``https://chat.example.org``, globs allowed), or ``*`` for any."""

    placeholder = "origin"

    def parse(self, text: str) -> str:
        value = text.lower().rstrip("/")
        if value == "*" or _ORIGIN.fullmatch(value):
            return value
        raise ValueError("must be an origin like https://chat.example.org (scheme, host and "
                         "optional port; * in the host matches any part), or * for any origin")


def _list_verbs(kind: str, attr: str, argtype: ArgType, label: str, plural: str, add_help: str,
                none_text: str) -> tuple[Verb, ...]:
    """ADD/DEL/LIST verbs for one tuple of ``websocket`` settings (origins or proxies)."""
    arg = Arg(kind, argtype)

    def current(s: Settings) -> tuple[str, ...]:
        return getattr(s.websocket, attr)

    def put(s: Settings, values: tuple[str, ...]) -> Settings:
        return replace(s, websocket=replace(s.websocket, **{attr: values}))

    def add(ctx: Context, s: Settings, v: Mapping[str, Any]) -> Outcome:
        value = v[kind]
        if value in current(s):
            return Outcome(s, (f"{label} {value} is already listed",))
        return Outcome(put(s, current(s) + (value,)), (f"{label} {value} added",))

    def delete(ctx: Context, s: Settings, v: Mapping[str, Any]) -> Outcome:
        value = v[kind]
        if value not in current(s):
            raise Refused(f"{label} {value} is not listed")
        return Outcome(put(s, tuple(x for x in current(s) if x != value)), (f"{label} {value} removed",))

    def lines(s: Settings) -> list[str]:
        values = current(s)
        if not values:
            return [f"{plural}: none ({none_text})"]
        return [f"{plural}: {' '.join(values)}"]

    def show(ctx: Context, s: Settings, v: Mapping[str, Any]) -> Outcome:
        return Outcome(s, tuple(lines(s)))

    def write(s: Settings):
        for value in current(s):
            yield {}, (value,)

    slot = f"websocket.{attr}"
    return (
        Verb(("general", "websocket", kind, "add"), add_help, add, (arg,), write=write, listing=lines,
             slot=slot, key_args=1),
        Verb(("general", "websocket", kind, "del"), f"remove {'an' if label[0] in 'AEIOU' else 'a'} {label.lower()}", delete, (arg,),
             slot=slot, key_args=1),
        Verb(("general", "websocket", kind, "list"), f"list the {plural.lower()}", show),
    )


def verbs() -> tuple[Verb, ...]:
    """The GENERAL WEBSOCKET verbs."""
    return (
        *choice("websocket.enabled", (
            Option(True, "general websocket enable", "open the WebSocket listener for web clients", "enabled"),
            Option(False, "general websocket disable", "close the WebSocket listener", "disabled"),
        ), label="WebSocket"),
        setting("general websocket port", "websocket.port", Int("port", 1, 65535), label="WebSocket port",
                help="WebSocket client port (8067 by default)"),
        setting("general websocket secure", "websocket.secure", OnOff(), label="WebSocket TLS",
                help="serve the WebSocket port over TLS (wss://) with the server's certificate"),
        *_list_verbs("origin", "origins", Origin(), "Allowed origin", "Allowed origins",
                     "allow web pages from this origin (https://chat.example.org, globs, or *)",
                     "only clients sending no Origin and pages from this server's own host"),
        *_list_verbs("proxy", "proxies", IPMask(), "Trusted proxy", "Trusted proxies",
                     "trust X-Forwarded-For from this reverse proxy (IP, CIDR or mask)",
                     "the client is always the socket's address"),
    )
