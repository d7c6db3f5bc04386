"""Application and framework usage patterns through pgmux in transaction pooling mode, each run on
PostgreSQL directly and through pgmux (a pool of 2 or 3 servers and more clients than servers), and
required to give the same observable results: Django-style psycopg (threads, savepoints, server-side
cursors, row locks), asyncpg the way SQLAlchemy and asyncpg's own pool use it (server_settings,
codecs, isolation levels, LISTEN, COPY, RESET ALL on release), Flyway-style migrations over JDBC
(java/Workloads.java), a job queue (SKIP LOCKED, leader lock, NOTIFY), Knex/TypeORM-style
node-postgres and postgres.js (node/workloads.js), reporting code with temp tables and DISCARD ALL,
schema-per-tenant apps and per-request settings read by views.

Every scenario also checks what it must see on its own (computed here, not copied from a run), so
PGMUX_TEST_TARGET=direct, which runs both halves against PostgreSQL, checks the tests themselves.
Where the contract says a client is pinned, the admin API is asked too (pgmux only)."""
import asyncio
import datetime
import json
import os
import select
import socket
import subprocess
import threading
import time
from zoneinfo import ZoneInfo

import asyncpg
import psycopg
import pytest

from harness.activity import run_threads
from harness.admin import client_by_app, get, reason_stats
from harness.clients import client_env, connect
from harness.net import wait_until

pytestmark = pytest.mark.timeout(180)
HERE = os.path.dirname(os.path.abspath(__file__))
JDBC_JAR = "/usr/share/java/postgresql.jar"
AT = datetime.datetime(2024, 1, 15, 12, 0, tzinfo=datetime.timezone.utc)
N_MIGRATIONS = 4  # java/Workloads.java's MIGRATIONS


def admin_client(proxy, who):
    """The admin API's entry for a client: by application_name, or for a psycopg connection by its
    address (which survives DISCARD ALL resetting the application_name)."""
    if isinstance(who, str):
        return client_by_app(proxy, who)
    with socket.socket(fileno=os.dup(who.fileno())) as sock:
        address = "%s:%d" % sock.getsockname()
    matches = [c for c in get(proxy, "/api/v1/clients")["clients"] if c["address"] == address]
    return matches[0] if matches else None


def assert_pins(proxy, who, expected, timeout=10):
    """The client's pin reasons settle at `expected` (pgmux with its admin API only)."""
    if proxy is None or proxy.admin_endpoint is None:
        return

    def pins():
        client = admin_client(proxy, who)
        return client is not None and sorted(p["reason"] for p in client["pins"]) == sorted(expected)
    wait_until(pins, timeout, what=f"{who} pinned for {expected} (is {admin_client(proxy, who)})")


def settled_pins(proxy, who, expected):
    """The client's pin reasons once they settle at `expected` (at most 3 s), else as they are;
    None without pgmux's admin API. For scenarios that compare what clients see first."""
    if proxy is None or proxy.admin_endpoint is None:
        return None
    try:
        assert_pins(proxy, who, expected, timeout=3)
    except TimeoutError:
        pass
    client = admin_client(proxy, who)
    return client and sorted(p["reason"] for p in client["pins"])


def pg_text(dt: datetime.datetime, zone: str) -> str:
    """timestamptz::text as PostgreSQL prints it in `zone` (ISO DateStyle)."""
    local = dt.astimezone(ZoneInfo(zone))
    off = int(local.utcoffset().total_seconds() // 60)
    sign, off = ("+" if off >= 0 else "-"), abs(off)
    return f"{local:%Y-%m-%d %H:%M:%S}{sign}{off // 60:02d}" + (f":{off % 60:02d}" if off % 60 else "")


def run_program(argv, cwd=None, timeout=90):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=cwd, env=client_env())
    assert r.returncode == 0, f"{' '.join(argv)} exited {r.returncode}\n{r.stdout}\n{r.stderr}"
    return r.stdout


# Django with psycopg 3 ---------------------------------------------------------------------------

ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata"]


