"""The services store and accounts: migrations, durable commits, bcrypt off the caller (task.Clock: synchronous)."""

from __future__ import annotations

import sqlite3

import pytest
from twisted.internet import defer, task

from conferenceroom.services.accounts import MIGRATIONS, AccountError, Accounts
from conferenceroom.services.store import Store, StoreError, schema_version


def _run(d):
    """The result of an already-fired Deferred (or raise its failure)."""
    results = []
    d.addBoth(results.append)
    assert results, "the Deferred has not fired"
    result = results[0]
    if hasattr(result, "raiseException"):
        result.raiseException()
    return result


def _store(tmp_path, name="services.db"):
    store = Store(str(tmp_path / name), task.Clock())
    _run(store.start())
    return store


def _accounts(tmp_path):
    clock = task.Clock()
    clock.advance(1_700_000_000)
    store = Store(str(tmp_path / "services.db"), clock)
    _run(store.start())
    accounts = Accounts(store, clock, lambda f, *a: defer.maybeDeferred(f, *a), rounds=4)
    _run(accounts.start())
    return accounts


def test_wal_and_full_sync(tmp_path):
    """The database is opened in WAL mode with synchronous=FULL (2)."""
    store = _store(tmp_path)
    assert _run(store.read(lambda c: c.execute("PRAGMA journal_mode").fetchone()[0])) == "wal"
    assert _run(store.read(lambda c: c.execute("PRAGMA synchronous").fetchone()[0])) == 2


def test_migrations_are_applied_once_and_versioned(tmp_path):
    """migrate() runs each missing step once and records the component's version."""
    store = _store(tmp_path)
    steps = ["CREATE TABLE t (a INTEGER)", lambda c: c.execute("INSERT INTO t VALUES (1)")]
    assert _run(store.migrate("demo", steps)) == 2
    assert _run(store.migrate("demo", steps)) == 2
    assert _run(store.read(lambda c: c.execute("SELECT count(*) FROM t").fetchone()[0])) == 1
    assert _run(store.read(schema_version, "demo")) == 2


def test_a_failed_step_leaves_the_previous_version(tmp_path):
    """A step that fails is rolled back and the version stays at the last good step."""
    store = _store(tmp_path)
    with pytest.raises(sqlite3.OperationalError):
        _run(store.migrate("demo", ["CREATE TABLE t (a)", "CREATE TABLE t (a)"]))
    assert _run(store.read(schema_version, "demo")) == 1


def test_newer_database_is_refused(tmp_path):
    """A database of a newer schema than the code knows is refused with a sentence."""
    store = _store(tmp_path)
    _run(store.migrate("demo", ["CREATE TABLE t (a)", "CREATE TABLE u (a)"]))
    with pytest.raises(StoreError, match="newer than this server knows"):
        _run(store.migrate("demo", ["CREATE TABLE t (a)"]))


def test_old_version_database_is_migrated_on_start(tmp_path):
    """An accounts database at schema version 1 (no enforce, no certfps) is brought up to date, rows kept."""
    path = tmp_path / "services.db"
    conn = sqlite3.connect(path)
    conn.executescript(MIGRATIONS[0] + """
        CREATE TABLE schema_versions (component TEXT PRIMARY KEY, version INTEGER NOT NULL);
        INSERT INTO schema_versions VALUES ('accounts', 1);
        INSERT INTO accounts VALUES ('alice', 'Alice', '$2b$04$abcdefghijklmnopqrstuuAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', NULL, 1);""")
    conn.commit()
    conn.close()
    accounts = _accounts(tmp_path)
    alice = accounts.get("ALICE")
    assert alice is not None and alice.name == "Alice" and alice.enforce is True and alice.certfps == set()
    assert _run(accounts.store.read(schema_version, "accounts")) == len(MIGRATIONS)


def test_register_and_verify(tmp_path):
    """register() stores a bcrypt hash; verify_password() gives the canonical name for the right password only."""
    accounts = _accounts(tmp_path)
    account = _run(accounts.register("Alice", "s3cret", "a@example.org"))
    assert account.password.startswith("$2b$04$") and "s3cret" not in account.password
    assert _run(accounts.verify_password("alice", "s3cret")) == "Alice"
    assert _run(accounts.verify_password("alice", "wrong")) is None
    assert _run(accounts.verify_password("nobody", "s3cret")) is None


