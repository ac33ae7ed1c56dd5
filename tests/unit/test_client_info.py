"""Server queries: MOTD, LUSERS, VERSION, TIME, ADMIN, INFO, STATS, LINKS, MAP."""

from __future__ import annotations

from typing import Any

from conferenceroom.admin.settings import FrozenMap, OperEntry
from conferenceroom.network import Server
from tests.helpers import (
    START, feed, make_core, make_oper, make_remote_server, make_remote_user, make_settings, register, sent,
)


def test_motd_default_and_local_target() -> None:
    """MOTD with no target or our own name gives 375/372/376."""
    core = make_core()
    conn = register(core, "alice")
    for line in ("MOTD", "MOTD test.local", "MOTD test.*"):
        feed(conn, line)
        out = sent(conn)
        assert [m.command for m in out] == ["375", "372", "376"], line
        assert out[1].params == ("alice", "- Test MOTD line")


def test_motd_missing_gives_422() -> None:
    """Without a MOTD the reply is 422."""
    core = make_core()
    core.motd_lines = None
    conn = register(core, "alice")
    feed(conn, "MOTD")
    assert [m.command for m in sent(conn)] == ["422"]


def test_unknown_server_target_gives_402() -> None:
    """MOTD, VERSION, TIME, ADMIN, INFO and STATS to an unknown server give 402."""
    core = make_core()
    conn = register(core, "alice")
    for line in ("MOTD nowhere.example", "VERSION nowhere.example", "TIME nowhere.example",
                 "ADMIN nowhere.example", "INFO nowhere.example", "STATS u nowhere.example"):
        feed(conn, line)
        out = sent(conn)
        assert [(m.command, m.params[1]) for m in out] == [("402", "nowhere.example")], line


def test_target_by_nick_resolves_to_users_server() -> None:
    """A nick as target means that user's server: our own user is answered here."""
    core = make_core()
    conn = register(core, "alice")
    register(core, "bob")
    feed(conn, "ADMIN bob")
    assert [m.command for m in sent(conn)] == ["256", "257", "258", "259"]


def test_query_for_remote_server_is_passed_on() -> None:
    """VERSION naming a linked server (or a user on it) is relayed through its route."""
    core = make_core()
    remote = make_remote_server(core)
    make_remote_user(core, remote, "rita")
    conn = register(core, "alice")
    feed(conn, "VERSION remote.test", "TIME rita")
    assert sent(conn) == []
    relayed = [(m.command, m.params, m.source, target) for m, target, _ in remote.route.relayed]
    assert ("VERSION", ("remote.test",), "alice!~alice@127.0.0.1", remote) in relayed
    assert ("TIME", ("remote.test",), "alice!~alice@127.0.0.1", remote) in relayed


def test_lusers() -> None:
    """LUSERS gives 251 to 266 with the counts."""
    core = make_core()
    conn = register(core, "alice")
    register(core, "bob")
    feed(conn, "LUSERS")
    out = sent(conn)
    assert [m.command for m in out] == ["251", "252", "253", "254", "255", "265", "266"]
    assert out[0].params[1] == "There are 2 users and 0 invisible on 1 servers"


def test_version_gives_351_then_isupport() -> None:
    """VERSION: 351 <version> <server> :<comments>, then the 005 lines."""
    core = make_core()
    conn = register(core, "alice")
    feed(conn, "VERSION")
    out = sent(conn)
    assert out[0].command == "351"
    assert out[0].params[:3] == ("alice", core.version, "test.local")
    assert "Twisted" in out[0].params[3]
    assert out[1].command == "005" and all(m.command == "005" for m in out[1:])
    tokens = [p for m in out[1:] for p in m.params[1:-1]]
    assert "CASEMAPPING=rfc1459" in tokens


def test_time() -> None:
    """TIME: 391 <server> <timestamp> 0 :<readable time> from the injected clock."""
    core = make_core()
    conn = register(core, "alice")
    feed(conn, "TIME")
    (msg,) = sent(conn)
    assert msg.command == "391"
    assert msg.params == ("alice", "test.local", str(int(START)), "0",
                          "Tuesday November 14 2023 -- 22:13:20 +00:00")


def test_admin_from_settings() -> None:
    """ADMIN: 256 to 259 with the server name, description, network and contact."""
    core = make_core(make_settings(description="Test server", contact="admin@example.org"))
    conn = register(core, "alice")
    feed(conn, "ADMIN")
    out = sent(conn)
    assert [(m.command, m.params[1:]) for m in out] == [
        ("256", ("test.local", "Administrative info")),
        ("257", ("Test server",)),
        ("258", ("TestNet network",)),
        ("259", ("admin@example.org",)),
    ]


