"""A core with services attached on task.Clock: store in a temporary folder, bcrypt at cost 4."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from twisted.internet import task

from conferenceroom import services
from conferenceroom.core import ServerCore
from conferenceroom.wire import Message
from tests.helpers import START, make_core, make_settings, sent


def services_core(tmp_path: Path, clock: task.Clock | None = None, **settings: Any) -> ServerCore:
    """A core named test.local running services (store ``tmp_path/services.db``, cost 4)."""
    settings.setdefault("services_password_cost", 4)
    settings.setdefault("deftrigger", 0)  # registrations per address are not counted unless a test asks
    if clock is None:
        clock = task.Clock()
        clock.advance(START)
    core = make_core(make_settings(**settings), clock)
    services.attach(core, store_path=str(tmp_path / "services.db"))
    return core


def restart_services(core: ServerCore) -> None:
    """Stop services and start them again on the same store (as a restart would)."""
    control = core.services_control
    control.disable("test restart")
    control.enable()


def notices_from(conn: Any, nick: str) -> list[str]:
    """The texts of NOTICEs from ``nick`` sent to ``conn`` since the last read."""
    return [m.params[-1] for m in sent(conn) if m.command == "NOTICE" and (m.source or "").split("!")[0] == nick]


def ask(conn: Any, bot: str, text: str) -> list[str]:
    """``PRIVMSG <bot> :<text>`` from ``conn``; the bot's NOTICE texts."""
    from tests.helpers import feed

    sent(conn)
    feed(conn, f"PRIVMSG {bot} :{text}")
    conn.core.clock.advance(0)
    return notices_from(conn, bot)


def with_cost(settings: Any, cost: int) -> Any:
    """``settings`` with another services password cost."""
    return replace(settings, services_password_cost=cost)


__all__ = ["services_core", "restart_services", "notices_from", "ask", "with_cost", "Message"]
