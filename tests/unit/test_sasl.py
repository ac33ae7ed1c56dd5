"""IRCv3 SASL (PLAIN and EXTERNAL) against the services accounts, before and after registration."""

from __future__ import annotations

import base64

import pytest

from tests.helpers import connect, feed, make_core, register, sent
from tests.unit.svchelpers import services_core

PASSWORD = "sesame42"


def b64(*parts: str) -> str:
    return base64.b64encode("\x00".join(parts).encode()).decode()


@pytest.fixture
def core(tmp_path):
    """A core running services with account jilles (password sesame42)."""
    core = services_core(tmp_path)
    core.services.accounts.register("jilles", PASSWORD)
    core.clock.advance(0)
    assert core.services.accounts.get("jilles") is not None
    return core


def start(core, caps="sasl"):  # type: ignore[no-untyped-def]
    """An unregistered connection that took ``caps``."""
    conn = connect(core)
    feed(conn, "CAP LS 302", f"CAP REQ :{caps}")
    sent(conn)
    return conn


def exchange(conn, *lines):  # type: ignore[no-untyped-def]
    """Send AUTHENTICATE lines; what came back as (command, params)."""
    feed(conn, *[f"AUTHENTICATE {line}" for line in lines])
    conn.core.clock.advance(0)
    return [(m.command, m.params) for m in sent(conn)]


def test_sasl_offered_with_services_and_mechanisms():
    """CAP LS 302 offers sasl=PLAIN,EXTERNAL only while services are on the network."""
    plain = make_core()
    conn = connect(plain)
    feed(conn, "CAP LS 302")
    assert "sasl" not in " ".join(m.params[-1] for m in sent(conn))


def test_sasl_value_in_cap_ls(core):
    """With services running, CAP LS 302 lists sasl=PLAIN,EXTERNAL."""
    conn = connect(core)
    feed(conn, "CAP LS 302")
    assert "sasl=PLAIN,EXTERNAL" in " ".join(m.params[-1] for m in sent(conn)).split()


def test_plain_before_registration_under_the_accounts_nick_registers_with_r(core):
    """AUTHENTICATE PLAIN, +, the response: 900 with the account then 903; after CAP END as nick
    jilles the user is logged in and its welcome MODE line shows +r once."""
    conn = start(core)
    feed(conn, "NICK jilles", "USER f 0 * :Real")
    assert exchange(conn, "PLAIN") == [("AUTHENTICATE", ("+",))]
    replies = exchange(conn, b64("jilles", "jilles", PASSWORD))
    assert replies == [("900", ("jilles", "jilles!~f@127.0.0.1", "jilles", "You are now logged in as jilles")),
                       ("903", ("jilles", "SASL authentication successful"))]
    feed(conn, "CAP END")
    lines = sent(conn)
    assert conn.user.account == "jilles" and "r" in conn.user.modes
    assert [m.params for m in lines if m.command == "MODE"] == [("jilles", "+r")]


def test_plain_before_registration_under_another_nick_registers_without_r(core):
    """Logged in as jilles by SASL while registering as bar: the account without +r (no MODE line)."""
    conn = start(core)
    feed(conn, "NICK bar", "USER f 0 * :Real")
    exchange(conn, "PLAIN")
    exchange(conn, b64("jilles", "jilles", PASSWORD))
    feed(conn, "CAP END")
    lines = sent(conn)
    assert conn.user.account == "jilles" and "r" not in conn.user.modes
    assert "MODE" not in [m.command for m in lines]


def test_plain_without_authzid_and_wrong_password(core):
    """An empty authzid means the authcid; a wrong password, an empty authcid or password is 904."""
    conn = start(core)
    exchange(conn, "PLAIN")
    assert exchange(conn, b64("", "jilles", "wrong")) == [("904", ("*", "SASL authentication failed"))]
    exchange(conn, "PLAIN")
    assert exchange(conn, b64("", "", PASSWORD))[0][0] == "904"
    exchange(conn, "PLAIN")
    assert exchange(conn, b64("", "jilles", ""))[0][0] == "904"
    exchange(conn, "PLAIN")
    assert exchange(conn, b64("", "jilles", PASSWORD))[0] == (
        "900", ("*", "*!*@127.0.0.1", "jilles", "You are now logged in as jilles"))


def test_authzid_of_another_account_is_refused(core):
    """PLAIN with an authorization identity other than the authenticated one fails (904)."""
    conn = start(core)
    exchange(conn, "PLAIN")
    assert exchange(conn, b64("someoneelse", "jilles", PASSWORD))[0][0] == "904"


def test_a_response_in_chunks_of_400(core):
    """A response of 404 base64 bytes sent as 400 + 4 is put together and logs in; a 400-byte chunk
    alone gets no reply (more is expected) until the next chunk or '+'."""
    name = "j" * 140  # an account name this long exists only at this level (NickServ takes nicks)
    core.services.accounts.register(name, "p" * 20)
    core.clock.advance(0)
    data = b64(name, name, "p" * 20)
    assert len(data) == 404
    conn = start(core)
    exchange(conn, "PLAIN")
    assert exchange(conn, data[:400]) == []
    assert [c for c, _ in exchange(conn, data[400:])] == ["900", "903"]


