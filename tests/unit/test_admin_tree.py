"""Tests for the AS tree machinery: parsing, errors, HELP, writer round-trip."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from conferenceroom.admin import AdminError, Settings, build_tree
from conferenceroom.admin.settings import FrozenMap, fold_name
from conferenceroom.admin.tree import Family, Verb, Outcome
from conferenceroom.passwords import hash_password

NOW = 1_700_000_000
TREE = build_tree(bcrypt_rounds=4, clock=lambda: NOW)
HASH = hash_password("secret", rounds=4)
FP = "AB:CD:" * 15 + "AB:CD"

#: One valid example per declared verb, run on top of BASE.  A new declaration
#: without an example here fails test_every_verb_has_an_example.
EXAMPLES = [
    "general set name soprano.webmaster.com",
    "general set description Soprano test server",
    "general set serial 102-0000-001",
    "general set contact admin@example.com",
    "general set network ExampleNet",
    "general set ports 7000,6666-6669",
    "general set bindip 192.0.2.1",
    "general set hub",
    "general set leaf",
    "general set datadir /var/lib/conferenceroom",
    "general set motd motd/welcome.txt",
    "general ssl enable",
    "general ssl disable",
    "general ssl port 6697",
    "general ssl cert certs/server.pem",
    "general ssl key certs/server.key",
    "general ssl cafile certs/network-ca.pem",
    "general ssl sts on",
    "general ssl stsduration 30d",
    "general ssl list",
    "general websocket enable",
    "general websocket disable",
    "general websocket port 8097",
    "general websocket secure on",
    "general websocket origin add https://chat.example.org",
    "general websocket origin del https://chat.example.org",
    "general websocket origin list",
    "general websocket proxy add 10.0.0.1",
    "general websocket proxy del 10.0.0.1",
    "general websocket proxy list",
    "general set secureonly on",
    "general set securenetwork on",
    "general set utf8only on",
    "general set manhole on",
    "general set manholeport 6023",
    "general set manholekeys data/manhole_keys",
    "general list",
    "oper",
    "oper bob add hunter2 gh",
    "oper admin del",
    "oper admin list",
    "oper admin password newsecret",
    "oper admin access add *@127.0.0.1",
    "oper admin access del *@10.*",
    "oper admin access list",
    "oper admin flag add s",
    "oper admin flag del c",
    "oper admin flag list",
    "services enable",
    "services disable",
    "services list",
    "services set passwordcost 10",
    "services set enforcedelay 30",
    "services set minpassword 8",
    "services set name irc.services.example",
    "security set flood off",
    "security set flood penalties 5",
    "security set flood seconds 20",
    "security set flood kill 40",
    "security set flood oper off",
    "security set deftrigger 3",
    "security trigger add 127.0.0.1 0",
    "security trigger del 10.0.0.0/8",
    "security trigger list",
    "security cps 10",
    "security list",
    "security kline add *@*.spam.example 2h Spam bots",
    "security kline del *@old.example",
    "security kline list *@old.example",
    "security akill add evil@* until=1700086400 by=admin at=1699990000 Network abuse",
    "security akill del *@old.example",
    "security akill list *@old*",
    "security zline add 192.0.2.0/24 1w Open proxies",
    "security zline del 198.51.100.7",
    "security zline list 198.51.*",
    "server",
    "server soprano add",
    "server tenor del",
    "server tenor list",
    "server tenor enable",
    "server tenor disable",
    "server tenor set enable",
    "server tenor set disable",
    "server tenor set name tenor.*",
    "server tenor set serial 101-0001-001",
    "server tenor set password linkpass",
    f"server tenor set fingerprint {FP}",
    "server tenor set role hub",
    "server tenor set host 209.133.1.1",
    "server tenor set port 7000",
    "server tenor set bindip 192.0.2.1",
    "server tenor set ping 300",
    "server tenor set auto on",
    "server tenor set secure on",
    "server tenor set secureonly on",
    "help",
]

BASE = Settings().apply([
    f"oper admin add {HASH} ac",
    "oper admin access add *@10.*",
    "security trigger add 10.0.0.0/8 2",
    "server tenor add",
    "server tenor set serial 101-0001-001",
    "security kline add *@old.example 1d old",
    "security akill add *@old.example",
    "security zline add 198.51.100.7 proxy",
    "general websocket origin add https://chat.example.org",
    "general websocket proxy add 10.0.0.1",
], tree=TREE)


def _verb_for(line: str) -> Verb:
    """Return the verb a command line resolves to."""
    verb, _values, _rest, _node = TREE._resolve(line.split())
    return verb


def test_every_verb_has_an_example():
    """Every declared verb has a working example in EXAMPLES."""
    covered = {id(_verb_for(line)) for line in EXAMPLES}
    missing = [v.syntax for v in TREE.verbs if id(v) not in covered]
    assert missing == []


@pytest.mark.parametrize("line", EXAMPLES)
def test_examples_run_and_reply(line):
    """Every example runs without error and says something."""
    result = TREE.execute_line(BASE, line)
    assert result.replies and all(result.replies)


@pytest.mark.parametrize("line", EXAMPLES)
def test_examples_round_trip(line):
    """After any example, write -> parse gives equal settings."""
    after = TREE.execute_line(BASE, line).settings
    reparsed = Settings().apply(TREE.write(after), tree=TREE)
    assert reparsed == after


@pytest.mark.parametrize("line", EXAMPLES)
def test_keywords_are_case_insensitive(line):
    """Upper-case keywords do the same as lower-case ones."""
    words = line.split()
    verb = _verb_for(line)
    keyword_at = {i for i, part in enumerate(verb.path) if isinstance(part, str)}
    upper = [w.upper() if i in keyword_at else w for i, w in enumerate(words)]
    fixed_hash = build_tree(hasher=lambda plain: HASH, clock=lambda: NOW)
    assert fixed_hash.execute(BASE, upper).settings == fixed_hash.execute(BASE, words).settings


@pytest.mark.parametrize("line", [l for l in EXAMPLES if _verb_for(l).args and not any(a.optional for a in _verb_for(l).args)])
def test_missing_argument_shows_syntax(line):
    """Leaving off the last argument is refused with the verb's syntax."""
    verb = _verb_for(line)
    words = line.split()[: len(verb.path)]
    with pytest.raises(AdminError) as err:
        TREE.execute(BASE, words)
    assert err.value.syntax == verb.syntax
    assert "Missing" in str(err.value) and "Syntax: " + verb.syntax in str(err.value)


