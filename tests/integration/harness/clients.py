"""Real clients against an endpoint: psql, pgbench and psycopg 3."""
import os
import re
import select
import subprocess
import time

import psycopg

from .net import Endpoint

PG_BIN = os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin")


def is_libpq_variable(name: str) -> bool:
    """PGHOST, PGOPTIONS, PGCONNECT_TIMEOUT ... but not our PGMUX_* or PG_BIN."""
    return name.startswith("PG") and not name.startswith(("PGMUX_", "PG_"))


def client_env(password: str | None = None, **extra) -> dict:
    """The caller's environment without PG* variables that would redirect a
    client, plus deterministic messages."""
    env = {k: v for k, v in os.environ.items() if not is_libpq_variable(k)}
    env.update(LC_ALL="C.UTF-8", LC_MESSAGES="C", PGCONNECT_TIMEOUT="10")
    if password is not None:
        env["PGPASSWORD"] = password
    env.update(extra)
    return env


class ClientError(AssertionError):
    pass


def run_client(argv, *, input=None, timeout=60, check=True, env=None) -> subprocess.CompletedProcess:
    try:
        r = subprocess.run(argv, input=input, capture_output=True, text=True, timeout=timeout,
                           env=env or client_env())
    except subprocess.TimeoutExpired as e:
        raise ClientError(f"{argv[0]} timed out after {timeout}s: {' '.join(argv)}\n"
                          f"stdout:\n{e.stdout}\nstderr:\n{e.stderr}") from None
    if check and r.returncode != 0:
        raise ClientError(f"{' '.join(argv)} exited {r.returncode}\nstdout:\n{r.stdout}\n"
                          f"stderr:\n{r.stderr}")
    return r


def psql(endpoint: Endpoint, *args, dbname="postgres", user="postgres", input=None, timeout=60,
         check=True, password=None) -> subprocess.CompletedProcess:
    """psql -X (no psqlrc) with ON_ERROR_STOP against endpoint; args are appended."""
    argv = [os.path.join(PG_BIN, "psql"), "-X", "-v", "ON_ERROR_STOP=1", "-h", endpoint.host,
            "-p", str(endpoint.port), "-U", user, "-d", dbname, *map(str, args)]
    return run_client(argv, input=input, timeout=timeout, check=check, env=client_env(password))


def psql_value(endpoint: Endpoint, sql: str, **kwargs) -> str:
    """Runs sql with psql -At and returns its output stripped."""
    return psql(endpoint, "-At", "-c", sql, **kwargs).stdout.strip()


def pgbench(endpoint: Endpoint, *args, dbname="postgres", user="postgres", timeout=300, check=True,
            password=None) -> subprocess.CompletedProcess:
    argv = [os.path.join(PG_BIN, "pgbench"), "-h", endpoint.host, "-p", str(endpoint.port),
            "-U", user, *map(str, args), dbname]
    return run_client(argv, timeout=timeout, check=check, env=client_env(password))


def parse_pgbench(output: str) -> dict:
    """The figures of a pgbench (15) summary."""
    def grab(pattern, cast=float):
        m = re.search(pattern, output, re.MULTILINE)
        return cast(m.group(1)) if m else None
    return {
        "clients": grab(r"^number of clients: (\d+)", int),
        "processed": grab(r"^number of transactions actually processed: (\d+)", int),
        "failed": grab(r"^number of failed transactions: (\d+)", int),
        "latency_ms": grab(r"^latency average = ([\d.]+) ms"),
        "tps": grab(r"^tps = ([\d.]+) "),
        "connection_ms": grab(r"^average connection time = ([\d.]+) ms"),
    }


def connect(endpoint: Endpoint, dbname="postgres", user="postgres", *, autocommit=True,
            password=None, **kwargs) -> psycopg.Connection:
    """A psycopg 3 connection through endpoint. psycopg's automatic server-side
    prepare (after 5 runs of a query) is off unless a test asks for it:
    named statements across transactions are the prepared-statement suite's
    subject, not every test's."""
    kwargs.setdefault("connect_timeout", 10)
    kwargs.setdefault("prepare_threshold", None)
    if password is not None:
        kwargs["password"] = password
    return psycopg.connect(host=endpoint.host, port=endpoint.port, dbname=dbname, user=user,
                           autocommit=autocommit, **kwargs)


def next_result(pgconn, timeout=20.0):
    """PQgetResult without blocking in C (so a hung proxy fails the test)."""
    deadline = time.monotonic() + timeout
    while pgconn.is_busy():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no pipeline result within %ss" % timeout)
        readable, _, _ = select.select([pgconn.socket], [], [], remaining)
        if readable:
            pgconn.consume_input()
    return pgconn.get_result()


def first_value(res):
    """The first column of the first row, decoded (None without rows)."""
    return res.get_value(0, 0).decode() if res.ntuples else None


def all_rows(res):
    """Every row as a list of decoded values."""
    return [[res.get_value(r, i).decode() for i in range(res.nfields)]
            for r in range(res.ntuples)]


def pipeline_results(pgconn, syncs, rows=first_value):
    """(status, rows(result) for rows, SQLSTATE for errors, else None) of every
    libpq pipeline result until `syncs` PIPELINE_SYNC results have arrived;
    the NULL separators are dropped."""
    es = psycopg.pq.ExecStatus
    out = []
    while syncs:
        res = next_result(pgconn)
        if res is None:
            continue
        status = es(res.status)
        if status == es.PIPELINE_SYNC:
            syncs -= 1
            out.append((status, None))
        elif status == es.TUPLES_OK:
            out.append((status, rows(res)))
        elif status == es.FATAL_ERROR:
            out.append((status, res.error_field(psycopg.pq.DiagnosticField.SQLSTATE).decode()))
        else:
            out.append((status, None))
    return out
