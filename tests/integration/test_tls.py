"""TLS on both legs of pgmux (issue 3).

Certificates are made at test time with the openssl CLI: a CA, a certificate
for pgmux (SAN localhost and 127.0.0.1), a second one for the reload test, a
certificate for PostgreSQL (SAN localhost only, so verify-full to 127.0.0.1
is a name mismatch) and an unrelated CA. A second PostgreSQL cluster of this
module accepts TLS only (hostssl; hostnossl reject) and asks pgmux's SCRAM
user for scram-sha-256.
"""
import asyncio
import os
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import threading
import time
import urllib.request

import asyncpg
import psycopg
import pytest

from harness.clients import client_env, connect, parse_pgbench, pgbench, psql, run_client
from harness.net import Endpoint, wait_until
from harness.postgres import PG_BIN, SCRAM_PASSWORD, SCRAM_USER, PostgresServer
from harness.proxy import target
from harness.users import give_to_server_user
from harness.wire import RawConnection, cancel_packet, first_error, query_message

pytestmark = [
    pytest.mark.timeout(240),
    pytest.mark.skipif(target() != "pgmux", reason="pgmux's own TLS flags"),
]

TLS_HBA = f"""\
local all all trust
hostnossl all all 127.0.0.1/32 reject
hostssl all {SCRAM_USER} 127.0.0.1/32 scram-sha-256
hostssl all all 127.0.0.1/32 trust
"""

LOGS: list[str] = []


# -- certificates ---------------------------------------------------------------

def openssl(*args, cwd):
    r = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, f"openssl {' '.join(args)}: {r.stderr}"


class Pki:
    def __init__(self, base):
        self.dir = base
        self._ca("ca", "pgmux test CA")
        self._ca("other-ca", "some other CA")
        self.pgmux = self._leaf("pgmux", "pgmux", "DNS:localhost,IP:127.0.0.1", "0x1001")
        self.pgmux_new = self._leaf("pgmux-new", "pgmux renewed", "DNS:localhost,IP:127.0.0.1",
                                    "0x2002")
        self.postgres = self._leaf("postgres", "localhost", "DNS:localhost", "0x3003")

    def path(self, name):
        return os.path.join(self.dir, name)

    @property
    def ca(self):
        return self.path("ca.crt")

    @property
    def other_ca(self):
        return self.path("other-ca.crt")

    def _ca(self, name, cn):
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.crt", "-days", "2",
                "-subj", f"/CN={cn}", "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=self.dir)

    def _leaf(self, name, cn, san, serial):
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={cn}",
                cwd=self.dir)
        with open(self.path(f"{name}.ext"), "w") as f:
            f.write(f"subjectAltName={san}\nbasicConstraints=CA:FALSE\n")
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                "-set_serial", serial, "-days", "2", "-sha256", "-extfile", f"{name}.ext",
                "-out", f"{name}.crt", cwd=self.dir)
        return self.path(f"{name}.crt"), self.path(f"{name}.key")


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return Pki(str(tmp_path_factory.mktemp("pki")))


@pytest.fixture(scope="module")
def tls_pg(pki):
    """A cluster that accepts TLS connections only."""
    server = PostgresServer(settings={"ssl": "on", "ssl_cert_file": "'server.crt'",
                                      "ssl_key_file": "'server.key'", "log_connections": "on"})
    os.chmod(server.base_dir, 0o755)
    os.makedirs(server.data_dir, exist_ok=True)
    give_to_server_user(server.data_dir)
    os.chmod(server.data_dir, 0o700)
    server._initdb()  # the files go into the data directory, which initdb wants empty
    for src, name in ((pki.postgres[0], "server.crt"), (pki.postgres[1], "server.key")):
        dest = os.path.join(server.data_dir, name)
        shutil.copy(src, dest)
        give_to_server_user(dest)
        os.chmod(dest, 0o600)
    server.start()
    with open(os.path.join(server.data_dir, "pg_hba.conf"), "w") as f:
        f.write(TLS_HBA)
    server.query("SELECT pg_reload_conf()")  # libpq's sslmode=prefer uses TLS
    time.sleep(0.5)
    yield server
    server.cleanup()


