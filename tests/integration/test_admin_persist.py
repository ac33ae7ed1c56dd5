"""
The configuration an operator makes live survives: a server configured
entirely by ``AS`` is restarted from the file it wrote and is as it was left;
a ``kill -9`` in the middle of a stream of changes leaves a file that loads;
REHASH and ``kill -HUP`` after a hand edit report what changed (a bad line
is reported as file:line and changes nothing) and hand-written comments stay;
a ConferenceRoom ``ConfRoom.conf`` migrates (unsupported families reported
once and kept in the file).
"""

from __future__ import annotations

import os
import re
import signal
import time

import pytest

from tests.integration.adminlive import (
    Operator, attempt, can_connect, command_lines, oper_numeric, refused, run_as, wait_port,
)
from tests.integration.conftest import ADMIN_OPER, REPO_ROOT, free_port
from tests.integration.ircclient import unique_nick

FIXTURE_CONF = REPO_ROOT / "tests" / "fixtures" / "ConfRoom.conf"
HASH = r"\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}"


def _victim(srv, nick, user=None, source=None):
    """A registered client (its welcome burst read)."""
    c, lines = attempt(srv.port, nick, user=user, source=source)
    assert lines[-1].command == "001", [m.raw for m in lines]
    c.drain(0.2)
    return c


# -- restart persistence, comments, REHASH, SIGHUP ------------------------------------------------

OPERATOR_COMMENTS = [
    "",
    "# Hand-written note: the keeper oper is for the night shift.",
    "oper keeper add keeperpw c",
    "# Trailing note at the end of the file.",
]


