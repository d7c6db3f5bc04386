"""The rows of the session-state contract (../shared/design/session-state-and-pinning.md) that no
other suite drives end to end: a real PostgreSQL, pool size 2, psycopg clients that share it, and
for each row what the client sees (as on a direct connection) and whether pgmux pins (through the
admin API).

Run with PGMUX_TEST_TARGET=direct, the same tests check their expectations of PostgreSQL itself;
the pin checks then have nothing to ask and only the client's view is compared."""
import contextlib
import threading
import time

import psycopg
import pytest

from harness.admin import client_by_app, metric
from harness.clients import connect
from harness.net import wait_until

pytestmark = pytest.mark.timeout(120)

POOL_SIZE = 2


def pins(proxy, app):
    """The client's pin reasons, or None where there is no admin API (direct)."""
    if proxy.admin_endpoint is None:
        return None
    client = client_by_app(proxy, app)
    assert client is not None, f"no client {app!r}"
    return sorted(p["reason"] for p in client["pins"])


def assert_pins(proxy, app, expected):
    """The pin reasons settle at `expected` (an ended pin is confirmed by the server first)."""
    if proxy.admin_endpoint is None:
        return
    wait_until(lambda: pins(proxy, app) == sorted(expected), 10,
               what=f"{app} pinned for {expected} (is {pins(proxy, app)})")


class Others:
    """Two more clients sharing the pool with the tested one. They never hold more than one server
    at a time: while the tested client is pinned, only one server is left for them."""

    def __init__(self, proxy, database):
        self.conns = [connect(proxy.endpoint, database) for _ in range(2)]

    def churn(self, rounds=3):
        """Transactions one after another, on whichever server is free."""
        for _ in range(rounds):
            for conn in self.conns:
                assert conn.execute("SELECT 1").fetchone() == (1,)

    @contextlib.contextmanager
    def holding(self):
        """The first client holds a server in an open transaction meanwhile, so an unpinned tested
        client runs on the other one (only when the tested client is not pinned)."""
        holder = self.conns[0]
        holder.execute("BEGIN")
        holder.execute("SELECT 1")
        try:
            yield
        finally:
            holder.execute("COMMIT")

    def close(self):
        for conn in self.conns:
            conn.close()


@pytest.fixture
def setup(pgmux, database):
    """(proxy, client named 'tested', Others) over a pool of 2 with the admin API on."""
    proxy = pgmux(pool_size=POOL_SIZE, admin=True)
    tested = connect(proxy.endpoint, database, application_name="tested")
    others = Others(proxy, database)
    yield proxy, tested, others
    tested.close()
    others.close()


