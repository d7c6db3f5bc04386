"""Clients and servers that go away at bad moments never leave a dirty server
in the pool, and everyone else keeps working. Also the listening port: one
already taken is refused, and port 0 is one port for every worker."""
import re
import socket
import subprocess
import time

import psycopg
import pytest

from harness.clients import connect
from harness.net import Endpoint, free_port, tcp_sockets, wait_until
from harness.postgres import PostgresServer
from harness.proxy import pgmux_binary
from harness.wire import RawConnection, message, query_message

pytestmark = pytest.mark.timeout(120)


def open_transaction_with_row_lock(endpoint, database):
    """A raw client that inserts a row and locks row 1, inside a transaction."""
    raw = RawConnection(endpoint)
    raw.startup(dbname=database)
    raw.read_until_ready()
    raw.send(query_message("BEGIN; INSERT INTO t VALUES (2, 'uncommitted'); "
                           "SELECT * FROM t WHERE id = 1 FOR UPDATE"))
    messages = raw.read_until_ready()
    assert messages[-1] == (b"Z", b"T"), messages  # idle in transaction
    return raw


def assert_row_lock_free(endpoint, database):
    """Another client (same pool of one) can lock row 1 at once."""
    def lock_free():
        with connect(endpoint, database, autocommit=False) as conn:
            try:
                conn.execute("SELECT * FROM t WHERE id = 1 FOR UPDATE NOWAIT")
            except psycopg.errors.LockNotAvailable:
                return False
            rows = conn.execute("SELECT id FROM t ORDER BY id").fetchall()
            assert conn.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
            conn.rollback()
            return rows
    rows = wait_until(lock_free, timeout=5, interval=0.1, what="row lock to be released")
    assert rows == [(1,)], "the disconnected client's insert was committed"


def assert_no_open_transactions(pg, database):
    def clean():
        states = [b[3] for b in pg.backends(database)]
        return all(not s.startswith("idle in transaction") for s in states if s)
    wait_until(clean, timeout=5, what="no server idle in transaction")


@pytest.fixture
def table(pg, database):
    pg.query("CREATE TABLE t(id int primary key, note text); INSERT INTO t VALUES (1, 'one')",
             dbname=database)
    return "t"


@pytest.mark.parametrize("how", ["terminate", "close", "reset"])
def test_client_gone_mid_transaction_releases_locks(pgmux, pg, database, table, how):
    proxy = pgmux(pool_size=1)
    raw = open_transaction_with_row_lock(proxy.endpoint, database)
    if how == "terminate":
        raw.send(message(b"X"))  # polite Terminate inside an open transaction
        raw.close()
    elif how == "close":
        raw.close()  # FIN without Terminate
    else:
        raw.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
        raw.close()  # RST
    assert_row_lock_free(proxy.endpoint, database)
    assert_no_open_transactions(pg, database)


def test_client_gone_mid_copy_leaves_no_trace(pgmux, pg, database, table):
    proxy = pgmux(pool_size=1)
    raw = RawConnection(proxy.endpoint)
    raw.startup(dbname=database)
    raw.read_until_ready()
    raw.send(query_message("COPY t FROM STDIN"))
    kind, _ = raw.recv_message()
    assert kind == b"G"  # CopyInResponse
    raw.send(b"".join(message(b"d", f"{i}\tcopied\n".encode()) for i in range(100, 200)))
    time.sleep(0.2)
    raw.close()
    with connect(proxy.endpoint, database, autocommit=False) as conn:
        def table_unlocked():
            try:
                conn.execute("LOCK TABLE t IN ACCESS EXCLUSIVE MODE NOWAIT")
                return True
            except psycopg.errors.LockNotAvailable:
                conn.rollback()
                return False
        wait_until(table_unlocked, timeout=5, interval=0.1, what="COPY's table lock to go")
        assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 1
        conn.rollback()
        assert conn.execute("SELECT 'server usable'").fetchone()[0] == "server usable"
        conn.rollback()
    assert_no_open_transactions(pg, database)


def test_client_gone_with_query_running(pgmux, pg, database, table):
    # The client leaves while its server is busy: the server must not go back
    # to the pool still running it (or its transaction).
    proxy = pgmux(pool_size=1)
    raw = RawConnection(proxy.endpoint)
    raw.startup(dbname=database)
    raw.read_until_ready()
    raw.send(query_message("BEGIN; SELECT * FROM t WHERE id = 1 FOR UPDATE; SELECT pg_sleep(3)"))
    time.sleep(0.5)
    raw.close()
    t0 = time.monotonic()
    assert_row_lock_free(proxy.endpoint, database)
    assert time.monotonic() - t0 < 5


def test_server_terminated_mid_transaction(pgmux, pg, database, table):
    proxy = pgmux(pool_size=2)
    victim = connect(proxy.endpoint, database, autocommit=False)
    bystander = connect(proxy.endpoint, database)
    try:
        pid = victim.execute("SELECT pg_backend_pid()").fetchone()[0]
        victim.execute("UPDATE t SET note = 'doomed' WHERE id = 1")
        assert pg.query("SELECT pg_terminate_backend(%s)", (pid,)) == [(True,)]
        t0 = time.monotonic()
        with pytest.raises(psycopg.Error):
            victim.execute("SELECT 1")
            victim.commit()
        assert time.monotonic() - t0 < 5
        for i in range(20):
            assert bystander.execute("SELECT %s::int", (i,)).fetchone()[0] == i
        with connect(proxy.endpoint, database) as newcomer:
            assert newcomer.execute("SELECT note FROM t WHERE id = 1").fetchone()[0] == "one"
    finally:
        victim.close()
        bystander.close()


