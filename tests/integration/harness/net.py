"""Addresses and ports on loopback, and a process's sockets."""
import dataclasses
import os
import socket
import time


@dataclasses.dataclass(frozen=True)
class Endpoint:
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


def free_port() -> int:
    """A port nothing listens on right now. Another process could take it
    before we bind it; on a test machine that race is rare enough."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def accepts_connections(endpoint: Endpoint, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((endpoint.host, endpoint.port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_until(predicate, timeout: float, interval: float = 0.05, what: str = "condition"):
    """Polls predicate until it returns a truthy value; raises TimeoutError."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def socket_fds(pid: int) -> dict[str, int]:
    """{socket inode: descriptor} of a process, to find its sockets in
    /proc/net/tcp, whose tenth column is the inode."""
    fds = {}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue  # closed meanwhile
        if link.startswith("socket:["):
            fds[link[len("socket:["):-1]] = int(fd)
    return fds


def tcp_sockets(pid: int) -> list[tuple[str, int, int, int, int, int]]:
    """The process's IPv4 TCP sockets, read from /proc/net/tcp: (state, local
    port, remote port, timer kind, ticks until the timer fires, descriptor).
    State "01" is established, "0A" listening."""
    mine = socket_fds(pid)
    out = []
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            local, remote, state, timer, inode = fields[1], fields[2], fields[3], fields[5], fields[9]
            if inode not in mine:
                continue
            kind, when = timer.split(":")
            out.append((state, int(local.split(":")[1], 16), int(remote.split(":")[1], 16),
                        int(kind, 16), int(when, 16), mine[inode]))
    return out
