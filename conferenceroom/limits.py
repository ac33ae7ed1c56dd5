"""Protocol limits shared by every side of the server (clients, links, services).

This module imports nothing from the package, so the client command modules,
the core and the link layer can all read the same numbers without importing
each other.  ISUPPORT (``core.ServerCore.isupport``) advertises them.
"""

from __future__ import annotations

NICKLEN = 30
# 300 keeps RPL_TOPIC within 512 bytes even with the longest server name,
# nick and channel name (63 + 30 + 50 characters).
TOPICLEN = 300
MAX_TARGETS = 4
CHANNELLEN = 50
KEYLEN = 23
KICKLEN = 300
AWAYLEN = 300
QUITLEN = 300
USERLEN = 10
HOSTLEN = 63
REALNAMELEN = 150  # characters of a real name: USER cuts a longer one, SETNAME refuses it
MONITOR_LIMIT = 100  # nicks one client may MONITOR (ISUPPORT MONITOR=)