def client_tls_flags(pki, mode="require", cert=None):
    crt, key = cert or pki.pgmux
    return ["--client-tls-sslmode", mode, "--client-tls-cert-file", crt,
            "--client-tls-key-file", key]


def ssl_in_use(conn) -> bool:
    return bool(conn.pgconn.ssl_in_use)


def logged(proc):
    LOGS.append(proc.log_text())
    return proc


# -- TLS towards clients ----------------------------------------------------------

def test_psql_require_and_verify_full(pgmux, pki, database):
    proxy = logged(pgmux(*client_tls_flags(pki)))
    ep = proxy.endpoint
    for conninfo in (f"dbname={database} sslmode=require",
                     f"dbname={database} sslmode=verify-full sslrootcert={pki.ca} host=localhost",
                     f"dbname={database} sslmode=verify-full sslrootcert={pki.ca}"):
        out = psql(ep, "-c", "\\conninfo", "-c", "SELECT 40 + 2", dbname=conninfo).stdout
        assert "SSL connection (protocol: TLSv1.3" in out, out
        assert "42" in out
    # verify-full against the wrong CA fails in libpq, before any query.
    r = psql(ep, "-c", "SELECT 1", check=False,
             dbname=f"dbname={database} sslmode=verify-full sslrootcert={pki.other_ca}")
    assert r.returncode != 0 and "certificate verify failed" in r.stderr, r.stderr


def test_psycopg_queries_copy_and_pipeline(pgmux, pki, database):
    proxy = logged(pgmux(*client_tls_flags(pki), pool_size=2))
    with connect(proxy.endpoint, database, sslmode="verify-full", sslrootcert=pki.ca) as conn:
        assert ssl_in_use(conn)
        conn.execute("CREATE TABLE t (id int, payload text)")
        rows = [(i, "row %d " % i + "y" * (i % 300)) for i in range(20000)]
        with conn.cursor() as cur:
            with cur.copy("COPY t FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            assert cur.execute("SELECT count(*), sum(length(payload)) FROM t").fetchone() == (
                len(rows), sum(len(p) for _, p in rows))
            out = []
            with cur.copy("COPY (SELECT id, payload FROM t ORDER BY id) TO STDOUT") as copy:
                for row in copy.rows():
                    out.append((int(row[0]), row[1]))
            assert out == rows
            # A result much larger than a TLS record and the socket buffers.
            big = cur.execute("SELECT string_agg(payload, '') FROM t").fetchone()[0]
            assert len(big) == sum(len(p) for _, p in rows)
        # Many pipelined extended-protocol queries: several messages per record
        # and many records per read, in both directions.
        with conn.pipeline():
            cursors = [conn.execute("SELECT %s::int * 2, %s::text", (i, "v" * (i % 50)))
                       for i in range(2000)]
        assert [c.fetchone() for c in cursors] == [(i * 2, "v" * (i % 50)) for i in range(2000)]


def test_asyncpg_with_ssl(pgmux, pki, database):
    proxy = logged(pgmux(*client_tls_flags(pki)))

    async def run():
        ctx = ssl.create_default_context(cafile=pki.ca)
        conn = await asyncpg.connect(host="localhost", port=proxy.endpoint.port, user="postgres",
                                     database=database, ssl=ctx, statement_cache_size=0)
        try:
            assert conn.get_server_pid() != 0
            assert await conn.fetchval("SELECT $1::int + 1", 41) == 42
            rows = await conn.fetch("SELECT g, repeat('z', g) FROM generate_series(1, 3000) g")
            assert len(rows) == 3000 and rows[-1][1] == "z" * 3000
            await conn.executemany("SELECT $1::int", [(i,) for i in range(500)])
        finally:
            await conn.close()
    asyncio.run(run())


