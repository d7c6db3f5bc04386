"""Pool behaviour: session mode, transaction mode over one server connection,
waiting clients, query_wait_timeout and max_client_conn."""
import signal
import threading
import time

import psycopg
import pytest

from harness.clients import connect
from harness.net import wait_until
from harness.wire import RawConnection, first_error

pytestmark = pytest.mark.timeout(120)


def backend_pid(conn) -> int:
    return conn.execute("SELECT pg_backend_pid()").fetchone()[0]


def test_session_mode_keeps_set_across_transactions(pgmux, database):
    proxy = pgmux(pool_size=2, pool_mode="session")
    with connect(proxy.endpoint, database, autocommit=False) as conn:
        conn.execute("SET work_mem = '7MB'")
        conn.execute("SET application_name = 'session-test'")
        conn.commit()
        pid = backend_pid(conn)
        conn.commit()
        for _ in range(5):
            assert conn.execute("SHOW work_mem").fetchone()[0] == "7MB"
            assert conn.execute("SHOW application_name").fetchone()[0] == "session-test"
            assert backend_pid(conn) == pid
            conn.commit()


def test_session_mode_does_not_leak_state_to_next_client(pgmux, database):
    # Pool of one: the second session reuses the first one's server connection
    # and must see none of its session state.
    proxy = pgmux(pool_size=1, pool_mode="session")
    with connect(proxy.endpoint, database) as first:
        first.execute("SET work_mem = '7MB'")
        first.execute("PREPARE leaked AS SELECT 1")
        first.execute("CREATE TEMP TABLE leaked_temp(a int)")
    with connect(proxy.endpoint, database) as second:
        assert second.execute("SHOW work_mem").fetchone()[0] == "4MB"
        assert second.execute("SELECT count(*) FROM pg_prepared_statements").fetchone()[0] == 0
        assert second.execute("SELECT to_regclass('leaked_temp') IS NULL").fetchone()[0]


def test_session_mode_clients_wait_for_a_free_server(pgmux, pg, database):
    proxy = pgmux(pool_size=1, pool_mode="session")
    first = connect(proxy.endpoint, database)
    first.execute("SELECT 1")
    done = threading.Event()

    def second_client():
        with connect(proxy.endpoint, database, connect_timeout=20) as second:
            second.execute("SELECT 1")
        done.set()

    t = threading.Thread(target=second_client, daemon=True)
    t.start()
    assert not done.wait(1.0), "second session ran while the only server was taken"
    first.close()
    assert done.wait(10), "second session never got the server"
    t.join()
    assert len(pg.backends(database)) <= 1


def test_transaction_mode_shares_one_server(pgmux, pg, database):
    proxy = pgmux(pool_size=1)
    with connect(proxy.endpoint, database) as a, connect(proxy.endpoint, database) as b:
        pids = set()
        for i in range(20):
            assert a.execute("SELECT %s::int", (i,)).fetchone()[0] == i
            assert b.execute("SELECT %s::text", (f"b{i}",)).fetchone()[0] == f"b{i}"
            pids.add(backend_pid(a))
            pids.add(backend_pid(b))
        assert len(pids) == 1
        assert len(pg.backends(database)) == 1


def test_transaction_mode_interleaving_waits_for_commit(pgmux, database):
    proxy = pgmux(pool_size=1)
    with connect(proxy.endpoint, database) as setup:
        setup.execute("CREATE TABLE log(who text, at timestamptz default clock_timestamp())")
    a = connect(proxy.endpoint, database, autocommit=False)
    b = connect(proxy.endpoint, database)
    try:
        a.execute("INSERT INTO log(who) VALUES ('a')")  # BEGIN: a holds the only server
        finished = {}

        def run_b():
            finished["rows"] = b.execute("SELECT count(*) FROM log").fetchone()[0]
            finished["at"] = time.monotonic()

        t = threading.Thread(target=run_b, daemon=True)
        t.start()
        time.sleep(1.0)
        assert "at" not in finished, "b ran while a's transaction held the only server"
        committed_at = time.monotonic()
        a.commit()
        t.join(10)
        assert finished.get("at", 0) >= committed_at
        assert finished["rows"] == 1  # b ran after the commit
        # Both keep going, alternating on the one server.
        for i in range(10):
            a.execute("INSERT INTO log(who) VALUES ('a')")
            a.commit()
            b.execute("INSERT INTO log(who) VALUES ('b')")
        assert b.execute("SELECT count(*) FROM log").fetchone()[0] == 21
    finally:
        a.close()
        b.close()


