# -*- test-case-name: tests.unit.test_services_memoserv -*-
"""MemoServ: short messages kept for registered users."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .bot import ServiceBot

if TYPE_CHECKING:
    from .host import ServicesHost


def setup(host: "ServicesHost") -> ServiceBot:
    """The MemoServ bot and its commands."""
    return ServiceBot(host, "MemoServ", "Memo Services", "keeps short messages for registered users")