def django(endpoint, db, proxy):
    with connect(endpoint, db) as setup:
        setup.execute("CREATE SCHEMA app")
        setup.execute("CREATE TABLE app.item (id serial PRIMARY KEY, name text, qty int, at timestamptz)")

    def dj_connect(zone, app):
        # Django's init_connection_state: the time zone, and here a schema, once per connection.
        conn = connect(endpoint, db, application_name=app)
        conn.execute(f"SET TIME ZONE '{zone}'")
        conn.execute("SET search_path TO app, public")
        return conn

    out = {}

    def web(k):  # one request thread: many short autocommit queries
        with dj_connect(ZONES[k], f"web{k}") as conn:
            seen = set()
            for i in range(25):
                at, text, zone = conn.execute(
                    "INSERT INTO item (name, qty, at) VALUES (%s, %s, %s) "
                    "RETURNING at, at::text, current_setting('TimeZone')", (f"w{k}-{i}", i, AT)).fetchone()
                seen.add((str(at.tzinfo), at == AT, text, zone))  # psycopg reads ParameterStatus
            out[f"web{k}"] = sorted(seen), conn.execute(
                "SELECT count(*), sum(qty) FROM item WHERE name LIKE %s", (f"w{k}-%",)).fetchone()

    errors = run_threads(len(ZONES), web, timeout=60)
    assert not errors, errors

    main, other = dj_connect("UTC", "main"), dj_connect("UTC", "other")
    with main.cursor() as cur:  # bulk_create-like executemany (psycopg pipelines it)
        cur.executemany("INSERT INTO item (name, qty) VALUES (%s, %s)", [(f"b{i}", i) for i in range(40)])
        cur.executemany("INSERT INTO item (name, qty) VALUES (%s, %s) RETURNING id",
                        [(f"r{i}", i) for i in range(5)], returning=True)
        ids = [cur.fetchone()[0]]
        while cur.nextset():
            ids.append(cur.fetchone()[0])
    out["returning"] = ids
    # transaction.atomic() nesting: savepoints, one inner block fails and is rolled back to.
    with main.transaction():
        main.execute("UPDATE item SET qty = qty + 1000 WHERE name = 'b1'")
        with pytest.raises(psycopg.errors.DivisionByZero):
            with main.transaction():
                main.execute("UPDATE item SET qty = -1 WHERE name = 'b2'")
                main.execute("SELECT 1 / 0")
        with main.transaction():
            main.execute("SET LOCAL work_mem = '8MB'")
            with main.transaction():
                main.execute("UPDATE item SET qty = qty + 3000 WHERE name = 'b3'")
        # select_for_update(): others get NOWAIT's error and SKIP LOCKED's other row.
        main.execute("SELECT id FROM item WHERE name = 'b4' FOR UPDATE")
        with pytest.raises(psycopg.errors.LockNotAvailable):
            other.execute("SELECT id FROM item WHERE name = 'b4' FOR UPDATE NOWAIT")
        out["skip_locked"] = other.execute("SELECT name FROM item WHERE name IN ('b4', 'b5') "
                                           "ORDER BY name FOR UPDATE SKIP LOCKED").fetchall()
        out["work_mem"] = main.execute("SHOW work_mem").fetchone()
    out["after_atomic"] = main.execute("SELECT name, qty FROM item WHERE name IN ('b1', 'b2', 'b3') "
                                       "ORDER BY name").fetchall()
    out["work_mem_after"] = main.execute("SHOW work_mem").fetchone()
    # QuerySet.iterator() in autocommit: a WITH HOLD server-side cursor, fetched in chunks while
    # other requests run; it pins until closed.
    chunks = []
    with main.cursor(name="django_curs_1", withhold=True) as cur:
        cur.itersize = 10
        cur.execute("SELECT id, qty FROM item ORDER BY id")
        for row in cur:
            chunks.append(row)
            if len(chunks) % 30 == 0:
                assert_pins(proxy, "main", ["hold_cursor"])
                assert other.execute("SELECT count(*) FROM item").fetchone()[0] >= len(chunks)
    assert_pins(proxy, "main", [])
    out["iterated"] = len(chunks), sum(q for _, q in chunks)
    out["total"] = main.execute("SELECT count(*), sum(qty) FROM item").fetchone()
    main.close()
    other.close()
    return out


def test_django_style_threads_savepoints_and_server_side_cursors(both):
    direct, proxied = both(django)
    for k, zone in enumerate(ZONES):
        assert direct[f"web{k}"] == ([(zone, True, pg_text(AT, zone), zone)], (25, sum(range(25))))
    assert direct["returning"] == list(range(4 * 25 + 41, 4 * 25 + 46))
    assert direct["skip_locked"] == [("b5",)] and direct["work_mem"] == ("8MB",)
    assert direct["after_atomic"] == [("b1", 1001), ("b2", 2), ("b3", 3003)]
    assert direct["iterated"] == direct["total"] == (145, 4 * 300 + 780 + 10 + 1000 + 3000)
    assert proxied == direct


# asyncpg's own pool: RESET ALL on every release --------------------------------------------------

SERVER_SETTINGS = {"search_path": "app,public", "statement_timeout": "4s", "application_name": "svc"}


def asyncpg_pool(endpoint, db, proxy):
    async def init(conn):
        await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")

    async def main():
        # asyncpg.Pool.release() runs "SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *;
        # RESET ALL;": RESET ALL goes back to the startup packet's server_settings, not to the
        # server's defaults. 6 connections share pgmux's 2 servers.
        pool = await asyncpg.create_pool(host=endpoint.host, port=endpoint.port, user="postgres",
                                         database=db, min_size=6, max_size=6, init=init,
                                         server_settings=SERVER_SETTINGS)
        try:
            async with pool.acquire() as conn:
                await conn.execute("CREATE SCHEMA app; CREATE TABLE app.docs (id int PRIMARY KEY, body jsonb)")

            async def request(i):
                async with pool.acquire() as conn:
                    if i % 5 == 0:  # application code that changes a setting for itself
                        await conn.execute("SET statement_timeout = '1s'")
                    try:
                        await conn.execute("INSERT INTO docs VALUES ($1, $2)", i, {"n": i, "tags": [str(i)]})
                        return tuple(await conn.fetchrow(
                            "SELECT body, current_setting('search_path'), current_setting('statement_timeout'),"
                            " current_setting('application_name') FROM docs WHERE id = $1", i))
                    except asyncpg.PostgresError as e:
                        return e.sqlstate, str(e), None, None
            rows = []
            for start in range(0, 60, 12):
                rows += await asyncio.gather(*(request(i) for i in range(start, start + 12)))
            async with pool.acquire() as conn:
                settings = await conn.fetchrow("SELECT current_setting('search_path'), "
                                               "current_setting('statement_timeout')")
            return {"bodies": [r[0] for r in rows], "settings": sorted({r[1:] for r in rows}),
                    "after_release": tuple(settings)}
        finally:
            await pool.close()
    return asyncio.run(asyncio.wait_for(main(), 60))


