"""The TS6 link handshake: our PASS/CAPAB/SERVER/SVINFO lines, the peer's, and every refusal.

Replays real ircd-hybrid 8.2.43 traffic (tests/fixtures/ts6, excerpts of
shared/interop) in both directions and checks the structure of what we send
against what hybrid sent in the same place.
"""

from __future__ import annotations

import pytest

from conferenceroom.link import ts6
from conferenceroom.link.handshake import (
    Handshake,
    HandshakeError,
    LocalIdentity,
    PeerAnnouncement,
    PeerClosed,
    State,
)
from conferenceroom.wire import Message, format_message, parse
from tests.unit.linkkit import ALPHA, NOW, clock_at, trace
from tests.unit.linkkit import handshake_feed as feed

BETA = LocalIdentity("beta.lab", "2BB", "TS6 lab server B (leaf)", serial="101-0001-001", role="leaf")


def shape(msg: Message) -> tuple[bool, str, int]:
    """What must agree between our line and hybrid's: source or not, command, parameter count."""
    return (msg.source is not None, msg.command, len(msg.params))


def lines(*texts: str) -> list[Message]:
    """Parse raw lines."""
    return [parse(t) for t in texts]


PEER_OPENING = (
    "PASS lab-fake-secret",
    "CAPAB :EOB CLUSTER RHOST HOP",
    "SERVER fake.lab 1 9FK + :raw-socket fake server",
)


def passive_after(*texts: str) -> Handshake:
    """A passive handshake (we are alpha.lab) that has accepted the peer's opening lines."""
    hs = Handshake(ALPHA, clock_at(), active=False)
    for msg in lines(*texts):
        step = hs.receive(msg)
    assert step.decide
    hs.accept("lab-fake-secret")
    return hs


# -- builders --------------------------------------------------------------


def test_builders_write_the_hybrid_forms() -> None:
    """PASS, SERVER, SVINFO, PONG and ERROR come out exactly as hybrid 8.2 writes them."""
    assert format_message(ts6.build_pass("lab-ab-secret")) == "PASS lab-ab-secret"
    assert format_message(ts6.build_server("alpha.lab", "1AA", "TS6 lab server A (hub)")) == (
        "SERVER alpha.lab 1 1AA + :TS6 lab server A (hub)"
    )
    assert format_message(ts6.build_server("a.lab", "1AA", "x", hidden=True)) == "SERVER a.lab 1 1AA +h x"
    assert format_message(ts6.build_svinfo("1AA", NOW + 0.7)) == ":1AA SVINFO 6 6 0 1795607300"
    assert format_message(ts6.build_pong("1AA", "alpha.lab", "2BB")) == ":1AA PONG alpha.lab 2BB"
    assert format_message(ts6.build_error("127.0.0.1", "Invalid password")) == (
        "ERROR :Closing Link: 127.0.0.1 (Invalid password)"
    )


def test_capab_carries_serial_role_and_owner_after_standard_tokens() -> None:
    """Our CAPAB: EOB ENCAP TBURST, any mirrored token, then CR-SERIAL, CR-ROLE and CR-OWNER."""
    tokens = ts6.our_capab_tokens("102-0000-001", "hub", extra=("QOP",))
    assert format_message(ts6.build_capab(tokens)) == (
        "CAPAB :EOB ENCAP TBURST QOP CR-SERIAL=102-0000-001 CR-ROLE=hub CR-OWNER"
    )


@pytest.mark.parametrize("serial, role", [("102-0000-01", "hub"), ("102-0000-001", "spoke")])
def test_capab_refuses_to_announce_a_bad_serial_or_role(serial: str, role: str) -> None:
    """Our own identity is checked before it goes on the wire."""
    with pytest.raises(ValueError):
        ts6.our_capab_tokens(serial, role)


@pytest.mark.parametrize(
    "text, ok",
    [("1AA", True), ("9FK", True), ("000", True), ("ABC", False), ("1aa", False), ("1AAA", False), ("1A", False)],
)
def test_sid_syntax(text: str, ok: bool) -> None:
    """A SID is a digit then two of A-Z/0-9, exactly as hybrid's valid_sid()."""
    assert ts6.valid_sid(text) is ok


