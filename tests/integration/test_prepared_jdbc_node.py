"""Prepared statements of real drivers through pgmux in transaction mode.

Many client connections share a pool of 2 server connections while the
drivers use named server-side statements with their default or
prepared-statement-heavy settings: the PostgreSQL JDBC driver
(java/Prepared.java: prepareThreshold=1 and the default 5, batches,
fetch-size portals, threads, errors, DDL), node-postgres named queries and
postgres.js with its default `prepare: true` (node/prepared.js). Each
scenario must give exactly what a direct PostgreSQL connection gives
(PGMUX_TEST_TARGET=direct runs the same tests straight against PostgreSQL):
no errors but the ones provoked, results computed here from the data the
programs insert, and where a driver meets an error, the same error.
"""
import json
import os
import subprocess

import pytest

from harness.admin import metric
from harness.clients import client_env

pytestmark = pytest.mark.timeout(180)
HERE = os.path.dirname(os.path.abspath(__file__))
JDBC_JAR = "/usr/share/java/postgresql.jar"
POOL_SIZE = 2
THRESHOLDS = [1, 5]  # server-side statements from the first use; JDBC's default
THREADS, ITERATIONS = 8, 24  # as in Prepared.java


def run(argv, timeout=90, cwd=None):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=cwd,
                       env=client_env())
    assert r.returncode == 0, f"{' '.join(argv)} exited {r.returncode}\n{r.stdout}\n{r.stderr}"
    return r.stdout


def jdbc(proxy, database, threshold, *scenarios):
    """Runs Prepared.java's scenarios in one JVM; returns {scenario: {key: value}}."""
    # socketTimeout turns a hang (a client waiting for a server forever) into
    # an error the program reports.
    url = (f"jdbc:postgresql://{proxy.endpoint.host}:{proxy.endpoint.port}/{database}"
           f"?prepareThreshold={threshold}&socketTimeout=60")
    out = run(["java", "-cp", JDBC_JAR, os.path.join(HERE, "java", "Prepared.java"), url, *scenarios])
    results = {s: {} for s in scenarios}
    for line in out.splitlines():
        key, _, value = line.partition("=")
        scenario, _, name = key.partition(".")
        results.setdefault(scenario, {})[name] = value
    return results


def node(proxy, database, mode):
    out = json.loads(run(["node", "prepared.js", mode, proxy.endpoint.host, str(proxy.endpoint.port),
                          database], cwd=os.path.join(HERE, "node")))
    # The program's watchdog reports a hang with what it had seen until then.
    assert "hung_at" not in out, f"{mode} hung in step {out['hung_at']!r} (done: {sorted(out)})"
    return out


# JDBC ------------------------------------------------------------------------

def expected_basic():
    rows = [(i, i % 7, f"v{i}") for i in range(100)]
    groups = []
    for g in range(7):
        ids = [i for i, grp, _ in rows if grp == g]
        groups.append(f"{len(ids)}:{sum(ids)}:{max(f'v{i}' for i in ids)}")
    round_ = ";".join(groups)
    return {"inserted": "100", "round0": round_, "round1": round_, "server_prepared": "true"}


def expected_fetch():
    out = {"server_prepared": "true"}
    for k in range(6):
        start = k * 5
        ids = list(range(start, 100))
        # At the 15th row of the portal (id start+14) another statement counts
        # the ids below it.
        out[str(k)] = f"{len(ids)}:{sum(ids)}:{start + 14}:true"
    return out