@pytest.mark.parametrize("line", [l for l in EXAMPLES if not any(a.rest for a in _verb_for(l).args)])
def test_extra_argument_shows_syntax(line):
    """A trailing extra word is refused with a syntax line, changing nothing."""
    with pytest.raises(AdminError) as err:
        TREE.execute(BASE, line.split() + ["extra"])
    assert "Syntax:" in str(err.value)
    if line not in ("oper", "server"):  # "OPER extra" reads "extra" as an oper name
        assert "extra" in str(err.value)


@pytest.mark.parametrize("words, reason", [
    ([], "No command given"),
    (["bogus"], "Unknown family 'bogus'"),
    (["general"], "Incomplete command GENERAL"),
    (["general", "set"], "Incomplete command GENERAL SET"),
    (["general", "set", "colour", "red"], "Unknown GENERAL SET keyword 'colour'"),
    (["general", "ssl", "maybe"], "Unknown GENERAL SSL keyword 'maybe'"),
    (["oper", "admin"], "Incomplete command OPER <name>"),
    (["oper", "admin", "frob"], "Unknown OPER <name> keyword 'frob'"),
    (["oper", "bad name!", "list"], "Bad <name>"),
    (["oper", "admin", "access"], "Incomplete command OPER <name> ACCESS"),
    (["security", "set", "flood"], "Missing on|off"),
    (["security", "trigger"], "Incomplete command SECURITY TRIGGER"),
    (["services"], "Incomplete command SERVICES"),
])
def test_malformed_commands(words, reason):
    """Unknown or incomplete commands name the problem and show the syntax."""
    with pytest.raises(AdminError) as err:
        TREE.execute(BASE, words)
    assert reason in str(err.value)
    assert "Syntax: " in str(err.value)
    assert err.value.syntax


def test_branch_error_lists_alternatives():
    """An unknown keyword under a branch lists the keywords that would work."""
    with pytest.raises(AdminError) as err:
        TREE.execute(BASE, ["general", "set", "colour", "red"])
    assert "GENERAL SET NAME|DESCRIPTION|SERIAL" in err.value.syntax
    assert "see HELP GENERAL SET" in err.value.syntax


