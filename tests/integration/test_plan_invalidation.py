"""Prepared statements whose plan DDL invalidated ("cached plan must not change
result type", SQLSTATE 0A000) through pgmux in transaction mode, pool size 2.

pgmux runs the request again itself when the statement began its own
implicit transaction and the client learns the new row shape from the rerun
(libpq's Bind/Describe portal/Execute/Sync, a simple-Query EXECUTE);
otherwise PostgreSQL's error reaches the client once, and the statement is
prepared again on every server for its next execution (see
docs/prepared-statements.md). asyncpg's own retry must work as on a direct
connection."""
import asyncio

import asyncpg
import psycopg
import pytest
from psycopg import pq

from harness.admin import metric
from harness.clients import all_rows, connect, pipeline_results
from harness.wire import RawConnection, error_fields, query_message

pytestmark = pytest.mark.timeout(120)
ES = pq.ExecStatus


@pytest.fixture
def proxy(pgmux):
    return pgmux(pool_size=2, admin=True)


def make_table(proxy, database):
    with connect(proxy.endpoint, database) as c:
        c.execute("CREATE TABLE t(a int)")
        c.execute("INSERT INTO t VALUES (1)")
        c.execute("CREATE TABLE log(x int)")


def alter(proxy, database, column="b int DEFAULT 7"):
    with connect(proxy.endpoint, database) as c:
        c.execute(f"ALTER TABLE t ADD COLUMN {column}")


def both_servers_prepare(proxy, database, *conns):
    """Each connection runs the statement inside a transaction at the same
    time, so both servers of the pool hold the (shared) server statement."""
    for c in conns:
        c.execute("BEGIN")
        assert c.execute("SELECT * FROM t").fetchall() == [(1,)]
    for c in conns:
        c.execute("COMMIT")


def test_psycopg_autocommit_is_retried_transparently(proxy, database):
    make_table(proxy, database)
    with connect(proxy.endpoint, database, prepare_threshold=0) as c1, \
            connect(proxy.endpoint, database, prepare_threshold=0) as c2:
        both_servers_prepare(proxy, database, c1, c2)
        alter(proxy, database)
        for _ in range(4):
            for c in (c1, c2):
                cur = c.execute("SELECT * FROM t")
                assert [d.name for d in cur.description] == ["a", "b"]
                assert cur.fetchall() == [(1, 7)]
    # One server found it invalid; the other closed and prepared it again
    # without failing first.
    assert metric(proxy, "pgmux_plan_invalidations_total") == 1
    assert metric(proxy, "pgmux_plan_invalidation_retries_total") == 1


def test_psycopg_with_parameters_is_retried(proxy, database):
    make_table(proxy, database)
    with connect(proxy.endpoint, database, prepare_threshold=0) as c:
        query = "SELECT * FROM t WHERE a = %s"
        assert c.execute(query, (1,)).fetchall() == [(1,)]
        alter(proxy, database)
        assert c.execute(query, (1,)).fetchall() == [(1, 7)]
        assert c.execute(query, (2,)).fetchall() == []
    assert metric(proxy, "pgmux_plan_invalidation_retries_total") == 1


def test_psycopg_in_transaction_sees_the_error_once(proxy, database):
    # As on a direct connection: the error aborts the client's transaction;
    # after ROLLBACK (psycopg then drops its statements) the query works.
    make_table(proxy, database)
    with connect(proxy.endpoint, database, prepare_threshold=0, autocommit=False) as c1, \
            connect(proxy.endpoint, database, prepare_threshold=0, autocommit=False) as c2:
        for c in (c1, c2):
            assert c.execute("SELECT * FROM t").fetchall() == [(1,)]
        c1.commit()
        c2.commit()
        alter(proxy, database)
        with pytest.raises(psycopg.errors.FeatureNotSupported) as e:
            c1.execute("SELECT * FROM t")
        assert e.value.diag.sqlstate == "0A000"
        assert "cached plan must not change result type" in str(e.value)
        c1.rollback()
        for _ in range(3):
            assert c1.execute("SELECT * FROM t").fetchall() == [(1, 7)]
            c1.commit()
        # The other connection still executes its own statement (on a direct
        # connection it would fail too, its backend holding the old plan):
        # whichever server it gets prepares the statement again first.
        assert c2.execute("SELECT * FROM t").fetchall() == [(1, 7)]
        c2.commit()
    assert metric(proxy, "pgmux_plan_invalidations_total") == 1
    assert metric(proxy, "pgmux_plan_invalidation_retries_total") == 0


def test_asyncpg_behaves_as_on_a_direct_connection(proxy, database):
    # asyncpg describes its statements when it prepares them and decodes rows
    # with that description, so pgmux must not retry (the rows would have
    # another shape): the error reaches asyncpg, which prepares the statement
    # again and retries by itself outside a transaction, and raises
    # InvalidCachedStatementError inside one. A direct connection gives:
    make_table(proxy, database)

    async def scenario():
        kw = dict(host=proxy.endpoint.host, port=proxy.endpoint.port, user="postgres",
                  database=database, timeout=10)
        c = await asyncpg.connect(**kw)
        results = []

        async def fetch():
            try:
                return ("ok", [tuple(r) for r in await c.fetch("SELECT * FROM t")])
            except asyncpg.exceptions.InvalidCachedStatementError:
                return ("InvalidCachedStatementError",)

        try:
            results.append(await fetch())
            alter(proxy, database)
            for _ in range(3):
                results.append(await fetch())
            alter(proxy, database, "c int DEFAULT 8")
            tr = c.transaction()
            await tr.start()
            results.append(await fetch())
            await tr.rollback()
            results.append(await fetch())
        finally:
            await c.close()
        return results

    assert asyncio.run(scenario()) == [
        ("ok", [(1,)]), ("ok", [(1, 7)]), ("ok", [(1, 7)]), ("ok", [(1, 7)]),
        ("InvalidCachedStatementError",), ("ok", [(1, 7, 8)])]
    assert metric(proxy, "pgmux_plan_invalidation_retries_total") == 0


