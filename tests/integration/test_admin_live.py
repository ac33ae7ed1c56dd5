"""
Live administration against a real ``twistd -n conferenceroom`` process: every
verb of every ``AS`` family typed by an operator over a real connection, each
checked in the NOTICE reply, in what the server then does, and in the config
file it wrote; who may use AS; every kind of malformed command (which changes
nothing, byte for byte). Restart, REHASH/SIGHUP and migration are in
``test_admin_persist.py``.

Most tests share one module-scoped server and one operator connection; each
such test puts back what it changed. Tests that change limits every client
feels (flood, triggers, connection rate) use a server of their own.
"""

from __future__ import annotations

import datetime

import re
import socket
import time
from pathlib import Path

import pytest

from conferenceroom.admin import build_tree
from tests.integration.adminlive import (
    TYPED, Operator, answers, attempt, ban_line, can_connect, consecutive_free_ports, fingerprint,
    oper_numeric, refused, run_as, verb_of, wait_port,
)
from tests.integration.conftest import ADMIN_OPER, HELPER_OPER, free_port
from tests.integration.ircclient import IRCClient, unique_nick

HASH = r"\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}"


@pytest.fixture(scope="module")
def op(shared_server):
    """The shared server's ``ac`` operator (reconnected if a test lost it)."""
    o = Operator(shared_server)
    yield o
    o.close()


# -- who may use AS -------------------------------------------------------------------


def test_non_opers_and_opers_without_a_or_c_get_481(shared_server, irc_client, op):
    """AS from a user who is not an operator, from a helper (flag h) and from
    a global operator (flag g) gets 481 and changes nothing; an operator with
    only flag c, or only flag a, may use it."""
    op("OPER gonly ADD gonlypass g")
    op("OPER conly ADD conlypass c")
    op("OPER aonly ADD aonlypass a")
    before = shared_server.config_path.read_bytes()
    try:
        plain = irc_client(shared_server, unique_nick("pl"))
        got = answers(plain, "GENERAL SET DESCRIPTION hijacked")
        assert [m.command for m in got if m.command != "PONG"] == ["481"], [m.raw for m in got]
        assert "Permission Denied" in got[0].trailing, got[0].raw
        for name, password in (HELPER_OPER[:2], ("gonly", "gonlypass")):
            c = irc_client(shared_server, unique_nick("nf"))
            c.oper(name, password)
            c.drain(0.1)
            got = answers(c, "GENERAL SET DESCRIPTION hijacked")
            assert [m.command for m in got if m.command not in ("PONG", "MODE")] == ["481"], (
                name, [m.raw for m in got])
        assert shared_server.config_path.read_bytes() == before
        assert "  Description: Test server" in op("GENERAL LIST")
        for name in ("conly", "aonly"):
            c = irc_client(shared_server, unique_nick(name[:2]))
            c.oper(name, f"{name}pass")
            c.drain(0.1)
            assert run_as(c, "GENERAL LIST")[0] == "GENERAL settings:"
    finally:
        for name in ("gonly", "conly", "aonly"):
            op(f"OPER {name} DEL")


# -- malformed commands ----------------------------------------------------------------

MALFORMED = [
    # (command, what the NOTICE says was wrong, the syntax it shows)
    ("BOGUS LIST", "Unknown family 'BOGUS'", "GENERAL|OPER|SERVICES|SERVER|SECURITY|HELP"),
    ("GENERAL FROB", "Unknown GENERAL keyword 'FROB'", "GENERAL SET|SSL|WEBSOCKET|LIST"),
    ("GENERAL SET COLOUR blue", "Unknown GENERAL SET keyword 'COLOUR'", "GENERAL SET NAME|DESCRIPTION|"),
    ("OPER admin FROB", "Unknown OPER <name> keyword 'FROB'", "OPER <name> ADD|DEL|LIST|PASSWORD|ACCESS|FLAG"),
    ("SECURITY KLINE FROB *@x", "Unknown SECURITY KLINE keyword 'FROB'", "SECURITY KLINE ADD|DEL|LIST"),
    ("SERVER tenor FROB", "Unknown SERVER <handle> keyword 'FROB'", "SERVER <handle> ADD|DEL|LIST"),
    ("GENERAL SET", "Incomplete command GENERAL SET", "GENERAL SET NAME|"),
    ("SECURITY", "Incomplete command SECURITY", "SECURITY KLINE|AKILL|ZLINE|SET|TRIGGER|CPS|LIST"),
    ("OPER admin", "Incomplete command OPER <name>", "OPER <name> ADD|"),
    ("GENERAL SET PORTS", "Missing <ports>", "GENERAL SET PORTS <ports>"),
    ("OPER newbie ADD", "Missing <password>", "OPER <name> ADD <password> [<flags>]"),
    ("SECURITY KLINE ADD", "Missing <user@host>", "SECURITY KLINE ADD <user@host> [duration] [reason]"),
    ("SERVER tenor SET PORT", "Missing <port>", "SERVER <handle> SET PORT <port>"),
    ("OPER admin ACCESS ADD", "Missing <user@host>", "OPER <name> ACCESS ADD <user@host>"),
    ("SECURITY SET DEFTRIGGER", "Missing <n>", "SECURITY SET DEFTRIGGER <n>"),
    ("GENERAL SET PORTS 99999", "Bad <ports> '99999'", "GENERAL SET PORTS <ports>"),
    ("GENERAL SET PORTS 7000,x", "Bad <ports> '7000,x'", "GENERAL SET PORTS <ports>"),
    ("GENERAL SSL PORT 0", "Bad <port> '0'", "GENERAL SSL PORT <port>"),
    ("GENERAL SET NAME nodot", "Bad <name> 'nodot'", "GENERAL SET NAME <name>"),
    ("GENERAL SET SERIAL 12", "Bad <serial> '12'", "GENERAL SET SERIAL <serial>"),
    ("GENERAL SET SECUREONLY maybe", "Bad on|off 'maybe'", "GENERAL SET SECUREONLY on|off"),
    ("GENERAL SET BINDIP 300.1.1.1", "Bad <ip> '300.1.1.1'", "GENERAL SET BINDIP <ip>"),
    ("OPER admin FLAG ADD z", "Bad <flags> 'z'", "OPER <name> FLAG ADD <flags>"),
    ("SECURITY ZLINE ADD not-an-ip", "Bad <ip-or-mask> 'not-an-ip'", "SECURITY ZLINE ADD <ip-or-mask>"),
    ("SECURITY SET DEFTRIGGER -1", "Bad <n> '-1'", "SECURITY SET DEFTRIGGER <n>"),
    ("SECURITY SET FLOOD PENALTIES 0", "Bad <n> '0'", "SECURITY SET FLOOD PENALTIES <n>"),
    ("SERVER bad!handle ADD", "Bad <handle> 'bad!handle'", "SERVER <handle> ADD|"),
    ("GENERAL SET HUB now", "Too many arguments: 'now'", "GENERAL SET HUB"),
    ("GENERAL LIST everything", "Too many arguments: 'everything'", "GENERAL LIST"),
    ("SERVICES ENABLE please", "Too many arguments: 'please'", "SERVICES ENABLE"),
    ("OPER admin DEL now", "Too many arguments: 'now'", "OPER <name> DEL"),
    ("GENERAL SSL PORT 994 995", "Too many arguments: '995'", "GENERAL SSL PORT <port>"),
    ("SECURITY KLINE DEL *@a *@b", "Too many arguments: '*@b'", "SECURITY KLINE DEL <user@host>"),
    ("OPER ghost DEL", "No oper named ghost", "OPER <name> DEL"),
    ("OPER admin ADD newpass a", "Oper admin already exists", "OPER <name> ADD <password> [<flags>]"),
    ("SERVER ghost ENABLE", "No server definition ghost", "SERVER <handle> ENABLE"),
    ("SERVER ghost SET PORT 7000", "No server definition ghost", "SERVER <handle> SET PORT <port>"),
    ("SECURITY KLINE DEL *@nowhere.example", "No K-line for *@nowhere.example", "SECURITY KLINE DEL"),
    ("OPER admin ACCESS DEL *@nowhere", "Oper admin has no access mask *@nowhere", "OPER <name> ACCESS DEL"),
    ("SECURITY TRIGGER DEL 10.9.9.9", "No trigger exception for 10.9.9.9", "SECURITY TRIGGER DEL"),
    ("HELP NOSUCH", "No help for 'NOSUCH'", "HELP [family [topic]]"),
]


