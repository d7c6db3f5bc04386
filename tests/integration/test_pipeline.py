"""libpq pipeline mode through pgmux: many Syncs in flight, an error inside a
pipeline (the server skips to the next Sync), Flush, and pgbench pipelines."""

import struct
import threading

import pytest
from psycopg import pq

from harness.clients import connect, next_result, parse_pgbench, pgbench, pipeline_results, psql
from harness.wire import RawConnection, query_message

pytestmark = pytest.mark.timeout(180)
ES = pq.ExecStatus


def collect(pgconn, syncs):
    return pipeline_results(pgconn, syncs)


def send(pgconn, sql, *params):
    pgconn.send_query_params(sql.encode(), [str(p).encode() for p in params] or None)


@pytest.fixture
def proxy(pgmux):
    return pgmux(pool_size=2)


def test_many_syncs_in_flight(proxy, database):
    with connect(proxy.endpoint, database) as conn:
        pgconn = conn.pgconn
        pgconn.enter_pipeline_mode()
        for i in range(200):
            send(pgconn, "SELECT $1::int * 2", i)
            pgconn.pipeline_sync()
        pgconn.flush()
        results = collect(pgconn, 200)
        pgconn.exit_pipeline_mode()
    values = [v for s, v in results if s == ES.TUPLES_OK]
    assert values == [str(i * 2) for i in range(200)]
    assert sum(s == ES.PIPELINE_SYNC for s, _ in results) == 200


def test_error_inside_pipeline_skips_to_sync(proxy, database):
    with connect(proxy.endpoint, database) as conn:
        conn.execute("CREATE TABLE p(a int)")
        pgconn = conn.pgconn
        pgconn.enter_pipeline_mode()
        send(pgconn, "INSERT INTO p VALUES (1)")
        pgconn.pipeline_sync()
        send(pgconn, "INSERT INTO p VALUES (2)")
        send(pgconn, "SELECT 1/0")
        send(pgconn, "INSERT INTO p VALUES (3)")  # skipped: the server discards until Sync
        pgconn.pipeline_sync()
        send(pgconn, "SELECT count(*) FROM p")
        pgconn.pipeline_sync()
        pgconn.flush()
        results = collect(pgconn, 3)
        pgconn.exit_pipeline_mode()
        statuses = [s for s, _ in results]
        assert statuses == [ES.COMMAND_OK, ES.PIPELINE_SYNC,
                            ES.COMMAND_OK, ES.FATAL_ERROR, ES.PIPELINE_ABORTED, ES.PIPELINE_SYNC,
                            ES.TUPLES_OK, ES.PIPELINE_SYNC]
        assert results[3][1] == "22012"  # division_by_zero
        # The failed segment was one implicit transaction: row 2 rolled back too.
        assert results[6][1] == "1"
        assert conn.execute("SELECT array_agg(a) FROM p").fetchone()[0] == [1]


def test_flush_request_returns_results_before_sync(proxy, database):
    with connect(proxy.endpoint, database) as conn:
        pgconn = conn.pgconn
        pgconn.enter_pipeline_mode()
        send(pgconn, "SELECT 'flushed'")
        pgconn.send_flush_request()
        pgconn.flush()
        res = next_result(pgconn)
        assert ES(res.status) == ES.TUPLES_OK
        assert res.get_value(0, 0) == b"flushed"
        assert next_result(pgconn) is None
        pgconn.pipeline_sync()
        pgconn.flush()
        assert ES(next_result(pgconn).status) == ES.PIPELINE_SYNC
        pgconn.exit_pipeline_mode()
        assert conn.execute("SELECT 'after'").fetchone()[0] == "after"


def test_psycopg_pipeline_and_executemany(proxy, database):
    with connect(proxy.endpoint, database) as conn:
        conn.execute("CREATE TABLE items(id int primary key, name text)")
        with conn.pipeline():
            cur = conn.cursor()
            for i in range(500):
                cur.execute("INSERT INTO items VALUES (%s, %s)", (i, f"n{i}"))
            total = conn.execute("SELECT count(*), sum(id) FROM items")
        assert total.fetchone() == (500, sum(range(500)))
        conn.cursor().executemany("INSERT INTO items VALUES (%s, %s)",
                                  [(i, f"m{i}") for i in range(500, 1500)])
        assert conn.execute("SELECT count(*) FROM items").fetchone()[0] == 1500


