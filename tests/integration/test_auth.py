"""Authentication through pgmux (issue 3, without TLS).

Clients (psql, psycopg, asyncpg, and a raw SCRAM client written here) log in
to pgmux with cleartext, md5 and scram-sha-256 against an auth file or
auth_query; pgmux logs in to a real PostgreSQL whose pg_hba.conf demands
scram-sha-256 or md5 for these roles, with a password, an MD5 hash or SCRAM
pass-through keys. The last test greps every pgmux log of this module for
the passwords, hashes and SCRAM keys used.
"""
import asyncio
import base64
import hashlib
import hmac
import os
import signal
import struct
import subprocess
import time

import asyncpg
import psycopg
import pytest
from psycopg import sql

from harness.clients import connect, psql, psql_value
from harness.postgres import MD5_PASSWORD, MD5_USER, SCRAM_PASSWORD, SCRAM_USER
from harness.proxy import target
from harness.wire import RawConnection, first_error, message

pytestmark = [
    pytest.mark.timeout(180),
    pytest.mark.skipif(target() != "pgmux", reason="pgmux's own auth_file/auth_query flags"),
]

# Roles this module creates (the harness creates SCRAM_USER and MD5_USER).
AUTH_USER, AUTH_PASSWORD = "pgmux_lookup", "lookup-Pw-7f3a91"
AQ_SCRAM_USER, AQ_SCRAM_PASSWORD = "pgmux_aq_scram", "aq-scram-Pw-5c2e"
AQ_MD5_USER, AQ_MD5_PASSWORD = "pgmux_aq_md5", "aq-md5-Pw-91b0"
EVIL_PASSWORD = "evil-Pw-0d6b44"
WRONG_PASSWORD = "wrong-Pw-33aa17"
RELOAD_GARBAGE = "garbage-Pw-e1c9"
NOBODY = "pgmux_nobody"

HBA_LINES = [
    f"host all {AUTH_USER},{AQ_SCRAM_USER} 127.0.0.1/32 scram-sha-256",
    f"host all {AQ_MD5_USER} 127.0.0.1/32 md5",
]

# Every pgmux log of this module, for test_logs_hold_no_secrets (runs last).
LOGS: list[str] = []
# Every secret the module uses: passwords here, hashes/verifiers from pg_authid.
SECRETS: set[str] = {SCRAM_PASSWORD, MD5_PASSWORD, AUTH_PASSWORD, AQ_SCRAM_PASSWORD,
                     AQ_MD5_PASSWORD, EVIL_PASSWORD, WRONG_PASSWORD, RELOAD_GARBAGE}


# -- fixtures -----------------------------------------------------------------

@pytest.fixture(scope="module")
def roles(pg):
    """Roles for auth_query and pg_hba lines that make the server demand their
    passwords; removed again afterwards (the cluster is shared)."""
    with pg.connect() as conn:
        for role, password, method in ((AUTH_USER, AUTH_PASSWORD, "scram-sha-256"),
                                       (AQ_SCRAM_USER, AQ_SCRAM_PASSWORD, "scram-sha-256"),
                                       (AQ_MD5_USER, AQ_MD5_PASSWORD, "md5")):
            conn.execute(f"SET password_encryption = '{method}'")
            conn.execute(f"DROP ROLE IF EXISTS {role}")
            conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
        stored = dict(conn.execute(
            "SELECT rolname, rolpassword FROM pg_authid WHERE rolname = ANY(%s)",
            ([SCRAM_USER, MD5_USER, AUTH_USER, AQ_SCRAM_USER, AQ_MD5_USER],)).fetchall())
    for secret in stored.values():
        SECRETS.add(secret)
        if secret.startswith("SCRAM-SHA-256$"):
            stored_key, server_key = secret.split("$")[2].split(":")
            SECRETS.update({stored_key, server_key})
    hba_path = os.path.join(pg.data_dir, "pg_hba.conf")
    with open(hba_path) as f:
        original = f.read()
    lines = original.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("host all all"))
    with open(hba_path, "w") as f:
        f.write("\n".join(lines[:at] + HBA_LINES + lines[at:]) + "\n")
    pg.query("SELECT pg_reload_conf()")
    time.sleep(0.2)
    yield stored
    with open(hba_path, "w") as f:
        f.write(original)
    pg.query("SELECT pg_reload_conf()")
    with pg.connect() as conn:
        for role in (AUTH_USER, AQ_SCRAM_USER, AQ_MD5_USER):
            conn.execute(f"DROP ROLE IF EXISTS {role}")


