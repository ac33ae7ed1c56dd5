"""Tests for the SERVICES family of AS commands."""

from __future__ import annotations

import pytest

from conferenceroom.admin import AdminError, Settings, build_tree
from tests.helpers import admin_refusal

TREE = build_tree(bcrypt_rounds=4)


def test_services_disable_enable():
    """SERVICES DISABLE and ENABLE switch services_enabled and are written back."""
    off = TREE.execute_line(Settings(), "services disable")
    assert not off.settings.services_enabled and off.replies == ["Services set to disabled"]
    assert "services disable" in TREE.write(off.settings)
    on = TREE.execute_line(off.settings, "SERVICES ENABLE")
    assert on.settings.services_enabled and "services enable" in TREE.write(on.settings)


def test_services_list():
    """SERVICES LIST says whether services run here and the password cost of new accounts."""
    assert TREE.execute_line(Settings(), "services list").replies == [
        "SERVICES settings:", "  Services: enabled", "  Password cost: 12", "  Enforce delay: 60",
        "  Minimum password: 5", "  Services server name: (not set)"]


def test_services_password_cost():
    """SERVICES SET PASSWORDCOST takes 4 to 16, is written back, and refuses anything else."""
    low = TREE.execute_line(Settings(), "services set passwordcost 4")
    assert low.settings.services_password_cost == 4
    assert "services set passwordcost 4" in TREE.write(low.settings)
    with pytest.raises(AdminError):
        TREE.execute_line(Settings(), "services set passwordcost 3")


def test_services_min_password():
    """SERVICES SET MINPASSWORD takes 1 to 32 characters, is written back, and refuses 0."""
    one = TREE.execute_line(Settings(), "services set minpassword 1")
    assert one.settings.services_min_password == 1 and one.replies == ["Minimum password set to 1"]
    assert "services set minpassword 1" in TREE.write(one.settings)
    with pytest.raises(AdminError):
        TREE.execute_line(Settings(), "services set minpassword 0")


def test_services_server_name():
    """SERVICES SET NAME names the pseudo-server (written back); NONE returns to services.<domain>."""
    named = TREE.execute_line(Settings(), "services set name My.Little.Services")
    assert named.settings.services_server_name == "My.Little.Services"
    assert "services set name My.Little.Services" in TREE.write(named.settings)
    cleared = TREE.execute_line(named.settings, "services set name none")
    assert cleared.settings.services_server_name is None
    with pytest.raises(AdminError):
        TREE.execute_line(Settings(), "services set name nodots")


@pytest.mark.parametrize("line", ["services", "services maybe", "services enable now"])
def test_services_malformed(line):
    """Malformed SERVICES commands show the syntax."""
    refusal = admin_refusal(TREE.execute_line, Settings(), line)
    assert "Syntax: SERVICES" in refusal
