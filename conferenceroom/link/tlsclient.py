# -*- test-case-name: tests.unit.test_link_tlsclient -*-
"""TLS for outgoing links (SPEC 8): the pinned fingerprint, or CA and name checks.

:func:`client_tls_factory` gives the ``client_tls(definition)`` callable
the :class:`~conferenceroom.link.manager.LinkManager` takes: a connection
creator that presents our certificate (so the peer can pin us) and lets the
TLS handshake finish whatever the peer shows.  The active
:class:`~conferenceroom.link.protocol.LinkConnection` then holds its first
line (PASS carries the link password) until :func:`check_peer` has judged
the peer's certificate chain; a peer that fails gets an ERROR over the TLS
session saying why, so the operators on both sides learn the reason.

:func:`check_peer` decides, in this order:

- the definition pins a SHA-256 fingerprint: exactly that certificate,
  self-signed or not (a mismatch shows the expected and the presented one);
- otherwise the chain must lead to a trusted CA (``GENERAL SSL CAFILE``, or
  the system's CAs when none is set), be valid now (expired and not yet
  valid are told apart), and name the host we dial (``service_identity``;
  when we dial an IP address, the definition's exact server name also
  counts);
- a self-signed certificate while no CA file is set (a fresh install, both
  sides with ``GENERAL SSL ENABLE`` as the manual has it) is trusted on
  first use: its fingerprint becomes the definition's pin, saved like an
  ``AS`` change, and from then on only that certificate links.  Setting a
  CA file turns this off.
"""

from __future__ import annotations

import datetime
import hmac
import ipaddress
import os
import ssl as stdlib_ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from OpenSSL import SSL, crypto
from twisted.internet import ssl
from twisted.internet.interfaces import IOpenSSLClientConnectionCreator
from twisted.logger import Logger
from zope.interface import implementer

from conferenceroom.admin.settings import ServerDef

log = Logger()

# OpenSSL verification error numbers (X509_V_ERR_*) that have their own sentence.
_UNABLE_TO_GET_ISSUER = 2
_NOT_YET_VALID = 9
_EXPIRED = 10
_SELF_SIGNED = 18
_SELF_SIGNED_IN_CHAIN = 19
_NO_LOCAL_ISSUER = 20
_LEAF_SIGNATURE = 21
_UNTRUSTED = {_UNABLE_TO_GET_ISSUER, _SELF_SIGNED_IN_CHAIN, _NO_LOCAL_ISSUER, _LEAF_SIGNATURE}


def normal_fingerprint(fingerprint: str) -> str:
    """A fingerprint as lower-case hex without colons (how pins are compared)."""
    return fingerprint.replace(":", "").strip().lower()


def show_fingerprint(fingerprint: str) -> str:
    """A fingerprint as operators see it elsewhere: colon-separated upper-case hex."""
    digest = normal_fingerprint(fingerprint).upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def _accept_for_now(connection: Any, cert: Any, errno: int, depth: int, ok: int) -> bool:
    return True  # judged by check_peer once the handshake is done, before any line leaves


@implementer(IOpenSSLClientConnectionCreator)
class LinkClientTLS:
    """Client TLS for one outgoing link: our certificate presented, the peer's kept for :func:`check_peer`.

    The TLS version floor is 1.2; *host* is sent as SNI when it is a name.
    """

    def __init__(self, host: str, identity: ssl.PrivateCertificate | None = None) -> None:
        self.host = host
        if identity is not None:
            self._options = ssl.CertificateOptions(
                privateKey=identity.privateKey.original,
                certificate=identity.original,
                raiseMinimumTo=ssl.TLSVersion.TLSv1_2,
            )
        else:
            self._options = ssl.CertificateOptions(raiseMinimumTo=ssl.TLSVersion.TLSv1_2)

    def clientConnectionForTLS(self, tlsProtocol: Any) -> SSL.Connection:
        """A client connection that asks for the peer's certificate and defers judging it."""
        connection = self._options.clientConnectionForTLS(tlsProtocol)
        connection.set_verify(SSL.VERIFY_PEER, _accept_for_now)
        if not _is_ip(self.host):
            try:
                connection.set_tlsext_host_name(self.host.encode("idna"))
            except UnicodeError:
                pass
        return connection


