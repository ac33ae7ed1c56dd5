# -*- test-case-name: tests.unit.test_chanserv -*-
"""ChanServ's records and tables: registered channels, access lists, AKICKs.

:class:`ChannelRecord` is the in-memory copy ChanServ decides from (joins
and mode changes need an answer at once); every change is written through
the services :class:`~conferenceroom.services.store.Store` as one
transaction, and the copy is updated only once that commit returned.  The
functions taking a ``sqlite3.Connection`` run on the store's worker thread.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field

from ..casemap import FoldedDict, fold
from .chanrules import Level, ModeLock

COMPONENT = "chanserv"

MIGRATIONS: list[str] = [
    """
    CREATE TABLE cs_channels (
        folded TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        founder TEXT NOT NULL,
        registered INTEGER NOT NULL,
        topic TEXT NOT NULL DEFAULT '',
        topic_setter TEXT NOT NULL DEFAULT '',
        topic_ts INTEGER NOT NULL DEFAULT 0,
        topiclock INTEGER NOT NULL DEFAULT 0,
        secureops INTEGER NOT NULL DEFAULT 0,
        mlock_on TEXT NOT NULL DEFAULT 'nt',
        mlock_off TEXT NOT NULL DEFAULT '',
        mlock_key TEXT,
        mlock_limit INTEGER
    );
    CREATE TABLE cs_access (
        channel TEXT NOT NULL REFERENCES cs_channels(folded) ON DELETE CASCADE,
        folded TEXT NOT NULL,
        entry TEXT NOT NULL,
        level INTEGER NOT NULL,
        added_by TEXT NOT NULL,
        added INTEGER NOT NULL,
        PRIMARY KEY (channel, folded)
    );
    CREATE TABLE cs_akick (
        channel TEXT NOT NULL REFERENCES cs_channels(folded) ON DELETE CASCADE,
        folded TEXT NOT NULL,
        mask TEXT NOT NULL,
        reason TEXT NOT NULL,
        added_by TEXT NOT NULL,
        added INTEGER NOT NULL,
        PRIMARY KEY (channel, folded)
    );
    """,
]


@dataclass(frozen=True)
class AccessEntry:
    """One access list entry: an account or mask at a level."""

    entry: str
    level: Level
    added_by: str
    added: int


@dataclass(frozen=True)
class AkickEntry:
    """One AKICK: users matching ``mask`` are banned and kicked with ``reason``."""

    mask: str
    reason: str
    added_by: str
    added: int


@dataclass
class ChannelRecord:
    """A registered channel as ChanServ keeps it."""

    name: str
    founder: str
    registered: int
    topic: str = ""
    topic_setter: str = ""
    topic_ts: int = 0
    topiclock: bool = False
    secureops: bool = False
    mlock: ModeLock = field(default_factory=lambda: ModeLock("nt"))
    access: dict[str, AccessEntry] = field(default_factory=dict)  # folded entry -> entry
    akicks: dict[str, AkickEntry] = field(default_factory=dict)  # folded mask -> entry

    @property
    def folded(self) -> str:
        """The channel name folded (the table key)."""
        return fold(self.name)


# -- worker-thread functions ------------------------------------------------------------


def load_all(conn: sqlite3.Connection) -> list[ChannelRecord]:
    """Every registered channel with its access list and AKICKs."""
    records: dict[str, ChannelRecord] = {}
    for row in conn.execute("SELECT * FROM cs_channels"):
        records[row["folded"]] = ChannelRecord(
            row["name"], row["founder"], row["registered"], row["topic"], row["topic_setter"],
            row["topic_ts"], bool(row["topiclock"]), bool(row["secureops"]),
            ModeLock(row["mlock_on"], row["mlock_off"], row["mlock_key"], row["mlock_limit"]),
        )
    for row in conn.execute("SELECT * FROM cs_access"):
        record = records.get(row["channel"])
        if record is not None:
            record.access[row["folded"]] = AccessEntry(row["entry"], Level(row["level"]), row["added_by"],
                                                       row["added"])
    for row in conn.execute("SELECT * FROM cs_akick"):
        record = records.get(row["channel"])
        if record is not None:
            record.akicks[row["folded"]] = AkickEntry(row["mask"], row["reason"], row["added_by"], row["added"])
    return list(records.values())


def insert_channel(conn: sqlite3.Connection, record: ChannelRecord) -> bool:
    """Register ``record``; False if the channel is registered already."""
    try:
        conn.execute(
            "INSERT INTO cs_channels (folded, name, founder, registered, topic, topic_setter, topic_ts,"
            " topiclock, secureops, mlock_on, mlock_off, mlock_key, mlock_limit)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (record.folded, record.name, record.founder, record.registered, record.topic,
             record.topic_setter, record.topic_ts, int(record.topiclock), int(record.secureops),
             record.mlock.on, record.mlock.off, record.mlock.key, record.mlock.limit))
    except sqlite3.IntegrityError:
        return False
    return True


#: The columns :func:`update_channel` may set.
COLUMNS = frozenset({"founder", "topic", "topic_setter", "topic_ts", "topiclock", "secureops",
                     "mlock_on", "mlock_off", "mlock_key", "mlock_limit"})


def update_channel(conn: sqlite3.Connection, folded: str, values: dict[str, object]) -> bool:
    """Set only the given columns of channel ``folded``; False if it is no longer registered.

    One change writes only its own columns, so changes queued together (a
    SET and a topic) never undo each other.
    """
    unknown = set(values) - COLUMNS
    if unknown:
        raise ValueError(f"no such ChanServ column: {sorted(unknown)}")
    columns = sorted(values)
    assignments = ", ".join(f"{name} = ?" for name in columns)
    cursor = conn.execute(f"UPDATE cs_channels SET {assignments} WHERE folded = ?",
                          (*(values[name] for name in columns), folded))
    return cursor.rowcount == 1


def lock_columns(lock: ModeLock) -> dict[str, object]:
    """The column values that store ``lock``."""
    return {"mlock_on": lock.on, "mlock_off": lock.off, "mlock_key": lock.key, "mlock_limit": lock.limit}


def delete_channel(conn: sqlite3.Connection, folded: str) -> bool:
    """Drop a channel's registration (its access list and AKICKs with it); False if none."""
    return conn.execute("DELETE FROM cs_channels WHERE folded = ?", (folded,)).rowcount == 1