def collect(pgconn, syncs):
    return pipeline_results(pgconn, syncs, all_rows)


def test_second_statement_of_a_pipeline_batch_is_passed_through(proxy, database):
    # The INSERT before it ran in the same implicit transaction: running the
    # batch again is not pgmux's call. The error reaches the client, the batch
    # is rolled back as PostgreSQL does, and the next execution works.
    make_table(proxy, database)
    with connect(proxy.endpoint, database) as c:
        pgconn = c.pgconn
        res = pgconn.prepare(b"s", b"SELECT * FROM t")
        assert res.status == ES.COMMAND_OK
        assert pgconn.exec_prepared(b"s", None).get_value(0, 0) == b"1"
        alter(proxy, database)
        pgconn.enter_pipeline_mode()
        pgconn.send_query_params(b"INSERT INTO log VALUES (1)", None)
        pgconn.send_query_prepared(b"s", None)
        pgconn.pipeline_sync()
        pgconn.send_query_prepared(b"s", None)
        pgconn.pipeline_sync()
        pgconn.flush()
        results = collect(pgconn, 2)
        pgconn.exit_pipeline_mode()
        assert results == [(ES.COMMAND_OK, None), (ES.FATAL_ERROR, "0A000"),
                           (ES.PIPELINE_SYNC, None),
                           (ES.TUPLES_OK, [["1", "7"]]), (ES.PIPELINE_SYNC, None)]
        assert c.execute("SELECT count(*) FROM log").fetchone()[0] == 0
        assert pgconn.exec_prepared(b"s", None).get_value(0, 1) == b"7"
    # The second batch usually reached the server before the first failed:
    # it then failed too, alone in its implicit transaction, and was retried.
    invalidations = metric(proxy, "pgmux_plan_invalidations_total")
    assert invalidations in (1, 2)
    assert metric(proxy, "pgmux_plan_invalidation_retries_total") == invalidations - 1


def test_first_statement_of_a_pipeline_batch_is_retried(proxy, database):
    make_table(proxy, database)
    with connect(proxy.endpoint, database) as c:
        pgconn = c.pgconn
        assert pgconn.prepare(b"s", b"SELECT * FROM t").status == ES.COMMAND_OK
        assert pgconn.exec_prepared(b"s", None).get_value(0, 0) == b"1"
        alter(proxy, database)
        pgconn.enter_pipeline_mode()
        pgconn.send_query_prepared(b"s", None)
        pgconn.send_query_params(b"INSERT INTO log VALUES (1)", None)
        pgconn.pipeline_sync()
        pgconn.flush()
        results = collect(pgconn, 1)
        pgconn.exit_pipeline_mode()
        assert results == [(ES.TUPLES_OK, [["1", "7"]]), (ES.COMMAND_OK, None),
                           (ES.PIPELINE_SYNC, None)]
        assert c.execute("SELECT count(*) FROM log").fetchone()[0] == 1  # ran once
    assert metric(proxy, "pgmux_plan_invalidation_retries_total") == 1


def simple_query(conn, sql):
    conn.send(query_message(sql))
    messages = []
    while True:
        kind, payload = conn.recv_message()
        messages.append((kind, payload))
        if kind == b"Z":
            return messages


def test_sql_execute(proxy, database):
    # SQL EXECUTE gets PostgreSQL's own error, as on a direct connection (its
    # regress file plancache expects it), inside a transaction block or not;
    # the statement is prepared again for its next execution.
    make_table(proxy, database)
    with RawConnection(proxy.endpoint) as conn:
        conn.startup(dbname=database)
        conn.read_until_ready()
        simple_query(conn, "PREPARE s AS SELECT * FROM t")
        kinds = [k for k, _ in simple_query(conn, "EXECUTE s")]
        assert kinds == [b"T", b"D", b"C", b"Z"]
        alter(proxy, database)
        messages = simple_query(conn, "EXECUTE s")
        assert [k for k, _ in messages] == [b"E", b"Z"]
        fields = error_fields(messages[0][1])
        assert fields["C"] == "0A000" and "cached plan" in fields["M"]
        assert messages[-1][1] == b"I"
        messages = simple_query(conn, "EXECUTE s")
        assert [k for k, _ in messages] == [b"T", b"D", b"C", b"Z"]
        assert messages[1][1] == b"\0\x02\0\0\0\x011\0\0\0\x017"
        alter(proxy, database, "c int DEFAULT 8")
        simple_query(conn, "BEGIN")
        messages = simple_query(conn, "EXECUTE s")
        assert [k for k, _ in messages] == [b"E", b"Z"]
        fields = error_fields(messages[0][1])
        assert fields["C"] == "0A000" and "cached plan" in fields["M"]
        assert messages[-1][1] == b"E"
        simple_query(conn, "ROLLBACK")
        messages = simple_query(conn, "EXECUTE s")
        assert [k for k, _ in messages] == [b"T", b"D", b"C", b"Z"]
    assert metric(proxy, "pgmux_plan_invalidations_total") == 2
    assert metric(proxy, "pgmux_plan_invalidation_retries_total") == 0
