# -*- test-case-name: tests.unit.test_mkpasswd -*-
"""Password hashing for operator (and later services) passwords.

Passwords are stored only as bcrypt hashes.  Hashing is deliberately slow:
code running on the reactor thread should call :func:`hash_password` and
:func:`verify_password` off the reactor thread: logins use the small
:class:`PasswordPool` of their own, so a flood of guesses never delays a
config save on the reactor's pool.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable
from typing import Any

import bcrypt
from twisted.application.service import Service
from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.threads import deferToThreadPool
from twisted.python.threadpool import ThreadPool

#: Cost factor used in production.  Tests pass a lower value.
DEFAULT_ROUNDS = 12

#: bcrypt accepts at most this many bytes of password.
MAX_PASSWORD_BYTES = 72

#: Longest services account password.  bcrypt reads only 72 bytes, so a
#: longer one is hashed whole with SHA-256 first (every byte counts).
MAX_ACCOUNT_PASSWORD_BYTES = 400

_BCRYPT_RE = re.compile(r"^\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}$")


def looks_hashed(value: str) -> bool:
    """Return True if *value* is a bcrypt hash (``$2b$``, ``$2a$`` or ``$2y$``)."""
    return bool(_BCRYPT_RE.match(value))


def check_plaintext(plain: str) -> None:
    """Raise ValueError with a readable reason if *plain* cannot be a password."""
    if not plain:
        raise ValueError("password must not be empty")
    if len(plain.encode("utf-8")) > MAX_PASSWORD_BYTES:
        raise ValueError(f"password is longer than {MAX_PASSWORD_BYTES} bytes")


def hash_password(plain: str, rounds: int = DEFAULT_ROUNDS) -> str:
    """Return a bcrypt hash of *plain* with cost factor *rounds*."""
    check_plaintext(plain)
    salt = bcrypt.gensalt(rounds)
    return bcrypt.hashpw(plain.encode("utf-8"), salt).decode("ascii")


def _secret(data: bytes) -> bytes:
    """What bcrypt sees: the password itself, or base64(SHA-256) of one past 72 bytes."""
    if len(data) <= MAX_PASSWORD_BYTES:
        return data
    return base64.b64encode(hashlib.sha256(data).digest())


def hash_account_password(plain: str, rounds: int = DEFAULT_ROUNDS) -> str:
    """Return a bcrypt hash of a services account password of up to 400 bytes."""
    if not plain:
        raise ValueError("password must not be empty")
    data = plain.encode("utf-8")
    if len(data) > MAX_ACCOUNT_PASSWORD_BYTES:
        raise ValueError(f"password is longer than {MAX_ACCOUNT_PASSWORD_BYTES} bytes")
    return bcrypt.hashpw(_secret(data), bcrypt.gensalt(rounds)).decode("ascii")


def verify_password(plain: str, stored: str) -> bool:
    """Return True if *plain* matches the bcrypt hash *stored*.

    Anything that is not a well-formed hash never matches.
    """
    if not looks_hashed(stored):
        return False
    try:
        data = plain.encode("utf-8")
    except UnicodeError:
        return False
    if len(data) > MAX_ACCOUNT_PASSWORD_BYTES:
        return False
    try:
        return bcrypt.checkpw(_secret(data), stored.encode("ascii"))
    except ValueError:
        return False


#: Threads of the password pool: enough for two logins at once, never
#: enough to starve the reactor's own pool (config saves, key generation).
POOL_THREADS = 2


class PasswordPool(Service):
    """A small thread pool of its own for bcrypt checks, started and stopped with the server.

    :meth:`run` returns a Deferred.  Work handed in before the pool starts
    waits for it; on a reactor without threads (``task.Clock`` in tests)
    the work runs at once.
    """

    name = "password-pool"

    def __init__(self, reactor: Any, threads: int = POOL_THREADS) -> None:
        self.reactor = reactor
        self.pool = ThreadPool(minthreads=0, maxthreads=threads, name="conferenceroom-passwords")

    def run(self, func: Callable[..., Any], *args: Any) -> Deferred:
        """Run the blocking ``func(*args)`` on the pool; the Deferred fires with its result."""
        if not hasattr(self.reactor, "callFromThread"):
            return maybeDeferred(func, *args)
        return deferToThreadPool(self.reactor, self.pool, func, *args)

    def startService(self) -> None:
        """Start the threads."""
        super().startService()
        self.pool.start()

    def stopService(self) -> None:
        """Let running checks finish and stop the threads."""
        super().stopService()
        self.pool.stop()
