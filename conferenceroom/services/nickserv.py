# -*- test-case-name: tests.unit.test_services_nickserv -*-
"""NickServ: nickname registration and logins."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .bot import ServiceBot

if TYPE_CHECKING:
    from .host import ServicesHost


def setup(host: "ServicesHost") -> ServiceBot:
    """The NickServ bot and its commands."""
    return ServiceBot(host, "NickServ", "Nickname Services", "registers nicknames and logs you in to your account")
