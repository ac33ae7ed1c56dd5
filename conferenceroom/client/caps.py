# -*- test-case-name: tests.unit.test_client_registration -*-
"""IRCv3 capabilities: what this server offers and what a client took.

Tags a client receives depend on its capabilities: ``time`` needs
server-time, ``account`` needs account-tag, ``batch`` needs batch, and every
other tag needs message-tags.
"""

from __future__ import annotations

from dataclasses import dataclass


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
        "chghost", "invite-notify", "batch", "account-notify", "account-tag",
    ]
    return {name: Capability(name) for name in names}


# Which capability lets a client see each tag; others need message-tags.
TAG_CAPS = {"time": "server-time", "account": "account-tag", "batch": "batch"}


def visible_tags(tags: dict[str, str], caps: set[str] | frozenset[str]) -> dict[str, str]:
    """The part of ``tags`` a client with ``caps`` may see."""
    if not tags:
        return tags
    return {k: v for k, v in tags.items() if TAG_CAPS.get(k, "message-tags") in caps}
