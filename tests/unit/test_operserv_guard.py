"""OperServ AKILL ADD refuses a mask that would disconnect the operator typing it, or nearly the whole network.

Found by probing: ``AKILL ADD *@127.* ...`` typed from 127.0.0.1 killed the
services administrator who typed it along with every other user.
"""

from __future__ import annotations

import pytest

from tests.helpers import make_oper, register
from tests.unit.svchelpers import ask, services_core


@pytest.fixture
def core(tmp_path):
    """A core running services."""
    return services_core(tmp_path)


def test_akill_matching_the_operator_is_refused(core):
    """An AKILL matching the operator's own address is refused, nothing is stored, he stays connected."""
    boss = register(core, "boss", ip="10.1.2.3")
    make_oper(boss, "s")
    lines = ask(boss, "OperServ", "AKILL ADD *@10.1.* +1h locals")
    assert lines == ["*@10.1.* would disconnect you too (boss!~boss@10.1.2.3): give a narrower mask."]
    assert core.network.find_user("boss") is not None
    assert ask(boss, "OperServ", "AKILL LIST") == ["No AKILLs."]


def test_akill_covering_nearly_everyone_is_refused(core):
    """A mask that would disconnect more than 95% of the network's users is refused as too wide."""
    boss = register(core, "boss", ip="192.0.2.1")
    make_oper(boss, "s")
    for i in range(20):
        register(core, f"u{i}", ip=f"10.0.0.{i + 1}")
    lines = ask(boss, "OperServ", "AKILL ADD *@10.* everyone")
    assert lines == ["*@10.* would disconnect 20 of the network's 21 users: give a narrower mask."]
    assert core.network.find_user("u0") is not None
    assert ask(boss, "OperServ", "AKILL ADD *@10.0.0.1 one of them")[0].startswith("AKILL added: *@10.0.0.1")
