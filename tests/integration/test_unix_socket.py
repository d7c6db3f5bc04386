"""Servers reached over PostgreSQL's Unix-domain socket: `host` starting with
'/' names the socket directory, as in libpq and PgBouncer (`--upstream
/run/postgresql:5432`, or `host = "/run/postgresql"` in a [databases] table)."""
import threading

import psycopg
import pytest

from harness.activity import Background, wait_for_active
from harness.clients import connect, pgbench
from harness.net import Endpoint

pytestmark = pytest.mark.timeout(120)


def via_socket(pg):
    return Endpoint(pg.socket_dir, pg.port)


def test_queries_reach_the_server_over_its_unix_socket(pgmux, pg, database):
    proxy = pgmux(upstream=via_socket(pg), pool_size=2)
    with connect(proxy.endpoint, database) as conn:
        # inet_server_addr() is NULL for a Unix-domain connection.
        assert conn.execute("SELECT inet_server_addr() IS NULL").fetchone()[0] is True
        conn.execute("CREATE TABLE t(a int)")
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO t VALUES (%s)", [(i,) for i in range(50)])
        assert conn.execute("SELECT sum(a) FROM t").fetchone()[0] == sum(range(50))


def test_many_clients_share_a_small_pool_over_the_socket(pgmux, pg, database):
    proxy = pgmux(upstream=via_socket(pg), pool_size=2)
    errors = []

    def client(n):
        try:
            with connect(proxy.endpoint, database) as conn:
                for i in range(20):
                    got = conn.execute("SELECT %s::int * 2", (n * 100 + i,),
                                       prepare=True).fetchone()[0]
                    assert got == (n * 100 + i) * 2
        except Exception as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_cancel_reaches_a_server_on_the_socket(pgmux, pg, database):
    proxy = pgmux(upstream=via_socket(pg), pool_size=2)
    with connect(proxy.endpoint, database) as conn:
        job = Background(conn, "SELECT pg_sleep(30)")
        wait_for_active(pg, database, "pg_sleep(30)")
        conn.cancel()
        job.join()
        assert isinstance(job.error, psycopg.errors.QueryCanceled), job.error


def test_config_host_path_and_pgbench(pgmux, pg, database, tmp_path):
    config = tmp_path / "pgmux.toml"
    config.write_text(f'[databases.viasocket]\nhost = "{pg.socket_dir}"\nport = {pg.port}\n'
                      f'dbname = "{database}"\n')
    proxy = pgmux("--config", str(config), pool_size=3)
    with connect(proxy.endpoint, "viasocket") as conn:
        assert conn.execute("SELECT current_database(), inet_server_addr() IS NULL").fetchone() \
            == (database, True)
    pgbench(proxy.endpoint, "-i", "-q", "-s", "1", dbname="viasocket")
    out = pgbench(proxy.endpoint, "-c", "8", "-j", "2", "-t", "50", "-M", "extended",
                  dbname="viasocket")
    assert "number of failed transactions: 0" in out.stdout
