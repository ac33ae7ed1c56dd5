"""Link policy (SPEC sections 3-4): who may link, with which reason a refusal goes out, and auto-connect."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from conferenceroom.admin.settings import ServerDef
from conferenceroom.link.handshake import PeerAnnouncement
from conferenceroom.link.policy import (
    Accept,
    LinkView,
    Refuse,
    autoconnect_order,
    decide,
    should_autoconnect,
)

FP = "ab" * 32

TENOR = ServerDef("tenor", name="tenor.*", serial="101-0001-001", enabled=True)
BETA = ServerDef("beta", name="beta.lab", password="lab-ab-secret", role="hub", enabled=True)
FAKE = ServerDef("fake", name="fake.lab", password="lab-fake-secret", enabled=True)
ALTO = ServerDef("alto", name="alto.*", serial="103-0000-001", secureonly=True, enabled=True)
BASS = ServerDef("bass", name="bass.*", serial="104-0000-001", fingerprint=FP, enabled=True)
DUO = ServerDef("duo", name="duo.*", serial="105-0000-001", password="duo-pw", enabled=True)
OFF = ServerDef("off", name="off.*", serial="106-0000-001", enabled=False)
DEFS = (TENOR, BETA, FAKE, ALTO, BASS, DUO, OFF)


def cr_peer(name: str, serial: str, role: str = "leaf", password: str | None = None, sid: str = "4XX") -> PeerAnnouncement:
    """A ConferenceRoom peer as the handshake reports it."""
    caps = frozenset({"EOB", "CR-OWNER"})
    return PeerAnnouncement(name, sid, "desc", password=password, capabilities=caps, serial=serial, role=role)


def ts6_peer(name: str, password: str | None, sid: str = "9FK") -> PeerAnnouncement:
    """A plain TS6 peer (hybrid): no serial, no role."""
    return PeerAnnouncement(name, sid, "desc", password=password, capabilities=frozenset({"EOB"}))


def run(peer: PeerAnnouncement, **kw: Any) -> Accept | Refuse:
    """decide() with a hub that has no links, over plain TCP, and nothing else in its network."""
    args: dict[str, Any] = dict(
        our_role="hub",
        secure_transport=False,
        peer_fingerprint=None,
        server_exists=lambda name: False,
        sid_exists=lambda sid: False,
        links=(),
    )
    args.update(kw)
    definitions = args.pop("definitions", DEFS)
    return decide(peer, definitions, **args)


TENOR_PEER = cr_peer("tenor.webmaster.com", "101-0001-001")

ACCEPTED = [
    pytest.param(TENOR_PEER, {}, TENOR, "leaf", id="serial"),
    pytest.param(ts6_peer("beta.lab", "lab-ab-secret"), {}, BETA, "hub", id="ts6-password-role-from-definition"),
    pytest.param(ts6_peer("fake.lab", "lab-fake-secret"), {}, FAKE, "leaf", id="ts6-default-leaf"),
    pytest.param(cr_peer("alto.example.com", "103-0000-001"), {"secure_transport": True}, ALTO, "leaf",
                 id="secureonly-over-tls"),
    pytest.param(cr_peer("bass.example.com", "104-0000-001"),
                 {"secure_transport": True, "peer_fingerprint": "AB:" * 31 + "AB"}, BASS, "leaf", id="pin"),
    pytest.param(cr_peer("duo.example.com", "105-0000-001", password="duo-pw"), {}, DUO, "leaf",
                 id="serial-and-password"),
    pytest.param(cr_peer("tenor.webmaster.com", "101-0001-001", role="hub"),
                 {"our_role": "leaf"}, TENOR, "hub", id="unlinked-leaf-accepts-hub"),
    pytest.param(cr_peer("hub2.example.com", "101-0001-001", role="hub"),
                 {"definitions": (replace(TENOR, name="*"),),
                  "links": (LinkView("hub1.example.com", "hub"), LinkView("leaf1.example.com", "leaf"))},
                 replace(TENOR, name="*"), "hub", id="hub-accepts-more-hubs"),
    pytest.param(TENOR_PEER, {"secure_transport": True, "secure_network": True}, TENOR, "leaf",
                 id="securenetwork-over-tls"),
    pytest.param(TENOR_PEER, {"connecting_to": "tenor"}, TENOR, "leaf", id="active-side"),
]


@pytest.mark.parametrize("peer, kw, definition, role", ACCEPTED)
def test_accepted(peer: PeerAnnouncement, kw: dict[str, Any], definition: ServerDef, role: str) -> None:
    """A peer that meets every rule is accepted under its definition, with its effective role."""
    assert run(peer, **kw) == Accept(definition, role)


REFUSED = [
    pytest.param(TENOR_PEER, {"secure_network": True},
                 "Server links must use TLS on this network (SECURENETWORK is on)", id="securenetwork"),
    pytest.param(cr_peer("unknown.lab", "101-0001-001"), {},
                 "No server definition matches unknown.lab", id="no-definition"),
    pytest.param(cr_peer("off.example.com", "106-0000-001"), {},
                 "Server definition off (off.*) is disabled", id="disabled"),
    pytest.param(TENOR_PEER, {"connecting_to": "beta"},
                 "Connected to definition beta (beta.lab), but the server there calls itself tenor.webmaster.com",
                 id="active-name-mismatch"),
    pytest.param(TENOR_PEER, {"connecting_to": "off"},
                 "Server definition off (off.*) is disabled", id="active-disabled"),
    pytest.param(TENOR_PEER, {"connecting_to": "gone"},
                 "Connected to definition gone, which no longer exists", id="active-deleted"),
    pytest.param(ts6_peer("tenor.webmaster.com", "pw"), {},
                 "tenor.webmaster.com presented no serial; definition tenor requires one", id="serial-missing"),
    pytest.param(cr_peer("tenor.webmaster.com", "101-0001-009"), {},
                 "Serial 101-0001-009 of tenor.webmaster.com does not match definition tenor", id="serial-wrong"),
    pytest.param(ts6_peer("fake.lab", None), {},
                 "fake.lab sent no password; definition fake requires one", id="password-missing"),
    pytest.param(ts6_peer("fake.lab", "<secret>"), {},
                 "Invalid password from fake.lab for definition fake", id="password-wrong"),
    pytest.param(cr_peer("duo.example.com", "105-0000-001"), {},
                 "duo.example.com sent no password; definition duo requires one", id="serial-ok-password-missing"),
    pytest.param(cr_peer("alto.example.com", "103-0000-001"), {},
                 "Definition alto accepts alto.example.com only over TLS (SECUREONLY)", id="secureonly"),
    pytest.param(cr_peer("bass.example.com", "104-0000-001"), {},
                 "Definition bass pins a TLS certificate, but bass.example.com linked without TLS", id="pin-no-tls"),
    pytest.param(cr_peer("bass.example.com", "104-0000-001"), {"secure_transport": True, "peer_fingerprint": "cd" * 32},
                 "TLS certificate fingerprint mismatch for bass.example.com (definition bass): "
                 "expected AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB, got CD:CD:CD:CD:CD:CD:CD:CD:CD:CD:CD:CD:CD:CD:CD:CD:CD:CD:CD:CD:CD:CD:CD:CD:CD:CD:CD:CD:CD:CD:CD:CD",
                 id="pin-mismatch"),
    pytest.param(cr_peer("bass.example.com", "104-0000-001"), {"secure_transport": True},
                 "TLS certificate fingerprint mismatch for bass.example.com (definition bass): "
                 "expected AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB, got no certificate",
                 id="pin-no-certificate"),
    pytest.param(TENOR_PEER, {"server_exists": lambda n: n == "tenor.webmaster.com"},
                 "Server tenor.webmaster.com already exists in this network", id="name-exists"),
    pytest.param(TENOR_PEER, {"sid_exists": lambda s: s == "4XX"},
                 "Server ID 4XX is already in use in this network", id="sid-exists"),
    pytest.param(TENOR_PEER, {"our_role": "leaf"},
                 "Leaf-to-leaf links are not allowed: tenor.webmaster.com and this server are both leaves",
                 id="leaf-to-leaf"),
    pytest.param(ts6_peer("fake.lab", "lab-fake-secret"), {"our_role": "leaf"},
                 "Leaf-to-leaf links are not allowed: fake.lab and this server are both leaves",
                 id="leaf-to-ts6-leaf"),
    pytest.param(cr_peer("tenor.webmaster.com", "101-0001-001", role="hub"),
                 {"our_role": "leaf", "links": (LinkView("soprano.webmaster.com", "hub", "soprano"),)},
                 "This server is a leaf and already linked to soprano.webmaster.com; a leaf holds one link",
                 id="leaf-holds-one-link"),
]


@pytest.mark.parametrize("peer, kw, reason", REFUSED)
def test_refused(peer: PeerAnnouncement, kw: dict[str, Any], reason: str) -> None:
    """Every rule that fails refuses with its own sentence (sent in ERROR and noticed to opers)."""
    assert run(peer, **kw) == Refuse(reason)


def test_credentials_are_checked_before_existence() -> None:
    """Like hybrid, a wrong password wins over 'already exists', so a stranger learns nothing about the network."""
    result = run(ts6_peer("beta.lab", "guess"), server_exists=lambda n: True, sid_exists=lambda s: True)
    assert result == Refuse("Invalid password from beta.lab for definition beta")


def test_sid_collision_is_refused_even_when_the_name_is_new() -> None:
    """hybrid 8.2.43 links fake.lab with beta.lab's SID 2BB (its check never fires); we refuse it."""
    peer = ts6_peer("fake.lab", "lab-fake-secret", sid="2BB")
    result = run(peer, server_exists=lambda n: n == "beta.lab", sid_exists=lambda s: s == "2BB")
    assert result == Refuse("Server ID 2BB is already in use in this network")