def test_waiting_clients_are_served_in_turn(pgmux, database):
    proxy = pgmux(pool_size=2)
    results, errors = [], []

    def client(i):
        try:
            with connect(proxy.endpoint, database) as conn:
                with conn.transaction():
                    conn.execute("SELECT pg_sleep(0.2)")
                    results.append(conn.execute("SELECT %s::int", (i,)).fetchone()[0])
        except psycopg.Error as e:
            errors.append(e)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(10)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert sorted(results) == list(range(10))
    # 10 transactions of 0.2 s over 2 servers cannot take less than ~1 s.
    assert time.monotonic() - t0 >= 0.9


def test_query_wait_timeout_gives_error_not_hang(pgmux, database):
    proxy = pgmux("--query-wait-timeout", 1, pool_size=1)
    holder = connect(proxy.endpoint, database, autocommit=False)
    try:
        holder.execute("SELECT 1")  # open transaction: the only server is taken
        waiter = connect(proxy.endpoint, database)
        t0 = time.monotonic()
        with pytest.raises(psycopg.Error) as err:
            waiter.execute("SELECT 'should not run'")
        elapsed = time.monotonic() - t0
        assert 0.8 <= elapsed <= 5, f"error after {elapsed:.1f}s"
        assert "timeout" in str(err.value).lower() or err.value.sqlstate is not None
        waiter.close()
        holder.commit()
        with connect(proxy.endpoint, database) as later:
            assert later.execute("SELECT 'served'").fetchone()[0] == "served"
    finally:
        holder.close()


def test_sigterm_after_clients_waited_exits_promptly(pgmux, database):
    # Clients that queued for a server leave the queue's deadline timer
    # behind, living on a worker; pgmux still stops within moments of SIGTERM.
    proxy = pgmux(pool_size=1)
    holder = connect(proxy.endpoint, database, autocommit=False)
    served = []
    try:
        holder.execute("SELECT 1")  # the only server is taken
        waiters = [connect(proxy.endpoint, database) for _ in range(3)]
        threads = [threading.Thread(target=lambda c=c: served.append(
            c.execute("SELECT 'waited'").fetchone()[0])) for c in waiters]
        for t in threads:
            t.start()
        time.sleep(0.3)  # all three queue behind the holder
        holder.commit()
        for t in threads:
            t.join(timeout=10)
        assert served == ["waited"] * 3
        for c in waiters:
            c.close()
    finally:
        holder.close()
    proxy.expect_exit = True
    t0 = time.monotonic()
    proxy.signal(signal.SIGTERM)
    assert proxy.wait_exit(5) == 0, proxy.log_text()[-2000:]
    assert time.monotonic() - t0 < 3


def test_max_client_conn_refuses_with_53300(pgmux, database):
    proxy = pgmux("--max-client-conn", 3, pool_size=2)
    held = [connect(proxy.endpoint, database) for _ in range(3)]
    try:
        for conn in held:
            conn.execute("SELECT 1")
        with RawConnection(proxy.endpoint) as raw:
            raw.startup(dbname=database)
            error = first_error(raw.read_until_ready())
        assert error is not None, "fourth client was accepted"
        assert error["S"] == "FATAL"
        assert error["C"] == "53300", error
        assert error["M"]
        with pytest.raises(psycopg.OperationalError):
            connect(proxy.endpoint, database)
        held.pop().close()

        def can_connect():
            try:
                with connect(proxy.endpoint, database) as c:
                    return c.execute("SELECT 1").fetchone()[0] == 1
            except psycopg.OperationalError:
                return False
        wait_until(can_connect, timeout=5, interval=0.1, what="a slot after a client left")
    finally:
        for conn in held:
            conn.close()