@pytest.mark.parametrize(
    "text, ok",
    [
        ("alpha.lab", True),
        ("hub1.sd.com", True),
        ("irc_1.example.org", True),
        ("fake", False),
        ("a..b", False),
        (".a.b", False),
        ("a.b.", False),
        ("tenor.*", False),
        ("x" * 60 + ".com", False),
    ],
)
def test_server_name_syntax(text: str, ok: bool) -> None:
    """A server name is host-like, has a dot, no wildcard, and at most 63 characters."""
    assert ts6.valid_server_name(text) is ok


# -- replaying hybrid's handshake ------------------------------------------


def test_active_side_opens_like_hybrid() -> None:
    """Connecting out, we send PASS, CAPAB, SERVER first, shaped like alpha.lab's opening."""
    hs = Handshake(ALPHA, clock_at(), active=True, password="lab-ab-secret")
    ours = hs.start()
    hybrid = trace("hybrid-link-burst.log", "c1", "A>B")[:3]
    assert [shape(m) for m in ours] == [shape(m) for m in hybrid]
    assert [format_message(m) for m in ours] == [
        "PASS lab-ab-secret",
        "CAPAB :EOB ENCAP TBURST CR-SERIAL=102-0000-001 CR-ROLE=hub CR-OWNER",
        "SERVER alpha.lab 1 1AA + :TS6 lab server A (hub)",
    ]
    assert hs.state is State.WAIT_SERVER


def test_active_side_reads_hybrids_answer_and_completes_on_svinfo() -> None:
    """Replaying beta.lab's answer: notices ignored, SERVER asks for a decision, SVINFO completes."""
    hs = Handshake(ALPHA, clock_at(), active=True, password="lab-ab-secret")
    hs.start()
    answer = trace("hybrid-link-burst.log", "c1", "B>A")
    rest = feed(hs, answer)
    assert hs.state is State.DECIDE
    peer = hs.peer
    assert (peer.name, peer.sid, peer.description, peer.hops, peer.hidden) == (
        "beta.lab", "2BB", "TS6 lab server B (leaf)", 1, False)
    assert peer.password == "<secret>"
    assert (peer.serial, peer.role, peer.supports_owner) == (None, None, False)
    assert peer.capabilities == frozenset(
        "MLOCK KNOCK KLN TBURST RESYNC ENCAP UNKLN DLN UNDLN RHOST CLUSTER EOB HOP".split())
    sent = hs.accept()
    ours_after = [m for m in trace("hybrid-link-burst.log", "c1", "A>B") if m.command == "SVINFO"]
    assert [shape(m) for m in sent] == [shape(m) for m in ours_after]
    assert format_message(sent[0]) == f":1AA SVINFO 6 6 0 {NOW}"
    step = hs.receive(rest.pop(0))
    assert step.complete and hs.state is State.DONE
    assert (step.peer.ts_version, step.peer.ts_min, step.peer.clock_delta) == (6, 6, 0)
    assert step.peer.name == "beta.lab"
    assert rest[0].command == "UID"  # the burst belongs to the link, not the handshake


def test_passive_side_answers_like_hybrid() -> None:
    """Accepting alpha.lab's opening, we answer PASS, CAPAB, SERVER, SVINFO as beta.lab did."""
    hs = Handshake(BETA, clock_at(), active=False)
    assert hs.start() == ()
    rest = feed(hs, trace("hybrid-link-burst.log", "c1", "A>B"))
    assert hs.state is State.DECIDE and hs.peer.name == "alpha.lab" and hs.peer.sid == "1AA"
    sent = hs.accept("lab-ab-secret")
    hybrid = trace("hybrid-link-burst.log", "c1", "B>A")
    hybrid = [m for m in hybrid if m.command in ("PASS", "CAPAB", "SERVER", "SVINFO")]
    assert [shape(m) for m in sent] == [shape(m) for m in hybrid]
    assert [format_message(m) for m in sent] == [
        "PASS lab-ab-secret",
        "CAPAB :EOB ENCAP TBURST CR-SERIAL=101-0001-001 CR-ROLE=leaf CR-OWNER",
        "SERVER beta.lab 1 2BB + :TS6 lab server B (leaf)",
        f":2BB SVINFO 6 6 0 {NOW}",
    ]
    assert [m.command for m in rest[:2]] == ["451", "451"]  # alpha.lab answering beta.lab's auth notices
    assert hs.receive(rest.pop(0)).send == () and hs.receive(rest.pop(0)).send == ()
    step = hs.receive(rest.pop(0))
    assert step.complete and step.peer.ts_version == 6
    assert rest[0].command == "UID"