@pytest.fixture
def start(pgmux, tmp_path, roles):
    """start(*flags, users={name: secret}) -> pgmux with an auth file holding
    `users`, logging at debug level (so the secret grep sees everything)."""
    def run(*flags, users=None, **kwargs):
        args = ["--log-level", "debug", *flags]
        if users is not None:
            path = tmp_path / "userlist.txt"
            write_userlist(path, users)
            args += ["--auth-file", str(path)]
        proc = pgmux(*args, **kwargs)
        LOGS.append(proc.log_path)
        return proc
    return run


@pytest.fixture
def aq_database(pg, database):
    """A database in which AUTH_USER may read pg_shadow (catalog privileges
    are per database). PgBouncer's documented alternative is a SECURITY
    DEFINER function; a grant on the view is the simplest setup."""
    pg.query(f"GRANT SELECT ON pg_catalog.pg_shadow TO {AUTH_USER}", dbname=database)
    yield database
    pg.query(f"REVOKE SELECT ON pg_catalog.pg_shadow FROM {AUTH_USER}", dbname=database)


def write_userlist(path, users: dict) -> None:
    with open(path, "w") as f:
        f.write("; written by test_auth.py\n")
        for user, secret in users.items():
            quoted_user = user.replace('"', '""')
            quoted_secret = secret.replace('"', '""')
            f.write(f'"{quoted_user}" "{quoted_secret}"\n')


# -- clients -----------------------------------------------------------------

def login_psql(proxy, user, password, dbname, **kwargs) -> str:
    return psql_value(proxy.endpoint, "SELECT current_user", user=user, password=password,
                      dbname=dbname, **kwargs)


def login_psycopg(proxy, user, password, dbname, **kwargs) -> str:
    with connect(proxy.endpoint, dbname, user, password=password, **kwargs) as conn:
        return conn.execute("SELECT current_user").fetchone()[0]


def login_asyncpg(proxy, user, password, dbname) -> str:
    async def scenario():
        conn = await asyncpg.connect(host=proxy.endpoint.host, port=proxy.endpoint.port,
                                     user=user, password=password, database=dbname, timeout=10,
                                     statement_cache_size=0)
        try:
            return await conn.fetchval("SELECT current_user")
        finally:
            await conn.close()
    return asyncio.run(scenario())


LOGINS = {"psql": login_psql, "psycopg": login_psycopg, "asyncpg": login_asyncpg}


def asyncpg_failure(proxy, user, password, dbname) -> asyncpg.PostgresError:
    with pytest.raises(asyncpg.PostgresError) as info:
        login_asyncpg(proxy, user, password, dbname)
    return info.value


def wait_for_log(proxy, text, timeout=10):
    deadline = time.monotonic() + timeout
    while text not in proxy.log_text():
        assert time.monotonic() < deadline, f"pgmux never logged {text!r}"
        time.sleep(0.05)


def auth_request_code(payload: bytes) -> int:
    return struct.unpack("!I", payload[:4])[0]


