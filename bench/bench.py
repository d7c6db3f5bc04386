#!/usr/bin/python3
"""pgmux vs PgBouncer vs direct PostgreSQL, measured in one run.

Starts its own PostgreSQL 15 (throwaway cluster), PgBouncer 1.18 in
transaction mode and pgmux in transaction mode with the same pool size, runs
`pgbench -i -s SCALE` once, then `pgbench -S` for every protocol and client
count against the three targets back to back (interleaved, so drift in the
machine's speed hits all three alike), then the RSS of each pooler holding
many idle clients, then `pgbench -C` connect rates. Prints tables with TPS,
average latency and the ratios to direct and to PgBouncer.

Run it through bench/run.sh (it raises the open-file limit). Never part of
the test suite.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))

from harness.clients import parse_pgbench, pgbench  # noqa: E402
from harness.net import Endpoint, free_port  # noqa: E402
from harness.postgres import PostgresServer  # noqa: E402
from harness.proxy import ProxyProcess, pgmux_binary, start_pgbouncer  # noqa: E402
from connect_auth import connect_variants, print_variants  # noqa: E402

DB = "bench"


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def start_pgmux(upstream, work_dir, pool_size, extra):
    listen = Endpoint("127.0.0.1", free_port())
    admin = Endpoint("127.0.0.1", free_port())  # counters for the parse figures
    argv = [pgmux_binary(), "--listen", str(listen), "--upstream", str(upstream),
            "--pool-size", str(pool_size), "--pool-mode", "transaction",
            "--max-client-conn", "50000", "--log-level", "warn",
            "--admin-listen", str(admin), *extra]
    proc = ProxyProcess("pgmux", argv, listen, admin, os.path.join(work_dir, "pgmux.log"))
    proc.wait_ready()
    return proc


PARSE_COUNTERS = ("pgmux_transactions_total", "pgmux_client_parses_total",
                  "pgmux_server_parses_total", "pgmux_parses_saved_total")


def start_forwarder(upstream, work_dir):
    """The floor: floor_forwarder.c, built here with the system's C compiler."""
    binary = os.path.join(work_dir, "floor_forwarder")
    subprocess.run(["cc", "-O2", "-o", binary, os.path.join(HERE, "floor_forwarder.c")], check=True)
    listen = Endpoint("127.0.0.1", free_port())
    argv = [binary, str(listen.port), upstream.host, str(upstream.port)]
    proc = ProxyProcess("forwarder", argv, listen, None, os.path.join(work_dir, "forwarder.log"))
    proc.wait_ready()
    return proc


def pgmux_counters(admin):
    """The counters behind the parses-per-transaction figures, from /metrics."""
    url = f"http://{admin.host}:{admin.port}/metrics"
    text = urllib.request.urlopen(url, timeout=10).read().decode()
    values = {}
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name in PARSE_COUNTERS:
            values[name] = float(value)
    return values