def test_two_conferenceroom_servers_learn_each_others_serial_and_role() -> None:
    """Between two of our servers each side learns the other's serial, role and owner support."""
    clock = clock_at()
    tenor = Handshake(BETA, clock, active=True, password=None)
    soprano = Handshake(ALPHA, clock, active=False)
    to_soprano = list(tenor.start())
    assert [m.command for m in to_soprano] == ["CAPAB", "SERVER"]  # no password: no PASS
    for msg in to_soprano:
        step = soprano.receive(msg)
    assert step.decide
    to_tenor = list(soprano.accept(None))
    for msg in to_tenor[:-1]:
        step = tenor.receive(msg)
    assert step.decide
    to_soprano = list(tenor.accept())
    assert tenor.receive(to_tenor[-1]).complete
    assert soprano.receive(to_soprano[0]).complete
    assert (tenor.peer.serial, tenor.peer.role, tenor.peer.supports_owner) == ("102-0000-001", "hub", True)
    assert (soprano.peer.serial, soprano.peer.role, soprano.peer.password) == ("101-0001-001", "leaf", None)
    assert "CR-OWNER" in soprano.peer.capabilities


def test_hidden_flag_and_qop_are_read() -> None:
    """``+h`` marks a hidden server; hybrid's QOP counts as owner support."""
    hs = Handshake(ALPHA, clock_at(), active=False)
    for msg in lines("PASS x", "CAPAB :EOB QOP", "SERVER fake.lab 1 9FK +h :hidden one"):
        hs.receive(msg)
    assert hs.peer.hidden and hs.peer.supports_owner


@pytest.mark.parametrize("capab, mirrored", [("EOB QOP AOP", "QOP AOP"), ("EOB QOP", "QOP"), ("EOB", "")])
def test_passive_side_mirrors_qop_and_aop(capab: str, mirrored: str) -> None:
    """Hybrid drops a peer whose QOP/AOP differ from its own, so we echo the ones it announced."""
    hs = Handshake(ALPHA, clock_at(), active=False)
    for msg in lines("PASS x", f"CAPAB :{capab}", "SERVER fake.lab 1 9FK + :f"):
        hs.receive(msg)
    capab_line = [m for m in hs.accept("x") if m.command == "CAPAB"][0]
    tokens = capab_line.params[0].split()
    assert [t for t in tokens if t in ("QOP", "AOP")] == mirrored.split()


def test_several_capab_lines_add_up_and_tokens_are_case_insensitive() -> None:
    """Like hybrid 8.2, CAPAB may come more than once; tokens are compared case-insensitively."""
    hs = Handshake(ALPHA, clock_at(), active=False)
    for msg in lines("CAPAB :eob", "CAPAB :encap cr-serial=101-0001-001", "CAPAB :Cr-Role=LEAF",
                     "SERVER tenor.webmaster.com 1 4TN + :Tenor"):
        hs.receive(msg)
    assert hs.peer.capabilities >= {"EOB", "ENCAP"} and hs.peer.password is None
    assert (hs.peer.serial, hs.peer.role) == ("101-0001-001", "leaf")


def test_ping_before_svinfo_is_answered_and_notices_are_ignored() -> None:
    """A PING after our SERVER gets ``:<SID> PONG <name> :<peer SID>``; NOTICE and numerics get nothing."""
    hs = passive_after(*PEER_OPENING)
    assert hs.receive(parse(":fake.lab NOTICE * :*** Looking up your hostname")).send == ()
    assert hs.receive(parse(":fake.lab 451 alpha.lab :You have not registered")).send == ()
    step = hs.receive(parse("PING :fake.lab"))
    assert [format_message(m) for m in step.send] == [":1AA PONG alpha.lab 9FK"]
    assert hs.receive(parse(":9FK SVINFO 6 6 0 :1795607290")).complete


def test_svinfo_records_the_clock_difference() -> None:
    """The peer's SVINFO time minus ours is kept, for the link-established notice."""
    hs = passive_after(*PEER_OPENING)
    step = hs.receive(parse(f"SVINFO 6 3 0 :{NOW - 12}"))  # no source, as stock TS6 sends it
    assert step.complete and step.peer.clock_delta == -12 and step.peer.ts_min == 3


def test_password_is_not_in_the_repr() -> None:
    """A PeerAnnouncement can be logged without showing the link password."""
    hs = passive_after(*PEER_OPENING)
    assert "lab-fake-secret" not in repr(hs.peer)
    assert isinstance(hs.peer, PeerAnnouncement)