def test_info() -> None:
    """INFO: 371 lines naming the software, Twisted, Python and start time, then 374."""
    core = make_core()
    conn = register(core, "alice")
    feed(conn, "INFO")
    out = sent(conn)
    assert {m.command for m in out[:-1]} == {"371"}
    assert out[-1].command == "374"
    text = "\n".join(m.params[1] for m in out[:-1])
    assert "conferenceroom" in text and "Twisted" in text and "Python" in text
    assert core.created in text


def test_stats_without_query_is_461() -> None:
    """STATS needs a query letter."""
    core = make_core()
    conn = register(core, "alice")
    feed(conn, "STATS")
    assert [(m.command, m.params[1]) for m in sent(conn)] == [("461", "STATS")]


def test_stats_uptime() -> None:
    """STATS u: 242 with the uptime from the clock, then 219."""
    core = make_core()
    conn = register(core, "alice")
    core.clock.advance(86400 + 3600 + 62)
    sent(conn)
    feed(conn, "STATS u")
    out = sent(conn)
    assert [m.command for m in out] == ["242", "219"]
    assert out[0].params[1] == "Server Up 1 days 1:01:02"
    assert out[1].params[1:] == ("u", "End of /STATS report")


def test_stats_opers_only_for_operators() -> None:
    """STATS o lists the operator entries to opers; others get 481."""
    opers = FrozenMap({"god": OperEntry("God", "x", frozenset("ac"), ("*@127.0.0.1",)),
                       "helper": OperEntry("Helper", "x", frozenset("h"))})
    core = make_core(make_settings(opers=opers))
    conn = register(core, "alice")
    feed(conn, "STATS o")
    assert [m.command for m in sent(conn)] == ["481", "219"]
    make_oper(conn, "a", "God")
    feed(conn, "STATS o")
    out = sent(conn)
    assert [m.params[1:] for m in out if m.command == "243"] == [
        ("O", "*@127.0.0.1", "*", "God", "ac"),
        ("O", "*@*", "*", "Helper", "h"),
    ]
    assert out[-1].command == "219"


def test_stats_links_lists_connections() -> None:
    """STATS l: an operator sees every local connection, a user only its own."""
    core = make_core()
    conn = register(core, "alice")
    bob = register(core, "bob")
    core.clock.advance(30)
    feed(bob, "STATS l")
    out = sent(bob)
    assert [m.params[1] for m in out if m.command == "211"] == ["bob[~bob@127.0.0.1]"]
    make_oper(conn, "a", "God")
    feed(conn, "STATS L")
    out = sent(conn)
    lines = [m for m in out if m.command == "211"]
    assert [m.params[1] for m in lines] == ["alice[~alice@127.0.0.1]", "bob[~bob@127.0.0.1]"]
    assert lines[0].params[-1].split()[0] == "30"
    assert out[-1].params[1] == "L"


def test_stats_l_counts_messages_and_bytes() -> None:
    """STATS l shows, per connection, the SendQ, messages and KiB sent,
    messages and KiB received, then seconds connected and idle (211 as on hybrid)."""
    core = make_core()
    oper = register(core, "oper")
    make_oper(oper, "a", "God")
    bob = register(core, "bob")
    for _ in range(40):
        feed(bob, "PRIVMSG oper :" + "x" * 100)
    core.clock.advance(12)
    sent(oper)
    feed(oper, "STATS l")
    line = next(m for m in sent(oper) if m.command == "211" and m.params[1].startswith("bob["))
    _, name, sendq, msgs_out, kb_out, msgs_in, kb_in, times = line.params
    assert int(msgs_in) == 42  # NICK, USER and the 40 PRIVMSGs
    assert int(kb_in) == bob.bytes_in // 1024 and bob.bytes_in > 40 * 100
    assert int(msgs_out) == bob.lines_out > 0 and int(kb_out) == bob.bytes_out // 1024
    assert sendq == "0" and times == "12 12 -"


def _ban(mask: str, reason: str, expires: int = 0) -> Any:
    from conferenceroom.admin.settings import BanEntry

    return BanEntry(mask, reason, "God", int(START), expires)


