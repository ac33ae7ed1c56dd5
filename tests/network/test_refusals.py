"""Every refusal of the manual's pair, seen as operators see it: an ERROR to the peer and a server notice
naming the reason on the refusing side, the peer's ERROR text on the other."""

from __future__ import annotations

from tests.network.conftest import links
from tests.network.test_manual_pair import SOPRANO_SERIAL, TENOR_SERIAL


def test_wrong_serial_is_refused_with_notices(network) -> None:
    """soprano expects serial 101-0001-009: it refuses tenor and says so; tenor is told by ERROR."""
    soprano = network.server("soprano.webmaster.com", SOPRANO_SERIAL, hub=True)
    tenor = network.server("tenor.webmaster.com", TENOR_SERIAL, hub=False)
    soprano.define("tenor", name="tenor.*", serial="101-0001-009")
    tenor.define("soprano", name="soprano.webmaster.com", host="127.0.0.1", port=soprano.port,
                 serial=SOPRANO_SERIAL, auto=True)
    reason = "Serial 101-0001-001 of tenor.webmaster.com does not match definition tenor"
    assert soprano.server_notice(r"^Link with tenor") == (
        f"Link with tenor.webmaster.com[127.0.0.1] refused: {reason}")
    told = tenor.server_notice(r"^Link with soprano")
    assert told == f"Link with soprano.webmaster.com[127.0.0.1] closed by the peer: Closing Link: 127.0.0.1 ({reason})"
    assert tenor.server_notice(r"^Connection to soprano").startswith(
        f"Connection to soprano (soprano.webmaster.com) at 127.0.0.1:{soprano.port} failed: ")
    assert links(tenor.operator()) == ["tenor.webmaster.com"]


def test_wrong_password_is_refused(network) -> None:
    """Definitions with different link passwords: soprano refuses tenor naming the definition."""
    soprano = network.server("soprano.webmaster.com", SOPRANO_SERIAL, hub=True)
    tenor = network.server("tenor.webmaster.com", TENOR_SERIAL, hub=False)
    soprano.define("tenor", name="tenor.*", serial=TENOR_SERIAL, password="right-secret")
    tenor.define("soprano", name="soprano.webmaster.com", host="127.0.0.1", port=soprano.port,
                 serial=SOPRANO_SERIAL, password="wrong-secret", auto=True)
    assert soprano.server_notice(r"^Link with tenor") == (
        "Link with tenor.webmaster.com[127.0.0.1] refused: "
        "Invalid password from tenor.webmaster.com for definition tenor")


def test_leaf_to_leaf_is_refused(network) -> None:
    """tenor (leaf) dials alto, another leaf: alto refuses, both leaves named."""
    alto = network.server("alto.webmaster.com", "103-0000-001", hub=False)
    tenor = network.server("tenor.webmaster.com", TENOR_SERIAL, hub=False)
    alto.define("tenor", name="tenor.*", serial=TENOR_SERIAL)
    tenor.define("alto", name="alto.webmaster.com", host="127.0.0.1", port=alto.port,
                 serial="103-0000-001", auto=True)
    assert alto.server_notice(r"^Link with tenor") == (
        "Link with tenor.webmaster.com[127.0.0.1] refused: Leaf-to-leaf links are not allowed: "
        "tenor.webmaster.com and this server are both leaves")


def test_server_that_already_exists_is_refused(network) -> None:
    """A second server calling itself tenor.webmaster.com while tenor is linked: 'already exists'."""
    soprano = network.server("soprano.webmaster.com", SOPRANO_SERIAL, hub=True)
    tenor = network.server("tenor.webmaster.com", TENOR_SERIAL, hub=False)
    soprano.define("tenor", name="tenor.*", serial=TENOR_SERIAL)
    tenor.define("soprano", name="soprano.webmaster.com", host="127.0.0.1", port=soprano.port,
                 serial=SOPRANO_SERIAL, auto=True)
    soprano.server_notice(r"^Link with tenor\.webmaster\.com\[127\.0\.0\.1\] established")
    twin = network.server("tenor.webmaster.com", TENOR_SERIAL, hub=False)
    twin.define("soprano", name="soprano.webmaster.com", host="127.0.0.1", port=soprano.port,
                serial=SOPRANO_SERIAL, auto=True)
    assert soprano.server_notice(r"^Link with tenor.* refused") == (
        "Link with tenor.webmaster.com[127.0.0.1] refused: Server tenor.webmaster.com already exists "
        "in this network")
    assert links(tenor.operator()) == ["soprano.webmaster.com", "tenor.webmaster.com"]