def test_peer_error_is_reported_not_answered() -> None:
    """An ERROR from the peer ends the handshake with its reason, and we send nothing back."""
    hs = Handshake(ALPHA, clock_at(), active=True, password="x")
    hs.start()
    with pytest.raises(PeerClosed) as caught:
        hs.receive(parse("ERROR :Closing Link: 127.0.0.1 (Invalid password)"))
    assert caught.value.reason == "Closing Link: 127.0.0.1 (Invalid password)"
    assert hs.state is State.FAILED


def test_registration_timeout() -> None:
    """A peer that has not completed the handshake within 30 seconds is dropped with a reason."""
    clock = clock_at()
    hs = Handshake(ALPHA, clock, active=False)
    clock.advance(29)
    hs.check_timeout()
    clock.advance(1)
    with pytest.raises(HandshakeError) as caught:
        hs.check_timeout()
    assert caught.value.reason == "Link registration timed out after 30 seconds"


def test_no_timeout_once_complete() -> None:
    """A finished handshake never times out."""
    clock = clock_at()
    hs = passive_after(*PEER_OPENING)
    hs.receive(parse(f":9FK SVINFO 6 6 0 :{NOW}"))
    clock.advance(3600)
    hs.check_timeout()


def test_refuse_gives_the_error_line_and_ends_the_handshake() -> None:
    """Refusing after the policy said no yields our ERROR line; nothing more is read."""
    hs = Handshake(ALPHA, clock_at(), active=False)
    feed(hs, lines(*PEER_OPENING))
    error = hs.refuse("Invalid password for fake.lab", "127.0.0.1")
    assert format_message(error) == "ERROR :Closing Link: 127.0.0.1 (Invalid password for fake.lab)"
    assert hs.state is State.FAILED
    with pytest.raises(RuntimeError):
        hs.receive(parse(":9FK SVINFO 6 6 0 :1"))


def test_misuse_by_our_own_code_is_a_programming_error() -> None:
    """Feeding lines while a decision is due, or after completion, is a bug in the caller."""
    hs = Handshake(ALPHA, clock_at(), active=False)
    feed(hs, lines(*PEER_OPENING))
    with pytest.raises(RuntimeError):
        hs.receive(parse(":9FK SVINFO 6 6 0 :1"))
    hs.accept("x")
    hs.receive(parse(f":9FK SVINFO 6 6 0 :{NOW}"))
    with pytest.raises(RuntimeError):
        hs.receive(parse("PING :x"))
    with pytest.raises(RuntimeError):
        hs.accept("x")


# -- refusals ----------------------------------------------------------------


def refusal(texts: list[str] | list[Message], *, now: float = NOW) -> str:
    """Feed lines to a passive handshake (accepting at SERVER); return the HandshakeError reason."""
    hs = Handshake(ALPHA, clock_at(now), active=False)
    msgs = [parse(t) if isinstance(t, str) else t for t in texts]
    with pytest.raises(HandshakeError) as caught:
        for msg in msgs:
            if hs.receive(msg).decide:
                hs.accept("x")
    assert hs.state is State.FAILED
    error = format_message(ts6.build_error("127.0.0.1", caught.value.reason))
    assert error == f"ERROR :Closing Link: 127.0.0.1 ({caught.value.reason})"
    return caught.value.reason


OPEN = ["PASS x", "CAPAB :EOB"]

