# -*- test-case-name: tests.unit.test_services_memoserv -*-
"""MemoServ: short messages kept for registered accounts.

Memos are rows of the ``memos`` table (owned here, migrated at start) and
go with their account when it is dropped.  A memo is numbered by its place
in its owner's list (1 the oldest).  The sender must be identified; the
recipient is told at once when logged in anywhere on the network, and at
each login while it has unread memos.
"""

from __future__ import annotations

import sqlite3
import time
from typing import TYPE_CHECKING, Any

from ..casemap import fold
from ..network import User
from .bot import CommandError, Request, ServiceBot

if TYPE_CHECKING:
    from .accounts import Account
    from .host import ServicesHost

#: Memos one account may hold.
MAX_MEMOS = 50
#: Characters of one memo.
MAX_TEXT = 400

MIGRATIONS = [
    """CREATE TABLE memos (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        account TEXT NOT NULL REFERENCES accounts(folded) ON DELETE CASCADE,
        sender TEXT NOT NULL,
        sent INTEGER NOT NULL,
        text TEXT NOT NULL,
        unread INTEGER NOT NULL DEFAULT 1
    );
    CREATE INDEX memos_account ON memos (account, id);""",
]


def setup(host: "ServicesHost") -> ServiceBot:
    """The MemoServ bot and its commands."""
    bot = ServiceBot(host, "MemoServ", "Memo Services", "keeps short messages for registered users")
    ms = MemoServ(host, bot)
    host.memoserv = ms  # type: ignore[attr-defined]
    bot.add("SEND", ms.send, "send a memo to a registered nick", "SEND <nick|account> <text>",
            ("Keeps <text> for the account; its owner is told at once if logged in, else at the next login.",
             f"You must be identified. At most {MAX_TEXT} characters; an account holds at most {MAX_MEMOS} memos."),
            min_args=2)
    bot.add("LIST", ms.list, "list your memos", "LIST", ("Numbers, senders and times; * marks unread memos.",))
    bot.add("READ", ms.read, "read a memo", "READ <number>|NEW", ("NEW reads every unread memo.",), min_args=1)
    bot.add("DEL", ms.delete, "delete a memo", "DEL <number>|ALL", min_args=1)
    host.login_hooks.append(ms.on_login)
    return bot


def start(host: "ServicesHost") -> Any:
    """Create or migrate the memos table."""
    return host.store.migrate("memos", MIGRATIONS)


def _when(seconds: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(seconds))