def test_asyncpg_pool_reset_all_returns_to_server_settings(both):
    direct, proxied = both(asyncpg_pool)
    assert direct["bodies"] == [{"n": i, "tags": [str(i)]} for i in range(60)]
    assert direct["settings"] == [("app,public", "1s", "svc"), ("app,public", "4s", "svc")]
    assert direct["after_release"] == ("app,public", "4s")
    assert proxied == direct


def reset_forms(endpoint, db, proxy):
    """RESET, RESET ALL, SET ... TO DEFAULT and DISCARD ALL (pool reset queries of PgBouncer-era
    apps) go back to the client's startup options; a second client with the same options that
    never resets shares the servers meanwhile and must keep seeing its own settings."""
    options = "-c search_path=tenant,public -c statement_timeout=5s -c work_mem=7MB"
    query = ("SELECT current_setting('search_path'), current_setting('statement_timeout'), "
             "current_setting('work_mem'), current_setting('application_name')")
    a = connect(endpoint, db, application_name="resetter", options=options)
    b = connect(endpoint, db, application_name="bystander", options=options)
    holder = connect(endpoint, db)
    out = []
    for reset in ["RESET ALL", "DISCARD ALL", "RESET search_path; RESET statement_timeout; "
                  "RESET work_mem; RESET application_name", "SET search_path TO DEFAULT; SET "
                  "statement_timeout TO DEFAULT; SET work_mem TO DEFAULT; SET application_name TO DEFAULT"]:
        a.execute("SET search_path = elsewhere; SET statement_timeout = '1s'; SET work_mem = '1MB'; "
                  "SET application_name = 'changed'")
        a.execute(reset)
        out.append((reset, "resetter", a.execute(query).fetchone()))
        # The holder keeps one server busy: the bystander runs where the reset just ran.
        holder.execute("BEGIN")
        holder.execute("SELECT 1")
        out.append((reset, "bystander", b.execute(query).fetchone()))
        out.append((reset, "resetter again", a.execute(query).fetchone()))
        holder.execute("COMMIT")
        out.append((reset, "bystander again", b.execute(query).fetchone()))
    for conn in (a, b, holder):
        conn.close()
    return out


def test_reset_goes_back_to_startup_options_for_this_and_other_clients(both):
    direct, proxied = both(reset_forms)
    for reset, who, row in direct:
        assert row == ("tenant,public", "5s", "7MB", "bystander" if "bystander" in who else "resetter"), reset
    assert proxied == direct


# SQLAlchemy-style asyncpg: its own pool of raw connections ----------------------------------------

