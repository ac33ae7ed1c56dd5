"""TLS clients over real sockets: SECUREONLY, +z and WHOIS 671/276, OPER flag e,
sts, `openssl s_client`, and a certificate renewed on disk picked up live."""

from __future__ import annotations

import datetime
import hashlib
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest

from tests.integration.adminlive import attempt, fingerprint, refused, wait_port
from tests.integration.conftest import ADMIN_OPER, free_port
from tests.integration.ircclient import IRCClient, unique_nick

OPENSSL = shutil.which("openssl")


def make_pair(directory: Path, name: str, days: float = 90.0) -> tuple[Path, Path]:
    """A self-signed RSA certificate for ``name`` valid ``days`` from now, and its key, as PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=days))
            .sign(key, hashes.SHA256()))
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / f"{name}.crt", directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def der_fingerprint_hex(cert_pem: Path) -> str:
    """Lower-case hex SHA-256 of a PEM certificate, as WHOIS 276 shows it."""
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(cert_pem.read_text())).hexdigest()


def tls_client(port: int, name: str, cert: tuple[Path, Path] | None = None,
               maximum: ssl.TLSVersion | None = None) -> IRCClient:
    """A raw IRC client over TLS (server certificate not verified), with an optional client certificate."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    if maximum is not None:
        context.maximum_version = maximum
    if cert is not None:
        context.load_cert_chain(str(cert[0]), str(cert[1]))
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock = context.wrap_socket(sock, server_hostname="127.0.0.1")
    client = IRCClient(sock, name=name)
    client.peer_certificate = sock.getpeercert(binary_form=True)
    return client


@pytest.fixture
def tls_server(irc_server, tmp_path):
    """A server with a TLS port (given certificate files), and that port."""
    def make(*extra: str, days: float = 90.0, **options):
        port = free_port()
        cert, key = make_pair(tmp_path / "certs", "irc.test", days)
        srv = irc_server([f"general ssl port {port}", "general ssl enable",
                          f"general ssl cert {cert}", f"general ssl key {key}", *extra], **options)
        wait_port(port)
        srv.tls_port, srv.cert, srv.key = port, cert, key
        return srv
    return make


def numerics(lines, code):
    return [m for m in lines if m.command == code]


def test_secureonly_refuses_plain_clients_with_an_error_and_admits_tls(tls_server):
    """SECUREONLY on: a plain client is told by ERROR to use the TLS port and
    closed (before registering); a TLS client on that port registers and is +z."""
    srv = tls_server("general set secureonly on")
    plain, lines = attempt(srv.port, unique_nick("pl"))
    assert refused(lines), [m.raw for m in lines]
    assert lines[-1].params[-1] == (
        f"Closing Link: 127.0.0.1 (This server accepts only TLS connections (port {srv.tls_port}))")
    assert plain.closed
    with tls_client(srv.tls_port, "secure") as c:
        burst = c.register(unique_nick("tl"))
        assert burst[0].command == "001"
        mode = c.expect("MODE")
        assert mode.params[-1] == "+z"


def test_tls_user_is_plus_z_with_671_and_its_certificate_in_276(tls_server, irc_client, tmp_path):
    """A TLS client with a self-signed certificate: MODE shows +z (it cannot drop it),
    WHOIS shows 671 to a plain user and 276 (its SHA-256) only to itself and to an operator."""
    srv = tls_server()
    mine = make_pair(tmp_path / "client", "alice.example")
    fp = der_fingerprint_hex(mine[0])
    alice = tls_client(srv.tls_port, "alice", mine)
    alice.register("alice")
    alice.send("MODE alice -z")
    alice.send("MODE alice")
    assert alice.expect("221").params[-1] == "+z"
    bob = irc_client(srv, "bob")
    oper = irc_client(srv, "olga")
    oper.oper(*ADMIN_OPER[:2])
    seen = {}
    for name, client in (("alice", alice), ("bob", bob), ("olga", oper)):
        client.send("WHOIS alice")
        seen[name] = client.collect("318")
    for name, lines in seen.items():
        assert [m.params[-1] for m in numerics(lines, "671")] == ["is using a secure connection"], name
    assert [m.params[-1] for m in numerics(seen["alice"], "276")] == [f"has client certificate fingerprint {fp}"]
    assert [m.params[-1] for m in numerics(seen["olga"], "276")] == [f"has client certificate fingerprint {fp}"]
    assert not numerics(seen["bob"], "276")
    bob.send("WHOIS bob")
    assert not numerics(bob.collect("318"), "671")
    alice.close()