@pytest.mark.parametrize("command,reason,syntax", MALFORMED, ids=[c for c, _, _ in MALFORMED])
def test_malformed_command_names_problem_and_changes_nothing(shared_server, op, command, reason, syntax):
    """A malformed AS command (unknown family or verb, missing argument, bad
    value, extra argument, unknown entry) gets one NOTICE that names the
    problem and shows the right syntax; the config file stays the same byte
    for byte and GENERAL/SECURITY LIST show the same settings."""
    listing = op("GENERAL LIST") + op("SECURITY LIST") + op("OPER")
    before = shared_server.config_path.read_bytes()
    reply = op.one(command)
    assert reply.startswith(reason), reply
    assert f"Syntax: {syntax}" in reply, reply
    assert shared_server.config_path.read_bytes() == before
    assert op("GENERAL LIST") + op("SECURITY LIST") + op("OPER") == listing


def test_help_for_every_family_and_topic(op):
    """AS HELP lists every family; HELP <family> and HELP <family> <topic>
    list the syntax and a help text of each verb there; plain AS is HELP."""
    top = op("HELP")
    assert top[0].startswith("AS commands")
    for family in ("GENERAL", "OPER", "SERVICES", "SERVER", "SECURITY"):
        assert any(line.strip().startswith(f"{family} - ") for line in top), top
        lines = op(f"HELP {family}")
        assert lines and all(line.startswith(family) and " - " in line for line in lines), lines
    assert op("") == top
    ssl = op("help general ssl")
    assert [line.split(" - ")[0] for line in ssl] == [
        "GENERAL SSL ENABLE", "GENERAL SSL DISABLE", "GENERAL SSL PORT <port>",
        "GENERAL SSL CERT <path>", "GENERAL SSL KEY <path>", "GENERAL SSL CAFILE <path>",
        "GENERAL SSL STS on|off", "GENERAL SSL STSDURATION <duration>", "GENERAL SSL LIST"]
    kline = op("HELP SECURITY KLINE")
    assert kline[0].startswith("SECURITY KLINE ADD <user@host> [duration] [reason] - ban user@host")
    server_set = "\n".join(op("HELP SERVER SET"))
    for field in ("NAME", "HOST", "PORT", "BINDIP", "PING", "SERIAL", "ROLE", "AUTO", "SECURE",
                  "SECUREONLY", "PASSWORD", "FINGERPRINT"):
        assert f"SERVER <handle> SET {field} " in server_set, server_set
    oper_help = "\n".join(op("HELP OPER"))
    for verb in ("ADD <password> [<flags>]", "DEL", "PASSWORD <password>", "ACCESS ADD <user@host>",
                 "FLAG ADD <flags>", "FLAG LIST"):
        assert f"OPER <name> {verb}" in oper_help, oper_help


# -- GENERAL ---------------------------------------------------------------------------


def test_general_identity_settings(shared_server, irc_client, op):
    """DESCRIPTION, CONTACT and NETWORK take effect at once (LINKS, ADMIN,
    ISUPPORT NETWORK= of a new client); NAME and SERIAL are saved and the
    reply says a restart is needed (the running name stays); each shows in
    GENERAL LIST and as its canonical line in the file."""
    assert op("GENERAL SET DESCRIPTION Live  admin test box") == [
        "Description set to Live admin test box"]
    assert op("GENERAL SET CONTACT ops@example.net") == ["Contact set to ops@example.net"]
    assert op("GENERAL SET NETWORK LiveNet") == ["Network name set to LiveNet"]
    assert op("GENERAL SET NAME renamed.example.net") == [
        "Server name set to renamed.example.net", "Saved; A new server name takes effect after a restart"]
    assert op("GENERAL SET SERIAL 123-4567-890") == [
        "Serial set to 123-4567-890", "Saved; A new serial takes effect after a restart"]
    try:
        listing = op("GENERAL LIST")
        for line in ("Server name: renamed.example.net", "Description: Live admin test box",
                     "Serial: 123-4567-890", "Contact: ops@example.net", "Network name: LiveNet"):
            assert f"  {line}" in listing, listing
        lines = op.lines()
        for line in ("general set name renamed.example.net", "general set description Live admin test box",
                     "general set serial 123-4567-890", "general set contact ops@example.net",
                     "general set network LiveNet"):
            assert line in lines, lines
        assert not any(l.startswith("general set name test.") for l in lines), lines

        c = irc_client(shared_server)
        burst = c.register(unique_nick("id"))
        assert burst[0].source == shared_server.name, burst[0].raw  # renaming needs a restart
        isupport = " ".join(" ".join(m.params) for m in burst if m.command == "005")
        assert "NETWORK=LiveNet" in isupport, isupport
        c.send("LINKS")
        links = c.expect("364")
        assert links.trailing.endswith("Live admin test box"), links.raw
        c.send("ADMIN")
        assert c.expect("259").trailing == "ops@example.net"
    finally:
        op("GENERAL SET NAME test.conferenceroom.local")
        op("GENERAL SET SERIAL 100-0000-001")
        op("GENERAL SET DESCRIPTION Test server")
        op("GENERAL SET NETWORK TestNet")