def test_psycopg_pipeline_transaction(proxy, database):
    # Explicit transaction inside a pipeline, then another client sees the commit.
    with connect(proxy.endpoint, database, autocommit=False) as conn:
        conn.execute("CREATE TABLE acct(id int primary key, balance int)")
        conn.execute("INSERT INTO acct VALUES (1, 100), (2, 0)")
        conn.commit()
        with conn.pipeline():
            conn.execute("UPDATE acct SET balance = balance - 30 WHERE id = 1")
            conn.execute("UPDATE acct SET balance = balance + 30 WHERE id = 2")
        conn.commit()
    with connect(proxy.endpoint, database) as other:
        rows = other.execute("SELECT id, balance FROM acct ORDER BY id").fetchall()
    assert rows == [(1, 70), (2, 30)]


def test_pgbench_pipeline_script(proxy, database, tmp_path):
    psql(proxy.endpoint, "-c", "CREATE TABLE counter(id int primary key, n int); "
         "INSERT INTO counter VALUES (1, 0)", dbname=database)
    script = tmp_path / "pipeline.sql"
    script.write_text("\\startpipeline\n"
                      "BEGIN;\n"
                      "UPDATE counter SET n = n + 1 WHERE id = 1;\n"
                      "SELECT n FROM counter WHERE id = 1;\n"
                      "COMMIT;\n"
                      "SELECT 1;\n"
                      "\\endpipeline\n")
    r = pgbench(proxy.endpoint, "-n", "-M", "extended", "-f", script, "-c", 10, "-j", 2, "-t", 50,
                dbname=database)
    stats = parse_pgbench(r.stdout)
    assert stats["processed"] == 500, r.stdout
    assert stats["failed"] == 0, r.stdout
    assert psql(proxy.endpoint, "-At", "-c", "SELECT n FROM counter", dbname=database).stdout.strip() == "500"


@pytest.mark.parametrize("known_to_server", [False, True])
def test_statement_parsed_after_an_error_in_the_batch_does_not_exist(proxy, database,
                                                                      known_to_server):
    # The server skips a Parse that follows an error in the same batch: the
    # statement was never created, so preparing it again must succeed (psycopg
    # and JDBC re-prepare what never got its ParseComplete). With
    # known_to_server another client prepared the same text first, so pgmux
    # answers that Parse itself; the skip must undo that answer too.
    if known_to_server:
        with connect(proxy.endpoint, database) as other:
            other.pgconn.prepare(b"warm", b"SELECT 42")
    with connect(proxy.endpoint, database) as conn:
        pgconn = conn.pgconn
        pgconn.enter_pipeline_mode()
        send(pgconn, "SELECT 1/0")
        pgconn.send_prepare(b"s1", b"SELECT 42")
        pgconn.send_query_prepared(b"s1", None)
        pgconn.pipeline_sync()
        pgconn.flush()
        first = collect(pgconn, 1)
        pgconn.send_prepare(b"s1", b"SELECT 42")
        pgconn.send_query_prepared(b"s1", None)
        pgconn.pipeline_sync()
        pgconn.flush()
        second = collect(pgconn, 1)
        pgconn.exit_pipeline_mode()
    assert first == [(ES.FATAL_ERROR, "22012"), (ES.PIPELINE_ABORTED, None),
                     (ES.PIPELINE_ABORTED, None), (ES.PIPELINE_SYNC, None)]
    assert second == [(ES.COMMAND_OK, None), (ES.TUPLES_OK, "42"), (ES.PIPELINE_SYNC, None)]


def test_unnamed_statement_parsed_after_an_error_is_not_taken_for_it(pgmux, database):
    # One server for both clients: A leaves its unnamed statement on it. B's
    # Parse of the unnamed statement is skipped after an error, and B binds the
    # unnamed statement in its next, already pipelined, batch. PostgreSQL
    # fails that Bind (B has no unnamed statement); pgmux, which sent the Bind
    # before it knew of the error, parses B's statement again first (see
    # docs/prepared-statements.md). Never may it run A's statement.
    proxy = pgmux(pool_size=1)
    with connect(proxy.endpoint, database) as a:
        assert a.pgconn.exec_params(b"SELECT 'from a'", None).get_value(0, 0) == b"from a"
    with connect(proxy.endpoint, database) as conn:
        pgconn = conn.pgconn
        pgconn.enter_pipeline_mode()
        pgconn.send_prepare(b"bad", b"SELECT 1/0")  # named: leaves the unnamed one alone
        pgconn.send_query_prepared(b"bad", None)
        pgconn.send_prepare(b"", b"SELECT 'from b'")  # skipped
        pgconn.pipeline_sync()
        pgconn.send_query_prepared(b"", None)
        pgconn.pipeline_sync()
        pgconn.flush()
        results = collect(pgconn, 2)
        pgconn.exit_pipeline_mode()
    assert results[:4] == [(ES.COMMAND_OK, None), (ES.FATAL_ERROR, "22012"),
                           (ES.PIPELINE_ABORTED, None), (ES.PIPELINE_SYNC, None)]
    assert results[4] in [(ES.FATAL_ERROR, "26000"), (ES.TUPLES_OK, "from b")]
    assert results[5:] == [(ES.PIPELINE_SYNC, None)]


