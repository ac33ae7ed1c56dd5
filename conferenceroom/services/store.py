# -*- test-case-name: tests.unit.test_services_store -*-
"""The services database: SQLite in DATADIR, one worker thread, durable commits.

Every call runs on a single thread of its own (never the reactor's), in
order, on one connection opened there with ``journal_mode=WAL`` and
``synchronous=FULL``.  :meth:`Store.run` runs one function as one
transaction and fires its Deferred only after the commit returned, so a
reply sent from its callback is a change already on disk (it survives
``kill -9``).

Each service module owns its tables: at start it calls
:meth:`Store.migrate` with its component name and its ordered list of
steps (SQL text or ``callable(connection)``); ``schema_versions`` records
how many steps of each component were applied, so a database of an older
version is brought up to date step by step, and modules never share a list.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger
from twisted.python.threadpool import ThreadPool

T = TypeVar("T")
Step = str | Callable[[sqlite3.Connection], None]

FILENAME = "services.db"

_VERSIONS = """CREATE TABLE IF NOT EXISTS schema_versions (
    component TEXT PRIMARY KEY,
    version INTEGER NOT NULL
)"""


class StoreError(Exception):
    """The database could not be opened or migrated (the sentence says why)."""


def open_connection(path: str) -> sqlite3.Connection:
    """Open ``path`` (creating its folder) in WAL mode with full fsync on commit."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, mode=0o700, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    conn.row_factory = sqlite3.Row
    mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        raise StoreError(f"{path}: SQLite refused write-ahead logging (journal mode {mode})")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute(_VERSIONS)
    return conn