def scram_attempt(endpoint, user, dbname, password) -> dict:
    """A whole SCRAM-SHA-256 login written out by hand (RFC 5802), so the test
    sees what drivers hide: the mechanisms, the salt and iteration count the
    server presents, and the exact ErrorResponse fields."""
    with RawConnection(endpoint) as c:
        c.startup(user=user, dbname=dbname)
        kind, payload = c.recv_message()
        assert kind == b"R" and auth_request_code(payload) == 10, (kind, payload[:4])
        mechanisms = [m.decode() for m in payload[4:].split(b"\0") if m]
        nonce = base64.b64encode(os.urandom(18)).decode()
        first_bare = f"n=,r={nonce}"
        first = ("n,," + first_bare).encode()
        c.send(message(b"p", b"SCRAM-SHA-256\0" + struct.pack("!i", len(first)) + first))
        kind, payload = c.recv_message()
        assert kind == b"R" and auth_request_code(payload) == 11, (kind, payload[:4])
        server_first = payload[4:].decode()
        attrs = dict(part.split("=", 1) for part in server_first.split(","))
        assert attrs["r"].startswith(nonce)
        salt, iterations = base64.b64decode(attrs["s"]), int(attrs["i"])
        salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
        client_key = hmac.new(salted, b"Client Key", "sha256").digest()
        final_bare = f"c=biws,r={attrs['r']}"
        auth_message = f"{first_bare},{server_first},{final_bare}".encode()
        signature = hmac.new(hashlib.sha256(client_key).digest(), auth_message, "sha256").digest()
        proof = bytes(a ^ b for a, b in zip(client_key, signature))
        c.send(message(b"p", f"{final_bare},p={base64.b64encode(proof).decode()}".encode()))
        messages = c.read_until_ready()
    return {"mechanisms": mechanisms, "salt": attrs["s"], "iterations": iterations,
            "error": first_error(messages),
            "authenticated": any(k == b"R" and auth_request_code(p) == 0 for k, p in messages)}


def error_summary(fields: dict, user: str) -> dict:
    """The fields a client sees, with the user name taken out."""
    return {k: fields.get(k, "").replace(f'"{user}"', '"USER"') for k in "SVCM"}


# -- each method, each client ---------------------------------------------------

@pytest.mark.parametrize("client", sorted(LOGINS))
@pytest.mark.parametrize("method", ["cleartext", "md5", "scram-sha-256"])
def test_login_with_each_method(start, database, method, client):
    # Plaintext secrets in the auth file: pgmux logs in to the server with
    # SCRAM for SCRAM_USER and MD5 for MD5_USER (what pg_hba.conf demands).
    proxy = start("--auth-type", method,
                  users={SCRAM_USER: SCRAM_PASSWORD, MD5_USER: MD5_PASSWORD})
    login = LOGINS[client]
    assert login(proxy, SCRAM_USER, SCRAM_PASSWORD, database) == SCRAM_USER
    assert login(proxy, MD5_USER, MD5_PASSWORD, database) == MD5_USER


def test_clients_without_a_password_are_refused(start, database):
    proxy = start("--auth-type", "scram-sha-256", users={SCRAM_USER: SCRAM_PASSWORD})
    r = psql(proxy.endpoint, "-c", "SELECT 1", user=SCRAM_USER, dbname=database, check=False)
    assert r.returncode != 0
    assert "no password supplied" in r.stderr
    assert login_psql(proxy, SCRAM_USER, SCRAM_PASSWORD, database) == SCRAM_USER


def test_md5_hash_in_auth_file_serves_both_legs(start, database):
    # The file holds md5(password || user), as PgBouncer's files often do:
    # the client proves the password, pgmux answers the server's MD5 challenge
    # with the hash alone.
    md5_hash = "md5" + hashlib.md5((MD5_PASSWORD + MD5_USER).encode()).hexdigest()
    proxy = start("--auth-type", "md5", users={MD5_USER: md5_hash})
    assert login_psql(proxy, MD5_USER, MD5_PASSWORD, database) == MD5_USER
    assert login_asyncpg(proxy, MD5_USER, MD5_PASSWORD, database) == MD5_USER
    assert asyncpg_failure(proxy, MD5_USER, WRONG_PASSWORD, database).sqlstate == "28P01"


def test_per_database_auth_type_from_config_file(start, pg, database, tmp_path):
    config = tmp_path / "pgmux.toml"
    config.write_text(f'[databases.{database}]\nhost = "127.0.0.1"\nport = {pg.port}\n'
                      'auth_type = "scram-sha-256"\n')
    # --upstream (the harness's) is the trust wildcard for every other name.
    proxy = start("--config", str(config), users={SCRAM_USER: SCRAM_PASSWORD})
    r = psql(proxy.endpoint, "-c", "SELECT 1", user=SCRAM_USER, dbname=database, check=False)
    assert r.returncode != 0 and "no password supplied" in r.stderr
    assert login_psql(proxy, SCRAM_USER, SCRAM_PASSWORD, database) == SCRAM_USER
    assert login_psql(proxy, SCRAM_USER, None, "postgres") == SCRAM_USER