def test_error_leaves_settings_alone():
    """A failing command does not touch the snapshot it was given."""
    before = dataclasses.replace(BASE)
    with pytest.raises(AdminError):
        TREE.execute_line(BASE, "general set ports 99999")
    assert BASE == before


def test_unchanged_returns_same_object():
    """A command that changes nothing returns the very same snapshot, changed False."""
    result = TREE.execute_line(BASE, "general set hub")
    assert result.settings is BASE and not result.changed
    listing = TREE.execute_line(BASE, "general list")
    assert listing.settings is BASE and not listing.changed


def test_changed_returns_new_object():
    """A real change yields a new snapshot and leaves the old one intact."""
    result = TREE.execute_line(BASE, "general set leaf")
    assert result.changed and result.settings is not BASE
    assert BASE.role == "hub" and result.settings.role == "leaf"


def test_restart_needed_only_when_changed():
    """Renaming the server says a restart is needed; setting the same name does not."""
    result = TREE.execute_line(BASE, "general set name other.example.com")
    assert result.restart_needed and "restart" in result.restart_needed
    same = TREE.execute_line(BASE, f"general set name {BASE.name}")
    assert same.restart_needed is None


def test_live_trailing_parameter():
    """A live command whose last parameter holds spaces (IRC trailing) works."""
    result = TREE.execute(BASE, ["GENERAL", "SET", "DESCRIPTION", "My  test   server"])
    assert result.settings.description == "My test server"


# -- HELP ------------------------------------------------------------------


@pytest.mark.parametrize("topic", TREE.topics())
def test_help_every_node_non_empty(topic):
    """HELP for every node of the tree gives non-empty lines."""
    lines = TREE.help(list(topic))
    assert lines and all(line.strip() for line in lines)
    via_command = TREE.execute(BASE, ["help", *topic]).replies
    assert via_command == lines


def test_every_verb_has_help_and_appears_in_help():
    """Every verb has help text and its syntax is shown by HELP of its family."""
    for verb in TREE.verbs:
        assert verb.help.strip()
        family = [p for p in verb.path if isinstance(p, str)][0]
        if family != "help":
            assert any(line.startswith(verb.syntax + " - ") for line in TREE.help([family]))


def test_help_top_level_lists_families():
    """HELP alone lists every family with its summary."""
    text = "\n".join(TREE.help([]))
    for fam in ("GENERAL", "OPER", "SERVICES", "SECURITY", "HELP"):
        assert fam in text


def test_help_syntax_line():
    """The HELP verb documents itself as HELP [family [topic]]."""
    assert _verb_for("help").syntax == "HELP [family [topic]]"


def test_help_through_param():
    """HELP OPER ACCESS and HELP OPER admin ACCESS both find the ACCESS verbs."""
    assert TREE.help(["oper", "access"]) == TREE.help(["oper", "admin", "access"])
    assert all("ACCESS" in line for line in TREE.help(["oper", "access"]))


def test_help_unknown_topic():
    """HELP for something that does not exist is an error with the HELP syntax."""
    with pytest.raises(AdminError) as err:
        TREE.help(["nothing"])
    assert "HELP [family [topic]]" in str(err.value)


def test_declaration_without_help_rejected():
    """Building a tree with a help-less verb fails at build time."""
    def bad():
        return Family("x", "x", (Verb(("x", "y"), " ", lambda c, s, v: Outcome(s)),))
    with pytest.raises(ValueError):
        build_tree(families=[bad])


def test_duplicate_declaration_rejected():
    """Declaring the same path twice fails at build time."""
    def dup():
        verb = Verb(("x", "y"), "help", lambda c, s, v: Outcome(s))
        return Family("x", "x", (verb, verb))
    with pytest.raises(ValueError):
        build_tree(families=[dup])


def test_trees_are_independent():
    """Each build_tree() call gives a fresh tree (no shared registry)."""
    assert build_tree() is not build_tree()
    assert [v.syntax for v in build_tree().verbs] == [v.syntax for v in TREE.verbs]


# -- Settings ----------------------------------------------------------------