def test_startup_parameters_follow_each_client(pgmux, database):
    # Pool of one: both clients' transactions run on the same server
    # connection, yet each sees the parameters it asked for at startup.
    proxy = pgmux(pool_size=1)
    a = connect(proxy.endpoint, database, application_name="client-a",
                options="-c work_mem=7MB -c DateStyle=German")
    b = connect(proxy.endpoint, database, application_name="client-b")
    try:
        for _ in range(5):
            assert a.execute("SELECT current_setting('application_name'), "
                             "current_setting('work_mem'), current_setting('DateStyle')"
                             ).fetchone() == ("client-a", "7MB", "German, DMY")
            assert b.execute("SELECT current_setting('application_name'), "
                             "current_setting('work_mem'), current_setting('DateStyle')"
                             ).fetchone() == ("client-b", "4MB", "ISO, MDY")
            assert backend_pid(a) == backend_pid(b)
    finally:
        a.close()
        b.close()


def test_statement_log_fixture_sees_server_statements(pgmux, database, statement_log):
    # Guards the harness: the statement log other suites use to count replays.
    proxy = pgmux(pool_size=1)
    with connect(proxy.endpoint, database) as conn:
        conn.execute("SELECT 'marker-1234'")
    wait_until(lambda: statement_log.count("marker-1234") == 1, timeout=5,
               what="the statement in the server log")


@pytest.mark.parametrize("how", ["simple", "extended"])
def test_database_the_app_left_can_be_dropped_renamed_or_copied_through_pgmux(pgmux, pg, how):
    """Test runners (Django, Rails, pytest fixtures) create a database, use it, close their
    connections and drop it, or clone a template database per test. PostgreSQL refuses while any
    session is connected to that database: pgmux closes its idle server connections to it first,
    so the statement works as on a direct connection. A client still connected to it keeps its
    server, and PostgreSQL's error stands."""
    proxy = pgmux(pool_size=3)
    run = ((lambda conn, sql: conn.execute(sql, prepare=False)) if how == "simple"
           else (lambda conn, sql: conn.execute(sql, prepare=True)))
    with connect(proxy.endpoint, "postgres") as admin:
        admin.execute("DROP DATABASE IF EXISTS pool_tpl")
        admin.execute("DROP DATABASE IF EXISTS pool_copy")
        admin.execute("DROP DATABASE IF EXISTS pool_renamed")
        run(admin, "CREATE DATABASE pool_tpl")
        for _ in range(2):
            with connect(proxy.endpoint, "pool_tpl") as app:
                app.execute("CREATE TABLE IF NOT EXISTS t (x int)")
                app.execute("INSERT INTO t VALUES (1)")
        # The app left; pgmux keeps its server connection to pool_tpl in the pool.
        run(admin, "CREATE DATABASE pool_copy TEMPLATE pool_tpl")
        with connect(proxy.endpoint, "pool_copy") as app:
            assert app.execute("SELECT count(*) FROM t").fetchone() == (2,)
        run(admin, "ALTER DATABASE pool_copy RENAME TO pool_renamed")
        with connect(proxy.endpoint, "pool_renamed") as app:
            assert app.execute("SELECT count(*) FROM t").fetchone() == (2,)
        run(admin, "DROP DATABASE pool_renamed")
        if how == "extended":
            run(admin, "DROP DATABASE pool_tpl")
            return
        # Someone still connected: PostgreSQL's own refusal (after its 5-second wait).
        with connect(proxy.endpoint, "pool_tpl", autocommit=False) as holder:
            holder.execute("SELECT 1")  # holds its server in an open transaction
            with pytest.raises(psycopg.errors.ObjectInUse):
                run(admin, "DROP DATABASE pool_tpl")
        run(admin, "DROP DATABASE pool_tpl")