def client_tls_factory(identity: ssl.PrivateCertificate | None = None) -> Callable[[ServerDef], Any]:
    """``client_tls(definition)`` for the link manager; *identity* is the certificate we present."""

    def for_definition(definition: ServerDef) -> Any:
        return LinkClientTLS(definition.host or definition.name, identity)

    return for_definition


# -- judging the peer ----------------------------------------------------------


def judge_peer(core: Any, definition: ServerDef, transport: Any) -> Any:
    """A Deferred :class:`PeerCheck` of the peer on *transport* (TLS up), judged in a thread."""
    try:
        chain = peer_chain(transport)
    except Exception:
        log.failure("cannot read the TLS certificates of {handle}'s peer", handle=definition.handle)
        chain = []
    now = datetime.datetime.fromtimestamp(core.clock.seconds(), datetime.timezone.utc)
    return core.defer_to_thread(check_peer, definition, chain, cafile=core.settings.ssl_cafile, now=now)


def first_use_notice(who: str, name: str, handle: str, fingerprint: str) -> str:
    """What operators read when *fingerprint* becomes the pin of definition *handle* on first use."""
    return (f"TLS certificate of {who} is self-signed and definition {handle} pins none: pinned "
            f"{show_fingerprint(fingerprint)} on first use; from now on only this certificate links "
            f"(check it with {name}'s operator; SERVER {handle} SET FINGERPRINT changes it)")



@dataclass(frozen=True)
class PeerCheck:
    """What :func:`check_peer` found.

    ``refusal`` is the sentence for ERROR, the notice and the log (None: the
    peer may link); ``learned_pin`` is a fingerprint trusted on first use,
    to be saved as the definition's pin; ``how`` says how the peer was
    verified, for the "established" notice.
    """

    refusal: str | None = None
    learned_pin: str | None = None
    how: str = ""


def peer_chain(transport: Any) -> list[bytes]:
    """The peer's certificates (leaf first) as DER, from a TLS transport after its handshake."""
    connection = getattr(transport, "_tlsConnection", None)
    chain = None
    if connection is not None:
        chain = connection.get_peer_cert_chain(as_cryptography=True)
    if not chain:
        leaf = transport.getPeerCertificate()
        chain = [leaf.to_cryptography()] if leaf is not None else []
    from cryptography.hazmat.primitives.serialization import Encoding

    return [cert.public_bytes(Encoding.DER) for cert in chain]


def check_peer(
    definition: ServerDef, chain: Sequence[bytes], *, cafile: str | None, now: datetime.datetime
) -> PeerCheck:
    """Judge the certificates *chain* (DER, leaf first) a peer showed on a link we dialled.

    Blocking (it may read the CA file): run it off the reactor thread.
    """
    host = definition.host or definition.name
    if not chain:
        return PeerCheck(f"{host} presented no TLS certificate")
    certs = [x509.load_der_x509_certificate(der) for der in chain]
    leaf = certs[0]
    presented = leaf.fingerprint(hashes.SHA256()).hex()
    if definition.fingerprint:
        expected = normal_fingerprint(definition.fingerprint)
        if hmac.compare_digest(presented.encode(), expected.encode()):
            return PeerCheck(how="pinned certificate")
        return PeerCheck(
            f"TLS certificate fingerprint mismatch for definition {definition.handle}: "
            f"expected {show_fingerprint(expected)}, got {show_fingerprint(presented)}"
        )
    try:
        store = _trust_store(cafile)
    except (OSError, crypto.Error) as exc:
        return PeerCheck(f"cannot read the CA file {cafile}: {_reason(exc)}")
    store.set_time(now.astimezone(datetime.timezone.utc).replace(tzinfo=None))
    context = crypto.X509StoreContext(
        store, crypto.X509.from_cryptography(leaf), [crypto.X509.from_cryptography(c) for c in certs[1:]]
    )
    trusted = cafile or "the system's CAs"
    try:
        context.verify_certificate()
    except crypto.X509StoreContextError as exc:
        errno = exc.errors[0] if exc.errors else 0
        failed = exc.certificate.to_cryptography() if exc.certificate is not None else leaf
        if errno == _SELF_SIGNED and not cafile:
            return _first_use(definition, leaf, presented, now)
        return PeerCheck(_verify_failure(host, errno, failed, leaf, presented, exc, trusted, definition))
    named = _name_check(definition, host, leaf)
    if named.refusal is not None:
        return named
    return PeerCheck(how=f"certificate for {named.how} signed by a trusted CA")


