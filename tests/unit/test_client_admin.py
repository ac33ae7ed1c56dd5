"""AS typed by operators: permissions, replies, live effect and help."""

from typing import Any

from conferenceroom.admin import redact
from tests.helpers import feed, make_core, make_oper, register, sent


def _notices(conn: Any) -> list[str]:
    return [m.params[-1] for m in sent(conn) if m.command == "NOTICE"]


def test_as_refused_for_non_opers_and_wrong_flags() -> None:
    """A plain user, and an operator without flag a or c, get 481."""
    core = make_core()
    conn = register(core, "alice")
    feed(conn, "AS general list")
    assert sent(conn)[0].command == "481"
    make_oper(conn, "g")
    feed(conn, "AS general list")
    assert sent(conn)[0].command == "481"


def test_as_change_applies_and_reconfigures() -> None:
    """A valid change replies by NOTICE and hands the new settings to the service."""
    core = make_core()
    applied: list[Any] = []
    core.reconfigure = lambda new: applied.append(new) or ["opened port 7000"]
    conn = register(core, "alice")
    make_oper(conn, "c")
    feed(conn, "AS general set description A brand new description")
    notices = _notices(conn)
    assert applied and applied[0].description == "A brand new description"
    assert "opened port 7000" in notices
    assert any("description" in n.lower() for n in notices)


def test_as_bad_command_changes_nothing() -> None:
    """A malformed command gets a NOTICE with the syntax; settings stay the same."""
    core = make_core()
    applied: list[Any] = []
    core.reconfigure = lambda new: applied.append(new) or []
    before = core.settings
    conn = register(core, "alice")
    make_oper(conn, "a")
    feed(conn, "AS general set ports 99999")
    notices = _notices(conn)
    assert notices and "Syntax" in notices[0]
    assert not applied and core.settings is before


def test_as_help_lists_families() -> None:
    """AS HELP (and AS alone) list the families by NOTICE."""
    core = make_core()
    conn = register(core, "alice")
    make_oper(conn, "a")
    feed(conn, "AS HELP")
    text = "\n".join(_notices(conn))
    assert "GENERAL" in text and "OPER" in text
    feed(conn, "AS help nonsense")
    assert "No help" in _notices(conn)[0]


def test_redact_hides_passwords() -> None:
    """Passwords in AS lines never reach the log or other operators."""
    assert redact(["oper", "bob", "add", "hunter2", "ac"]) == "oper bob add **** ac"
    assert redact(["OPER", "bob", "PASSWORD", "hunter2"]) == "OPER bob PASSWORD ****"
    assert redact(["general", "set", "name", "x.y"]) == "general set name x.y"


def test_as_change_that_makes_a_likely_mistake_warns() -> None:
    """A change that leaves the server in a likely-wrong state (SECUREONLY
    with SSL off) is done, and the reply adds a warning saying why."""
    core = make_core()
    applied: list[Any] = []
    core.reconfigure = lambda new: applied.append(new) or []
    conn = register(core, "alice")
    make_oper(conn, "a")
    feed(conn, "AS general set secureonly on")
    assert applied and applied[0].secureonly
    assert _notices(conn) == ["Secure only set to on",
                              "Warning: SECUREONLY is on but SSL is disabled: no client can connect"]
    feed(conn, "AS general set description Still fine")
    assert not any(n.startswith("Warning") for n in _notices(conn))


def test_changed_lines_reports_changes_and_removals() -> None:
    """REHASH's report: a changed setting is one ``set:`` line, a deleted entry a ``removed:`` line."""
    from conferenceroom.admin import build_tree, changed_lines

    tree = build_tree(bcrypt_rounds=4)
    old = make_core().settings
    old = tree.execute(old, "oper bob add hunter2 g".split()).settings
    new = tree.execute(old, "general set description Edited".split()).settings
    new = tree.execute(new, "oper bob del".split()).settings
    lines = changed_lines(tree, old, new)
    assert "set: general set description Edited" in lines
    assert not any(line.startswith("removed: general set description") for line in lines)
    assert any(line.startswith("removed: oper bob add ****") for line in lines)
    assert not any("hunter2" in line or "$2b$" in line for line in lines)


