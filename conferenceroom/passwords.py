# -*- test-case-name: tests.unit.test_mkpasswd -*-
"""Password hashing for operator (and later services) passwords.

Passwords are stored only as bcrypt hashes.  Hashing is deliberately slow:
code running on the reactor thread should call :func:`hash_password` and
:func:`verify_password` through ``deferToThread``.
"""

from __future__ import annotations

import re

import bcrypt

#: Cost factor used in production.  Tests pass a lower value.
DEFAULT_ROUNDS = 12

#: bcrypt accepts at most this many bytes of password.
MAX_PASSWORD_BYTES = 72

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
    if len(data) > MAX_PASSWORD_BYTES:
        return False
    try:
        return bcrypt.checkpw(data, stored.encode("ascii"))
    except ValueError:
        return False