def test_oper_flag_e_needs_tls(tls_server, irc_client):
    """An oper entry with flag e: over plain text the right password gets 491
    and a notice naming the TLS port; over TLS the same OPER succeeds."""
    srv = tls_server("oper secured add hunter22 ae")
    plain = irc_client(srv, "plainop")
    plain.send("OPER secured hunter22")
    lines = plain.collect("NOTICE")
    assert lines[-2].command == "491" or numerics(lines, "491"), [m.raw for m in lines]
    assert f"connect to port {srv.tls_port} with TLS" in lines[-1].params[-1]
    with tls_client(srv.tls_port, "tlsop") as c:
        c.register("tlsop")
        assert c.oper("secured", "hunter22")[-1].command == "381"


def test_sts_policy_over_plain_and_tls(tls_server):
    """GENERAL SSL STS on: CAP LS 302 over plain text offers sts=port=<tls>,duration=<s>,
    over TLS sts=duration=<s>; CAP REQ sts is refused."""
    srv = tls_server("general ssl sts on", "general ssl stsduration 7d")
    with IRCClient.connect(srv.host, srv.port) as plain:
        plain.send("CAP LS 302")
        ls = plain.expect("CAP").params[-1].split()
        assert f"sts=port={srv.tls_port},duration=604800" in ls
        plain.send("CAP REQ :sts")
        assert plain.expect("CAP").params[1] == "NAK"
    with tls_client(srv.tls_port, "sts") as secure:
        secure.send("CAP LS 302")
        assert "sts=duration=604800" in secure.expect("CAP").params[-1].split()


