# -*- test-case-name: tests.unit.test_client_registration -*-
"""IRCv3 capabilities: what this server offers and what a client took.

Tags a client receives depend on its capabilities: ``time`` needs
server-time, ``account`` needs account-tag, ``batch`` needs batch, and every
other tag needs message-tags.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Capability:
    """A capability name and the value shown by ``CAP LS 302``."""

    name: str
    value: str = ""


def default_capabilities() -> dict[str, Capability]:
    """The capabilities of a server without services."""
    names = [
        "cap-notify", "multi-prefix", "userhost-in-names", "server-time",
        "message-tags", "echo-message", "away-notify", "extended-join",
        "chghost", "invite-notify", "batch", "account-notify", "account-tag", "extended-monitor", "labeled-response", "setname", "draft/channel-rename",
        "draft/read-marker", "draft/message-redaction",
    ]
    caps = {name: Capability(name) for name in names}
    caps[MULTILINE] = Capability(MULTILINE, f"max-bytes={MULTILINE_MAX_BYTES},max-lines={MULTILINE_MAX_LINES}")
    return caps


MULTILINE = "draft/multiline"
MULTILINE_MAX_BYTES = 4096  # of text in one multiline message
MULTILINE_MAX_LINES = 100


def sts_capability(settings: Any, secure: bool) -> Capability | None:
    """The IRCv3 ``sts`` policy for a connection, when ``GENERAL SSL STS`` is on (else None).

    Plain connections learn the TLS port (and the duration, which they
    ignore until they reconnect over TLS); TLS connections the duration the
    policy lasts.  It is only ever listed, never requested (CAP REQ sts gets NAK).
    """
    ssl = settings.ssl
    if not (ssl.enabled and ssl.sts):
        return None
    duration = f"duration={ssl.sts_duration}"
    return Capability("sts", duration if secure else f"port={ssl.port},{duration}")


# Which capability lets a client see each tag; others need message-tags.
TAG_CAPS = {"time": "server-time", "account": "account-tag", "batch": "batch", "label": "labeled-response"}


def visible_tags(tags: dict[str, str], caps: set[str] | frozenset[str]) -> dict[str, str]:
    """The part of ``tags`` a client with ``caps`` may see."""
    if not tags:
        return tags
    return {k: v for k, v in tags.items() if TAG_CAPS.get(k, "message-tags") in caps}
