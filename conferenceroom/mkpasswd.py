# -*- test-case-name: tests.unit.test_mkpasswd -*-
"""Print a password hash for the config file.

Usage::

    python -m conferenceroom.mkpasswd [password] [--rounds N]

Without a password argument it prompts twice on a terminal, or reads one line
from standard input when that is not a terminal.  The hash goes to standard
output, so it can be pasted into ``oper <name> add <hash> <flags>``.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Sequence, TextIO

from conferenceroom.passwords import DEFAULT_ROUNDS, check_plaintext, hash_password


def _read_password(stdin: TextIO, stderr: TextIO) -> str:
    if stdin.isatty():
        first = getpass.getpass("Password: ")
        second = getpass.getpass("Again: ")
        if first != second:
            raise ValueError("passwords do not match")
        return first
    line = stdin.readline()
    return line.rstrip("\r\n")


def main(
    argv: Sequence[str] | None = None,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Run the tool; return the process exit status."""
    stdin = sys.stdin if stdin is None else stdin
    stdout = sys.stdout if stdout is None else stdout
    stderr = sys.stderr if stderr is None else stderr
    parser = argparse.ArgumentParser(
        prog="python -m conferenceroom.mkpasswd",
        description="Print a bcrypt hash of a password for the conferenceroom config file.",
    )
    parser.add_argument("password", nargs="?", help="the password (prompted for when omitted)")
    parser.add_argument(
        "--rounds", type=int, default=DEFAULT_ROUNDS,
        help=f"bcrypt cost factor, 4..31 (default {DEFAULT_ROUNDS})",
    )
    args = parser.parse_args(argv)
    if not 4 <= args.rounds <= 31:
        print("mkpasswd: --rounds must be between 4 and 31", file=stderr)
        return 2
    try:
        plain = args.password if args.password is not None else _read_password(stdin, stderr)
        check_plaintext(plain)
    except (ValueError, EOFError, KeyboardInterrupt) as exc:
        print(f"mkpasswd: {exc or 'no password given'}", file=stderr)
        return 1
    print(hash_password(plain, rounds=args.rounds), file=stdout)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