def test_per_user_auth_type_overrides_database_and_global(start, pg, database, tmp_path):
    # Global trust, the database asks for SCRAM, one user must use MD5 and
    # another may come in without a password.
    config = tmp_path / "pgmux.toml"
    config.write_text(f'[databases.{database}]\nhost = "127.0.0.1"\nport = {pg.port}\n'
                      'auth_type = "scram-sha-256"\n'
                      f'[users.{MD5_USER}]\nauth_type = "md5"\n'
                      '[users.postgres]\nauth_type = "trust"\n')
    proxy = start("--config", str(config),
                  users={SCRAM_USER: SCRAM_PASSWORD, MD5_USER: MD5_PASSWORD})
    assert login_psql(proxy, SCRAM_USER, SCRAM_PASSWORD, database) == SCRAM_USER
    assert auth_request_code(first_auth_request(proxy.endpoint, MD5_USER, database)) == 5
    assert auth_request_code(first_auth_request(proxy.endpoint, SCRAM_USER, database)) == 10
    assert login_psql(proxy, MD5_USER, MD5_PASSWORD, database) == MD5_USER
    assert login_psql(proxy, "postgres", None, database) == "postgres"
    wrong = asyncpg_failure(proxy, MD5_USER, WRONG_PASSWORD, database)
    assert wrong.sqlstate == "28P01"


def test_per_user_password_method_needs_secrets(tmp_path, pg):
    config = tmp_path / "pgmux.toml"
    config.write_text('[users.alice]\nauth_type = "md5"\n')
    out = subprocess.run([os.environ["PGMUX_BIN"], "--listen", "127.0.0.1:0", "--upstream",
                          f"127.0.0.1:{pg.port}", "--config", str(config)],
                         capture_output=True, text=True, timeout=10)
    assert out.returncode == 2
    assert "users.alice.auth_type" in out.stderr


def first_auth_request(endpoint, user, dbname) -> bytes:
    """The payload of the first AuthenticationRequest pgmux sends `user`."""
    with RawConnection(endpoint) as c:
        c.startup(user=user, dbname=dbname)
        kind, payload = c.recv_message()
        assert kind == b"R", (kind, payload)
        return payload


# -- failures look the same -------------------------------------------------------

@pytest.mark.parametrize("method,request_code", [("cleartext", 3), ("md5", 5),
                                                 ("scram-sha-256", 10)])
def test_wrong_password_and_unknown_user_look_identical(start, database, method, request_code):
    proxy = start("--auth-type", method, users={SCRAM_USER: SCRAM_PASSWORD})
    wrong = asyncpg_failure(proxy, SCRAM_USER, WRONG_PASSWORD, database)
    unknown = asyncpg_failure(proxy, NOBODY, WRONG_PASSWORD, database)
    for e, user in ((wrong, SCRAM_USER), (unknown, NOBODY)):
        assert isinstance(e, asyncpg.InvalidPasswordError)
        assert e.sqlstate == "28P01"
        assert str(e) == f'password authentication failed for user "{user}"'
    # Both are asked the same question first (no early "no such user").
    for user in (SCRAM_USER, NOBODY):
        with RawConnection(proxy.endpoint) as c:
            c.startup(user=user, dbname=database)
            kind, payload = c.recv_message()
            assert kind == b"R" and auth_request_code(payload) == request_code
    log = proxy.log_text()
    assert f'authentication failed for user "{SCRAM_USER}"' in log and "wrong password" in log
    assert f'authentication failed for user "{NOBODY}"' in log and "no such user" in log