def _first_use(definition: ServerDef, leaf: x509.Certificate, presented: str, now: datetime.datetime) -> PeerCheck:
    """A self-signed certificate and no CA file: pin it, unless it is not valid now."""
    host = definition.host or definition.name
    dated = _dates(host, leaf, now)
    if dated is not None:
        return PeerCheck(dated)
    return PeerCheck(learned_pin=presented, how="self-signed certificate pinned on first use")


def _dates(host: str, cert: x509.Certificate, now: datetime.datetime) -> str | None:
    if now < cert.not_valid_before_utc:
        return f"TLS certificate of {host} is not valid yet (valid from {_when(cert.not_valid_before_utc)})"
    if now > cert.not_valid_after_utc:
        return f"TLS certificate of {host} expired on {_when(cert.not_valid_after_utc)}"
    return None


def _verify_failure(
    host: str, errno: int, failed: x509.Certificate, leaf: x509.Certificate, presented: str,
    exc: Exception, trusted: str, definition: ServerDef,
) -> str:
    which = "certificate" if failed == leaf else f"CA certificate {failed.subject.rfc4514_string()} in the chain"
    if errno == _EXPIRED:
        return f"TLS {which} of {host} expired on {_when(failed.not_valid_after_utc)}"
    if errno == _NOT_YET_VALID:
        return f"TLS {which} of {host} is not valid yet (valid from {_when(failed.not_valid_before_utc)})"
    if errno == _SELF_SIGNED:
        return (f"TLS certificate of {host} is self-signed and not from a CA in {trusted}; "
                f"to trust it, pin it: SERVER {definition.handle} SET FINGERPRINT {show_fingerprint(presented)}")
    if errno in _UNTRUSTED:
        return (f"TLS certificate of {host} is not signed by a trusted CA "
                f"(issuer {leaf.issuer.rfc4514_string()}; trusted: {trusted})")
    return f"TLS certificate of {host} failed verification: {exc}"


def _name_check(definition: ServerDef, host: str, cert: x509.Certificate) -> PeerCheck:
    """Is *cert* for *host* (or, dialling an address, for the definition's exact name)?  ``how``: the name."""
    from service_identity import CertificateError, VerificationError
    from service_identity.cryptography import verify_certificate_hostname, verify_certificate_ip_address

    references: list[str] = [host]
    if _is_ip(host) and not any(ch in definition.name for ch in "*?"):
        references.append(definition.name)
    for ref in references:
        try:
            if _is_ip(ref):
                verify_certificate_ip_address(cert, ref)
            else:
                verify_certificate_hostname(cert, ref)
            return PeerCheck(how=ref)
        except (VerificationError, CertificateError, ValueError):
            continue
    names = ", ".join(_names(cert)) or "no name"
    return PeerCheck(f"TLS certificate name mismatch: it is for {names}, not {' or '.join(references)}")


def _names(cert: x509.Certificate) -> list[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return [a.value for a in cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)]  # type: ignore[misc]
    return [*san.get_values_for_type(x509.DNSName), *(str(ip) for ip in san.get_values_for_type(x509.IPAddress))]


def _trust_store(cafile: str | None) -> crypto.X509Store:
    """The CAs unpinned peers are checked against: *cafile*, or the system's."""
    store = crypto.X509Store()
    if cafile:
        with open(cafile, "rb"):  # a clear OSError (missing, unreadable) before OpenSSL's terse one
            pass
        store.load_locations(cafile)
        return store
    paths = stdlib_ssl.get_default_verify_paths()
    file = paths.cafile if paths.cafile and os.path.isfile(paths.cafile) else None
    folder = paths.capath if paths.capath and os.path.isdir(paths.capath) else None
    if file or folder:
        store.load_locations(file, folder)
    return store


def _reason(exc: Exception) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def _when(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