def sqlalchemy_asyncpg(endpoint, db, proxy):
    async def main():
        def conn(app, **settings):
            return asyncpg.connect(host=endpoint.host, port=endpoint.port, user="postgres", database=db,
                                   server_settings={"application_name": app, "jit": "off", **settings})
        conns = [await conn(f"sa{i}") for i in range(5)]
        listener = await conn("listener")
        impatient = await conn("impatient", statement_timeout="300ms")
        out = {}
        try:
            for c in conns + [listener]:  # the dialect's on-connect hook
                for typ in ("json", "jsonb"):
                    await c.set_type_codec(typ, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
            a, b = conns[0], conns[1]
            await a.execute("CREATE TABLE acct (id int PRIMARY KEY, bal numeric(10, 2), owner int, "
                            "meta jsonb NOT NULL DEFAULT '{}')")
            # COPY from several connections at once (binary COPY of records).
            await asyncio.gather(*(c.copy_records_to_table(
                "acct", records=[(k * 100 + i, i * 1.5, k) for i in range(20)], columns=["id", "bal", "owner"])
                for k, c in enumerate(conns)))
            await b.executemany("UPDATE acct SET meta = $2 WHERE id = $1",
                                [(k * 100, {"owner": k, "tags": ["first"]}) for k in range(5)])
            # A statement prepared once and used in later transactions and outside them.
            stmt = await a.prepare("SELECT sum(bal), count(*), max((meta->>'owner')::int) FROM acct WHERE id < $1")
            out["prepared"] = [tuple(await stmt.fetchrow(100 * k)) for k in range(1, 6)]
            async with a.transaction():
                await a.execute("UPDATE acct SET bal = bal + 1 WHERE id < 100")
                out["prepared_in_tx"] = tuple(await stmt.fetchrow(100))
            # Isolation levels and read-only transactions.
            for c, iso, ro in [(a, "serializable", True), (b, "repeatable_read", False)]:
                async with c.transaction(isolation=iso, readonly=ro):
                    out[iso] = await c.fetchval("SELECT current_setting('transaction_isolation') || '/' "
                                                "|| current_setting('transaction_read_only')")
            with pytest.raises(asyncpg.exceptions.ReadOnlySQLTransactionError):
                async with a.transaction(readonly=True):
                    await a.execute("DELETE FROM acct")
            # Write skew between two serializable transactions: the second commit fails (40001).
            ta, tb = a.transaction(isolation="serializable"), b.transaction(isolation="serializable")
            await ta.start()
            await tb.start()
            for c, k in ((a, 900), (b, 901)):
                total = await c.fetchval("SELECT sum(bal) FROM acct")
                await c.execute("INSERT INTO acct VALUES ($1, $2)", k, -total)
            await ta.commit()
            with pytest.raises(asyncpg.exceptions.SerializationError):
                await tb.commit()
            out["after_skew"] = await b.fetchval("SELECT count(*) FROM acct WHERE id >= 900")
            # add_listener pins; NOTIFY from committed and rolled-back transactions.
            got = asyncio.Queue()

            def heard(conn, pid, channel, payload):
                got.put_nowait(payload)
            await listener.add_listener("acct_changed", heard)
            assert_pins(proxy, "listener", ["listen"])
            for k, c in enumerate(conns):
                async with c.transaction():
                    await c.execute("SELECT pg_notify('acct_changed', $1)", f"c{k}")
            with pytest.raises(ZeroDivisionError):
                async with b.transaction():
                    await b.execute("NOTIFY acct_changed, 'rolled back'")
                    raise ZeroDivisionError
            await a.execute("NOTIFY acct_changed, 'last'")
            out["notes"] = [await asyncio.wait_for(got.get(), 10) for _ in range(len(conns) + 1)]
            out["listener_json"] = await listener.fetchval("SELECT meta FROM acct WHERE id = 300")
            await listener.remove_listener("acct_changed", heard)
            assert_pins(proxy, "listener", [])
            # statement_timeout from server_settings cancels; the connection stays usable.
            with pytest.raises(asyncpg.exceptions.QueryCanceledError):
                await impatient.execute("SELECT pg_sleep(2)")
            out["impatient"] = await impatient.fetchval("SELECT current_setting('statement_timeout')")
            out["apps"] = [await c.fetchval("SELECT current_setting('application_name')") for c in conns]
        finally:
            for c in conns + [listener, impatient]:
                await c.close()
        return out
    return asyncio.run(asyncio.wait_for(main(), 60))


def test_sqlalchemy_style_asyncpg_connections(both):
    direct, proxied = both(sqlalchemy_asyncpg)
    assert [row[1:] for row in direct["prepared"]] == [(20 * k, k - 1) for k in range(1, 6)]
    assert direct["prepared_in_tx"][1] == 20 and direct["after_skew"] == 1
    assert direct["serializable"] == "serializable/on" and direct["repeatable_read"] == "repeatable read/off"
    assert direct["notes"] == [f"c{k}" for k in range(5)] + ["last"]
    assert direct["listener_json"] == {"owner": 3, "tags": ["first"]}
    assert direct["impatient"] == "300ms" and direct["apps"] == [f"sa{i}" for i in range(5)]
    assert proxied == direct


# Flyway-style migrations over JDBC ----------------------------------------------------------------

def test_flyway_style_migrations_under_a_session_advisory_lock(both, pg, database):
    role = f"mig_{database[-6:]}"
    pg.query(f"CREATE ROLE {role}")

    def flyway(endpoint, db, proxy):
        with connect(endpoint, db) as setup:
            setup.execute(f"CREATE SCHEMA app AUTHORIZATION {role}")
        url = f"jdbc:postgresql://{endpoint.host}:{endpoint.port}/{db}?socketTimeout=60"
        out = run_program(["java", "-cp", JDBC_JAR, os.path.join(HERE, "java", "Workloads.java"), url, role])
        if proxy is not None and proxy.admin_endpoint is not None:
            # Both migrators held the lock in turn (pinned), and no pin outlived its lock.
            stats = reason_stats(proxy, "advisory_lock")
            assert stats["pins_started"] >= 2 and stats["clients_pinned_now"] == 0, stats
        return dict(line.split("=", 1) for line in out.splitlines())
    try:
        direct, proxied = both(flyway)
    finally:
        for db in (database, f"{database}_d"):
            if pg.query("SELECT 1 FROM pg_database WHERE datname = %s", (db,)):
                pg.query(f"DROP OWNED BY {role}", dbname=db)
        pg.query(f"DROP ROLE {role}")
    assert direct == {
        "busy_migrator": f"{N_MIGRATIONS}:true:true:false:role",  # applied all, same backend
        "idle_migrator": "0:true:true:true:role",  # waited for the lock, then nothing to do
        "reader": "true:0:serializable:25006",
        "lock_free": "1",
        "history": ",".join(f"{v}/role/busy" for v in range(1, N_MIGRATIONS + 1)),
        "customers": "50/25",
    }
    assert proxied == direct


# Job queue (Que / Graphile Worker / river style) ----------------------------------------------------

JOBS, WORKERS = 60, 4


def job_queue(endpoint, db, proxy):
    with connect(endpoint, db) as setup:
        setup.execute("CREATE TABLE job (id int PRIMARY KEY, done_by text, attempts int NOT NULL DEFAULT 0)")
        setup.execute("INSERT INTO job (id) SELECT generate_series(1, %s)", (JOBS,))
    listener = connect(endpoint, db, application_name="waker")
    listener.execute("LISTEN job_done")
    assert_pins(proxy, "waker", ["listen"])
    out, leaders = {}, []
    election = threading.Barrier(WORKERS, timeout=30)

    def worker(k):
        with connect(endpoint, db, application_name=f"worker{k}") as conn:
            # Leader election by a session lock held while working (the maintenance leader);
            # everyone has tried before anyone goes on.
            election.wait()
            if conn.execute("SELECT pg_try_advisory_lock(99)").fetchone()[0]:
                leaders.append(k)
                assert_pins(proxy, f"worker{k}", ["advisory_lock"])
            election.wait()
            while True:
                with conn.transaction():
                    row = conn.execute("SELECT id FROM job WHERE done_by IS NULL ORDER BY id "
                                       "FOR UPDATE SKIP LOCKED LIMIT 1").fetchone()
                    if row is None:
                        break
                    conn.execute("UPDATE job SET done_by = %s, attempts = attempts + 1 WHERE id = %s",
                                 (f"worker{k}", row[0]))
                    conn.execute("SELECT pg_notify('job_done', %s)", (str(row[0]),))
                if row[0] % 10 == 0:  # a job whose transaction fails: no notification
                    with pytest.raises(psycopg.errors.DivisionByZero):
                        with conn.transaction():
                            conn.execute("NOTIFY job_done, 'ghost'")
                            conn.execute("SELECT 1 / 0")
            if k in leaders:
                assert conn.execute("SELECT pg_advisory_unlock(99)").fetchone() == (True,)
                assert_pins(proxy, f"worker{k}", [])

    errors = run_threads(WORKERS, worker, timeout=60)
    assert not errors, errors
    woken = idle_notifications(listener, JOBS)
    out["woken"] = sorted(woken, key=lambda p: int(p) if p.isdigit() else -1)
    out["leaders"] = len(leaders)
    out["jobs"] = listener.execute("SELECT count(*), count(DISTINCT id), max(attempts), count(DISTINCT done_by) > 0 "
                                   "FROM job WHERE done_by IS NOT NULL").fetchone()
    listener.execute("UNLISTEN *")
    assert_pins(proxy, "waker", [])
    out["lock_after"] = listener.execute("SELECT pg_try_advisory_lock(99), pg_advisory_unlock_all()").fetchone()
    listener.close()
    return out


def idle_notifications(conn, count, timeout=10):
    """Payloads of the notifications an idle connection receives (a worker blocked in select(),
    woken by NOTIFY), until `count` arrived or nothing more comes for 0.5 s after that."""
    got, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        readable, _, _ = select.select([conn.fileno()], [], [], 0.5 if len(got) >= count else 0.2)
        if readable:
            conn.pgconn.consume_input()
        elif len(got) >= count:
            break
        while (note := conn.pgconn.notifies()) is not None:
            got.append(note.extra.decode())
    return got


def test_job_queue_skip_locked_leader_lock_and_notify(both):
    # Pool of 3: the listener and the leader are pinned, the other workers share what is left.
    direct, proxied = both(job_queue, pool_size=3)
    assert direct == {"woken": [str(i) for i in range(1, JOBS + 1)], "leaders": 1,
                      "jobs": (JOBS, JOBS, 1, True), "lock_after": (True, "")}
    assert proxied == direct


# Knex / Sequelize / TypeORM-style node-postgres and postgres.js ----------------------------------

def test_node_postgres_and_postgres_js_pools_types_and_transactions(both):
    def node(endpoint, db, proxy):
        out = json.loads(run_program(["node", "workloads.js", endpoint.host, str(endpoint.port), db],
                                     cwd=os.path.join(HERE, "node")))
        assert "hung_at" not in out and "failed_at" not in out, out
        return out
    direct, proxied = both(node)
    at = [datetime.datetime(2024, 6, 1, 12, 0, i, tzinfo=datetime.timezone.utc) for i in range(40)]
    big = 9007199254740993  # beyond a JS number: text on both sides
    for i, row in enumerate(direct["types"]):
        zone = "Asia/Tokyo" if i % 2 else "America/New_York"
        assert row == [at[i].strftime("%Y-%m-%dT%H:%M:%S.000Z"), pg_text(at[i], zone), zone, f"{i}.5001",
                       f"{i:02x}ff00", ["x", f"y,{i}", None], {"i": i, "s": 'é"\\'}, str(big + i)]
    assert direct["tx"] == [
        {"t": pg_text(at[1], "UTC"), "iso": "repeatable read"}, "error:23505", 1, "error:22012",
        "error:25P02", {"t": pg_text(at[1], "Asia/Tokyo"), "n": str(big + 1), "iso": "read committed"},
        ["serializable"]]
    assert direct["zones"] == ["Asia/Tokyo", "America/New_York"]
    assert direct["pjs"] == [{"t": pg_text(at[i], "Europe/Paris"), "app": "pjs", "k": f"k{i}"} for i in range(20)]
    assert direct["pjsTx"] == ["3s", "error:22012", str(big + 2)] and direct["pjsAfter"] == "0"
    assert direct["heard"] == [f"p{i}" for i in range(5)] + ["in tx"]
    assert proxied == direct


# Reporting code: temp tables per request, DISCARD ALL as the connection reset --------------------

def reporting(endpoint, db, proxy):
    with connect(endpoint, db) as setup:
        setup.execute("CREATE TABLE sale (id int, region text, amount int)")
        setup.execute("INSERT INTO sale SELECT g, 'r' || g % 3, g FROM generate_series(1, 30) g")
    reporters = [connect(endpoint, db, application_name=f"report{k}") for k in range(2)]
    bystander = connect(endpoint, db)  # never creates temp objects
    out = []

    def bystander_view():
        # A backend that held someone's temp schema is never handed to another client.
        return bystander.execute("SELECT pg_my_temp_schema() = 0, count(*) FROM sale").fetchone()

    for req in range(3):
        for k, conn in enumerate(reporters):
            with conn.transaction():  # ON COMMIT DROP inside the request's transaction: no pin
                conn.execute("CREATE TEMP TABLE agg ON COMMIT DROP AS "
                             "SELECT region, sum(amount) AS s FROM sale GROUP BY region")
                out.append(conn.execute("SELECT region, s FROM agg ORDER BY region").fetchall())
            assert_pins(proxy, conn, [])
            conn.execute("SET statement_timeout = '9s'")
            conn.execute("PREPARE top(int) AS SELECT id FROM sale ORDER BY amount DESC LIMIT $1")
            # A plain temp table, same name for both reporters at once: pinned while it exists.
            conn.execute("CREATE TEMP TABLE scratch AS SELECT * FROM sale WHERE id %% 2 = %s", (k,))
            assert_pins(proxy, conn, ["temp_object"])
        out.append(bystander_view())
        for k, conn in enumerate(reporters):
            out.append(conn.execute("SELECT count(*), sum(amount) FROM scratch").fetchone())
            out.append(conn.execute("EXECUTE top(2)").fetchall())
            if req % 2:
                conn.execute("DROP TABLE scratch")
            conn.execute("DISCARD ALL")  # end of request
            assert_pins(proxy, conn, [])
            out.append(conn.execute("SELECT current_setting('statement_timeout'), to_regclass('pg_temp.scratch'), "
                                    "(SELECT count(*) FROM pg_prepared_statements)").fetchone())
            with pytest.raises(psycopg.errors.InvalidSqlStatementName):
                conn.execute("EXECUTE top(2)")
        out.append(bystander_view())
    for conn in reporters + [bystander]:
        conn.close()
    return out


def test_reporting_temp_tables_and_discard_all(both):
    # Pool of 3: both reporters can be pinned by their temp tables while the bystander runs.
    direct, proxied = both(reporting, pool_size=3)
    sums = [(f"r{r}", sum(g for g in range(1, 31) if g % 3 == r)) for r in range(3)]
    per_request = [sums, sums, (True, 30), (15, sum(range(2, 31, 2))), [(30,), (29,)], ("0", None, 0),
                   (15, sum(range(1, 31, 2))), [(30,), (29,)], ("0", None, 0), (True, 30)]
    assert direct == per_request * 3
    assert proxied == direct


# Schema per tenant (django-tenants, apartment, Hibernate's SCHEMA multi-tenancy) -----------------

TENANTS = {"acme": "", "globex": ", vip boolean DEFAULT true"}  # globex is migrated ahead


def schema_per_tenant(endpoint, db, proxy):
    with connect(endpoint, db) as setup:
        for tenant, extra in TENANTS.items():
            setup.execute(f"CREATE SCHEMA {tenant}")
            setup.execute(f"CREATE TABLE {tenant}.customer (id int PRIMARY KEY, name text{extra})")
            setup.execute(f"INSERT INTO {tenant}.customer (id, name) SELECT g, '{tenant}' || g "
                          "FROM generate_series(1, 5) g")
    out = {"psycopg": [], "asyncpg": []}
    # psycopg with its default prepare_threshold (5): the request's queries become named statements
    # from the fifth run. Each connection serves one tenant (a pool per tenant), its schema set once
    # at connect. On one connection serving several tenants PostgreSQL itself would fail the
    # statement once globex's wider rows replace acme's ("cached plan must not change result type").
    conns = [(t, connect(endpoint, db, prepare_threshold=5)) for t in TENANTS for _ in range(2)]
    for tenant, conn in conns:
        conn.execute(f"SET search_path TO {tenant}, public")
    for req in range(8):
        for tenant, conn in conns:
            try:
                with conn.transaction():
                    row = conn.execute("SELECT * FROM customer WHERE id = %s", (req % 5 + 1,)).fetchone()
                    count = conn.execute("SELECT count(*) FROM customer WHERE name LIKE %s",
                                         (tenant + "%",)).fetchone()
                out["psycopg"].append((tenant, row, count))
            except psycopg.Error as e:
                out["psycopg"].append((tenant, e.sqlstate, str(e)))
    for _, conn in conns:
        conn.close()

    async def tenant_connections():  # one connection per tenant, the schema from server_settings
        cs = {t: await asyncpg.connect(host=endpoint.host, port=endpoint.port, user="postgres", database=db,
                                       server_settings={"search_path": t}) for t in TENANTS}
        try:
            for i in range(4):
                for tenant, c in cs.items():
                    try:
                        async with c.transaction():
                            row = await c.fetchrow("SELECT * FROM customer WHERE id = $1", i + 1)
                        out["asyncpg"].append((tenant, tuple(row)))
                    except asyncpg.PostgresError as e:
                        out["asyncpg"].append((tenant, e.sqlstate, str(e)))
        finally:
            for c in cs.values():
                await c.close()
    asyncio.run(asyncio.wait_for(tenant_connections(), 30))
    return out


def test_schema_per_tenant_with_prepared_statements(both):
    direct, proxied = both(schema_per_tenant)

    def row(tenant, i):
        return (i, f"{tenant}{i}") + ((True,) if TENANTS[tenant] else ())
    tenants = list(TENANTS)
    assert direct["psycopg"] == [(t, row(t, r % 5 + 1), (5,)) for r in range(8) for t in tenants for _ in range(2)]
    assert direct["asyncpg"] == [(t, row(t, i + 1)) for i in range(4) for t in tenants]
    assert proxied == direct


# psycopg's own statement cache in long-lived connections ------------------------------------------
# Django-style workers with psycopg's defaults: a query becomes a named statement at its fifth run;
# the connection's cache holds 100 and DEALLOCATEs the least recently used beyond that; after a
# transaction rolls back psycopg sends DEALLOCATE ALL. Both go through the extended protocol.

def statement_cache_eviction(endpoint, db, proxy):
    worker = connect(endpoint, db, prepare_threshold=5)
    out = {"results": []}
    # 110 distinct queries, 6 runs each in turn (a batch job): each is prepared, and from the
    # 101st on the cache evicts the oldest.
    for i in range(110):
        for rnd in range(6):
            try:
                out["results"].append(worker.execute(f"SELECT %s::int + {i}", (rnd,)).fetchone()[0])
            except psycopg.Error as e:
                out["results"].append(f"{i}/{rnd}: {e.sqlstate} {e}")
    try:  # the cache is full (the eviction's DEALLOCATE may still be pending)
        out["cache_full"] = worker.execute("SELECT count(*) >= 100 FROM pg_prepared_statements").fetchone()
    except psycopg.Error as e:
        out["cache_full"] = e.sqlstate
    worker.close()
    return out


def test_psycopg_statement_cache_eviction(both):
    direct, proxied = both(statement_cache_eviction)
    assert direct == {"results": [rnd + i for i in range(110) for rnd in range(6)], "cache_full": (True,)}
    assert proxied == direct


def rollback_deallocate_all(endpoint, db, proxy):
    with connect(endpoint, db) as setup:
        setup.execute("CREATE TABLE account (email text PRIMARY KEY)")
    workers = [connect(endpoint, db, prepare_threshold=5) for _ in range(3)]
    report = connect(endpoint, db)  # a long report: through pgmux the workers share one server
    report.execute("BEGIN")
    report.execute("SELECT 1")
    out = []
    for rnd in range(4):
        for k, w in enumerate(workers):
            try:
                if rnd == 2 and k == 1:  # this request fails: psycopg rolls back, DEALLOCATE ALL
                    with pytest.raises(psycopg.errors.UniqueViolation):
                        with w.transaction():
                            w.execute("SELECT %s::int * 10", (k,))
                            w.execute("INSERT INTO account VALUES ('a@example.com'), ('a@example.com')")
                for _ in range(6):  # the same text in every worker: one statement on the server
                    value = w.execute("SELECT %s::int * 10", (k,)).fetchone()[0]
                out.append(value)
            except psycopg.Error as e:
                out.append(f"{rnd}/{k}: {e.sqlstate} {e}")
    report.execute("COMMIT")
    for conn in workers + [report]:
        conn.close()
    return out


def test_psycopg_rollback_deallocate_all_spares_other_clients(both):
    direct, proxied = both(rollback_deallocate_all)
    assert direct == [k * 10 for _ in range(4) for k in range(3)]
    assert proxied == direct


# Per-request settings read by views (PostGraphile / Supabase-style claims) -----------------------

def request_claims(endpoint, db, proxy):
    """Authenticated requests set a claim for their transaction only (set_config(..., true), the
    pooler-safe way); a view filters by it. Anonymous clients never set it: for them
    current_setting(name, true) is NULL, so the view is empty. PostgreSQL keeps a placeholder once
    a session has set such a variable (it reads '' afterwards), which must stay that session's."""
    with connect(endpoint, db) as setup:
        setup.execute("CREATE TABLE orders (id int PRIMARY KEY, customer_id int)")
        setup.execute("INSERT INTO orders SELECT g, g % 3 FROM generate_series(1, 30) g")
        setup.execute("CREATE VIEW my_orders AS SELECT * FROM orders "
                      "WHERE customer_id = current_setting('jwt.claims.customer_id', true)::int")
    users = [connect(endpoint, db) for _ in range(2)]
    anonymous = [connect(endpoint, db) for _ in range(2)]
    out = []
    for rnd in range(3):
        for k, conn in enumerate(users):
            with conn.transaction():
                conn.execute("SELECT set_config('jwt.claims.customer_id', %s, true)", (str(k + 1),))
                out.append(("user", conn.execute("SELECT count(*) FROM my_orders").fetchone()))
        for conn in anonymous:
            try:
                out.append(("anonymous", conn.execute(
                    "SELECT count(*), current_setting('jwt.claims.customer_id', true) FROM my_orders").fetchone()))
            except psycopg.Error as e:
                out.append(("anonymous", e.sqlstate, str(e)))
    for conn in users + anonymous:
        conn.close()
    return out


def test_per_request_claims_do_not_leak_into_other_clients(both):
    direct, proxied = both(request_claims)
    assert direct == ([("user", (10,)), ("user", (10,))] + [("anonymous", (0, None))] * 2) * 3
    # A documented limit (docs/limitations.md): once any session of a backend used a custom
    # setting, PostgreSQL keeps its placeholder there, so a client sharing the backend reads ''
    # where a fresh connection reads NULL (PostgREST-style views use nullif(..., '')). The
    # claim's value itself never leaks: only this error may differ.
    placeholder = ("anonymous", "22P02", 'invalid input syntax for type integer: ""')
    assert len(proxied) == len(direct)
    assert all(p == d or (d[0] == "anonymous" and p == placeholder) for d, p in zip(direct, proxied))


# asyncpg's fetchval / fetchrow: Execute with a row limit ------------------------------------------

def asyncpg_fetchval_state(endpoint, db, proxy):
    """asyncpg's fetchval() and fetchrow() execute with a row limit of 1, so PostgreSQL ends the reply
    with PortalSuspended, not CommandComplete. A distributed lock (`fetchval("SELECT
    pg_try_advisory_lock($1)")`), a session setting made that way (`set_config(..., false)`) and
    a sequence drawn from (for currval()) are the session's state all the same."""
    async def main():
        def conn(app):
            return asyncpg.connect(host=endpoint.host, port=endpoint.port, user="postgres", database=db,
                                   server_settings={"application_name": app})
        a, b, report = await conn("locker"), await conn("contender"), await conn("report")
        out, pins = [], []
        try:
            # A long report holds one server meanwhile.
            async with report.transaction():
                await report.execute("SELECT 1")
                out.append(await a.fetchval("SELECT pg_try_advisory_lock($1)", 4711))
                pins.append(settled_pins(proxy, "locker", ["advisory_lock"]))
                out.append(await b.fetchval("SELECT pg_try_advisory_lock($1)", 4711))  # held by a
                out.append(await a.fetchval("SELECT set_config('search_path', $1, false)", "tenant_a, public"))
                out.append(await b.fetchrow("SELECT current_setting('search_path') AS sp"))
            out.append(await a.fetchval("SELECT current_setting('search_path')"))
            out.append(await a.fetchval("SELECT pg_advisory_unlock($1)", 4711))
            pins.append(settled_pins(proxy, "locker", []))
            out.append(await b.fetchval("SELECT pg_try_advisory_lock($1)", 4711))
            out.append(await b.fetchval("SELECT pg_advisory_unlock($1)", 4711))
            async with report.transaction():  # a moves to whichever server is left
                await report.execute("SELECT 1")
                out.append(await a.fetchval("SELECT current_setting('search_path')"))
            # An id drawn with fetchval and read back with currval() by the next statement, while
            # another client draws from the same sequence: the backend that ran nextval() knows.
            await a.execute("CREATE SEQUENCE public.order_id")
            for _ in range(3):
                drawn = await a.fetchval("SELECT nextval('public.order_id')")
                await b.fetchval("SELECT nextval('public.order_id')")
                await report.fetchval("SELECT 1")
                try:
                    out.append(await a.fetchval("SELECT currval('public.order_id')") == drawn)
                except asyncpg.PostgresError as e:
                    out.append(f"{e.sqlstate} {e}")
        finally:
            for c in (a, b, report):
                await c.close()
        return [tuple(v) if isinstance(v, asyncpg.Record) else v for v in out], pins
    return asyncio.run(asyncio.wait_for(main(), 60))


def test_asyncpg_fetchval_advisory_lock_and_set_config(both):
    # Three servers: the report's transaction holds one and the lock pins `a` to another, so the
    # contender needs the third (with two it would wait for one to come free).
    (direct, _), (proxied, pins) = both(asyncpg_fetchval_state, pool_size=3)
    assert direct == [True, False, "tenant_a, public", ('"$user", public',), "tenant_a, public", True, True, True,
                      "tenant_a, public", True, True, True]
    assert proxied == direct
    # Pinned while the lock is held (pgmux only). asyncpg sends the set_config value in binary
    # (for text, the same bytes): pgmux tracks the setting and replays it, no pin after the lock.
    assert pins in ([None, None], [["advisory_lock"], []])
