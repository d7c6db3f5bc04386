"""SQL-level PREPARE / EXECUTE / DEALLOCATE under transaction pooling: many
clients over a pool of 2, every statement run in a transaction of its own,
so consecutive statements of one client land on different server connections.
"""
import threading

import pytest

from harness.clients import connect, psql

pytestmark = pytest.mark.timeout(120)


def test_psql_script_prepares_and_executes_across_transactions(pgmux, database):
    proxy = pgmux(pool_size=2)
    # Other clients keep both server connections busy meanwhile.
    stop = threading.Event()

    def churn():
        with connect(proxy.endpoint, database) as c:
            while not stop.is_set():
                c.execute("SELECT pg_sleep(0.001)")

    workers = [threading.Thread(target=churn, daemon=True) for _ in range(3)]
    for w in workers:
        w.start()
    try:
        script = "\n".join([
            "PREPARE add_one (int) AS SELECT $1 + 1;",
            "EXECUTE add_one(1);",
            "EXECUTE add_one(41);",
            "EXPLAIN (COSTS OFF) EXECUTE add_one(2);",
            "DEALLOCATE add_one;",
            "EXECUTE add_one(1);",
            "PREPARE add_one (int) AS SELECT $1 + 100;",
            "EXECUTE add_one(1);",
            "DEALLOCATE ALL;",
            "SELECT count(*) AS left FROM pg_prepared_statements;",
        ])
        r = psql(proxy.endpoint, "-A", "-t", "-v", "ON_ERROR_STOP=0", dbname=database,
                 input=script, check=False)
    finally:
        stop.set()
        for w in workers:
            w.join(10)
    numbers = [line for line in r.stdout.split("\n") if line.strip().isdigit()]
    assert numbers == ["2", "42", "101", "0"], r.stdout
    assert "Result" in r.stdout  # the EXPLAIN of the prepared statement
    assert 'prepared statement "add_one" does not exist' in r.stderr


def test_many_clients_share_statement_names_without_pinning(pgmux, pg, database):
    proxy = pgmux(pool_size=2)
    errors = []

    def client(n):
        try:
            with connect(proxy.endpoint, database) as c:
                # Same name, different bodies per client: names are per client.
                c.execute(f"PREPARE q AS SELECT {n} AS who, $1::int AS arg")
                for i in range(30):
                    assert c.execute(f"EXECUTE q({i})").fetchone() == (n, i)
                c.execute("DEALLOCATE q")
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert len(pg.backends(database)) <= 2


def test_dynamic_sql_executes_a_clients_statement_by_name(pgmux, database):
    # PL/pgSQL running `EXECUTE 'execute name(...)'`: the name is the
    # client's, so pgmux prepares it under that name around the query.
    proxy = pgmux(pool_size=2)
    with connect(proxy.endpoint, database) as c, connect(proxy.endpoint, database) as other:
        c.execute("""CREATE OR REPLACE FUNCTION run_sql(text) RETURNS text
                     LANGUAGE plpgsql AS $$
                     DECLARE r text;
                     BEGIN EXECUTE $1 INTO r; RETURN r; END $$""")
        c.execute("PREPARE dyn_q (int) AS SELECT ($1 * 2)::text")
        other.execute("PREPARE dyn_q (int) AS SELECT 'other client'")
        for i in range(5):
            other.execute("SELECT 1")  # moves the server connections around
            assert c.execute("SELECT run_sql('execute dyn_q (%s)')" % i).fetchone() == (
                str(i * 2),)
            assert other.execute("SELECT run_sql('EXECUTE dyn_q(0)')").fetchone() == (
                "other client",)
        # Nothing of the aliases is left behind on the servers.
        names = {r[0] for r in c.execute("SELECT name FROM pg_prepared_statements")}
        assert names == {"dyn_q"}
        c.execute("DEALLOCATE dyn_q")
        with pytest.raises(Exception, match='prepared statement "dyn_q" does not exist'):
            c.execute("SELECT run_sql('execute dyn_q (1)')")
