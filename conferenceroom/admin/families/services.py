# -*- test-case-name: tests.unit.test_admin_services -*-
"""SERVICES: whether this server runs the built-in services."""

from __future__ import annotations

from conferenceroom.admin.tree import Family, Option, choice


def family() -> Family:
    """Declare the SERVICES family."""
    return Family("services", "run the built-in services on this server (one server per network)",
                  listing=True, verbs=choice("services_enabled", (
                      Option(True, "services enable", "run NickServ, ChanServ, MemoServ and OperServ here", "enabled"),
                      Option(False, "services disable", "do not run services here (another server does)", "disabled"),
                  ), label="Services", always=True))