def test_settings_defaults():
    """Default settings carry the documented values."""
    s = Settings()
    assert (s.name, s.description, s.serial, s.contact, s.network) == (
        "irc.conferenceroom.local", "ConferenceRoom IRC server", "100-0000-001", "", "ConferenceRoom")
    assert s.ports == (6667,) and s.bindip == "" and s.role == "hub" and s.datadir is None
    assert (s.ssl.enabled, s.ssl.port, s.ssl.cert, s.ssl.key) == (False, 994, None, None)
    assert not s.secureonly and not s.securenetwork and s.services_enabled
    assert s.opers == {} and s.oper("admin") is None
    f = s.flood
    assert (f.enabled, f.penalties, f.seconds, f.kill, f.oper_exempt) == (True, 10, 10, 20, True)
    assert s.deftrigger == 5 and s.triggers == () and s.cps == 0
    assert s.servers == {} and s.klines == s.akills == s.zlines == ()
    assert TREE.write(s) == [
        "general set name irc.conferenceroom.local",
        "general set description ConferenceRoom IRC server",
        "general set serial 100-0000-001",
        "general set ports 6667",
        "general set hub",
        "services enable",
    ]


def test_settings_frozen_and_hashable():
    """Settings cannot be assigned to, and equal snapshots hash equal."""
    with pytest.raises(dataclasses.FrozenInstanceError):
        BASE.name = "x.y"  # type: ignore[misc]
    copy = Settings().apply(TREE.write(BASE), tree=TREE)
    assert copy == BASE and hash(copy) == hash(BASE)


def test_paths_resolve_against_config_dir():
    """motd and datadir_path() resolve relative paths beside the config file."""
    s = dataclasses.replace(Settings(), config_dir="/etc/cr")
    assert s.motd == "/etc/cr/motd.txt"
    assert s.datadir_path() == "/etc/cr/data"
    assert s.datadir_path("/srv/x/conf.conf") == "/srv/x/data"
    s2 = TREE.execute_line(s, "general set motd /abs/motd").settings
    s2 = TREE.execute_line(s2, "general set datadir var/db").settings
    assert s2.motd == "/abs/motd" and s2.datadir_path() == "/etc/cr/var/db"


def test_trigger_for():
    """trigger_for uses the first matching exception (exact, CIDR, glob), else the default."""
    s = Settings().apply([
        "security trigger add 127.0.0.1 0",
        "security trigger add 10.0.0.0/8 2",
        "security trigger add 192.168.* 7",
        "security set deftrigger 4",
    ], tree=TREE)
    assert s.trigger_for("127.0.0.1") == 0
    assert s.trigger_for("10.1.2.3") == 2
    assert s.trigger_for("192.168.5.5") == 7
    assert s.trigger_for("8.8.8.8") == 4
    assert s.trigger_for("::1") == 4


def test_oper_lookup_is_case_insensitive():
    """settings.oper() folds rfc1459 case; the display name is kept."""
    s = TREE.execute_line(Settings(), f"oper Ad[min] add {HASH} a").settings
    assert s.oper("AD{MIN}").name == "Ad[min]"
    assert list(s.opers) == [fold_name("Ad[min]")] == ["ad{min}"]


def test_frozenmap():
    """FrozenMap is immutable, hashable and compares like a dict."""
    m = FrozenMap({"a": 1})
    assert m == {"a": 1} and m.set("b", 2) == {"a": 1, "b": 2} and m == {"a": 1}
    assert m.remove("a") == {} and hash(m) == hash(FrozenMap([("a", 1)]))
    with pytest.raises(TypeError):
        m["a"] = 2  # type: ignore[index]


def test_apply_accepts_word_lists():
    """Settings.apply takes lines or word lists and never mutates."""
    s = Settings()
    new = s.apply([["general", "set", "leaf"], "security cps 3"], tree=TREE)
    assert (new.role, new.cps) == ("leaf", 3) and (s.role, s.cps) == ("hub", 0)


# -- property: random command sequences round-trip ----------------------------