def test_as_change_that_cannot_be_saved_is_not_put_into_force(tmp_path) -> None:
    """When the config file cannot be written, the reply says nothing was
    changed, and indeed the running settings are not changed either (the
    file and the server never disagree after an AS command)."""
    core = make_core()
    applied: list[Any] = []
    core.reconfigure = lambda new: applied.append(new) or []
    core.config_path = str(tmp_path / "missing-folder" / "c.conf")
    conn = register(core, "alice")
    make_oper(conn, "a")
    lines = _logged(lambda: feed(conn, "AS general set description Not saved"))
    assert any("not saved" in line and "No such file" in line for line in lines), lines
    assert not any("Traceback" in line for line in lines), lines
    notices = _notices(conn)
    assert not applied
    assert len(notices) == 1 and notices[0].startswith("AS failed: ")
    assert notices[0].endswith("; nothing was changed")


def _logged(run: Any) -> list[str]:
    """Every log line (formatted; "Traceback" added for a logged failure) emitted while ``run()`` runs."""
    from twisted.logger import formatEvent, globalLogPublisher

    events: list[dict] = []
    globalLogPublisher.addObserver(events.append)
    try:
        run()
    finally:
        globalLogPublisher.removeObserver(events.append)
    return [formatEvent(e) + (" Traceback" if "log_failure" in e else "") for e in events]


def test_as_typos_never_log_or_broadcast_the_password() -> None:
    """Mistyped AS commands holding a plain-text password: the log and the
    other operators' notices show the family and verb at most, never the
    password; the operator who typed it still gets the did-you-mean."""
    core = make_core()
    core.reconfigure = lambda new: []
    conn = register(core, "alice")
    make_oper(conn, "a")
    other = register(core, "bob")
    make_oper(other, "a", name="bob")
    feed(other, "MODE bob +s")
    other.transport.clear()
    typos = ["AS OPER x PASSWD Secret1x", "AS OPER x Secret1x PASSWORD", "AS OPRE x PASSWORD Secret1x",
             "AS OPER admin PASSWORD Secret1x extra", "AS SERVER tenor SET PASWORD Secret1x",
             "AS Secret1x"]
    lines = _logged(lambda: feed(conn, *typos))
    assert not any("Secret1x" in line for line in lines), lines
    assert any("AS OPER <name>" in line for line in lines), lines
    assert not any("Secret1x" in n for n in _notices(other))
    assert any("did you mean PASSWORD?" in n for n in _notices(conn))


def test_as_change_logged_masked_after_parsing() -> None:
    """A successful password change is logged and noticed to other opers with the password masked."""
    from conferenceroom.admin import build_tree

    core = make_core()
    core.admin_tree = build_tree(bcrypt_rounds=4, clock=core.clock)
    core.reconfigure = lambda new: core.apply_settings(new) or []
    conn = register(core, "alice")
    make_oper(conn, "a")
    other = register(core, "bob")
    make_oper(other, "a", name="bob")
    feed(other, "MODE bob +s")
    other.transport.clear()
    lines = _logged(lambda: feed(conn, "AS OPER carol ADD Plain9pass g", "AS SERVER tenor ADD",
                                 "AS SERVER tenor SET PASSWORD Link9pass"))
    assert core.settings.oper("carol") is not None and core.settings.server("tenor").password == "Link9pass"
    assert not any("Plain9pass" in line or "Link9pass" in line for line in lines), lines
    assert any("AS OPER carol ADD **** g" in line for line in lines), lines
    notices = _notices(other)
    assert any("AS SERVER tenor SET PASSWORD ****" in n for n in notices), notices
    assert not any("Link9pass" in n or "Plain9pass" in n for n in notices)


def test_as_refused_when_the_file_was_edited_by_hand(tmp_path) -> None:
    """A config file changed on disk since the server read it is never
    overwritten: the AS change is refused with a NOTICE to REHASH first,
    nothing is put into force and the hand edit stays byte for byte."""
    from conferenceroom.admin import ConfigFile, build_tree

    path = tmp_path / "c.conf"
    path.write_text("# mine\ngeneral set description Before\n")
    core = make_core()
    core.admin_tree = build_tree(bcrypt_rounds=4, clock=core.clock)
    core.config_path = str(path)
    core.config_file = ConfigFile(str(path), core.admin_tree, path.read_text())
    applied: list[Any] = []
    core.reconfigure = lambda new: applied.append(new) or []
    conn = register(core, "alice")
    make_oper(conn, "a")
    path.write_text(path.read_text() + "security kline add *@hand.example by hand\n")
    feed(conn, "AS general set description After")
    notices = _notices(conn)
    assert len(notices) == 1 and "changed on disk" in notices[0] and "REHASH first" in notices[0], notices
    assert not applied
    assert path.read_text() == "# mine\ngeneral set description Before\nsecurity kline add *@hand.example by hand\n"
