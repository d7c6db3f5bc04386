"""Session state follows each client across pooled transactions (issue:
session-state tracking and replay): SET / RESET / set_config, transactional
rules, roles and isolation, with a pool smaller than the client count."""
import threading

import psycopg
import pytest

from harness.clients import connect

SETTINGS = "SELECT current_setting('search_path'), current_setting('TimeZone'), " \
           "current_setting('statement_timeout'), current_setting('DateStyle'), " \
           "current_setting('default_transaction_isolation'), current_user"


def test_interleaved_clients_each_see_their_own_settings(pgmux, database):
    proxy = pgmux(pool_size=2)
    setup = connect(proxy.endpoint, database)
    setup.execute("DROP ROLE IF EXISTS pgmux_state_role")
    setup.execute("CREATE ROLE pgmux_state_role")
    setup.execute("GRANT pgmux_state_role TO CURRENT_USER")
    setup.close()
    clients = []
    for i in range(6):
        c = connect(proxy.endpoint, database)
        c.execute(f"SET search_path TO s{i}, public")
        c.execute(f"SET TimeZone = 'Etc/GMT-{i}'")
        c.execute(f"SET statement_timeout = '{i + 1}s'")
        c.execute("SET DateStyle TO German" if i % 2 else "SET DateStyle TO SQL, DMY")
        c.execute("SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL "
                  + ("SERIALIZABLE" if i % 2 else "REPEATABLE READ"))
        if i == 3:
            c.execute("SET ROLE pgmux_state_role")
        clients.append(c)
    errors = []

    def work(i, c):
        try:
            for _ in range(20):
                row = c.execute(SETTINGS).fetchone()
                expected = (f"s{i}, public", f"Etc/GMT-{i}", f"{i + 1}s",
                            "German, DMY" if i % 2 else "SQL, DMY",
                            "serializable" if i % 2 else "repeatable read",
                            "pgmux_state_role" if i == 3 else "postgres")
                if row != expected:
                    errors.append((i, row, expected))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append((i, repr(e)))

    threads = [threading.Thread(target=work, args=(i, c)) for i, c in enumerate(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for c in clients:
        c.close()
    assert not errors, errors[:5]


def test_transactional_rules(pgmux, database):
    proxy = pgmux(pool_size=1)
    a = connect(proxy.endpoint, database)
    other = connect(proxy.endpoint, database)
    show = lambda: a.execute("SHOW work_mem").fetchone()[0]  # noqa: E731
    a.execute("BEGIN")
    a.execute("SET work_mem = '11MB'")
    a.execute("ROLLBACK")
    other.execute("SELECT 1")
    assert show() == "4MB"
    # SET inside a failed transaction is rolled back
    a.autocommit = False
    a.execute("SET work_mem = '12MB'")
    with pytest.raises(psycopg.errors.DivisionByZero):
        a.execute("SELECT 1/0")
    a.rollback()
    a.autocommit = True
    other.execute("SELECT 1")
    assert show() == "4MB"
    # ROLLBACK TO SAVEPOINT undoes only what came after the savepoint
    a.execute("BEGIN")
    a.execute("SET work_mem = '13MB'")
    a.execute("SAVEPOINT s")
    a.execute("SET work_mem = '14MB'")
    a.execute("ROLLBACK TO SAVEPOINT s")
    a.execute("COMMIT")
    other.execute("SELECT 1")
    assert show() == "13MB"
    # A multi-statement Query that fails rolls back its SET (implicit transaction)
    with pytest.raises(psycopg.errors.DivisionByZero):
        a.execute("SET work_mem = '15MB'; SELECT 1/0", prepare=False)
    other.execute("SELECT 1")
    assert show() == "13MB"
    # pg_dump style set_config, then RESET ALL back to the startup values
    a.execute("SELECT pg_catalog.set_config('search_path', '', false)")
    other.execute("SELECT 1")
    assert a.execute("SHOW search_path").fetchone()[0] == ''
    a.execute("RESET ALL")
    other.execute("SELECT 1")
    assert show() == "4MB"
    assert a.execute("SHOW search_path").fetchone()[0] == '"$user", public'
    a.close()
    other.close()


def test_reset_returns_to_startup_options(pgmux, database):
    proxy = pgmux(pool_size=1)
    a = connect(proxy.endpoint, database, options="-c statement_timeout=4321")
    b = connect(proxy.endpoint, database)
    a.execute("SET statement_timeout = 99")
    b.execute("SELECT 1")
    assert a.execute("SHOW statement_timeout").fetchone()[0] == "99ms"
    a.execute("RESET statement_timeout")
    b.execute("SELECT 1")
    assert a.execute("SHOW statement_timeout").fetchone()[0] == "4321ms"
    a.execute("SET statement_timeout = 7")
    a.execute("DISCARD ALL")
    b.execute("SELECT 1")
    assert a.execute("SHOW statement_timeout").fetchone()[0] == "4321ms"
    assert b.execute("SHOW statement_timeout").fetchone()[0] == "0"
    a.close()
    b.close()


def test_replay_only_when_needed(pgmux, database, statement_log):
    proxy = pgmux(pool_size=1)
    a = connect(proxy.endpoint, database)
    a.execute("SET work_mem = '21MB'")
    for _ in range(5):
        a.execute("SELECT 1")  # same client, same server: nothing to replay
    assert statement_log.count("21MB") == 1, statement_log.statements()
    b = connect(proxy.endpoint, database)
    b.execute("SELECT 2")    # the server must drop a's setting first
    a.execute("SELECT 3")    # and a's comes back
    assert a.execute("SHOW work_mem").fetchone()[0] == "21MB"
    assert b.execute("SHOW work_mem").fetchone()[0] == "4MB"
    a.close()
    b.close()
