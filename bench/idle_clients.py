#!/usr/bin/python3
"""Holds many idle client connections open against a PostgreSQL-protocol
endpoint: each completes the startup handshake (StartupMessage through
ReadyForQuery) and then sits idle.

usage: idle_clients.py HOST PORT COUNT [--user U] [--database D] [--concurrency N]
                        [--query SQL]

With --query each client runs SQL once after logging in (an application's
pooled connection that has done some work) before it goes idle.

Prints `ready OK FAILED` once every handshake has finished, then holds the
connections until stdin closes or it receives SIGTERM/SIGINT.
"""
import argparse
import asyncio
import signal
import struct
import sys


def startup_packet(user: str, database: str) -> bytes:
    body = struct.pack("!I", 3 << 16)
    for key, value in (("user", user), ("database", database), ("application_name", "idle")):
        body += key.encode() + b"\0" + value.encode() + b"\0"
    body += b"\0"
    return struct.pack("!I", len(body) + 4) + body


async def read_until_ready(reader, timeout) -> bool:
    while True:
        header = await asyncio.wait_for(reader.readexactly(5), timeout)
        kind, length = header[:1], struct.unpack("!I", header[1:])[0]
        await asyncio.wait_for(reader.readexactly(length - 4), timeout)
        if kind == b"Z":
            return True
        if kind == b"E":
            return False


def query_message(sql: str) -> bytes:
    body = sql.encode() + b"\0"
    return b"Q" + struct.pack("!I", len(body) + 4) + body


async def handshake(host, port, packet, gate, timeout, query=None):
    async with gate:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
            writer.write(packet)
            await writer.drain()
            ok = await read_until_ready(reader, timeout)
            if ok and query:
                writer.write(query_message(query))
                await writer.drain()
                ok = await read_until_ready(reader, timeout)
            if not ok:
                writer.close()
                return None
            return writer
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError):
            return None


async def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("count", type=int)
    ap.add_argument("--user", default="postgres")
    ap.add_argument("--database", default="postgres")
    ap.add_argument("--concurrency", type=int, default=200)
    ap.add_argument("--timeout", type=float, default=30)
    ap.add_argument("--query", help="run this once after logging in")
    a = ap.parse_args()

    packet = startup_packet(a.user, a.database)
    gate = asyncio.Semaphore(a.concurrency)
    writers = await asyncio.gather(*(handshake(a.host, a.port, packet, gate, a.timeout, a.query)
                                     for _ in range(a.count)))
    held = [w for w in writers if w is not None]
    print(f"ready {len(held)} {a.count - len(held)}", flush=True)

    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, done.set)
    loop.add_reader(sys.stdin.fileno(), lambda: (sys.stdin.buffer.read1(1) or None) or done.set())
    await done.wait()
    for w in held:
        w.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