_label = st.from_regex(r"[a-z][a-z0-9]{0,6}", fullmatch=True)
_word = st.text(alphabet=st.sampled_from("abcXYZ019-_.#:/!é"), min_size=1, max_size=8)
_text = st.lists(_word, min_size=1, max_size=4).map(" ".join)
_name = st.sampled_from(["admin", "Bob", "c[a]rol", "dave"])
_flags = st.sets(st.sampled_from("acdeghs"), min_size=1).map(lambda f: "".join(sorted(f)))
_port = st.integers(1, 65535)
_ipmask = st.one_of(
    st.ip_addresses().map(str),
    st.sampled_from(["10.0.0.0/8", "192.168.*", "2001:db8::/32", "127.0.0.?"]),
)
_onoff = st.sampled_from(["on", "off", "ON", "yes", "no"])
_n = st.integers(0, 500).map(str)
_pos = st.integers(1, 500).map(str)


def _ports(ports):
    return ",".join(str(p) for p in ports)


_handle = st.sampled_from(["tenor", "Soprano", "alto"])
_banmask = st.sampled_from(["*@*.spam.example", "~bad@*", "evil@10.0.0.*", "*!x@y.example", "*@Host.example"])
# A reason may not start with a digit unless after ':' (or a duration): "2x" is a mistyped duration.
_reason = st.one_of(st.just(""), _text.map(lambda t: ":" + t if t[:1].isdigit() else t),
                    st.sampled_from(["0", "0 day exploit", ":colon", "by=x y", "2h", "at=1", ":3rd strike"]))
_duration = st.sampled_from(["", "0", "30m", "2h", "1d", "1w", "90", "until=1700003600", "until=1600000000"])
_meta = st.sampled_from(["", "by=admin", "at=1690000000", "by=Bob at=1690000001"])

#: SERVER definitions and bans, for the random round trip (also used by test_admin_persistence).
SERVER_AND_BAN_COMMANDS = (
    _handle.map(lambda h: f"server {h} add"),
    _handle.map(lambda h: f"server {h} del"),
    st.builds(lambda h, v: f"server {h} {v}", _handle, st.sampled_from(["enable", "disable", "set enable",
                                                                         "set disable"])),
    st.builds(lambda h, k, v: f"server {h} set {k} {v}", _handle, st.sampled_from(["name"]),
              st.sampled_from(["*", "tenor.*", "*.Example.com", "hub?.sd.com"])),
    st.builds(lambda h, v: f"server {h} set serial {v}", _handle,
              st.one_of(st.from_regex(r"\d{3}-\d{4}-\d{3}", fullmatch=True), st.just("none"))),
    st.builds(lambda h, v: f"server {h} set password {v}", _handle,
              st.one_of(st.from_regex(r"[!-9;-~][!-~]{0,20}", fullmatch=True).filter(lambda p: p.lower() != "none"),
                        st.just("none"))),
    st.builds(lambda h, v: f"server {h} set fingerprint {v}", _handle,
              st.one_of(st.from_regex(r"[0-9a-fA-F]{64}", fullmatch=True), st.just(FP), st.just("none"))),
    st.builds(lambda h, v: f"server {h} set role {v}", _handle, st.sampled_from(["hub", "leaf", "HUB"])),
    st.builds(lambda h, v: f"server {h} set host {v}", _handle,
              st.one_of(st.ip_addresses().map(str), st.sampled_from(["Hub1.SD.com", "localhost", "none"]))),
    st.builds(lambda h, v: f"server {h} set port {v}", _handle, st.one_of(_port.map(str), st.just("none"))),
    st.builds(lambda h, v: f"server {h} set bindip {v}", _handle,
              st.one_of(st.ip_addresses().map(str), st.just("*"))),
    st.builds(lambda h, v: f"server {h} set ping {v}", _handle, st.integers(10, 86400)),
    st.builds(lambda h, k, v: f"server {h} set {k} {v}", _handle,
              st.sampled_from(["auto", "secure", "secureonly"]), _onoff),
    st.builds(lambda k, m, d, b, r: " ".join(w for w in (f"security {k} add {m}", d, b, r) if w),
              st.sampled_from(["kline", "akill"]), _banmask, _duration, _meta, _reason),
    st.builds(lambda m, d, b, r: " ".join(w for w in (f"security zline add {m}", d, b, r) if w),
              _ipmask, _duration, _meta, _reason),
    st.builds(lambda k, m: f"security {k} del {m}", st.sampled_from(["kline", "akill"]), _banmask),
    _ipmask.map(lambda m: f"security zline del {m}"),
)

