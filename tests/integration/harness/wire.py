"""Raw PostgreSQL v3 protocol over a socket, for what drivers hide: startup
packets with odd versions, SSLRequest, the exact ErrorResponse fields."""
import socket
import struct

from .net import Endpoint

PROTOCOL_3_0 = 3 << 16
SSL_REQUEST_CODE = 80877103
GSSENC_REQUEST_CODE = 80877104
CANCEL_REQUEST_CODE = 80877102


def startup_packet(params: dict, version: int = PROTOCOL_3_0) -> bytes:
    body = struct.pack("!I", version)
    for key, value in params.items():
        body += key.encode() + b"\0" + value.encode() + b"\0"
    body += b"\0"
    return struct.pack("!I", len(body) + 4) + body


def special_request(code: int) -> bytes:
    return struct.pack("!II", 8, code)


def cancel_packet(pid: int, key: int) -> bytes:
    return struct.pack("!IIII", 16, CANCEL_REQUEST_CODE, pid, key)


def message(kind: bytes, payload: bytes = b"") -> bytes:
    return kind + struct.pack("!I", len(payload) + 4) + payload


def query_message(sql: str) -> bytes:
    return message(b"Q", sql.encode() + b"\0")


def error_fields(payload: bytes) -> dict:
    """ErrorResponse/NoticeResponse fields by code letter: S, V, C, M, D, H ..."""
    fields = {}
    for part in payload.split(b"\0"):
        if part:
            fields[chr(part[0])] = part[1:].decode("utf-8", "replace")
    return fields


class RawConnection:
    def __init__(self, endpoint: Endpoint, timeout: float = 10):
        self.sock = socket.create_connection((endpoint.host, endpoint.port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._buf = b""

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data: bytes):
        self.sock.sendall(data)

    def recv_exact(self, n: int) -> bytes:
        while len(self._buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"connection closed with {len(self._buf)} of {n} bytes read")
            self._buf += chunk
        out, self._buf = self._buf[:n], self._buf[n:]
        return out

    def recv_byte(self) -> bytes:
        return self.recv_exact(1)

    def recv_message(self) -> tuple[bytes, bytes]:
        kind = self.recv_exact(1)
        (length,) = struct.unpack("!I", self.recv_exact(4))
        return kind, self.recv_exact(length - 4)

    def read_until_closed(self) -> bytes:
        """Whatever arrives until the peer closes (the buffered rest included)."""
        data, self._buf = self._buf, b""
        while True:
            chunk = self.sock.recv(65536)
            if not chunk:
                return data
            data += chunk

    def startup(self, user="postgres", dbname="postgres", version=PROTOCOL_3_0, **params):
        self.send(startup_packet({"user": user, "database": dbname, **params}, version))

    def read_until_ready(self) -> list[tuple[bytes, bytes]]:
        """Messages up to and including ReadyForQuery, or up to an ErrorResponse
        the server closes the connection after (startup errors are FATAL)."""
        messages = []
        while True:
            try:
                kind, payload = self.recv_message()
            except ConnectionError:
                if messages and messages[-1][0] == b"E":
                    return messages
                raise
            messages.append((kind, payload))
            if kind == b"Z":
                return messages

    def backend_key(self, messages) -> tuple[int, int] | None:
        for kind, payload in messages:
            if kind == b"K":
                return struct.unpack("!II", payload)
        return None


def first_error(messages) -> dict | None:
    for kind, payload in messages:
        if kind == b"E":
            return error_fields(payload)
    return None
