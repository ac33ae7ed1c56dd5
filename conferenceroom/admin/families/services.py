# -*- test-case-name: tests.unit.test_admin_services -*-
"""SERVICES: whether this server runs the built-in services, their password cost and rules."""

from __future__ import annotations

from conferenceroom.admin.tree import Family, Option, choice, setting
from conferenceroom.admin.types import Clearable, Int, hostname


def family() -> Family:
    """Declare the SERVICES family."""
    return Family("services", "run the built-in services on this server (one server per network)",
                  listing=True, verbs=(
                      *choice("services_enabled", (
                          Option(True, "services enable", "run NickServ, ChanServ, MemoServ and OperServ here",
                                 "enabled"),
                          Option(False, "services disable", "do not run services here (another server does)",
                                 "disabled"),
                      ), label="Services", always=True),
                      setting("services set passwordcost", "services_password_cost", Int("cost", 4, 16),
                              label="Password cost",
                              help="bcrypt cost of new account passwords (12 by default; each step doubles "
                                   "the work of a login)"),
                      setting("services set enforcedelay", "services_enforce_delay", Int("seconds", 5, 3600),
                              label="Enforce delay",
                              help="seconds a user has to identify before a protected nick is changed "
                                   "(60 by default)"),
                      setting("services set minpassword", "services_min_password", Int("characters", 1, 32),
                              label="Minimum password",
                              help="fewest characters of a new account password (5 by default)"),
                      setting("services set name", "services_server_name", Clearable(hostname("servername")),
                              label="Services server name",
                              help="name of the services server (none: services.<domain of this server>); "
                                   "used when services next start (a restart, or SERVICES DISABLE then ENABLE)"),
                  ))
