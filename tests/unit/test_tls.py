"""TLS contexts: generated self-signed pairs, configured files, bad files."""

import datetime
import os

import pytest

from conferenceroom import tls

NOW = datetime.datetime(2026, 11, 25, tzinfo=datetime.timezone.utc)


def test_generates_and_reuses_self_signed(tmp_path) -> None:
    """Without configured files a pair is generated once, then reused."""
    first = tls.load_or_create("irc.test.local", str(tmp_path), None, None, NOW)
    assert first.generated
    assert os.stat(tmp_path / tls.GENERATED_KEY).st_mode & 0o077 == 0
    second = tls.load_or_create("irc.test.local", str(tmp_path), None, None, NOW)
    assert not second.generated
    assert second.fingerprint == first.fingerprint
    assert len(first.fingerprint.split(":")) == 32


def test_configured_files_are_used(tmp_path) -> None:
    """Configured cert and key paths are loaded as given."""
    made = tls.load_or_create("a.test", str(tmp_path / "gen"), None, None, NOW)
    loaded = tls.load_or_create(
        "other.name", str(tmp_path / "unused"), made.cert_path,
        str(tmp_path / "gen" / tls.GENERATED_KEY), NOW,
    )
    assert loaded.fingerprint == made.fingerprint and not loaded.generated
    assert not (tmp_path / "unused").exists()


def test_missing_and_mismatched_files_say_why(tmp_path) -> None:
    """A missing file or a key of another certificate raises TLSError with the path."""
    with pytest.raises(tls.TLSError, match="cannot read"):
        tls.load_or_create("a.test", str(tmp_path), str(tmp_path / "nope.pem"), None, NOW)
    a = tls.load_or_create("a.test", str(tmp_path / "a"), None, None, NOW)
    tls.load_or_create("b.test", str(tmp_path / "b"), None, None, NOW)
    with pytest.raises(tls.TLSError, match="is not the key"):
        tls.load_or_create("a.test", "", a.cert_path, str(tmp_path / "b" / tls.GENERATED_KEY), NOW)
    (tmp_path / "junk.pem").write_text("not a certificate")
    with pytest.raises(tls.TLSError, match="not a PEM"):
        tls.load_or_create("a.test", "", str(tmp_path / "junk.pem"), str(tmp_path / "junk.pem"), NOW)


def test_passphrase_protected_key_says_why(tmp_path) -> None:
    """A key file protected by a passphrase is a TLSError naming the file
    (the server cannot ask for the passphrase), not a TypeError that would
    stop the server at start-up."""
    from cryptography.hazmat.primitives import serialization

    made = tls.load_or_create("a.test", str(tmp_path / "gen"), None, None, NOW)
    key = serialization.load_pem_private_key((tmp_path / "gen" / tls.GENERATED_KEY).read_bytes(), None)
    locked = tmp_path / "locked.pem"
    locked.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                         serialization.BestAvailableEncryption(b"passphrase")))
    with pytest.raises(tls.TLSError, match="locked.pem") as err:
        tls.load_or_create("a.test", "", made.cert_path, str(locked), NOW)
    assert "passphrase" in str(err.value)


def test_generated_key_is_private_even_over_an_old_file(tmp_path) -> None:
    """A left-over key file (say mode 0644, its certificate gone) is replaced
    by a new key of mode 0600, and no temporary files are left behind."""
    old_key = tmp_path / tls.GENERATED_KEY
    old_key.write_text("left over")
    os.chmod(old_key, 0o644)
    made = tls.load_or_create("a.test", str(tmp_path), None, None, NOW)
    assert made.generated
    assert os.stat(old_key).st_mode & 0o777 == 0o600
    assert sorted(os.listdir(tmp_path)) == sorted([tls.GENERATED_CERT, tls.GENERATED_KEY])


def test_concurrent_first_uses_share_one_generated_pair(tmp_path) -> None:
    """Two TLS contexts built at once on a fresh data folder (an operator
    enabling SSL and changing its port in quick succession) end up with the
    same generated pair, never a key of one and the certificate of the other."""
    import threading

    results: list[object] = []

    def build() -> None:
        try:
            results.append(tls.load_or_create("a.test", str(tmp_path), None, None, NOW).fingerprint)
        except tls.TLSError as exc:
            results.append(exc)

    threads = [threading.Thread(target=build) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(results)) == 1 and isinstance(results[0], str)


# -- graded defaults, client fingerprints, renewal, expiry ---------------------------

import ssl as stdlib_ssl

from cryptography import x509
from OpenSSL import SSL


def _handshake(server: "tls.ServerTLS", client: stdlib_ssl.SSLContext, cert: bytes | None = None):
    """Run a TLS handshake in memory between ``server`` and a stdlib ``client``.

    Returns (server-side pyOpenSSL connection, client SSLObject), or raises
    the error either side met.
    """
    conn = server.creator.serverConnectionForTLS(None)
    conn.set_accept_state()
    incoming, outgoing = stdlib_ssl.MemoryBIO(), stdlib_ssl.MemoryBIO()
    obj = client.wrap_bio(incoming, outgoing, server_hostname="a.test")
    for _ in range(20):
        try:
            obj.do_handshake()
            done = True
        except stdlib_ssl.SSLWantReadError:
            done = False
        data = outgoing.read()
        if data:
            conn.bio_write(data)
        try:
            conn.do_handshake()
        except SSL.WantReadError:
            pass
        try:
            back = conn.bio_read(65536)
        except SSL.WantReadError:
            back = b""
        if back:
            incoming.write(back)
        if done and not back and not data:
            return conn, obj
    raise AssertionError("handshake did not finish")