def test_require_refuses_plaintext_clients(pgmux, pki, database):
    proxy = logged(pgmux(*client_tls_flags(pki, "require")))
    with pytest.raises(psycopg.OperationalError) as e:
        connect(proxy.endpoint, database, sslmode="disable")
    text = str(e.value)
    assert "TLS is required" in text and "no encryption" in text, text
    with RawConnection(proxy.endpoint) as raw:  # libpq does not show the SQLSTATE
        raw.startup(user="postgres", dbname=database)
        error = first_error(raw.read_until_ready())
    assert error["S"] == "FATAL" and error["C"] == "28000", error
    r = psql(proxy.endpoint, "-c", "SELECT 1", check=False,
             dbname=f"dbname={database} sslmode=disable")
    assert r.returncode != 0 and "FATAL" in r.stderr and "TLS is required" in r.stderr, r.stderr
    with connect(proxy.endpoint, database, sslmode="require") as conn:
        assert ssl_in_use(conn)


@pytest.mark.parametrize("mode", ["prefer", "allow"])
def test_prefer_and_allow_accept_both(pgmux, pki, database, mode):
    proxy = logged(pgmux(*client_tls_flags(pki, mode)))
    with connect(proxy.endpoint, database, sslmode="disable") as plain, \
            connect(proxy.endpoint, database, sslmode="require") as tls:
        assert not ssl_in_use(plain) and ssl_in_use(tls)
        assert plain.execute("SELECT 1").fetchone() == (1,)
        assert tls.execute("SELECT 2").fetchone() == (2,)


def test_disable_answers_n(pgmux, pki, database):
    proxy = logged(pgmux())
    with connect(proxy.endpoint, database, sslmode="prefer") as conn:
        assert not ssl_in_use(conn)
    with pytest.raises(psycopg.OperationalError) as e:
        connect(proxy.endpoint, database, sslmode="require")
    assert "does not support SSL" in str(e.value)


def test_pgbench_extended_over_tls(pgmux, pg, pki, database):
    pgbench(pg.endpoint, "-i", "-s", "1", "-q", dbname=database)
    proxy = logged(pgmux(*client_tls_flags(pki), pool_size=3))
    argv = [os.path.join(PG_BIN, "pgbench"), "-h", "localhost", "-p", str(proxy.endpoint.port),
            "-U", "postgres", "-M", "extended", "-c", "8", "-j", "2", "-T", "4", database]
    r = run_client(argv, timeout=120, env=client_env(PGSSLMODE="verify-full",
                                                     PGSSLROOTCERT=pki.ca))
    stats = parse_pgbench(r.stdout)
    assert stats["processed"] and stats["processed"] > 50, r.stdout
    assert not stats["failed"], r.stdout
    # Every transaction's rows arrived: pgbench checks each statement's result.
    assert pg.query("SELECT count(*) FROM pgbench_history", dbname=database)[0][0] == \
        stats["processed"]


def test_metrics_count_tls_clients(pgmux, pki, database):
    proxy = logged(pgmux(*client_tls_flags(pki, "prefer"), admin=True))
    with connect(proxy.endpoint, database, sslmode="require"), \
            connect(proxy.endpoint, database, sslmode="require"), \
            connect(proxy.endpoint, database, sslmode="disable"):
        url = f"http://{proxy.admin_endpoint}/metrics"
        text = urllib.request.urlopen(url, timeout=10).read().decode()
    assert "\npgmux_client_connections_tls 2\n" in text, text[:3000]


# -- TLS towards servers ----------------------------------------------------------

def server_flags(tls_pg, pki, mode="verify-full", host="localhost", ca=None):
    return (["--server-tls-sslmode", mode] +
            (["--server-tls-ca-file", ca or pki.ca] if mode.startswith("verify") or ca else []),
            Endpoint(host, tls_pg.port))


