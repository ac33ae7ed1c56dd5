# -*- test-case-name: tests.unit.test_link_tlsclient -*-
"""TLS for outgoing links (SPEC 8): the pinned fingerprint, or CA and name checks.

:func:`client_tls_factory` gives the ``client_tls(definition)`` callable
the :class:`~conferenceroom.link.manager.LinkManager` takes.  A definition
with a ``fingerprint`` accepts exactly that certificate, self-signed or
not; one without is checked against the trust root (the platform's CAs by
default) and the ``host`` we dial.  Either way the check runs inside the TLS
handshake, so nothing we write (PASS carries the link password) reaches a
peer that fails it.  We present our own certificate when given one, so the
peer can pin us.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives import hashes
from OpenSSL import SSL
from twisted.internet import ssl
from twisted.internet.interfaces import IOpenSSLClientConnectionCreator
from zope.interface import implementer

from conferenceroom.admin.settings import ServerDef


def _normal(fingerprint: str) -> str:
    return fingerprint.replace(":", "").strip().lower()


@implementer(IOpenSSLClientConnectionCreator)
class PinnedClientTLS:
    """Client TLS that accepts only the peer certificate whose SHA-256 is *fingerprint*."""

    def __init__(self, fingerprint: str, identity: ssl.PrivateCertificate | None = None) -> None:
        self.fingerprint = _normal(fingerprint)
        if identity is not None:
            self._options = ssl.CertificateOptions(
                privateKey=identity.privateKey.original,
                certificate=identity.original,
                raiseMinimumTo=ssl.TLSVersion.TLSv1_2,
            )
        else:
            self._options = ssl.CertificateOptions(raiseMinimumTo=ssl.TLSVersion.TLSv1_2)

    def clientConnectionForTLS(self, tlsProtocol: Any) -> SSL.Connection:
        """A client connection whose peer must present the pinned certificate."""
        connection = self._options.clientConnectionForTLS(tlsProtocol)
        connection.set_verify(SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT, self._verify)
        return connection

    def _verify(self, connection: Any, cert: Any, errno: int, depth: int, ok: int) -> bool:
        if depth > 0:
            return True  # the chain does not matter: the leaf certificate is the pin
        presented = cert.to_cryptography().fingerprint(hashes.SHA256()).hex()
        return hmac.compare_digest(presented.encode(), self.fingerprint.encode())


def client_tls_factory(
    identity: ssl.PrivateCertificate | None = None,
    trust_root: Any = None,
) -> Callable[[ServerDef], Any]:
    """``client_tls(definition)`` for the link manager.

    *identity* is our certificate and key (presented to the peer);
    *trust_root* is what unpinned peers are checked against (an
    ``IOpenSSLTrustRoot`` or a certificate; the platform's CAs when None).
    """

    def for_definition(definition: ServerDef) -> Any:
        if definition.fingerprint:
            return PinnedClientTLS(definition.fingerprint, identity)
        host = definition.host or definition.name
        return ssl.optionsForClientTLS(host, trustRoot=trust_root, clientCertificate=identity)

    return for_definition
