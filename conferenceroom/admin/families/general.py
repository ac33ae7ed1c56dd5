# -*- test-case-name: tests.unit.test_admin_general -*-
"""GENERAL: server identity, listeners, role, TLS listener and files."""

from __future__ import annotations

from typing import Any, Mapping

from conferenceroom.admin.tree import Context, Family, Option, Outcome, Verb, choice, setting
from conferenceroom.admin.settings import Settings
from conferenceroom.admin.types import ArgType, BindIP, Int, OnOff, Path, Ports, Text, Token, hostname, parse_duration

from . import websocket

_RESTART = "{what} takes effect after a restart"


class _OptionalPath(Path):
    """A path, or ``none`` for no file (None): no manhole keys, the generated TLS pair."""

    def parse(self, text: str) -> str | None:
        return None if text.lower() == "none" else super().parse(text)

    def format(self, value: str | None) -> str:
        return "none" if value is None else value


class _Seconds(ArgType):
    """A duration like ``1d``, ``30d`` or ``12h`` (a plain number is minutes); 0 allowed."""

    placeholder = "duration"
    _UNITS = (("d", 86400), ("h", 3600), ("m", 60))  # days, not weeks: 7d stays 7d

    def parse(self, text: str) -> int:
        return parse_duration(text)

    def format(self, value: int) -> str:
        for unit, size in self._UNITS:
            if value and value % size == 0:
                return f"{value // size}{unit}"
        return str(value // 60)

    def display(self, value: int) -> str:
        return f"{self.format(value)} ({value} seconds)"


def _ssl_verbs() -> tuple[Verb, ...]:
    """The client TLS listener: on/off, port, files, the IRCv3 sts policy."""
    return (
        *choice("ssl.enabled", (
            Option(True, "general ssl enable", "open the TLS client listener", "enabled"),
            Option(False, "general ssl disable", "close the TLS client listener", "disabled"),
        ), label="SSL"),
        setting("general ssl port", "ssl.port", Int("port", 1, 65535), label="SSL port",
                help="TLS client port (994 by default)"),
        setting("general ssl cert", "ssl.cert", _OptionalPath("path"), label="SSL certificate",
                help="PEM certificate file (none: a self-signed one, generated in the data folder); "
                     "a renewed file at the same path is used after REHASH",
                unset="(self-signed, generated)"),
        setting("general ssl key", "ssl.key", _OptionalPath("path"), label="SSL key",
                help="PEM private key file (none: the certificate file holds the key too, "
                     "or the generated one)", unset="(self-signed, generated)"),
        setting("general ssl cafile", "ssl.cafile", _OptionalPath("path"), label="SSL CA file",
                help="PEM file of the CAs that sign peer servers' certificates, for secure links without "
                     "a fingerprint pin (none: the system's CAs, and a self-signed peer is pinned on first use)",
                unset="(the system's CAs; self-signed peers pinned on first use)"),
        setting("general ssl sts", "ssl.sts", OnOff(), label="STS",
                help="advertise the IRCv3 sts policy: plain clients move to the TLS port and keep to TLS "
                     "(needs a certificate clients trust)"),
        setting("general ssl stsduration", "ssl.sts_duration", _Seconds(), label="STS duration",
                help="how long clients keep to TLS after seeing the policy, e.g. 1d or 30d "
                     "(0 tells them to forget it)"),
    )


def _ssl_list(verbs: tuple[Verb, ...]) -> Verb:
    """``GENERAL SSL LIST``: the TLS settings and the certificate in force."""
    listers = [v.listing for v in verbs if v.listing is not None]

    def apply(ctx: Context, s: Settings, values: Mapping[str, Any]) -> Outcome:
        lines = ["GENERAL SSL settings:"]
        for lister in listers:
            lines.extend(f"  {line}" for line in lister(s))
        if ctx.live is not None:
            lines.extend(f"  {line}" for line in ctx.live("ssl"))
        return Outcome(s, tuple(lines))

    return Verb(("general", "ssl", "list"),
                "list the TLS settings and the certificate in use (fingerprint, expiry)", apply)


def family() -> Family:
    """Declare the GENERAL family."""
    ssl = _ssl_verbs()
    return Family("general", "server identity, ports, hub/leaf role, TLS and WebSocket listeners, files", listing=True, verbs=(
        setting("general set name", "name", hostname("name"), label="Server name", always=True,
                help="this server's name, a host name with at least one dot (needs a restart)",
                restart=_RESTART.format(what="A new server name")),
        setting("general set description", "description", Text("description"), label="Description",
                always=True, help="the description shown in LINKS, WHOIS and MAP"),
        setting("general set serial", "serial", Token("serial", r"\d{3}-\d{4}-\d{3}", "like 102-0000-001"),
                label="Serial", always=True, help="this server's serial, like 102-0000-001 (needs a restart)",
                restart=_RESTART.format(what="A new serial")),
        setting("general set contact", "contact", Text("contact"), label="Contact",
                help="administrative contact shown by ADMIN"),
        setting("general set network", "network",
                Token("network", r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}", "one word of letters, digits, . _ -"),
                label="Network name", help="network name announced in ISUPPORT NETWORK="),
        setting("general set ports", "ports", Ports(), label="Ports", always=True,
                help="plain-text client ports, e.g. 7000,6666-6669"),
        setting("general set bindip", "bindip", BindIP(), label="Bind IP",
                help="listen only on this IP address (* for all interfaces)"),
        *choice("role", (
            Option("hub", "general set hub", "make this server a hub (routes between servers)", "hub"),
            Option("leaf", "general set leaf", "make this server a leaf (one uplink to a hub)", "leaf"),
        ), label="Role", always=True),
        setting("general set datadir", "datadir", Path("path"), label="Data folder",
                help="folder for services data and certificates (default: data beside the config file)",
                restart=_RESTART.format(what="A new data folder"), unset="(default: data beside the config file)"),
        setting("general set motd", "motd_file", Path("path"), label="MOTD file",
                help="message of the day file (default: motd.txt beside the config file)"),
        *ssl,
        _ssl_list(ssl),
        *websocket.verbs(),
        setting("general set secureonly", "secureonly", OnOff(), label="Secure only",
                help="accept clients only over TLS"),
        setting("general set securenetwork", "securenetwork", OnOff(), label="Secure network",
                help="accept and make server links only over TLS"),
        setting("general set utf8only", "utf8only", OnOff(), label="UTF-8 only",
                help="refuse client lines that are not valid UTF-8 with FAIL INVALID_UTF8 and advertise "
                     "UTF8ONLY (off by default: other bytes are read as Latin-1)"),
        setting("general set manhole", "manhole.enabled", OnOff(), label="Manhole",
                help="SSH manhole for live inspection, on 127.0.0.1 only (off by default)"),
        setting("general set manholeport", "manhole.port", Int("port", 1, 65535), label="Manhole port",
                help="SSH manhole port on 127.0.0.1 (6022 by default)"),
        setting("general set manholekeys", "manhole.authorized_keys", _OptionalPath("path"), label="Manhole keys",
                help="authorized_keys file of keys that may log in to the manhole (none: admin passwords only)",
                unset="(none: admin oper passwords only)"),
    ))

