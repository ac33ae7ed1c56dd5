"""The welcome burst (001-005, LUSERS, MOTD) is written from a template built once per
settings snapshot: what a client reads must be byte for byte what line-by-line sending gives."""

from __future__ import annotations

from dataclasses import replace

from conferenceroom.client.protocol import ClientConnection
from conferenceroom.client.welcome import send_isupport, send_lusers, send_motd
from tests.helpers import connect, feed, make_core


def _welcome_bytes(core, nick: str) -> tuple[ClientConnection, bytes]:  # type: ignore[no-untyped-def]
    """Register ``nick`` and return its connection and everything it read up to the MOTD's end."""
    conn = connect(core, ip=f"10.0.0.{len(core.connections) + 1}")
    feed(conn, f"NICK {nick}", f"USER {nick} 0 * :Real {nick}")
    assert conn.user is not None
    data = conn.transport.value()
    conn.transport.clear()
    return conn, data


def _line_by_line(conn: ClientConnection) -> bytes:
    """The same welcome sent one numeric at a time (the form every other reply takes)."""
    core, user = conn.core, conn.user
    assert user is not None
    conn.reply("RPL_WELCOME", core.settings.network, user.mask)
    conn.reply("RPL_YOURHOST", core.name, core.version)
    conn.reply("RPL_CREATED", core.created)
    conn.reply("RPL_MYINFO", core.name, *core.myinfo())
    send_isupport(conn)
    send_lusers(conn)
    send_motd(conn)
    data = conn.transport.value()
    conn.transport.clear()
    return data


def test_welcome_is_the_same_bytes_as_line_by_line() -> None:
    """Several clients in a row (the template reused) each read exactly the line-by-line welcome,
    with their own nick in every line and the LUSERS counts of their moment."""
    core = make_core()
    core.motd_lines = ["Welcome to the test network", "", "  indented : colon line"]
    for nick in ("alice", "b", "Carol[away]", "x" * 30):
        conn, data = _welcome_bytes(core, nick)
        assert data == _line_by_line(conn)
        assert f" 001 {nick} :Welcome to the TestNet".encode() in data
    assert core.welcome_template.lines == 4 + 3 + 7 + 5  # the template was used, not line by line


def test_no_motd_gives_422_in_the_template() -> None:
    """Without a MOTD the welcome ends with 422, as before."""
    core = make_core()
    core.motd_lines = None
    conn, data = _welcome_bytes(core, "dave")
    assert data == _line_by_line(conn)
    assert data.rstrip(b"\r\n").split(b"\r\n")[-1].split(b" ")[1] == b"422"


def test_a_changed_snapshot_or_motd_is_seen_by_the_next_client() -> None:
    """A new settings snapshot (REHASH, AS) and a reloaded MOTD reach the next client's welcome."""
    core = make_core()
    _welcome_bytes(core, "first")
    core.apply_settings(replace(core.settings, network="OtherNet"))
    core.motd_lines = ["a new MOTD"]
    conn, data = _welcome_bytes(core, "second")
    assert core.welcome_template.key[0] is core.settings
    assert b"Welcome to the OtherNet" in data and b"NETWORK=OtherNet" in data
    assert b":- a new MOTD\r\n" in data and b"Test MOTD line" not in data
    assert data == _line_by_line(conn)


def test_lines_near_the_length_limit_are_cut_as_before() -> None:
    """A MOTD line so long that a long nick makes it pass 512 bytes is cut exactly as line-by-line
    sending cuts it (the template is not used for that nick), and a short nick still fits whole."""
    core = make_core()
    core.motd_lines = ["m" * 470]
    for nick in ("n", "long" * 7):
        conn, data = _welcome_bytes(core, nick)
        assert data == _line_by_line(conn)
        assert all(len(line) <= 510 for line in data.split(b"\r\n"))


def test_placeholder_text_in_the_motd_is_sent_as_written() -> None:
    """A MOTD that happens to contain the template's placeholder text is still sent verbatim."""
    core = make_core()
    core.motd_lines = ["mail @nick@ for help"]
    conn, data = _welcome_bytes(core, "erin")
    assert b":- mail @nick@ for help\r\n" in data
    assert data == _line_by_line(conn)


def test_clients_with_capabilities_get_tagged_lines_line_by_line() -> None:
    """A client with server-time gets a time tag on every welcome line (the template is only for
    untagged output)."""
    core = make_core()
    conn = connect(core)
    feed(conn, "CAP LS 302", "CAP REQ :server-time", "NICK tim", "USER tim 0 * :Tim", "CAP END")
    lines = [line for line in conn.transport.value().split(b"\r\n") if b" 001 " in line or b" 376 " in line]
    assert len(lines) == 2 and all(line.startswith(b"@time=") for line in lines)


def test_network_name_with_marker_like_text_is_sent_as_written() -> None:
    """A network name that looks like the template's markers (``@0@``, ``@1@``) is written as is,
    and the user's mask still lands at the end of 001."""
    core = make_core()
    core.apply_settings(replace(core.settings, network="N@1@@0@"))
    conn, data = _welcome_bytes(core, "fred")
    assert b" 001 fred :Welcome to the N@1@@0@ Internet Relay Chat Network fred!~fred@10.0.0.1\r\n" in data
    assert data == _line_by_line(conn)


def test_replies_read_in_the_same_chunk_come_before_the_welcome() -> None:
    """A client that sends PING, NICK and USER in one read gets the PING's answer first, then the
    welcome: the template joins the output held for that read instead of jumping ahead of it."""
    core = make_core()
    conn = connect(core, ip="10.0.0.9")
    conn.dataReceived(b"PING early\r\nNICK erin\r\nUSER erin 0 * :Erin\r\n")
    lines = conn.transport.value().split(b"\r\n")
    verbs = [line.split(b" ")[1] for line in lines if line]
    assert b"001" in verbs
    first_welcome = verbs.index(b"001")
    assert verbs[:first_welcome], "the PING got no answer before the welcome"
    assert conn.lines_out == len([line for line in lines if line])