def test_configured_by_as_survives_restart(irc_server, irc_client):
    """A fresh server configured entirely by AS (name, description, ports,
    TLS, opers with a changed password, bans, server definitions) is stopped
    and started again from the file it wrote: GENERAL LIST, SERVER, OPER,
    SECURITY KLINE/ZLINE LIST answer the same, the new name is in 001, every
    port listens and a removed one does not, OPER works with the new
    password, K-lined and Z-lined clients are refused; the operator's
    comments are still in the file by their lines."""
    srv = irc_server(OPERATOR_COMMENTS)
    op = Operator(srv)
    extra, gone, tls_port = free_port(), free_port(), free_port()
    commands = [
        "GENERAL SET NAME persist.example.net",
        "GENERAL SET DESCRIPTION Configured live",
        "GENERAL SET CONTACT admin@persist.example.net",
        f"GENERAL SET PORTS {srv.port},{extra},{gone}",
        f"GENERAL SET PORTS {srv.port},{extra}",
        f"GENERAL SSL PORT {tls_port}",
        "GENERAL SSL ENABLE",
        "GENERAL SET LEAF",
        "OPER night ADD firstpass gh",
        "OPER night PASSWORD finalpass",
        "OPER night ACCESS ADD *@127.0.0.1",
        "OPER night FLAG ADD s",
        "OPER keeper PASSWORD keeper2",
        "SECURITY KLINE ADD ~persisted@* Stays banned",
        "SECURITY ZLINE ADD 127.0.0.4 Bad host",
        "SECURITY ZLINE ADD 10.66.0.0/16 Bad network",
        "SECURITY AKILL ADD *@*.abuse.example 1w Abuse",
        "SECURITY SET DEFTRIGGER 7",
        "SERVER tenor ADD",
        "SERVER tenor SET NAME tenor.*",
        "SERVER tenor SET SERIAL 101-0001-001",
        "SERVER tenor ENABLE",
        "SERVER alto ADD",
        "SERVER alto SET PASSWORD linkpass",
        "SERVER alto SET HOST 127.0.0.1",  # only loopback: it auto-connects
        "SERVER alto SET PORT 7000",
        "SERVER alto SET AUTO on",
        "SERVICES DISABLE",
    ]
    try:
        for command in commands:
            reply = op(command)
            assert reply and not reply[0].startswith(("Unknown", "Bad", "Missing", "No ")), (command, reply)
        op.notice(f"TLS port {tls_port} open")
        queries = ["GENERAL LIST", "SERVER", "SERVER alto LIST", "OPER", "OPER night LIST",
                   "SECURITY LIST", "SECURITY KLINE LIST", "SECURITY ZLINE LIST", "SERVICES LIST"]
        before = {q: op(q) for q in queries}
        akills = op("SECURITY AKILL LIST")
        text = op.text()
        for secret in ("firstpass", "finalpass", "keeperpw", "keeper2"):
            assert secret not in text
        lines = text.splitlines()
        keeper = next(i for i, l in enumerate(lines) if l.startswith("oper keeper add"))
        assert lines[keeper - 1] == OPERATOR_COMMENTS[1], lines
        assert OPERATOR_COMMENTS[3] in lines
    finally:
        op.close()

    srv.restart()
    op = Operator(srv)
    try:
        after = {q: op(q) for q in before}
        assert after == before
        akills_after = op("SECURITY AKILL LIST")
        assert [re.sub(r"expires in .*\]", "", l) for l in akills_after] == [
            re.sub(r"expires in .*\]", "", l) for l in akills]
        c = irc_client(srv)
        burst = c.register(unique_nick("rs"))
        assert burst[0].source == "persist.example.net", burst[0].raw
        assert oper_numeric(c, "night", "finalpass").command == "381"
        c2 = irc_client(srv, unique_nick("rk"))
        assert oper_numeric(c2, "keeper", "keeperpw").command == "464"
        assert oper_numeric(c2, "keeper", "keeper2").command == "381"
        wait_port(extra)
        x, lines = attempt(extra, unique_nick("rx"))
        x.close()
        assert lines[-1].command == "001"
        wait_port(tls_port)
        t, lines = attempt(tls_port, unique_nick("rt"), tls=True)
        t.close()
        assert lines[-1].command == "001"
        assert not can_connect(gone)
        zlined, lines = attempt(srv.port, unique_nick("rz"), source="127.0.0.4")
        assert refused(lines) and "Banned (Z-line: Bad host)" in lines[-1].trailing, [m.raw for m in lines]
        banned, lines = attempt(srv.port, unique_nick("rb"), user="persisted")
        assert refused(lines) and any("Stays banned (K-line, permanent)" in (m.trailing or "")
                                      for m in lines), [m.raw for m in lines]
        lines = op.text().splitlines()
        keeper = next(i for i, l in enumerate(lines) if l.startswith("oper keeper add"))
        assert lines[keeper - 1] == OPERATOR_COMMENTS[1] and OPERATOR_COMMENTS[3] in lines, lines
    finally:
        op.close()


def test_kill_9_during_a_stream_of_changes_leaves_a_loadable_file(irc_server):
    """A stream of AS changes (each saved at once) with the server killed
    by SIGKILL in the middle leaves a config file that starts the server
    again, holding one of the descriptions of the stream."""
    srv = irc_server()
    op = Operator(srv)
    c = op.client
    for i in range(60):
        c.send(f"AS GENERAL SET DESCRIPTION Change number {i}")
        if i % 10 == 0:
            c.send(f"AS OPER stream{i} ADD streampass{i} h")
    deadline = time.monotonic() + 10
    while "Change number 5" not in srv.config_path.read_text(encoding="utf-8"):
        assert time.monotonic() < deadline, "no change was saved"
        time.sleep(0.01)
    srv.kill()
    op.close()
    srv.start(write_config=False)
    op = Operator(srv)
    try:
        described = next(l for l in op("GENERAL LIST") if l.startswith("  Description: "))
        assert re.fullmatch(r"  Description: Change number \d+", described), described
        assert "  stream0: flags h; access from anywhere" in op("OPER")
        assert "streampass" not in op.text()
    finally:
        op.close()


