# -*- test-case-name: tests.unit.test_admin_oper -*-
"""OPER: operator blocks (password hash, flags, user@host access masks)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Mapping

from conferenceroom.admin.settings import OPER_FLAGS, OperEntry, Settings
from conferenceroom.admin.tree import Arg, Context, Entries, Family, Outcome, Param, Refused, Verb
from conferenceroom.admin.types import Flags, Password, Token, UserHostMask
from conferenceroom.passwords import looks_hashed

NAME = Param("name", Token("name", r"[A-Za-z0-9_\-\[\]\\^{}|`]+", "letters, digits or _-[]\\^{}|`", 32))
_FLAG_HELP = ", ".join(f"{k} {v}" for k, v in OPER_FLAGS.items())


OPERS: Entries[OperEntry] = Entries("opers", "No oper named {name}")


def _with_oper(s: Settings, entry: OperEntry) -> Settings:
    return OPERS.put(s, entry.name, entry)


def _describe(entry: OperEntry) -> str:
    flags = entry.flag_string or "none"
    access = ", ".join(entry.access) if entry.access else "anywhere"
    return f"{entry.name}: flags {flags}; access from {access}"


def _flags(flags: frozenset[str]) -> str:
    return "".join(sorted(flags)) or "none"


# -- apply functions ---------------------------------------------------------


def _list_all(ctx: Context, s: Settings, v: Mapping[str, Any]) -> Outcome:
    if not s.opers:
        return Outcome(s, ("No opers defined",))
    lines = [f"Opers ({len(s.opers)}):"]
    lines += [f"  {_describe(s.opers[k])}" for k in sorted(s.opers)]
    return Outcome(s, tuple(lines))


def _add(ctx: Context, s: Settings, v: Mapping[str, Any]) -> Outcome:
    name = v["name"]
    if s.oper(name) is not None:
        raise Refused(f"Oper {name} already exists (use OPER {name} PASSWORD or FLAG)")
    password, rewrite = _hash(ctx, v["password"])
    entry = OperEntry(name, password, v["flags"])
    return Outcome(_with_oper(s, entry), (f"Oper {name} added with flags {_flags(entry.flags)}",), rewrite=rewrite,
                   rewrite_args={"password": password} if rewrite else {})


def _hash(ctx: Context, password: str) -> tuple[str, bool]:
    if looks_hashed(password):
        return password, False
    return ctx.hash_password(password), True


def _write_add(s: Settings):
    for key in sorted(s.opers):
        entry = s.opers[key]
        yield {"name": entry.name}, (entry.password_hash, entry.flag_string)


def _delete(ctx: Context, s: Settings, v: Mapping[str, Any]) -> Outcome:
    entry = OPERS.get(s, v["name"])
    return Outcome(OPERS.drop(s, entry.name), (f"Oper {entry.name} deleted",))


def _list_one(ctx: Context, s: Settings, v: Mapping[str, Any]) -> Outcome:
    return Outcome(s, (_describe(OPERS.get(s, v["name"])),))


def _password(ctx: Context, s: Settings, v: Mapping[str, Any]) -> Outcome:
    entry = OPERS.get(s, v["name"])
    password, rewrite = _hash(ctx, v["password"])
    return Outcome(_with_oper(s, replace(entry, password_hash=password)),
                   (f"Password for oper {entry.name} changed",), rewrite=rewrite,
                   rewrite_args={"password": password} if rewrite else {})


def _access_add(ctx: Context, s: Settings, v: Mapping[str, Any]) -> Outcome:
    entry = OPERS.get(s, v["name"])
    mask = v["mask"]
    if any(m.lower() == mask.lower() for m in entry.access):
        return Outcome(s, (f"Oper {entry.name} already has access mask {mask}",))
    return Outcome(_with_oper(s, replace(entry, access=entry.access + (mask,))),
                   (f"Access mask {mask} added to oper {entry.name}",))


def _write_access(s: Settings):
    for key in sorted(s.opers):
        entry = s.opers[key]
        for mask in entry.access:
            yield {"name": entry.name}, (mask,)


def _access_del(ctx: Context, s: Settings, v: Mapping[str, Any]) -> Outcome:
    entry = OPERS.get(s, v["name"])
    mask = v["mask"]
    kept = tuple(m for m in entry.access if m.lower() != mask.lower())
    if len(kept) == len(entry.access):
        raise Refused(f"Oper {entry.name} has no access mask {mask}")
    return Outcome(_with_oper(s, replace(entry, access=kept)),
                   (f"Access mask {mask} removed from oper {entry.name}",))


def _access_list(ctx: Context, s: Settings, v: Mapping[str, Any]) -> Outcome:
    entry = OPERS.get(s, v["name"])
    if not entry.access:
        return Outcome(s, (f"Oper {entry.name} may log in from anywhere",))
    return Outcome(s, (f"Access masks for oper {entry.name}:", *(f"  {m}" for m in entry.access)))


def _flag_change(add: bool):
    def apply(ctx: Context, s: Settings, v: Mapping[str, Any]) -> Outcome:
        entry = OPERS.get(s, v["name"])
        flags = entry.flags | v["flags"] if add else entry.flags - v["flags"]
        return Outcome(_with_oper(s, replace(entry, flags=frozenset(flags))),
                       (f"Flags for oper {entry.name} are now {_flags(flags)}",))

    return apply


def _flag_list(ctx: Context, s: Settings, v: Mapping[str, Any]) -> Outcome:
    entry = OPERS.get(s, v["name"])
    lines = [f"Flags for oper {entry.name}: {_flags(entry.flags)}"]
    lines += [f"  {f} {OPER_FLAGS[f]}" for f in sorted(entry.flags)]
    return Outcome(s, tuple(lines))


def family() -> Family:
    """Declare the OPER family."""
    password = Arg("password", Password())
    flags = Arg("flags", Flags())
    mask = Arg("mask", UserHostMask())
    return Family("oper", "operator accounts: passwords, flags, access masks", verbs=(
        Verb(("oper",), "list every oper", _list_all),
        Verb(("oper", NAME, "add"), f"create an oper; flags: {_FLAG_HELP}", _add,
             (password, Arg("flags", Flags(), optional=True, default=frozenset())), write=_write_add),
        Verb(("oper", NAME, "del"), "delete an oper", _delete),
        Verb(("oper", NAME, "list"), "show one oper's flags and access masks", _list_one),
        Verb(("oper", NAME, "password"), "change an oper's password (stored only as a hash)", _password,
             (password,)),
        Verb(("oper", NAME, "access", "add"), "allow the oper to log in from user@host (none = anywhere)",
             _access_add, (mask,), write=_write_access, slot="oper.access", key_args=1),
        Verb(("oper", NAME, "access", "del"), "remove an access mask", _access_del, (mask,),
             slot="oper.access", key_args=1),
        Verb(("oper", NAME, "access", "list"), "list the oper's access masks", _access_list),
        Verb(("oper", NAME, "flag", "add"), f"add flags ({''.join(OPER_FLAGS)})", _flag_change(True), (flags,)),
        Verb(("oper", NAME, "flag", "del"), "remove flags", _flag_change(False), (flags,)),
        Verb(("oper", NAME, "flag", "list"), "show the oper's flags", _flag_list),
    ))
