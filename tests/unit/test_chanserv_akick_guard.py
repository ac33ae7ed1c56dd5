"""AKICK ADD may not reach above the adder: a mask catching the founder or someone with more access is refused.

Found by probing: an SOP could AKICK the founder's nick or ``*!*@*``, and the
ban ChanServ then sets keeps the founder out of her own channel.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.test_chanserv import Net


@pytest.fixture
def net(tmp_path: Path) -> Net:
    """A core running services (see tests.unit.test_chanserv.Net)."""
    return Net(tmp_path)


def _sop_channel(net: Net):
    """#c founded by alice (online), hal at SOP, ivy at MGR; hal's connection."""
    alice = net.registered("alice")
    net.account("hal")
    net.account("ivy")
    assert net.cs_say(alice, "ACCESS #c ADD hal SOP")[0].startswith("hal added")
    assert net.cs_say(alice, "ACCESS #c ADD ivy MGR")[0].startswith("ivy added")
    hal = net.user("hal", "hal", ip="10.1.1.1")
    return alice, hal


def test_sop_cannot_akick_the_founder_or_more_access(net: Net) -> None:
    """An SOP's AKICK naming the founder, a MGR, or matching everyone is refused with the reason; nothing is added."""
    alice, hal = _sop_channel(net)
    for mask, who in (("alice", "alice"), ("*!*@*", "alice"), ("ivy!*@*", "ivy"), ("Alice!*@*", "alice")):
        assert net.cs_say(hal, f"AKICK #c ADD {mask} go away") == [
            f"Permission denied: {mask if '!' in mask else mask + '!*@*'} would match {who}, who has more "
            "access in #c than you."], mask
    listing = net.cs_say(alice, "AKICK #c LIST")
    assert listing[-1] == "End of the AKICK list of #c: 0 entries."


def test_sop_cannot_akick_the_founders_address(net: Net) -> None:
    """A host mask matching where the founder is connected from is refused too; unrelated masks are accepted."""
    alice, hal = _sop_channel(net)
    host = alice.user.ip
    assert net.cs_say(hal, f"AKICK #c ADD *!*@{host}") == [
        f"Permission denied: *!*@{host} would match alice, who has more access in #c than you."]
    assert net.cs_say(hal, "AKICK #c ADD *!*@10.9.9.* spam") == ["*!*@10.9.9.* added to the AKICK list of #c."]


def test_founder_may_still_akick_broad_masks(net: Net) -> None:
    """The founder (and so a services administrator) keeps the last word: *!*@* is accepted from her."""
    alice, _ = _sop_channel(net)
    assert net.cs_say(alice, "AKICK #c ADD *!*@*") == ["*!*@* added to the AKICK list of #c."]


def test_an_op_acting_on_the_owner_is_told_why(net: Net) -> None:
    """A channel operator who KICKs, deops or de-owners the founder (+q) gets 482 saying why, not "not channel
    operator" (which he is)."""
    from tests.helpers import feed, sent

    alice, hal = _sop_channel(net)
    feed(hal, "JOIN #c")
    net.turn()
    assert net.status(hal) == {"o"}
    sent(hal)
    feed(hal, "KICK #c alice :bye")
    feed(hal, "MODE #c -o alice")
    feed(hal, "MODE #c -q alice")
    replies = [(m.command, m.params[1:]) for m in sent(hal)]
    assert replies == [
        ("482", ("#c", "alice has a higher channel status than you (+q)")),
        ("482", ("#c", "alice has a higher channel status than you (+q)")),
        ("482", ("#c", "You're not a channel owner: only an owner (+q) can give or take +q")),
    ]
    assert alice.user in net.chan().members