def test_verify_full_to_tls_only_server(pgmux, tls_pg, pki):
    flags, upstream = server_flags(tls_pg, pki)
    proxy = logged(pgmux(*flags, "--log-level", "debug", upstream=upstream, admin=True))
    with connect(proxy.endpoint, "postgres") as conn:
        row = conn.execute("SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()")\
            .fetchone()
        assert row[0] is True and row[1].startswith("TLSv1."), row
        text = urllib.request.urlopen(f"http://{proxy.admin_endpoint}/metrics",
                                      timeout=10).read().decode()
        assert "\npgmux_server_connections_tls 1\n" in text
    assert " over TLS" in proxy.log_text()


def test_plaintext_to_tls_only_server_is_refused_by_postgres(pgmux, tls_pg):
    proxy = logged(pgmux(upstream=Endpoint("127.0.0.1", tls_pg.port)))
    with pytest.raises(psycopg.OperationalError) as e:
        connect(proxy.endpoint, "postgres")
    assert "no encryption" in str(e.value), str(e.value)


def test_wrong_ca_fails_with_a_clear_error(pgmux, tls_pg, pki):
    flags, upstream = server_flags(tls_pg, pki, "verify-ca", ca=pki.other_ca)
    proxy = logged(pgmux(*flags, upstream=upstream))
    started = time.monotonic()
    with pytest.raises(psycopg.OperationalError) as e:
        connect(proxy.endpoint, "postgres")
    assert time.monotonic() - started < 10
    assert "certificate verify failed" in str(e.value), str(e.value)


def test_verify_full_host_name_mismatch(pgmux, tls_pg, pki):
    # PostgreSQL's certificate names localhost only, not 127.0.0.1.
    flags, upstream = server_flags(tls_pg, pki, "verify-full", host="127.0.0.1")
    proxy = logged(pgmux(*flags, upstream=upstream))
    with pytest.raises(psycopg.OperationalError) as e:
        connect(proxy.endpoint, "postgres")
    assert "IP address mismatch" in str(e.value), str(e.value)
    # verify-ca checks the chain only: the same address works.
    flags, upstream = server_flags(tls_pg, pki, "verify-ca", host="127.0.0.1")
    proxy = logged(pgmux(*flags, upstream=upstream))
    with connect(proxy.endpoint, "postgres") as conn:
        assert conn.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")\
            .fetchone() == (True,)


def test_require_without_ca_and_prefer_fallback(pgmux, tls_pg, pg, pki, database):
    proxy = logged(pgmux("--server-tls-sslmode", "require",
                         upstream=Endpoint("127.0.0.1", tls_pg.port)))
    with connect(proxy.endpoint, "postgres") as conn:
        assert conn.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")\
            .fetchone() == (True,)
    # prefer: TLS when the server has it, plaintext when it answers 'N'.
    proxy = logged(pgmux("--server-tls-sslmode", "prefer", upstream=Endpoint("127.0.0.1",
                                                                              tls_pg.port)))
    with connect(proxy.endpoint, "postgres") as conn:
        assert conn.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")\
            .fetchone() == (True,)
    proxy = logged(pgmux("--server-tls-sslmode", "prefer"))  # the module's plain `pg`
    with connect(proxy.endpoint, database) as conn:
        assert conn.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")\
            .fetchone() == (False,)
    # require against a server without TLS is an error, not a silent downgrade.
    proxy = logged(pgmux("--server-tls-sslmode", "require"))
    with pytest.raises(psycopg.OperationalError) as e:
        connect(proxy.endpoint, database)
    assert "does not support TLS" in str(e.value), str(e.value)


def write_auth_file(tmp_path, lines):
    path = tmp_path / "userlist.txt"
    path.write_text("".join(f'"{u}" "{s}"\n' for u, s in lines))
    return str(path)