def test_general_ports_open_and_close_listeners(shared_server, op):
    """GENERAL SET PORTS with a list and a range opens every new port at
    once (a client registers on each) and closes the ports left out (they
    refuse connections); the reply names what opened and closed and the file
    has the canonical ``general set ports`` line."""
    base = consecutive_free_ports(3)
    main = shared_server.port
    reply = op(f"GENERAL SET PORTS {main},{base}-{base + 2}")
    shown = ",".join(sorted([str(main), f"{base}-{base + 2}"], key=lambda p: int(p.split("-")[0])))
    assert reply[0] == f"Ports set to {shown}", reply
    assert [f"opened port {p}" for p in (base, base + 1, base + 2)] == sorted(reply[1:]), reply
    for port in (base, base + 1, base + 2):
        wait_port(port)
        c, lines = attempt(port, unique_nick("pt"))
        c.close()
        assert lines[-1].command == "001", [m.raw for m in lines]
    assert f"general set ports {shown}" in op.lines()

    reply = op(f"GENERAL SET PORTS {base + 1},{main}")
    shown = ",".join(str(p) for p in sorted([main, base + 1]))
    assert reply[0] == f"Ports set to {shown}", reply
    assert sorted(reply[1:]) == [f"closed port {base}", f"closed port {base + 2}"], reply
    wait_port(base, up=False)
    wait_port(base + 2, up=False)
    assert can_connect(base + 1)
    assert f"general set ports {shown}" in op.lines()
    assert f"  Ports: {shown}" in op("GENERAL LIST")

    assert op(f"GENERAL SET PORTS {main}") == [f"Ports set to {main}", f"closed port {base + 1}"]
    wait_port(base + 1, up=False)
    assert f"general set ports {main}" in op.lines()


def test_general_bindip_moves_listeners(shared_server, op):
    """BINDIP * moves the listener to every interface (127.0.0.2 then
    connects too) and BINDIP 127.0.0.1 moves it back (127.0.0.2 is refused);
    the operator's own connection stays up throughout."""
    port = shared_server.port
    assert not can_connect(port, host="127.0.0.2")
    reply = op("GENERAL SET BINDIP *")
    assert reply == ["Bind IP set to * (all interfaces)", "listeners move to all interfaces",
                     f"closed port {port}", f"opening port {port}"], reply
    wait_port(port, host="127.0.0.2")
    c, lines = attempt(port, unique_nick("bi"), host="127.0.0.2")
    c.close()
    assert lines[-1].command == "001"
    assert "Bind IP: * (all interfaces)" in "\n".join(op("GENERAL LIST"))
    # * (every interface) is the default, so its canonical form is no line at all
    assert not [l for l in op.lines() if l.startswith("general set bindip")], op.lines()
    reply = op("GENERAL SET BINDIP 127.0.0.1")
    assert reply[:2] == ["Bind IP set to 127.0.0.1", "listeners move to 127.0.0.1"], reply
    wait_port(port, up=False, host="127.0.0.2")
    wait_port(port)
    assert [l for l in op.lines() if l.startswith("general set bindip")] == ["general set bindip 127.0.0.1"]
    assert not op.client.closed


def test_general_utf8only_takes_effect_live(shared_server, irc_client, op):
    """GENERAL SET UTF8ONLY on is answered, listed and saved; at once a new client sees
    UTF8ONLY in 005 and a Latin-1 line is refused with FAIL; off puts the fallback back."""
    from tests.integration.ircclient import isupport_tokens

    assert op("GENERAL SET UTF8ONLY on") == ["UTF-8 only set to on"]
    assert "  UTF-8 only: on" in op("GENERAL LIST")
    assert "general set utf8only on" in op.lines()
    try:
        client = irc_client(shared_server)
        assert "UTF8ONLY" in isupport_tokens(client.register(unique_nick("u8")))
        client.send_raw(b"PRIVMSG nobody :caf\xe9\r\n")
        assert client.expect("FAIL").params[:2] == ["PRIVMSG", "INVALID_UTF8"]
    finally:
        assert op("GENERAL SET UTF8ONLY off") == ["UTF-8 only set to off"]
    assert not any("utf8only" in line for line in op.lines())
    client = irc_client(shared_server)
    assert "UTF8ONLY" not in isupport_tokens(client.register(unique_nick("u8")))


def test_general_role_securenetwork_datadir(op):
    """HUB/LEAF, SECURENETWORK, SSL CAFILE and DATADIR are answered, listed and saved
    (DATADIR says it needs a restart); putting them back restores the file."""
    assert op("GENERAL SET LEAF") == ["Role set to leaf"]
    assert "  Role: leaf" in op("GENERAL LIST")
    assert "general set leaf" in op.lines() and "general set hub" not in op.lines()
    assert op("GENERAL SET HUB") == ["Role set to hub"]
    assert "general set hub" in op.lines() and "general set leaf" not in op.lines()

    assert op("GENERAL SET SECURENETWORK on") == ["Secure network set to on"]
    assert "  Secure network: on" in op("GENERAL LIST")
    assert "general set securenetwork on" in op.lines()
    assert op("GENERAL SET SECURENETWORK off") == ["Secure network set to off"]
    assert not any("securenetwork" in l for l in op.lines())

    assert op("GENERAL SSL CAFILE certs/network-ca.pem") == ["SSL CA file set to certs/network-ca.pem"]
    assert "  SSL CA file: certs/network-ca.pem" in op("GENERAL LIST")
    assert "general ssl cafile certs/network-ca.pem" in op.lines()
    assert op("GENERAL SSL CAFILE none") == ["SSL CA file set to none"]
    assert not any("cafile" in l for l in op.lines())

    assert op("GENERAL SET DATADIR state") == [
        "Data folder set to state", "Saved; A new data folder takes effect after a restart"]
    assert "general set datadir state" in op.lines()
    assert "  Data folder: state" in op("GENERAL LIST")


def test_general_motd_file(shared_server, irc_client, op, tmp_path):
    """GENERAL SET MOTD points at another file and MOTD shows it at once."""
    motd = tmp_path / "other-motd.txt"
    motd.write_text("A brand new message of the day.\n", encoding="utf-8")
    try:
        assert op(f"GENERAL SET MOTD {motd}") == [f"MOTD file set to {motd}"]
        assert f"general set motd {motd}" in op.lines()
        c = irc_client(shared_server, unique_nick("mo"))
        c.send("MOTD")
        lines = c.collect("376")
        assert [m.trailing for m in lines if m.command == "372"] == ["- A brand new message of the day."]
    finally:
        op(f"GENERAL SET MOTD {shared_server.motd_path}")


