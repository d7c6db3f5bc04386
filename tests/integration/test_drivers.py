"""Other real drivers through pgmux: asyncpg, node-postgres, postgres.js and
the PostgreSQL JDBC driver (Debian's libpostgresql-jdbc-java). The node
drivers come from tests/integration/node (scripts/install-deps.sh runs npm ci).

Drivers that keep named server-side prepared statements across transactions
run in session mode here; doing that in transaction mode is the subject of
the prepared-statement multiplexing work."""
import asyncio
import json
import os
import subprocess

import asyncpg
import pytest

from harness.clients import client_env

pytestmark = pytest.mark.timeout(180)
HERE = os.path.dirname(os.path.abspath(__file__))
JDBC_JAR = "/usr/share/java/postgresql.jar"


def run(argv, timeout=120, cwd=None):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=cwd,
                       env=client_env())
    assert r.returncode == 0, f"{' '.join(argv)} exited {r.returncode}\n{r.stdout}\n{r.stderr}"
    return r.stdout


@pytest.mark.parametrize("mode", ["session", "transaction"])
def test_node_postgres(pgmux, database, mode):
    proxy = pgmux(pool_size=2, pool_mode=mode)
    out = run(["node", "smoke.js", "pg", proxy.endpoint.host, str(proxy.endpoint.port), database],
              cwd=os.path.join(HERE, "node"))
    assert json.loads(out) == {"sum": 42, "count": 50, "error": "22012", "after_error": "ok"}


@pytest.mark.parametrize("mode,prepare", [("session", "prepare"), ("transaction", "noprepare")])
def test_postgres_js(pgmux, database, mode, prepare):
    proxy = pgmux(pool_size=2, pool_mode=mode)
    out = run(["node", "smoke.js", "postgres", proxy.endpoint.host, str(proxy.endpoint.port),
               database, prepare], cwd=os.path.join(HERE, "node"))
    assert json.loads(out) == {"sum": 42, "count": 50, "error": "22012", "after_error": "ok"}


@pytest.mark.parametrize("mode,threshold", [("session", 5), ("transaction", 0)])
def test_jdbc(pgmux, database, mode, threshold):
    proxy = pgmux(pool_size=2, pool_mode=mode)
    url = (f"jdbc:postgresql://{proxy.endpoint.host}:{proxy.endpoint.port}/{database}"
           f"?prepareThreshold={threshold}")
    out = run(["java", "-cp", JDBC_JAR, os.path.join(HERE, "java", "Smoke.java"), url])
    assert out.split() == ["count=50", "sum=1225", "error=22012", "after_error=ok"]


def test_asyncpg_session_mode(pgmux, database):
    proxy = pgmux(pool_size=2, pool_mode="session")

    async def scenario():
        conn = await asyncpg.connect(host=proxy.endpoint.host, port=proxy.endpoint.port,
                                     user="postgres", database=database, timeout=10)
        try:
            assert await conn.fetchval("SELECT $1::int * 2", 21) == 42
            await conn.execute("CREATE TABLE a(id int primary key, v text)")
            await conn.executemany("INSERT INTO a VALUES ($1, $2)", [(i, f"v{i}") for i in range(100)])
            async with conn.transaction():
                await conn.execute("UPDATE a SET v = 'changed' WHERE id < 10")
            await conn.copy_records_to_table("a", records=[(i, "copied") for i in range(100, 150)])
            rows = await conn.fetch("SELECT v, count(*) FROM a GROUP BY v HAVING count(*) > 1 ORDER BY v")
            with pytest.raises(asyncpg.exceptions.DivisionByZeroError):
                await conn.fetchval("SELECT 1/0")
            return [tuple(r) for r in rows], await conn.fetchval("SELECT count(*) FROM a")
        finally:
            await conn.close()

    rows, total = asyncio.run(scenario())
    assert rows == [("changed", 10), ("copied", 50)]
    assert total == 150


def test_asyncpg_pool_transaction_mode(pgmux, database):
    # asyncpg's own pool of 10 over a pgmux pool of 2, statement cache off.
    proxy = pgmux(pool_size=2)

    async def scenario():
        pool = await asyncpg.create_pool(host=proxy.endpoint.host, port=proxy.endpoint.port,
                                         user="postgres", database=database, min_size=10,
                                         max_size=10, statement_cache_size=0)
        try:
            async def one(i):
                async with pool.acquire() as conn:
                    return await conn.fetchval("SELECT $1::int + 1", i)
            return await asyncio.gather(*(one(i) for i in range(200)))
        finally:
            await pool.close()

    assert asyncio.run(scenario()) == [i + 1 for i in range(200)]
