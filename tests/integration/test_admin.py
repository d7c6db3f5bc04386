"""The admin HTTP API wired into the running proxy: a real PostgreSQL, pool size 2, real clients
(psycopg) and real HTTP clients (urllib and curl).

Every pin of the contract that the API must show is driven here: the statement pins with the
right reason and cause, /api/v1/clients, /servers, /pinning and /metrics show it, the pin ends
when the state is gone, and other clients keep being served meanwhile. Then the actions
(disconnect, pause/resume, reload), the bearer token and the error answers."""
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time

import psycopg
import pytest

from harness.admin import client_by_app, get, http, metric_value, pool_of, post, reason_stats
from harness.clients import PG_BIN, client_env, connect
from harness.net import free_port, wait_until
from harness.proxy import REPO_ROOT, target
from harness.wire import RawConnection, first_error, message, query_message

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(target() != "pgmux", reason="the admin API is pgmux's own"),
]

POOL_SIZE = 2


# HTTP helpers ---------------------------------------------------------------------------------

def curl(proxy, path, *args):
    """(status, body) through curl, a real HTTP client independent of Python's."""
    r = subprocess.run(["curl", "-sS", "-o", "-", "-w", "\n%{http_code}", *args,
                        f"http://{proxy.admin_endpoint}{path}"],
                       capture_output=True, text=True, timeout=20, check=True)
    body, _, code = r.stdout.rpartition("\n")
    return int(code), body


def curl_json(proxy, path, *args):
    status, body = curl(proxy, path, *args)
    return status, json.loads(body)


def histogram(text, name):
    """count, sum and the observations above 250 ms / 500 ms of a histogram in /metrics."""
    count = metric_value(text, f"{name}_count")
    return {"count": count, "sum": metric_value(text, f"{name}_sum"),
            "over_250ms": count - metric_value(text, f"{name}_bucket", 'le="0.25"'),
            "over_500ms": count - metric_value(text, f"{name}_bucket", 'le="0.5"')}


def grew(before, after):
    return {k: after[k] - before[k] for k in before}


def disconnects(proxy):
    text = get(proxy, "/metrics")
    prefix = "pgmux_disconnects_total{reason=\""
    out = {}
    for line in text.splitlines():
        if line.startswith(prefix):
            reason, _, value = line[len(prefix):].partition('"} ')
            out[reason] = float(value)
    return out


def settled_disconnects(proxy):
    """Disconnect counts once every connection received so far has ended or is still open (the
    harness's readiness probes are connections too)."""
    def settled():
        text = get(proxy, "/metrics")
        connected = sum(metric_value(text, "pgmux_client_connections", f'state="{s}"')
                        for s in ("login", "idle", "waiting", "active"))
        counts = disconnects(proxy)
        received = metric_value(get(proxy, "/metrics"), "pgmux_client_connections_received_total")
        return counts if sum(counts.values()) + connected == received else None
    return wait_until(settled, 10, what="every client connection to be accounted for")


def wait_for_disconnects(proxy, before, expected, timeout=10):
    """Polls until each reason in `expected` grew by at least that much; returns the growth."""
    def grown():
        now = disconnects(proxy)
        growth = {r: now.get(r, 0) - before.get(r, 0) for r in now}
        return growth if all(growth.get(r, 0) >= n for r, n in expected.items()) else None
    try:
        return wait_until(grown, timeout, what=f"disconnects {expected}")
    except TimeoutError:
        raise AssertionError(f"disconnects grew by {grew(before, disconnects(proxy))}, "
                             f"expected at least {expected}") from None


def raw_login(proxy, database, **params):
    raw = RawConnection(proxy.endpoint)
    raw.startup(dbname=database, **params)
    messages = raw.read_until_ready()
    return raw, messages


# Probes and pools -----------------------------------------------------------------------------

def test_healthz_and_readyz(pgmux):
    proxy = pgmux(pool_size=POOL_SIZE, admin=True)
    assert curl_json(proxy, "/healthz") == (200, {"status": "ok"})
    assert curl_json(proxy, "/readyz") == (200, {"status": "ready"})
    status, _, headers = http(proxy, "HEAD", "/healthz")
    assert status == 200 and headers["Cache-Control"] == "no-store"