def test_general_manhole_settings(shared_server, op, tmp_path):
    """MANHOLEPORT, MANHOLEKEYS and MANHOLE on/off: on opens an SSH server
    on 127.0.0.1 (it greets with SSH-2.0), off closes it; all are listed and
    saved."""
    port = free_port()
    keys = tmp_path / "authorized_keys"
    keys.write_text("", encoding="utf-8")
    assert op(f"GENERAL SET MANHOLEPORT {port}") == [f"Manhole port set to {port}"]
    assert op(f"GENERAL SET MANHOLEKEYS {keys}") == [f"Manhole keys set to {keys}"]
    assert op("GENERAL SET MANHOLE on") == ["Manhole set to on", f"opened the manhole on 127.0.0.1:{port}"]
    try:
        wait_port(port)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            assert s.recv(64).startswith(b"SSH-2.0-")
        listing = op("GENERAL LIST")
        assert "  Manhole: on" in listing and f"  Manhole port: {port}" in listing, listing
        for line in ("general set manhole on", f"general set manholeport {port}",
                     f"general set manholekeys {keys}"):
            assert line in op.lines()
    finally:
        reply = op("GENERAL SET MANHOLE off")
    assert reply == ["Manhole set to off", f"closed the manhole on 127.0.0.1:{port}"]
    wait_port(port, up=False)
    assert "general set manhole on" not in op.lines()
    assert op("GENERAL SET MANHOLEKEYS none") == ["Manhole keys set to none"]
    assert not any("manholekeys" in l for l in op.lines())


def test_general_websocket_settings(shared_server, op):
    """GENERAL WEBSOCKET PORT/ENABLE open a WebSocket port a web client registers on; ORIGIN and
    PROXY lists apply to the next handshake; SECURE on moves it to TLS (a notice gives the
    fingerprint); DISABLE closes it.  Each is listed and saved."""
    from tests.integration.wsclient import HandshakeRefused, WSClient

    port = free_port()
    assert op(f"GENERAL WEBSOCKET PORT {port}") == [f"WebSocket port set to {port}"]
    assert op("GENERAL WEBSOCKET ENABLE") == ["WebSocket set to enabled", f"opened WebSocket port {port}"]
    try:
        op.notice(f"WebSocket port {port} open")
        ws = WSClient.connect("127.0.0.1", port)
        assert ws.register(unique_nick("ws"))[0].split()[1] == "001"
        ws.close()
        assert op("GENERAL WEBSOCKET ORIGIN ADD https://Chat.Example.org") == [
            "Allowed origin https://chat.example.org added"]
        assert op("GENERAL WEBSOCKET ORIGIN LIST") == ["Allowed origins: https://chat.example.org"]
        WSClient.connect("127.0.0.1", port, origin="https://chat.example.org").close()
        with pytest.raises(HandshakeRefused):
            WSClient.connect("127.0.0.1", port, origin="https://evil.example")
        assert "general websocket origin add https://chat.example.org" in op.lines()
        assert op("GENERAL WEBSOCKET ORIGIN DEL https://chat.example.org") == [
            "Allowed origin https://chat.example.org removed"]
        assert op("GENERAL WEBSOCKET PROXY ADD 127.0.0.1") == ["Trusted proxy 127.0.0.1 added"]
        assert op("GENERAL WEBSOCKET PROXY LIST") == ["Trusted proxies: 127.0.0.1"]
        ws = WSClient.connect("127.0.0.1", port, headers=("X-Forwarded-For: 192.0.2.55",))
        nick = unique_nick("px")
        ws.register(nick)
        ws.send("JOIN #wsadmin")
        assert ws.lines(lambda line: " JOIN " in line)[-1].startswith(f":{nick}!~{nick}@192.0.2.55 JOIN")
        ws.close()
        assert op("GENERAL WEBSOCKET PROXY DEL 127.0.0.1") == ["Trusted proxy 127.0.0.1 removed"]
        assert op("GENERAL WEBSOCKET SECURE on") == ["WebSocket TLS set to on", f"closed WebSocket port {port}",
                                                     f"opening WebSocket TLS port {port}"]
        op.notice(f"WebSocket TLS port {port} open; certificate fingerprint ")
        wait_port(port)
        ws = WSClient.connect("127.0.0.1", port, tls=True)
        ws.register(unique_nick("wss"))
        ws.close()
        listing = op("GENERAL LIST")
        assert "  WebSocket: enabled" in listing and f"  WebSocket port: {port}" in listing, listing
        assert "  WebSocket TLS: on" in listing
        assert "general websocket secure on" in op.lines()
        assert op("GENERAL WEBSOCKET SECURE off")[0] == "WebSocket TLS set to off"
    finally:
        reply = op("GENERAL WEBSOCKET DISABLE")
    assert reply == ["WebSocket set to disabled", f"closed WebSocket port {port}"]
    wait_port(port, up=False)
    assert not any(line.startswith("general websocket enable") for line in op.lines())


