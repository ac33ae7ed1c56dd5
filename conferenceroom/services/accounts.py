# -*- test-case-name: tests.unit.test_services_accounts -*-
"""Accounts: registered names, bcrypt passwords, certificate fingerprints, access masks.

Used by NickServ and by SASL.  Every account is kept in memory (loaded at
start) so lookups (:meth:`Accounts.get`, :meth:`Accounts.by_certfp`) are
immediate; every change is one store transaction and the in-memory copy
changes only once it committed, so a Deferred that fired means the change
is on disk.  bcrypt runs on the password pool, never on the reactor.
:meth:`Accounts.verify_password` spaces out failed attempts per account and
per address (the back-off of :mod:`conferenceroom.operauth`): guessing
faster only waits longer, and an unknown name costs the same bcrypt check.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import Any, Callable

from twisted.internet import defer, task
from twisted.logger import Logger

from ..casemap import fold, match
from ..operauth import Backoff, check_password
from ..passwords import DEFAULT_ROUNDS, hash_account_password
from .store import Store

log = Logger()

#: Password checks waiting or running at once; more are told to try again.
MAX_PENDING_CHECKS = 256
#: ... and from one address.
MAX_CHECKS_PER_IP = 16
#: Certificate fingerprints and access masks per account.
MAX_CERTFPS = 10
MAX_ACCESS = 20

MIGRATIONS = [
    # 1: the first schema
    """CREATE TABLE accounts (
        folded TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        password TEXT NOT NULL,
        email TEXT,
        registered INTEGER NOT NULL
    );""",
    # 2: nick enforcement, last login
    """ALTER TABLE accounts ADD COLUMN enforce INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE accounts ADD COLUMN last_seen INTEGER;""",
    # 3: certificate fingerprints and access masks
    """CREATE TABLE certfps (
        fp TEXT PRIMARY KEY,
        account TEXT NOT NULL REFERENCES accounts(folded) ON DELETE CASCADE
    );
    CREATE TABLE access (
        account TEXT NOT NULL REFERENCES accounts(folded) ON DELETE CASCADE,
        mask TEXT NOT NULL,
        PRIMARY KEY (account, mask)
    );""",
]


class AccountError(Exception):
    """A change refused; ``str()`` is a sentence for the user."""


class TryAgain(AccountError):
    """Too many password checks are under way."""


@dataclass
class Account:
    """One registered account (its name is the nick it was registered with)."""

    name: str
    password: str
    email: str | None
    registered: int
    enforce: bool = True
    last_seen: int | None = None
    certfps: set[str] = field(default_factory=set)
    access: list[str] = field(default_factory=list)

    @property
    def key(self) -> str:
        """The folded name (primary key)."""
        return fold(self.name)

    def access_matches(self, user_host: str) -> bool:
        """True if ``ident@host`` matches one of the access masks."""
        return any(match(mask, user_host) for mask in self.access)


def normalize_fp(fp: str) -> str:
    """A fingerprint in one form: lower-case hex without colons."""
    return fp.replace(":", "").strip().lower()


class Accounts:
    """Every account, in memory and in the store (see the module docstring).

    ``run_password`` runs a blocking function on the password pool and
    returns a Deferred; ``rounds`` is the bcrypt cost of new hashes.
    """

    def __init__(self, store: Store, clock: Any, run_password: Callable[..., defer.Deferred],
                 rounds: int = DEFAULT_ROUNDS) -> None:
        self.store = store
        self.clock = clock
        self.run_password = run_password
        self.rounds = rounds
        self.backoff = Backoff(clock)
        self.pending = 0
        self._per_ip: dict[str, int] = {}
        self._by_name: dict[str, Account] = {}
        self._by_fp: dict[str, str] = {}
        self._reserved: set[str] = set()  # names being registered (hash under way)

    # -- loading -----------------------------------------------------------------

    def start(self) -> defer.Deferred:
        """Migrate the tables and load every account; fires with the count."""
        d = self.store.migrate("accounts", MIGRATIONS)
        d.addCallback(lambda _: self.store.read(_load_all))
        d.addCallback(self._loaded)
        return d

    def _loaded(self, accounts: list[Account]) -> int:
        self._by_name = {a.key: a for a in accounts}
        self._by_fp = {fp: a.key for a in accounts for fp in a.certfps}
        return len(accounts)

    # -- queries -----------------------------------------------------------------

    def get(self, name: str) -> Account | None:
        """The account named ``name`` (case-insensitive), or None."""
        return self._by_name.get(fold(name))

    def by_certfp(self, fp: str) -> Account | None:
        """The account holding certificate fingerprint ``fp`` (hex, colons optional), or None."""
        key = self._by_fp.get(normalize_fp(fp))
        return self._by_name.get(key) if key is not None else None

    def __len__(self) -> int:
        return len(self._by_name)

    # -- changes -----------------------------------------------------------------

    def register(self, name: str, password: str, email: str | None = None) -> defer.Deferred:
        """Create account ``name``; fires with the :class:`Account` once committed (AccountError if taken)."""
        key = fold(name)
        if key in self._by_name or key in self._reserved:
            return defer.fail(AccountError(f"{name} is already registered"))
        self._reserved.add(key)
        now = int(self.clock.seconds())
        d = self.run_password(hash_account_password, password, self.rounds)

        def store(hashed: str) -> defer.Deferred:
            account = Account(name, hashed, email, now)
            return self.store.run(_insert, account).addCallback(lambda _: account)

        def done(account: Account) -> Account:
            self._by_name[key] = account
            return account

        def release(result: Any) -> Any:
            self._reserved.discard(key)
            return result

        d.addCallback(store)
        d.addCallback(done)
        d.addBoth(release)
        d.addErrback(_integrity, f"{name} is already registered")
        return d

    def verify_password(self, name: str, password: str, ip: str | None = None) -> defer.Deferred:
        """Check ``password`` for account ``name``: fires with the canonical account name or None.

        After a few failures, attempts for the account and from the address
        ``ip`` wait (doubling, bounded) before they are checked; an unknown
        name costs a check against a dummy hash.  Fails with
        :class:`TryAgain` when too many checks are under way (in all, or
        from ``ip``).
        """
        if ip in ("0", "*", "255.255.255.255"):
            ip = None  # a user elsewhere whose address is hidden: no address to count against
        if self.pending >= MAX_PENDING_CHECKS or (ip and self._per_ip.get(ip, 0) >= MAX_CHECKS_PER_IP):
            return defer.fail(TryAgain("Services are busy checking passwords; try again in a moment"))
        keys = [f"name:{fold(name)}"] + ([f"ip:{ip}"] if ip else [])
        wait = self.backoff.remaining(keys)
        self.pending += 1
        if ip:
            self._per_ip[ip] = self._per_ip.get(ip, 0) + 1
        d = task.deferLater(self.clock, wait, lambda: None) if wait > 0 else defer.succeed(None)

        def check(_: Any) -> defer.Deferred:
            account = self.get(name)
            stored = account.password if account is not None else None
            return self.run_password(check_password, password, stored, self.rounds).addCallback(
                lambda ok: account.name if ok and account is not None and self.get(name) is account else None)

        def done(result: Any) -> Any:
            self.pending -= 1
            if ip:
                left = self._per_ip.get(ip, 1) - 1
                if left > 0:
                    self._per_ip[ip] = left
                else:
                    self._per_ip.pop(ip, None)
            if isinstance(result, str):
                self.backoff.succeeded(keys)
            elif result is None:
                self.backoff.book(keys)
            return result

        d.addCallback(check)
        d.addBoth(done)
        return d

    def _update(self, account: Account, func: Callable[..., Any], *args: Any) -> defer.Deferred:
        """Run ``func(conn, account.key, *args)`` in one transaction; fires with ``account``."""
        return self.store.run(func, account.key, *args).addCallback(lambda _: account)

    def set_password(self, account: Account, password: str) -> defer.Deferred:
        """Replace the password (hashed off the reactor); fires once committed."""
        d = self.run_password(hash_account_password, password, self.rounds)

        def store(hashed: str) -> defer.Deferred:
            def changed(acc: Account) -> Account:
                acc.password = hashed
                return acc
            return self._update(account, _set_column, "password", hashed).addCallback(changed)

        return d.addCallback(store)

    def set_email(self, account: Account, email: str | None) -> defer.Deferred:
        """Set or clear (None) the e-mail address."""
        def changed(acc: Account) -> Account:
            acc.email = email
            return acc
        return self._update(account, _set_column, "email", email).addCallback(changed)

    def set_enforce(self, account: Account, on: bool) -> defer.Deferred:
        """Switch nick enforcement on or off."""
        def changed(acc: Account) -> Account:
            acc.enforce = on
            return acc
        return self._update(account, _set_column, "enforce", 1 if on else 0).addCallback(changed)

    def seen(self, account: Account) -> defer.Deferred:
        """Record a login now."""
        now = int(self.clock.seconds())

        def changed(acc: Account) -> Account:
            acc.last_seen = now
            return acc
        return self._update(account, _set_column, "last_seen", now).addCallback(changed)

    def add_certfp(self, account: Account, fp: str) -> defer.Deferred:
        """Add a certificate fingerprint (AccountError if another account holds it or the list is full)."""
        fp = normalize_fp(fp)
        holder = self._by_fp.get(fp)
        if holder is not None:
            return defer.fail(AccountError(
                "That fingerprint is already on your list" if holder == account.key
                else "That fingerprint belongs to another account"))
        if len(account.certfps) >= MAX_CERTFPS:
            return defer.fail(AccountError(f"Your fingerprint list is full ({MAX_CERTFPS})"))
        self._by_fp[fp] = account.key  # held while it commits

        def changed(acc: Account) -> Account:
            acc.certfps.add(fp)
            return acc

        def failed(failure: Any) -> Any:
            if self._by_fp.get(fp) == account.key and fp not in account.certfps:
                del self._by_fp[fp]
            return failure

        d = self._update(account, _add_certfp, fp).addCallbacks(changed, failed)
        return d.addErrback(_integrity, "That fingerprint belongs to another account")

    def del_certfp(self, account: Account, fp: str) -> defer.Deferred:
        """Remove a fingerprint from the account (AccountError if it is not there)."""
        fp = normalize_fp(fp)
        if fp not in account.certfps:
            return defer.fail(AccountError("That fingerprint is not on your list"))

        def changed(acc: Account) -> Account:
            acc.certfps.discard(fp)
            self._by_fp.pop(fp, None)
            return acc
        return self._update(account, _del_certfp, fp).addCallback(changed)

    def add_access(self, account: Account, mask: str) -> defer.Deferred:
        """Add a ``user@host`` mask to the access list."""
        if any(fold(m) == fold(mask) for m in account.access):
            return defer.fail(AccountError(f"{mask} is already on your access list"))
        if len(account.access) >= MAX_ACCESS:
            return defer.fail(AccountError(f"Your access list is full ({MAX_ACCESS})"))

        def changed(acc: Account) -> Account:
            acc.access.append(mask)
            return acc
        return self._update(account, _add_access, mask).addCallback(changed)

    def del_access(self, account: Account, mask: str) -> defer.Deferred:
        """Remove a mask from the access list."""
        found = [m for m in account.access if fold(m) == fold(mask)]
        if not found:
            return defer.fail(AccountError(f"{mask} is not on your access list"))

        def changed(acc: Account) -> Account:
            for m in found:
                acc.access.remove(m)
            return acc
        return self._update(account, _del_access, found[0]).addCallback(changed)

    def drop(self, name: str) -> defer.Deferred:
        """Delete account ``name`` with its fingerprints and access list; fires with the dropped account."""
        account = self.get(name)
        if account is None:
            return defer.fail(AccountError(f"{name} is not registered"))

        def gone(acc: Account) -> Account:
            if self._by_name.get(acc.key) is acc:
                del self._by_name[acc.key]
            for fp in acc.certfps:
                self._by_fp.pop(fp, None)
            return acc
        return self._update(account, _delete).addCallback(gone)


def _integrity(failure: Any, sentence: str) -> Any:
    """A uniqueness violation as the user's sentence."""
    failure.trap(sqlite3.IntegrityError)
    raise AccountError(sentence)