class MemoServ:
    """MemoServ's command handlers."""

    def __init__(self, host: "ServicesHost", bot: ServiceBot) -> None:
        self.host = host
        self.bot = bot

    def _mine(self, request: Request) -> "Account":
        name = request.user.account
        account = self.host.accounts.get(name) if name else None
        if account is None:
            raise CommandError("You are not identified: /msg NickServ IDENTIFY <password> first.")
        return account

    def send(self, request: Request) -> Any:
        sender = self._mine(request)
        target, text = request.args[0], " ".join(request.args[1:])
        holder = self.host.core.network.find_user(target)
        account = self.host.accounts.get(target)
        if account is None and holder is not None and holder.account:
            account = self.host.accounts.get(holder.account)
        if account is None:
            raise CommandError(f"{target} is not a registered nickname.")
        if len(text) > MAX_TEXT:
            raise CommandError(f"That memo is too long: at most {MAX_TEXT} characters.")
        now = int(self.host.core.clock.seconds())
        d = self.host.store.run(_insert, account.key, sender.name, now, text)

        def done(number: int | None) -> None:
            if number is None:
                request.reply(f"{account.name}'s memo box is full ({MAX_MEMOS} memos); the memo was not sent.")
                return
            request.reply(f"Memo sent to {account.name}.")
            for user in self._online(account):
                self.bot.notice(user, f"You have a new memo ({number}) from {sender.name}. "
                                      f"Type /msg MemoServ READ {number} to read it.")

        return d.addCallback(done)

    def _online(self, account: "Account") -> list[User]:
        return [u for u in self.host.core.network.users_by_uid.values()
                if u.account is not None and fold(u.account) == account.key and u.server is not self.host.server]

    def list(self, request: Request) -> Any:
        account = self._mine(request)

        def show(rows: list[sqlite3.Row]) -> None:
            if not rows:
                request.reply("You have no memos.")
                return
            unread = sum(1 for r in rows if r["unread"])
            request.reply(f"You have {len(rows)} memo{'s' if len(rows) != 1 else ''} ({unread} unread):")
            for number, row in enumerate(rows, 1):
                mark = "*" if row["unread"] else " "
                request.reply(f" {mark}{number}. from {row['sender']} at {_when(row['sent'])}")
            request.reply("Type /msg MemoServ READ <number> to read one.")

        return self.host.store.read(_rows, account.key).addCallback(show)

    def read(self, request: Request) -> Any:
        account = self._mine(request)
        which = request.args[0].upper()
        if which != "NEW" and not (which.isdigit() and int(which) > 0):
            raise CommandError("Syntax: READ <number>|NEW")

        def pick(conn: sqlite3.Connection) -> list[tuple[int, Any]]:
            rows = _rows(conn, account.key)
            if which == "NEW":
                chosen = [(n, r) for n, r in enumerate(rows, 1) if r["unread"]]
            else:
                n = int(which)
                chosen = [(n, rows[n - 1])] if n <= len(rows) else []
            for _, row in chosen:
                conn.execute("UPDATE memos SET unread = 0 WHERE id = ?", (row["id"],))
            return chosen

        def show(chosen: list[tuple[int, Any]]) -> None:
            if not chosen:
                request.reply("You have no new memos." if which == "NEW" else f"You have no memo {which}.")
                return
            for number, row in chosen:
                request.reply(f"Memo {number} from {row['sender']} at {_when(row['sent'])}:")
                request.reply(row["text"])

        return self.host.store.run(pick).addCallback(show)

    def delete(self, request: Request) -> Any:
        account = self._mine(request)
        which = request.args[0].upper()
        if which != "ALL" and not (which.isdigit() and int(which) > 0):
            raise CommandError("Syntax: DEL <number>|ALL")

        def remove(conn: sqlite3.Connection) -> int:
            if which == "ALL":
                return conn.execute("DELETE FROM memos WHERE account = ?", (account.key,)).rowcount
            rows = _rows(conn, account.key)
            n = int(which)
            if n > len(rows):
                return 0
            conn.execute("DELETE FROM memos WHERE id = ?", (rows[n - 1]["id"],))
            return 1

        def done(count: int) -> None:
            if which == "ALL":
                request.reply(f"Deleted {count} memo{'s' if count != 1 else ''}.")
            elif count:
                request.reply(f"Memo {which} deleted; the memos after it moved up one number.")
            else:
                request.reply(f"You have no memo {which}.")

        return self.host.store.run(remove).addCallback(done)

    def on_login(self, user: User, account: "Account") -> None:
        """At a login: tell about unread memos."""
        def tell(count: int) -> None:
            if count and self.host.core.network.users_by_uid.get(user.uid) is user:
                self.bot.notice(user, f"You have {count} new memo{'s' if count != 1 else ''}. "
                                      "Type /msg MemoServ LIST to see them.")

        self.host.store.read(_unread, account.key).addCallback(tell)


def _rows(conn: sqlite3.Connection, key: str) -> list[sqlite3.Row]:
    return conn.execute("SELECT id, sender, sent, text, unread FROM memos WHERE account = ? ORDER BY id",
                        (key,)).fetchall()


def _unread(conn: sqlite3.Connection, key: str) -> int:
    return conn.execute("SELECT count(*) FROM memos WHERE account = ? AND unread = 1", (key,)).fetchone()[0]


def _insert(conn: sqlite3.Connection, key: str, sender: str, now: int, text: str) -> int | None:
    """Add a memo; its number, or None when the box is full."""
    count = conn.execute("SELECT count(*) FROM memos WHERE account = ?", (key,)).fetchone()[0]
    if count >= MAX_MEMOS:
        return None
    conn.execute("INSERT INTO memos (account, sender, sent, text) VALUES (?, ?, ?, ?)", (key, sender, now, text))
    return count + 1