def expected_batcherr():
    warm = list(range(1000, 1006))
    auto_failed = [1, 2, 3, 4, 5, 3, 6, 7]
    auto_again = list(range(10, 18))
    tx_failed = [20, 21, 10, 22]
    tx_again = [20, 21, 22]

    def rows(ids):
        return f"{len(ids)}:{sum(ids)}"
    # A batch is sent with one Sync: in autocommit mode it is one implicit
    # transaction, so nothing of a failed batch remains (the plain-statement
    # batch with the duplicate 1000 too).
    final = warm + auto_again + tx_again
    limits = [15, 25, 200, 2000, 15, 25, 200]
    return {
        "warm": f"ok:{len(warm)}",
        "auto": f"error:23505:{len(auto_failed)}",  # JDBC gives a count per batch entry
        "auto_rows": rows(warm),
        "auto_again": f"ok:{len(auto_again)}",
        "auto_again_rows": rows(warm + auto_again),
        "tx": f"error:23505:{len(tx_failed)}",
        "tx_after_error": "25P02",  # the batch's error aborted the transaction block
        "tx_again": f"ok:{len(tx_again)}",
        "tx_rows": rows(final),
        "plain": "error:23505",
        "counts": ",".join(str(sum(i < limit for i in final)) for limit in limits),
        "final_rows": rows(final),
    }


@pytest.mark.parametrize("threshold", THRESHOLDS)
def test_jdbc_statements_batches_portals_and_batch_errors(pgmux, database, threshold):
    proxy = pgmux(pool_size=POOL_SIZE)
    res = jdbc(proxy, database, threshold, "basic", "fetch", "batcherr")
    assert res["basic"] == expected_basic()
    assert res["fetch"] == expected_fetch()
    assert res["batcherr"] == expected_batcherr()


@pytest.mark.parametrize("threshold", THRESHOLDS)
def test_jdbc_threads_interleave_transactions_over_a_small_pool(pgmux, database, threshold):
    # 8 threads, each its own Connection, over 2 server connections; each
    # thread checks what it reads inside its transactions itself.
    proxy = pgmux(pool_size=POOL_SIZE, admin=True)
    res = jdbc(proxy, database, threshold, "threads")["threads"]
    expected = {"problems": "none"}
    committed = [i for i in range(ITERATIONS) if i % 4 != 3]  # i % 4 == 3 rolls back
    for t in range(THREADS):
        # rows, sum of val (thread * 1000 + i), the counter (sum of i)
        expected[f"t{t}"] = f"{len(committed)}:{sum(t * 1000 + i for i in committed)}:{sum(committed)}"
    assert res == expected
    if proxy.admin_endpoint is not None:
        # The point of the scenario: statements a client prepared on one
        # server were needed, and parsed again, on the other.
        assert metric(proxy, "pgmux_reprepares_total") > 0


@pytest.mark.parametrize("threshold", THRESHOLDS)
def test_jdbc_rollback_after_errors_on_many_connections(pgmux, database, threshold):
    # 4 connections in turn, 7 cycles each: an error in a transaction,
    # rollback(), the statement again, commit(). JDBC parses its ROLLBACK as a
    # named statement while the transaction is aborted, which PostgreSQL
    # allows for transaction-ending statements; the second connection to do
    # so on a server shares the first one's server statement.
    proxy = pgmux(pool_size=POOL_SIZE)
    res = jdbc(proxy, database, threshold, "rollbacks")["rollbacks"]
    assert res == {f"c{j}": ",".join(f"22012:{100 // (i + j + 1)}" for i in range(7)) for j in range(4)}


@pytest.mark.parametrize("threshold", THRESHOLDS)
def test_jdbc_ddl_between_uses(pgmux, database, threshold):
    # SELECT * FROM d server-prepared on two connections, ALTER TABLE ADD
    # COLUMN, the same statements again. On a direct connection JDBC gets
    # "cached plan must not change result type" (0A000) and, in autocommit
    # mode, prepares again and retries by itself: every connection sees the
    # new columns. Inside a transaction the error aborts the block.
    proxy = pgmux(pool_size=POOL_SIZE)
    res = jdbc(proxy, database, threshold, "ddl")["ddl"]
    ab, abc = "a,b|1,7", "a,b,c|1,7,x"
    assert res == {
        "before": "a|1 a|1",
        "server_prepared": "true,true",
        **{f"auto_c1_{i}": ab for i in range(3)},
        **{f"auto_c2_{i}": ab for i in range(3)},
        "tx_0": "error:0A000",
        "tx_1": "error:25P02",
        "tx_after_rollback": abc,
        "after_c2": abc,
    }


