"""Tests for conferenceroom.passwords and python -m conferenceroom.mkpasswd."""

from __future__ import annotations

import io

import bcrypt
import pytest

from conferenceroom import mkpasswd
from conferenceroom.passwords import hash_account_password, hash_password, looks_hashed, verify_password


def test_hash_and_verify():
    """A hash verifies its own password and no other."""
    stored = hash_password("pässword", rounds=4)
    assert looks_hashed(stored) and stored.startswith("$2b$04$")
    assert verify_password("pässword", stored)
    assert not verify_password("password", stored)


def test_default_rounds_is_12():
    """Production hashes use cost 12."""
    assert hash_password.__defaults__ == (12,)


@pytest.mark.parametrize("value", ["secret", "", "$2b$", "$2b$04$short", "$1$abc$def", "x" * 60])
def test_looks_hashed_rejects_non_hashes(value):
    """Plain text and other hash formats do not look hashed."""
    assert not looks_hashed(value)


def test_verify_rejects_garbage():
    """verify_password is False (never an exception) for bad stored values or huge input."""
    stored = hash_password("a", rounds=4)
    assert not verify_password("a", "not-a-hash")
    assert not verify_password("x" * 100, stored)


@pytest.mark.parametrize("bad", ["", "x" * 73])
def test_hash_rejects_bad_plaintext(bad):
    """Empty passwords and passwords over 72 bytes are refused."""
    with pytest.raises(ValueError):
        hash_password(bad, rounds=4)


def test_account_passwords_past_72_bytes_are_whole():
    """Account passwords up to 400 bytes hash and verify; every byte counts, not only bcrypt's first 72."""
    long = "p" * 72 + "tail-one"
    stored = hash_account_password(long, rounds=4)
    assert verify_password(long, stored)
    assert not verify_password("p" * 72 + "tail-two", stored)
    assert not verify_password("p" * 72, stored)
    short = hash_account_password("hunter2", rounds=4)
    assert verify_password("hunter2", short) and bcrypt.checkpw(b"hunter2", short.encode())
    with pytest.raises(ValueError):
        hash_account_password("x" * 401, rounds=4)


class _Pipe(io.StringIO):
    def isatty(self):
        return False


def _run(argv, stdin_text=""):
    out, err = io.StringIO(), io.StringIO()
    rc = mkpasswd.main(argv, stdin=_Pipe(stdin_text), stdout=out, stderr=err)
    return rc, out.getvalue(), err.getvalue()


def test_mkpasswd_argument():
    """The password may be given as an argument; one hash is printed."""
    rc, out, _ = _run(["--rounds", "4", "hunter2"])
    assert rc == 0
    lines = out.splitlines()
    assert len(lines) == 1 and verify_password("hunter2", lines[0])


def test_mkpasswd_stdin():
    """Without an argument and without a tty, one line is read from stdin."""
    rc, out, _ = _run(["--rounds", "4"], "from-stdin\nignored\n")
    assert rc == 0 and verify_password("from-stdin", out.strip())


def test_mkpasswd_tty_prompts(monkeypatch):
    """On a tty it prompts twice with getpass and refuses a mismatch."""
    class Tty(io.StringIO):
        def isatty(self):
            return True

    answers = iter(["pw1", "pw1", "pw1", "pw2"])
    monkeypatch.setattr(mkpasswd.getpass, "getpass", lambda prompt: next(answers))
    out, err = io.StringIO(), io.StringIO()
    assert mkpasswd.main(["--rounds", "4"], stdin=Tty(), stdout=out, stderr=err) == 0
    assert verify_password("pw1", out.getvalue().strip())
    out2 = io.StringIO()
    assert mkpasswd.main(["--rounds", "4"], stdin=Tty(), stdout=out2, stderr=err) == 1
    assert out2.getvalue() == "" and "do not match" in err.getvalue()


def test_mkpasswd_empty_input():
    """Empty input prints no hash and exits 1."""
    rc, out, err = _run(["--rounds", "4"], "")
    assert rc == 1 and out == "" and "empty" in err


def test_mkpasswd_bad_rounds():
    """An out-of-range cost factor is refused."""
    rc, out, err = _run(["--rounds", "3", "x"])
    assert rc == 2 and out == ""