def test_register_twice_is_refused(tmp_path):
    """A second registration of the same name (any case) fails with a sentence."""
    accounts = _accounts(tmp_path)
    _run(accounts.register("Alice", "s3cret"))
    with pytest.raises(AccountError, match="already registered"):
        _run(accounts.register("ALICE", "other"))


def test_accounts_survive_reopening(tmp_path):
    """Accounts, fingerprints and access masks are read back from the file by a new store."""
    accounts = _accounts(tmp_path)
    alice = _run(accounts.register("Alice", "s3cret"))
    _run(accounts.add_certfp(alice, "AB:CD:EF"))
    _run(accounts.add_access(alice, "*@home.example"))
    _run(accounts.store.close())
    again = _accounts(tmp_path)
    assert again.by_certfp("abcdef").name == "Alice"
    assert again.get("alice").access == ["*@home.example"]
    assert _run(again.verify_password("Alice", "s3cret")) == "Alice"


def test_drop_removes_everything(tmp_path):
    """drop() deletes the account and frees its fingerprint."""
    accounts = _accounts(tmp_path)
    alice = _run(accounts.register("Alice", "s3cret"))
    _run(accounts.add_certfp(alice, "abcd"))
    _run(accounts.drop("alice"))
    assert accounts.get("alice") is None and accounts.by_certfp("abcd") is None
    bob = _run(accounts.register("Bob", "pw"))
    _run(accounts.add_certfp(bob, "ABCD"))


def test_failed_passwords_back_off(tmp_path):
    """After a few wrong passwords the next check waits (doubling): guessing is not free."""
    clock = task.Clock()
    clock.advance(1_700_000_000)
    store = Store(str(tmp_path / "services.db"), clock)
    _run(store.start())
    accounts = Accounts(store, clock, lambda f, *a: defer.maybeDeferred(f, *a), rounds=4)
    _run(accounts.start())
    _run(accounts.register("Alice", "s3cret"))
    for _ in range(5):
        assert _run(accounts.verify_password("alice", "guess", ip="10.0.0.9")) is None
    waiting = accounts.verify_password("alice", "s3cret", ip="10.0.0.9")
    results = []
    waiting.addCallback(results.append)
    assert results == []
    clock.advance(1.0)
    assert results == ["Alice"]


def test_a_batch_commits_together_and_a_failing_job_alone_is_rolled_back(tmp_path):
    """The worker's batch: jobs share one COMMIT; a job that fails is undone alone, the others are kept."""
    store = _store(tmp_path)
    _run(store.migrate("demo", ["CREATE TABLE t (a INTEGER PRIMARY KEY)"]))

    def insert(conn, value):
        conn.execute("INSERT INTO t VALUES (?)", (value,))
        return value

    results = store._work([(True, insert, (1,)), (True, insert, (1,)), (True, insert, (2,)),
                           (False, lambda conn: "raw", ())])
    assert [ok for ok, _ in results] == [True, False, True, True]
    assert results[1][1].check(sqlite3.IntegrityError)
    assert _run(store.read(lambda c: [r[0] for r in c.execute("SELECT a FROM t ORDER BY a")])) == [1, 2]
    assert store.batches == 1 and store.jobs == 3


def test_hidden_addresses_do_not_share_a_back_off(tmp_path):
    """Users elsewhere whose IP is hidden ("0") are not one address: one's wrong guesses never delay another's
    login to a different account."""
    clock = task.Clock()
    clock.advance(1_700_000_000)
    store = Store(str(tmp_path / "services.db"), clock)
    _run(store.start())
    accounts = Accounts(store, clock, lambda f, *a: defer.maybeDeferred(f, *a), rounds=4)
    _run(accounts.start())
    _run(accounts.register("Alice", "s3cret"))
    _run(accounts.register("Bob", "b0bpass"))
    for _ in range(5):
        _run(accounts.verify_password("alice", "guess", ip="0"))
    assert _run(accounts.verify_password("bob", "b0bpass", ip="0")) == "Bob"
