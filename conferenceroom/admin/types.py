# -*- test-case-name: tests.unit.test_admin_tree -*-
"""Argument types of the AS grammar.

Each type has a placeholder for syntax lines, ``parse(text)`` that raises
``ValueError(reason)`` and ``format(value)`` that is its inverse (what the
canonical writer puts in the config file); ``display`` is what LIST shows.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, NamedTuple, Sequence

from conferenceroom.admin.settings import OPER_FLAGS
from conferenceroom.passwords import check_plaintext, looks_hashed


class ArgType:
    """Base for argument types: a placeholder, a parser and a formatter."""

    placeholder = "value"
    #: True if the placeholder is literal syntax (``on|off``), not ``<name>``.
    literal = False
    #: True for a secret (a password): error messages never repeat the text given.
    secret = False

    def parse(self, text: str) -> Any:
        """The value ``text`` stands for; ValueError with the reason when it is not valid."""
        return text

    def format(self, value: Any) -> str:
        """``value`` as the config file writes it (``parse`` reads it back)."""
        return str(value)

    def display(self, value: Any) -> str:
        """``value`` as replies and LIST show it (secrets hidden)."""
        return self.format(value)


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class Text(ArgType):
    """Free text, the rest of the line; runs of spaces become one space."""

    def __init__(self, placeholder: str = "text", max_len: int = 200):
        self.placeholder = placeholder
        self.max_len = max_len

    def parse(self, text: str) -> str:
        if _CONTROL.search(text):
            raise ValueError("control characters are not allowed")
        value = " ".join(text.split())
        if not value:
            raise ValueError("must not be empty")
        if len(value) > self.max_len:
            raise ValueError(f"longer than {self.max_len} characters")
        return value


class Token(ArgType):
    """One word matching a regular expression."""

    def __init__(self, placeholder: str, pattern: str, what: str, max_len: int = 200):
        self.placeholder = placeholder
        self.pattern = re.compile(pattern)
        self.what = what
        self.max_len = max_len

    def parse(self, text: str) -> str:
        if len(text) > self.max_len:
            raise ValueError(f"longer than {self.max_len} characters")
        if not self.pattern.fullmatch(text):
            raise ValueError(f"must be {self.what}")
        return text


_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"


def hostname(placeholder: str = "name") -> Token:
    """A DNS-style server name with at least one dot, at most 63 characters."""
    return Token(placeholder, rf"{_LABEL}(?:\.{_LABEL})+", "a host name with at least one dot, like irc.example.com", 63)


class Int(ArgType):
    """A whole number within [lo, hi]."""

    def __init__(self, placeholder: str = "n", lo: int = 0, hi: int = 1_000_000):
        self.placeholder = placeholder
        self.lo = lo
        self.hi = hi

    def parse(self, text: str) -> int:
        if not re.fullmatch(r"[0-9]{1,9}", text):
            raise ValueError(f"must be a whole number from {self.lo} to {self.hi}")
        value = int(text)
        if not self.lo <= value <= self.hi:
            raise ValueError(f"must be from {self.lo} to {self.hi}")
        return value


class OnOff(ArgType):
    """A switch: on/off (also yes/no, true/false, 1/0)."""

    placeholder = "on|off"
    literal = True
    _ON = {"on", "yes", "true", "1", "enable", "enabled"}
    _OFF = {"off", "no", "false", "0", "disable", "disabled"}

    def parse(self, text: str) -> bool:
        low = text.lower()
        if low in self._ON:
            return True
        if low in self._OFF:
            return False
        raise ValueError("must be on or off")

    def format(self, value: bool) -> str:
        return "on" if value else "off"


class Ports(ArgType):
    """A port list like ``7000,6666-6669``: expanded, sorted, no duplicates."""

    placeholder = "ports"
    MAX_PORTS = 100

    def parse(self, text: str) -> tuple[int, ...]:
        ports: set[int] = set()
        for part in text.split(","):
            m = re.fullmatch(r"([0-9]{1,5})(?:-([0-9]{1,5}))?", part)
            if not m:
                raise ValueError(f"'{part}' is not a port or a range like 6666-6669")
            lo = int(m.group(1))
            hi = int(m.group(2)) if m.group(2) else lo
            for p in (lo, hi):
                if not 1 <= p <= 65535:
                    raise ValueError(f"port {p} is not from 1 to 65535")
            if lo > hi:
                raise ValueError(f"range {part} goes backwards")
            if hi - lo >= self.MAX_PORTS:
                raise ValueError(f"more than {self.MAX_PORTS} ports")
            ports.update(range(lo, hi + 1))
        if len(ports) > self.MAX_PORTS:
            raise ValueError(f"more than {self.MAX_PORTS} ports")
        return tuple(sorted(ports))

    def format(self, value: Sequence[int]) -> str:
        parts = []
        ports = sorted(value)
        i = 0
        while i < len(ports):
            j = i
            while j + 1 < len(ports) and ports[j + 1] == ports[j] + 1:
                j += 1
            parts.append(str(ports[i]) if i == j else f"{ports[i]}-{ports[j]}")
            i = j + 1
        return ",".join(parts)


class BindIP(ArgType):
    """An IPv4/IPv6 address to listen on; ``*`` means all interfaces."""

    placeholder = "ip"

    def parse(self, text: str) -> str:
        if text == "*":
            return ""
        try:
            return str(ipaddress.ip_address(text))
        except ValueError:
            raise ValueError("must be an IP address, or * for all interfaces") from None

    def format(self, value: str) -> str:
        return value or "*"

    def display(self, value: str) -> str:
        return value or "* (all interfaces)"


class Path(Text):
    """A file or folder path (relative paths are relative to the config file)."""

    def __init__(self, placeholder: str = "path"):
        super().__init__(placeholder, max_len=1024)


class Password(ArgType):
    """A password in plain text, or an existing bcrypt hash."""

    placeholder = "password"
    secret = True

    def parse(self, text: str) -> str:
        if looks_hashed(text):
            return text
        if any(c.isspace() for c in text):
            raise ValueError("must be one word")
        check_plaintext(text)
        return text


class Flags(ArgType):
    """Oper flags, letters from ``acdeghs`` (a leading + is allowed)."""

    placeholder = "flags"

    def parse(self, text: str) -> frozenset[str]:
        letters = text[1:] if text.startswith("+") else text
        if not letters:
            raise ValueError("no flags given")
        bad = sorted(set(letters) - set(OPER_FLAGS))
        if bad:
            raise ValueError(f"unknown flag(s) {''.join(bad)}; flags are {''.join(OPER_FLAGS)}")
        return frozenset(letters)

    def format(self, value: frozenset[str]) -> str:
        return "".join(sorted(value))


class UserHostMask(Token):
    """A ``user@host`` mask with ``*`` and ``?`` wildcards."""

    def __init__(self) -> None:
        super().__init__("user@host", r"[^@\s,\x00-\x1f]+@[^@\s,\x00-\x1f]+", "a user@host mask like *@127.0.0.1", 200)


class IPMask(ArgType):
    """An IP address, a CIDR network or a glob of IP characters (``10.0.*``)."""

    placeholder = "ip-or-mask"

    def parse(self, text: str) -> str:
        if "/" in text:
            try:
                return str(ipaddress.ip_network(text, strict=False))
            except ValueError:
                raise ValueError("is not a valid CIDR network") from None
        try:
            return str(ipaddress.ip_address(text))
        except ValueError:
            pass
        if re.fullmatch(r"[0-9A-Fa-f.:*?]{1,64}", text) and ("*" in text or "?" in text):
            return text.lower()
        raise ValueError("must be an IP address, a CIDR network or a mask like 10.0.*")


def _is_whole_internet(mask: str) -> bool:
    """True if *mask* is a CIDR network of prefix length 0 (``0.0.0.0/0``, ``::/0``)."""
    try:
        return "/" in mask and ipaddress.ip_network(mask, strict=False).prefixlen == 0
    except ValueError:
        return False


def _matches_every_address(mask: str) -> bool:
    """True if the IP *mask* matches every address of its family: a /0
    network, or a glob with no digit in it (``*``, ``*.*.*.*``, ``*:*``)."""
    if "/" in mask:
        return _is_whole_internet(mask)
    return ("*" in mask or "?" in mask) and not re.search(r"[0-9A-Fa-f]", mask)


class ZLineMask(IPMask):
    """An :class:`IPMask` for a Z-line: one matching every address is refused."""

    def parse(self, text: str) -> str:
        value = super().parse(text)
        if _matches_every_address(value):
            raise ValueError("would ban everyone")
        return value


class Choice(ArgType):
    """One keyword out of a fixed set (``hub|leaf``), stored lower-case."""

    literal = True

    def __init__(self, *options: str):
        self.options = tuple(o.lower() for o in options)
        self.placeholder = "|".join(self.options)

    def parse(self, text: str) -> str:
        low = text.lower()
        if low not in self.options:
            raise ValueError(f"must be {' or '.join(self.options)}")
        return low


class Clearable(ArgType):
    """Another type, or ``none`` to clear the value (stored as None)."""

    def __init__(self, inner: ArgType):
        self.inner = inner
        self.placeholder = inner.placeholder
        self.literal = inner.literal
        self.secret = inner.secret

    def parse(self, text: str) -> Any:
        return None if text.lower() == "none" else self.inner.parse(text)

    def format(self, value: Any) -> str:
        return "none" if value is None else self.inner.format(value)

    def display(self, value: Any) -> str:
        return "(not set)" if value is None else self.inner.display(value)


class HostOrIP(ArgType):
    """A host name (dots optional) or an IP address, stored lower-case."""

    placeholder = "host"

    def parse(self, text: str) -> str:
        try:
            return str(ipaddress.ip_address(text))
        except ValueError:
            pass
        if len(text) > 253 or not re.fullmatch(rf"{_LABEL}(?:\.{_LABEL})*\.?", text):
            raise ValueError("must be a host name or an IP address")
        return text.lower().rstrip(".")


class NameMask(Token):
    """A server name mask such as ``tenor.*`` or ``*.webmaster.com``."""

    def __init__(self) -> None:
        super().__init__("mask", r"[A-Za-z0-9*?][A-Za-z0-9.*?-]*", "a server name or a mask like tenor.*", 63)

    def parse(self, text: str) -> str:
        return super().parse(text).lower()


class LinkPassword(ArgType):
    """A server link password, kept as given (it is sent to the peer)."""

    placeholder = "password"
    secret = True

    def parse(self, text: str) -> str:
        if not re.fullmatch(r"[!-~]{1,100}", text) or text.startswith(":"):
            raise ValueError("must be one word of up to 100 printable ASCII characters, not starting with ':'")
        if text.lower() == "none":
            raise ValueError("'none' clears the password")
        return text

    def display(self, value: str) -> str:
        return "(set)"


class Fingerprint(ArgType):
    """A SHA-256 certificate fingerprint: 64 hex digits, colons allowed.

    Stored as 64 lower-case hex digits; shown with colons.
    """

    placeholder = "sha256-hex"

    def parse(self, text: str) -> str:
        digits = text.replace(":", "").lower()
        if not re.fullmatch(r"[0-9a-f]{64}", digits):
            raise ValueError("must be a SHA-256 fingerprint: 64 hex digits, colons allowed")
        return digits

    def display(self, value: str) -> str:
        return ":".join(value[i:i + 2] for i in range(0, len(value), 2)).upper()


class BanMask(ArgType):
    """A K-line/AKILL mask: ``user@host`` (``*@host`` for a whole host).

    ``*!user@host`` is accepted (the nick part is dropped: these bans match
    the user name and host); any other nick part is refused, and so is a
    mask without ``@`` (``carol`` could mean a user or a host).
    """

    placeholder = "user@host"
    _FORM = "must be user@host like *@bad.example or carol@* (a K-line or AKILL matches user names and hosts)"

    def parse(self, text: str) -> str:
        if "!" in text:
            nick, _, text = text.partition("!")
            if nick != "*":
                raise ValueError("K-lines and AKILLs match user@host, not nicknames; use *!user@host or user@host")
        user, at, host = text.partition("@")
        if (not at or not user or not host or "@" in host or len(text) > 200
                or re.search(r"[\s,!\x00-\x1f]", text) or not _HOST_MASK.fullmatch(host)):
            raise ValueError(self._FORM)
        if user.strip("*?") == "" and (host.strip("*?.") == "" or _is_whole_internet(host)):
            raise ValueError("would ban everyone")
        return f"{user}@{host.lower()}"


#: What the host part of a ban mask may hold: host names, IPv4/IPv6, CIDR, wildcards.
_HOST_MASK = re.compile(r"[A-Za-z0-9.:*?/_\[\]-]+")


_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"(?:\d{1,6}[mhdw])+|\d{1,7}")
_MAX_DURATION = 10 * 366 * 86400


def parse_duration(text: str) -> int:
    """Seconds in a duration like ``30m``, ``2h``, ``1d12h``, ``1w`` or plain minutes.

    ``0`` means permanent.  Raises ValueError if *text* is not a duration.
    """
    low = text.lower()
    if not _DURATION.fullmatch(low):
        raise ValueError("not a duration like 30m, 2h, 1d, 1w or a number of minutes")
    if low.isdigit():
        seconds = int(low) * 60
    else:
        seconds = sum(int(n) * _UNITS[u] for n, u in re.findall(r"(\d+)([mhdw])", low))
    if seconds > _MAX_DURATION:
        raise ValueError("longer than ten years; give 0 for a permanent ban")
    return seconds


def format_duration(seconds: float) -> str:
    """A short human duration: ``1w 2d``, ``3h 5m``, ``45s``."""
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    parts = []
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        n, seconds = divmod(seconds, size)
        if n:
            parts.append(f"{n}{unit}")
    return " ".join(parts[:2])


class BanTerms(NamedTuple):
    """What follows a ban mask: a duration or an absolute expiry, who set it
    and when (as written by the server), and the reason."""

    duration: int | None = None
    until: int | None = None
    by: str | None = None
    at: int | None = None
    reason: str = ""


class BanTermsType(ArgType):
    """``[duration] [reason]``; saved lines carry ``until=<unix>``,
    ``by=<who>`` and ``at=<unix>`` before the reason instead of a duration.

    A word starting with ``:`` starts the reason (the writer puts one there
    when the reason itself begins like a duration, ``0 day exploit``).
    """

    placeholder = "[duration] [reason]"
    literal = True

    def parse(self, text: str) -> BanTerms:
        if _CONTROL.search(text):
            raise ValueError("control characters are not allowed")
        words = text.split()
        found: dict[str, Any] = {}
        while words:
            word = words[0]
            if word.startswith(":"):
                words[0] = word[1:]
                break
            key, eq, value = word.partition("=")
            if eq and key.lower() in ("until", "at", "by") and key.lower() not in found:
                key = key.lower()
                if key == "by":
                    if not re.fullmatch(r"[^\s=]{1,64}", value):
                        raise ValueError(f"bad by={value}")
                    found[key] = value
                elif not re.fullmatch(r"\d{1,12}", value):
                    raise ValueError(f"{key}= needs unix seconds, got '{value}'")
                else:
                    found[key] = int(value)
            elif "duration" not in found and "until" not in found and _DURATION.fullmatch(word.lower()):
                found["duration"] = parse_duration(word)
            elif "duration" not in found and "until" not in found and word[:1].isdigit():
                # "2x", "1hour": a mistyped duration, not the start of the reason.
                raise ValueError(f"'{word}' is not a duration like 30m, 2h, 1d12h, 1w or a number of minutes "
                                 f"(write :{word} to start the reason with it)")
            else:
                break
            words.pop(0)
        if "duration" in found and "until" in found:
            raise ValueError("give a duration or until=, not both")
        reason = " ".join(w for w in words if w)
        if len(reason) > 300:
            raise ValueError("reason longer than 300 characters")
        return BanTerms(found.get("duration"), found.get("until"), found.get("by"), found.get("at"), reason)

    def format(self, value: BanTerms) -> str:
        words = []
        if value.until:
            words.append(f"until={value.until}")
        if value.by:
            words.append(f"by={value.by}")
        if value.at:
            words.append(f"at={value.at}")
        if value.reason:
            first = value.reason.split()[0]
            key = first.partition("=")[0].lower()
            ambiguous = (first.startswith(":") or first[:1].isdigit()
                         or ("=" in first and key in ("until", "at", "by")))
            words.append(":" + value.reason if ambiguous else value.reason)
        return " ".join(words)