def test_pools_show_clients_and_servers(pgmux, database):
    proxy = pgmux(pool_size=POOL_SIZE, admin=True)
    with connect(proxy.endpoint, database) as idle, \
            connect(proxy.endpoint, database, autocommit=False) as busy:
        idle.execute("SELECT 1")
        busy.execute("SELECT 1")  # opens a transaction and keeps it open
        pool = pool_of(proxy, database)
        assert pool["user"] == "postgres"
        assert pool["pool_mode"] == "transaction"
        assert pool["pool_size"] == POOL_SIZE
        assert pool["paused"] is False
        assert pool["clients"] == {"active": 1, "waiting": 0, "idle": 1}
        assert pool["servers"]["active"] == 1
        assert pool["servers"]["pinned"] == 0
        assert pool["servers"]["active"] + pool["servers"]["idle"] <= POOL_SIZE

        servers = get(proxy, "/api/v1/servers")["servers"]
        active = [s for s in servers if s["state"] == "active"]
        assert len(active) == 1
        assert active[0]["database"] == database
        assert active[0]["pinned_to"] is None and active[0]["client_id"] is not None
        # The idle ones are listed too: every connection of the pool, once.
        assert len(servers) == pool["servers"]["active"] + pool["servers"]["idle"]
        assert all(s["state"] == "idle" for s in servers if s not in active)

        metrics = get(proxy, "/metrics")
        assert metric_value(metrics, "pgmux_server_connections", 'state="active"') == 1
        assert metric_value(metrics, "pgmux_server_connections_in_transaction") == 1
        assert metric_value(metrics, "pgmux_client_connections", 'state="idle"') == 1
        assert metric_value(metrics, "pgmux_client_connections", 'state="active"') == 1
        busy.commit()
    wait_until(lambda: pool_of(proxy, database)["clients"] == {"active": 0, "waiting": 0, "idle": 0},
               10, what="both clients gone from the pool")


# Pins -----------------------------------------------------------------------------------------

PINS = [
    pytest.param("CREATE TEMP TABLE pin_t (a int)", "temp_object", "CREATE TEMP TABLE",
                 "DROP TABLE pin_t", id="temp_table"),
    pytest.param("LISTEN pin_channel", "listen", "LISTEN pin_channel", "UNLISTEN *", id="listen"),
    pytest.param("SELECT pg_advisory_lock(4242)", "advisory_lock", "pg_advisory_lock($1)",
                 "SELECT pg_advisory_unlock(4242)", id="advisory_lock"),
    pytest.param("DECLARE pin_c CURSOR WITH HOLD FOR SELECT g FROM generate_series(1, 3) g",
                 "hold_cursor", "WITH HOLD", "CLOSE pin_c", id="hold_cursor"),
]


@pytest.mark.parametrize("pin_sql,reason,cause,unpin_sql", PINS)
def test_pin_is_shown_and_ends(pgmux, database, pin_sql, reason, cause, unpin_sql):
    proxy = pgmux(pool_size=POOL_SIZE, admin=True)
    before = reason_stats(proxy, reason)
    with connect(proxy.endpoint, database, application_name="pinned-one") as pinned:
        pinned.execute(pin_sql)
        pinned_pid = pinned.execute("SELECT pg_backend_pid()").fetchone()[0]

        client = client_by_app(proxy, "pinned-one")
        assert client["pinned"] is True
        assert client["state"] == "active"  # a pinned client keeps its server
        assert [p["reason"] for p in client["pins"]] == [reason]
        pin = client["pins"][0]
        assert cause in pin["statement"], pin
        assert pin["since"].endswith("Z") and pin["seconds"] >= 0
        assert client["database"] == database and client["user"] == "postgres"
        # The address pgmux took from accept(): this connection's own port.
        with socket.fromfd(pinned.pgconn.socket, socket.AF_INET, socket.SOCK_STREAM) as own:
            assert client["address"] == "127.0.0.1:%d" % own.getsockname()[1]

        one = get(proxy, f"/api/v1/clients/{client['id']}")
        assert one["id"] == client["id"] and one["pins"][0]["reason"] == reason
        pinned_only = get(proxy, "/api/v1/clients?pinned=true")["clients"]
        assert [c["id"] for c in pinned_only] == [client["id"]]

        servers = [s for s in get(proxy, "/api/v1/servers")["servers"] if s["state"] == "pinned"]
        assert len(servers) == 1 and servers[0]["pinned_to"] == client["id"]
        assert servers[0]["id"] == client["server_id"]
        assert pool_of(proxy, database)["servers"]["pinned"] == 1

        stats = reason_stats(proxy, reason)
        assert stats["pins_started"] == before["pins_started"] + 1
        assert stats["clients_pinned_now"] == 1
        top = get(proxy, "/api/v1/pinning")["top_statements"]
        assert any(t["reason"] == reason and cause in t["statement"] for t in top), top
        metrics = get(proxy, "/metrics")
        assert metric_value(metrics, "pgmux_pinned_clients", f'reason="{reason}"') == 1
        assert metric_value(metrics, "pgmux_pins_total", f'reason="{reason}"') >= 1
        assert metric_value(metrics, "pgmux_server_connections", 'state="pinned"') == 1

        # The pool's other server keeps serving everyone else, many transactions each.
        others = [connect(proxy.endpoint, database) for _ in range(3)]
        try:
            for i in range(10):
                for other in others:
                    assert other.execute("SELECT %s::int", (i,)).fetchone()[0] == i
                    assert other.execute("SELECT pg_backend_pid()").fetchone()[0] != pinned_pid
        finally:
            for other in others:
                other.close()
        assert client_by_app(proxy, "pinned-one")["pinned"] is True

        pinned.execute(unpin_sql)
        # The pin ends when the server confirms the state is gone (a verification query may
        # still be running for a moment), then the server goes back to the pool.
        client = wait_until(lambda: (c := client_by_app(proxy, "pinned-one"))
                            and c["state"] == "idle" and c, 10, what="the server to be released")
        assert client["pins"] == [] and client["pinned"] is False and client["server_id"] is None
        stats = reason_stats(proxy, reason)
        assert stats["pins_ended"] == before["pins_ended"] + 1
        assert stats["clients_pinned_now"] == 0 and stats["seconds_pinned"] > 0
        assert get(proxy, "/api/v1/clients?pinned=true")["clients"] == []
        metrics = get(proxy, "/metrics")
        assert metric_value(metrics, "pgmux_unpins_total", f'reason="{reason}"') >= 1
        assert metric_value(metrics, "pgmux_pinned_clients", f'reason="{reason}"') == 0


