"""Statements running in the background, and waiting until PostgreSQL shows
them active (cancel tests)."""
import threading
import time

import psycopg

from .net import wait_until


class Background:
    """Runs one statement on a connection (or cursor) in a thread, recording the outcome."""

    def __init__(self, conn, sql, params=None):
        self.conn, self.sql, self.params = conn, sql, params
        self.result = self.error = None
        self.elapsed = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        t0 = time.monotonic()
        try:
            self.result = self.conn.execute(self.sql, self.params).fetchall()
        except psycopg.Error as e:
            self.error = e
        self.elapsed = time.monotonic() - t0

    def join(self, timeout=30):
        self.thread.join(timeout)
        assert not self.thread.is_alive(), f"{self.sql!r} still running after {timeout}s"
        return self


def wait_for_active(pg, database, needle, count=1):
    """Until `count` backends on database run a query containing needle."""
    def active():
        rows = pg.query("SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND state = "
                        "'active' AND query LIKE %s", (database, f"%{needle}%"))
        return rows[0][0] >= count
    wait_until(active, timeout=15, what=f"{count} active {needle!r}")


def run_threads(count, work, timeout=120):
    """work(i) in `count` threads; returns (i, repr) of the exceptions they raised."""
    errors = []

    def guarded(i):
        try:
            work(i)
        except Exception as e:  # noqa: BLE001 - reported by the caller
            errors.append((i, repr(e)))

    threads = [threading.Thread(target=guarded, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    return errors