def test_scram_channel_binding_on_both_legs(pgmux, tls_pg, pki, tmp_path):
    # pgmux knows the password (auth file), so it logs in to the server with
    # SCRAM-SHA-256-PLUS; the client demands channel binding from pgmux.
    auth_file = write_auth_file(tmp_path, [(SCRAM_USER, SCRAM_PASSWORD)])
    flags, upstream = server_flags(tls_pg, pki)
    proxy = logged(pgmux(*flags, *client_tls_flags(pki), "--auth-type", "scram-sha-256",
                         "--auth-file", auth_file, "--log-level", "debug", upstream=upstream))
    with connect(proxy.endpoint, "postgres", user=SCRAM_USER, password=SCRAM_PASSWORD,
                 sslmode="verify-full", sslrootcert=pki.ca, channel_binding="require") as conn:
        assert ssl_in_use(conn)
        assert conn.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")\
            .fetchone() == (True,)
        assert conn.execute("SELECT current_user").fetchone() == (SCRAM_USER,)
    log = proxy.log_text()
    assert "with SCRAM-SHA-256-PLUS" in log, log[-3000:]
    assert "channel binding" in log
    # Without TLS towards the client there is nothing to bind to: libpq refuses.
    with pytest.raises(psycopg.OperationalError):
        connect(proxy.endpoint, "postgres", user=SCRAM_USER, password=SCRAM_PASSWORD,
                sslmode="disable", channel_binding="require")


def test_scram_pass_through_over_tls(pgmux, tls_pg, pki, tmp_path):
    verifier = tls_pg.query("SELECT rolpassword FROM pg_authid WHERE rolname = %s",
                            (SCRAM_USER,))[0][0]
    assert verifier.startswith("SCRAM-SHA-256$")
    auth_file = write_auth_file(tmp_path, [(SCRAM_USER, verifier)])
    flags, upstream = server_flags(tls_pg, pki)
    proxy = logged(pgmux(*flags, *client_tls_flags(pki), "--auth-type", "scram-sha-256",
                         "--auth-file", auth_file, "--log-level", "debug", upstream=upstream,
                         pool_size=2))
    for binding in ("require", "disable"):
        with connect(proxy.endpoint, "postgres", user=SCRAM_USER, password=SCRAM_PASSWORD,
                     sslmode="require", channel_binding=binding) as conn:
            assert conn.execute("SELECT current_user, ssl FROM pg_stat_ssl "
                                "WHERE pid = pg_backend_pid()").fetchone() == (SCRAM_USER, True)
    log = proxy.log_text()
    assert "SCRAM pass-through keys" in log
    assert "with SCRAM-SHA-256-PLUS" in log
    with pytest.raises(psycopg.OperationalError) as e:
        connect(proxy.endpoint, "postgres", user=SCRAM_USER, password="wrong-password",
                sslmode="require")
    assert "password authentication failed" in str(e.value)


# -- reload and cancel -------------------------------------------------------------

def peer_certificate_serial(endpoint: Endpoint, ca: str) -> str:
    """Connects like libpq (SSLRequest, then TLS) and returns the serial number."""
    with socket.create_connection((endpoint.host, endpoint.port), timeout=10) as raw:
        raw.sendall(struct.pack("!II", 8, 80877103))
        assert raw.recv(1) == b"S"
        ctx = ssl.create_default_context(cafile=ca)
        with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
            return tls.getpeercert()["serialNumber"]