def test_scram_mock_exchange_matches_a_real_one(start, pg, roles, database):
    proxy = start("--auth-type", "scram-sha-256", users={SCRAM_USER: roles[SCRAM_USER]})
    real = scram_attempt(proxy.endpoint, SCRAM_USER, database, WRONG_PASSWORD)
    mock = scram_attempt(proxy.endpoint, NOBODY, database, WRONG_PASSWORD)
    mock_again = scram_attempt(proxy.endpoint, NOBODY, database, WRONG_PASSWORD)
    other = scram_attempt(proxy.endpoint, NOBODY + "2", database, WRONG_PASSWORD)
    assert real["mechanisms"] == mock["mechanisms"] == ["SCRAM-SHA-256"]
    assert real["iterations"] == mock["iterations"] == 4096
    assert len(base64.b64decode(real["salt"])) == len(base64.b64decode(mock["salt"])) == 16
    # An unknown user's salt is stable (probing twice cannot tell) and per user.
    assert mock["salt"] == mock_again["salt"] != other["salt"]
    assert not real["authenticated"] and not mock["authenticated"]
    assert error_summary(real["error"], SCRAM_USER) == error_summary(mock["error"], NOBODY)
    # ... and PostgreSQL itself answers a wrong SCRAM proof with the same fields.
    direct = scram_attempt(pg.endpoint, SCRAM_USER, database, WRONG_PASSWORD)
    assert error_summary(direct["error"], SCRAM_USER) == error_summary(real["error"], SCRAM_USER)
    assert direct["salt"] == real["salt"]  # the auth file holds the server's own verifier
    # The right password through the hand-written client works.
    assert scram_attempt(proxy.endpoint, SCRAM_USER, database, SCRAM_PASSWORD)["authenticated"]


def test_login_timeout_closes_a_silent_client(start, database):
    proxy = start("--auth-type", "scram-sha-256", "--client-login-timeout", "1",
                  users={SCRAM_USER: SCRAM_PASSWORD})
    with RawConnection(proxy.endpoint, timeout=10) as c:
        c.startup(user=SCRAM_USER, dbname=database)
        kind, payload = c.recv_message()
        assert kind == b"R" and auth_request_code(payload) == 10
        began = time.monotonic()
        c.read_until_closed()  # pgmux hangs up; the client never answered
        waited = time.monotonic() - began
    assert waited < 5
    wait_for_log(proxy, "closed: login_timeout")
    assert "login timed out during scram-sha-256 authentication" in proxy.log_text()
    assert login_psql(proxy, SCRAM_USER, SCRAM_PASSWORD, database) == SCRAM_USER


# -- SCRAM pass-through ----------------------------------------------------------------

def test_scram_pass_through_with_only_a_verifier(start, pg, roles, database):
    # The auth file holds the server's verifier (pg_authid.rolpassword) and no
    # password: pgmux can log in to the SCRAM-only server as SCRAM_USER only
    # with the keys it recovers from the client's proof.
    verifier = roles[SCRAM_USER]
    assert verifier.startswith("SCRAM-SHA-256$")
    proxy = start("--auth-type", "scram-sha-256", users={SCRAM_USER: verifier}, pool_size=2)
    assert login_psql(proxy, SCRAM_USER, SCRAM_PASSWORD, database) == SCRAM_USER
    assert login_asyncpg(proxy, SCRAM_USER, SCRAM_PASSWORD, database) == SCRAM_USER
    # Two transactions at once need a second server connection, opened later
    # with the same keys.
    with connect(proxy.endpoint, database, SCRAM_USER, password=SCRAM_PASSWORD,
                 autocommit=False) as a, \
            connect(proxy.endpoint, database, SCRAM_USER, password=SCRAM_PASSWORD,
                    autocommit=False) as b:
        pid_a = a.execute("SELECT pg_backend_pid()").fetchone()[0]
        pid_b = b.execute("SELECT pg_backend_pid()").fetchone()[0]
        assert pid_a != pid_b
        a.rollback()
        b.rollback()
    assert SCRAM_USER in {row[1] for row in pg.backends(database)}
    assert asyncpg_failure(proxy, SCRAM_USER, WRONG_PASSWORD, database).sqlstate == "28P01"


