# -*- test-case-name: tests.unit.test_admin_security -*-
"""SECURITY: flood control, connection triggers and connection rate."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Mapping

from conferenceroom.admin.settings import Settings
from conferenceroom.admin.tree import (
    Arg, Context, Family, Int, IPMask, OnOff, Outcome, Refused, Verb, setting,
)


def _limit(n: int) -> str:
    return "unlimited" if n == 0 else str(n)


def _trigger_add(ctx: Context, s: Settings, v: Mapping[str, Any]) -> Outcome:
    mask, n = v["mask"], v["n"]
    triggers = list(s.triggers)
    for i, (m, _) in enumerate(triggers):
        if m == mask:
            triggers[i] = (mask, n)
            break
    else:
        triggers.append((mask, n))
    return Outcome(replace(s, triggers=tuple(triggers)), (f"Trigger for {mask} set to {_limit(n)}",))


def _trigger_del(ctx: Context, s: Settings, v: Mapping[str, Any]) -> Outcome:
    mask = v["mask"]
    kept = tuple(t for t in s.triggers if t[0] != mask)
    if len(kept) == len(s.triggers):
        raise Refused(f"No trigger exception for {mask}")
    return Outcome(replace(s, triggers=kept), (f"Trigger exception for {mask} removed",))


def _trigger_lines(s: Settings) -> list[str]:
    if not s.triggers:
        return [f"Trigger exceptions: none (default {_limit(s.deftrigger)})"]
    return ["Trigger exceptions:", *(f"  {m} {_limit(n)}" for m, n in s.triggers)]


def _trigger_list(ctx: Context, s: Settings, v: Mapping[str, Any]) -> Outcome:
    return Outcome(s, tuple(_trigger_lines(s)))


def _write_triggers(s: Settings):
    for mask, n in s.triggers:
        yield {}, (mask, str(n))


def family() -> Family:
    """Declare the SECURITY family."""
    count = Int("n", 0, 100_000)
    positive = Int("n", 1, 100_000)
    return Family("security", "flood control, connections per IP, connection rate", listing=True, verbs=(
        setting("security set flood", "flood.enabled", OnOff(), label="Flood control",
                help="penalty-based flood control on or off"),
        setting("security set flood penalties", "flood.penalties", positive, label="Flood penalties",
                help="line budget: penalty points a client may spend per window"),
        setting("security set flood seconds", "flood.seconds", positive, label="Flood seconds",
                help="length of the flood window in seconds"),
        setting("security set flood kill", "flood.kill", positive, label="Flood kill",
                help="queued penalty above which the client is disconnected (Excess Flood)"),
        setting("security set flood oper", "flood.oper_exempt", OnOff(), label="Opers exempt from flood",
                help="whether operators are exempt from flood control"),
        setting("security set deftrigger", "deftrigger", count, label="Default trigger",
                help="connections allowed per IP (0 = no limit)"),
        Verb(("security", "trigger", "add"), "per-IP connection limit exception (0 = no limit)",
             _trigger_add, (Arg("mask", IPMask()), Arg("n", count)), write=_write_triggers,
             listing=_trigger_lines),
        Verb(("security", "trigger", "del"), "remove a trigger exception", _trigger_del,
             (Arg("mask", IPMask()),)),
        Verb(("security", "trigger", "list"), "list trigger exceptions", _trigger_list),
        setting("security cps", "cps", count, label="Connections per second",
                help="new connections accepted per second per listener (0 = no limit)"),
    ))
