"""TCP keepalive on the sockets pgmux serves and opens (config::TcpOptions).

Read from the kernel's own view: /proc/net/tcp lists each socket's active
timer, and a quiet connection with keepalive on has its keepalive timer
armed (timer kind 2) for the idle time configured. Options with no visible
timer are read from pgmux's own sockets, duplicated into the test with
pidfd_getfd(2)."""

import ctypes
import os
import socket
import subprocess
import time

import psycopg
import pytest

from harness.net import tcp_sockets
from harness.proxy import pgmux_binary

KEEPALIVE_TIMER = 2
USER_HZ = 100  # /proc/net/tcp counts timer expiries in clock ticks


def established_sockets(pid, with_fd=False):
    """(local port, remote port, timer kind, ticks until it fires) of the
    process's established IPv4 TCP sockets, with the descriptor last if asked."""
    return [row[1:] if with_fd else row[1:5] for row in tcp_sockets(pid) if row[0] == "01"]


def quiet_connections(proxy, pg):
    """The proxy's sockets towards one idle client and towards PostgreSQL,
    once both have been quiet for a moment."""
    conn = psycopg.connect(host=proxy.endpoint.host, port=proxy.endpoint.port, user="postgres",
                           dbname="postgres", autocommit=True)
    try:
        conn.execute("SELECT 1").fetchall()
        time.sleep(0.5)  # acknowledgements settle; the keepalive timer takes over
        sockets = established_sockets(proxy.pid)
        to_client = [s for s in sockets if s[0] == proxy.endpoint.port]
        to_server = [s for s in sockets if s[1] == pg.endpoint.port]
        return to_client, to_server
    finally:
        conn.close()


def test_keepalive_probes_quiet_client_and_server_connections(pgmux, pg):
    proxy = pgmux("--tcp-keepidle", "5", "--tcp-keepintvl", "2", "--tcp-keepcnt", "3")
    to_client, to_server = quiet_connections(proxy, pg)
    assert to_client and to_server, (to_client, to_server)
    for local, remote, kind, when in to_client + to_server:
        assert kind == KEEPALIVE_TIMER, f"{local}->{remote}: timer kind {kind}"
        assert when <= 5 * USER_HZ, f"{local}->{remote}: first probe in {when / USER_HZ} s"


def test_keepalive_can_be_turned_off(pgmux, pg):
    proxy = pgmux("--tcp-keepalive", "0")  # PgBouncer spells it 0; pgmux takes false too
    to_client, to_server = quiet_connections(proxy, pg)
    assert to_client and to_server, (to_client, to_server)
    for local, remote, kind, _ in to_client + to_server:
        assert kind != KEEPALIVE_TIMER, f"{local}->{remote} probes although keepalive is off"


@pytest.mark.parametrize("key,value", [("tcp_keepcnt", "1000"), ("tcp_keepalive", "maybe")])
def test_invalid_keepalive_setting_names_the_key(tmp_path, pg, key, value):
    config = tmp_path / "pgmux.toml"
    config.write_text(f'{key} = "{value}"\n')
    out = subprocess.run([pgmux_binary(), "--listen", "127.0.0.1:0", "--upstream",
                          f"127.0.0.1:{pg.port}", "--config", str(config)],
                         capture_output=True, text=True, timeout=10)
    assert out.returncode == 2
    assert key in out.stderr


SYS_PIDFD_GETFD = 438  # x86-64 and arm64 alike


def socket_option_of(pid, fd, level, option):
    """getsockopt on socket `fd` of process `pid` (a copy of the descriptor,
    taken with pidfd_getfd: the connection itself is not touched)."""
    libc = ctypes.CDLL(None, use_errno=True)
    pidfd = os.pidfd_open(pid)
    try:
        copy = libc.syscall(SYS_PIDFD_GETFD, pidfd, fd, 0)
        if copy < 0:
            err = ctypes.get_errno()
            raise OSError(err, f"pidfd_getfd({pid}, {fd}): {os.strerror(err)}")
        with socket.socket(fileno=copy) as s:
            return s.getsockopt(level, option)
    finally:
        os.close(pidfd)


def tcp_connection_fds(proxy, pg):
    """pgmux's descriptors of its connections to clients and to PostgreSQL,
    as {fd: "client" | "server"}."""
    kinds = {}
    for local, remote, _, _, fd in established_sockets(proxy.pid, with_fd=True):
        if local == proxy.endpoint.port:
            kinds[fd] = "client"
        elif remote == pg.endpoint.port:
            kinds[fd] = "server"
    return kinds


@pytest.mark.parametrize("flag,expected", [(("--tcp-user-timeout", "7000"), 7000), ((), 0)])
def test_user_timeout_is_set_on_client_and_server_sockets(pgmux, pg, flag, expected):
    proxy = pgmux(*flag)
    with psycopg.connect(host=proxy.endpoint.host, port=proxy.endpoint.port, user="postgres",
                         dbname="postgres", autocommit=True) as conn:
        conn.execute("SELECT 1").fetchall()  # the server connection stays open, idle
        fds = tcp_connection_fds(proxy, pg)
        assert sorted(fds.values()) == ["client", "server"], fds
        for fd, kind in fds.items():
            value = socket_option_of(proxy.pid, fd, socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT)
            assert value == expected, f"{kind} socket: TCP_USER_TIMEOUT {value}"