REFUSALS = [
    pytest.param(OPEN + ["SERVER fake 1 9FK + :f"],
                 "Invalid server name fake: expected a host-like name with at least one dot, "
                 "at most 63 characters", id="server-name"),
    pytest.param(OPEN + ["SERVER fake.lab 1 ABC + :f"],
                 "Invalid server ID ABC: expected a digit followed by two of A-Z or 0-9", id="sid-syntax"),
    pytest.param(OPEN + ["SERVER services.lab 1 :Atheme IRC Services"],
                 "SERVER needs 5 parameters (name, hop count, server ID, +flags, description), got 3: "
                 "this server speaks TS6 as ircd-hybrid 8.2 does", id="server-short"),
    pytest.param(OPEN + ["SERVER fake.lab 2 9FK + :f"],
                 "Hop count 2 in SERVER: a directly linked server must say 1", id="hops"),
    pytest.param(OPEN + ["SERVER fake.lab x 9FK + :f"],
                 "Hop count x in SERVER: a directly linked server must say 1", id="hops-text"),
    pytest.param(OPEN + ["SERVER fake.lab 1 9FK h :f"],
                 "Invalid server flags h: expected + followed by letters, like + or +h", id="flags"),
    pytest.param(OPEN + ["SERVER ALPHA.lab 1 9FK + :f"],
                 "The peer introduced itself as ALPHA.lab, which is this server's name", id="our-name"),
    pytest.param(OPEN + ["SERVER fake.lab 1 1AA + :f"],
                 "The peer introduced itself with server ID 1AA, which is this server's ID", id="our-sid"),
    pytest.param(["PASS x TS 6 :3SV", "CAPAB :EOB", "SERVER fake.lab 1 9FK + :f"],
                 "Server ID mismatch: PASS says 3SV but SERVER says 9FK", id="sid-mismatch"),
    pytest.param(["PASS x TS 6 :3S", "CAPAB :EOB", "SERVER fake.lab 1 9FK + :f"],
                 "Invalid server ID 3S: expected a digit followed by two of A-Z or 0-9", id="pass-sid"),
    pytest.param(["PASS x TS 5 :9FK"],
                 "Incompatible TS version: the peer speaks TS 5, this server needs TS 6", id="pass-ts"),
    pytest.param(["PASS x", "CAPAB :KLN UNKLN", "SERVER fake.lab 1 9FK + :f"],
                 "Missing required capability EOB: this server needs end-of-burst markers (CAPAB EOB)",
                 id="no-eob"),
    pytest.param(["PASS x", "SERVER fake.lab 1 9FK + :f"],
                 "Missing required capability EOB: this server needs end-of-burst markers (CAPAB EOB)",
                 id="no-capab"),
    pytest.param(["CAPAB :EOB CR-SERIAL=12-34 CR-ROLE=hub"],
                 "Invalid serial 12-34 in CAPAB: expected a serial like 102-0000-001", id="serial-syntax"),
    pytest.param(["CAPAB :EOB CR-SERIAL=101-0001-001 CR-ROLE=spoke"],
                 "Invalid role spoke in CAPAB: expected CR-ROLE=hub or CR-ROLE=leaf", id="role"),
    pytest.param(["CAPAB :EOB CR-SERIAL=101-0001-001 CR-ROLE=hub", "CAPAB :CR-SERIAL=101-0001-002"],
                 "Conflicting CR-SERIAL in CAPAB: 101-0001-001 and 101-0001-002", id="two-serials"),
    pytest.param(["CAPAB :EOB CR-ROLE=hub CR-ROLE=leaf"],
                 "Conflicting CR-ROLE in CAPAB: hub and leaf", id="two-roles"),
    pytest.param(["CAPAB :EOB CR-SERIAL=101-0001-001", "SERVER fake.lab 1 9FK + :f"],
                 "A ConferenceRoom server must announce both CR-SERIAL and CR-ROLE in CAPAB", id="no-role"),
    pytest.param(["CAPAB :EOB CR-ROLE=leaf", "SERVER fake.lab 1 9FK + :f"],
                 "A ConferenceRoom server must announce both CR-SERIAL and CR-ROLE in CAPAB", id="no-serial"),
    pytest.param(["CAPAB :EOB " + " ".join(f"T{i}" for i in range(65))],
                 "Too many CAPAB tokens (at most 64)", id="capab-flood"),
    pytest.param(["PASS x", "PASS y"], "PASS sent twice", id="pass-twice"),
    pytest.param(["PASS"], "PASS needs the link password", id="pass-empty"),
    pytest.param(["CAPAB"], "CAPAB needs a list of capabilities", id="capab-empty"),
    pytest.param(["NICK alice"],
                 "Unexpected NICK before SERVER: this port expects a server link (PASS, CAPAB, SERVER)",
                 id="client-on-server-port"),
    pytest.param([":fake.lab NOTICE * :hi"] * 17, "Too many lines before SERVER (at most 16)", id="chatter"),
    pytest.param(OPEN + ["SERVER fake.lab 1 9FK + :f", ":9FK UID a 1 1 + a b c 0 9FKAAAAAA * :x"],
                 "Unexpected UID before SVINFO: the burst must start with SVINFO", id="uid-first"),
    pytest.param(OPEN + ["SERVER fake.lab 1 9FK + :f", "CAPAB :EOB"],
                 "Unexpected CAPAB after SERVER", id="capab-late"),
    pytest.param(OPEN + ["SERVER fake.lab 1 9FK + :f", ":9FK SVINFO 5 5 0 :1795607300"],
                 "Incompatible TS version: the peer speaks TS 5, this server needs TS 6", id="svinfo-old"),
    pytest.param(OPEN + ["SERVER fake.lab 1 9FK + :f", ":9FK SVINFO 7 7 0 :1795607300"],
                 "Incompatible TS version: the peer speaks TS 7, this server needs TS 6", id="svinfo-new"),
    pytest.param(OPEN + ["SERVER fake.lab 1 9FK + :f", ":9FK SVINFO 6 6 0"],
                 "Malformed SVINFO: expected SVINFO <current TS> <minimum TS> 0 :<unix time>", id="svinfo-short"),
    pytest.param(OPEN + ["SERVER fake.lab 1 9FK + :f", ":9FK SVINFO six 6 0 :1"],
                 "Malformed SVINFO: expected SVINFO <current TS> <minimum TS> 0 :<unix time>", id="svinfo-text"),
    pytest.param(OPEN + ["SERVER fake.lab 1 9FK + :f", ":9FK SVINFO 6 6 0 :1795607361"],
                 "Excessive TS delta: the peer's clock is 61 seconds ahead of ours (at most 60 allowed)",
                 id="clock-ahead"),
    pytest.param(OPEN + ["SERVER fake.lab 1 9FK + :f", ":9FK SVINFO 6 6 0 :1795607000"],
                 "Excessive TS delta: the peer's clock is 300 seconds behind ours (at most 60 allowed)",
                 id="clock-behind"),
    pytest.param(OPEN + ["SERVER fake.lab 1 9FK + :f", ":2BB SVINFO 6 6 0 :1795607300"],
                 "SVINFO from 2BB, but the peer introduced itself as fake.lab (9FK)", id="svinfo-source"),
]