def test_session_mode_pins_every_client(pgmux, database):
    proxy = pgmux(pool_size=POOL_SIZE, pool_mode="session", admin=True)
    with connect(proxy.endpoint, database, application_name="session-client") as conn:
        conn.execute("SELECT 1")
        client = client_by_app(proxy, "session-client")
        assert [p["reason"] for p in client["pins"]] == ["session_mode"]
        assert client["state"] == "active" and client["server_id"] is not None
        pool = pool_of(proxy, database)
        assert pool["pool_mode"] == "session" and pool["servers"]["pinned"] == 1


def test_clients_on_several_workers(pgmux, database):
    # Each worker owns its sessions: the API gathers them from all workers, and an action
    # reaches the session on whichever worker runs it.
    proxy = pgmux("--workers", "3", pool_size=POOL_SIZE, admin=True)
    conns = [connect(proxy.endpoint, database, application_name=f"w{i}") for i in range(12)]
    try:
        for conn in conns:
            conn.execute("SELECT 1")
        clients = get(proxy, "/api/v1/clients")
        assert clients["total"] == 12 and clients["truncated"] is False
        ids = [c["id"] for c in clients["clients"]]
        assert ids == sorted(ids) and len(set(ids)) == 12
        assert pool_of(proxy, database)["clients"]["idle"] == 12
        limited = get(proxy, "/api/v1/clients?limit=5")
        assert len(limited["clients"]) == 5 and limited["truncated"] is True
        for i in range(12):
            cid = client_by_app(proxy, f"w{i}")["id"]
            assert get(proxy, f"/api/v1/clients/{cid}")["application_name"] == f"w{i}"
            if i % 2:
                assert post(proxy, f"/api/v1/clients/{cid}/disconnect")[0] == 200
        wait_until(lambda: get(proxy, "/api/v1/clients")["total"] == 6, 10,
                   what="the disconnected clients to leave")
        for i, conn in enumerate(conns):
            if i % 2:
                with pytest.raises(psycopg.OperationalError):
                    conn.execute("SELECT 1")
            else:
                assert conn.execute("SELECT 1").fetchone()[0] == 1
    finally:
        for conn in conns:
            conn.close()


def test_unknown_client_is_404(pgmux):
    proxy = pgmux(pool_size=POOL_SIZE, admin=True)
    status, body, _ = http(proxy, "GET", "/api/v1/clients/999999")
    assert status == 404 and body["error"]["code"] == "not_found"


# Actions --------------------------------------------------------------------------------------