@pytest.mark.skipif(OPENSSL is None, reason="needs the openssl command")
def test_openssl_s_client_registers_with_a_client_certificate(tls_server, tmp_path):
    """`openssl s_client` over TLS 1.2 with a client certificate: registers, is +z,
    and WHOIS of itself shows 276 with its fingerprint; TLS 1.1 is refused."""
    srv = tls_server()
    cert, key = make_pair(tmp_path / "client", "s-client.example")
    fp = der_fingerprint_hex(cert)
    script = ("NICK sclient\r\nUSER sclient 0 * :openssl\r\nWHOIS sclient\r\n")
    proc = subprocess.Popen(
        [OPENSSL, "s_client", "-connect", f"127.0.0.1:{srv.tls_port}", "-tls1_2", "-quiet",
         "-cert", str(cert), "-key", str(key)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        proc.stdin.write(script.encode())
        proc.stdin.flush()
        output = b""
        deadline = time.monotonic() + 15
        while b" 318 " not in output and time.monotonic() < deadline:
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                break
            output += chunk
        text = output.decode("utf-8", "replace")
        assert " 001 sclient " in text, text
        assert "MODE sclient :+z" in text or "MODE sclient +z" in text, text
        assert f"276 sclient sclient :has client certificate fingerprint {fp}" in text, text
        assert "671 sclient sclient :is using a secure connection" in text, text
        proc.stdin.write(b"QUIT\r\n")
        proc.stdin.flush()
    finally:
        proc.kill()
        proc.wait(5)
    old = subprocess.run(
        [OPENSSL, "s_client", "-connect", f"127.0.0.1:{srv.tls_port}", "-tls1_1", "-cipher", "ALL:@SECLEVEL=0"],
        input=b"", capture_output=True, timeout=15)
    assert old.returncode != 0
    assert b"Cipher is (NONE)" in old.stdout or b"alert" in old.stderr or b"error" in old.stderr.lower()


def test_renewed_certificate_is_picked_up_live_by_rehash_and_sighup(tls_server, irc_client, tmp_path):
    """Certbot-style renewal: new files written at the same paths. After REHASH
    new TLS clients get the new certificate while the connected TLS client stays
    and keeps talking; operators are told, SSL LIST shows the new fingerprint and
    expiry; a second renewal is picked up by SIGHUP the same way."""
    srv = tls_server()
    first = fingerprint(tls_client(srv.tls_port, "probe").peer_certificate)
    stays = tls_client(srv.tls_port, "stays")
    stays.register("stays")
    oper = irc_client(srv, "olga")
    oper.oper(*ADMIN_OPER[:2])
    oper.send("MODE olga +s")

    def renew(days: float) -> tuple[str, datetime.datetime]:
        cert, key = make_pair(tmp_path / f"renewed{days}", "irc.test", days)
        shutil.copy(cert, srv.cert)
        shutil.copy(key, srv.key)
        return fingerprint(ssl.PEM_cert_to_DER_cert(srv.cert.read_text())), \
            datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=days)

    second, expires = renew(60)
    assert second != first
    oper.send("REHASH")
    note = oper.expect(lambda m: m.command == "NOTICE" and "TLS certificate reloaded" in m.params[-1], timeout=10)
    assert second in note.params[-1]
    with tls_client(srv.tls_port, "after") as after:
        assert fingerprint(after.peer_certificate) == second
    stays.send("PING :still-here")
    assert stays.expect("PONG").params[-1] == "still-here"
    oper.send("AS GENERAL SSL LIST")
    listing = [m.params[-1] for m in oper.collect(lambda m: m.command == "NOTICE" and "Expires:" in m.params[-1])]
    assert f"  Fingerprint (SHA-256): {second}" in listing, listing
    assert any(line.startswith(f"  Expires: {expires:%Y-%m-%d}") for line in listing), listing

    third, _ = renew(70)
    os.kill(srv.pid, signal.SIGHUP)
    note = oper.expect(lambda m: m.command == "NOTICE" and "TLS certificate reloaded" in m.params[-1], timeout=10)
    assert third in note.params[-1]
    with tls_client(srv.tls_port, "later") as later:
        assert fingerprint(later.peer_certificate) == third
    stays.send("PING :after-sighup")
    assert stays.expect("PONG").params[-1] == "after-sighup"
    stays.close()


def test_certificate_near_expiry_is_warned_in_the_log_at_start(tls_server):
    """A certificate 5 days from expiry: the log warns at start-up with the date and what to do."""
    srv = tls_server(days=5)
    srv.wait_for_log(r"TLS certificate .*irc\.test\.crt expires in [45] days \(.* UTC\): renew it, then REHASH")


def test_broken_renewal_keeps_the_old_certificate(tls_server, irc_client, tmp_path):
    """A renewal half written (the key of another certificate) is refused on REHASH with
    the reason; TLS clients still get the old certificate."""
    srv = tls_server()
    first = fingerprint(tls_client(srv.tls_port, "probe").peer_certificate)
    oper = irc_client(srv, "olga")
    oper.oper(*ADMIN_OPER[:2])
    other_cert, _ = make_pair(tmp_path / "other", "other.test")
    shutil.copy(other_cert, srv.cert)
    oper.send("REHASH")
    note = oper.expect(lambda m: m.command == "NOTICE" and "TLS certificate not reloaded" in m.params[-1],
                       timeout=10)
    assert "is not the key of" in note.params[-1] and first in note.params[-1]
    with tls_client(srv.tls_port, "after") as after:
        assert fingerprint(after.peer_certificate) == first
