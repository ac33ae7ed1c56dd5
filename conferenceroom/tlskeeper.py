# -*- test-case-name: tests.unit.test_tlskeeper -*-
"""The client TLS certificate in force: loaded, renewed in place, watched for expiry.

One :class:`TLSKeeper` per server.  Every TLS listener makes its connections
with the keeper's :class:`~conferenceroom.tls.ServerCreator`, so a renewed
certificate (certbot writes new contents at the same path) is put in place
by :meth:`TLSKeeper.reload` on REHASH or SIGHUP without closing any port:
connections already made keep their session, new handshakes get the new
certificate.  A pair that cannot be loaded leaves the one in force and says
why.  Operators (+s) and the log are warned from
:data:`~conferenceroom.tls.EXPIRY_WARNING` before expiry: at start-up, on
every reload and once a day (a timer on the server's clock).
"""

from __future__ import annotations

import datetime
from typing import Any, Callable

from twisted.internet import defer, task
from twisted.logger import Logger

from . import tls

#: Seconds between two expiry checks.
CHECK_EVERY = 24 * 3600.0


class TLSKeeper:
    """The loaded certificate, its listeners' connection creator, reloads and expiry checks.

    ``load(settings)`` builds a :class:`~conferenceroom.tls.ServerTLS`
    (blocking: run in a thread by ``run_blocking``); ``notice(text)`` tells
    the operators.
    """

    log = Logger()

    def __init__(self, clock: Any, load: Callable[[Any], tls.ServerTLS],
                 run_blocking: Callable[..., defer.Deferred], notice: Callable[[str], None]) -> None:
        self.clock = clock
        self.load = load
        self.run_blocking = run_blocking
        self.notice = notice
        self.current: tls.ServerTLS | None = None
        self.creator: tls.ServerCreator | None = None
        self._timer: task.LoopingCall | None = None

    def now(self) -> datetime.datetime:
        """The clock's time as an aware UTC datetime."""
        return datetime.datetime.fromtimestamp(self.clock.seconds(), datetime.timezone.utc)

    def install(self, loaded: tls.ServerTLS) -> tls.ServerCreator:
        """Put ``loaded`` in force for new handshakes; the creator listeners must use."""
        if self.creator is None:
            self.creator = loaded.creator or tls.ServerCreator(loaded.options)
        else:
            self.creator.swap(loaded.options)
        self.current = loaded
        self.check_expiry()
        self._start_timer()
        return self.creator

    def reload(self, settings: Any) -> defer.Deferred:
        """Read the certificate files again and use them if they load; fires with a sentence.

        Nothing changes when they cannot be loaded: operators are told why
        and the pair in force stays.
        """
        old = self.current
        d = self.run_blocking(self.load, settings)

        def loaded(new: tls.ServerTLS) -> str:
            if self.creator is None:  # no listener took the keeper's creator yet: nothing serves TLS
                return "TLS certificate checked"
            self.install(new)
            if old is not None and old.fingerprint == new.fingerprint:
                return f"TLS certificate unchanged ({new.fingerprint})"
            text = (f"TLS certificate reloaded from {new.cert_path}: fingerprint {new.fingerprint}, "
                    f"expires {_date(new.not_after)}; connected clients stay, new connections get it")
            self.log.info("{text}", text=text)
            self.notice(text)
            return text

        def failed(failure: Any) -> str:
            why = failure.getErrorMessage()
            keep = f"; still using {old.fingerprint}" if old is not None else ""
            text = f"TLS certificate not reloaded: {why}{keep}"
            self.log.error("{text}", text=text)
            self.notice(text)
            return text

        return d.addCallbacks(loaded, failed)

    def check_expiry(self) -> str | None:
        """Warn operators and the log when the certificate in force expires soon; the warning or None."""
        if self.current is None:
            return None
        warning = tls.expiry_warning(self.current, self.now())
        if warning is not None:
            self.log.warn("{warning}", warning=warning)
            self.notice(warning)
        return warning

    def _start_timer(self) -> None:
        if self._timer is None:
            self._timer = task.LoopingCall(self.check_expiry)
            self._timer.clock = self.clock
            self._timer.start(CHECK_EVERY, now=False)

    def forget(self) -> None:
        """No TLS port any more (SSL DISABLE): nothing in force, no daily check."""
        self.current = None
        self.stop()

    def stop(self) -> None:
        """Stop the daily check (the service stops)."""
        if self._timer is not None and self._timer.running:
            self._timer.stop()
        self._timer = None

    def status(self) -> list[str]:
        """Lines about the certificate in force, for ``GENERAL SSL LIST``."""
        loaded = self.current
        if loaded is None:
            return ["Certificate in use: none (the TLS port is not open)"]
        days = (loaded.not_after - self.now()).days if loaded.not_after is not None else None
        left = "" if days is None else (f" (in {days} days)" if days >= 0 else " (EXPIRED)")
        return [
            f"Certificate in use: {loaded.cert_path}{' (self-signed, generated)' if loaded.generated else ''}",
            f"Fingerprint (SHA-256): {loaded.fingerprint}",
            f"Expires: {_date(loaded.not_after)}{left}",
        ]


def _date(when: datetime.datetime | None) -> str:
    return "unknown" if when is None else f"{when:%Y-%m-%d %H:%M} UTC"
