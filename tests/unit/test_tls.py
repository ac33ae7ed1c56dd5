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