def _make_cert(directory: Path, name: str) -> tuple[Path, Path]:
    """A self-signed P-256 certificate and key for ``name``, as PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / f"{name}.crt", directory / f"{name}.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_ssl_enable_port_cert_key_and_secureonly(shared_server, op, tmp_path):
    """SSL PORT then SSL ENABLE opens a TLS port a TLS client registers on
    (with the generated certificate); SSL CERT alone cannot be loaded (a
    NOTICE says why, the port keeps serving the generated one), SSL KEY then
    puts our certificate in force on the same open port; SECUREONLY on
    refuses plain clients and admits TLS ones; SSL DISABLE closes the port.
    Each is in GENERAL LIST and the file."""
    port = free_port()
    assert op(f"GENERAL SSL PORT {port}") == [f"SSL port set to {port}"]
    assert op("GENERAL SSL ENABLE") == ["SSL set to enabled", f"opening TLS port {port}"]
    opened = op.notice(f"TLS port {port} open; certificate fingerprint ")
    generated = opened.trailing.rsplit(" ", 1)[1]
    wait_port(port)
    tls, lines = attempt(port, unique_nick("tl"), tls=True)
    assert lines[-1].command == "001", [m.raw for m in lines]
    assert fingerprint(tls.peer_certificate) == generated
    tls.close()
    assert "general ssl enable" in op.lines() and f"general ssl port {port}" in op.lines()

    cert, key = _make_cert(tmp_path, "custom.example.net")
    assert op(f"GENERAL SSL CERT {cert}") == [f"SSL certificate set to {cert}", "reloading the TLS certificate"]
    why = op.notice("TLS certificate not reloaded: ")
    assert str(cert) in why.trailing and why.trailing.endswith(f"; still using {generated}"), why.raw
    tls, lines = attempt(port, unique_nick("tk"), tls=True)
    assert lines[-1].command == "001" and fingerprint(tls.peer_certificate) == generated
    tls.close()
    assert op(f"GENERAL SSL KEY {key}") == [f"SSL key set to {key}", "reloading the TLS certificate"]
    reloaded = op.notice(f"TLS certificate reloaded from {cert}: fingerprint ")
    tls, lines = attempt(port, unique_nick("tc"), tls=True)
    assert lines[-1].command == "001"
    assert fingerprint(tls.peer_certificate) == re.search(r"fingerprint (\S+),", reloaded.trailing).group(1) != generated
    tls.close()
    assert f"general ssl cert {cert}" in op.lines() and f"general ssl key {key}" in op.lines()
    listing = op("GENERAL LIST")
    assert "  SSL: enabled" in listing and f"  SSL certificate: {cert}" in listing, listing

    assert op("GENERAL SET SECUREONLY on") == ["Secure only set to on"]
    try:
        plain, lines = attempt(shared_server.port, unique_nick("so"))
        assert refused(lines), [m.raw for m in lines]
        assert f"This server accepts only TLS connections (port {port})" in lines[-1].trailing
        tls, lines = attempt(port, unique_nick("st"), tls=True)
        assert lines[-1].command == "001"
        tls.close()
        assert "general set secureonly on" in op.lines()
    finally:
        assert op("GENERAL SET SECUREONLY off") == ["Secure only set to off"]
    plain, lines = attempt(shared_server.port, unique_nick("sp"))
    plain.close()
    assert lines[-1].command == "001"

    assert op("GENERAL SSL DISABLE") == ["SSL set to disabled", f"closed TLS port {port}"]
    wait_port(port, up=False)
    assert "general ssl enable" not in op.lines()
    assert "  SSL: disabled" in op("GENERAL LIST")


def test_ssl_sts_and_ssl_list(shared_server, op):
    """SSL STS on (warned: the generated certificate is self-signed) and
    STSDURATION show in a plain client's CAP LS 302 at once; SSL LIST shows
    them and the certificate in force (fingerprint, expiry); STS off removes
    the policy."""
    port = free_port()
    op("GENERAL SSL CERT none")
    op("GENERAL SSL KEY none")
    assert op(f"GENERAL SSL PORT {port}") == [f"SSL port set to {port}"]
    op("GENERAL SSL ENABLE")
    opened = op.notice(f"TLS port {port} open; certificate fingerprint ")
    served = opened.trailing.rsplit(" ", 1)[1]
    try:
        assert op("GENERAL SSL STS on") == [
            "STS set to on", "Warning: STS is on with the generated self-signed certificate: clients that "
            "honour STS check the certificate and will refuse it (GENERAL SSL CERT/KEY: a CA-signed pair)"]
        assert op("GENERAL SSL STSDURATION 7d") == ["STS duration set to 7d (604800 seconds)"]
        with IRCClient.connect("127.0.0.1", shared_server.port) as plain:
            plain.send("CAP LS 302")
            assert f"sts=port={port},duration=604800" in plain.expect("CAP").params[-1].split()
        listing = op("GENERAL SSL LIST")
        assert listing[0] == "GENERAL SSL settings:"
        assert "  STS: on" in listing and "  STS duration: 7d (604800 seconds)" in listing, listing
        assert f"  Fingerprint (SHA-256): {served}" in listing, listing
        assert any(line.startswith("  Expires: ") and line.endswith(" days)") for line in listing), listing
        assert "general ssl sts on" in op.lines() and "general ssl stsduration 7d" in op.lines()
    finally:
        op("GENERAL SSL STS off")
        op("GENERAL SSL STSDURATION 1d")
        op("GENERAL SSL DISABLE")
        op("GENERAL SSL PORT 994")
    with IRCClient.connect("127.0.0.1", shared_server.port) as plain:
        plain.send("CAP LS 302")
        assert "sts" not in plain.expect("CAP").params[-1]


def test_tls_port_that_cannot_listen_is_not_announced_open(shared_server, op):
    """SSL ENABLE on a port a plain listener already holds warns that the
    port is listed twice, and operators are told the TLS port cannot listen
    (never that it is open); SSL DISABLE puts it back."""
    port = shared_server.port
    assert op(f"GENERAL SSL PORT {port}") == [f"SSL port set to {port}"]
    try:
        assert op("GENERAL SSL ENABLE") == [
            "SSL set to enabled", f"Warning: SSL port {port} is also listed as a plain port",
            f"opening TLS port {port}"]
        failed = op.notice(f"cannot listen on 127.0.0.1:{port}: ")
        assert "Address already in use" in failed.trailing, failed.raw
        late = op.client.drain(1.0)
        assert not any("TLS port" in (m.trailing or "") and " open;" in m.trailing for m in late), \
            [m.raw for m in late]
    finally:
        op("GENERAL SSL DISABLE")
        op("GENERAL SSL PORT 994")
    assert not any(l.startswith(("general ssl enable", "general ssl port")) for l in op.lines()), op.lines()


def test_likely_mistakes_are_done_with_a_warning(shared_server, op):
    """SECUREONLY on while SSL is off, or taking flags a and c from the last
    oper that has them, is done as asked, with a warning in the reply."""
    try:
        assert op("GENERAL SET SECUREONLY on") == [
            "Secure only set to on", "Warning: SECUREONLY is on but SSL is disabled: no client can connect"]
        assert "general set secureonly on" in op.lines()
    finally:
        assert op("GENERAL SET SECUREONLY off") == ["Secure only set to off"]
    try:
        assert op("OPER admin FLAG DEL ac") == [
            "Flags for oper admin are now none",
            "Warning: no enabled oper has flag a or c: nobody can use AS commands"]
    finally:
        # The operator keeps the flags of their current OPER session.
        assert op("OPER admin FLAG ADD ac") == ["Flags for oper admin are now ac"]


# -- SERVICES ----------------------------------------------------------------------------


def test_services_enable_disable_list(op):
    """SERVICES DISABLE/ENABLE are answered, shown by SERVICES LIST and
    saved as ``services disable`` / ``services enable``."""
    assert op("SERVICES DISABLE") == ["Services set to disabled"]
    assert op("SERVICES LIST") == ["SERVICES settings:", "  Services: disabled", "  Password cost: 12",
                                   "  Enforce delay: 60"]
    assert "services disable" in op.lines() and "services enable" not in op.lines()
    assert op("services enable") == ["Services set to enabled",
                                     "Services server services.conferenceroom.local introduced with NickServ, ChanServ, MemoServ, OperServ"]
    assert op("SERVICES LIST") == ["SERVICES settings:", "  Services: enabled", "  Password cost: 12",
                                   "  Enforce delay: 60"]
    assert "services enable" in op.lines() and "services disable" not in op.lines()
    assert op("services disable") == ["Services set to disabled",
                                      "Services server services.conferenceroom.local removed from the network"]
    assert op("services set passwordcost 10") == ["Password cost set to 10"]
    assert op("services set enforcedelay 30") == ["Enforce delay set to 30"]
    assert "services set passwordcost 10" in op.lines() and "services set enforcedelay 30" in op.lines()
    assert op("services set passwordcost 12") == ["Password cost set to 12"]
    assert op("services set enforcedelay 60") == ["Enforce delay set to 60"]


# -- SERVER ------------------------------------------------------------------------------

FINGERPRINT = "ab" * 32


def test_server_definition_every_field(op):
    """SERVER <handle> ADD, every SET field, ENABLE/DISABLE (and SET
    ENABLE/DISABLE), LIST, SERVER alone and DEL: each answered, listed and
    written as the canonical lines of that definition (together, in field
    order); the password is never shown; enabling needs a serial or a
    password; ``none`` clears a field."""
    assert op("SERVER") == ["No server definitions (SERVER <handle> ADD creates one)"]
    assert op("SERVER tenor ADD") == [
        "Server definition tenor added (disabled; set a serial or a password, then ENABLE)"]
    assert op.one("SERVER tenor ENABLE").startswith("Server tenor needs a serial or a password")
    settings = [
        ("NAME tenor.*", "name mask set to tenor.*", "set name tenor.*"),
        ("SERIAL 101-0001-001", "serial set to 101-0001-001", "set serial 101-0001-001"),
        ("PASSWORD s3cretlink", "password set", "set password s3cretlink"),
        (f"FINGERPRINT {FINGERPRINT}", "fingerprint set to AB:AB", f"set fingerprint {FINGERPRINT}"),
        ("ROLE HUB", "role set to hub", "set role hub"),
        # Enabled with AUTO on, the definition is dialled at once: keep that on the loopback.
        ("HOST 127.0.0.1", "host set to 127.0.0.1", "set host 127.0.0.1"),
        ("PORT 7029", "port set to 7029", "set port 7029"),
        ("BINDIP 127.0.0.1", "bind ip set to 127.0.0.1", "set bindip 127.0.0.1"),
        ("PING 120", "ping set to 120", "set ping 120"),
        ("AUTO on", "auto-connect set to on", "set auto on"),
        ("SECURE on", "secure set to on", "set secure on"),
        ("SECUREONLY on", "secure only set to on", "set secureonly on"),
    ]
    for command, reply, line in settings:
        got = op.one(f"SERVER tenor SET {command}")
        assert got.startswith(f"Server tenor: {reply}"), got
        assert f"server tenor {line}" in op.lines(), (command, op.lines())
    assert op("SERVER tenor ENABLE") == ["Server tenor enabled"]
    lines = op.lines()
    start = lines.index("server tenor add")
    assert lines[start:start + 14] == ["server tenor add", *(f"server tenor {l}" for _, _, l in settings[:4]),
                                       "server tenor set role hub", "server tenor set host 127.0.0.1",
                                       "server tenor set port 7029", "server tenor set bindip 127.0.0.1",
                                       "server tenor set ping 120", "server tenor set auto on",
                                       "server tenor set secure on", "server tenor set secureonly on",
                                       "server tenor enable"], lines
    details = op("SERVER tenor LIST")
    assert details[0] == "Server tenor (enabled):"
    for shown in ("Name mask: tenor.*", "Serial: 101-0001-001", "Password: (set)", "Role: hub",
                  "Host: 127.0.0.1", "Port: 7029", "Bind IP: 127.0.0.1", "Ping: 120 seconds",
                  "Auto-connect: on", "Secure: on", "Secure only: on"):
        assert f"  {shown}" in details, details
    assert not any("s3cretlink" in l for l in details + op("SERVER"))
    assert op("SERVER") == ["Server definitions (1):",
                            "  tenor: name tenor.*, serial 101-0001-001, hub, host 127.0.0.1:7029, "
                            "upstream (auto), TLS only, password set, fingerprint pinned; enabled"]

    # Disabling an auto-connect definition also stops its connection attempt, if one is under
    # way, and says so.
    stopped = "Stopped connecting to tenor (tenor.*): Server definition tenor was disabled"
    for command in ("SERVER tenor DISABLE", "SERVER tenor SET DISABLE"):
        replies = op(command)
        assert replies[0] == "Server tenor disabled" and set(replies[1:]) <= {stopped}, replies
        if command == "SERVER tenor DISABLE":
            assert "server tenor enable" not in op.lines()
            assert op("SERVER tenor SET ENABLE") == ["Server tenor enabled"]
    assert op("SERVER tenor SET SERIAL none") == ["Server tenor: serial cleared"]
    assert op("SERVER tenor SET PASSWORD none") == ["Server tenor: password cleared"]
    assert op.one("SERVER tenor SET ENABLE").startswith("Server tenor needs a serial or a password")
    assert not any(l.startswith(("server tenor set serial", "server tenor set password")) for l in op.lines())
    assert op("SERVER tenor DEL") == ["Server definition tenor deleted"]
    assert not any(l.startswith("server tenor") for l in op.lines())
    assert op("SERVER") == ["No server definitions (SERVER <handle> ADD creates one)"]


# -- OPER -------------------------------------------------------------------------------


def test_oper_entries_flags_access_password(shared_server, irc_client, op):
    """OPER <name> ADD works for OPER at once; PASSWORD changes which
    password works; FLAG ADD/DEL/LIST change the modes OPER gives and d
    refuses it; ACCESS ADD/DEL/LIST restrict where it may log in from; LIST
    and OPER alone show it; DEL removes it. The file only ever holds a
    bcrypt hash, never the plain password."""
    assert op("OPER newop ADD firstpw gh") == ["Oper newop added with flags gh"]
    lines = op.lines()
    assert any(re.fullmatch(rf"oper newop add {HASH} gh", l) for l in lines), lines
    assert "firstpw" not in op.text()
    c = irc_client(shared_server, unique_nick("no"))
    assert oper_numeric(c, "newop", "firstpw").command == "381"
    mode = c.expect(lambda m: m.command == "MODE" and m.params[0] == c.nick)
    assert mode.params[1] == "+os", mode.raw  # OPER sets +s (server notices)

    old_hash = next(l for l in op.lines() if l.startswith("oper newop add"))
    assert op("OPER newop PASSWORD secondpw") == ["Password for oper newop changed"]
    new_hash = next(l for l in op.lines() if l.startswith("oper newop add"))
    assert new_hash != old_hash and re.fullmatch(rf"oper newop add {HASH} gh", new_hash)
    assert "secondpw" not in op.text() and "firstpw" not in op.text()
    c = irc_client(shared_server, unique_nick("np"))
    assert oper_numeric(c, "newop", "firstpw").command == "464"
    assert oper_numeric(c, "newop", "secondpw").command == "381"

    assert op("OPER newop FLAG ADD as") == ["Flags for oper newop are now aghs"]
    assert op("OPER newop FLAG DEL h") == ["Flags for oper newop are now ags"]
    assert op("OPER newop FLAG LIST") == ["Flags for oper newop: ags", "  a server administrator",
                                          "  g global operator", "  s services administrator"]
    assert any(re.fullmatch(rf"oper newop add {HASH} ags", l) for l in op.lines())
    c = irc_client(shared_server, unique_nick("nf"))
    assert oper_numeric(c, "newop", "secondpw").command == "381"
    mode = c.expect(lambda m: m.command == "MODE" and m.params[0] == c.nick)
    assert set(mode.params[1].lstrip("+")) == {"o", "A", "a", "s"}, mode.raw
    assert op("OPER newop FLAG ADD d") == ["Flags for oper newop are now adgs"]
    c = irc_client(shared_server, unique_nick("nd"))
    assert oper_numeric(c, "newop", "secondpw").command == "464"
    op("OPER newop FLAG DEL d")

    assert op("OPER newop ACCESS ADD *@10.20.30.*") == ["Access mask *@10.20.30.* added to oper newop"]
    assert "oper newop access add *@10.20.30.*" in op.lines()
    c = irc_client(shared_server, unique_nick("na"))
    assert oper_numeric(c, "newop", "secondpw").command == "464"
    assert op("OPER newop ACCESS ADD *@127.0.0.1") == ["Access mask *@127.0.0.1 added to oper newop"]
    assert op("OPER newop ACCESS LIST") == ["Access masks for oper newop:", "  *@10.20.30.*", "  *@127.0.0.1"]
    assert oper_numeric(c, "newop", "secondpw").command == "381"
    assert op("OPER newop LIST") == ["newop: flags ags; access from *@10.20.30.*, *@127.0.0.1"]
    assert "  newop: flags ags; access from *@10.20.30.*, *@127.0.0.1" in op("OPER")
    assert op("OPER newop ACCESS DEL *@10.20.30.*") == ["Access mask *@10.20.30.* removed from oper newop"]
    assert "oper newop access add *@10.20.30.*" not in op.lines()
    assert op("OPER newop ACCESS DEL *@127.0.0.1") == ["Access mask *@127.0.0.1 removed from oper newop"]
    assert op("OPER newop ACCESS LIST") == ["Oper newop may log in from anywhere"]

    assert op("OPER newop DEL") == ["Oper newop deleted"]
    assert not any(l.startswith("oper newop") for l in op.lines())
    c = irc_client(shared_server, unique_nick("nx"))
    assert oper_numeric(c, "newop", "secondpw").command == "464"


# -- SECURITY: bans -------------------------------------------------------------------------


def _victim(srv, nick, user=None, source=None):
    c, lines = attempt(srv.port, nick, user=user, source=source)
    assert lines[-1].command == "001", [m.raw for m in lines]
    c.drain(0.2)
    return c


@pytest.mark.parametrize("kind,label,duration,seconds", [
    ("KLINE", "K-line", "1h", 3600), ("AKILL", "AKILL", "2d", 2 * 86400)])
def test_userhost_ban_disconnects_refuses_and_lifts(shared_server, op, kind, label, duration, seconds):
    """SECURITY KLINE/AKILL ADD with a duration disconnects a matching
    connected user at once (465 then ERROR), refuses them when they come
    back, leaves others alone, is listed with its reason, setter and time
    left, and is saved with its expiry time; DEL lets them back in."""
    user = f"bad{kind.lower()}"
    victim = _victim(shared_server, unique_nick("vi"), user=user)
    bystander = _victim(shared_server, unique_nick("by"))
    mask = f"~{user}@*"
    reply = op.one(f"SECURITY {kind} ADD {mask} {duration} Go away now")
    admin_nick = op.client.nick
    assert reply.startswith(f"{label} added: {mask} - Go away now [set by {admin_nick}; expires in "), reply
    lines = victim.wait_closed()
    ban = next(m for m in lines if m.command == "465")
    assert ban.trailing.startswith(f"You are banned from this server: Go away now ({label}, expires in "), ban.raw
    assert lines[-1].command == "ERROR" and f"Banned ({label}: Go away now)" in lines[-1].trailing
    bystander.send("PING :still")
    assert bystander.expect("PONG").trailing == "still"

    again, lines = attempt(shared_server.port, unique_nick("va"), user=user)
    assert refused(lines) and any(m.command == "465" for m in lines), [m.raw for m in lines]
    listed = op(f"SECURITY {kind} LIST")
    assert listed[0] == f"{label}s (1):" and listed[1].startswith(f"  {mask} - Go away now [set by {admin_nick}; "
                                                                  "expires in "), listed
    assert op(f"SECURITY {kind} LIST *@elsewhere") == [f"No {label}s matching *@elsewhere"]
    saved = ban_line(op.lines(), kind.lower(), mask)
    assert saved is not None, op.lines()
    until, by, at, reason = saved.groups()
    assert int(until) - int(at) == seconds and by == admin_nick and reason == "Go away now", saved.group(0)
    assert abs(int(at) - time.time()) < 60

    assert op(f"SECURITY {kind} DEL {mask}") == [f"{label} for {mask} removed"]
    assert ban_line(op.lines(), kind.lower(), mask) is None
    assert op(f"SECURITY {kind} LIST") == [f"No {label}s"]
    back, lines = attempt(shared_server.port, unique_nick("vb"), user=user)
    back.close()
    assert lines[-1].command == "001"
    bystander.close()


def test_zline_by_ip(shared_server, op):
    """SECURITY ZLINE ADD <ip> disconnects every client from that IP at
    once and refuses new connections from it before registration, while
    127.0.0.1 is unaffected; a permanent Z-line is saved without expiry;
    DEL lets the IP back."""
    victim = _victim(shared_server, unique_nick("zv"), source="127.0.0.2")
    reply = op.one("SECURITY ZLINE ADD 127.0.0.2 0 Open proxy")
    assert reply == f"Z-line added: 127.0.0.2 - Open proxy [set by {op.client.nick}; permanent]"
    lines = victim.wait_closed()
    assert any(m.command == "465" and "Open proxy (Z-line, permanent)" in m.trailing for m in lines), \
        [m.raw for m in lines]
    c = IRCClient.connect("127.0.0.1", shared_server.port, source="127.0.0.2", name="zline-again")
    closing = c.wait_closed()
    assert closing and closing[-1].command == "ERROR" and "Banned (Z-line: Open proxy)" in closing[-1].trailing
    ok, lines = attempt(shared_server.port, unique_nick("zo"))
    ok.close()
    assert lines[-1].command == "001"
    saved = ban_line(op.lines(), "zline", "127.0.0.2")
    assert saved is not None and saved.group(1) is None and saved.group(4) == "Open proxy", op.lines()
    assert op("SECURITY ZLINE LIST")[1] == f"  127.0.0.2 - Open proxy [set by {op.client.nick}; permanent]"
    assert op("SECURITY ZLINE DEL 127.0.0.2") == ["Z-line for 127.0.0.2 removed"]
    back, lines = attempt(shared_server.port, unique_nick("zb"), source="127.0.0.2")
    back.close()
    assert lines[-1].command == "001"
    assert ban_line(op.lines(), "zline", "127.0.0.2") is None


def test_security_list_summarises(op):
    """SECURITY LIST counts the bans of each kind and shows every setting."""
    op("SECURITY KLINE ADD *@spam.example.org Spam")
    try:
        listing = op("SECURITY LIST")
        assert listing[:4] == ["SECURITY settings:", "  K-lines: 1 (SECURITY KLINE LIST)",
                               "  AKILLs: 0 (SECURITY AKILL LIST)", "  Z-lines: 0 (SECURITY ZLINE LIST)"], listing
        for label in ("Flood control", "Flood penalties", "Flood seconds", "Flood kill",
                      "Opers exempt from flood", "Default trigger", "Trigger exceptions", "Connections per second"):
            assert any(l.startswith(f"  {label}: ") for l in listing), (label, listing)
    finally:
        op("SECURITY KLINE DEL *@spam.example.org")


# -- SECURITY: flood, triggers, connection rate (a server of their own) --------------------


def test_flood_settings_change_throttling(irc_server, irc_client):
    """SECURITY SET FLOOD on with PENALTIES/SECONDS/KILL makes a burst of
    lines from a client end in Excess Flood; FLOOD OPER off subjects
    operators too; FLOOD off lets the same burst through. Each is listed
    and saved."""
    srv = irc_server()
    op = Operator(srv)
    try:
        assert op("SECURITY SET FLOOD PENALTIES 8") == ["Flood penalties set to 8"]
        assert op("SECURITY SET FLOOD SECONDS 12") == ["Flood seconds set to 12"]
        assert op("SECURITY SET FLOOD KILL 5") == ["Flood kill set to 5"]
        assert op("SECURITY SET FLOOD on") == ["Flood control set to on"]
        for line in ("security set flood penalties 8", "security set flood seconds 12",
                     "security set flood kill 5"):
            assert line in op.lines(), op.lines()
        assert "security set flood off" not in op.lines()
        listing = op("SECURITY LIST")
        for line in ("Flood control: on", "Flood penalties: 8", "Flood seconds: 12", "Flood kill: 5"):
            assert f"  {line}" in listing, listing

        # Registration spent 3 of the 8 points (NICK 2, USER 1): about 5
        # PINGs run, the rest queue until more than 5 points wait.
        c = irc_client(srv, unique_nick("fl"))
        for i in range(20):
            c.send(f"PING :f{i}")
        lines = c.wait_closed(timeout=10)
        assert lines[-1].command == "ERROR" and "Excess Flood" in lines[-1].trailing, [m.raw for m in lines]
        pongs = [m.trailing for m in lines if m.command == "PONG"]
        assert pongs == [f"f{i}" for i in range(len(pongs))] and 3 <= len(pongs) <= 7, pongs

        # Operators are exempt by default: the admin's own burst goes through.
        for i in range(20):
            op.client.send(f"PING :o{i}")
        assert op.client.collect(lambda m: m.command == "PONG" and m.trailing == "o19")
        assert op("SECURITY SET FLOOD OPER off") == ["Opers exempt from flood set to off"]
        assert "security set flood oper off" in op.lines()
        o2 = irc_client(srv, unique_nick("fo"))
        o2.oper(*ADMIN_OPER[:2])
        for i in range(20):
            o2.send(f"PING :p{i}")
        assert o2.wait_closed(timeout=10)[-1].trailing.endswith("(Excess Flood)")

        assert op("SECURITY SET FLOOD off") == ["Flood control set to off"]
        assert "security set flood off" in op.lines()
        c = irc_client(srv, unique_nick("fk"))
        for i in range(30):
            c.send(f"PING :k{i}")
        got = c.collect(lambda m: m.command == "PONG" and m.trailing == "k29", timeout=10)
        assert len([m for m in got if m.command == "PONG"]) == 30
    finally:
        op.close()


def test_deftrigger_trigger_and_cps_limit_connections(irc_server):
    """DEFTRIGGER limits connections per IP (the next one gets ERROR), a
    TRIGGER exception for one IP raises or lifts it, TRIGGER DEL puts the
    default back, DEFTRIGGER 0 removes the limit; CPS limits new
    connections per second. Each is listed and saved."""
    srv = irc_server()
    op = Operator(srv)
    held = []
    try:
        assert op("SECURITY TRIGGER ADD 127.0.0.1 0") == ["Trigger for 127.0.0.1 set to unlimited"]
        assert op("SECURITY SET DEFTRIGGER 2") == ["Default trigger set to 2"]
        assert {"security trigger add 127.0.0.1 0", "security set deftrigger 2"} <= set(op.lines())
        for i in range(2):
            c, lines = attempt(srv.port, unique_nick("tr"), source="127.0.0.3")
            assert lines[-1].command == "001"
            held.append(c)
        c, lines = attempt(srv.port, unique_nick("tx"), source="127.0.0.3")
        assert refused(lines) and "Too many connections from your IP address (2)" in lines[-1].trailing
        ok, lines = attempt(srv.port, unique_nick("tl"))  # 127.0.0.1 is exempt
        held.append(ok)
        assert lines[-1].command == "001"

        assert op("SECURITY TRIGGER ADD 127.0.0.3 3") == ["Trigger for 127.0.0.3 set to 3"]
        assert op("SECURITY TRIGGER LIST") == ["Trigger exceptions:", "  127.0.0.1 unlimited", "  127.0.0.3 3"]
        c, lines = attempt(srv.port, unique_nick("t3"), source="127.0.0.3")
        assert lines[-1].command == "001"
        held.append(c)
        c, lines = attempt(srv.port, unique_nick("t4"), source="127.0.0.3")
        assert refused(lines) and "(3)" in lines[-1].trailing
        assert op("SECURITY TRIGGER DEL 127.0.0.3") == ["Trigger exception for 127.0.0.3 removed"]
        assert "security trigger add 127.0.0.3 3" not in op.lines()
        assert op("SECURITY SET DEFTRIGGER 0") == ["Default trigger set to 0"]
        assert "security set deftrigger 0" in op.lines()
        c, lines = attempt(srv.port, unique_nick("t5"), source="127.0.0.3")
        assert lines[-1].command == "001"
        held.append(c)

        assert op("SECURITY CPS 2") == ["Connections per second set to 2"]
        assert "security cps 2" in op.lines()
        burst = [IRCClient.connect(srv.host, srv.port, name=f"cps{i}") for i in range(6)]
        held.extend(burst)
        closed = [b for b in burst if any(m.command == "ERROR" and "Too many new connections" in m.trailing
                                          for m in b.drain(0.5))]
        assert 2 <= len(closed) <= 5, len(closed)  # 2 a second admitted (4 refused unless the burst is slow)
        assert op("SECURITY CPS 0") == ["Connections per second set to 0"]
        time.sleep(1.1)
        more = [IRCClient.connect(srv.host, srv.port, name=f"cpsok{i}") for i in range(6)]
        held.extend(more)
        assert not any(m.command == "ERROR" for b in more for m in b.drain(0.3))
        assert not any(b.closed for b in more)
    finally:
        for c in held:
            c.close()
        op.close()


def test_every_declared_verb_was_typed(request):
    """Every verb the AS tree declares (HELP lists each) was typed over a
    real connection by the tests of this module."""
    selected = {item.originalname for item in request.session.items if item.module is request.module}
    if selected != {name for name in vars(request.module) if name.startswith("test_")}:
        pytest.skip("only part of the module was selected")
    paths = [tuple(p.lower() if isinstance(p, str) else f"<{p.name}>" for p in verb.path)
             for verb in build_tree(bcrypt_rounds=4).verbs]
    typed = {verb_of(paths, command) for command in TYPED}
    missing = [" ".join(p).upper() for p in paths if p not in typed]
    assert not missing, f"AS verbs never typed: {missing}"
