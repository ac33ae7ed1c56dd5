# -*- test-case-name: tests.unit.test_operauth -*-
"""Operator logins, shared by OPER and the SSH manhole.

One :class:`OperAuthenticator` decides every operator login the same way,
whatever went wrong, so a client cannot tell an unknown name from a wrong
password, a wrong host, a disabled entry or a TLS-only entry:

* an attempt is checked with one bcrypt check (against a dummy hash of the
  same cost when the name is unknown), on the dedicated password pool;
* past a few free attempts, the :class:`Backoff` of the address and of the
  name spaces checked attempts out, each doubling the wait (bounded); a
  success clears both.  An attempt from an address in its back-off is not
  checked at all: it is refused when the wait is over (right password or
  not), so guessing faster costs the server a timer, never a queued bcrypt
  check.  An attempt from an address with no back-off of its own waits for
  the name's back-off and is then checked, so guesses at a name from
  elsewhere cannot lock its operator out;
* at most ``MAX_CHECKING`` checks run or wait on the pool at once: beyond
  that an attempt is told to try again (263), whatever its name;
* the caller gets only "accepted" or "refused"; the real reason goes to the
  server log and to operators with +s.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from twisted.internet import defer, task
from twisted.logger import Logger

from .admin.settings import OperEntry
from .casemap import fold, match
from .passwords import DEFAULT_ROUNDS, hash_password, verify_password

log = Logger()

#: Attempts (per address and per name) that never wait.
FREE_ATTEMPTS = 5
#: The first wait after the free attempts, doubled by each further attempt.
BASE_DELAY = 1.0
#: The longest wait.
MAX_DELAY = 60.0
#: An address or name with no attempt for this long is forgotten.
FORGET_AFTER = 900.0
#: At most this many addresses and names are remembered (oldest dropped).
MAX_KEYS = 10_000
#: Attempts waiting (for a back-off or a check) at once; more are told to try again.
MAX_PENDING = 64
#: bcrypt checks running or queued on the password pool at once; more are told to try again.
MAX_CHECKING = 4


def _cost_of(stored: str) -> int:
    """The bcrypt cost of hash ``stored`` (the default when unreadable)."""
    try:
        return int(stored.split("$")[2])
    except (IndexError, ValueError):
        return DEFAULT_ROUNDS


@lru_cache(maxsize=8)
def dummy_hash(rounds: int) -> str:
    """A bcrypt hash of cost ``rounds`` of a random secret nobody knows (made once per cost). Blocking."""
    return hash_password(secrets.token_urlsafe(24), rounds=rounds)


def check_password(password: str, stored: str | None, rounds: int) -> bool:
    """bcrypt-check ``password`` against ``stored``, or against a dummy hash of cost ``rounds``. Blocking."""
    if stored is None:
        verify_password(password, dummy_hash(rounds))
        return False
    return verify_password(password, stored)


def entry_refusal(entry: OperEntry | None, who: Sequence[str], secure: bool, need: str = "") -> str | None:
    """Why ``entry`` may not be used (None: it may, given the right password).

    ``who`` are the ``user@host`` forms of the client (matched against the
    access masks); ``secure`` tells whether the connection is encrypted;
    ``need`` lists flags of which the entry must hold one.
    """
    if entry is None:
        return "no such operator name"
    if entry.disabled:
        return "operator entry is disabled (flag d)"
    if entry.has_flag("e") and not secure:
        return "operator entry requires a TLS connection (flag e)"
    if entry.access and not any(match(mask, w) for mask in entry.access for w in who):
        return "host does not match the operator entry"
    if need and not any(entry.has_flag(f) for f in need):
        return f"operator entry lacks flag {' or '.join(need)}"
    return None


@dataclass
class _Record:
    attempts: int = 0  # attempts since the last success (in flight ones included)
    ready: float = 0.0  # the next attempt may not start before this time
    last: float = 0.0


class Backoff:
    """Exponential, bounded waits between login attempts per key (an address, a name).

    Every attempt counts from the moment it is booked, so attempts made in
    parallel (many connections) queue behind each other rather than all
    running at once.
    """

    def __init__(self, clock: Any, free: int = FREE_ATTEMPTS, base: float = BASE_DELAY,
                 cap: float = MAX_DELAY, forget: float = FORGET_AFTER, max_keys: int = MAX_KEYS) -> None:
        self.clock = clock
        self.free, self.base, self.cap, self.forget, self.max_keys = free, base, cap, forget, max_keys
        self._records: OrderedDict[str, _Record] = OrderedDict()

    def spacing(self, attempts: int) -> float:
        """The wait after ``attempts`` attempts without a success."""
        if attempts < self.free:
            return 0.0
        return min(self.cap, self.base * 2 ** min(attempts - self.free, 32))

    def _prune(self, now: float) -> None:
        records = self._records
        while records:
            key, record = next(iter(records.items()))
            if now - record.last < self.forget and len(records) <= self.max_keys:
                break
            del records[key]

    def book(self, keys: Iterable[str]) -> float:
        """Book an attempt for ``keys``; return the seconds it must wait first."""
        now = self.clock.seconds()
        self._prune(now)
        records = []
        for key in keys:
            record = self._records.pop(key, None) or _Record()
            self._records[key] = record  # most recently used last
            records.append(record)
        start = max([now, *(r.ready for r in records)])
        for record in records:
            record.attempts += 1
            record.last = start
            record.ready = start + self.spacing(record.attempts)
        self._prune(now)
        return start - now

    def succeeded(self, keys: Iterable[str]) -> None:
        """Forget the attempts of ``keys``: the login was right."""
        for key in keys:
            self._records.pop(key, None)

    def waiting(self, key: str) -> float:
        """Seconds before the next attempt for ``key`` may start (0: now)."""
        record = self._records.get(key)
        return max(0.0, record.ready - self.clock.seconds()) if record else 0.0

    def remaining(self, keys: Iterable[str]) -> float:
        """Seconds before an attempt for all of ``keys`` may start (0: now); an attempt
        refused meanwhile keeps the keys remembered but does not move the wait."""
        now = self.clock.seconds()
        wait = 0.0
        for key in keys:
            record = self._records.get(key)
            if record is not None:
                record.last = max(record.last, now)
                wait = max(wait, record.ready - now)
        return wait


@dataclass(frozen=True)
class LoginResult:
    """The outcome of one login: ``entry`` when accepted, else the reason (never shown to the client).

    ``needs_tls`` is True only when the right password was given and the
    entry's flag e (TLS only) is all that stands in the way: the one refusal
    a client may be told about, since it already knows the password.
    """

    entry: OperEntry | None
    reason: str | None
    needs_tls: bool = False

    @property
    def accepted(self) -> bool:
        """True if the login is accepted."""
        return self.reason is None


class TryAgain(Exception):
    """Too many password checks are pending: the client should try later."""


class OperAuthenticator:
    """Decides operator logins for OPER and the manhole (see the module docstring).

    ``get_settings`` returns the settings in force; ``run_check`` runs a
    blocking function on the password pool and returns a Deferred.
    """

    def __init__(self, clock: Any, get_settings: Callable[[], Any],
                 run_check: Callable[..., defer.Deferred], backoff: Backoff | None = None) -> None:
        self.clock = clock
        self.get_settings = get_settings
        self.run_check = run_check
        self.backoff = backoff or Backoff(clock)
        self.pending = 0  # attempts not yet answered
        self.checking = 0  # of which bcrypt checks handed to the pool

    def dummy_rounds(self) -> int:
        """The bcrypt cost for unknown names: the highest cost among the oper entries."""
        costs = [_cost_of(e.password_hash) for e in self.get_settings().opers.values()]
        return max(costs, default=DEFAULT_ROUNDS)

    def login(self, name: str, password: str, ip: str, who: Sequence[str], secure: bool,
              need: str = "") -> defer.Deferred:
        """Check a login; fires with a :class:`LoginResult` (fails with :class:`TryAgain` when overloaded)."""
        if self.pending >= MAX_PENDING:
            return defer.fail(TryAgain())
        keys = (f"ip:{ip}", f"name:{fold(name)}")
        address_wait = self.backoff.remaining(keys[:1])
        wait = max(address_wait, self.backoff.remaining(keys[1:]))
        self.pending += 1
        if address_wait > 0:
            # This address is in its back-off: nothing is checked, the same refusal once the wait is over.
            refused = LoginResult(None, "refused unchecked during the back-off of this address")
            d = task.deferLater(self.clock, wait, lambda: refused)
        elif wait > 0:
            # Only the name is in its back-off: a clean address is checked once it is over.
            d = task.deferLater(self.clock, wait, lambda: None)
            d.addCallback(lambda _: self._checked(keys, name, password, who, secure, need))
        else:
            d = self._checked(keys, name, password, who, secure, need)

        def done(result: Any) -> Any:
            self.pending -= 1
            if isinstance(result, LoginResult) and result.accepted:
                self.backoff.succeeded(keys)
            return result

        return d.addBoth(done)

    def _checked(self, keys: tuple[str, str], name: str, password: str, who: Sequence[str], secure: bool,
                 need: str) -> defer.Deferred:
        """Book the attempt and run its check (TryAgain when ``MAX_CHECKING`` checks are under way)."""
        if self.checking >= MAX_CHECKING:
            return defer.fail(TryAgain())
        self.backoff.book(keys)
        self.checking += 1
        d = defer.maybeDeferred(self._check, name, password, who, secure, need)

        def checked(result: Any) -> Any:
            self.checking -= 1
            return result

        return d.addBoth(checked)

    def _check(self, name: str, password: str, who: Sequence[str], secure: bool, need: str) -> defer.Deferred:
        entry = self.get_settings().oper(name)
        stored = entry.password_hash if entry is not None else None
        d = self.run_check(check_password, password, stored, self.dummy_rounds())

        def decide(ok: bool) -> LoginResult:
            # The entry's rules are checked after the password, so every
            # refusal costs the same bcrypt check.
            if entry is not None and not ok:
                refusal: str | None = "wrong password"
            else:
                refusal = entry_refusal(entry, who, secure, need)
            needs_tls = (ok and refusal is not None and not secure
                         and entry_refusal(entry, who, True, need) is None)
            return LoginResult(entry if refusal is None else None, refusal, needs_tls)

        return d.addCallback(decide)
