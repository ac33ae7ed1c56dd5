# -*- test-case-name: tests.unit.test_admin_security -*-
"""SECURITY: saved bans (K-line, AKILL, Z-line), flood control, connection
triggers and connection rate."""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any, Mapping

from conferenceroom.admin.settings import BAN_KINDS, BanEntry, Settings
from conferenceroom.admin.tree import Arg, Context, Family, Outcome, Refused, Verb, setting
from conferenceroom.admin.types import (
    ArgType, BanMask, BanTerms, BanTermsType, Int, IPMask, OnOff, ZLineMask, format_duration,
)
from conferenceroom.casemap import fold, match


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


# -- bans ----------------------------------------------------------------------

_BAN_INFO = {
    # kind: (label, what the mask is, help)
    "kline": ("K-line", BanMask, "ban user@host from this server"),
    "akill": ("AKILL", BanMask, "ban user@host from the whole network"),
    "zline": ("Z-line", ZLineMask, "ban an IP address, CIDR network or IP mask from this server"),
}


def _label(kind: str) -> str:
    return _BAN_INFO[kind][0]


def _expiry_text(entry: BanEntry, now: int | None) -> str:
    if not entry.expires:
        return "permanent"
    if now is None:
        return f"expires at unix time {entry.expires}"
    left = entry.remaining(now)
    return f"expires in {format_duration(left)}" if left else "expired"


def _describe_ban(entry: BanEntry, now: int | None) -> str:
    by = f"set by {entry.set_by}" if entry.set_by else "set by (unknown)"
    reason = entry.reason or "(no reason)"
    return f"{entry.mask} - {reason} [{by}; {_expiry_text(entry, now)}]"


def _ban_add(kind: str):
    attr = BAN_KINDS[kind]

    def apply(ctx: Context, s: Settings, v: Mapping[str, Any]) -> Outcome:
        mask: str = v["mask"]
        terms: BanTerms = v["terms"] or BanTerms()
        now = ctx.now()
        expires = terms.until or 0
        rewrite: bool | str = False
        if terms.duration:
            if now is None:
                raise Refused("A ban duration needs the server clock, which this command cannot see")
            expires = now + terms.duration
            rewrite = "ban duration turned into an expiry time"
        entry = BanEntry(mask, terms.reason, terms.by if terms.by is not None else ctx.actor,
                         terms.at if terms.at is not None else (now or 0), expires)
        kept_terms = BanTerms(None, expires or None, entry.set_by or None, entry.set_at or None, entry.reason)
        rewrite_args = {"terms": BanTermsType().format(kept_terms)} if rewrite else {}
        if expires and now is not None and expires <= now:
            folded = fold(mask)
            kept = tuple(e for e in getattr(s, attr) if e.folded != folded)
            return Outcome(replace(s, **{attr: kept}), (f"{_label(kind)} for {mask} has already expired; not kept",))
        old = getattr(s, attr)
        where = _positions(attr, old)
        i = where.get(entry.folded)
        if i is not None:
            entries = old[:i] + (entry,) + old[i + 1:]
            verb = "updated"
        else:
            entries = old + (entry,)
            where[entry.folded] = len(old)
            verb = "added"
        _INDEX.by_attr[attr] = (entries, where)  # the next add to these entries finds them at once
        reply = f"{_label(kind)} {verb}: {_describe_ban(entry, now)}"
        return Outcome(replace(s, **{attr: entries}), (reply,), rewrite=rewrite, rewrite_args=rewrite_args)

    return apply


#: Per thread: the last ban tuple made for each kind with its folded mask -> position,
#: so loading a file of N bans is linear, not quadratic.
_INDEX = threading.local()


def _positions(attr: str, entries: tuple[BanEntry, ...]) -> dict[str, int]:
    """Folded mask -> position in ``entries`` (reused when ``entries`` is the last tuple made)."""
    if not hasattr(_INDEX, "by_attr"):
        _INDEX.by_attr = {}
    cached = _INDEX.by_attr.get(attr)
    if cached is not None and cached[0] is entries:
        return cached[1]
    return {e.folded: i for i, e in enumerate(entries)}