def test_stats_k_lists_klines_and_akills_to_opers() -> None:
    """STATS k and K list active K-lines (K) and AKILLs (A) as 216 host * user
    :reason with who set them and time left; expired ones are not shown;
    non-operators get 481."""
    settings = make_settings(
        klines=(_ban("*@bad.example", "spam"), _ban("~joe@1.2.3.4", "flood", int(START) + 7200),
                _ban("*@old.example", "gone", int(START) - 1)),
        akills=(_ban("bot*@*.proxy.example", "proxies"),))
    core = make_core(settings)
    conn = register(core, "alice")
    feed(conn, "STATS k")
    assert [m.command for m in sent(conn)] == ["481", "219"]
    make_oper(conn, "o", "Helper")
    for letter in "kK":
        feed(conn, f"STATS {letter}")
        out = sent(conn)
        assert [m.params[1:] for m in out if m.command == "216"] == [
            ("K", "bad.example", "*", "*", "spam (set by God)"),
            ("K", "1.2.3.4", "*", "~joe", "flood (set by God, expires in 2h)"),
            ("A", "*.proxy.example", "*", "bot*", "proxies (set by God)"),
        ]
        assert out[-1].command == "219"


def test_stats_z_lists_zlines_to_opers() -> None:
    """STATS z and Z list Z-lines as 225 Z ip :reason, for operators only."""
    core = make_core(make_settings(zlines=(_ban("192.0.2.0/24", "open proxies"),)))
    conn = register(core, "alice")
    feed(conn, "STATS Z")
    assert [m.command for m in sent(conn)] == ["481", "219"]
    make_oper(conn, "o", "Helper")
    for letter in "zZ":
        feed(conn, f"STATS {letter}")
        out = sent(conn)
        assert [(m.command, m.params[1:]) for m in out] == [
            ("225", ("Z", "192.0.2.0/24", "open proxies (set by God)")), ("219", (letter, "End of /STATS report"))]


def test_stats_c_lists_server_definitions_without_passwords() -> None:
    """STATS c lists each server definition as 213 C host * name port role
    :handle flags, never its password; non-operators get 481."""
    from conferenceroom.admin.settings import ServerDef

    servers = FrozenMap({"tenor": ServerDef("tenor", "tenor.*", host="10.0.0.2", port=7000, role="hub",
                                            auto=True, secure=True, enabled=True, password="sekrit")})
    core = make_core(make_settings(servers=servers))
    conn = register(core, "alice")
    feed(conn, "STATS c")
    assert [m.command for m in sent(conn)] == ["481", "219"]
    make_oper(conn, "o", "Helper")
    feed(conn, "STATS c")
    out = sent(conn)
    assert [(m.command, m.params[1:]) for m in out] == [
        ("213", ("C", "10.0.0.2", "*", "tenor.*", "7000", "hub", "tenor ASE")),
        ("219", ("c", "End of /STATS report")),
    ]
    assert "sekrit" not in repr(out)


def test_stats_command_counts() -> None:
    """STATS m: 212 with the number of times each command ran."""
    core = make_core()
    conn = register(core, "alice")
    feed(conn, "TIME", "TIME", "STATS m")
    out = sent(conn)
    counts = {m.params[1]: m.params[2] for m in out if m.command == "212"}
    assert counts["TIME"] == "2"
    assert counts["NICK"] == "1" and counts["USER"] == "1"
    assert counts["STATS"] == "1"
    assert out[-1].command == "219"


def test_stats_k_and_unknown_letters_just_end() -> None:
    """STATS k for an operator (no klines yet) and an unknown letter answer only 219."""
    core = make_core()
    conn = register(core, "alice")
    make_oper(conn, "o", "Helper")
    for letter in ("k", "z", "y"):
        feed(conn, f"STATS {letter}")
        assert [(m.command, m.params[1]) for m in sent(conn)] == [("219", letter)]


def test_stats_notices_operators() -> None:
    """A STATS request is noticed to operators with +s."""
    core = make_core()
    oper = register(core, "oper")
    make_oper(oper, "a", "God")
    oper.user.set_mode("s")
    conn = register(core, "alice")
    sent(oper)
    feed(conn, "STATS u")
    notes = [m.params[1] for m in sent(oper) if m.command == "NOTICE"]
    assert notes == ["*** Notice -- STATS u requested by alice (~alice@127.0.0.1)"]


def test_links_with_remote_server() -> None:
    """LINKS lists us and a linked server under us, then 365; a mask filters."""
    core = make_core()
    make_remote_server(core)
    conn = register(core, "alice")
    feed(conn, "LINKS")
    out = sent(conn)
    assert [(m.command, m.params[1:]) for m in out] == [
        ("364", ("test.local", "test.local", f"0 {core.settings.description}")),
        ("364", ("remote.test", "test.local", "1 Remote server")),
        ("365", ("*", "End of /LINKS list")),
    ]
    feed(conn, "LINKS remote.*")
    out = sent(conn)
    assert [m.params[1] for m in out] == ["remote.test", "remote.*"]


