"""Prepared statements under transaction pooling with the Python drivers and libpq, at their
default settings and at their most prepare-happy ones, many clients over a pool of 2-4
(issue: prepared statements under transaction pooling). Each test checks results, not just
the absence of "prepared statement ... does not exist / already exists".

Run with PGMUX_TEST_TARGET=direct, the same tests check their expectations of PostgreSQL."""
import asyncio

import asyncpg
import psycopg
import pytest
from psycopg import pq

from harness.activity import run_threads
from harness.admin import get, metric_value
from harness.clients import connect, next_result, pipeline_results

pytestmark = pytest.mark.timeout(180)
ES = pq.ExecStatus


@pytest.fixture
def items(pg, database):
    """A table of 100 rows: id, grp (id % 7), name."""
    pg.query("CREATE TABLE items (id int PRIMARY KEY, grp int NOT NULL, name text NOT NULL)",
             dbname=database)
    pg.query("INSERT INTO items SELECT g, g % 7, 'item ' || g FROM generate_series(1, 100) g",
             dbname=database)
    return {i: (i % 7, f"item {i}") for i in range(1, 101)}


# psycopg 3 -------------------------------------------------------------------------------------

@pytest.mark.parametrize("threshold", [0, 5], ids=["prepare_threshold=0", "default_threshold"])
def test_psycopg_prepared_statements_across_clients(pgmux, database, items, threshold):
    """psycopg names a statement (_pg3_N) once it ran `threshold` times and keeps using the name:
    each of 12 clients runs the same few statements 30 times over a pool of 3."""
    proxy = pgmux(pool_size=3)

    def work(i):
        with connect(proxy.endpoint, database, prepare_threshold=threshold) as conn:
            for n in range(30):
                key = (i * 31 + n) % 100 + 1
                assert conn.execute("SELECT grp, name FROM items WHERE id = %s",
                                    (key,)).fetchone() == items[key]
                grp = n % 7
                expected = sum(1 for g, _ in items.values() if g == grp)
                assert conn.execute("SELECT count(*) FROM items WHERE grp = %s",
                                    (grp,)).fetchone() == (expected,)
                with conn.transaction():
                    conn.execute("SELECT id FROM items WHERE id = %s FOR UPDATE", (key,))
                    assert conn.execute("SELECT name FROM items WHERE id = %s",
                                        (key,)).fetchone() == (items[key][1],)

    assert run_threads(12, work) == []


def test_psycopg_executemany_and_server_side_cursor(pgmux, database, items):
    """executemany pipelines Parse/Bind/Execute; a named cursor is DECLAREd in a transaction and
    fetched in pieces there."""
    proxy = pgmux(pool_size=2)
    with connect(proxy.endpoint, database, prepare_threshold=0) as conn, \
            connect(proxy.endpoint, database, prepare_threshold=0) as other:
        conn.execute("CREATE TABLE log (id int, note text)")
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO log VALUES (%s, %s)", [(i, f"n{i}") for i in range(200)])
        assert other.execute("SELECT count(*), sum(id) FROM log").fetchone() == (200, 19900)
        with conn.transaction():
            with conn.cursor(name="walk") as cur:
                cur.itersize = 7
                cur.execute("SELECT id FROM items WHERE grp = %s ORDER BY id", (3,))
                got = [r[0] for r in cur]
        assert got == sorted(k for k, (g, _) in items.items() if g == 3)
        # The statements are still there after other clients used both servers.
        for _ in range(5):
            other.execute("SELECT count(*) FROM log")
            with conn.cursor() as cur:
                cur.executemany("INSERT INTO log VALUES (%s, %s)", [(1000, "x"), (1001, "y")])
        assert conn.execute("SELECT count(*) FROM log WHERE id >= 1000").fetchone() == (10,)


