"""pgbench through pgmux with far more clients than server connections."""
import threading

import pytest

from harness.clients import parse_pgbench, pgbench

pytestmark = pytest.mark.timeout(600)

CLIENTS, POOL = 50, 5


class BackendSampler:
    """Samples, from a direct connection, how many server connections the
    proxy holds on a database: the pool size must be exact."""

    def __init__(self, pg, dbname):
        self.pg, self.dbname = pg, dbname
        self.max_seen = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _run(self):
        with self.pg.connect() as conn:
            while not self._stop.is_set():
                (n,) = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = %s "
                    "AND backend_type = 'client backend'", (self.dbname,)).fetchone()
                self.max_seen = max(self.max_seen, n)
                self._stop.wait(0.02)


def init_through(endpoint, database, scale=1):
    pgbench(endpoint, "-i", "-s", scale, "-q", dbname=database)


def assert_clean_run(result, expected_transactions):
    stats = parse_pgbench(result.stdout)
    assert stats["clients"] == CLIENTS, result.stdout
    assert stats["processed"] == expected_transactions, result.stdout
    assert stats["failed"] == 0, result.stdout
    assert stats["tps"] and stats["tps"] > 0, result.stdout
    assert "error" not in result.stderr.lower(), result.stderr
    return stats


def assert_tpcb_invariants(pg, database, transactions):
    """TPC-B keeps every balance total equal to the sum of history deltas, and writes one
    history row per transaction."""
    [(accounts, branches, tellers, history, rows)] = pg.query(
        "SELECT (SELECT sum(abalance) FROM pgbench_accounts), (SELECT sum(bbalance) FROM "
        "pgbench_branches), (SELECT sum(tbalance) FROM pgbench_tellers), (SELECT sum(delta) FROM "
        "pgbench_history), (SELECT count(*) FROM pgbench_history)", dbname=database)
    assert accounts == branches == tellers == history
    assert rows == transactions


def test_init_through_pgmux(pgmux, pg, database):
    proxy = pgmux(pool_size=POOL)
    init_through(proxy.endpoint, database, scale=2)
    counts = pg.query("SELECT (SELECT count(*) FROM pgbench_accounts), (SELECT count(*) FROM "
                      "pgbench_branches), (SELECT count(*) FROM pgbench_tellers)", dbname=database)
    assert counts == [(200000, 2, 20)]


@pytest.mark.parametrize("protocol", ["simple", "extended"])
def test_select_only(pgmux, pg, database, protocol):
    proxy = pgmux(pool_size=POOL)
    init_through(proxy.endpoint, database)
    per_client = 200
    with BackendSampler(pg, database) as sampler:
        r = pgbench(proxy.endpoint, "-S", "-M", protocol, "-c", CLIENTS, "-j", 2, "-t", per_client,
                    dbname=database)
    assert_clean_run(r, CLIENTS * per_client)
    assert 1 <= sampler.max_seen <= POOL


@pytest.mark.parametrize("protocol", ["simple", "extended"])
def test_tpcb(pgmux, pg, database, protocol):
    proxy = pgmux(pool_size=POOL)
    init_through(proxy.endpoint, database)
    per_client = 40
    with BackendSampler(pg, database) as sampler:
        r = pgbench(proxy.endpoint, "-M", protocol, "-c", CLIENTS, "-j", 2, "-t", per_client,
                    dbname=database)
    assert_clean_run(r, CLIENTS * per_client)
    assert 1 <= sampler.max_seen <= POOL
    assert_tpcb_invariants(pg, database, CLIENTS * per_client)
    # No transaction left open on any server connection.
    states = [b[3] for b in pg.backends(database)]
    assert "idle in transaction" not in states and "idle in transaction (aborted)" not in states


def test_connection_per_transaction(pgmux, database):
    # pgbench -C: a new client connection for every transaction.
    proxy = pgmux(pool_size=POOL)
    init_through(proxy.endpoint, database)
    r = pgbench(proxy.endpoint, "-S", "-C", "-c", 20, "-j", 2, "-t", 50, dbname=database)
    stats = parse_pgbench(r.stdout)
    assert stats["processed"] == 1000, r.stdout
    assert stats["failed"] == 0, r.stdout


def test_prepared_in_session_mode(pgmux, pg, database):
    # Session mode: named prepared statements live on the client's own server.
    proxy = pgmux(pool_size=10, pool_mode="session")
    init_through(proxy.endpoint, database)
    r = pgbench(proxy.endpoint, "-S", "-M", "prepared", "-c", 8, "-j", 2, "-t", 200, dbname=database)
    stats = parse_pgbench(r.stdout)
    assert stats["processed"] == 1600, r.stdout
    assert stats["failed"] == 0, r.stdout


@pytest.mark.parametrize("script", ["select-only", "tpcb-like"])
def test_prepared_in_transaction_mode(pgmux, pg, database, script):
    # -M prepared names every statement (P_0, P_1 ...) once per client and binds it in every
    # transaction: 32 clients over 4 server connections share the server statements.
    clients, pool, per_client = 32, 4, 40
    proxy = pgmux(pool_size=pool)
    init_through(proxy.endpoint, database)
    with BackendSampler(pg, database) as sampler:
        r = pgbench(proxy.endpoint, "-b", script, "-M", "prepared", "-c", clients, "-j", 2,
                    "-t", per_client, dbname=database)
    stats = parse_pgbench(r.stdout)
    assert stats["processed"] == clients * per_client, r.stdout
    assert stats["failed"] == 0, r.stdout
    assert "error" not in r.stderr.lower(), r.stderr
    if proxy.name != "direct":
        assert 1 <= sampler.max_seen <= pool
    if script == "tpcb-like":
        assert_tpcb_invariants(pg, database, clients * per_client)


@pytest.mark.parametrize("protocol", ["simple", "prepared"])
def test_tpcb_over_several_workers(pgmux, pg, database, protocol):
    # Three worker threads share four server connections: a server released on one worker
    # is borrowed on another (its socket moves between their reactors). The single-worker
    # default runs without Asio's per-socket locks; this is the configuration that keeps them.
    clients, pool, per_client = 24, 4, 40
    proxy = pgmux("--workers", "3", pool_size=pool)
    init_through(proxy.endpoint, database)
    with BackendSampler(pg, database) as sampler:
        r = pgbench(proxy.endpoint, "-M", protocol, "-c", clients, "-j", 3, "-t", per_client,
                    dbname=database)
    stats = parse_pgbench(r.stdout)
    assert stats["processed"] == clients * per_client, r.stdout
    assert stats["failed"] == 0, r.stdout
    assert "error" not in r.stderr.lower(), r.stderr
    assert 1 <= sampler.max_seen <= pool
    assert_tpcb_invariants(pg, database, clients * per_client)
