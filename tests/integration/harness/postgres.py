"""A throwaway PostgreSQL 15 cluster: initdb into a temporary directory, a free
port on 127.0.0.1, unix sockets inside the directory, torn down afterwards."""
import os
import shutil
import signal
import subprocess
import tempfile
import time

import psycopg

from .net import Endpoint, free_port, wait_until
from .users import give_to_server_user, popen_user_kwargs

PG_BIN = os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin")

# Roles with passwords for authentication tests (trust covers everyone else).
SUPERUSER = "postgres"
SCRAM_USER, SCRAM_PASSWORD = "pgmux_scram", "scram-secret"
MD5_USER, MD5_PASSWORD = "pgmux_md5", "md5-secret"

HBA = f"""\
local all all trust
host all {SCRAM_USER} 127.0.0.1/32 scram-sha-256
host all {MD5_USER} 127.0.0.1/32 md5
host all all 127.0.0.1/32 trust
"""


class PostgresServer:
    """One cluster. start() and stop() are idempotent; the log can be read
    from a mark, which lets tests count the statements a proxy replayed."""

    def __init__(self, base_dir: str | None = None, *, log_statements: bool = False,
                 settings: dict | None = None, max_connections: int = 200):
        self.base_dir = base_dir or tempfile.mkdtemp(prefix="pgmux-pg-")
        self._own_base_dir = base_dir is None
        self.data_dir = os.path.join(self.base_dir, "data")
        self.socket_dir = os.path.join(self.base_dir, "sockets")
        self.log_path = os.path.join(self.base_dir, "postgres.log")
        self.port = free_port()
        self.endpoint = Endpoint("127.0.0.1", self.port)
        self.settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.socket_dir}'",
            "max_connections": str(max_connections),
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "shared_buffers": "64MB",
            "lc_messages": "'C'",
            "log_line_prefix": "'%m [%p] %q%u@%d/%a '",
            "log_statement": "'all'" if log_statements else "'none'",
            "password_encryption": "'scram-sha-256'",
        }
        self.settings.update(settings or {})
        self._proc: subprocess.Popen | None = None
        self._log_file = None

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> "PostgresServer":
        if self._proc is not None:
            return self
        os.chmod(self.base_dir, 0o755)
        for d in (self.data_dir, self.socket_dir):
            os.makedirs(d, exist_ok=True)
            give_to_server_user(d)
            os.chmod(d, 0o700)
        self._initdb()
        self._log_file = open(self.log_path, "ab")
        self._proc = subprocess.Popen(
            [os.path.join(PG_BIN, "postgres"), "-D", self.data_dir],
            stdin=subprocess.DEVNULL, stdout=self._log_file, stderr=subprocess.STDOUT,
            **popen_user_kwargs())
        try:
            wait_until(self._ready, timeout=60, interval=0.1, what="PostgreSQL to accept connections")
        except TimeoutError:
            self.stop()
            raise RuntimeError("PostgreSQL did not start:\n" + self.log_tail())
        self._create_roles()
        return self

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # fast shutdown: rolls back, disconnects
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGQUIT)  # immediate shutdown
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        if self._log_file:
            self._log_file.close()
            self._log_file = None

    def cleanup(self) -> None:
        self.stop()
        if self._own_base_dir and os.environ.get("PGMUX_KEEP_TMP") != "1":
            shutil.rmtree(self.base_dir, ignore_errors=True)

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _initdb(self) -> None:
        if os.path.exists(os.path.join(self.data_dir, "PG_VERSION")):
            return
        r = subprocess.run(
            [os.path.join(PG_BIN, "initdb"), "-D", self.data_dir, "-U", SUPERUSER,
             "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8"],
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
            **popen_user_kwargs())
        if r.returncode != 0:
            raise RuntimeError(f"initdb failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
        with open(os.path.join(self.data_dir, "postgresql.auto.conf"), "a") as f:
            for key, value in self.settings.items():
                f.write(f"{key} = {value}\n")
        with open(os.path.join(self.data_dir, "pg_hba.conf"), "w") as f:
            f.write(HBA)

    def _ready(self) -> bool:
        if self._proc.poll() is not None:
            raise RuntimeError(f"postgres exited with {self._proc.returncode}:\n" + self.log_tail())
        try:
            with self.connect(connect_timeout=2):
                return True
        except psycopg.OperationalError:
            return False

    def _create_roles(self) -> None:
        with self.connect() as conn:
            for role, password, method in ((SCRAM_USER, SCRAM_PASSWORD, "scram-sha-256"),
                                           (MD5_USER, MD5_PASSWORD, "md5")):
                conn.execute(f"SET password_encryption = '{method}'")
                conn.execute(f"DROP ROLE IF EXISTS {role}")
                conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")

    # -- access ------------------------------------------------------------

    def connect(self, dbname: str = "postgres", user: str = SUPERUSER, **kwargs) -> psycopg.Connection:
        """A direct connection (autocommit unless told otherwise)."""
        kwargs.setdefault("autocommit", True)
        kwargs.setdefault("connect_timeout", 10)
        return psycopg.connect(host=self.endpoint.host, port=self.port, dbname=dbname,
                               user=user, **kwargs)

    def query(self, sql: str, params=None, dbname: str = "postgres") -> list[tuple]:
        """Runs one statement directly and returns its rows ([] without rows)."""
        with self.connect(dbname) as conn:
            cur = conn.execute(sql, params)
            return cur.fetchall() if cur.description else []

    def create_database(self, name: str) -> None:
        self.query(f'CREATE DATABASE "{name}"')

    def drop_database(self, name: str) -> None:
        self.query(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def backends(self, dbname: str, exclude_pid: int | None = None) -> list[tuple]:
        """(pid, usename, application_name, state, backend_xid) of client backends on dbname."""
        return self.query(
            "SELECT pid, usename, application_name, state, backend_xid::text FROM pg_stat_activity "
            "WHERE datname = %s AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
            " AND pid IS DISTINCT FROM %s ORDER BY pid",
            (dbname, exclude_pid))

    # -- logs --------------------------------------------------------------

    def set_log_statements(self, on: bool) -> None:
        """Turns log_statement=all on or off for new and existing sessions."""
        with self.connect() as conn:
            conn.execute(f"ALTER SYSTEM SET log_statement = '{'all' if on else 'none'}'")
            conn.execute("SELECT pg_reload_conf()")
        time.sleep(0.2)  # backends pick up the reload at their next command

    def log_mark(self) -> int:
        return os.path.getsize(self.log_path) if os.path.exists(self.log_path) else 0

    def log_since(self, mark: int) -> str:
        with open(self.log_path, "rb") as f:
            f.seek(mark)
            return f.read().decode("utf-8", "replace")

    def statements_since(self, mark: int) -> list[str]:
        """Statements logged (log_statement=all) since mark, in order."""
        out = []
        for line in self.log_since(mark).splitlines():
            _, sep, stmt = line.partition(" LOG:  statement: ")
            if not sep:
                _, sep, stmt = line.partition(" LOG:  execute ")
                stmt = stmt.partition(": ")[2] if sep else ""
            if sep:
                out.append(stmt)
        return out

    def log_tail(self, lines: int = 60) -> str:
        try:
            with open(self.log_path, "rb") as f:
                return "\n".join(f.read().decode("utf-8", "replace").splitlines()[-lines:])
        except OSError:
            return "(no PostgreSQL log)"