def test_links_with_server_and_mask() -> None:
    """LINKS <server> <mask>: our name answers here, an unknown server gives 402."""
    core = make_core()
    make_remote_server(core)
    conn = register(core, "alice")
    feed(conn, "LINKS test.local *.local")
    assert [m.params[1] for m in sent(conn)] == ["test.local", "*.local"]
    feed(conn, "LINKS nowhere.example *")
    assert [m.command for m in sent(conn)] == ["402"]


def test_map_with_remote_servers() -> None:
    """MAP draws the tree with user counts and shares, then 017."""
    core = make_core()
    remote = make_remote_server(core)
    leaf = Server("leaf.test", "9LF", "Leaf", uplink=remote, route=remote.route, hopcount=2)
    core.network.add_server(leaf, origin=remote.route)
    make_remote_user(core, remote, "rita")
    make_remote_user(core, remote, "rob")
    conn = register(core, "alice")
    register(core, "bob")
    feed(conn, "MAP")
    out = sent(conn)
    assert [m.command for m in out] == ["015", "015", "015", "017"]
    sid = core.network.me.sid
    assert [m.params[1] for m in out[:3]] == [
        f"test.local ({sid}) ......... 2 users [50.0%]",
        "`- remote.test (9RM) ..... 2 users [50.0%]",
        "   `- leaf.test (9LF) .... 0 users [0.0%]",
    ]
    assert out[3].params[1] == "End of /MAP"


def test_map_siblings_use_branch_marks() -> None:
    """Two servers under us: the first is drawn with |-, the last with `-."""
    core = make_core()
    make_remote_server(core, "a.test", "9AA")
    make_remote_server(core, "b.test", "9BB")
    conn = register(core, "alice")
    feed(conn, "MAP")
    lines = [m.params[1] for m in sent(conn)]
    assert lines[1].startswith("|- a.test (9AA) ")
    assert lines[2].startswith("`- b.test (9BB) ")
    assert lines[0].endswith("1 user [100.0%]")


def test_help_index_lists_commands() -> None:
    """HELP alone answers 704, 705 lines listing the commands, then 706, all
    with the subject ``*`` (Modern: HELP message)."""
    core = make_core()
    conn = register(core, "alice")
    feed(conn, "HELP")
    out = sent(conn)
    assert out[0].command == "704" and out[-1].command == "706"
    assert {m.command for m in out[1:-1]} == {"705"}
    assert all(m.params[1] == "*" for m in out)
    listed = " ".join(m.params[2] for m in out[1:-1]).split()
    assert "PRIVMSG" in listed and "KILL" not in listed


def test_help_on_a_command_and_helpop_alias() -> None:
    """HELP <command> (or HELPOP) gives that command's syntax in 704, its
    description in 705 and 706, with the command as the subject."""
    core = make_core()
    conn = register(core, "alice")
    for line in ("HELP privmsg", "HELPOP PRIVMSG"):
        feed(conn, line)
        out = sent(conn)
        assert [m.command for m in out][0] == "704" and out[-1].command == "706", line
        assert all(m.params[:2] == ("alice", "PRIVMSG") for m in out)
        assert out[0].params[2].startswith("PRIVMSG")


def test_help_unknown_subject_is_524() -> None:
    """HELP on something that is not a command is one ERR_HELPNOTFOUND."""
    core = make_core()
    conn = register(core, "alice")
    feed(conn, "HELP THISISNOTACOMMAND")
    out = sent(conn)
    assert [(m.command, m.params[1]) for m in out] == [("524", "THISISNOTACOMMAND")]


def test_help_lists_the_everyday_oper_commands() -> None:
    """HELP lists the new operator verbs to operators, and HELP <verb> gives
    each one's syntax and says it is for operators."""
    core = make_core()
    conn = register(core, "alice")
    make_oper(conn, "a", "God")
    feed(conn, "HELP")
    listed = " ".join(m.params[2] for m in sent(conn) if m.command == "705").split()
    verbs = ["KLINE", "UNKLINE", "DLINE", "UNDLINE", "DIE", "RESTART", "GLOBOPS", "OPERWALL",
             "LOCOPS", "TRACE", "CHGHOST"]
    assert set(verbs) <= set(listed), listed
    for verb in verbs:
        feed(conn, f"HELP {verb}")
        out = sent(conn)
        assert out[0].command == "704" and out[0].params[2].startswith(verb), verb
        assert out[-1].command == "706"