def test_md5_method_with_a_verifier_runs_scram(start, roles, database):
    # As in PostgreSQL, an MD5 response cannot be checked against a verifier,
    # so the client is asked for SCRAM instead (and pass-through still works).
    proxy = start("--auth-type", "md5", users={SCRAM_USER: roles[SCRAM_USER]})
    with RawConnection(proxy.endpoint) as c:
        c.startup(user=SCRAM_USER, dbname=database)
        kind, payload = c.recv_message()
        assert kind == b"R" and auth_request_code(payload) == 10
    assert login_psycopg(proxy, SCRAM_USER, SCRAM_PASSWORD, database) == SCRAM_USER


def test_verifier_without_a_scram_client_cannot_reach_the_server(start, roles, database):
    # Trust towards clients means no proof, hence no keys: the server login
    # fails with an explanation rather than something obscure.
    proxy = start("--auth-type", "trust", users={SCRAM_USER: roles[SCRAM_USER]})
    with pytest.raises(psycopg.OperationalError) as info:
        login_psycopg(proxy, SCRAM_USER, None, database)
    assert "pass-through" in str(info.value)


# -- auth_query --------------------------------------------------------------------------

def aq_flags(method, *extra):
    return ("--auth-type", method, "--auth-user", AUTH_USER, *extra)


@pytest.mark.parametrize("client", sorted(LOGINS))
def test_auth_query_scram_with_pass_through(start, aq_database, client):
    # Only the auth user is in the file; AQ_SCRAM_USER's verifier comes from
    # pg_shadow and the server login uses the client's pass-through keys.
    proxy = start(*aq_flags("scram-sha-256"), users={AUTH_USER: AUTH_PASSWORD})
    assert LOGINS[client](proxy, AQ_SCRAM_USER, AQ_SCRAM_PASSWORD, aq_database) == AQ_SCRAM_USER


def test_auth_query_md5(start, aq_database):
    # pg_shadow gives an MD5 hash: the client answers an MD5 challenge and
    # pgmux answers the server's with the same hash.
    proxy = start(*aq_flags("md5"), users={AUTH_USER: AUTH_PASSWORD})
    assert login_psql(proxy, AQ_MD5_USER, AQ_MD5_PASSWORD, aq_database) == AQ_MD5_USER
    assert login_asyncpg(proxy, AQ_MD5_USER, AQ_MD5_PASSWORD, aq_database) == AQ_MD5_USER
    # A SCRAM user under md5 is asked for SCRAM.
    assert login_psycopg(proxy, AQ_SCRAM_USER, AQ_SCRAM_PASSWORD, aq_database) == AQ_SCRAM_USER


def test_auth_query_failures_look_identical(start, aq_database):
    proxy = start(*aq_flags("scram-sha-256"), users={AUTH_USER: AUTH_PASSWORD})
    wrong = asyncpg_failure(proxy, AQ_SCRAM_USER, WRONG_PASSWORD, aq_database)
    unknown = asyncpg_failure(proxy, NOBODY, WRONG_PASSWORD, aq_database)
    assert (wrong.sqlstate, unknown.sqlstate) == ("28P01", "28P01")
    assert str(wrong).replace(AQ_SCRAM_USER, "U") == str(unknown).replace(NOBODY, "U")
    real = scram_attempt(proxy.endpoint, AQ_SCRAM_USER, aq_database, WRONG_PASSWORD)
    mock = scram_attempt(proxy.endpoint, NOBODY, aq_database, WRONG_PASSWORD)
    assert error_summary(real["error"], AQ_SCRAM_USER) == error_summary(mock["error"], NOBODY)
    assert real["iterations"] == mock["iterations"]


def test_auth_query_is_parameterised_and_cached(start, aq_database, statement_log):
    proxy = start(*aq_flags("scram-sha-256"), users={AUTH_USER: AUTH_PASSWORD})
    statement_log.reset()
    # A user name that would widen a query built by string concatenation.
    sneaky = f"x' OR usename = '{AQ_SCRAM_USER}"
    assert asyncpg_failure(proxy, sneaky, AQ_SCRAM_PASSWORD, aq_database).sqlstate == "28P01"
    for _ in range(3):
        assert login_psql(proxy, AQ_SCRAM_USER, AQ_SCRAM_PASSWORD, aq_database) == AQ_SCRAM_USER
    lookups = [s for s in statement_log.statements() if "pg_shadow" in s]
    # One lookup per user name: the three logins share a cached answer.
    assert lookups == ["SELECT usename, passwd FROM pg_catalog.pg_shadow WHERE usename = $1"] * 2