def test_disconnect_closes_the_client(pgmux, database):
    proxy = pgmux(pool_size=POOL_SIZE, admin=True)
    with connect(proxy.endpoint, database, application_name="to-close") as victim, \
            connect(proxy.endpoint, database, application_name="bystander") as bystander:
        victim.execute("SELECT 1")
        bystander.execute("SELECT 1")
        cid = client_by_app(proxy, "to-close")["id"]
        status, body = curl_json(proxy, f"/api/v1/clients/{cid}/disconnect", "-X", "POST")
        assert status == 200 and body == {"status": "disconnected", "client_id": cid}
        wait_until(lambda: client_by_app(proxy, "to-close") is None, 10,
                   what="the client to be gone")
        with pytest.raises(psycopg.OperationalError):
            victim.execute("SELECT 1")
        assert bystander.execute("SELECT 2").fetchone()[0] == 2
    status, body = curl_json(proxy, f"/api/v1/clients/{cid}/disconnect", "-X", "POST")
    assert status == 404 and body["error"]["code"] == "not_found"
    assert "admin" in proxy.log_text()


def test_pause_holds_new_queries_and_resume_releases_them(pgmux, database):
    proxy = pgmux(pool_size=POOL_SIZE, admin=True)
    with connect(proxy.endpoint, database) as conn:
        conn.execute("SELECT 1")
        status, body = curl_json(proxy, f"/api/v1/pools/{database}/postgres/pause", "-X", "POST")
        assert status == 200 and body["status"] == "paused"
        assert pool_of(proxy, database)["paused"] is True

        result = {}

        def run():
            start = time.monotonic()
            result["value"] = conn.execute("SELECT 42").fetchone()[0]
            result["seconds"] = time.monotonic() - start

        t = threading.Thread(target=run, daemon=True)
        t.start()
        wait_until(lambda: pool_of(proxy, database)["clients"]["waiting"] == 1, 10,
                   what="the query to wait")
        time.sleep(0.5)
        assert "value" not in result
        pool = pool_of(proxy, database)
        assert pool["wait"]["longest_seconds"] >= 0.5
        assert 'pgmux_client_connections{state="waiting"} 1' in get(proxy, "/metrics")

        status, body = curl_json(proxy, f"/api/v1/pools/{database}/postgres/resume", "-X", "POST")
        assert status == 200 and body["status"] == "resumed"
        t.join(10)
        assert result["value"] == 42 and result["seconds"] >= 0.5
        pool = pool_of(proxy, database)
        assert pool["paused"] is False and pool["clients"]["waiting"] == 0
        assert pool["wait"]["waits_total"] >= 1 and pool["wait"]["seconds_total"] >= 0.5
        # The borrow histogram saw that wait in a bucket above half a second.
        metrics = get(proxy, "/metrics")
        assert metric_value(metrics, "pgmux_borrow_wait_seconds_count") >= 2
        assert (metric_value(metrics, "pgmux_borrow_wait_seconds_count")
                > metric_value(metrics, "pgmux_borrow_wait_seconds_bucket", 'le="0.25"'))
    status, body = curl_json(proxy, "/api/v1/pools/no_such_db/postgres/pause", "-X", "POST")
    assert status == 404 and body["error"]["code"] == "not_found"


def test_reload_applies_the_file_or_reports_its_error(pgmux, database, tmp_path):
    config = tmp_path / "pgmux.toml"
    config.write_text('on_pin = "allow"\n')
    proxy = pgmux("--config", str(config), pool_size=POOL_SIZE, admin=True)
    with connect(proxy.endpoint, database) as conn:
        conn.execute("CREATE TEMP TABLE allowed (a int)")

    config.write_text('on_pin = "allow"\nno_such_key = 1\n')
    status, body = curl_json(proxy, "/api/v1/reload", "-X", "POST")
    assert status == 500 and body["error"]["code"] == "reload_failed"
    assert "no_such_key" in body["error"]["message"]

    config.write_text('on_pin = "reject"\n')
    status, body = curl_json(proxy, "/api/v1/reload", "-X", "POST")
    assert status == 200 and body["status"] == "reloaded"
    with connect(proxy.endpoint, database) as conn:
        with pytest.raises(psycopg.errors.FeatureNotSupported):
            conn.execute("CREATE TEMP TABLE refused (a int)")
    metrics = get(proxy, "/metrics")
    assert metric_value(metrics, "pgmux_pin_rejections_total", 'reason="temp_object"') == 1


# Prometheus -----------------------------------------------------------------------------------