def put_access(conn: sqlite3.Connection, channel: str, entry: AccessEntry) -> None:
    """Add or change one access entry of folded ``channel``."""
    conn.execute(
        "INSERT INTO cs_access (channel, folded, entry, level, added_by, added) VALUES (?, ?, ?, ?, ?, ?)"
        " ON CONFLICT(channel, folded) DO UPDATE SET entry = excluded.entry, level = excluded.level,"
        " added_by = excluded.added_by, added = excluded.added",
        (channel, fold(entry.entry), entry.entry, int(entry.level), entry.added_by, entry.added))


def delete_access(conn: sqlite3.Connection, channel: str, folded: str) -> bool:
    """Remove one access entry; False if it was not there."""
    return conn.execute("DELETE FROM cs_access WHERE channel = ? AND folded = ?",
                        (channel, folded)).rowcount == 1


def put_akick(conn: sqlite3.Connection, channel: str, entry: AkickEntry) -> None:
    """Add or change one AKICK of folded ``channel``."""
    conn.execute(
        "INSERT INTO cs_akick (channel, folded, mask, reason, added_by, added) VALUES (?, ?, ?, ?, ?, ?)"
        " ON CONFLICT(channel, folded) DO UPDATE SET reason = excluded.reason,"
        " added_by = excluded.added_by, added = excluded.added",
        (channel, fold(entry.mask), entry.mask, entry.reason, entry.added_by, entry.added))


def delete_akick(conn: sqlite3.Connection, channel: str, folded: str) -> bool:
    """Remove one AKICK; False if it was not there."""
    return conn.execute("DELETE FROM cs_akick WHERE channel = ? AND folded = ?",
                        (channel, folded)).rowcount == 1


class Registry(FoldedDict[ChannelRecord]):
    """The registered channels by name, as loaded and then kept in step with the store."""