def test_the_best_matching_definition_gives_the_reason() -> None:
    """With several name matches, the one whose checks got furthest explains the refusal."""
    catch_all = ServerDef("any", name="*", serial="199-0000-001", enabled=True)
    pinned = replace(BASS, name="*.example.com")
    result = run(cr_peer("bass.example.com", "104-0000-001"), definitions=(catch_all, pinned))
    assert result == Refuse("Definition bass pins a TLS certificate, but bass.example.com linked without TLS")


def test_first_definition_that_passes_wins() -> None:
    """Definitions are tried in order; the first whose checks all pass is the one the link uses."""
    wrong = ServerDef("wrong", name="*", serial="199-0000-001", enabled=True)
    right = ServerDef("right", name="tenor.*", serial="101-0001-001", enabled=True)
    also = ServerDef("also", name="*", serial="101-0001-001", enabled=True)
    assert run(TENOR_PEER, definitions=(wrong, right, also)) == Accept(right, "leaf")


def test_password_compare_is_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Passwords and fingerprints are compared with hmac.compare_digest."""
    import hmac

    calls = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    assert run(ts6_peer("fake.lab", "lab-fake-secret")) == Accept(FAKE, "leaf")
    assert run(cr_peer("bass.example.com", "104-0000-001"), secure_transport=True,
               peer_fingerprint=FP) == Accept(BASS, "leaf")
    assert len(calls) == 2


def test_announced_role_overrides_the_definition() -> None:
    """A ConferenceRoom peer's announced role counts; the definition's role is for plain TS6 peers only."""
    hub_def = replace(TENOR, role="hub")
    assert run(TENOR_PEER, definitions=(hub_def,), our_role="leaf") == Refuse(
        "Leaf-to-leaf links are not allowed: tenor.webmaster.com and this server are both leaves")


def test_bad_role_argument_is_a_programming_error() -> None:
    """our_role must be hub or leaf."""
    with pytest.raises(ValueError):
        run(TENOR_PEER, our_role="spoke")


# -- auto-connect ------------------------------------------------------------

UP1 = ServerDef("hub1", name="hub1.sd.com", serial="102-0000-001", host="127.0.0.1", port=7000, auto=True,
                enabled=True)
UP2 = replace(UP1, handle="hub2", name="hub1.ny.com", serial="102-0000-002", port=7001)
TS6_HUB = ServerDef("hyb", name="alpha.lab", password="pw", role="hub", host="127.0.0.1", port=16668,
                    auto=True, enabled=True)
TS6_LEAF = replace(TS6_HUB, handle="hybleaf", role="leaf")
HUB_LINK = LinkView("hub1.ny.com", "hub", "hub2")
LEAF_LINK = LinkView("leaf1.sd.com", "leaf", "leaf1")

AUTO = [
    pytest.param("leaf", (), UP1, None, True, id="unlinked-leaf-to-cr-upstream"),
    pytest.param("leaf", (HUB_LINK,), UP1, None, False, id="linked-leaf-stops"),
    pytest.param("leaf", (), TS6_HUB, None, True, id="leaf-to-ts6-hub"),
    pytest.param("leaf", (), TS6_LEAF, None, False, id="leaf-never-to-ts6-leaf"),
    pytest.param("leaf", (), UP1, "leaf", False, id="leaf-never-to-known-leaf"),
    pytest.param("hub", (), UP1, None, True, id="unlinked-hub-to-hub"),
    pytest.param("hub", (LEAF_LINK,), UP1, None, True, id="hub-with-only-leaves-continues"),
    pytest.param("hub", (HUB_LINK,), UP1, None, False, id="hub-linked-to-hub-stops"),
    pytest.param("hub", (), TS6_LEAF, None, False, id="hub-never-to-leaf"),
    pytest.param("hub", (), UP1, "leaf", False, id="hub-never-to-known-leaf"),
    pytest.param("hub", (), UP1, "hub", True, id="hub-to-known-hub"),
    pytest.param("hub", (), replace(UP1, auto=False), None, False, id="auto-off"),
    pytest.param("hub", (), replace(UP1, enabled=False), None, False, id="disabled"),
    pytest.param("hub", (), replace(UP1, host=None), None, False, id="no-host"),
    pytest.param("hub", (), replace(UP1, port=None), None, False, id="no-port"),
    pytest.param("hub", (LinkView("hub1.sd.com", "leaf", "hub1"),), UP1, None, False, id="already-linked"),
]


@pytest.mark.parametrize("our_role, links, definition, known_role, expected", AUTO)
def test_should_autoconnect(our_role: str, links: tuple[LinkView, ...], definition: ServerDef,
                            known_role: str | None, expected: bool) -> None:
    """Hubs and leaves auto-connect only to hubs; a leaf only while unlinked, a hub until it has a hub link."""
    assert should_autoconnect(our_role, links, definition, known_role=known_role) is expected


def test_leaf_tries_upstreams_in_order() -> None:
    """An unlinked leaf gets its upstream definitions in configuration order, skipping the ineligible."""
    defs = (UP1, replace(TS6_LEAF, handle="x"), UP2, replace(UP1, handle="off", enabled=False), TS6_HUB)
    assert [d.handle for d in autoconnect_order("leaf", (), defs)] == ["hub1", "hub2", "hyb"]
    assert autoconnect_order("leaf", (HUB_LINK,), defs) == []


def test_known_roles_remove_upstreams_that_turned_out_to_be_leaves() -> None:
    """A definition whose peer announced itself a leaf last time is no longer tried."""
    assert [d.handle for d in autoconnect_order("hub", (), (UP1, UP2), {"hub1": "leaf"})] == ["hub2"]


# -- the hybrid refusal trace through handshake and policy ---------------------

ALPHA_DEFS = (  # alpha.lab's connect{} blocks from shared/interop/hybrid-a.conf, as our definitions
    ServerDef("beta", name="beta.lab", password="lab-ab-secret", role="hub", enabled=True),
    ServerDef("fake", name="fake.lab", password="lab-fake-secret", enabled=True),
    ServerDef("fakehub", name="fakehub.lab", password="lab-fake-secret", role="hub", enabled=True),
)
ALPHA_NETWORK = {"alpha.lab", "beta.lab", "1AA", "2BB"}


@pytest.mark.parametrize("conn, sent_password, hybrid_reason, our_reason", [
    ("c9", "wrong", "Invalid password", "Invalid password from fake.lab for definition fake"),
    ("c10", "lab-fake-secret", "No connect {} block", "No server definition matches unknown.lab"),
    ("c11", "lab-ab-secret", "Server already exists", "Server beta.lab already exists in this network"),
    ("c18", "lab-fake-secret", None, "Server ID 2BB is already in use in this network"),
])
def test_hybrid_refusal_trace(conn: str, sent_password: str, hybrid_reason: str | None, our_reason: str) -> None:
    """Each peer hybrid refused in hybrid-refusals.log is refused by us too, at SERVER, with a clearer
    sentence; the SID collision that hybrid 8.2.43 let in (c18) is refused as well."""
    from tests.unit.linkkit import ALPHA, clock_at, trace
    from tests.unit.linkkit import handshake_feed as feed
    from conferenceroom.link.handshake import Handshake

    peer_lines = [m if m.command != "PASS" else replace(m, params=(sent_password,))
                  for m in trace("hybrid-refusals.log", conn, "F>A")]
    hs = Handshake(ALPHA, clock_at(), active=False)
    feed(hs, peer_lines)
    result = decide(hs.peer, ALPHA_DEFS, our_role="hub", secure_transport=False, peer_fingerprint=None,
                    server_exists=ALPHA_NETWORK.__contains__, sid_exists=ALPHA_NETWORK.__contains__,
                    links=(LinkView("beta.lab", "leaf", "beta"),))
    assert result == Refuse(our_reason)
    hybrid_error = [m for m in trace("hybrid-refusals.log", conn, "A>F") if m.command == "ERROR"]
    if hybrid_reason is None:
        assert hybrid_error == []  # hybrid accepted the duplicate SID and burst to it
    else:
        assert hybrid_error[0].params[0] == f"Closing Link: 127.0.0.1 ({hybrid_reason})"


def test_definition_refusals_of_an_inbound_peer_are_failed_logins() -> None:
    """A wrong serial from a server connecting in counts as a failed link login; 'already exists' does not."""
    wrong = run(ts6_peer("beta.lab", "guess"))
    assert isinstance(wrong, Refuse) and wrong.login
    exists = run(ts6_peer("beta.lab", "lab-ab-secret"), server_exists=lambda n: True)
    assert isinstance(exists, Refuse) and not exists.login
