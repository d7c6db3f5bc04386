"""CancelRequest through pgmux: reaches the server connection the client is
using, and is ignored when that client holds none."""
import random
import signal
import subprocess
import time

import psycopg
import pytest

from harness.activity import Background, wait_for_active
from harness.clients import client_env, connect
from harness.wire import RawConnection, cancel_packet

pytestmark = pytest.mark.timeout(120)


def test_cancel_running_sleep(pgmux, pg, database):
    proxy = pgmux(pool_size=2)
    with connect(proxy.endpoint, database) as conn:
        job = Background(conn, "SELECT pg_sleep(30)")
        wait_for_active(pg, database, "pg_sleep(30)")
        t0 = time.monotonic()
        conn.cancel()
        job.join()
        assert isinstance(job.error, psycopg.errors.QueryCanceled), job.error
        assert job.error.sqlstate == "57014"
        assert time.monotonic() - t0 < 5
        assert conn.execute("SELECT 'still usable'").fetchone()[0] == "still usable"


def test_psql_sigint_cancels(pgmux, pg, database):
    proxy = pgmux(pool_size=2)
    argv = ["/usr/lib/postgresql/15/bin/psql", "-X", "-h", proxy.endpoint.host, "-p",
            str(proxy.endpoint.port), "-U", "postgres", "-d", database, "-c", "SELECT pg_sleep(30)"]
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=client_env())
    try:
        wait_for_active(pg, database, "pg_sleep(30)")
        proc.send_signal(signal.SIGINT)  # psql sends a CancelRequest
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "canceling statement due to user request" in err
    assert proc.returncode != 0
    assert time.monotonic() - t0 < 15


def test_cancel_reaches_only_its_client(pgmux, pg, database):
    proxy = pgmux(pool_size=2)
    with connect(proxy.endpoint, database) as a, connect(proxy.endpoint, database) as b:
        job_a = Background(a, "SELECT pg_sleep(30)")
        job_b = Background(b, "SELECT pg_sleep(2), 'b done'")
        wait_for_active(pg, database, "pg_sleep(30)")
        wait_for_active(pg, database, "pg_sleep(2)")
        a.cancel()
        job_a.join()
        job_b.join()
        assert isinstance(job_a.error, psycopg.errors.QueryCanceled), job_a.error
        assert job_b.error is None, job_b.error
        assert job_b.result == [("", "b done")]


@pytest.mark.parametrize("how", ["simple", "extended"])
def test_cancel_of_a_query_waiting_for_a_server(pgmux, pg, database, how):
    """Every server is busy, so the query waits in pgmux's queue. A cancel (psql's Ctrl-C, JDBC's
    setQueryTimeout) ends it as PostgreSQL ends a running query: ERROR 57014 at once, the
    connection stays usable, and the query never runs."""
    proxy = pgmux("--query-wait-timeout", "20", pool_size=1)
    with connect(proxy.endpoint, database) as holder, connect(proxy.endpoint, database) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS ran (x int)")
        holder.execute("BEGIN")
        holder.execute("SELECT 1")  # holds the only server
        # A client-side-binding cursor sends a simple Query; parameters go in a Bind otherwise.
        cursor = psycopg.ClientCursor(conn) if how == "simple" else conn.cursor()
        job = Background(cursor, "INSERT INTO ran VALUES (%s) RETURNING x", (1,))
        time.sleep(0.5)  # queued by now
        t0 = time.monotonic()
        conn.cancel()
        job.join(10)
        assert isinstance(job.error, psycopg.errors.QueryCanceled), (job.error, job.result)
        assert job.error.diag.message_primary == "canceling statement due to user request"
        assert time.monotonic() - t0 < 5
        holder.execute("COMMIT")
        assert conn.execute("SELECT count(*) FROM ran").fetchone() == (0,)
        assert conn.execute("SELECT 'still usable'").fetchone() == ("still usable",)


def test_cancel_from_idle_client_is_ignored(pgmux, pg, database):
    # Pool of one: the idle client holds no server, so its cancel must not hit
    # the query another client runs on the only server connection.
    proxy = pgmux(pool_size=1)
    with connect(proxy.endpoint, database) as idle, connect(proxy.endpoint, database) as busy:
        idle.execute("SELECT 1")
        job = Background(busy, "SELECT pg_sleep(2), 'busy done'")
        wait_for_active(pg, database, "pg_sleep(2)")
        idle.cancel()
        job.join()
        assert job.error is None, job.error
        assert job.result == [("", "busy done")]
        assert idle.execute("SELECT 'idle ok'").fetchone()[0] == "idle ok"


def test_cancel_with_unknown_key_is_ignored(pgmux, pg, database):
    proxy = pgmux(pool_size=2)
    with connect(proxy.endpoint, database) as conn:
        job = Background(conn, "SELECT pg_sleep(1.5), 'done'")
        wait_for_active(pg, database, "pg_sleep(1.5)")
        for _ in range(3):
            with RawConnection(proxy.endpoint) as raw:
                raw.send(cancel_packet(random.randrange(1, 2**31), random.randrange(0, 2**32)))
                assert raw.read_until_closed() == b""  # no reply, just a close
        job.join()
        assert job.error is None, job.error
        assert job.result == [("", "done")]