def test_rehash_and_sighup_report_hand_edits(irc_server, irc_client):
    """After the file is edited by hand, REHASH reports each change (the
    description, a new port, a new oper, a new K-line enforced on a
    connected user); ``kill -HUP`` does the same for the next edit; a bad
    line is reported as file:line and changes nothing; comments written by
    hand are kept when AS saves afterwards."""
    srv = irc_server()
    op = Operator(srv)
    victim = _victim(srv, unique_nick("hv"), user="handban")
    newport = free_port()
    try:
        text = op.text().replace("general set description Test server",
                                 "# described by hand\ngeneral set description Edited by hand")
        text = text.replace(f"general set ports {srv.port}", f"general set ports {srv.port},{newport}")
        text += "oper handmade add handpass h\nsecurity kline add ~handban@* Edited ban\n"
        srv.config_path.write_text(text, encoding="utf-8")
        c = op.client
        c.send("REHASH")
        lines = c.collect(lambda m: m.command == "NOTICE" and "REHASH: " in m.trailing
                          and "opened port" in m.trailing)
        reports = [m.trailing for m in lines if m.command == "NOTICE"] + [
            m.trailing for m in c.drain(0.5) if m.command == "NOTICE"]
        joined = "\n".join(reports)
        assert "set: general set description Edited by hand" in joined, joined
        assert "removed: general set description" not in joined, joined  # a change, not a removal
        assert "set: oper handmade add **** h" in joined and f"opened port {newport}" in joined, joined
        assert "set: security kline add ~handban@*" in joined, joined
        assert any(m.command == "382" for m in lines)
        assert any(m.command == "465" for m in victim.wait_closed()), "K-line not enforced at REHASH"
        assert oper_numeric(irc_client(srv, unique_nick("hm")), "handmade", "handpass").command == "381"
        assert can_connect(newport)
        assert "handpass" not in op.text()  # the plain password was hashed on REHASH

        good = op.text()
        srv.config_path.write_text(good.replace("general set description Edited by hand",
                                                "general set description Changed by SIGHUP"), encoding="utf-8")
        os.kill(srv.pid, signal.SIGHUP)
        note = op.notice("REHASH (SIGHUP)")
        assert "set: general set description Changed by SIGHUP" in note.trailing, note.raw

        before = op("GENERAL LIST")
        edited = op.text()
        bad = edited + "general set ports 70000\n"
        srv.config_path.write_text(bad, encoding="utf-8")
        bad_lineno = len(bad.splitlines())
        os.kill(srv.pid, signal.SIGHUP)
        note = op.notice("REHASH (SIGHUP)")
        assert f"failed: {srv.config_path}:{bad_lineno}: Bad <ports> '70000'" in note.trailing, note.raw
        c.send("REHASH")
        note = op.notice("REHASH failed, nothing changed")
        assert f"{srv.config_path}:{bad_lineno}:" in note.trailing, note.raw
        assert op("GENERAL LIST") == before

        srv.config_path.write_text(edited, encoding="utf-8")
        assert op("GENERAL SET CONTACT hand@example.net") == ["Contact set to hand@example.net"]
        lines = op.text().splitlines()
        assert lines[lines.index("general set description Changed by SIGHUP") - 1] == "# described by hand"
        assert "general set contact hand@example.net" in lines
    finally:
        op.close()


def _kept_in_order(before: list[str], after: list[str]) -> list[str]:
    """Assert every line of ``before`` is in ``after``, byte for byte and in
    order; return the lines of ``after`` that are new."""
    __tracebackhide__ = True
    added, i = [], 0
    for line in after:
        if i < len(before) and line == before[i]:
            i += 1
        else:
            added.append(line)
    assert i == len(before), f"line {before[i]!r} lost or moved:\n" + "\n".join(after)
    return added


HAND_COMMENTED = [
    "",
    "# --- bans ---",
    "# proxies and spammers go below",
    "security cps 0",
    "",
    "# trailing note",
]


