"""psql through pgmux: simple queries, multi-statement strings, errors, COPY."""
import pytest

from harness.clients import psql, psql_value

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def proxy(pgmux):
    return pgmux(pool_size=2)


def test_simple_query(proxy, database):
    assert psql_value(proxy.endpoint, "SELECT 1 + 1", dbname=database) == "2"
    assert psql_value(proxy.endpoint, "SELECT current_database()", dbname=database) == database


def test_many_rows_and_large_values(proxy, database):
    out = psql_value(proxy.endpoint,
                     "SELECT count(*), sum(length(s)) FROM "
                     "(SELECT repeat('x', 1000) || g AS s FROM generate_series(1, 20000) g) t",
                     dbname=database)
    count, total = map(int, out.split("|"))
    assert count == 20000
    assert total == sum(1000 + len(str(g)) for g in range(1, 20001))
    big = psql_value(proxy.endpoint, "SELECT length(repeat('y', 5000000))", dbname=database)
    assert big == "5000000"


def test_multi_statement_query(proxy, database):
    # One Query message with several statements: an implicit transaction,
    # one result per statement (psql prints each with -c).
    r = psql(proxy.endpoint, "-At", "-c",
             "CREATE TABLE m(a int); INSERT INTO m VALUES (1),(2),(3); SELECT sum(a) FROM m",
             dbname=database)
    assert r.stdout.strip().splitlines()[-1] == "6"
    r = psql(proxy.endpoint, "-At", "-c", "SELECT 1; SELECT 2; SELECT 3", dbname=database)
    assert r.stdout.split() == ["1", "2", "3"]


def test_error_in_multi_statement_rolls_back_whole_string(proxy, database):
    psql(proxy.endpoint, "-c", "CREATE TABLE e(a int primary key)", dbname=database)
    r = psql(proxy.endpoint, "-c", "INSERT INTO e VALUES (1); INSERT INTO e VALUES (1)",
             dbname=database, check=False)
    assert r.returncode != 0
    assert "duplicate key value violates unique constraint" in r.stderr
    assert psql_value(proxy.endpoint, "SELECT count(*) FROM e", dbname=database) == "0"


def test_session_continues_after_errors(proxy, database):
    script = """
\\set ON_ERROR_STOP 0
SELECT 1/0;
SELECT 'after division';
BEGIN;
SELECT no_such_column FROM pg_class;
SELECT 'inside aborted';
ROLLBACK;
SELECT 'after rollback';
"""
    r = psql(proxy.endpoint, "-At", "-q", dbname=database, input=script)
    assert "ERROR:  division by zero" in r.stderr
    assert 'column "no_such_column" does not exist' in r.stderr
    assert "current transaction is aborted" in r.stderr
    assert r.stdout.splitlines() == ["after division", "after rollback"]


def test_syntax_error_reports_position(proxy, database):
    r = psql(proxy.endpoint, "-c", "SELEC 1", dbname=database, check=False)
    assert r.returncode != 0
    assert 'syntax error at or near "SELEC"' in r.stderr
    assert "LINE 1: SELEC 1" in r.stderr


def test_notice_and_raise(proxy, database):
    r = psql(proxy.endpoint, "-c",
             "DO $$ BEGIN RAISE NOTICE 'hello %', 42; RAISE WARNING 'careful'; END $$",
             dbname=database)
    assert "NOTICE:  hello 42" in r.stderr
    assert "WARNING:  careful" in r.stderr


def test_copy_from_stdin_and_to_stdout(proxy, database):
    psql(proxy.endpoint, "-c", "CREATE TABLE c(id int, name text)", dbname=database)
    rows = "".join(f"{i}\tname {i}\n" for i in range(1, 5001))
    r = psql(proxy.endpoint, "-c", "COPY c FROM STDIN", dbname=database, input=rows)
    assert "COPY 5000" in r.stdout
    r = psql(proxy.endpoint, "-c", "COPY (SELECT * FROM c ORDER BY id) TO STDOUT", dbname=database)
    assert r.stdout == rows
    r = psql(proxy.endpoint, "-c", "COPY c TO STDOUT WITH (FORMAT csv, HEADER)", dbname=database)
    assert r.stdout.splitlines()[0] == "id,name"
    assert len(r.stdout.splitlines()) == 5001


def test_copy_from_stdin_bad_data_errors_and_recovers(proxy, database):
    psql(proxy.endpoint, "-c", "CREATE TABLE c(id int)", dbname=database)
    script = "\\set ON_ERROR_STOP 0\nCOPY c FROM STDIN;\n1\nnot a number\n\\.\nSELECT count(*) FROM c;\n"
    r = psql(proxy.endpoint, "-At", dbname=database, input=script)
    assert 'invalid input syntax for type integer: "not a number"' in r.stderr
    assert r.stdout.strip() == "0"


def test_backslash_copy(proxy, database, tmp_path):
    psql(proxy.endpoint, "-c", "CREATE TABLE c(id int, payload text)", dbname=database)
    src = tmp_path / "in.csv"
    src.write_text("".join(f"{i},\"p,{i}\"\n" for i in range(1000)))
    dst = tmp_path / "out.csv"
    r = psql(proxy.endpoint, "-c", f"\\copy c FROM '{src}' WITH (FORMAT csv)", dbname=database)
    assert "COPY 1000" in r.stdout
    psql(proxy.endpoint, "-c", f"\\copy (SELECT * FROM c ORDER BY id) TO '{dst}' WITH (FORMAT csv)",
         dbname=database)
    assert dst.read_text() == src.read_text()


def test_transactions_and_savepoints(proxy, database):
    script = """
CREATE TABLE t(a int);
BEGIN;
INSERT INTO t VALUES (1);
SAVEPOINT s;
INSERT INTO t VALUES (2);
ROLLBACK TO SAVEPOINT s;
INSERT INTO t VALUES (3);
COMMIT;
BEGIN;
INSERT INTO t VALUES (4);
ROLLBACK;
SELECT string_agg(a::text, ',' ORDER BY a) FROM t;
"""
    r = psql(proxy.endpoint, "-At", "-q", dbname=database, input=script)
    assert r.stdout.strip() == "1,3"


def test_listen_notify_passthrough_in_one_session(pgmux, database):
    # NotificationResponse reaches the client (session mode: LISTEN is session state).
    proxy = pgmux(pool_size=2, pool_mode="session")
    r = psql(proxy.endpoint, "-c", "LISTEN ch", "-c", "NOTIFY ch, 'payload'", "-c", "SELECT 1",
             dbname=database)
    assert 'Asynchronous notification "ch" with payload "payload" received' in r.stdout


def test_parameter_status_passthrough(proxy, database):
    # psql learns server_version and the encoding from ParameterStatus messages.
    r = psql(proxy.endpoint, "-At", "-c", "\\echo :SERVER_VERSION_NAME :ENCODING", dbname=database)
    version, encoding = r.stdout.strip().rsplit(" ", 1)
    assert version.startswith("15.")
    assert encoding == "UTF8"
