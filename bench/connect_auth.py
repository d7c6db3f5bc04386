"""`pgbench -C` connect rates with SCRAM and with TLS on the client leg, for
pgmux and PgBouncer 1.18 in the same run (used by bench.py).

Each variant gets its own pooler pair, configured alike:
- scram: auth_type scram-sha-256 towards clients; both poolers read the same
  SCRAM verifier from their auth file (the server leg stays trust).
- tls: client_tls_sslmode require with the same certificate and key (an EC
  P-256 key made with the openssl CLI); pgbench runs with PGSSLMODE=require.
- tls+scram: both. libpq's channel_binding=prefer makes pgbench use
  SCRAM-SHA-256-PLUS with pgmux; PgBouncer 1.18 does not offer it, so there
  pgbench uses SCRAM-SHA-256.
"""
import os
import shutil
import subprocess
import tempfile

from harness.clients import client_env, parse_pgbench, run_client
from harness.net import Endpoint, free_port
from harness.proxy import ProxyProcess, pgbouncer_ini
from harness.users import give_to_server_user, popen_user_kwargs

USER, PASSWORD = "bench_scram", "bench-Scram-pw-41"
VARIANTS = ("scram", "tls", "tls+scram")


def make_cert(directory):
    crt, key = os.path.join(directory, "server.crt"), os.path.join(directory, "server.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", crt,
                    "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    for f in (crt, key):
        give_to_server_user(f)
        os.chmod(f, 0o600)
    return crt, key


class Setup:
    """The role, its verifier, a certificate and the auth file, in a directory
    both poolers can read (PgBouncer runs as the postgres user)."""

    def __init__(self, pg):
        pg.query(f"DROP ROLE IF EXISTS {USER}")
        pg.query(f"SET password_encryption = 'scram-sha-256'; "
                 f"CREATE ROLE {USER} LOGIN PASSWORD '{PASSWORD}'")
        pg.query(f"GRANT pg_read_all_data TO {USER}")
        verifier = pg.query("SELECT rolpassword FROM pg_authid WHERE rolname = %s", (USER,))[0][0]
        self.dir = tempfile.mkdtemp(prefix="pgmux-bench-auth-")
        os.chmod(self.dir, 0o755)
        give_to_server_user(self.dir)
        self.cert, self.key = make_cert(self.dir)
        self.auth_file = os.path.join(self.dir, "userlist.txt")
        with open(self.auth_file, "w") as f:
            f.write(f'"{USER}" "{verifier}"\n"postgres" ""\n')
        give_to_server_user(self.auth_file)

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def pgmux_flags(variant, setup):
    flags = []
    if "scram" in variant:
        flags += ["--auth-type", "scram-sha-256", "--auth-file", setup.auth_file]
    if "tls" in variant:
        flags += ["--client-tls-sslmode", "require", "--client-tls-cert-file", setup.cert,
                  "--client-tls-key-file", setup.key]
    return flags


def start_pgbouncer(variant, setup, upstream, work_dir, pool_size):
    listen = Endpoint("127.0.0.1", free_port())
    run_dir = tempfile.mkdtemp(prefix="pgmux-bench-pgbouncer-")
    os.chmod(run_dir, 0o755)
    give_to_server_user(run_dir)
    settings = {"auth_file": setup.auth_file}
    if "scram" in variant:
        settings["auth_type"] = "scram-sha-256"
    if "tls" in variant:
        settings.update(client_tls_sslmode="require", client_tls_cert_file=setup.cert,
                        client_tls_key_file=setup.key)
    # Later keys override the harness's defaults (auth_type trust, auth_file).
    ini = os.path.join(run_dir, "pgbouncer.ini")
    with open(ini, "w") as f:
        f.write(pgbouncer_ini(upstream, listen, run_dir, pool_size, "transaction", settings))
    proc = ProxyProcess("pgbouncer", ["/usr/sbin/pgbouncer", ini], listen, None,
                        os.path.join(work_dir, f"pgbouncer-{variant}.log"),
                        user_kwargs=popen_user_kwargs())
    proc.cleanup_dirs.append(run_dir)
    proc.wait_ready()
    return proc


def run_connects(endpoint, variant, duration, clients, dbname):
    user = USER if "scram" in variant else "postgres"
    env = client_env(PASSWORD if "scram" in variant else None,
                     PGSSLMODE="require" if "tls" in variant else "disable")
    argv = [os.path.join(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"), "pgbench"),
            "-h", endpoint.host, "-p", str(endpoint.port), "-U", user, "-n", "-S", "-C",
            "-c", str(clients), "-j", "2", "-T", str(duration), dbname]
    r = run_client(argv, timeout=duration * 3 + 60, check=False, env=env)
    stats = parse_pgbench(r.stdout)
    stats["ok"] = r.returncode == 0 and stats["tps"] is not None and not stats.get("failed")
    if not stats["ok"]:
        lines = r.stderr.strip().splitlines() or [f"exit {r.returncode}"]
        stats["error"] = lines[0][:160]
    return stats


def connect_variants(pg, start_pgmux, work_dir, pool_size, duration, dbname, log, clients=8,
                     variants=VARIANTS):
    """{variant: {pooler: stats}}; pgmux and PgBouncer alternate per variant."""
    setup = Setup(pg)
    out = {}
    try:
        for variant in variants:
            procs = []
            try:
                bouncer = start_pgbouncer(variant, setup, pg.endpoint, work_dir, pool_size)
                procs.append(bouncer)
                mux = start_pgmux(pg.endpoint, work_dir, pool_size, pgmux_flags(variant, setup))
                procs.append(mux)
                for name, proc in (("pgbouncer", bouncer), ("pgmux", mux)):
                    stats = run_connects(proc.endpoint, variant, duration, clients, dbname)
                    out.setdefault(variant, {})[name] = stats
                    log(f"  -C {variant:9} {name:9} " +
                        (f"{stats['tps']:.0f} tps" if stats["ok"] else "FAILED " + stats["error"]))
            finally:
                for proc in procs:
                    proc.expect_exit = True
                    proc.stop()
    finally:
        setup.cleanup()
    return out


def print_variants(rows, clients=8):
    print(f"\n## pgbench -S -C with SCRAM and TLS on the client leg ({clients} clients)\n")
    print("| client leg | PgBouncer 1.18 | pgmux | pgmux/PgBouncer | avg connection time "
          "(PgBouncer / pgmux) |")
    print("|---|---|---|---|---|")
    for variant, by in rows.items():
        b, m = by.get("pgbouncer", {}), by.get("pgmux", {})

        def cell(s):
            return f"{s['tps']:.0f}" if s.get("ok") else f"error: {s.get('error')}"

        ratio = f"{m['tps'] / b['tps']:.2f}x" if b.get("ok") and m.get("ok") else "-"
        times = (f"{b['connection_ms']:.3f} / {m['connection_ms']:.3f} ms"
                 if b.get("ok") and m.get("ok") else "-")
        print(f"| {variant} | {cell(b)} | {cell(m)} | {ratio} | {times} |")