# -- SQL, run on the store's worker -------------------------------------------------


def _load_all(conn: sqlite3.Connection) -> list[Account]:
    accounts: dict[str, Account] = {}
    for row in conn.execute("SELECT folded, name, password, email, registered, enforce, last_seen FROM accounts"):
        accounts[row["folded"]] = Account(row["name"], row["password"], row["email"], row["registered"],
                                          bool(row["enforce"]), row["last_seen"])
    for row in conn.execute("SELECT fp, account FROM certfps"):
        if row["account"] in accounts:
            accounts[row["account"]].certfps.add(row["fp"])
    for row in conn.execute("SELECT account, mask FROM access ORDER BY rowid"):
        if row["account"] in accounts:
            accounts[row["account"]].access.append(row["mask"])
    return list(accounts.values())


def _insert(conn: sqlite3.Connection, account: Account) -> None:
    conn.execute("INSERT INTO accounts (folded, name, password, email, registered, enforce) "
                 "VALUES (?, ?, ?, ?, ?, ?)",
                 (account.key, account.name, account.password, account.email, account.registered,
                  1 if account.enforce else 0))


_COLUMNS = frozenset({"password", "email", "enforce", "last_seen"})


def _set_column(conn: sqlite3.Connection, key: str, column: str, value: Any) -> None:
    assert column in _COLUMNS
    conn.execute(f"UPDATE accounts SET {column} = ? WHERE folded = ?", (value, key))


def _add_certfp(conn: sqlite3.Connection, key: str, fp: str) -> None:
    conn.execute("INSERT INTO certfps (fp, account) VALUES (?, ?)", (fp, key))


def _del_certfp(conn: sqlite3.Connection, key: str, fp: str) -> None:
    conn.execute("DELETE FROM certfps WHERE fp = ? AND account = ?", (fp, key))


def _add_access(conn: sqlite3.Connection, key: str, mask: str) -> None:
    conn.execute("INSERT OR IGNORE INTO access (account, mask) VALUES (?, ?)", (key, mask))


def _del_access(conn: sqlite3.Connection, key: str, mask: str) -> None:
    conn.execute("DELETE FROM access WHERE account = ? AND mask = ?", (key, mask))


def _delete(conn: sqlite3.Connection, key: str) -> None:
    conn.execute("DELETE FROM accounts WHERE folded = ?", (key,))