@pytest.mark.parametrize("texts, reason", REFUSALS)
def test_refusal_texts(texts: list[str], reason: str) -> None:
    """Every malformed, missing, out-of-order or lying handshake line gets one clear ERROR reason."""
    assert refusal(texts) == reason


def test_hybrid_refusal_trace_bad_sid() -> None:
    """The trace's fake peer with SID ABC: hybrid says 'Bogus server ID introduced'; we refuse at SERVER too."""
    peer = trace("hybrid-refusals.log", "c12", "F>A")
    hybrid = trace("hybrid-refusals.log", "c12", "A>F")[-1]
    assert hybrid.params[0].endswith("(Bogus server ID introduced)")
    assert refusal(peer).startswith("Invalid server ID ABC")


def test_hybrid_refusal_trace_old_ts_version() -> None:
    """The trace's SVINFO 5 5: like hybrid we accept SERVER first, then drop the link at SVINFO."""
    peer = trace("hybrid-refusals.log", "c13", "F>A")
    hybrid = trace("hybrid-refusals.log", "c13", "A>F")
    assert [m.command for m in hybrid[:4]] == ["NOTICE", "NOTICE", "PASS", "CAPAB"]
    assert hybrid[-1].params[0].endswith("(Incompatible TS version)")
    assert refusal(peer, now=1795607404).startswith("Incompatible TS version")


@pytest.mark.parametrize("conn, name, sid", [
    ("c9", "fake.lab", "9FK"), ("c10", "unknown.lab", "9UN"), ("c11", "beta.lab", "9BB"),
    ("c14", "fake.lab", "9FK"), ("c15", "fakehub.lab", "9FH"), ("c18", "fake.lab", "2BB"),
])
def test_hybrid_refusal_trace_peers_pass_the_handshake(conn: str, name: str, sid: str) -> None:
    """Password, unknown name, duplicates and hub_mask are not handshake matters: those peers
    complete the handshake and the policy (or the link, for SID lines) decides."""
    hs = Handshake(ALPHA, clock_at(), active=False, max_ts_delta=600)
    rest = feed(hs, trace("hybrid-refusals.log", conn, "F>A"))
    assert (hs.peer.name, hs.peer.sid) == (name, sid)
    hs.accept("lab-fake-secret")
    step = hs.receive(rest.pop(0))
    assert step.complete
    assert all(m.command in ("SID", "EOB", "PONG", "SQUIT") for m in rest)