def _client(maximum=None, minimum=None, ciphers=None) -> stdlib_ssl.SSLContext:
    ctx = stdlib_ssl.SSLContext(stdlib_ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = stdlib_ssl.CERT_NONE
    if minimum is not None:
        ctx.minimum_version = minimum
    if maximum is not None:
        ctx.maximum_version = maximum
    if ciphers is not None:
        ctx.set_ciphers(ciphers)
    return ctx


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1:DeprecationWarning")
def test_tls_1_2_and_1_3_accepted_older_versions_refused(tmp_path) -> None:
    """A client speaking TLS 1.3 or 1.2 gets in; one that offers at most TLS 1.1 is refused."""
    server = tls.load_or_create("a.test", str(tmp_path), None, None, NOW)
    _conn, obj = _handshake(server, _client())
    assert obj.version() == "TLSv1.3"
    _conn, obj = _handshake(server, _client(maximum=stdlib_ssl.TLSVersion.TLSv1_2))
    assert obj.version() == "TLSv1.2"
    old = _client(maximum=stdlib_ssl.TLSVersion.TLSv1_1)
    old.set_ciphers("ALL:@SECLEVEL=0")
    old.minimum_version = stdlib_ssl.TLSVersion.TLSv1
    with pytest.raises((stdlib_ssl.SSLError, SSL.Error)):
        _handshake(server, old)


def test_tls_1_2_offers_only_forward_secret_aead_ciphers(tmp_path) -> None:
    """Over TLS 1.2, ECDHE with AES-GCM or ChaCha20 is chosen; a client offering only
    CBC suites or plain-RSA key exchange is refused."""
    server = tls.load_or_create("a.test", str(tmp_path), None, None, NOW)
    top = stdlib_ssl.TLSVersion.TLSv1_2
    _conn, obj = _handshake(server, _client(maximum=top, ciphers="ECDHE-RSA-CHACHA20-POLY1305"))
    assert obj.cipher()[0] == "ECDHE-RSA-CHACHA20-POLY1305"
    _conn, obj = _handshake(server, _client(maximum=top))
    assert obj.cipher()[0].startswith("ECDHE-RSA-") and ("GCM" in obj.cipher()[0] or "CHACHA" in obj.cipher()[0])
    for weak in ("ECDHE-RSA-AES128-SHA", "AES128-GCM-SHA256", "ECDHE-RSA-AES256-SHA384"):
        with pytest.raises((stdlib_ssl.SSLError, SSL.Error)):
            _handshake(server, _client(maximum=top, ciphers=weak))


def test_no_compression_and_no_renegotiation(tmp_path) -> None:
    """The server context turns off TLS compression and every renegotiation."""
    server = tls.load_or_create("a.test", str(tmp_path), None, None, NOW)
    options = server.creator.context.set_options(0)  # adds nothing, returns the options in force
    assert options & SSL.OP_NO_COMPRESSION
    assert options & SSL.OP_NO_RENEGOTIATION


def _client_pair(tmp_path, name: str):
    made = tls.load_or_create(name, str(tmp_path / name), None, None, NOW)
    return made.cert_path, str(tmp_path / name / tls.GENERATED_KEY), made


def test_client_certificate_is_asked_for_never_required(tmp_path) -> None:
    """A client without a certificate gets in (no fingerprint); one with a
    self-signed certificate gets in too and its SHA-256 fingerprint is read
    as lower-case hex, the form WHOIS 276 shows."""
    server = tls.load_or_create("a.test", str(tmp_path / "srv"), None, None, NOW)
    conn, _obj = _handshake(server, _client())
    assert tls.peer_fingerprint(conn.get_peer_certificate()) is None
    cert, key, made = _client_pair(tmp_path, "alice.example")
    client = _client()
    client.load_cert_chain(cert, key)
    conn, _obj = _handshake(server, client)
    fp = tls.peer_fingerprint(conn.get_peer_certificate())
    assert fp == made.fingerprint.replace(":", "").lower() and len(fp) == 64


def test_reload_swaps_the_certificate_for_new_handshakes(tmp_path) -> None:
    """After ``reload`` a new handshake shows the new certificate, while a
    connection made before keeps working with the old one."""
    first = tls.load_or_create("a.test", str(tmp_path / "one"), None, None, NOW)
    before, obj_before = _handshake(first, _client())
    second = tls.load_or_create("a.test", str(tmp_path / "two"), None, None, NOW)
    first.creator.swap(second.options)
    _after, obj_after = _handshake(first, _client())
    seen = x509.load_der_x509_certificate(obj_after.getpeercert(binary_form=True))
    assert tls.fingerprint(seen) == second.fingerprint != first.fingerprint
    old = x509.load_der_x509_certificate(obj_before.getpeercert(binary_form=True))
    assert tls.fingerprint(old) == first.fingerprint
    assert before.get_peer_certificate() is None  # still a usable connection object


def test_expiry_date_and_warning(tmp_path) -> None:
    """The loaded pair knows its expiry; a warning is due 14 days before it and after it."""
    made = tls.load_or_create("a.test", str(tmp_path), None, None, NOW)
    assert made.not_after == NOW + datetime.timedelta(days=3650)
    assert tls.expiry_warning(made, NOW) is None
    soon = made.not_after - datetime.timedelta(days=13, hours=23)
    assert tls.expiry_warning(made, soon) == (
        f"TLS certificate {made.cert_path} expires in 13 days "
        f"({made.not_after:%Y-%m-%d %H:%M} UTC): renew it, then REHASH")
    late = made.not_after + datetime.timedelta(days=2)
    assert tls.expiry_warning(made, late) == (
        f"TLS certificate {made.cert_path} EXPIRED 2 days ago "
        f"({made.not_after:%Y-%m-%d %H:%M} UTC): renew it, then REHASH")
