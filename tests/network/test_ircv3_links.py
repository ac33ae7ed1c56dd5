"""IRCv3 features across a real link (the manual's soprano and tenor): MONITOR sees a remote
sign-on, nick change and quit; SETNAME, bot mode and client-only tags cross the link."""

from __future__ import annotations

from tests.network.conftest import names, wait_until
from tests.network.test_manual_pair import configure_pair


def test_monitor_setname_bot_and_tags_across_a_link(network) -> None:
    """A watcher on soprano is told of a user on tenor; that user's SETNAME, +B and a TAGMSG
    with +typing reach soprano's clients."""
    soprano, tenor = configure_pair(network)
    soprano.server_notice(r"^End of burst from tenor\.webmaster\.com")
    watcher = soprano.proc.client("watcher")
    watcher.register("watcher", caps=["setname", "message-tags"])
    watcher.send("MONITOR + faraway,farther")
    assert set(watcher.expect("731").params[1].split(",")) == {"faraway", "farther"}
    far = tenor.proc.client("faraway")
    far.register("faraway", caps=["setname", "message-tags"])
    assert watcher.expect("730", timeout=10).params[1].startswith("faraway!")
    watcher.join("#both")
    far.join("#both")
    wait_until(lambda: names(watcher, "#both") == ["faraway", "watcher"], "both in #both")
    far.send("SETNAME :From Afar")
    assert watcher.expect("SETNAME", timeout=10).params == ["From Afar"]
    far.send("MODE faraway +B")
    far.expect("MODE")
    far.send("@+typing=active TAGMSG #both")
    got = watcher.expect("TAGMSG", timeout=10)
    assert got.tags.get("+typing") == "active" and "bot" in got.tags
    watcher.send("WHOIS faraway")
    whois = watcher.collect("318")
    assert any(m.command == "335" for m in whois)
    assert [m.params[-1] for m in whois if m.command == "311"] == ["From Afar"]
    far.send("NICK farther")
    assert watcher.expect("731", timeout=10).params[1] == "faraway"
    assert watcher.expect("730", timeout=10).params[1].startswith("farther!")
    far.send("QUIT :gone")
    assert watcher.expect("731", timeout=10).params[1] == "farther"
