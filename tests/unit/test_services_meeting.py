"""One services server per network: CR-SERVICES in CAPAB, decide() refuses a second one, a plain TS6
peer's services SID is refused, and services do not start where another server's already serve."""

from __future__ import annotations

from twisted.internet import task

from conferenceroom.link import ts6
from conferenceroom.link.handshake import Handshake, LocalIdentity, PeerAnnouncement
from conferenceroom.link.policy import Accept, Refuse, decide
from conferenceroom.admin.settings import ServerDef
from conferenceroom.wire import parse
from tests.helpers import make_oper, make_remote_server, register, sent
from tests.unit.linknet import Mesh, feed, raw_link
from tests.unit.svchelpers import services_core

TENOR = ServerDef("tenor", name="tenor.*", serial="101-0001-001", enabled=True)


def _decide(peer: PeerAnnouncement, our_services: str | None):
    return decide(peer, [TENOR], our_role="hub", secure_transport=False, peer_fingerprint=None,
                  server_exists=lambda n: False, sid_exists=lambda s: False, links=(), our_services=our_services)


def test_capab_announces_our_services_server():
    """A server whose network has services sends CR-SERVICES=<name> in CAPAB; without, no token."""
    assert "CR-SERVICES=services.webmaster.com" in ts6.our_capab_tokens("102-0000-001", "hub", (),
                                                                        "services.webmaster.com")
    assert not any(t.startswith("CR-SERVICES") for t in ts6.our_capab_tokens("102-0000-001", "hub"))


def test_handshake_reads_cr_services():
    """The passive side learns the peer's services server from CAPAB."""
    me = LocalIdentity("soprano.webmaster.com", "1AA", "soprano", serial="102-0000-001", role="hub")
    hs = Handshake(me, task.Clock(), active=False)
    step = None
    for line in ("PASS x", "CAPAB :EOB ENCAP TBURST CR-SERIAL=101-0001-001 CR-ROLE=leaf CR-OWNER "
                 "CR-SERVICES=services.webmaster.com", "SERVER tenor.webmaster.com 1 4XX + :tenor"):
        step = hs.receive(parse(line))
    assert step is not None and step.decide
    assert hs.peer.services == "services.webmaster.com"


def test_two_services_are_refused_with_the_way_out():
    """A peer bringing services while ours run is refused with a sentence naming /as services disable."""
    peer = PeerAnnouncement("tenor.webmaster.com", "4XX", "tenor", serial="101-0001-001", role="leaf",
                            capabilities=frozenset({"EOB"}), services="services.tenor.net")
    verdict = _decide(peer, "services.webmaster.com")
    assert isinstance(verdict, Refuse)
    assert "services.webmaster.com" in verdict.reason and "services.tenor.net" in verdict.reason
    assert "/as services disable" in verdict.reason
    assert isinstance(_decide(peer, None), Accept)
    plain = PeerAnnouncement("tenor.webmaster.com", "4XX", "tenor", serial="101-0001-001", role="leaf",
                             capabilities=frozenset({"EOB"}))
    assert isinstance(_decide(plain, "services.webmaster.com"), Accept)


def test_a_services_server_linking_directly_is_refused_while_ours_run():
    """A peer that is itself a services server (an Anope named services.*) is refused while ours run."""
    anope = PeerAnnouncement("services.other.net", "0AN", "Anope", capabilities=frozenset({"EOB"}))
    definition = ServerDef("anope", name="services.*", enabled=True)
    verdict = decide(anope, [definition], our_role="hub", secure_transport=False, peer_fingerprint=None,
                     server_exists=lambda n: False, sid_exists=lambda s: False, links=(),
                     our_services="services.webmaster.com")
    assert isinstance(verdict, Refuse) and "Two services servers would meet" in verdict.reason


def test_plain_ts6_peer_introducing_services_is_dropped():
    """A hybrid peer whose burst introduces services.* while our network has one: the link is dropped."""
    mesh = Mesh()
    node = mesh.node("hub.lab", "1HB")
    ours = raw_link(node, "services.lab", "0SV")  # our side's services
    assert ours is not None
    errors = []
    hybrid = raw_link(node, "hybrid.lab", "2HY")
    hybrid.protocol_error = errors.append
    feed(node, hybrid, ":2HY SID services.hybrid.lab 2 3SV + :Anope")
    assert node.network.find_server("services.hybrid.lab") is None
    assert errors and "Two services servers would meet" in errors[0]


def test_services_do_not_start_when_another_server_runs_them(tmp_path):
    """Enabling services while a linked server's services are on the network says so and starts nothing."""
    core = services_core(tmp_path, services_enabled=False)
    remote = make_remote_server(core, "soprano.example.net", "2SP")
    make_remote_server(core, "services.example.net", "3SV", uplink=remote)
    oper = register(core, "oper")
    make_oper(oper, "a")
    assert core.services_control.settings_changed(core.settings) == []  # disabled: nothing to do
    from dataclasses import replace

    lines = core.services_control.settings_changed(replace(core.settings, services_enabled=True))
    assert lines and "services.example.net already serves this network" in lines[0]
    assert core.services is None and core.network.find_user("NickServ") is None


def test_refusal_to_start_is_not_repeated_on_unrelated_changes(tmp_path):
    """Services refused because another server runs them: a later AS change elsewhere neither retries nor re-notices."""
    from dataclasses import replace

    core = services_core(tmp_path, services_enabled=False)
    remote = make_remote_server(core, "soprano.example.net", "2SP")
    make_remote_server(core, "services.example.net", "3SV", uplink=remote)
    oper = register(core, "oper")
    make_oper(oper, "a")
    wanted = replace(core.settings, services_enabled=True)
    assert "already serves this network" in core.services_control.settings_changed(wanted)[0]
    sent(oper)
    assert core.services_control.settings_changed(replace(wanted, motd_file="other.txt")) == []
    assert not any("already serves" in m.params[-1] for m in sent(oper))
    again = core.services_control.settings_changed(wanted, force=True)  # AS SERVICES ENABLE typed again
    assert again and "already serves this network" in again[0]