def server_alive(pg, pid):
    return bool(pg.query("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)))


# SET LOCAL, set_config(..., true) --------------------------------------------------------------

def test_set_local_lasts_one_transaction_and_never_pins(setup):
    proxy, tested, others = setup
    with tested.transaction():
        tested.execute("SET LOCAL statement_timeout = '7s'")
        tested.execute("SELECT set_config('application_name', 'inside', true)")
        assert tested.execute("SHOW statement_timeout").fetchone() == ("7s",)
        assert tested.execute("SELECT current_setting('application_name')").fetchone() == ("inside",)
    assert_pins(proxy, "tested", [])
    others.churn()
    with others.holding():
        assert tested.execute("SHOW statement_timeout").fetchone() == ("0",)
        assert tested.execute("SELECT current_setting('application_name')").fetchone() == (
            "tested",)
    for conn in others.conns:
        assert conn.execute("SHOW statement_timeout").fetchone() == ("0",)


def test_set_config_with_a_binary_parameter_is_tracked_when_the_bytes_are_text(setup):
    """asyncpg (and psycopg with binary=True) send Bind values in binary. For a text parameter
    those are the text's bytes: pgmux tracks the setting and replays it, no pin. A binary integer
    (`%b::text` with an int) is another encoding: pgmux does not guess, it pins."""
    proxy, tested, others = setup
    tested.execute("SELECT set_config('contract.tenant', %b, false)", ["tenant-7"], binary=True)
    assert_pins(proxy, "tested", [])
    others.churn()
    with others.holding():
        assert tested.execute("SELECT current_setting('contract.tenant')").fetchone() == (
            "tenant-7",)
    tested.execute("SELECT set_config('contract.level', %b::text, false)", [7], binary=True)
    assert tested.execute("SELECT current_setting('contract.level')").fetchone() == ("7",)
    assert_pins(proxy, "tested", ["unknown_state_change"])


# SET SESSION AUTHORIZATION ---------------------------------------------------------------------

def test_session_authorization_follows_the_client_and_is_reset_for_others(setup, database):
    proxy, tested, others = setup
    tested.execute("DROP ROLE IF EXISTS contract_auth_role")
    tested.execute("CREATE ROLE contract_auth_role")
    try:
        tested.execute("SET SESSION AUTHORIZATION contract_auth_role")
        for _ in range(5):
            others.churn(1)
            with others.holding():
                assert tested.execute("SELECT current_user, session_user").fetchone() == (
                    "contract_auth_role", "contract_auth_role")
            for conn in others.conns:
                assert conn.execute("SELECT current_user, session_user").fetchone() == (
                    "postgres", "postgres")
        assert_pins(proxy, "tested", [])
        tested.execute("RESET SESSION AUTHORIZATION")
        others.churn()
        assert tested.execute("SELECT current_user, session_user").fetchone() == (
            "postgres", "postgres")
    finally:
        tested.execute("RESET SESSION AUTHORIZATION")
        tested.execute("DROP ROLE contract_auth_role")


# Temp objects ----------------------------------------------------------------------------------

def test_on_commit_drop_temp_table_does_not_pin(setup):
    proxy, tested, others = setup
    with tested.transaction():
        tested.execute("CREATE TEMP TABLE scratch (a int) ON COMMIT DROP")
        tested.execute("INSERT INTO scratch VALUES (1), (2)")
        assert tested.execute("SELECT sum(a) FROM scratch").fetchone() == (3,)
    assert_pins(proxy, "tested", [])
    others.churn()
    with pytest.raises(psycopg.errors.UndefinedTable):
        tested.execute("SELECT * FROM scratch")


def test_discard_temp_ends_the_pin_and_the_backend_is_not_reused(setup, pg):
    proxy, tested, others = setup
    tested.execute("CREATE TEMP TABLE kept (a int)")
    tested.execute("INSERT INTO kept VALUES (41)")
    pid = tested.execute("SELECT pg_backend_pid()").fetchone()[0]
    assert_pins(proxy, "tested", ["temp_object"])
    others.churn()
    assert tested.execute("SELECT a + 1, pg_backend_pid() FROM kept").fetchone() == (42, pid)
    tested.execute("DISCARD TEMP")
    assert_pins(proxy, "tested", [])
    # The backend keeps its pg_temp schema, which another client could observe: pgmux closes
    # it instead of pooling it (on a direct connection it simply stays the client's own).
    if proxy.admin_endpoint is not None:
        wait_until(lambda: not server_alive(pg, pid), 10, what="the temp-schema backend to close")
    others.churn()
    for conn in [tested, *others.conns]:
        if conn is tested and proxy.admin_endpoint is None:
            continue
        assert conn.execute("SELECT pg_my_temp_schema() = 0").fetchone() == (True,)


# Cursors ---------------------------------------------------------------------------------------

def test_hold_cursors_pin_until_close_all(setup):
    proxy, tested, others = setup
    tested.execute("DECLARE one CURSOR WITH HOLD FOR SELECT g FROM generate_series(1, 4) g")
    tested.execute("DECLARE two CURSOR WITH HOLD FOR SELECT g FROM generate_series(10, 14) g")
    assert_pins(proxy, "tested", ["hold_cursor"])
    others.churn()
    assert tested.execute("FETCH 2 FROM one").fetchall() == [(1,), (2,)]
    tested.execute("CLOSE one")
    assert_pins(proxy, "tested", ["hold_cursor"])  # "two" is still open
    others.churn()
    assert tested.execute("FETCH 1 FROM two").fetchall() == [(10,)]
    tested.execute("CLOSE ALL")
    assert_pins(proxy, "tested", [])
    others.churn()
    with pytest.raises(psycopg.errors.InvalidCursorName):
        tested.execute("FETCH 1 FROM two")


def test_cursor_without_hold_lives_in_its_transaction_and_does_not_pin(setup):
    proxy, tested, others = setup
    with tested.transaction():
        tested.execute("DECLARE plain CURSOR FOR SELECT g FROM generate_series(1, 3) g")
        assert tested.execute("FETCH 2 FROM plain").fetchall() == [(1,), (2,)]
        assert tested.execute("FETCH 2 FROM plain").fetchall() == [(3,)]
    assert_pins(proxy, "tested", [])
    others.churn()
    with pytest.raises(psycopg.errors.InvalidCursorName):
        tested.execute("FETCH 1 FROM plain")


# LISTEN ----------------------------------------------------------------------------------------

def test_listen_pins_until_the_last_channel_is_unlistened_and_notifications_arrive(setup):
    proxy, tested, others = setup
    received = []
    tested.add_notify_handler(lambda note: received.append((note.channel, note.payload)))
    tested.execute("LISTEN alpha")
    tested.execute("LISTEN beta")
    assert_pins(proxy, "tested", ["listen"])
    others.churn()
    sender = others.conns[0]
    sender.execute("NOTIFY alpha, 'first'")
    sender.execute("SELECT pg_notify('beta', 'second')")
    # psycopg hands over notifications that arrived by the time its next query completes.
    wait_until(lambda: tested.execute("SELECT 1") and len(received) == 2, 10,
               what="both notifications")
    assert sorted(received) == [("alpha", "first"), ("beta", "second")]
    tested.execute("UNLISTEN alpha")
    assert_pins(proxy, "tested", ["listen"])  # still listening on beta
    tested.execute("UNLISTEN beta")
    assert_pins(proxy, "tested", [])


# Advisory locks --------------------------------------------------------------------------------

def test_session_advisory_locks_are_counted_from_their_results(setup):
    proxy, tested, others = setup
    holder = others.conns[0]
    holder.execute("SELECT pg_advisory_lock(7001)")
    try:
        # Not granted: nothing is held, nothing to pin for.
        assert tested.execute("SELECT pg_try_advisory_lock(7001)").fetchone() == (False,)
        assert_pins(proxy, "tested", [])
    finally:
        holder.execute("SELECT pg_advisory_unlock(7001)")

    # Taken twice, released once: still held.
    tested.execute("SELECT pg_advisory_lock(7002)")
    assert tested.execute("SELECT pg_try_advisory_lock(7002)").fetchone() == (True,)
    assert_pins(proxy, "tested", ["advisory_lock"])
    assert tested.execute("SELECT pg_advisory_unlock(7002)").fetchone() == (True,)
    assert_pins(proxy, "tested", ["advisory_lock"])
    others.churn(1)
    assert holder.execute("SELECT pg_try_advisory_lock(7002)").fetchone() == (False,)
    assert tested.execute("SELECT pg_advisory_unlock(7002)").fetchone() == (True,)
    assert_pins(proxy, "tested", [])
    assert holder.execute("SELECT pg_try_advisory_lock(7002)").fetchone() == (True,)
    holder.execute("SELECT pg_advisory_unlock(7002)")

    # Unlocking what is not held is PostgreSQL's warning and false, not a negative count.
    assert tested.execute("SELECT pg_advisory_unlock(7003)").fetchone() == (False,)
    assert_pins(proxy, "tested", [])

    # A session lock taken inside a transaction that rolls back is still held.
    tested.execute("BEGIN")
    tested.execute("SELECT pg_advisory_lock_shared(7004)")
    tested.execute("ROLLBACK")
    assert_pins(proxy, "tested", ["advisory_lock"])
    assert holder.execute("SELECT pg_try_advisory_lock(7004)").fetchone() == (False,)
    tested.execute("SELECT pg_advisory_lock(7005)")
    tested.execute("SELECT pg_advisory_unlock_all()")
    assert_pins(proxy, "tested", [])
    assert holder.execute("SELECT pg_try_advisory_lock(7004), pg_try_advisory_lock(7005)"
                          ).fetchone() == (True, True)
    holder.execute("SELECT pg_advisory_unlock_all()")


def test_transaction_advisory_locks_do_not_pin(setup):
    proxy, tested, others = setup
    with tested.transaction():
        tested.execute("SELECT pg_advisory_xact_lock(7101)")
        assert tested.execute("SELECT pg_try_advisory_xact_lock_shared(7102)").fetchone() == (True,)
        assert others.conns[0].execute("SELECT pg_try_advisory_lock(7101)").fetchone() == (False,)
    assert_pins(proxy, "tested", [])
    others.churn()
    assert others.conns[0].execute("SELECT pg_try_advisory_lock(7101)").fetchone() == (True,)
    others.conns[0].execute("SELECT pg_advisory_unlock(7101)")


# LOAD ------------------------------------------------------------------------------------------

def test_load_pins_for_the_session_and_its_backend_is_closed_after(setup, pg):
    proxy, tested, others = setup
    tested.execute("LOAD 'plpgsql'")
    pid = tested.execute("SELECT pg_backend_pid()").fetchone()[0]
    assert_pins(proxy, "tested", ["load"])
    others.churn()
    assert tested.execute("SELECT pg_backend_pid()").fetchone() == (pid,)
    assert_pins(proxy, "tested", ["load"])
    tested.close()
    wait_until(lambda: not server_alive(pg, pid), 10, what="the backend that ran LOAD to close")
    others.churn()


# Sequences -------------------------------------------------------------------------------------

def test_currval_in_a_later_transaction_sees_the_clients_own_nextval(setup):
    """PHP's PDO::lastInsertId() and ORMs read currval()/lastval() in the transaction after the
    INSERT. The backend that ran nextval() holds the answer: pgmux gives the client that server
    back, and gives other clients another idle server meanwhile (one of them draws from the same
    sequence: on the tested client's server it would change that client's currval)."""
    proxy, tested, others = setup
    tested.execute("CREATE SEQUENCE contract_seq")
    drawer, reader = others.conns
    for _ in range(5):
        value = tested.execute("SELECT nextval('contract_seq')").fetchone()[0]
        drawer.execute("SELECT nextval('contract_seq')")
        reader.execute("SELECT 1")
        assert tested.execute("SELECT currval('contract_seq'), lastval()").fetchone() == (
            value, value)
        assert drawer.execute("SELECT currval('contract_seq')").fetchone() == (value + 1,)
    assert_pins(proxy, "tested", [])


def test_currval_that_cannot_get_its_server_back_is_counted(setup):
    """The limit of the above: another client holds the tested client's server in a long
    transaction. After waiting 250 ms pgmux runs the currval() elsewhere (PostgreSQL's 55000
    there) and counts it in pgmux_sequence_state_risk_total, so operators can see it happen."""
    proxy, tested, others = setup
    tested.execute("CREATE SEQUENCE risk_seq")
    drawn = tested.execute("SELECT nextval('risk_seq')").fetchone()[0]
    first, second = others.conns
    first.execute("BEGIN")
    first.execute("SELECT 1")  # the other server
    second.execute("BEGIN")
    second.execute("SELECT 1")  # the tested client's server: the only one left
    outcome = []

    def read():
        try:
            outcome.append(tested.execute("SELECT currval('risk_seq')").fetchone()[0])
        except psycopg.Error as e:
            outcome.append(e.sqlstate)

    reader = threading.Thread(target=read)
    reader.start()
    time.sleep(0.6)  # past the 250 ms wait for its own server
    first.execute("COMMIT")
    reader.join(10)
    second.execute("COMMIT")
    if proxy.admin_endpoint is None:
        assert outcome == [drawn]  # direct: one session
        return
    assert outcome == ["55000"]  # currval is not yet defined in this session
    assert metric(proxy, "pgmux_sequence_state_risk_total") == 1


def test_server_kept_for_currval_serves_others_when_no_new_connection_can_open(pg, pgmux,
                                                                              database):
    """Hibernate draws ids with `select nextval(...)`, so every idle server may be kept for some
    client's currval(). Another client then gets a new server opened for it; when PostgreSQL
    refuses that connection (max_connections, a role's CONNECTION LIMIT), it runs on a kept
    server rather than failing, as it would on any pooler."""
    role = f"limited_{database[-6:]}"
    pg.query(f"CREATE ROLE {role} LOGIN CONNECTION LIMIT 1")
    pg.query(f"GRANT ALL ON DATABASE {database} TO {role}")
    pg.query(f"CREATE SEQUENCE ids; GRANT USAGE ON SEQUENCE ids TO {role}", dbname=database)
    try:
        proxy = pgmux(pool_size=3)
        with connect(proxy.endpoint, database, user=role) as drawer, \
                connect(proxy.endpoint, database, user=role) as other:
            drawn = drawer.execute("SELECT nextval('ids')").fetchone()[0]
            for _ in range(3):
                assert other.execute("SELECT current_user").fetchone() == (role,)
            assert drawer.execute("SELECT currval('ids')").fetchone() == (drawn,)
    finally:
        pg.query(f"DROP OWNED BY {role}", dbname=database)
        pg.query(f"DROP ROLE {role}")


def test_clients_wait_for_a_busy_server_when_postgresql_has_no_slot_for_another(pg, pgmux,
                                                                               database):
    """The pool may be larger than what PostgreSQL lets this user open (max_connections, a role's
    CONNECTION LIMIT). Clients then wait for one of the servers already open, as they would for a
    full pool (PgBouncer does the same), instead of getting PostgreSQL's 53300."""
    role = f"limited_{database[-6:]}"
    pg.query(f"CREATE ROLE {role} LOGIN CONNECTION LIMIT 2")
    pg.query(f"GRANT ALL ON DATABASE {database} TO {role}")
    try:
        proxy = pgmux(pool_size=4)
        errors = []

        def client():
            try:
                with connect(proxy.endpoint, database, user=role) as conn:
                    for _ in range(3):
                        conn.execute("SELECT pg_sleep(0.2)")
            except psycopg.Error as e:
                errors.append(e)

        threads = [threading.Thread(target=client) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert len(pg.query("SELECT pid FROM pg_stat_activity WHERE usename = %s", (role,))) <= 2
    finally:
        pg.query(f"DROP OWNED BY {role}", dbname=database)
        pg.query(f"DROP ROLE {role}")


# Size and transaction-scoped statements --------------------------------------------------------

def test_statement_over_16_kb_is_forwarded_without_pin(setup):
    proxy, tested, others = setup
    literal = "x" * 40_000
    assert tested.execute(f"SELECT length('{literal}'), current_setting('application_name')"
                          ).fetchone() == (40_000, "tested")
    tested.execute(f"SET contract.long_setting = '{'y' * 20_000}'")
    others.churn()
    assert tested.execute("SHOW contract.long_setting").fetchone() == ("y" * 20_000,)
    assert_pins(proxy, "tested", [])


def test_copy_and_notify_do_not_pin(setup):
    proxy, tested, others = setup
    tested.execute("CREATE TABLE contract_copy (a int, b text)")
    with tested.cursor().copy("COPY contract_copy FROM STDIN") as copy:
        for i in range(100):
            copy.write_row((i, f"row {i}"))
    out = []
    with tested.cursor().copy("COPY (SELECT count(*), sum(a) FROM contract_copy) TO STDOUT") as copy:
        for row in copy.rows():
            out.append(row)
    assert out == [("100", "4950")]
    tested.execute("NOTIFY nobody_listens, 'x'")
    assert_pins(proxy, "tested", [])


def test_concurrent_pins_and_unpins_leave_everyone_served(setup, pgmux, database):
    """Every pinning kind at once, from several threads, over a pool of 2 (one server left for
    everyone else while one client is pinned), until each state is gone again."""
    proxy, tested, others = setup
    kinds = [
        ("SELECT pg_advisory_lock(7201)", "SELECT pg_advisory_unlock(7201)"),
        ("LISTEN contract_channel", "UNLISTEN *"),
        ("DECLARE held CURSOR WITH HOLD FOR SELECT 1", "CLOSE held"),
        ("CREATE TEMP TABLE held_temp (a int)", "DROP TABLE held_temp"),
    ]
    errors = []
    lock = threading.Lock()  # one pinned client at a time: the other server serves the rest

    def pinning_client(i, pin_sql, unpin_sql):
        try:
            with connect(proxy.endpoint, database, application_name=f"pinner{i}") as conn:
                for _ in range(3):
                    with lock:
                        conn.execute(pin_sql)
                        pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
                        assert conn.execute("SELECT pg_backend_pid()").fetchone()[0] == pid
                        conn.execute(unpin_sql)
                        if proxy.admin_endpoint is not None:
                            wait_until(lambda: pins(proxy, f"pinner{i}") == [], 10,
                                       what=f"pinner{i} unpinned")
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append((i, repr(e)))

    def plain_client(conn):
        try:
            for i in range(100):
                assert conn.execute("SELECT %s::int", (i,)).fetchone() == (i,)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(("plain", repr(e)))

    threads = [threading.Thread(target=pinning_client, args=(i, *k)) for i, k in enumerate(kinds)]
    threads += [threading.Thread(target=plain_client, args=(c,)) for c in [tested, *others.conns]]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    assert not errors, errors