def test_exactly_400_then_plus(core):
    """After a chunk of exactly 400 bytes, AUTHENTICATE + ends the response (here: not a login, 904)."""
    conn = start(core)
    exchange(conn, "PLAIN")
    assert exchange(conn, "QUFB" * 100) == []
    assert exchange(conn, "+") == [("904", ("*", "SASL authentication failed"))]


def test_too_long_line_abort_and_junk(core):
    """Over 400 bytes in one line: 905; '*': 906; not base64: 904; a response over 8 KiB: 904."""
    conn = start(core)
    exchange(conn, "PLAIN")
    assert exchange(conn, "A" * 401) == [("905", ("*", "SASL message too long"))]
    exchange(conn, "PLAIN")
    assert exchange(conn, "*") == [("906", ("*", "SASL authentication aborted"))]
    exchange(conn, "PLAIN")
    assert exchange(conn, "!!!") == [("904", ("*", "SASL authentication failed"))]
    exchange(conn, "PLAIN")
    replies = exchange(conn, *["A" * 400] * 25)
    assert replies[0] == ("904", ("*", "SASL authentication failed"))
    assert {c for c, _ in replies} == {"904", "908"}  # the rest are taken as unknown mechanisms


def test_unknown_mechanism_and_no_cap(core):
    """An unknown mechanism: 908 with the list, then 904; AUTHENTICATE without the cap: 904."""
    conn = start(core)
    assert exchange(conn, "FOO") == [("908", ("*", "PLAIN,EXTERNAL", "are available SASL mechanisms")),
                                     ("904", ("*", "SASL authentication failed"))]
    other = start(core, caps="multi-prefix")
    assert exchange(other, "PLAIN") == [("904", ("*", "SASL authentication failed"))]


def test_after_registration_and_again(core):
    """A registered client jilles logs in by SASL (900 then 903 together, then MODE +r); AUTHENTICATE
    again is 907."""
    conn = register(core, "jilles", caps="sasl")
    exchange(conn, "PLAIN")
    replies = exchange(conn, b64("", "jilles", PASSWORD))
    assert replies[0][0] == "900" and replies[1][0] == "903" and replies[2] == ("MODE", ("jilles", "+r"))
    assert len(replies) == 3 and conn.user.account == "jilles"
    assert exchange(conn, "PLAIN") == [("907", ("jilles", "You have already authenticated using SASL"))]


def test_after_registration_under_another_nick_is_900_903_and_nothing_more(core):
    """bar logging in to account jilles by SASL gets 900 and 903 only (the next AUTHENTICATE's reply
    follows at once, as irctest reads it); renaming to jilles then gives MODE +r."""
    conn = register(core, "bar", caps="sasl")
    exchange(conn, "PLAIN")
    assert [c for c, _ in exchange(conn, b64("", "jilles", PASSWORD))] == ["900", "903"]
    assert exchange(conn, "PLAIN") == [("907", ("bar", "You have already authenticated using SASL"))]
    feed(conn, "NICK jilles")
    assert [(m.command, m.params) for m in sent(conn)] == [("NICK", ("jilles",)), ("MODE", ("jilles", "+r"))]


def test_sasl_login_with_account_notify_is_900_first(core):
    """A registered client with account-notify logging in by SASL gets 900 and 903 straight after its
    response: no ACCOUNT about itself in front of them (900 tells it)."""
    conn = register(core, "bar", caps="sasl account-notify")
    exchange(conn, "PLAIN")
    assert [c for c, _ in exchange(conn, b64("", "jilles", PASSWORD))] == ["900", "903"]


def test_external_with_a_certificate_fingerprint(core):
    """EXTERNAL logs in the account holding the connection's certificate fingerprint; none: 904."""
    account = core.services.accounts.get("jilles")
    core.services.accounts.add_certfp(account, "ab" * 32)
    core.clock.advance(0)
    conn = start(core)
    conn.certfp = "ab" * 32
    assert exchange(conn, "EXTERNAL") == [("AUTHENTICATE", ("+",))]
    assert [c for c, _ in exchange(conn, "+")] == ["900", "903"]
    bare = start(core)
    exchange(bare, "EXTERNAL")
    assert exchange(bare, "+")[0][0] == "904"


def test_cap_end_during_an_exchange_aborts_it(core):
    """Registration completing while an exchange runs aborts it (906); the user has no account."""
    conn = start(core)
    feed(conn, "NICK bar", "USER f 0 * :Real")
    exchange(conn, "PLAIN")
    feed(conn, "CAP END")
    lines = sent(conn)
    assert lines[0].command == "906" and conn.user is not None and conn.user.account is None


def test_no_answer_times_out(core):
    """An exchange left waiting for 30 s fails with 904."""
    conn = start(core)
    exchange(conn, "PLAIN")
    core.clock.advance(31)
    assert [m.command for m in sent(conn)] == ["904"]


def test_cap_new_and_del_follow_services(tmp_path):
    """cap-notify clients get CAP DEL sasl when services leave and CAP NEW sasl=... when they return."""
    core = services_core(tmp_path)
    conn = register(core, "watcher", caps="sasl")
    core.services_control.disable("test")
    lines = [(m.command, m.params) for m in sent(conn) if m.command == "CAP"]
    assert lines == [("CAP", ("watcher", "DEL", "sasl"))] and "sasl" not in conn.caps
    core.services_control.enable()
    lines = [(m.command, m.params) for m in sent(conn) if m.command == "CAP"]
    assert lines == [("CAP", ("watcher", "NEW", "sasl=PLAIN,EXTERNAL"))]