def test_auth_query_without_cache_asks_every_time(start, aq_database, statement_log):
    proxy = start(*aq_flags("scram-sha-256", "--auth-cache-ttl", "0"),
                  users={AUTH_USER: AUTH_PASSWORD})
    statement_log.reset()
    for _ in range(3):
        assert login_psql(proxy, AQ_SCRAM_USER, AQ_SCRAM_PASSWORD, aq_database) == AQ_SCRAM_USER
    assert sum("pg_shadow" in s for s in statement_log.statements()) == 3


def hostile_schema(pg, database):
    """A schema whose pg_shadow look-alike claims AQ_SCRAM_USER's password is
    EVIL_PASSWORD (in plaintext, which SCRAM accepts as a secret)."""
    with pg.connect(database) as conn:
        conn.execute("CREATE SCHEMA evil")
        conn.execute(sql.SQL("CREATE VIEW evil.pg_shadow AS SELECT {}::name AS usename, "
                             "{}::text AS passwd").format(sql.Literal(AQ_SCRAM_USER),
                                                          sql.Literal(EVIL_PASSWORD)))
        conn.execute("GRANT USAGE ON SCHEMA evil TO PUBLIC")
        conn.execute("GRANT SELECT ON evil.pg_shadow TO PUBLIC")
        # Sanity: with search_path = evil the look-alike does shadow the catalog
        # for anyone who trusts the search path (pg_catalog is searched first
        # only when it is not listed).
        conn.execute("SET search_path = evil, pg_catalog")
        assert conn.execute("SELECT passwd FROM pg_shadow WHERE usename = %s",
                            (AQ_SCRAM_USER,)).fetchone()[0] == EVIL_PASSWORD


@pytest.mark.parametrize("query", ["default", "unqualified"])
def test_auth_query_ignores_a_hostile_search_path(start, pg, aq_database, query):
    hostile_schema(pg, aq_database)
    extra = () if query == "default" else (
        "--auth-query", "SELECT usename, passwd FROM pg_shadow WHERE usename = $1")
    proxy = start(*aq_flags("scram-sha-256", *extra), users={AUTH_USER: AUTH_PASSWORD})
    options = "-c search_path=evil,pg_catalog"
    # The client's startup options never reach the auth connection, so even an
    # unqualified query reads the real catalog.
    wrong = asyncpg_failure_with_options(proxy, AQ_SCRAM_USER, EVIL_PASSWORD, aq_database, options)
    assert wrong.sqlstate == "28P01"
    with connect(proxy.endpoint, aq_database, AQ_SCRAM_USER, password=AQ_SCRAM_PASSWORD,
                 options=options) as conn:
        assert conn.execute("SHOW search_path").fetchone()[0] == "evil,pg_catalog"
        assert conn.execute("SELECT current_user").fetchone()[0] == AQ_SCRAM_USER


def test_schema_qualified_auth_query_survives_a_database_search_path(start, pg, aq_database):
    # A search_path set on the database does reach the auth connection; the
    # default query names pg_catalog.pg_shadow, so it still reads the catalog.
    hostile_schema(pg, aq_database)
    pg.query(f'ALTER DATABASE "{aq_database}" SET search_path = evil, pg_catalog')
    proxy = start(*aq_flags("scram-sha-256"), users={AUTH_USER: AUTH_PASSWORD})
    assert asyncpg_failure(proxy, AQ_SCRAM_USER, EVIL_PASSWORD, aq_database).sqlstate == "28P01"
    assert login_psql(proxy, AQ_SCRAM_USER, AQ_SCRAM_PASSWORD, aq_database) == AQ_SCRAM_USER