def test_metrics_pass_promtool(pgmux, database, tmp_path):
    proxy = pgmux(pool_size=POOL_SIZE, admin=True)
    with connect(proxy.endpoint, database) as conn:
        conn.execute("CREATE TEMP TABLE m (a int)")
        for i in range(5):
            conn.execute("SELECT %s::int", (i,))
        status, text = curl(proxy, "/metrics")
    assert status == 200
    path = tmp_path / "metrics.txt"
    path.write_text(text)
    with open(path) as f:
        r = subprocess.run(["promtool", "check", "metrics"], stdin=f, capture_output=True,
                           text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    assert 'pgmux_pins_total{reason="temp_object"} 1' in text
    assert metric_value(text, "pgmux_queries_total") >= 6
    assert metric_value(text, "pgmux_transactions_total") >= 6
    assert metric_value(text, "pgmux_client_connections_received_total") >= 1
    assert metric_value(text, "pgmux_borrow_wait_seconds_count") >= 1
    assert metric_value(text, "pgmux_pool_size", f'database="{database}",user="postgres"') == 2
    for state in ("connecting", "idle", "active", "pinned", "resetting"):
        metric_value(text, "pgmux_server_connections", f'state="{state}"')


# Metrics fed by real traffic ------------------------------------------------------------------

LATENCIES = ("pgmux_query_duration_seconds", "pgmux_client_query_duration_seconds")


def test_query_latency_histograms_follow_traffic(pgmux, database):
    proxy = pgmux(pool_size=POOL_SIZE, admin=True)
    with connect(proxy.endpoint, database) as conn:
        conn.execute("SELECT 1")
        before = get(proxy, "/metrics")
        for i in range(20):
            assert conn.execute("SELECT %s::int", (i,)).fetchone()[0] == i
        conn.execute("SELECT pg_sleep(0.3)")
        after = get(proxy, "/metrics")
    growth = {name: grew(histogram(before, name), histogram(after, name)) for name in LATENCIES}
    for name, g in growth.items():
        assert g["count"] >= 21, (name, g)
        assert g["sum"] >= 0.3, (name, g)
        assert g["over_250ms"] >= 1, (name, g)  # the pg_sleep(0.3)
    # Each request's client-seen time contains its server time.
    assert (growth["pgmux_client_query_duration_seconds"]["sum"]
            >= growth["pgmux_query_duration_seconds"]["sum"])


def test_client_latency_includes_the_borrow_wait(pgmux, database):
    proxy = pgmux(pool_size=POOL_SIZE, admin=True)
    with connect(proxy.endpoint, database) as conn:
        conn.execute("SELECT 1")
        before = get(proxy, "/metrics")
        assert post(proxy, f"/api/v1/pools/{database}/postgres/pause")[0] == 200
        result = {}
        t = threading.Thread(target=lambda: result.update(v=conn.execute("SELECT 42").fetchone()[0]),
                             daemon=True)
        t.start()
        wait_until(lambda: pool_of(proxy, database)["wait"]["longest_seconds"] >= 0.6, 10,
                   what="the query to wait 0.6 s for a server")
        assert post(proxy, f"/api/v1/pools/{database}/postgres/resume")[0] == 200
        t.join(10)
        assert result == {"v": 42}
        after = get(proxy, "/metrics")
    client = grew(histogram(before, LATENCIES[1]), histogram(after, LATENCIES[1]))
    server = grew(histogram(before, LATENCIES[0]), histogram(after, LATENCIES[0]))
    assert client["count"] == server["count"] == 1, (client, server)
    assert client["over_500ms"] == 1 and client["sum"] >= 0.6
    assert server["over_500ms"] == 0, server  # the server answered SELECT 42 at once


def test_pipelined_requests_are_each_timed(pgmux, database):
    # Three simple queries and two extended-protocol batches in one packet: five
    # ReadyForQuery, each paired with its own request. All wait behind the pg_sleep.
    proxy = pgmux(pool_size=POOL_SIZE, admin=True)
    raw, _ = raw_login(proxy, database)
    with raw:
        before = get(proxy, "/metrics")
        batch = query_message("SELECT pg_sleep(0.3)") + query_message("SELECT 1")
        batch += query_message("SELECT 2; SELECT 3")
        for _ in range(2):
            batch += (message(b"P", b"\0SELECT 4\0\0\0") + message(b"B", b"\0\0" + b"\0" * 6)
                      + message(b"E", b"\0" + b"\0" * 4) + message(b"S"))
        raw.send(batch)
        for _ in range(5):
            assert raw.read_until_ready()[-1] == (b"Z", b"I")
        after = get(proxy, "/metrics")
        raw.send(message(b"X"))
    for name in LATENCIES:
        g = grew(histogram(before, name), histogram(after, name))
        assert g["count"] == 5 and g["over_250ms"] == 5, (name, g)


def test_disconnect_reasons_are_counted(pgmux, pg, database):
    proxy = pgmux(pool_size=POOL_SIZE, admin=True)
    before = settled_disconnects(proxy)
    assert set(before) == {"client_close", "client_eof", "cancel_request", "login_failed",
                           "login_timeout", "max_client_conn", "protocol_error", "server_lost",
                           "server_error", "admin_disconnect", "shutdown"}

    # Terminate, then a CancelRequest connection.
    conn = connect(proxy.endpoint, database)
    conn.execute("SELECT 1")
    conn.cancel()
    conn.close()
    assert wait_for_disconnects(proxy, before, {"client_close": 1, "cancel_request": 1})

    # A client process killed with SIGKILL: the socket closes without Terminate.
    proc = subprocess.Popen([os.path.join(PG_BIN, "psql"), "-X", "-h", proxy.endpoint.host,
                             "-p", str(proxy.endpoint.port), "-U", "postgres", "-d", database],
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=client_env(PGAPPNAME="kill-me"))
    try:
        proc.stdin.write(b"SELECT 1;\n")
        proc.stdin.flush()
        wait_until(lambda: client_by_app(proxy, "kill-me"), 10, what="psql to log in")
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(10)
    assert wait_for_disconnects(proxy, before, {"client_eof": 1})

    # The admin API's disconnect.
    with connect(proxy.endpoint, database, application_name="admin-victim") as victim:
        victim.execute("SELECT 1")
        cid = client_by_app(proxy, "admin-victim")["id"]
        assert post(proxy, f"/api/v1/clients/{cid}/disconnect")[0] == 200
        assert wait_for_disconnects(proxy, before, {"admin_disconnect": 1})

    # A protocol violation after login, and a startup pgmux refuses.
    raw, _ = raw_login(proxy, database)
    with raw:
        raw.send(message(b"y", b""))
        assert first_error(raw.read_until_ready())["C"] == "08P01"
    raw, messages = raw_login(proxy, database, replication="database")
    raw.close()
    assert first_error(messages)["C"] == "0A000"
    assert wait_for_disconnects(proxy, before, {"protocol_error": 1, "login_failed": 1})

    # The server connection dies under a client in a transaction.
    victim = connect(proxy.endpoint, database, autocommit=False)
    try:
        pid = victim.execute("SELECT pg_backend_pid()").fetchone()[0]
        assert pg.query("SELECT pg_terminate_backend(%s)", (pid,)) == [(True,)]
        assert wait_for_disconnects(proxy, before, {"server_lost": 1})
    finally:
        victim.close()

    growth = grew(before, disconnects(proxy))
    # A readiness probe of the harness still in the listen backlog at `before` may add to
    # client_eof (it connects and closes without a word); every other reason is exact.
    assert growth.pop("client_eof") >= 1
    assert growth == {**{r: 0 for r in growth}, "client_close": 1, "cancel_request": 1,
                      "admin_disconnect": 1, "protocol_error": 1, "login_failed": 1,
                      "server_lost": 1}, growth
    settled_disconnects(proxy)  # every connection received has ended or is still there
    assert metric_value(get(proxy, "/metrics"), "pgmux_client_login_failures_total") == 1


def test_login_timeout_and_max_client_conn_disconnects(pgmux, database):
    proxy = pgmux("--max-client-conn", "1", "--client-login-timeout", "0.5", pool_size=POOL_SIZE,
                  admin=True)
    before = settled_disconnects(proxy)
    with connect(proxy.endpoint, database) as conn:
        conn.execute("SELECT 1")
        raw, messages = raw_login(proxy, database)
        raw.close()
        assert first_error(messages)["C"] == "53300"
    wait_for_disconnects(proxy, before, {"max_client_conn": 1, "client_close": 1})
    with socket.create_connection((proxy.endpoint.host, proxy.endpoint.port), timeout=10) as s:
        assert s.recv(1) == b""  # says nothing, and is closed after 0.5 s
    growth = wait_for_disconnects(proxy, before, {"login_timeout": 1})
    assert growth["login_timeout"] == 1 and growth["login_failed"] == 0, growth
    text = get(proxy, "/metrics")
    assert metric_value(text, "pgmux_client_logins_total") == 1
    assert metric_value(text, "pgmux_client_login_failures_total") == 2


def test_server_connect_counters(pgmux, pg, database, tmp_path):
    dead = free_port()
    config = tmp_path / "pgmux.toml"
    config.write_text(f'[databases.broken]\nhost = "127.0.0.1"\nport = {dead}\n'
                      f'dbname = "{database}"\n')
    proxy = pgmux("--config", str(config), pool_size=POOL_SIZE, admin=True)
    text = get(proxy, "/metrics")
    for name in ("connect_attempts", "connects", "connect_errors"):
        assert metric_value(text, f"pgmux_server_{name}_total") == 0
    assert metric_value(text, "pgmux_client_logins_total") == 0
    received = metric_value(text, "pgmux_client_connections_received_total")

    with connect(proxy.endpoint, database) as a, connect(proxy.endpoint, database) as b:
        a.execute("BEGIN")
        b.execute("BEGIN")  # two transactions at once: two server connections
        a.execute("COMMIT")
        b.execute("COMMIT")
    for _ in range(2):
        with pytest.raises(psycopg.OperationalError):
            connect(proxy.endpoint, "broken")
    text = get(proxy, "/metrics")
    assert metric_value(text, "pgmux_server_connects_total") == 2
    assert metric_value(text, "pgmux_server_connect_errors_total") == 2
    assert metric_value(text, "pgmux_server_connect_attempts_total") == 4
    assert metric_value(text, "pgmux_client_logins_total") == 2
    assert metric_value(text, "pgmux_client_login_failures_total") == 2
    # At least: a readiness probe of the harness may be accepted late.
    assert metric_value(text, "pgmux_client_connections_received_total") >= received + 4


def test_servers_lists_idle_connections(pgmux, pg, database):
    proxy = pgmux(pool_size=POOL_SIZE, admin=True)
    with connect(proxy.endpoint, database, prepare_threshold=0) as a, \
            connect(proxy.endpoint, database) as b:
        a.execute("BEGIN")
        b.execute("BEGIN")
        a.execute("SELECT %s::int", (1,))  # named statements on a's server
        a.execute("COMMIT")
        b.execute("COMMIT")
    # Both clients are gone: their servers wait in the pool, listed one by one.
    servers = wait_until(lambda: (s := get(proxy, "/api/v1/servers")["servers"])
                         and len(s) == 2 and all(x["state"] == "idle" for x in s) and s, 10,
                         what="two idle servers")
    assert len({s["id"] for s in servers}) == 2
    for s in servers:
        assert s["database"] == database and s["user"] == "postgres"
        assert s["address"] == f"{pg.endpoint.host}:{pg.endpoint.port}"
        assert s["client_id"] is None and s["pinned_to"] is None
        assert s["age_seconds"] >= 0 and s["connected_since"].endswith("Z")
    counts = sorted(s["prepared_statements"] for s in servers)
    assert counts[0] == 0 and counts[1] >= 1, counts  # a's BEGIN, SELECT and COMMIT, named
    assert pool_of(proxy, database)["servers"]["idle"] == 2

    # One borrowed again: one active (with its client), one idle, still two in all.
    with connect(proxy.endpoint, database, autocommit=False,
                 application_name="borrower") as c:
        c.execute("SELECT 1")
        servers = get(proxy, "/api/v1/servers")["servers"]
        assert sorted(s["state"] for s in servers) == ["active", "idle"]
        active = next(s for s in servers if s["state"] == "active")
        assert active["client_id"] == client_by_app(proxy, "borrower")["id"]
        assert active["id"] in {s["id"] for s in servers}
        c.rollback()


def test_servers_show_connections_being_opened(pgmux, database, tmp_path):
    # A "server" that accepts TCP but never answers: the connection stays in login.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    config = tmp_path / "pgmux.toml"
    config.write_text(f'[databases.silent]\nhost = "127.0.0.1"\nport = {silent.getsockname()[1]}\n')
    proxy = pgmux("--config", str(config), "--server-connect-timeout", "30", pool_size=POOL_SIZE,
                  admin=True)
    errors = []

    def client():
        try:
            connect(proxy.endpoint, "silent", connect_timeout=30).close()
        except psycopg.OperationalError as e:
            errors.append(e)

    t = threading.Thread(target=client, daemon=True)
    t.start()
    try:
        servers = wait_until(lambda: get(proxy, "/api/v1/servers")["servers"], 10,
                             what="a server connection being opened")
        assert len(servers) == 1 and servers[0]["state"] == "connecting", servers
        assert servers[0]["database"] == "silent" and servers[0]["client_id"] is None
        text = get(proxy, "/metrics")
        assert metric_value(text, "pgmux_server_connections", 'state="connecting"') == 1
        assert metric_value(text, "pgmux_server_connect_attempts_total") == 1
    finally:
        silent.close()  # resets the queued connection: the login fails at once
    t.join(15)
    assert len(errors) == 1
    wait_until(lambda: get(proxy, "/api/v1/servers")["servers"] == [], 10,
               what="the failed connection to go")
    assert metric_value(get(proxy, "/metrics"), "pgmux_server_connect_errors_total") == 1


def rds_proxy_rows():
    """(RDS Proxy metric, pgmux metrics its row names) from docs/metrics.md."""
    with open(os.path.join(REPO_ROOT, "docs", "metrics.md")) as f:
        doc = f.read()
    table = doc[doc.index("## Coming from AWS RDS Proxy"):]
    rows = []
    for line in table.splitlines():
        if line.startswith("| `"):
            rds = line.split("`")[1]
            expression = line.split(" | ")[1]
            rows.append((rds, sorted(set(re.findall(r"pgmux_[a-z_]+", expression)))))
    return rows


def series_total(text, name):
    """The sum over all series of a metric (`name{...} v` and `name v` lines)."""
    total, found = 0.0, False
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            total += float(line.rsplit(" ", 1)[1])
            found = True
    assert found, f"{name} not in /metrics"
    return total


def test_every_rds_proxy_row_names_a_fed_metric(pgmux, database, tmp_path):
    # Traffic that exercises every row: queries, a borrow, a pinned client inside a
    # transaction, a failed server connection, a failed login and a disconnect.
    config = tmp_path / "pgmux.toml"
    config.write_text(f'[databases.broken]\nhost = "127.0.0.1"\nport = {free_port()}\n')
    proxy = pgmux("--config", str(config), pool_size=POOL_SIZE, admin=True)
    with pytest.raises(psycopg.OperationalError):
        connect(proxy.endpoint, "broken")
    with connect(proxy.endpoint, database) as conn:
        for i in range(5):
            conn.execute("SELECT %s::int", (i,))
    with connect(proxy.endpoint, database, autocommit=False) as pinned:
        pinned.execute("CREATE TEMP TABLE rds_rows (a int)")  # pinned, and in a transaction
        text = get(proxy, "/metrics")
        pinned.rollback()
    rows = rds_proxy_rows()
    assert len(rows) >= 23, rows
    for rds, names in rows:
        assert names, f"{rds}: no pgmux metric named"
        for name in names:
            if "_tls" in name:
                continue  # pgmux does not speak TLS yet: these stay 0
            assert series_total(text, name) > 0, f"{rds}: {name} is 0 after real traffic"


# Token and errors -----------------------------------------------------------------------------

def test_token_is_required_when_configured(pgmux):
    token = "s3cret-admin-token"
    proxy = pgmux("--admin-token", token, pool_size=POOL_SIZE, admin=True)
    for path in ("/api/v1/pools", "/metrics", "/api/v1/clients"):
        status, body = curl(proxy, path)
        assert status == 401, (path, body)
        assert json.loads(body)["error"]["code"] == "unauthorized"
        status, _ = curl(proxy, path, "-H", "Authorization: Bearer wrong")
        assert status == 401
        status, _ = curl(proxy, path, "-H", f"Authorization: Bearer {token}")
        assert status == 200
    r = subprocess.run(["curl", "-sS", "-D", "-", "-o", "/dev/null",
                        f"http://{proxy.admin_endpoint}/api/v1/pools"],
                       capture_output=True, text=True, timeout=20, check=True)
    assert "WWW-Authenticate: Bearer" in r.stdout
    status, _ = curl(proxy, "/api/v1/reload", "-X", "POST")
    assert status == 401
    # Probes stay open.
    assert curl(proxy, "/healthz")[0] == 200
    assert curl(proxy, "/readyz")[0] == 200
    assert http(proxy, "GET", "/api/v1/pools", token=token)[0] == 200


def test_bad_requests_get_json_errors(pgmux, tmp_path):
    proxy = pgmux(pool_size=POOL_SIZE, admin=True)
    status, body = curl_json(proxy, "/api/v1/nothing-here")
    assert status == 404 and body["error"]["code"] == "not_found"
    status, body = curl_json(proxy, "/api/v1/pools", "-X", "DELETE")
    assert status == 405 and body["error"]["code"] == "method_not_allowed"
    status, body, headers = http(proxy, "GET", "/api/v1/reload")
    assert status == 405 and "POST" in headers["Allow"]
    status, body = curl_json(proxy, "/api/v1/clients/abc")
    assert status == 400 and body["error"]["code"] == "bad_request"
    big = tmp_path / "big.json"
    big.write_bytes(b"x" * (100 * 1024))
    status, body = curl_json(proxy, "/api/v1/reload", "-X", "POST", "--data-binary", f"@{big}")
    assert status == 413 and body["error"]["code"] == "payload_too_large"


def test_admin_listen_refuses_non_loopback_without_token(pgmux):
    # pgmux may accept on its client port for a moment before it refuses the admin setting and
    # exits, so waiting for "ready" would race with the exit: wait for the exit itself.
    proxy = pgmux("--admin-listen", "0.0.0.0:0", pool_size=POOL_SIZE, wait=False)
    proxy.expect_exit = True
    rc = proxy.wait_exit(30)
    assert rc is not None and rc != 0, rc
    assert "token" in proxy.log_text()
