# -*- test-case-name: tests.unit.test_tls -*-
"""TLS contexts: certificates from the config, or a generated self-signed pair.

When ``GENERAL SSL CERT``/``KEY`` are not set, a self-signed certificate for
the server name is generated on first use in DATADIR and reused after; its
SHA-256 fingerprint is logged so peers can pin it.  Generation is blocking
work: callers run :func:`load_or_create` off the reactor thread.
"""

from __future__ import annotations

import datetime
import os
import threading
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from OpenSSL import SSL
from twisted.internet import ssl

from .atomicfile import write_atomically

GENERATED_CERT = "server-cert.pem"
GENERATED_KEY = "server-key.pem"

#: Held while checking for and generating the self-signed pair: callers run
#: in the reactor's thread pool, possibly several at once.
_GENERATING = threading.Lock()


class TLSError(Exception):
    """Certificate or key files that cannot be used; the message says why."""


@dataclass(frozen=True)
class ServerTLS:
    """A ready server context and what an operator needs to know about it."""

    options: ssl.CertificateOptions
    cert_path: str
    fingerprint: str
    generated: bool


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 fingerprint as colon-separated upper-case hex."""
    digest = cert.fingerprint(hashes.SHA256()).hex().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def _generate(name: str, cert_path: str, key_path: str, now: datetime.datetime) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    os.makedirs(os.path.dirname(cert_path) or ".", exist_ok=True)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    # The key first, the certificate last: a pair whose certificate is
    # there is complete (load_or_create generates again otherwise).
    write_atomically(key_path, key_pem, 0o600)
    write_atomically(cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)


def load_or_create(
    name: str, datadir: str, cert_path: str | None, key_path: str | None, now: datetime.datetime
) -> ServerTLS:
    """A server context from the configured files, or a generated pair in ``datadir``.

    Raises :class:`TLSError` naming the file and the reason when the
    configured files cannot be read or do not match.
    """
    generated = False
    if not cert_path:
        cert_path = os.path.join(datadir, GENERATED_CERT)
        key_path = os.path.join(datadir, GENERATED_KEY)
        with _GENERATING:  # two threads at once must not write a key and a certificate each
            if not (os.path.exists(cert_path) and os.path.exists(key_path)):
                _generate(name, cert_path, key_path, now)
                generated = True
    key_path = key_path or cert_path
    try:
        with open(cert_path, "rb") as fh:
            cert_pem = fh.read()
        with open(key_path, "rb") as fh:
            key_pem = fh.read()
    except OSError as exc:
        raise TLSError(f"cannot read {exc.filename}: {exc.strerror}") from None
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
        key = serialization.load_pem_private_key(key_pem, password=None)
    except TypeError:  # cryptography's way of saying the key is encrypted
        raise TLSError(f"{key_path}: the key is protected by a passphrase; "
                       "give a key without one (openssl pkey -in KEY -out NEWKEY)") from None
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise TLSError(f"{cert_path} / {key_path}: not a PEM certificate and key ({exc})") from None
    spki = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    if cert.public_key().public_bytes(*spki) != key.public_key().public_bytes(*spki):
        raise TLSError(f"{key_path} is not the key of {cert_path}")
    pem = ssl.PrivateCertificate.loadPEM(cert_pem + b"\n" + key_pem)
    options = AskPeerCertificate(privateKey=pem.privateKey.original, certificate=pem.original)
    return ServerTLS(options, cert_path, fingerprint(cert), generated)


def _accept_any(connection: object, cert: object, errno: int, depth: int, ok: int) -> bool:
    return True


class AskPeerCertificate(ssl.CertificateOptions):
    """Server TLS that asks the peer for a certificate and accepts any, or none.

    A server linking in presents its certificate, so a definition's
    fingerprint pin can be compared with it (IRC clients simply send none);
    the link policy, not the TLS handshake, decides what it is worth.
    """

    _asking: object = None

    def getContext(self) -> object:
        """The context, set once (before any connection uses it) to request a peer certificate."""
        if self._asking is None:
            context = super().getContext()
            context.set_verify(SSL.VERIFY_PEER, _accept_any)
            self._asking = context
        return self._asking
