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