# Node ------------------------------------------------------------------------

N, TX = 200, 20  # as in prepared.js


def expected_groups(ids):
    return {str(g): [f"{sum(1 for i in ids if i % 5 == g)}:{sum(i for i in ids if i % 5 == g)}"]
            for g in range(5)}


def expected_in_tx():
    # Row k starts in group k % 5; the UPDATE adds 100 and the same
    # transaction reads it back.
    return [[k % 5 + 100, k % 5 + 100] for k in range(TX)]


def expected_divided():
    return ["error:22012" if i % 10 == 0 else 100 // (i % 10) for i in range(N)]


def test_node_postgres_named_queries(pgmux, database):
    # pg.Pool of 10 clients over 2 server connections.
    proxy = pgmux(pool_size=POOL_SIZE)
    out = node(proxy, database, "pg")
    ids = list(range(N))
    assert out["doubled"] == [2 * i for i in ids]
    assert out["groups"] == expected_groups(ids)
    assert out["in_tx"] == expected_in_tx()
    assert out["errors"] == [
        "error:22012", 100 // 4,      # division by zero, then the same name again
        "error:23505", 2 * 1000,      # duplicate key, then a new row
        # Parse failed (no table); after CREATE (ids 1..20) it parses again.
        "error:42P01", sum(1 for i in range(1, 21) if i < 10),
        "error:22012", "error:25P02", 100 // 5,  # in a block: aborted until ROLLBACK
    ]
    assert out["divided"] == expected_divided()
    # Group 0: its original rows less those a committed transaction moved,
    # plus row 1000 (inserted into group 0).
    group0 = [i for i in ids if i % 5 == 0 and not (i < TX and i % 3 != 0)] + [1000]
    assert out["final"] == {"n": len(group0), "s": sum(group0)}
    assert out["bumped"] == sum(1 for k in range(TX) if k % 3 != 0)


def test_postgres_js_default_prepare(pgmux, database):
    # postgres.js with prepare: true (its default) and max: 10 over 2 servers.
    proxy = pgmux(pool_size=POOL_SIZE)
    out = node(proxy, database, "postgres")
    ids = list(range(N))
    assert out["doubled"] == [2 * i for i in ids]
    assert out["groups"] == expected_groups(ids)
    assert out["mixed"] == [f"{i}x" if i % 2 else i * 3 for i in ids]
    assert out["in_tx"] == expected_in_tx()
    assert out["errors"] == [
        "error:22012", 100 // 4,
        "error:23505", 2 * 1000,
        "error:22012",  # sql.begin rolled back, row 2000 with it
        100 // 5,       # row 2001 committed
    ]
    # Even k divide by zero and roll back their row, odd k commit it.
    assert out["failed_tx"] == ["error:22012" if k % 2 == 0 else 100 for k in range(TX)]
    assert out["logged"] == [k for k in range(TX) if k % 2]
    assert out["divided"] == expected_divided()
    # Rows 1000 and 2001 were inserted into group 0.
    group0 = [i for i in ids if i % 5 == 0 and not (i < TX and i % 3 != 0)] + [1000, 2001]
    assert out["final"] == {"n": len(group0), "s": sum(group0)}
    assert out["bumped"] == sum(1 for k in range(TX) if k % 3 != 0)


def test_postgres_js_ddl_between_uses(pgmux, database):
    # SELECT *, $1 AS i prepared on 6 reserved connections of postgres.js,
    # then ALTER TABLE ADD COLUMN: postgres.js retries after 0A000 with a new
    # statement, so on a direct connection every call returns the new columns
    # (and i, the parameter, in its place).
    proxy = pgmux(pool_size=POOL_SIZE)
    out = node(proxy, database, "postgres-ddl")

    def rows(**columns):
        return [json.dumps({**columns, "i": j}, separators=(",", ":")) for j in range(6)]
    assert out["before"] == rows(a=1)
    new = rows(a=1, b=7)
    assert out["after"] == new
    assert out["again"] == new