def test_hand_edits_and_comments_survive_as_and_rehash(irc_server):
    """Issue 7 item 1: comments and blank lines in the middle, a Z-line
    added by AS, a K-line appended by hand then REHASH, a K-line added by
    AS: every line of the file stays, byte for byte and in order, and each
    AS change adds only its own line.  A line appended by hand without
    REHASH is never overwritten: the AS change is refused with a notice to
    REHASH first and nothing changes; after REHASH it goes through."""
    srv = irc_server(HAND_COMMENTED)
    op = Operator(srv)
    try:
        start = op.text().splitlines()
        reply = op("SECURITY ZLINE ADD 192.0.2.0/24 1d Open proxies")
        assert reply[0].startswith("Z-line added"), reply
        after_zline = op.text().splitlines()
        added = _kept_in_order(start, after_zline)
        assert len(added) == 1 and added[0].startswith("security zline add 192.0.2.0/24 until="), added

        with open(srv.config_path, "a", encoding="utf-8") as fh:
            fh.write("# hand-added ban\nsecurity kline add *@c.example Hand ban\n")
        hand = op.text().splitlines()
        op.client.send("REHASH")
        op.notice("set: security kline add *@c.example")
        assert op.text().splitlines() == hand

        reply = op("SECURITY KLINE ADD *@d.example 2h D")
        assert reply[0].startswith("K-line added"), reply
        after_kline = op.text().splitlines()
        added = _kept_in_order(hand, after_kline)
        assert len(added) == 1 and added[0].startswith("security kline add *@d.example until="), added

        with open(srv.config_path, "a", encoding="utf-8") as fh:
            fh.write("security kline add *@e.example Not rehashed\n")
        unread = op.text()
        reply = op("SECURITY SET DEFTRIGGER 9")
        assert len(reply) == 1 and "REHASH" in reply[0] and "changed on disk" in reply[0], reply
        assert op.text() == unread
        assert "  Default trigger: 0" in op("SECURITY LIST")

        op.client.send("REHASH")
        op.notice("set: security kline add *@e.example")
        assert op("SECURITY SET DEFTRIGGER 9") == ["Default trigger set to 9"]
        assert op.text() == unread.replace("security set deftrigger 0\n", "security set deftrigger 9\n")
        assert os.stat(srv.config_path).st_mode & 0o777 == 0o600
    finally:
        op.close()


def test_typo_stops_start_up_and_passwords_stay_out_of_the_log(irc_server):
    """Issue 7 items 2 and 7: ``secutiry kline add ...`` in the file stops
    twistd (non-zero exit) with file:line and "did you mean SECURITY?",
    where it used to start without the ban; fixed, the server starts; a
    mistyped live AS holding a password gets the suggestion while the log
    and the other operators never see the password."""
    from tests.integration.conftest import ServerStartError

    srv = irc_server(["security cps 0", "secutiry kline add *@spam.example Spam"], start=False)
    with pytest.raises(ServerStartError):
        srv.start()
    out = srv.read_log()
    lineno = len(srv.config_lines())
    assert f"{srv.config_path}:{lineno}: Unknown family (word 1); did you mean SECURITY?" in out, out
    srv.extra[-1] = "security kline add *@spam.example Spam"
    srv.start()
    op, other = Operator(srv), Operator(srv, "witness")
    try:
        other.client.send("MODE " + other.client.nick + " +s")
        reply = op("OPER admin PASSWD Typed9secret")
        assert reply and "did you mean PASSWORD?" in reply[0], reply
        assert op("OPER admin PASSWORD Final9secret") == ["Password for oper admin changed"]
        other.notice("changed the configuration: AS OPER admin PASSWORD ****")
        seen = [m.raw for m in other.client.history]
        log = srv.read_log()
        for secret in ("Typed9secret", "Final9secret"):
            assert secret not in log and not any(secret in line for line in seen), secret
        assert "AS OPER <name> refused" in log and "AS OPER admin PASSWORD ****" in log, log
    finally:
        op.close()
        other.close()


# -- migration from ConferenceRoom -------------------------------------------------------------------

UNSUPPORTED = ("KEY", "WEB", "NEWS", "BOT", "CLIENT", "EVENT")


