"""Fixtures of the integration suites.

- `pg`: one real PostgreSQL 15 per pytest process (session scope).
- `database`: a fresh database per test, dropped afterwards.
- `pgmux`: a factory that starts pgmux with given flags in front of `pg` and
  stops it after the test, failing the test if pgmux crashed.
- `statement_log`: turns on log_statement=all for one test and reads it back.

Environment: PGMUX_BIN (the binary; default build/pgmux),
PGMUX_TEST_TARGET=pgmux|pgbouncer|direct (what the tests drive; see
harness/proxy.py), PGMUX_TEST_LOG_STATEMENTS=1 (log every statement all
session long), PGMUX_KEEP_TMP=1 (keep the cluster's directory).
"""
import os
import re
import uuid

import pytest

from harness.clients import is_libpq_variable
from harness.postgres import PostgresServer
from harness.proxy import start_pgmux

# Clients started by the tests must reach only the servers the tests name.
for _name in [n for n in os.environ if is_libpq_variable(n)]:
    del os.environ[_name]


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    # Lets fixtures see at teardown whether the test itself failed.
    outcome = yield
    report = outcome.get_result()
    setattr(item, "rep_" + report.when, report)


def _test_failed(request) -> bool:
    rep = getattr(request.node, "rep_call", None)
    return rep is None or rep.failed


@pytest.fixture(scope="session")
def pg():
    server = PostgresServer(log_statements=os.environ.get("PGMUX_TEST_LOG_STATEMENTS") == "1")
    server.start()
    yield server
    server.cleanup()


@pytest.fixture
def database(pg, request):
    """A fresh database for this test; pgmux routes any name to `pg`."""
    base = re.sub(r"[^a-z0-9]+", "_", request.node.name.lower())[:40]
    name = f"t_{base}_{uuid.uuid4().hex[:6]}"
    pg.create_database(name)
    yield name
    pg.drop_database(name)


@pytest.fixture
def pgmux(pg, tmp_path, request):
    """pgmux(*flags, pool_size=5, pool_mode="transaction", admin=False, wait=True)
    starts pgmux in front of `pg` and returns a ProxyProcess (.endpoint,
    .admin_endpoint, .proc, .log_text(), .rss_kb())."""
    started = []

    def start(*extra, pool_size=5, pool_mode="transaction", admin=False, wait=True, upstream=None,
              ready_timeout=15):
        proc = start_pgmux(upstream or pg.endpoint, str(tmp_path), *extra, pool_size=pool_size,
                           pool_mode=pool_mode, admin=admin, wait=wait, ready_timeout=ready_timeout)
        started.append(proc)
        return proc

    yield start

    problems = []
    for proc in started:
        proc.stop()
        problems += proc.problems
    if problems or _test_failed(request):
        for proc in started:
            print(f"===== {proc.name} log ({proc.log_path}) =====")
            print(proc.log_text()[-20000:])
        print("===== PostgreSQL log (tail) =====")
        print(pg.log_tail())
    if problems:
        pytest.fail("; ".join(problems))


@pytest.fixture
def both(pg, pgmux, database):
    """both(scenario, pool_size=2) runs scenario(endpoint, dbname, proxy) on PostgreSQL directly
    (proxy None, in a database of its own) and then through pgmux (admin API on); returns
    (direct, proxied). The workload and driver suites compare the two."""
    extra = []

    def run(scenario, pool_size=2):
        direct_db = f"{database}_d"
        pg.create_database(direct_db)
        extra.append(direct_db)
        direct = scenario(pg.endpoint, direct_db, None)
        # A client left waiting for a server fails within 20 s instead of pgmux's default 120 s.
        proxy = pgmux("--query-wait-timeout", "20", pool_size=pool_size, admin=True)
        return direct, scenario(proxy.endpoint, database, proxy)

    yield run
    for db in extra:
        pg.drop_database(db)


class StatementLog:
    def __init__(self, pg):
        self.pg = pg
        self.mark = pg.log_mark()

    def reset(self):
        self.mark = self.pg.log_mark()

    def statements(self) -> list[str]:
        return self.pg.statements_since(self.mark)

    def count(self, needle: str) -> int:
        return sum(needle in s for s in self.statements())


@pytest.fixture
def statement_log(pg):
    """Statements the server executes during this test (log_statement=all)."""
    always = os.environ.get("PGMUX_TEST_LOG_STATEMENTS") == "1"
    if not always:
        pg.set_log_statements(True)
    yield StatementLog(pg)
    if not always:
        pg.set_log_statements(False)
