"""Starting the proxy under test.

The suite normally drives pgmux. PGMUX_TEST_TARGET=pgbouncer runs the same
tests through PgBouncer (with the flags translated into its ini) and
PGMUX_TEST_TARGET=direct straight against PostgreSQL: that is how the tests
themselves are checked, independent of pgmux. pgmux-only behaviour then fails
where PgBouncer or PostgreSQL really behave differently, which is expected.
"""
import os
import shutil
import signal
import subprocess
import tempfile

from .net import Endpoint, accepts_connections, free_port, wait_until
from .users import give_to_server_user, popen_user_kwargs

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
CRASH_SIGNALS = {signal.SIGSEGV, signal.SIGABRT, signal.SIGBUS, signal.SIGFPE, signal.SIGILL,
                 signal.SIGSYS, signal.SIGTRAP}


def target() -> str:
    return os.environ.get("PGMUX_TEST_TARGET", "pgmux")


def pgmux_binary() -> str:
    return os.environ.get("PGMUX_BIN") or os.path.join(REPO_ROOT, "build", "pgmux")


class ProxyProcess:
    """A running pgmux (or stand-in). `endpoint` is where clients connect."""

    def __init__(self, name, argv, endpoint, admin_endpoint, log_path, cwd=None, user_kwargs=None):
        self.name = name
        self.argv = argv
        self.endpoint = endpoint
        self.admin_endpoint = admin_endpoint
        self.log_path = log_path
        self.expect_exit = False  # set by tests in which the process should exit by itself
        self.problems: list[str] = []
        self.cleanup_dirs: list[str] = []
        self._log = open(log_path, "ab")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT, cwd=cwd, **(user_kwargs or {}))

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def wait_ready(self, timeout: float = 15) -> None:
        def ready():
            if not self.alive():
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode} before accepting "
                                   f"connections:\n{self.log_text()}")
            return accepts_connections(self.endpoint) and (
                self.admin_endpoint is None or accepts_connections(self.admin_endpoint))
        try:
            wait_until(ready, timeout, interval=0.05, what=f"{self.name} to accept connections")
        except TimeoutError as e:
            raise RuntimeError(f"{e}:\n{self.log_text()}") from None

    def signal(self, sig) -> None:
        if self.alive():
            self.proc.send_signal(sig)

    def wait_exit(self, timeout: float) -> int | None:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM, then SIGKILL. Records problems: an unexpected exit before
        stop, or death by a crash signal."""
        if not self.alive():
            if not self.expect_exit:
                self.problems.append(f"{self.name} exited on its own during the test "
                                     f"({describe_status(self.proc.returncode)})")
        else:
            self.proc.send_signal(signal.SIGTERM)
            if self.wait_exit(timeout) is None:
                self.problems.append(f"{self.name} ignored SIGTERM for {timeout}s; killed")
                self.proc.kill()
                self.proc.wait()
        rc = self.proc.returncode
        if rc is not None and rc < 0 and -rc in CRASH_SIGNALS:
            self.problems.append(f"{self.name} crashed: {describe_status(rc)}")
        self._log.close()
        for d in self.cleanup_dirs:
            shutil.rmtree(d, ignore_errors=True)

    def log_text(self) -> str:
        if not self._log.closed:
            self._log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def rss_kb(self) -> int:
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0


class DirectTarget:
    """Stand-in that runs a test straight against PostgreSQL."""

    name = "direct"
    admin_endpoint = None
    expect_exit = False

    def __init__(self, endpoint):
        self.endpoint = endpoint
        self.problems: list[str] = []
        self.log_path = None

    def alive(self) -> bool:
        return True

    def stop(self, timeout: float = 10) -> None:
        pass

    def log_text(self) -> str:
        return "(direct: no proxy)"


def describe_status(rc: int | None) -> str:
    if rc is None:
        return "still running"
    if rc < 0:
        try:
            return f"killed by {signal.Signals(-rc).name}"
        except ValueError:
            return f"killed by signal {-rc}"
    return f"exit code {rc}"


def pgmux_argv(upstream: Endpoint, listen: Endpoint, admin: Endpoint | None, pool_size, pool_mode,
               extra) -> list[str]:
    argv = [pgmux_binary(), "--listen", str(listen), "--upstream", str(upstream)]
    if pool_size is not None:
        argv += ["--pool-size", str(pool_size)]
    if pool_mode is not None:
        argv += ["--pool-mode", pool_mode]
    if admin is not None:
        argv += ["--admin-listen", str(admin)]
    return argv + [str(a) for a in extra]


def start_pgmux(upstream: Endpoint, work_dir: str, *extra, pool_size=5, pool_mode="transaction",
                admin=False, wait=True, ready_timeout=15):
    """Starts the proxy under test with extra command-line flags."""
    kind = target()
    if kind == "direct":
        return DirectTarget(upstream)
    listen = Endpoint("127.0.0.1", free_port())
    if kind == "pgbouncer":
        return start_pgbouncer(upstream, work_dir, listen, pool_size=pool_size, pool_mode=pool_mode,
                               extra=extra, wait=wait)
    binary = pgmux_binary()
    if not os.access(binary, os.X_OK):
        raise RuntimeError(f"pgmux binary not found at {binary} (build it, or set PGMUX_BIN)")
    admin_ep = Endpoint("127.0.0.1", free_port()) if admin else None
    log_path = os.path.join(work_dir, f"pgmux-{listen.port}.log")
    proc = ProxyProcess("pgmux", pgmux_argv(upstream, listen, admin_ep, pool_size, pool_mode, extra),
                        listen, admin_ep, log_path)
    if wait:
        try:
            proc.wait_ready(ready_timeout)
        except Exception:
            proc.expect_exit = True
            proc.stop()
            raise
    return proc


# PgBouncer stand-in -------------------------------------------------------

_PGBOUNCER_FLAGS = {
    "--max-client-conn": "max_client_conn",
    "--query-wait-timeout": "query_wait_timeout",
    "--log-level": None,
    "--workers": None,
    "--tcp-keepalive": "tcp_keepalive",
    "--tcp-keepidle": "tcp_keepidle",
    "--tcp-keepintvl": "tcp_keepintvl",
    "--tcp-keepcnt": "tcp_keepcnt",
    "--tcp-user-timeout": "tcp_user_timeout",
}


def pgbouncer_ini(upstream: Endpoint, listen: Endpoint, run_dir: str, pool_size: int, pool_mode: str,
                  settings: dict | None = None) -> str:
    lines = [
        "[databases]",
        f"* = host={upstream.host} port={upstream.port}",
        "[pgbouncer]",
        f"listen_addr = {listen.host}",
        f"listen_port = {listen.port}",
        f"unix_socket_dir = {run_dir}",
        "auth_type = trust",
        f"auth_file = {os.path.join(run_dir, 'userlist.txt')}",
        f"pool_mode = {pool_mode}",
        f"default_pool_size = {pool_size}",
        "max_client_conn = 20000",
        "max_db_connections = 0",
        "server_reset_query = DISCARD ALL",
        "ignore_startup_parameters = extra_float_digits,options",
        f"pidfile = {os.path.join(run_dir, 'pgbouncer.pid')}",
    ]
    for key, value in (settings or {}).items():
        lines.append(f"{key} = {value}")
    return "\n".join(lines) + "\n"


def start_pgbouncer(upstream, work_dir, listen, *, pool_size, pool_mode, extra=(), wait=True):
    settings = {}
    it = iter(extra)
    for flag in it:
        if flag not in _PGBOUNCER_FLAGS:
            raise RuntimeError(f"flag {flag} has no PgBouncer equivalent")
        value = next(it)
        if _PGBOUNCER_FLAGS[flag]:
            settings[_PGBOUNCER_FLAGS[flag]] = value
    # Not under work_dir: pytest's temporary directories are private to root,
    # and PgBouncer runs as the postgres user.
    run_dir = tempfile.mkdtemp(prefix="pgmux-it-pgbouncer-")
    os.chmod(run_dir, 0o755)
    give_to_server_user(run_dir)
    with open(os.path.join(run_dir, "userlist.txt"), "w") as f:
        f.write('"postgres" ""\n')
    ini = os.path.join(run_dir, "pgbouncer.ini")
    with open(ini, "w") as f:
        f.write(pgbouncer_ini(upstream, listen, run_dir, pool_size or 20, pool_mode or "session", settings))
    log_path = os.path.join(work_dir, f"pgbouncer-{listen.port}.log")
    proc = ProxyProcess("pgbouncer", ["/usr/sbin/pgbouncer", ini], listen, None, log_path,
                        user_kwargs=popen_user_kwargs())
    proc.cleanup_dirs.append(run_dir)
    if wait:
        proc.wait_ready()
    return proc