def cpu_seconds(pid):
    """User plus system CPU time of a process, all its threads (/proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()  # after the command name
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_pgbench(endpoint, args, timeout):
    r = pgbench(endpoint, *args, dbname=DB, timeout=timeout, check=False)
    stats = parse_pgbench(r.stdout)
    stats["ok"] = r.returncode == 0 and stats["tps"] is not None and not stats.get("failed")
    if not stats["ok"]:
        lines = r.stderr.strip().splitlines()
        server = [l for l in lines if "ERROR:" in l or "FATAL:" in l]
        first = (server or lines or ["exit %d" % r.returncode])[0]
        stats["error"] = first.replace("pgbench: error: ", "")[:160]
    return stats


def fmt_ratio(a, b):
    return f"{a / b:.2f}x" if a and b else "-"


def throughput(targets, modes, clients, duration, rounds, admins=None, pids=None):
    """results[(mode, clients, target)] = list of pgbench stats; for targets
    in `admins` (name -> admin endpoint) the stats include the counter deltas,
    for those in `pids` (name -> process id) the process's CPU time per
    transaction."""
    admins = admins or {}
    pids = pids or {}
    results = {}
    for rnd in range(rounds):
        for mode in modes:
            for n in clients:
                # Rotate the order each round so no target always goes first.
                order = targets[rnd % len(targets):] + targets[:rnd % len(targets)]
                for name, endpoint in order:
                    args = ["-n", "-S", "-M", mode, "-c", n, "-j", min(2, n), "-T", duration]
                    before = pgmux_counters(admins[name]) if name in admins else None
                    cpu_before = cpu_seconds(pids[name]) if name in pids else None
                    stats = run_pgbench(endpoint, args, timeout=duration * 3 + 60)
                    if cpu_before is not None and stats["ok"] and stats["processed"]:
                        used = cpu_seconds(pids[name]) - cpu_before
                        stats["cpu_us_per_txn"] = used * 1e6 / stats["processed"]
                    if before is not None:
                        after = pgmux_counters(admins[name])
                        stats["counters"] = {k: after.get(k, 0) - before.get(k, 0)
                                             for k in PARSE_COUNTERS}
                    results.setdefault((mode, n, name), []).append(stats)
                    shown = f"{stats['tps']:.0f} tps" if stats["ok"] else "FAILED " + stats["error"]
                    log(f"  round {rnd + 1} -S -M {mode:8} -c {n:3} {name:9} {shown}")
    return results


def summarize(runs):
    ok = [r for r in runs if r["ok"]]
    if not ok:
        return None, None, runs[-1].get("error")
    return (statistics.median(r["tps"] for r in ok),
            statistics.median(r["latency_ms"] for r in ok), None)


def print_throughput(results, modes, clients, names):
    print("\n## pgbench -S: TPS (average latency)\n")
    floor = "forwarder" in names
    header = ("| mode | clients | " + " | ".join(names) + " | pgmux/direct | pgmux/pgbouncer | "
              "pgbouncer/direct |" + (" forwarder/direct | pgmux/forwarder |" if floor else ""))
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for mode in modes:
        for n in clients:
            tps = {}
            cells = []
            for name in names:
                t, lat, err = summarize(results[(mode, n, name)])
                tps[name] = t
                cells.append(f"{t:.0f} ({lat:.2f} ms)" if t else f"error: {err}")
            print(f"| {mode} | {n} | " + " | ".join(cells) + " | "
                  f"{fmt_ratio(tps.get('pgmux'), tps.get('direct'))} | "
                  f"{fmt_ratio(tps.get('pgmux'), tps.get('pgbouncer'))} | "
                  f"{fmt_ratio(tps.get('pgbouncer'), tps.get('direct'))} |" +
                  (f" {fmt_ratio(tps.get('forwarder'), tps.get('direct'))} | "
                   f"{fmt_ratio(tps.get('pgmux'), tps.get('forwarder'))} |" if floor else ""))


def print_round_ratios(results, modes, clients, names):
    """pgmux/PgBouncer per round. The two run back to back within a round, so
    their ratio pairs like with like; its spread over the rounds shows how far
    a median ratio can be trusted (consecutive runs of one binary scatter by
    10 % or more on two shared cores)."""
    if "pgmux" not in names or "pgbouncer" not in names:
        return
    print("\n## pgmux/pgbouncer per round\n")
    print("| mode | clients | per round | median | min | max |")
    print("|---|---|---|---|---|---|")
    for mode in modes:
        for n in clients:
            pairs = zip(results[(mode, n, "pgmux")], results[(mode, n, "pgbouncer")])
            ratios = [m["tps"] / b["tps"] for m, b in pairs if m["ok"] and b["ok"] and b["tps"]]
            if not ratios:
                continue
            shown = ", ".join(f"{r:.2f}x" for r in ratios)
            print(f"| {mode} | {n} | {shown} | {statistics.median(ratios):.2f}x | "
                  f"{min(ratios):.2f}x | {max(ratios):.2f}x |")


def print_cpu(results, modes, clients, names):
    """CPU time each proxy process spent per transaction. Steadier than TPS
    on shared cores: a round that loses the CPU to a neighbour runs fewer
    transactions, but each costs the proxy about the same. Clock ticks
    (1/100 s) over a run of a few seconds: read it over several rounds."""
    measured = [n for n in names
                if any("cpu_us_per_txn" in r for m in modes for c in clients
                       for r in results.get((m, c, n), []))]
    if not measured:
        return
    ratio = "pgmux" in measured and "pgbouncer" in measured
    print("\n## Proxy CPU per transaction (user + system, median of the rounds)\n")
    header = "| mode | clients | " + " | ".join(measured) + " |" + (" pgmux/pgbouncer |" if ratio else "")
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for mode in modes:
        for n in clients:
            med = {}
            for name in measured:
                values = [r["cpu_us_per_txn"] for r in results.get((mode, n, name), [])
                          if "cpu_us_per_txn" in r]
                med[name] = statistics.median(values) if values else None
            cells = [f"{med[x]:.1f} µs" if med[x] else "-" for x in measured]
            print(f"| {mode} | {n} | " + " | ".join(cells) + " |" +
                  (f" {fmt_ratio(med['pgmux'], med['pgbouncer'])} |" if ratio else ""))


def print_parses(results, modes, clients):
    """Parse messages per 1,000 transactions through pgmux (issue 5)."""
    rows = []
    for mode in modes:
        if mode == "simple":
            continue
        for n in clients:
            runs = [r for r in results.get((mode, n, "pgmux"), []) if r.get("counters")]
            if not runs:
                continue
            c = {k: sum(r["counters"][k] for r in runs) for k in PARSE_COUNTERS}
            tx = c["pgmux_transactions_total"]
            if tx <= 0:
                continue
            per = lambda k: f"{c[k] * 1000 / tx:.2f}"  # noqa: E731
            rows.append(f"| {mode} | {n} | {tx:.0f} | {per('pgmux_client_parses_total')} | "
                        f"{per('pgmux_server_parses_total')} | {per('pgmux_parses_saved_total')} |")
    if not rows:
        return
    print("\n## pgmux: Parse messages per 1,000 transactions\n")
    print("Client parses count unnamed statements too (pgbench -M extended sends one per "
          "transaction); the other two columns count named statements only.\n")
    print("| mode | clients | transactions | client parses | named parses sent to servers "
          "| named parses saved |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        print(row)


def idle_rss(poolers, count):
    """RSS of each pooler before and while holding `count` idle clients, once
    fresh from login and once after each ran one query (like an application's
    pooled connection)."""
    out = {}
    for name, proc in poolers:
        # Freed memory stays in the process (malloc keeps it), so both rounds
        # are measured against the RSS before the first one.
        baseline = proc.rss_kb()
        for variant, query in (("", None), (" after a query", "SELECT 1")):
            out[name + variant] = idle_rss_one(name + variant, proc, count, query, baseline)
    return out


def idle_rss_one(name, proc, count, query, before):
    holder = subprocess.Popen(
        ["/usr/bin/python3", os.path.join(HERE, "idle_clients.py"), proc.endpoint.host,
         str(proc.endpoint.port), str(count), "--database", DB,
         *(["--query", query] if query else [])],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        line = holder.stdout.readline().split()
        held, failed = (int(line[1]), int(line[2])) if line[:1] == ["ready"] else (0, count)
        time.sleep(1.0)
        during = proc.rss_kb()
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)
    log(f"  {name}: {held} idle clients held ({failed} failed), RSS {before} -> {during} kB")
    time.sleep(1.0)
    return {"held": held, "failed": failed, "rss_before_kb": before, "rss_kb": during}


def print_idle(rows, count):
    print(f"\n## RSS holding {count} idle clients\n")
    print("| pooler | clients held | RSS before | RSS with clients | per client |")
    print("|---|---|---|---|---|")
    for name, r in rows.items():
        per = (r["rss_kb"] - r["rss_before_kb"]) * 1024 / r["held"] if r["held"] else 0
        print(f"| {name} | {r['held']} (failed {r['failed']}) | {r['rss_before_kb'] / 1024:.1f} MiB | "
              f"{r['rss_kb'] / 1024:.1f} MiB | {per:.0f} B |")


def connect_rates(targets, duration, clients=8):
    out = {}
    for name, endpoint in targets:
        stats = run_pgbench(endpoint, ["-n", "-S", "-C", "-c", clients, "-j", 2, "-T", duration],
                            timeout=duration * 3 + 60)
        out[name] = stats
        log(f"  -C {name}: {stats['tps']} tps" if stats["ok"] else f"  -C {name}: FAILED {stats['error']}")
    return out


def print_connect(rows, clients=8):
    print(f"\n## pgbench -S -C ({clients} clients, a new connection per transaction)\n")
    print("| target | TPS incl. connecting | average connection time |")
    print("|---|---|---|")
    for name, s in rows.items():
        if s["ok"]:
            print(f"| {name} | {s['tps']:.0f} | {s['connection_ms']:.3f} ms |")
        else:
            print(f"| {name} | error: {s['error']} | - |")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=int, default=int(os.environ.get("DURATION", 10)))
    ap.add_argument("--clients", default=os.environ.get("CLIENTS", "1,8,64"))
    ap.add_argument("--modes", default=os.environ.get("MODES", "simple,extended,prepared"))
    ap.add_argument("--pool-size", type=int, default=int(os.environ.get("POOL_SIZE", 20)))
    ap.add_argument("--scale", type=int, default=int(os.environ.get("SCALE", 10)))
    ap.add_argument("--rounds", type=int, default=int(os.environ.get("ROUNDS", 1)))
    ap.add_argument("--idle-clients", type=int, default=int(os.environ.get("IDLE_CLIENTS", 10000)))
    ap.add_argument("--targets", default=os.environ.get("TARGETS", "direct,forwarder,pgbouncer,pgmux"),
                    help="forwarder = bench/floor_forwarder.c, the cost of the extra hop alone")
    ap.add_argument("--pgmux-arg", action="append", default=os.environ.get("PGMUX_ARGS", "").split(),
                    help="extra pgmux flag (repeatable), e.g. --pgmux-arg=--workers --pgmux-arg=1")
    ap.add_argument("--connect-variants",
                    default=os.environ.get("CONNECT_VARIANTS", "scram,tls,tls+scram"),
                    help="pgbench -C with SCRAM / TLS on the client leg ('' = none)")
    ap.add_argument("--only-connect", action="store_true",
                    help="skip the pgbench -S throughput runs and the idle clients")
    ap.add_argument("--upstream-socket", action="store_true",
                    default=os.environ.get("UPSTREAM_SOCKET", "") == "1",
                    help="both poolers reach PostgreSQL over its Unix-domain socket "
                         "(clients still use TCP)")
    ap.add_argument("--json", help="also write the raw figures here")
    a = ap.parse_args()
    clients = [int(c) for c in a.clients.split(",")]
    modes = a.modes.split(",")
    wanted = a.targets.split(",")

    pg = PostgresServer(max_connections=300, settings={"shared_buffers": "256MB"})
    procs = []
    try:
        log(f"PostgreSQL 15 in {pg.base_dir}")
        pg.start()
        pg.create_database(DB)
        log(f"pgbench -i -s {a.scale}")
        pgbench(pg.endpoint, "-i", "-q", "-s", a.scale, dbname=DB, timeout=900)
        pg.query("VACUUM ANALYZE", dbname=DB)
        targets = [("direct", pg.endpoint)]
        upstream = Endpoint(pg.socket_dir, pg.port) if a.upstream_socket else pg.endpoint
        poolers = []
        hops = []  # not poolers: no idle-client RSS for it
        if "forwarder" in wanted:
            forwarder = start_forwarder(upstream, pg.base_dir)
            procs.append(forwarder)
            hops.append(("forwarder", forwarder))
        if "pgbouncer" in wanted:
            bouncer = start_pgbouncer(upstream, pg.base_dir, Endpoint("127.0.0.1", free_port()),
                                      pool_size=a.pool_size, pool_mode="transaction")
            procs.append(bouncer)
            poolers.append(("pgbouncer", bouncer))
        if "pgmux" in wanted:
            mux = start_pgmux(upstream, pg.base_dir, a.pool_size, a.pgmux_arg)
            procs.append(mux)
            poolers.append(("pgmux", mux))
        targets = [t for t in targets if t[0] in wanted] + [
            (n, p.endpoint) for n, p in hops + poolers]
        names = [n for n, _ in targets]

        results = {}
        if not a.only_connect:
            log(f"pgbench -S, {a.duration}s each, pool size {a.pool_size}, {a.rounds} round(s)")
            admins = {n: p.admin_endpoint for n, p in poolers if n == "pgmux"}
            pids = {n: p.pid for n, p in hops + poolers}
            results = throughput(targets, modes, clients, a.duration, a.rounds, admins, pids)
        idle = {}
        if a.idle_clients and poolers and not a.only_connect:
            log(f"idle clients: {a.idle_clients}")
            idle = idle_rss(poolers, a.idle_clients)
        log("pgbench -C")
        # The forwarder's connect rate is PostgreSQL's own (one backend per client).
        conn = connect_rates([t for t in targets if t[0] != "forwarder"], a.duration)
        variants = {}
        wanted_variants = [v for v in a.connect_variants.split(",") if v]
        if wanted_variants and "pgmux" in wanted and "pgbouncer" in wanted:
            log("pgbench -C with SCRAM / TLS")
            variants = connect_variants(pg, start_pgmux, pg.base_dir, a.pool_size, a.duration, DB,
                                        log, variants=wanted_variants)

        print(f"\npgbench -S -T {a.duration} -j 2, scale {a.scale}, pool size {a.pool_size} "
              f"(transaction mode), {os.cpu_count()} CPUs shared by PostgreSQL, pooler and pgbench; "
              f"median of {a.rounds} round(s); poolers reach PostgreSQL over "
              f"{'its Unix-domain socket' if a.upstream_socket else 'TCP'}")
        if results:
            print_throughput(results, modes, clients, names)
            print_round_ratios(results, modes, clients, names)
            print_cpu(results, modes, clients, names)
            print_parses(results, modes, clients)
        if idle:
            print_idle(idle, a.idle_clients)
        print_connect(conn)
        if variants:
            print_variants(variants)
        if a.json:
            with open(a.json, "w") as f:
                json.dump({"throughput": {"/".join(map(str, k)): v for k, v in results.items()},
                           "idle": idle, "connect": conn, "connect_variants": variants,
                           "args": vars(a)}, f, indent=1)
        for name, proc in hops + poolers:
            if not proc.alive():
                log(f"{name} died during the run:\n{proc.log_text()[-3000:]}")
                return 1
        return 0
    finally:
        for proc in procs:
            proc.expect_exit = True
            proc.stop()
        pg.cleanup()


if __name__ == "__main__":
    sys.exit(main())
