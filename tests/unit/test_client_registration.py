"""Registration: CAP, NICK, USER, the welcome burst, PING and QUIT."""

from tests.helpers import connect, feed, make_core, register, sent


def test_welcome_burst() -> None:
    """NICK and USER give 001-005, LUSERS and the MOTD."""
    core = make_core()
    conn = connect(core)
    feed(conn, "NICK alice", "USER al 0 * :Alice Liddell")
    codes = [m.command for m in sent(conn)]
    assert codes[:4] == ["001", "002", "003", "004"]
    assert "005" in codes and "251" in codes and codes[-1] == "376"


def test_isupport_tokens() -> None:
    """ISUPPORT declares rfc1459 casemapping, the network name and PREFIX."""
    core = make_core()
    conn = connect(core)
    feed(conn, "NICK alice", "USER al 0 * :Alice")
    tokens = [p for m in sent(conn) if m.command == "005" for p in m.params[1:-1]]
    assert "CASEMAPPING=rfc1459" in tokens
    assert "NETWORK=TestNet" in tokens
    assert "PREFIX=(qov)~@+" in tokens
    assert "CHANMODES=beI,k,l,imnpst" in tokens


def test_cap_negotiation_holds_registration() -> None:
    """CAP LS suspends registration until CAP END; REQ is acknowledged."""
    core = make_core()
    conn = connect(core)
    feed(conn, "CAP LS 302", "NICK bob", "USER b 0 * :Bob")
    out = sent(conn)
    assert out[0].command == "CAP" and out[0].params[1] == "LS"
    assert "multi-prefix" in out[0].params[-1].split()
    assert not any(m.command == "001" for m in out)
    feed(conn, "CAP REQ :multi-prefix echo-message")
    ack = sent(conn)[0]
    assert ack.params[1:] == ("ACK", "multi-prefix echo-message")
    feed(conn, "CAP END")
    assert any(m.command == "001" for m in sent(conn))
    assert {"multi-prefix", "echo-message", "cap-notify"} <= conn.caps


def test_cap_req_unknown_is_naked() -> None:
    """A REQ naming an unknown capability is refused whole."""
    core = make_core()
    conn = connect(core)
    feed(conn, "CAP REQ :multi-prefix bogus-cap")
    nak = sent(conn)[0]
    assert nak.params[1] == "NAK"
    assert "multi-prefix" not in conn.caps


def test_nick_in_use_and_erroneous() -> None:
    """A taken nick gets 433, a malformed one 432, none at all 431."""
    core = make_core()
    register(core, "alice")
    conn = connect(core)
    feed(conn, "NICK Alice")
    assert sent(conn)[0].command == "433"
    feed(conn, "NICK 1abc")
    assert sent(conn)[0].command == "432"
    feed(conn, "NICK")
    assert sent(conn)[0].command == "431"


def test_nick_change_case_folding() -> None:
    """rfc1459 folding: [alice] and {ALICE} are the same nick."""
    core = make_core()
    register(core, "[alice]")
    conn = connect(core)
    feed(conn, "NICK {ALICE}")
    assert sent(conn)[0].command == "433"


def test_commands_before_registration() -> None:
    """A command that needs registration gets 451 before it."""
    core = make_core()
    conn = connect(core)
    feed(conn, "JOIN #x")
    assert sent(conn)[0].command == "451"


def test_user_twice_and_pass_after() -> None:
    """USER or PASS after registration gets 462."""
    core = make_core()
    conn = register(core, "alice")
    feed(conn, "USER x 0 * :y", "PASS z")
    assert [m.command for m in sent(conn)] == ["462", "462"]


def test_ping_pong_and_missing_origin() -> None:
    """PING is answered with PONG carrying the token; empty token is 409."""
    core = make_core()
    conn = register(core, "alice")
    feed(conn, "PING :abc def")
    pong = sent(conn)[0]
    assert pong.command == "PONG" and pong.params == ("test.local", "abc def")
    feed(conn, "PING :")
    assert sent(conn)[0].command == "409"


def test_quit_sends_error_and_closes() -> None:
    """QUIT gets ERROR with the reason and the user leaves the network."""
    core = make_core()
    conn = register(core, "alice")
    feed(conn, "QUIT :gone fishing")
    out = sent(conn)
    assert out[-1].command == "ERROR" and "Quit: gone fishing" in out[-1].params[0]
    assert core.network.find_user("alice") is None
    assert conn.transport.disconnecting


def test_registration_timeout() -> None:
    """A connection that never registers is closed after 60 seconds."""
    core = make_core()
    conn = connect(core)
    feed(conn, "NICK lazy")
    core.clock.advance(61)
    out = sent(conn)
    assert out[-1].command == "ERROR" and "Registration timed out" in out[-1].params[0]


def test_ping_timeout() -> None:
    """An idle user is PINGed after 90 s and dropped 90 s later without answer."""
    core = make_core()
    conn = register(core, "idle")
    core.clock.advance(91)
    assert sent(conn)[0].command == "PING"
    core.clock.advance(91)
    out = sent(conn)
    assert out[-1].command == "ERROR" and "Ping timeout" in out[-1].params[0]
    assert core.network.find_user("idle") is None


def test_pong_keeps_connection() -> None:
    """Answering the server's PING keeps an idle user connected."""
    core = make_core()
    conn = register(core, "busy")
    for _ in range(5):
        core.clock.advance(91)
        feed(conn, "PONG :test.local")
    assert core.network.find_user("busy") is not None
    assert not conn.transport.disconnecting


def test_cap_ls_with_a_non_ascii_digit_version() -> None:
    """``CAP LS ²`` (a superscript passes str.isdigit) is read as no version:
    a plain CAP LS reply, not 400 and a traceback in the log."""
    core = make_core()
    conn = connect(core)
    for version in ("²", "٣٠٢", "3O2"):
        feed(conn, f"CAP LS {version}")
        [reply] = sent(conn)
        assert reply.command == "CAP" and reply.params[1] == "LS" and reply.params[2] != "*"
    feed(conn, "CAP LS 302")
    assert all(m.command == "CAP" for m in sent(conn))


def test_user_names_are_cleaned_to_printable_ascii_without_mask_characters() -> None:
    """The user name shown in the mask: '~' and the name given, cut to 10 characters; spaces, '@', '!',
    ':', control and non-ASCII characters left out (the rest kept in order); nothing left gives ~user."""
    cases = [
        ("al", "~al"), ("averyveryverylongname", "~averyvery"), ("a@b!c", "~abc"), ("jos\u00e9", "~jos"),
        ("@!", "~user"), ("tab\tbed", "~tabbed"), ("x~y.z-_", "~x~y.z-_"), ("\u00e9\u00e9", "~user"),
    ]
    for i, (given, shown) in enumerate(cases):
        core = make_core()
        conn = connect(core)
        feed(conn, f"NICK n{i}", f"USER {given} 0 * :Real Name")
        welcome = sent(conn)[0]
        assert welcome.command == "001", given
        assert welcome.params[-1].endswith(f" n{i}!{shown}@127.0.0.1"), (given, welcome.params[-1])