def test_sighup_loads_a_new_certificate(pgmux, pki, database, tmp_path):
    crt, key = str(tmp_path / "live.crt"), str(tmp_path / "live.key")
    shutil.copy(pki.pgmux[0], crt)
    shutil.copy(pki.pgmux[1], key)
    proxy = logged(pgmux(*client_tls_flags(pki, cert=(crt, key))))
    assert peer_certificate_serial(proxy.endpoint, pki.ca) == "1001"
    with connect(proxy.endpoint, database, sslmode="require") as old:
        assert old.execute("SELECT 1").fetchone() == (1,)
        shutil.copy(pki.pgmux_new[0], crt)
        shutil.copy(pki.pgmux_new[1], key)
        proxy.signal(signal.SIGHUP)
        wait_until(lambda: proxy.log_text().count("configuration reloaded") >= 1, 10,
                   what="the reload")
        assert "serial 2002" in proxy.log_text()
        assert peer_certificate_serial(proxy.endpoint, pki.ca) == "2002"
        # The client that connected before keeps its TLS session.
        assert old.execute("SELECT repeat('a', 100000)").fetchone()[0] == "a" * 100000
        with connect(proxy.endpoint, database, sslmode="verify-full", sslrootcert=pki.ca) as new:
            assert new.execute("SELECT 2").fetchone() == (2,)
        # A broken key file is refused and the running certificate stays.
        with open(key, "w") as f:
            f.write("not a key\n")
        proxy.signal(signal.SIGHUP)
        wait_until(lambda: "reload failed" in proxy.log_text(), 10, what="the refused reload")
        assert "client_tls_key_file" in proxy.log_text()
        assert peer_certificate_serial(proxy.endpoint, pki.ca) == "2002"
        assert old.execute("SELECT 3").fetchone() == (3,)


class Sleeper:
    def __init__(self, conn):
        self.error = None
        self.thread = threading.Thread(target=self._run, args=(conn,))
        self.thread.start()

    def _run(self, conn):
        try:
            conn.execute("SELECT pg_sleep(30)")
        except Exception as e:  # noqa: BLE001 - the test inspects it
            self.error = e


def test_cancel_through_tls_on_both_legs(pgmux, tls_pg, pki):
    flags, upstream = server_flags(tls_pg, pki)
    proxy = logged(pgmux(*flags, *client_tls_flags(pki), "--log-level", "debug",
                         upstream=upstream))
    with connect(proxy.endpoint, "postgres", sslmode="require") as conn:
        sleeper = Sleeper(conn)
        wait_until(lambda: tls_pg.query(
            "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(30)' "
            "AND state = 'active'")[0][0] == 1, 10, what="the sleep to start")
        started = time.monotonic()
        conn.cancel()  # libpq sends its CancelRequest over a new plaintext connection
        sleeper.thread.join(20)
        assert not sleeper.thread.is_alive()
        assert time.monotonic() - started < 10
        assert isinstance(sleeper.error, psycopg.errors.QueryCanceled), sleeper.error
        assert conn.execute("SELECT 1").fetchone() == (1,)
    assert "forwarding a cancel request to localhost:%d over TLS" % tls_pg.port in \
        proxy.log_text()
    # A client that speaks TLS for its cancel request too (PostgreSQL accepts it).
    with tls_raw_connection(proxy.endpoint, pki.ca) as raw:
        raw.startup(user="postgres", dbname="postgres")
        pid, secret = raw.backend_key(raw.read_until_ready())
        raw.send(query_message("SELECT pg_sleep(30)"))
        wait_until(lambda: tls_pg.query(
            "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(30)' "
            "AND state = 'active'")[0][0] == 1, 10, what="the sleep to start")
        with tls_raw_connection(proxy.endpoint, pki.ca) as canceller:
            canceller.send(cancel_packet(pid, secret))
            assert canceller.read_until_closed() == b""
        error = first_error(raw.read_until_ready())
        assert error and error["C"] == "57014", error


def tls_raw_connection(endpoint, ca) -> RawConnection:
    """A raw protocol connection that negotiated TLS like libpq does."""
    raw = RawConnection(endpoint)
    raw.send(struct.pack("!II", 8, 80877103))
    assert raw.recv_byte() == b"S"
    raw.sock = ssl.create_default_context(cafile=ca).wrap_socket(raw.sock,
                                                                 server_hostname="localhost")
    return raw


def test_logs_hold_no_secrets():
    for text in LOGS:
        assert SCRAM_PASSWORD not in text
        assert "BEGIN PRIVATE KEY" not in text