#: Refusals that depend on the state reached (unknown oper, duplicate entry...).
STATEFUL_REFUSALS = ("No oper", "Oper ", "No trigger", "No server", "Server ", "No K-line", "No AKILL",
                     "No Z-line", "Allowed origin ", "Trusted proxy ")


COMMANDS = st.one_of(
    st.builds(lambda a, b: f"general set name {a}.{b}", _label, _label),
    _text.map(lambda t: f"general set description {t}"),
    st.from_regex(r"\d{3}-\d{4}-\d{3}", fullmatch=True).map(lambda t: f"general set serial {t}"),
    _text.map(lambda t: f"general set contact {t}"),
    st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,10}", fullmatch=True).map(lambda t: f"general set network {t}"),
    st.lists(_port, min_size=1, max_size=6).map(lambda p: f"general set ports {_ports(p)}"),
    st.builds(lambda lo, n: f"general set ports {lo}-{min(lo + n, 65535)}", _port, st.integers(0, 5)),
    st.one_of(st.ip_addresses().map(str), st.just("*")).map(lambda ip: f"general set bindip {ip}"),
    st.sampled_from(["general set hub", "general set leaf", "general ssl enable", "general ssl disable",
                     "services enable", "services disable"]),
    _text.map(lambda t: f"general set datadir {t}"),
    _text.map(lambda t: f"general set motd {t}"),
    _port.map(lambda p: f"general ssl port {p}"),
    _text.map(lambda t: f"general ssl cert {t}"),
    _text.map(lambda t: f"general ssl key {t}"),
    _text.map(lambda t: f"general ssl cafile {t}"),
    _onoff.map(lambda v: f"general set secureonly {v}"),
    _onoff.map(lambda v: f"general set securenetwork {v}"),
    st.sampled_from(["general websocket enable", "general websocket disable"]),
    _port.map(lambda p: f"general websocket port {p}"),
    _onoff.map(lambda v: f"general websocket secure {v}"),
    st.builds(lambda verb, o: f"general websocket origin {verb} {o}", st.sampled_from(["add", "del"]),
              st.sampled_from(["https://a.example.org", "http://*.example.net:8080", "*"])),
    st.builds(lambda verb, m: f"general websocket proxy {verb} {m}", st.sampled_from(["add", "del"]), _ipmask),
    st.builds(lambda n, f: f"oper {n} add {HASH} {f}", _name, _flags),
    _name.map(lambda n: f"oper {n} add {HASH}"),
    _name.map(lambda n: f"oper {n} del"),
    _name.map(lambda n: f"oper {n} password {HASH}"),
    st.builds(lambda n, u, h: f"oper {n} access add {u}@{h}", _name, st.sampled_from(["*", "root", "~x"]),
              st.sampled_from(["*", "127.0.0.1", "*.example.com"])),
    st.builds(lambda n, h: f"oper {n} access del *@{h}", _name, st.sampled_from(["*", "127.0.0.1"])),
    st.builds(lambda n, f: f"oper {n} flag add {f}", _name, _flags),
    st.builds(lambda n, f: f"oper {n} flag del {f}", _name, _flags),
    _onoff.map(lambda v: f"security set flood {v}"),
    st.builds(lambda k, v: f"security set flood {k} {v}", st.sampled_from(["penalties", "seconds", "kill"]), _pos),
    _onoff.map(lambda v: f"security set flood oper {v}"),
    _n.map(lambda v: f"security set deftrigger {v}"),
    st.builds(lambda m, n: f"security trigger add {m} {n}", _ipmask, _n),
    _ipmask.map(lambda m: f"security trigger del {m}"),
    _n.map(lambda v: f"security cps {v}"),
    *SERVER_AND_BAN_COMMANDS,
)


@hsettings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(COMMANDS, max_size=25))
def test_random_settings_round_trip(commands):
    """Any sequence of valid commands gives settings that survive write -> parse."""
    s = Settings()
    for line in commands:
        try:
            s = TREE.execute_line(s, line).settings
        except AdminError as exc:
            # Only refusals that depend on state (unknown oper, duplicate...).
            assert exc.reason.startswith(STATEFUL_REFUSALS), exc
    written = TREE.write(s)
    reparsed = Settings().apply(written, tree=TREE)
    assert reparsed == s
    assert TREE.write(reparsed) == written
