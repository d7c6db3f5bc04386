"""PHP PDO (pdo_pgsql) and Ruby's pg gem through pgmux in transaction pooling mode.

Each scenario runs straight against PostgreSQL and then through pgmux with a pool of 2 and more
clients than servers (several PHP processes, several Ruby threads with a connection each), so a
client's statements land on both servers. Both runs must give the same results, and the results
must be the ones computed here from the data the programs insert. Where pgmux's admin API is
there, it must also show that nothing pinned and, for named statements, that statements were
parsed again on the other server.

- php/pdo.php: pdo_pgsql's default (server-side statements pdo_stmt_XXXXXXXX, prepared at the
  first execute and deallocated with a SQL DEALLOCATE when the PDOStatement is destroyed),
  PDO::ATTR_EMULATE_PREPARES (values quoted into simple queries) and
  PDO::PGSQL_ATTR_DISABLE_PREPARES (unnamed statements): statements executed across autocommit
  and explicit transactions, destroyed and prepared again, errors and rollBack();
  lastInsertId() with and without the sequence name while other clients work; SET search_path /
  SET TIME ZONE that later transactions depend on.
- ruby/pg_driver.rb: prepare/exec_prepared/exec_params over threads, DEALLOCATE through SQL,
  42P05 and 26000, and pipeline mode (ruby-pg >= 1.3) with prepared executions and Syncs.

PGMUX_TEST_TARGET=direct runs both halves against PostgreSQL, which checks the expectations."""
import datetime
import json
import os
import re
import subprocess
from zoneinfo import ZoneInfo

import pytest

from harness.admin import get, metric
from harness.clients import client_env, connect
from harness.proxy import target

pytestmark = pytest.mark.timeout(180)
HERE = os.path.dirname(os.path.abspath(__file__))
PHP = os.path.join(HERE, "php", "pdo.php")
RUBY = os.path.join(HERE, "ruby", "pg_driver.rb")
PDO_MODES = ["default", "emulate", "unnamed"]  # see php/pdo.php
PHP_WORKERS = 4
RUBY_THREADS = 6
ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata"]  # as in pdo.php
AT = datetime.datetime(2024, 1, 15, 12, 0, tzinfo=datetime.timezone.utc)
# What pins_started() and reprepared() must say of the proxied run: nothing pinned, statements
# parsed again on the other server (None where there is no pgmux admin API to ask).
NO_PINS = {} if target() == "pgmux" else None
MOVED = True if target() == "pgmux" else None


def run_all(argvs, timeout=60):
    """Runs the programs at once; returns the JSON object each printed last."""
    procs = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=client_env()) for argv in argvs]
    outs = []
    for argv, p in zip(argvs, procs):
        try:
            stdout, stderr = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            stdout, stderr = p.communicate()
            steps = [line for line in stderr.splitlines() if line.startswith("step: ")]
            raise AssertionError(f"{' '.join(argv)} hung after {timeout}s in {steps[-1:]}") from None
        assert p.returncode == 0, f"{' '.join(argv)} exited {p.returncode}\n{stdout}\n{stderr}"
        lines = stdout.strip().splitlines()
        assert lines, f"{' '.join(argv)} printed nothing\n{stderr}"
        out = json.loads(lines[-1])
        assert "unexpected" not in out, f"{' '.join(argv)}: {out['unexpected']}"
        assert "hung_at" not in out, f"{' '.join(argv)} hung in {out['hung_at']} (done: {sorted(out)})"
        outs.append(out)
    return outs


def php(scenario, mode, endpoint, db, k):
    return ["php", PHP, scenario, mode, endpoint.host, str(endpoint.port), db, str(k)]


def ruby(scenario, endpoint, db, threads):
    return ["ruby", RUBY, scenario, endpoint.host, str(endpoint.port), db, str(threads)]


def pins_started(proxy):
    """Pins started so far, by reason (only reasons with any); None without pgmux's admin API."""
    if proxy is None or proxy.admin_endpoint is None:
        return None
    return {r["reason"]: r["pins_started"] for r in get(proxy, "/api/v1/pinning")["reasons"]
            if r["pins_started"]}


def reprepared(proxy):
    """Whether pgmux parsed a client's statement again on another server (None without pgmux)."""
    if proxy is None or proxy.admin_endpoint is None:
        return None
    return metric(proxy, "pgmux_reprepares_total") > 0