def transaction(conn: sqlite3.Connection, func: Callable[..., T], *args: Any) -> T:
    """Run ``func(conn, *args)`` inside BEGIN IMMEDIATE ... COMMIT (ROLLBACK on an error)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = func(conn, *args)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return result


def schema_version(conn: sqlite3.Connection, component: str) -> int:
    """How many migration steps of ``component`` the database has (0: none)."""
    row = conn.execute("SELECT version FROM schema_versions WHERE component = ?", (component,)).fetchone()
    return int(row[0]) if row is not None else 0


def apply_migrations(conn: sqlite3.Connection, component: str, steps: Sequence[Step]) -> int:
    """Apply the steps of ``component`` the database lacks, each in its own transaction; the new version."""
    current = schema_version(conn, component)
    if current > len(steps):
        raise StoreError(
            f"the services database has {component} schema version {current}, newer than this "
            f"server knows ({len(steps)}): run the newer server or restore a backup")
    for number in range(current + 1, len(steps) + 1):
        step = steps[number - 1]

        def apply(c: sqlite3.Connection, step: Step = step, number: int = number) -> None:
            if callable(step):
                step(c)
            else:
                for statement in _statements(step):
                    c.execute(statement)
            c.execute("INSERT INTO schema_versions (component, version) VALUES (?, ?) "
                      "ON CONFLICT(component) DO UPDATE SET version = excluded.version", (component, number))

        transaction(conn, apply)
    return len(steps)


def _statements(script: str) -> list[str]:
    """The statements of ``script`` (split on complete statements, not on every ';')."""
    out, buffer = [], ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            out.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        out.append(buffer.strip())
    return out


class Store:
    """The services database, worked on by one thread of its own, in submission order.

    Work waiting while the worker is busy is taken as one batch: the
    transactions in it (:meth:`run`, :meth:`read`) share one ``COMMIT``
    (group commit: one fsync for many changes), each inside a savepoint so
    one that fails is rolled back alone; every Deferred fires only after
    that ``COMMIT`` returned.  Opening, migrations and closing run alone,
    in their place in the order.  With a ``reactor`` without threads
    (``task.Clock`` in unit tests) every call runs at once on the caller's
    thread and its Deferred has already fired.
    """

    log = Logger()

    def __init__(self, path: str, reactor: Any) -> None:
        self.path = path
        self.reactor = reactor
        self._threaded = hasattr(reactor, "callFromThread")
        self._pool = ThreadPool(minthreads=1, maxthreads=1, name="conferenceroom-services-db")
        self._conn: sqlite3.Connection | None = None
        self._started = False
        self._trigger: Any = None
        self._queue: list[tuple[bool, Callable[..., Any], tuple[Any, ...], Deferred]] = []
        self._busy = False
        #: batches committed and the jobs in them (for the benchmark's figures)
        self.batches = 0
        self.jobs = 0

    def start(self) -> Deferred:
        """Start the worker and open the database on it; fires when open (errback: :class:`StoreError`)."""
        if self._threaded and not self._started:
            self._pool.start()
            # A worker left running would keep the process alive after the reactor stops.
            self._trigger = self.reactor.addSystemEventTrigger("during", "shutdown", self._stop_pool)
        self._started = True
        return self._submit(False, lambda conn: self._open())

    def _open(self) -> None:
        try:
            self._conn = open_connection(self.path)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the services database {self.path}: {exc}") from exc

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError("the services database is not open")
        return self._conn

    def run(self, func: Callable[..., T], *args: Any) -> Deferred:
        """Run ``func(connection, *args)`` as one transaction on the worker; fires after the commit."""
        return self._submit(True, func, *args)

    def read(self, func: Callable[..., T], *args: Any) -> Deferred:
        """Run ``func(connection, *args)`` on the worker, in order with the changes (queries)."""
        return self._submit(True, func, *args)

    def migrate(self, component: str, steps: Sequence[Step]) -> Deferred:
        """Bring ``component``'s tables up to ``len(steps)``; fires with the version."""
        return self._submit(False, lambda conn: apply_migrations(self._connection(), component, steps))

    def close(self) -> Deferred:
        """Finish the queued work, close the connection and stop the worker (without blocking the reactor)."""
        d = self._submit(False, lambda conn: self._close_now())
        if self._threaded and self._started:
            self._started = False
            if self._trigger is not None:
                self.reactor.removeSystemEventTrigger(self._trigger)
                self._trigger = None
            # Stopping joins the worker thread: done on a reactor thread, never the reactor itself.
            pool = self._pool
            d.addBoth(lambda result: deferToThreadPool(self.reactor, self.reactor.getThreadPool(), pool.stop)
                      .addCallback(lambda _: result))
        return d

    # -- the queue ---------------------------------------------------------------------

    def _submit(self, in_transaction: bool, func: Callable[..., Any], *args: Any) -> Deferred:
        if not self._threaded:
            if in_transaction:
                return maybeDeferred(lambda: transaction(self._connection(), func, *args))
            return maybeDeferred(func, None, *args)
        d = Deferred()
        self._queue.append((in_transaction, func, args, d))
        if not self._busy:
            self._next_batch()
        return d

    def _next_batch(self) -> None:
        if not self._queue:
            self._busy = False
            return
        self._busy = True
        batch, self._queue = self._queue, []
        work = [(tx, func, args) for tx, func, args, _ in batch]
        done = deferToThreadPool(self.reactor, self._pool, self._work, work)

        def fire(results: list[tuple[bool, Any]]) -> None:
            for (_, _, _, d), (ok, value) in zip(batch, results):
                if ok:
                    d.callback(value)
                else:
                    d.errback(value)

        def failed(failure: Any) -> None:  # the batch itself broke (COMMIT failed): every job fails
            for _, _, _, d in batch:
                d.errback(failure)

        done.addCallbacks(fire, failed)
        done.addBoth(lambda _: self._next_batch())

    def _work(self, work: list[tuple[bool, Callable[..., Any], tuple[Any, ...]]]) -> list[tuple[bool, Any]]:
        """On the worker: run ``work`` in order, consecutive transactions under one COMMIT."""
        from twisted.python.failure import Failure

        results: list[tuple[bool, Any]] = []
        i = 0
        while i < len(work):
            tx, func, args = work[i]
            if not tx:
                try:
                    results.append((True, func(self._conn, *args)))
                except Exception:
                    results.append((False, Failure()))
                i += 1
                continue
            group = []
            while i < len(work) and work[i][0]:
                group.append(work[i])
                i += 1
            results.extend(self._group(group, Failure))
        return results

    def _group(self, group: list[tuple[bool, Callable[..., Any], tuple[Any, ...]]],
               failure: Any) -> list[tuple[bool, Any]]:
        """One transaction for ``group``, a savepoint per job; a failed COMMIT fails them all."""
        try:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
        except Exception:
            f = failure()
            return [(False, f) for _ in group]
        out: list[tuple[bool, Any]] = []
        for _, func, args in group:
            conn.execute("SAVEPOINT job")
            try:
                value = func(conn, *args)
            except Exception:
                out.append((False, failure()))
                conn.execute("ROLLBACK TO job")
                conn.execute("RELEASE job")
                continue
            conn.execute("RELEASE job")
            out.append((True, value))
        try:
            conn.execute("COMMIT")
        except Exception:
            f = failure()
            try:
                conn.execute("ROLLBACK")
            except Exception:
                pass
            return [(False, f) for _ in group]
        self.batches += 1
        self.jobs += len(group)
        return out

    def _stop_pool(self) -> None:
        """At reactor shutdown: let queued commits finish, close, stop the worker."""
        self._trigger = None
        if self._started:
            self._started = False
            self._pool.callInThread(self._close_now)
            self._pool.stop()

    def _close_now(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
