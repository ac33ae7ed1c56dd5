# -*- test-case-name: tests.unit.test_sasl -*-
"""AUTHENTICATE: IRCv3 SASL PLAIN and EXTERNAL (the exchange is in :mod:`conferenceroom.client.sasl`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...dispatch import command
from ...wire import Message
from ..sasl import authenticate

if TYPE_CHECKING:
    from ..protocol import ClientConnection


@command("AUTHENTICATE", min_params=1, registered=False, syntax="AUTHENTICATE <mechanism>|<base64>|+|*")
def handle_authenticate(conn: "ClientConnection", msg: Message) -> None:
    """AUTHENTICATE <mechanism> starts an exchange; then base64 chunks, + (empty or last) or * (abort)."""
    authenticate(conn, msg.params[0])