def pg_text(dt, zone):
    """timestamptz::text as PostgreSQL prints it in `zone` (ISO DateStyle)."""
    local = dt.astimezone(ZoneInfo(zone))
    off = int(local.utcoffset().total_seconds() // 60)
    sign, off = ("+" if off >= 0 else "-"), abs(off)
    return f"{local:%Y-%m-%d %H:%M:%S}{sign}{off // 60:02d}" + (f":{off % 60:02d}" if off % 60 else "")


# PHP PDO: prepared statements -------------------------------------------------------------------

def insert_kinds(log):
    """How the server ran the INSERTs into pdo_items (log_statement=all): by a named statement,
    the unnamed one, or as a simple query."""
    kinds = {"named": 0, "unnamed": 0, "simple": 0}
    for m in re.finditer(r" LOG:  (?:execute ([^:]+)|statement): INSERT INTO pdo_items", log):
        name = m.group(1)
        kinds["simple" if name is None else "unnamed" if name == "<unnamed>" else "named"] += 1
    return kinds


def expected_pdo_prepared(k, mode):
    rows = [(k * 1000 + i, i % 5, f"v{k}-{i:02d}") for i in range(40)]
    per_group = []
    for g in range(5):
        ids = [i for i, grp, _ in rows if grp == g]
        per_group.append(f"{len(ids)}:{sum(ids)}:{max(v for _, grp, v in rows if grp == g)}")
    tx_error = []
    for j in range(3):
        # division by zero, the aborted transaction refuses the next INSERT and the new
        # statement's first execute; after rollBack() both statements work.
        tx_error += ["error:22012", "error:25P02", "error:25P02", str(100 // (j + 1)), str(j - 1)]
    return {
        "emulate": mode == "emulate",
        "groups": [per_group * 2] * 3,
        "tx_error": tx_error,
        "recreated": [f"{3 * j}:r{k}" + (f"|{3 * (j + 1)}:t{k}" if j % 3 == 0 else "") for j in range(12)],
        "scoped": [str(k * 10 + j + 1000) for j in range(6)],
        "twins": ["8", "9", "10", "11"],
        "aborted_dealloc": ["5", "error:22012", "35"],
        "final": f"{len(rows)}:{sum(i for i, _, _ in rows)}",  # the rolled-back rows are gone
    }


@pytest.mark.parametrize("mode", PDO_MODES)
def test_pdo_prepared_statements_across_transactions_and_processes(both, pg, statement_log, mode):
    # 4 PHP processes over 2 servers, each: one INSERT prepared once and executed 40 times (20
    # autocommit, 4 transactions of 5), a SELECT with named placeholders per group in autocommit
    # and in a transaction, errors then rollBack(), statements destroyed and prepared again.
    def scenario(endpoint, db, proxy):
        with connect(endpoint, db) as c:
            c.execute("CREATE TABLE pdo_items (id int PRIMARY KEY, grp int NOT NULL, v text NOT NULL)")
        mark = pg.log_mark()
        outs = run_all([php("prepared", mode, endpoint, db, k) for k in range(PHP_WORKERS)])
        return outs, insert_kinds(pg.log_since(mark)), pins_started(proxy), reprepared(proxy)

    (direct, direct_kinds, _, _), (proxied, kinds, pins, moved) = both(scenario)
    expected = [expected_pdo_prepared(k, mode) for k in range(PHP_WORKERS)]
    assert direct == expected
    assert proxied == expected
    # Each worker ran 43 INSERTs that reached the executor (40 kept, 3 rolled back), and what
    # the server ran them as shows the mode is what it says. A simple query is logged before it
    # runs, so the 3 INSERTs refused in aborted transactions count too.
    inserts = (46 if mode == "emulate" else 43) * PHP_WORKERS
    kind = {"default": "named", "emulate": "simple", "unnamed": "unnamed"}[mode]
    assert direct_kinds == {**{"named": 0, "unnamed": 0, "simple": 0}, kind: inserts}
    assert kinds == direct_kinds
    assert pins == NO_PINS
    if mode == "default":
        assert moved == MOVED


# PHP PDO: lastInsertId() -------------------------------------------------------------------------

def create_sequence_tables(endpoint, db):
    with connect(endpoint, db) as c:
        c.execute("CREATE TABLE pdo_seq (id serial PRIMARY KEY, who int NOT NULL, i int NOT NULL)")
        c.execute("CREATE TABLE pdo_ident (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
                  "who int NOT NULL, i int NOT NULL)")


def wrong_ids(endpoint, db, table, who, got):
    """Where the ids lastInsertId() gave worker `who` (in the order of i) are not the ids of the
    rows it inserted: (i, id it got or its error, whose row that id is, id of its own row)."""
    with connect(endpoint, db) as c:
        rows = c.execute(f"SELECT i, id FROM {table} WHERE who = %s ORDER BY i", (who,)).fetchall()
        owners = {id_: (w, i) for id_, w, i in c.execute(f"SELECT id, who, i FROM {table}").fetchall()}
    assert [i for i, _ in rows] == list(range(len(got))), (table, who, rows)
    return [(i, g, "who=%s i=%s" % owners.get(int(g), ("?", "?")) if g.isdigit() else "-", own)
            for (i, own), g in zip(rows, got) if g != str(own)]


def test_pdo_last_insert_id_while_others_work(both):
    # Two PHP processes insert into a serial and an identity table, 60 times each, and read the
    # id with lastInsertId() (SELECT LASTVAL()) and lastInsertId($seq) (SELECT CURRVAL($1)
    # through PQexecParams), every fourth INSERT in a transaction of its own read after COMMIT.
    # Two more processes run prepared reads meanwhile (no sequences). No more clients draw from
    # sequences than there are servers, so each inserter must read its own ids (docs/limitations.md,
    # "Sequences": pgmux keeps a client's previous server for its currval()/lastval()).
    def scenario(endpoint, db, proxy):
        create_sequence_tables(endpoint, db)
        outs = run_all([php("lastid", "default", endpoint, db, k) for k in (1, 2)] +
                       [php("reader", "default", endpoint, db, k) for k in (3, 4)])
        wrong = {f"{table} who={k}": wrong_ids(endpoint, db, table, k, out[key])
                 for k, out in zip((1, 2), outs) for table, key in (("pdo_seq", "seq"), ("pdo_ident", "ident"))}
        return wrong, outs[2:], pins_started(proxy)

    direct, (wrong, reads, pins) = both(scenario)
    no_mistakes = {f"{table} who={k}": [] for k in (1, 2) for table in ("pdo_seq", "pdo_ident")}
    assert direct[0] == no_mistakes
    assert reads == direct[1] == [{"reads": 400}] * 2
    assert wrong == no_mistakes, "lastInsertId() gave ids of other rows (or an error)"
    assert pins == NO_PINS


def test_pdo_last_insert_id_two_connections_taking_turns(both):
    # One PHP program, two PDO connections A and B, 10 times: A inserts, B inserts, A reads its
    # id, B reads its id (alternately lastInsertId() and lastInsertId($seq)). No concurrency at
    # all, and two clients over two servers.
    def scenario(endpoint, db, proxy):
        create_sequence_tables(endpoint, db)
        (out,) = run_all([php("lastid_pair", "default", endpoint, db, 0)])
        return {"a": wrong_ids(endpoint, db, "pdo_seq", 1, out["a"]),
                "b": wrong_ids(endpoint, db, "pdo_seq", 2, out["b"])}, pins_started(proxy)

    (direct, _), (proxied, pins) = both(scenario)
    assert direct == {"a": [], "b": []}
    assert proxied == {"a": [], "b": []}, "lastInsertId() gave ids of other rows (or an error)"
    assert pins == NO_PINS


# PHP PDO: session settings -----------------------------------------------------------------------

def expected_settings(k, default_zone):
    zone = ZONES[k % len(ZONES)]
    rows_a = [k * 10 + j for j in range(k + 3)]
    rows_b = [k * 100 + j for j in range(2)]

    def probe(rows, schema, tz):
        return f"{len(rows)}:{sum(rows)}:{schema}:{tz}:{pg_text(AT, tz)}"
    return {
        "a": [probe(rows_a, f"w{k}a", zone)],  # one answer from 20 statements in 10 transactions
        "rolled_back_set": [probe(rows_a, f"w{k}a", "Asia/Tokyo"), probe(rows_a, f"w{k}a", zone)],
        "set_local": [probe(rows_a, f"w{k}a", "Pacific/Auckland"), probe(rows_a, f"w{k}a", zone)],
        "b": [probe(rows_b, f"w{k}b", zone)],
        "reset": "error:42P01",  # no acct in public
        "reset_zone": default_zone,
    }


@pytest.mark.parametrize("mode", ["default", "emulate"])
def test_pdo_search_path_and_time_zone_carry_over(both, pg, mode):
    # 4 PHP processes, each with its own search_path (two schemas of its own with a table acct
    # each) and time zone, set once with PDO::exec and relied on by later transactions.
    def scenario(endpoint, db, proxy):
        outs = run_all([php("settings", mode, endpoint, db, k) for k in range(PHP_WORKERS)])
        return outs, pins_started(proxy)

    (direct, _), (proxied, pins) = both(scenario)
    default_zone = pg.query("SHOW TimeZone")[0][0]
    expected = [expected_settings(k, default_zone) for k in range(PHP_WORKERS)]
    assert direct == expected
    assert proxied == expected
    assert pins == NO_PINS


# Ruby pg -------------------------------------------------------------------------------------------

def expected_ruby_prepared(k):
    ids = [k * 1000 + i for i in range(30)]

    def group(g):
        mine = [i for i in ids if i % 5 == g]
        return f"{len(mine)}:{sum(mine)}"
    names = [
        "error:42P05", str(2 * (k * 1000 + 100)),      # prepare of a used name; the old one runs
        "error:26000", "error:26000", "error:26000",   # exec_prepared, DEALLOCATE, describe of none
        "count,coalesce",
        "deallocated", "error:26000",                  # DEALLOCATE sel, then it is gone
        "prepared", f"6:{k * 1000 + 26}:1",            # sel again with another text
        str(2 * (k * 1000 + 101)), "error:42P05", "error:25P02",  # 42P05 aborts the block
        str(2 * (k * 1000 + 103)),                     # after ROLLBACK 'ins' is the first one
        "error:22012", "error:25P02", f"6:{k * 1000 + 27}:2",     # refused DEALLOCATE: sel stays
        "deallocated", "error:26000",                  # DEALLOCATE rolled back: still gone
        "error:22012", "error:25P02", "error:26000",   # prepare in an aborted block: nothing
        "prepared", str(k - 2),                        # prepare in a rolled-back block: stays
        "deallocated", "error:26000", "error:26000", str(2 * (k * 1000 + 105)),  # DEALLOCATE ALL
    ]
    final = ids + [k * 1000 + 100, k * 1000 + 103, k * 1000 + 105]
    return {
        "doubled": [str(2 * i) for i in ids],
        "groups": [[group(g) for g in range(5)]] * 3,
        "params": [f"{i + k}:p{k}|{group(i % 5)}" for i in range(10)],
        "typed": ["23,23", "25,25", "7", f"x{k}", "error:22P02", k],
        "names": names,
        "final": f"{len(final)}:{sum(final)}",
    }


def test_ruby_pg_prepare_exec_prepared_deallocate_and_errors(both):
    # 6 threads, each with its own connection, over 2 servers.
    def scenario(endpoint, db, proxy):
        with connect(endpoint, db) as c:
            c.execute("CREATE TABLE rb_items (id int PRIMARY KEY, grp int NOT NULL)")
        (out,) = run_all([ruby("prepared", endpoint, db, RUBY_THREADS)])
        return out, pins_started(proxy), reprepared(proxy)

    (direct, _, _), (proxied, pins, moved) = both(scenario)
    expected = {f"t{k}": expected_ruby_prepared(k) for k in range(RUBY_THREADS)}
    assert direct == expected
    assert proxied == expected
    assert pins == NO_PINS
    assert moved == MOVED


def expected_ruby_pipeline(k):
    out = []
    for r in range(6):
        in_tx = r % 2 == 1
        first = ["ok"] + [str(2 * (k * 100 + r * 10 + i)) for i in range(3)] + ["sync"]
        second = [str(100 // (r + 1)), "error:22012", "aborted", "sync"]
        if in_tx:  # the error aborted the block opened before the pipeline: the third Sync too
            third = ["error:25P02", "aborted", "aborted", "sync", "3"]  # PQTRANS_INERROR
        else:
            third = ["25", f"r{r}k{k}", str(-2 * r), "sync", "0"]  # PQTRANS_IDLE
        out.append(first + second + third + ["5"])  # the pipeline's statement, after it
    return out


def test_ruby_pg_pipeline_with_prepared_statements(both):
    # 3 threads, each 6 pipelines of three Syncs; odd rounds inside BEGIN ... ROLLBACK.
    (ok,) = run_all([["ruby", "-rjson", "-rpg", "-e",
                      'puts JSON.generate("ok" => PG::Connection.instance_methods.include?(:enter_pipeline_mode))']])
    if not ok["ok"]:
        pytest.skip("this ruby-pg has no pipeline mode (needs >= 1.3 built with libpq >= 14)")

    def scenario(endpoint, db, proxy):
        (out,) = run_all([ruby("pipeline", endpoint, db, 3)])
        return out, pins_started(proxy)

    (direct, _), (proxied, pins) = both(scenario)
    expected = {f"t{k}": expected_ruby_pipeline(k) for k in range(3)}
    assert direct == expected
    assert proxied == expected
    assert pins == NO_PINS