def test_unqualified_auth_query_is_exposed_to_a_database_search_path(start, pg, aq_database):
    # The control for the test above: the attack is real. An operator who
    # overrides auth_query without the schema, in a database whose search_path
    # lists a hostile schema before pg_catalog, gets the look-alike's answer.
    hostile_schema(pg, aq_database)
    pg.query(f'ALTER DATABASE "{aq_database}" SET search_path = evil, pg_catalog')
    proxy = start(*aq_flags("scram-sha-256", "--auth-query",
                            "SELECT usename, passwd FROM pg_shadow WHERE usename = $1"),
                  users={AUTH_USER: AUTH_PASSWORD})
    with pytest.raises(asyncpg.PostgresError) as info:
        # The look-alike's password gets past pgmux; the server then refuses
        # pgmux's own login (it has no real password or keys for the user).
        login_asyncpg(proxy, AQ_SCRAM_USER, EVIL_PASSWORD, aq_database)
    assert info.value.sqlstate != "28P01"
    assert "authenticated as pgmux_aq_scram" in proxy.log_text()


def asyncpg_failure_with_options(proxy, user, password, dbname, options):
    async def scenario():
        conn = await asyncpg.connect(host=proxy.endpoint.host, port=proxy.endpoint.port,
                                     user=user, password=password, database=dbname, timeout=10,
                                     server_settings={"options": options})
        await conn.close()
    with pytest.raises(asyncpg.PostgresError) as info:
        asyncio.run(scenario())
    return info.value


def test_auth_query_unavailable_is_not_an_auth_failure(start, aq_database):
    proxy = start(*aq_flags("scram-sha-256"), users={AUTH_USER: WRONG_PASSWORD})
    with pytest.raises(psycopg.OperationalError) as info:
        login_psycopg(proxy, AQ_SCRAM_USER, AQ_SCRAM_PASSWORD, aq_database)
    assert "auth_query failed" in str(info.value)
    log = proxy.log_text()
    assert f'password authentication failed for user "{AUTH_USER}"' in log


# -- reload ------------------------------------------------------------------------------

def test_auth_file_reloads_on_sighup(start, database, tmp_path):
    proxy = start("--auth-type", "scram-sha-256", users={SCRAM_USER: WRONG_PASSWORD})
    assert asyncpg_failure(proxy, SCRAM_USER, SCRAM_PASSWORD, database).sqlstate == "28P01"
    write_userlist(tmp_path / "userlist.txt", {SCRAM_USER: SCRAM_PASSWORD})
    proxy.signal(signal.SIGHUP)
    wait_for_log(proxy, "configuration reloaded")
    assert login_psql(proxy, SCRAM_USER, SCRAM_PASSWORD, database) == SCRAM_USER
    # A broken file is refused and the running one kept; the error names the
    # line, never the secret.
    (tmp_path / "userlist.txt").write_text(f'"{SCRAM_USER}" "{RELOAD_GARBAGE}\n')
    proxy.signal(signal.SIGHUP)
    wait_for_log(proxy, "reload failed")
    assert "line 1" in proxy.log_text()
    assert login_psql(proxy, SCRAM_USER, SCRAM_PASSWORD, database) == SCRAM_USER


def test_bad_auth_file_stops_startup(pgmux, tmp_path, roles):
    path = tmp_path / "broken.txt"
    path.write_text(f'"{SCRAM_USER}" "{RELOAD_GARBAGE}\n')
    with pytest.raises(RuntimeError) as info:
        pgmux("--auth-type", "md5", "--auth-file", str(path), ready_timeout=5)
    assert "line 1" in str(info.value) and RELOAD_GARBAGE not in str(info.value)


# -- no secrets in logs --------------------------------------------------------------------

def test_logs_hold_no_secrets():
    """Runs last: every pgmux log this module produced, at debug level."""
    assert len(LOGS) >= 10, "run the whole module: the grep needs the other tests' logs"
    text = ""
    for path in LOGS:
        with open(path, "rb") as f:
            text += f.read().decode("utf-8", "replace")
    assert "authentication failed" in text and "authenticated as" in text
    leaked = sorted(s for s in SECRETS if s and s in text)
    assert leaked == [], f"secrets in pgmux logs: {len(leaked)}"
