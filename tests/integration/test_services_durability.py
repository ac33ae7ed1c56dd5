"""
Durability of services data on a real process: bursts of REGISTER over
real connections, the server killed with SIGKILL while they run (5 rounds),
and after each restart every registration that was acknowledged to its
user is there.  Also: data survives a clean restart and the database is in
WAL mode with the schema versions recorded.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import time

from tests.integration.ircclient import unique_nick

ROUNDS = 5
CLIENTS = 12
NICKS_PER_CLIENT = 4
ACK = " is now registered to you."


def _acks(messages) -> set[str]:
    """The nicks NickServ acknowledged as registered in ``messages``."""
    return {m.trailing.split(ACK)[0] for m in messages
            if m.command == "NOTICE" and m.nick == "NickServ" and ACK in (m.trailing or "")}


def _burst(srv, round_no: int):
    """Clients that each pipeline REGISTER, LOGOUT, NICK ... for several nicks; returns (clients, nicks)."""
    clients = []
    for i in range(CLIENTS):
        c = srv.client(f"k{round_no}-{i}")
        first = unique_nick(f"d{round_no}")
        c.register(first)
        clients.append(c)
    for c in clients:
        lines = []
        nick = c.nick
        for n in range(NICKS_PER_CLIENT):
            if n:
                nick = unique_nick(f"d{round_no}")
                lines += ["PRIVMSG NickServ :LOGOUT", f"NICK {nick}"]
            lines.append("PRIVMSG NickServ :REGISTER durable1")
        c.send_raw(("\r\n".join(lines) + "\r\n").encode())
    return clients


def _info(client, nick) -> str:
    client.send(f"PRIVMSG NickServ :INFO {nick}")
    reply = client.expect(lambda m: m.command == "NOTICE" and m.nick == "NickServ"
                          and (m.trailing.startswith(f"{nick} is") or m.trailing.startswith(f"{nick} is not")))
    return reply.trailing


def test_acknowledged_registrations_survive_kill_9(irc_server):
    """5 rounds: a burst of REGISTERs, SIGKILL after a random short delay; every acknowledged nick is
    registered after the restart (and the log has no traceback)."""
    srv = irc_server(services=True)
    rng = random.Random(20261202)
    acknowledged: set[str] = set()
    for round_no in range(ROUNDS):
        clients = _burst(srv, round_no)
        time.sleep(rng.uniform(0.02, 0.25))
        os.kill(srv.pid, signal.SIGKILL)
        for c in clients:
            acknowledged |= _acks(c.drain(0.3))
        srv.kill()  # reaps the dead process, closes the sockets
        srv.start(write_config=False)
        checker = srv.client("checker")
        checker.register(unique_nick("chk"))
        missing = [nick for nick in sorted(acknowledged) if "is registered since" not in _info(checker, nick)]
        assert not missing, f"round {round_no}: acknowledged but lost: {missing}"
        checker.close()
    assert len(acknowledged) >= ROUNDS, f"too few registrations were acknowledged: {len(acknowledged)}"


def test_data_survives_a_clean_restart_and_uses_wal(irc_server):
    """A registration and a memo survive a restart; services.db is in WAL mode with schema versions."""
    srv = irc_server(services=True)
    a = srv.client("a")
    nick = unique_nick("rs")
    a.register(nick)
    a.send("PRIVMSG NickServ :REGISTER restart1")
    a.expect(lambda m: m.command == "NOTICE" and "You are now identified" in m.trailing)
    a.send(f"PRIVMSG MemoServ :SEND {nick} note to self")
    a.expect(lambda m: m.command == "NOTICE" and m.trailing == f"Memo sent to {nick}.")
    srv.restart()
    b = srv.client("b")
    b.register(unique_nick("rb"))
    b.send(f"PRIVMSG NickServ :IDENTIFY {nick} restart1")
    b.expect(lambda m: m.command == "NOTICE" and m.trailing == f"You are now identified for {nick}.")
    b.expect(lambda m: m.command == "NOTICE" and m.trailing.startswith("You have 1 new memo"))
    db = sqlite3.connect(srv.directory / "data" / "services.db")
    try:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        versions = dict(db.execute("SELECT component, version FROM schema_versions"))
        assert versions["accounts"] >= 3 and versions["memos"] >= 1
    finally:
        db.close()
