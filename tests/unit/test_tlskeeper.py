"""TLSKeeper: the certificate in force, renewed in place, and its expiry watched on the server's clock."""

import datetime
import shutil

from twisted.internet import defer, task

from conferenceroom import tls
from conferenceroom.tlskeeper import CHECK_EVERY, TLSKeeper

NOW = datetime.datetime(2026, 11, 25, tzinfo=datetime.timezone.utc)
DAY = 24 * 3600


def _pair(directory, expires_in_days: float):
    """A generated pair in ``directory`` that expires ``expires_in_days`` after NOW."""
    made = NOW - datetime.timedelta(days=3650) + datetime.timedelta(days=expires_in_days)
    return tls.load_or_create("irc.test", str(directory), None, None, made)


def _keeper(tmp_path, files):
    clock = task.Clock()
    clock.advance(NOW.timestamp())
    notices: list[str] = []

    def load(_settings):
        return tls.load_or_create("irc.test", "", files["cert"], files["key"], NOW)

    return TLSKeeper(clock, load, defer.maybeDeferred, notices.append), clock, notices


def _install(tmp_path, days):
    pair = _pair(tmp_path / "gen", days)
    live = tmp_path / "live"
    live.mkdir(exist_ok=True)
    shutil.copy(pair.cert_path, live / "cert.pem")
    shutil.copy(tmp_path / "gen" / tls.GENERATED_KEY, live / "key.pem")
    files = {"cert": str(live / "cert.pem"), "key": str(live / "key.pem")}
    keeper, clock, notices = _keeper(tmp_path, files)
    keeper.install(files_load(files))
    return keeper, clock, notices, files


def files_load(files):
    return tls.load_or_create("irc.test", "", files["cert"], files["key"], NOW)


def _renew(tmp_path, files, days):
    """Write a new pair over the same paths, as certbot does."""
    shutil.rmtree(tmp_path / "gen")
    pair = _pair(tmp_path / "gen", days)
    shutil.copy(pair.cert_path, files["cert"])
    shutil.copy(tmp_path / "gen" / tls.GENERATED_KEY, files["key"])
    return pair


def test_no_warning_for_a_certificate_far_from_expiry(tmp_path) -> None:
    """A certificate with 90 days left gets no warning at start nor in the next month of daily checks."""
    keeper, clock, notices, _files = _install(tmp_path, 90)
    for _ in range(30):
        clock.advance(CHECK_EVERY)
    assert notices == []


def test_warning_at_start_when_14_days_or_less_remain(tmp_path) -> None:
    """Installing a certificate 10 days from expiry tells operators at once, with the date."""
    keeper, clock, notices, files = _install(tmp_path, 10)
    assert notices == [f"TLS certificate {files['cert']} expires in 10 days "
                       f"({keeper.current.not_after:%Y-%m-%d %H:%M} UTC): renew it, then REHASH"]


def test_daily_timer_warns_once_the_certificate_comes_within_14_days(tmp_path) -> None:
    """With 16 days left nothing is said; the daily check on the server's clock
    starts warning two days later, and again each day after."""
    keeper, clock, notices, _files = _install(tmp_path, 16)
    assert notices == []
    clock.advance(CHECK_EVERY)
    assert notices == []
    clock.advance(CHECK_EVERY)
    assert len(notices) == 1 and "expires in 14 days" in notices[0]
    clock.advance(CHECK_EVERY)
    assert len(notices) == 2 and "expires in 13 days" in notices[1]


def test_reload_picks_up_a_renewed_certificate_at_the_same_path(tmp_path) -> None:
    """New contents at the same path are loaded by reload: new fingerprint in force,
    operators told, and the expiry warning stops."""
    keeper, clock, notices, files = _install(tmp_path, 5)
    creator = keeper.creator
    old = keeper.current.fingerprint
    renewed = _renew(tmp_path, files, 90)
    notices.clear()
    result = []
    keeper.reload(None).addCallback(result.append)
    assert keeper.current.fingerprint == renewed.fingerprint != old
    assert keeper.creator is creator  # the listeners' creator, its options swapped
    assert creator.options is keeper.current.options
    assert notices == result
    assert result[0].startswith(f"TLS certificate reloaded from {files['cert']}: fingerprint {renewed.fingerprint}")
    clock.advance(CHECK_EVERY * 10)
    assert len(notices) == 1


def test_a_broken_renewal_keeps_the_certificate_in_force(tmp_path) -> None:
    """A half-written renewal (a key of another certificate) is refused with the reason;
    the old certificate stays in force."""
    keeper, clock, notices, files = _install(tmp_path, 30)
    old = keeper.current
    other = _pair(tmp_path / "other", 60)
    shutil.copy(other.cert_path, files["cert"])
    keeper.reload(None)
    assert keeper.current is old and keeper.creator.options is old.options
    assert notices == [f"TLS certificate not reloaded: {files['key']} is not the key of {files['cert']}; "
                       f"still using {old.fingerprint}"]


def test_status_lines_show_fingerprint_and_expiry(tmp_path) -> None:
    """The status for SSL LIST names the file, the fingerprint and the expiry date with the days left."""
    keeper, clock, notices, files = _install(tmp_path, 40)
    cur = keeper.current
    assert keeper.status() == [
        f"Certificate in use: {files['cert']}",
        f"Fingerprint (SHA-256): {cur.fingerprint}",
        f"Expires: {cur.not_after:%Y-%m-%d %H:%M} UTC (in 40 days)",
    ]
    assert TLSKeeper(clock, None, None, None).status() == ["Certificate in use: none (the TLS port is not open)"]


def test_forget_when_the_tls_port_closes(tmp_path) -> None:
    """SSL DISABLE: the keeper forgets the certificate (SSL LIST says none is in use)
    and its daily check stops warning about a certificate nobody is served."""
    keeper, clock, notices, _files = _install(tmp_path, 3)
    notices.clear()
    keeper.forget()
    assert keeper.status() == ["Certificate in use: none (the TLS port is not open)"]
    clock.advance(CHECK_EVERY * 3)
    assert notices == []