def test_idle_servers_terminated_are_replaced(pgmux, pg, database):
    proxy = pgmux(pool_size=2)
    clients = [connect(proxy.endpoint, database) for _ in range(2)]
    try:
        for c in clients:
            c.execute("SELECT 1")
        pids = [b[0] for b in pg.backends(database)]
        assert pids, "pgmux keeps no server connection after use"
        for pid in pids:
            pg.query("SELECT pg_terminate_backend(%s)", (pid,))
        wait_until(lambda: not set(pids) & {b[0] for b in pg.backends(database)}, timeout=5,
                   what="terminated backends to exit")
        time.sleep(0.3)
        for c in clients:
            for _ in range(3):
                assert c.execute("SELECT 'works'").fetchone()[0] == "works"
    finally:
        for c in clients:
            c.close()


def test_upstream_down_gives_error(pgmux, database):
    # Every server connection refused: clients get an error, not a hang.
    dead = Endpoint("127.0.0.1", free_port())
    proxy = pgmux(pool_size=2, upstream=dead)
    t0 = time.monotonic()
    with pytest.raises(psycopg.OperationalError):
        with connect(proxy.endpoint, database) as conn:
            conn.execute("SELECT 1")
    assert time.monotonic() - t0 < 15


def test_postgres_restart_is_survived(pgmux):
    """PostgreSQL restarts under pgmux (maintenance, a crash, a failover to the
    same address): the client inside a transaction loses it with an error,
    idle clients get an error while the server is down and carry on once it
    is back, on the same connections; pgmux needs no restart."""
    own = PostgresServer()
    own.start()
    try:
        proxy = pgmux(pool_size=2, upstream=own.endpoint)
        clients = [connect(proxy.endpoint, "postgres") for _ in range(3)]
        for c in clients:
            assert c.execute("SELECT 1").fetchone() == (1,)
        in_transaction, idle = clients[0], clients[1:]
        in_transaction.execute("BEGIN")
        in_transaction.execute("SELECT 1")

        own.stop()  # fast shutdown: every backend ends with FATAL 57P01
        with pytest.raises(psycopg.OperationalError):
            in_transaction.execute("SELECT 1")
        for c in idle:
            with pytest.raises(psycopg.Error) as failed:
                c.execute("SELECT 1")
            assert failed.value.sqlstate, f"no SQLSTATE: {failed.value!r}"
            assert not c.closed, "an idle client lost its connection to pgmux"

        own.start()

        def back(c):
            try:
                return c.execute("SELECT 'back'").fetchone() == ("back",)
            except psycopg.Error:
                return False  # pgmux waits a moment before reconnecting after a refusal

        for c in idle:
            wait_until(lambda: back(c), timeout=15, interval=0.2, what="pgmux to reconnect")
        with connect(proxy.endpoint, "postgres") as fresh:
            assert fresh.execute("SELECT 2").fetchone() == (2,)
        assert proxy.alive()
    finally:
        for c in clients:
            c.close()
        own.cleanup()


@pytest.mark.parametrize("workers", [1, 3])
def test_port_already_taken_is_refused(pgmux, pg, database, workers):
    """A second pgmux started on a port one already serves must fail, not
    quietly take a share of its clients (SO_REUSEPORT would allow that)."""
    first = pgmux("--workers", str(workers), pool_size=2)
    second = subprocess.run([pgmux_binary(), "--listen", str(first.endpoint), "--upstream",
                             f"127.0.0.1:{pg.port}", "--workers", str(workers)],
                            capture_output=True, text=True, timeout=10)
    assert second.returncode == 1, second
    assert "cannot listen on" in second.stderr and "in use" in second.stderr, second.stderr
    with connect(first.endpoint, database) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def listening_ports(pid):
    """The ports of the process's listening IPv4 TCP sockets, one per socket."""
    return sorted(row[1] for row in tcp_sockets(pid) if row[0] == "0A")


@pytest.mark.parametrize("workers", [1, 3])
def test_listen_port_zero_takes_one_port_for_every_worker(pg, database, tmp_path, workers):
    """--listen HOST:0 lets the kernel choose; the log names the port chosen,
    and every worker accepts on that one port."""
    log_path = tmp_path / "pgmux.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([pgmux_binary(), "--listen", "127.0.0.1:0", "--upstream",
                                 f"127.0.0.1:{pg.port}", "--workers", str(workers)],
                                stdout=log, stderr=subprocess.STDOUT)
    try:
        def announced_port():
            m = re.search(r"listening on 127\.0\.0\.1:(\d+) ", log_path.read_text())
            return int(m[1]) if m else None
        port = wait_until(announced_port, timeout=10, what="pgmux to log its port")
        assert port != 0
        assert listening_ports(proc.pid) == [port] * workers
        # Enough connections that the kernel's spread reaches every worker.
        conns = [connect(Endpoint("127.0.0.1", port), database) for _ in range(4 * workers)]
        try:
            for c in conns:
                assert c.execute("SELECT 1").fetchone() == (1,)
        finally:
            for c in conns:
                c.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