def test_parse_sent_after_the_error_arrived_is_skipped_too(proxy, database):
    # The client learns of the error (Flush) before its Sync; a Parse it sends
    # in between is discarded by the server like the rest of the batch.
    with connect(proxy.endpoint, database) as conn:
        pgconn = conn.pgconn
        pgconn.enter_pipeline_mode()
        send(pgconn, "SELECT 1/0")
        pgconn.send_flush_request()
        pgconn.flush()
        res = next_result(pgconn)
        assert res.error_field(pq.DiagnosticField.SQLSTATE) == b"22012"
        assert next_result(pgconn) is None
        pgconn.send_prepare(b"late", b"SELECT 7")
        pgconn.pipeline_sync()
        pgconn.send_prepare(b"late", b"SELECT 7")
        pgconn.send_query_prepared(b"late", None)
        pgconn.pipeline_sync()
        pgconn.flush()
        results = collect(pgconn, 2)
        pgconn.exit_pipeline_mode()
    assert results == [(ES.PIPELINE_ABORTED, None), (ES.PIPELINE_SYNC, None),
                       (ES.COMMAND_OK, None), (ES.TUPLES_OK, "7"), (ES.PIPELINE_SYNC, None)]


def test_skipped_parse_of_an_invalidated_statement_leaves_it_usable(pgmux, database):
    # A statement whose plan was invalidated is closed and parsed again on
    # its next use; when an error makes the server skip both, the server
    # still holds the stale one. Later clients must still be able to use it.
    proxy = pgmux(pool_size=1)
    text = b"SELECT * FROM inv"
    with connect(proxy.endpoint, database) as conn:
        conn.execute("CREATE TABLE inv(a int)")
        conn.execute("INSERT INTO inv VALUES (1)")
        pgconn = conn.pgconn
        pgconn.prepare(b"s1", text)
        assert pgconn.exec_prepared(b"s1", None).ntuples == 1
        conn.execute("ALTER TABLE inv ADD COLUMN b int")
        conn.execute("BEGIN")  # inside a block the error is not retried away
        res = pgconn.exec_prepared(b"s1", None)
        assert res.error_field(pq.DiagnosticField.SQLSTATE) == b"0A000"  # plan invalidated
        conn.execute("ROLLBACK")
        pgconn.enter_pipeline_mode()
        send(pgconn, "SELECT 1/0")
        pgconn.send_prepare(b"s2", text)
        pgconn.pipeline_sync()
        pgconn.flush()
        collect(pgconn, 1)
        pgconn.exit_pipeline_mode()
    for client in range(3):
        with connect(proxy.endpoint, database) as conn:
            conn.pgconn.prepare(b"s3", text)
            res = conn.pgconn.exec_prepared(b"s3", None)
            assert res.error_message == b"", res.error_message
            assert res.nfields == 2 and res.ntuples == 1


def row_values(payload):
    """The text values of a DataRow (no NULLs expected)."""
    (count,), pos, values = struct.unpack_from("!H", payload), 2, []
    for _ in range(count):
        (length,) = struct.unpack_from("!i", payload, pos)
        values.append(payload[pos + 4:pos + 4 + length].decode())
        pos += 4 + length
    return values


def test_clients_streaming_queries_each_get_their_own_answers(pgmux, database):
    """Many clients keep sending queries without waiting, one small write each,
    over few servers: pgmux reads many of them in one pass of its event loop,
    and a read whose completion runs later leaves its bytes in the worker's
    shared buffer until another read needs it (ClientSession::claim_scratch).
    Every client must get the answers to its own queries, in order."""
    proxy = pgmux(pool_size=3)
    clients, queries = 12, 150
    errors = []

    def run(client):
        try:
            with RawConnection(proxy.endpoint, timeout=30) as raw:
                raw.startup(dbname=database)
                raw.read_until_ready()
                for i in range(queries):
                    raw.send(query_message(f"SELECT {client}, {i}"))
                for i in range(queries):
                    messages = raw.read_until_ready()
                    rows = [row_values(p) for kind, p in messages if kind == b"D"]
                    assert rows == [[str(client), str(i)]], (client, i, messages)
        except Exception as e:  # reported below, with the client it happened to
            errors.append(f"client {client}: {e!r}")

    threads = [threading.Thread(target=run, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
