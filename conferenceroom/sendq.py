# -*- test-case-name: tests.unit.test_client_protocol -*-
"""How much a connection has written that its peer has not taken yet (the SendQ)."""

from __future__ import annotations

from typing import Any


def queued_bytes(transport: Any) -> int:
    """Bytes written to ``transport`` but not yet sent, through a TLS wrapper too."""
    total = 0
    while transport is not None:
        buffered = getattr(transport, "dataBuffer", b"")
        total += len(buffered) - getattr(transport, "offset", 0) + getattr(transport, "_tempDataLen", 0)
        app = getattr(transport, "_appSendBuffer", None)
        if isinstance(app, list):
            total += sum(len(chunk) for chunk in app)
        transport = getattr(transport, "transport", None)
    return total