def test_psycopg_error_in_a_prepared_statement_then_reuse(pgmux, database, items):
    proxy = pgmux(pool_size=2)
    with connect(proxy.endpoint, database, prepare_threshold=0) as conn:
        for divisor in (1, 0, 2, 0, 4):
            if divisor == 0:
                with pytest.raises(psycopg.errors.DivisionByZero):
                    conn.execute("SELECT 100 / %s", (divisor,))
            else:
                assert conn.execute("SELECT 100 / %s", (divisor,)).fetchone() == (100 // divisor,)
        with pytest.raises(psycopg.errors.UniqueViolation):
            with conn.transaction():
                conn.execute("INSERT INTO items VALUES (%s, 0, 'dup')", (5,))
        assert conn.execute("SELECT name FROM items WHERE id = %s", (5,)).fetchone() == ("item 5",)


# asyncpg ---------------------------------------------------------------------------------------

def test_asyncpg_default_statement_cache(pgmux, database, items):
    """asyncpg prepares every query under a name of its own (statement cache of 100 by default)
    and describes it first (Parse/Describe/Sync, then Bind/Execute/Sync): 20 pooled connections
    over a pgmux pool of 3, 600 concurrent queries of a few shapes."""
    proxy = pgmux(pool_size=3)

    async def scenario():
        pool = await asyncpg.create_pool(host=proxy.endpoint.host, port=proxy.endpoint.port,
                                         user="postgres", database=database, min_size=20,
                                         max_size=20)
        try:
            async def one(i):
                key = i % 100 + 1
                async with pool.acquire() as conn:
                    row = await conn.fetchrow("SELECT grp, name FROM items WHERE id = $1", key)
                    assert (row["grp"], row["name"]) == items[key]
                    n = await conn.fetchval("SELECT count(*) FROM items WHERE grp = $1", i % 7)
                    assert n == sum(1 for g, _ in items.values() if g == i % 7)
                    async with conn.transaction():
                        got = await conn.fetchval("SELECT name FROM items WHERE id = $1 FOR UPDATE",
                                                  key)
                        assert got == items[key][1]
                    return key
            return await asyncio.gather(*(one(i) for i in range(600)))
        finally:
            await pool.close()

    assert asyncio.run(scenario()) == [i % 100 + 1 for i in range(600)]


def test_asyncpg_prepared_statement_cursor_and_copy(pgmux, database, items):
    """An explicit PreparedStatement used across transactions while another client churns, a
    cursor (a portal fetched in batches inside a transaction), executemany, COPY and an error."""
    proxy = pgmux(pool_size=2)

    async def scenario():
        kw = dict(host=proxy.endpoint.host, port=proxy.endpoint.port, user="postgres",
                  database=database)
        conn = await asyncpg.connect(**kw)
        other = await asyncpg.connect(**kw)
        try:
            stmt = await conn.prepare("SELECT name FROM items WHERE grp = $1 ORDER BY id")
            for grp in range(7):
                await other.fetchval("SELECT $1::int", grp)  # the other client takes a server
                names = [r["name"] for r in await stmt.fetch(grp)]
                assert names == [n for k, (g, n) in sorted(items.items()) if g == grp]
            async with conn.transaction():
                ids = [r["id"] async for r in conn.cursor(
                    "SELECT id FROM items WHERE id > $1 ORDER BY id", 90, prefetch=3)]
            assert ids == list(range(91, 101))
            await conn.execute("CREATE TABLE pairs (a int, b text)")
            await conn.executemany("INSERT INTO pairs VALUES ($1, $2)",
                                   [(i, str(i)) for i in range(50)])
            await conn.copy_records_to_table("pairs", records=[(i, "c") for i in range(50, 80)])
            with pytest.raises(asyncpg.exceptions.DivisionByZeroError):
                await conn.fetchval("SELECT $1::int / 0", 1)
            return await other.fetchrow("SELECT count(*), sum(a) FROM pairs")
        finally:
            await conn.close()
            await other.close()

    assert tuple(asyncio.run(scenario())) == (80, sum(range(80)))


def test_asyncpg_after_a_column_is_added(pgmux, database, items):
    """DDL changes a cached statement's result type: asyncpg sees what it sees on a direct
    connection (it re-prepares by itself, or pgmux does it for it), and the next query works."""
    proxy = pgmux(pool_size=2)

    async def scenario():
        conn = await asyncpg.connect(host=proxy.endpoint.host, port=proxy.endpoint.port,
                                     user="postgres", database=database)
        try:
            before = await conn.fetchrow("SELECT * FROM items WHERE id = $1", 1)
            await conn.execute("ALTER TABLE items ADD COLUMN extra int DEFAULT 7")
            try:
                after = await conn.fetchrow("SELECT * FROM items WHERE id = $1", 1)
            except asyncpg.exceptions.InvalidCachedStatementError:
                after = await conn.fetchrow("SELECT * FROM items WHERE id = $1", 1)
            return dict(before), dict(after)
        finally:
            await conn.close()

    before, after = asyncio.run(scenario())
    assert before == {"id": 1, "grp": 1, "name": "item 1"}
    assert after == {"id": 1, "grp": 1, "name": "item 1", "extra": 7}


# libpq -----------------------------------------------------------------------------------------

def test_libpq_prepare_and_exec_prepared_across_transactions(pgmux, database, items):
    """PQprepare once, PQexecPrepared many times while other clients keep the pool's servers
    busy; PQdescribePrepared; a second PQprepare of the same name fails as on PostgreSQL."""
    proxy = pgmux(pool_size=2)
    with connect(proxy.endpoint, database) as conn, \
            connect(proxy.endpoint, database) as other:
        pgconn = conn.pgconn
        res = pgconn.prepare(b"by_id", b"SELECT name FROM items WHERE id = $1", [23])
        assert res.status == ES.COMMAND_OK, res.error_message
        desc = pgconn.describe_prepared(b"by_id")
        assert desc.status == ES.COMMAND_OK and desc.nparams == 1 and desc.param_type(0) == 23
        assert desc.nfields == 1 and desc.fname(0) == b"name"
        for key in range(1, 41):
            other.execute("BEGIN")
            other.execute("SELECT 1")  # holds one server: `conn` must use the other
            res = pgconn.exec_prepared(b"by_id", [str(key).encode()])
            other.execute("COMMIT")
            assert res.status == ES.TUPLES_OK, res.error_message
            assert res.get_value(0, 0).decode() == items[key][1]
        again = pgconn.prepare(b"by_id", b"SELECT 1")
        assert again.status == ES.FATAL_ERROR
        assert again.error_field(pq.DiagnosticField.SQLSTATE) == b"42P05"
        assert b'prepared statement "by_id" already exists' in again.error_message
        missing = pgconn.exec_prepared(b"nope", None)
        assert missing.error_field(pq.DiagnosticField.SQLSTATE) == b"26000"
        assert b'prepared statement "nope" does not exist' in missing.error_message
        conn.execute("DEALLOCATE by_id")
        gone = pgconn.exec_prepared(b"by_id", [b"1"])
        assert gone.error_field(pq.DiagnosticField.SQLSTATE) == b"26000"


def test_libpq_send_prepare_in_pipeline_mode(pgmux, database, items):
    """PQsendPrepare and PQsendQueryPrepared pipelined over several Syncs, an error between
    them, then the statements reused in a later pipeline on whichever server is free."""
    proxy = pgmux(pool_size=2)
    with connect(proxy.endpoint, database) as conn, \
            connect(proxy.endpoint, database) as other:
        pgconn = conn.pgconn
        pgconn.enter_pipeline_mode()
        pgconn.send_prepare(b"name_of", b"SELECT name FROM items WHERE id = $1")
        pgconn.send_prepare(b"grp_of", b"SELECT grp FROM items WHERE id = $1")
        pgconn.pipeline_sync()
        for key in (1, 2, 3):
            pgconn.send_query_prepared(b"name_of", [str(key).encode()])
            pgconn.pipeline_sync()
        pgconn.send_query_prepared(b"grp_of", [b"not a number"])  # 22P02, skips to Sync
        pgconn.send_query_prepared(b"name_of", [b"4"])
        pgconn.pipeline_sync()
        pgconn.send_query_prepared(b"grp_of", [b"5"])
        pgconn.pipeline_sync()
        pgconn.flush()
        first = pipeline_results(pgconn, 6)
        other.execute("BEGIN")
        other.execute("SELECT 1")
        for key in (10, 11):
            pgconn.send_query_prepared(b"name_of", [str(key).encode()])
            pgconn.send_query_prepared(b"grp_of", [str(key).encode()])
            pgconn.pipeline_sync()
        pgconn.flush()
        second = pipeline_results(pgconn, 2)
        other.execute("COMMIT")
        pgconn.exit_pipeline_mode()
    assert first == [
        (ES.COMMAND_OK, None), (ES.COMMAND_OK, None), (ES.PIPELINE_SYNC, None),
        (ES.TUPLES_OK, "item 1"), (ES.PIPELINE_SYNC, None),
        (ES.TUPLES_OK, "item 2"), (ES.PIPELINE_SYNC, None),
        (ES.TUPLES_OK, "item 3"), (ES.PIPELINE_SYNC, None),
        (ES.FATAL_ERROR, "22P02"), (ES.PIPELINE_ABORTED, None), (ES.PIPELINE_SYNC, None),
        (ES.TUPLES_OK, str(items[5][0])), (ES.PIPELINE_SYNC, None)]
    assert second == [
        (ES.TUPLES_OK, "item 10"), (ES.TUPLES_OK, str(items[10][0])), (ES.PIPELINE_SYNC, None),
        (ES.TUPLES_OK, "item 11"), (ES.TUPLES_OK, str(items[11][0])), (ES.PIPELINE_SYNC, None)]


def test_unnamed_statement_described_then_executed_on_another_server(pgmux, database, items):
    """Parse+Describe+Sync, then Bind+Execute+Sync (asyncpg's, pgx's and lib/pq's order for
    unnamed statements) with the first server taken by another client in between."""
    proxy = pgmux(pool_size=2)
    with connect(proxy.endpoint, database) as conn, \
            connect(proxy.endpoint, database) as other:
        pgconn = conn.pgconn
        for key in (7, 8, 9):
            pgconn.send_prepare(b"", b"SELECT name, grp FROM items WHERE id = $1")
            assert next_result(pgconn).status == ES.COMMAND_OK
            assert next_result(pgconn) is None
            pgconn.send_describe_prepared(b"")
            desc = next_result(pgconn)
            assert desc.status == ES.COMMAND_OK and desc.nfields == 2
            assert next_result(pgconn) is None
            other.execute("BEGIN")
            other.execute("SELECT 1")
            pgconn.send_query_prepared(b"", [str(key).encode()])
            res = next_result(pgconn)
            assert next_result(pgconn) is None
            other.execute("COMMIT")
            assert res.status == ES.TUPLES_OK, res.error_message
            assert (res.get_value(0, 0).decode(), int(res.get_value(0, 1))) == (
                items[key][1], items[key][0])


def test_many_statements_over_a_small_server_cache(pgmux, database, items):
    """More distinct statements than each server connection keeps (max_prepared_statements 4):
    the least recently used are closed on the server and parsed again when used, also while a
    client keeps using the statement it prepared first."""
    proxy = pgmux("--max-prepared-statements", "4", pool_size=2, admin=True)

    def work(i):
        with connect(proxy.endpoint, database, prepare_threshold=0) as conn:
            for n in range(40):
                shape = (i + n) % 9  # nine texts, nine server statements
                key = n % 100 + 1
                sql = f"SELECT name, {shape} AS shape FROM items WHERE id = %s"
                assert conn.execute(sql, (key,)).fetchone() == (items[key][1], shape)
                # The first statement of this client, over and over.
                assert conn.execute("SELECT grp FROM items WHERE id = %s",
                                    (key,)).fetchone() == (items[key][0],)

    assert run_threads(6, work) == []
    if proxy.admin_endpoint is not None:
        metrics = get(proxy, "/metrics")
        assert metric_value(metrics, "pgmux_prepared_statement_cache_evictions_total") > 0