def test_migration_from_confroom_conf(irc_server, tmp_path):
    """A server started from ConferenceRoom's own ConfRoom.conf (ports moved
    to free ones, one oper added to reach it from here) logs each
    unsupported family exactly once, puts in force what we implement (name,
    ports, TLS port, opers with their access masks, server definitions,
    bans, trigger), and keeps every unsupported line, comment and setting
    in the file after a live AS change, with the plain passwords hashed."""
    plain, tls_port = free_port(), free_port()
    srv = irc_server(start=False, port=plain)
    original = FIXTURE_CONF.read_text(encoding="utf-8")
    text = original.replace("GENERAL SET PORTS 7000,6666-6669", f"GENERAL SET PORTS {plain}")
    text = text.replace("GENERAL SSL PORT 994", f"GENERAL SSL PORT {tls_port}")
    # alto auto-connects: point it at loopback (a closed port), never at the example's address
    text = text.replace("SERVER alto SET HOST 209.133.1.3", "SERVER alto SET HOST 127.0.0.1")
    text += f"OPER tester ADD {ADMIN_OPER[1]} ac\n"
    srv.config_path.write_text(text, encoding="utf-8")
    srv.start(write_config=False)
    log = srv.read_log()
    for family in UNSUPPORTED:
        found = re.findall(rf"{family} commands are not supported by conferenceroom", log)
        assert len(found) == 1, (family, log)
    assert "WEB SET ROOT" in srv.config_path.read_text()

    c, lines = attempt(plain, unique_nick("mg"))
    assert lines[-1].command == "001" and lines[-1].source == "soprano.webmaster.com", [m.raw for m in lines]
    assert oper_numeric(c, "admin", "letmein").command == "464"  # only from *@209.133.1.*
    assert oper_numeric(c, "tester", ADMIN_OPER[1]).command == "381"
    c.drain(0.2)
    general = run_as(c, "GENERAL LIST")
    for line in ("Server name: soprano.webmaster.com", "Description: WebMaster Soprano Server",
                 "Serial: 102-0000-001", "Contact: support@webmaster.com", f"Ports: {plain}", "Role: hub",
                 "SSL: enabled", f"SSL port: {tls_port}"):
        assert f"  {line}" in general, general
    assert run_as(c, "SERVER")[1:] == [
        "  alto: name alto.webmaster.com, serial 103-0000-001, hub, host 127.0.0.1:994, upstream (auto), "
        "TLS only; enabled",
        "  tenor: name tenor.*, serial 101-0001-001, leaf, downstream; enabled"]
    assert run_as(c, "OPER helper LIST") == ["helper: flags h; access from *@*.webmaster.com"]
    klines = run_as(c, "SECURITY KLINE LIST")
    assert klines[0] == "K-lines (2):" and "Harassment, one week" in klines[2] and "expires in 6d" in klines[2]
    assert run_as(c, "SECURITY ZLINE LIST")[1].startswith("  192.0.2.0/24 - Open proxies")
    assert run_as(c, "SECURITY AKILL LIST")[1].startswith("  *@203.0.113.* - Network abuse")
    assert run_as(c, "SECURITY TRIGGER LIST") == ["Trigger exceptions:", "  127.0.0.1 unlimited"]
    assert run_as(c, "SERVICES LIST")[1] == "  Services: enabled"
    wait_port(tls_port)
    t, lines = attempt(tls_port, unique_nick("mt"), tls=True)
    t.close()
    assert lines[-1].command == "001"

    assert run_as(c, "GENERAL SET DESCRIPTION Migrated to conferenceroom") == [
        "Description set to Migrated to conferenceroom"]
    after = srv.config_path.read_text(encoding="utf-8")
    for line in original.splitlines():
        if line.split(" ", 1)[0] in UNSUPPORTED or line.startswith("#"):
            assert line in after.splitlines(), (line, after)
    assert "letmein" not in after and "helpme" not in after
    assert re.search(rf"^oper admin add {HASH} ac$", after, re.M | re.I), after
    assert "general set description Migrated to conferenceroom" in command_lines(srv.config_path)
    assert not any(l.lower().startswith("general set description webmaster") for l in command_lines(srv.config_path))
    c.close()
    srv.stop()
    srv.start(write_config=False)  # the rewritten file starts again, still reporting the unsupported families once
    log = srv.read_log()
    assert len(re.findall(r"WEB commands are not supported", log)) == 1, log