def _ban_write(kind: str):
    attr = BAN_KINDS[kind]
    terms = BanTermsType()

    def write(s: Settings):
        for e in getattr(s, attr):
            yield {}, (e.mask, terms.format(BanTerms(None, e.expires or None, e.set_by or None, e.set_at or None,
                                                     e.reason)))

    return write


def _ban_del(kind: str):
    attr = BAN_KINDS[kind]

    def apply(ctx: Context, s: Settings, v: Mapping[str, Any]) -> Outcome:
        mask = v["mask"]
        entries = getattr(s, attr)
        folded = fold(mask)
        gone = [e for e in entries if e.folded == folded]
        if not gone:
            raise Refused(f"No {_label(kind)} for {mask}")
        kept = tuple(e for e in entries if e not in gone)
        return Outcome(replace(s, **{attr: kept}), (f"{_label(kind)} for {gone[0].mask} removed",))

    return apply


def _ban_list(kind: str):
    attr = BAN_KINDS[kind]

    def apply(ctx: Context, s: Settings, v: Mapping[str, Any]) -> Outcome:
        now = ctx.now()
        pattern = v.get("pattern")
        entries = [e for e in getattr(s, attr) if e.active(now)
                   and (pattern is None or match(pattern, e.mask) or fold(pattern) == fold(e.mask))]
        what = f"{_label(kind)}s" + (f" matching {pattern}" if pattern else "")
        if not entries:
            return Outcome(s, (f"No {what}",))
        return Outcome(s, (f"{what} ({len(entries)}):", *(f"  {_describe_ban(e, now)}" for e in entries)))

    return apply


def _ban_summary(kind: str):
    attr = BAN_KINDS[kind]

    def listing(s: Settings):
        yield f"{_label(kind)}s: {len(getattr(s, attr))} (SECURITY {kind.upper()} LIST)"

    return listing


class _Pattern(ArgType):
    """A mask to filter a ban LIST (wildcards allowed)."""

    placeholder = "mask"

    def parse(self, text: str) -> str:
        if len(text) > 200:
            raise ValueError("longer than 200 characters")
        return text


def _ban_verbs(kind: str) -> tuple[Verb, ...]:
    label, mask_type, purpose = _BAN_INFO[kind]
    mask = Arg("mask", mask_type())
    terms = Arg("terms", BanTermsType(), optional=True, rest=True, shown="[duration] [reason]")
    return (
        Verb(("security", kind, "add"),
             f"{purpose}; duration like 30m, 2h, 1d, 1w or minutes (omitted or 0: permanent), then the reason",
             _ban_add(kind), (mask, terms), write=_ban_write(kind), listing=_ban_summary(kind),
             slot=f"ban.{kind}", key_args=1),
        Verb(("security", kind, "del"), f"remove a {label}", _ban_del(kind), (mask,), slot=f"ban.{kind}", key_args=1),
        Verb(("security", kind, "list"), f"list {label}s with reason, who set them and time left",
             _ban_list(kind), (Arg("pattern", _Pattern(), optional=True),)),
    )


def family() -> Family:
    """Declare the SECURITY family."""
    count = Int("n", 0, 100_000)
    positive = Int("n", 1, 100_000)
    return Family("security", "bans (KLINE, AKILL, ZLINE), flood control, connections per IP, connection rate",
                  listing=True, verbs=(
        *_ban_verbs("kline"),
        *_ban_verbs("akill"),
        *_ban_verbs("zline"),
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
             listing=_trigger_lines, slot="trigger", key_args=1),
        Verb(("security", "trigger", "del"), "remove a trigger exception", _trigger_del,
             (Arg("mask", IPMask()),), slot="trigger", key_args=1),
        Verb(("security", "trigger", "list"), "list trigger exceptions", _trigger_list),
        setting("security cps", "cps", count, label="Connections per second",
                help="new connections accepted per second per listener (0 = no limit)"),
    ))
