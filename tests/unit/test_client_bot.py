"""Bot mode (IRCv3 bot-mode): ISUPPORT BOT=B, user mode +B, the bot tag, WHOIS 335, WHO flag."""

from conferenceroom.modes import ModeChange
from tests.helpers import (
    feed, join_channel, make_core, make_remote_server, make_remote_user, register, sent,
)


def _bot(core, nick="botty", caps=""):
    """A registered client that set +B on itself (the MODE echo checked and cleared)."""
    bot = register(core, nick, caps=caps)
    feed(bot, f"MODE {nick} +B")
    assert [(m.command, m.params) for m in sent(bot)] == [("MODE", (nick, "+B"))]
    return bot


def test_isupport_and_myinfo_name_bot_mode() -> None:
    """005 carries BOT=B and 004 lists B among the user modes."""
    core = make_core()
    conn = register(core, "alice")
    feed(conn, "VERSION")
    tokens = " ".join(" ".join(m.params) for m in sent(conn) if m.command == "005")
    assert "BOT=B" in tokens.split()
    assert "B" in core.myinfo()[1]


def test_bot_messages_carry_the_bot_tag() -> None:
    """PRIVMSG from a +B user carries the ``bot`` tag to message-tags clients, the echo too;
    a client without message-tags sees no tag."""
    core = make_core()
    bot = _bot(core, caps="message-tags echo-message")
    tagged = register(core, "tagged", caps="message-tags")
    plain = register(core, "plain")
    join_channel(core, bot, "#c"), join_channel(core, tagged, "#c"), join_channel(core, plain, "#c")
    sent(bot), sent(tagged), sent(plain)
    feed(bot, "PRIVMSG #c :beep")
    (got,) = sent(tagged)
    assert "bot" in got.tags and got.params == ("#c", "beep")
    assert plain.transport.value().startswith(b":botty!")
    (echo,) = sent(bot)
    assert "bot" in echo.tags
    feed(bot, "PRIVMSG tagged :boop")
    assert "bot" in sent(tagged)[0].tags


def test_non_bot_messages_have_no_bot_tag() -> None:
    """An ordinary user's message carries no bot tag; after MODE -B neither does the bot's."""
    core = make_core()
    bot = _bot(core)
    tagged = register(core, "tagged", caps="message-tags")
    feed(bot, "MODE botty -B", "PRIVMSG tagged :hi")
    assert "bot" not in [m for m in sent(tagged) if m.command == "PRIVMSG"][0].tags


def test_whois_335_and_who_flag() -> None:
    """WHOIS of a bot has 335; WHO shows B in its flags; a non-bot has neither."""
    core = make_core()
    _bot(core)
    alice = register(core, "alice")
    feed(alice, "WHOIS botty")
    assert [m.params[1:] for m in sent(alice) if m.command == "335"] == [("botty", "is a bot on TestNet")]
    feed(alice, "WHOIS alice")
    assert not [m for m in sent(alice) if m.command == "335"]
    feed(alice, "WHO botty")
    (who,) = [m for m in sent(alice) if m.command == "352"]
    assert "B" in who.params[6]


def test_remote_bot_seen_through_a_link() -> None:
    """A remote user whose modes say +B is a bot here too: the bot tag on its messages
    (added here, whatever the link sent) and 335."""
    core = make_core()
    server = make_remote_server(core)
    rob = make_remote_user(core, server, "rob")
    core.network.apply_user_modes(rob, rob, [ModeChange(True, "B")], origin=server.route)
    alice = register(core, "alice", caps="message-tags")
    feed(alice, "WHOIS rob")
    assert any(m.command == "335" for m in sent(alice))
    core.router.deliver(rob, alice.user, "PRIVMSG", ("alice", "hi"), origin=server.route)
    assert "bot" in sent(alice)[0].tags
