"""The startup phase and rarer messages, over a raw socket."""
import os
import socket
import struct
import time

import pytest

from harness.clients import connect
from harness.wire import (GSSENC_REQUEST_CODE, PROTOCOL_3_0, SSL_REQUEST_CODE, RawConnection,
                          error_fields, first_error, message, query_message, special_request)

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def proxy(pgmux):
    return pgmux(pool_size=2)


def run_query(raw, sql):
    raw.send(query_message(sql))
    return raw.read_until_ready()


def data_rows(messages):
    """Text values of DataRow messages."""
    rows = []
    for kind, payload in messages:
        if kind != b"D":
            continue
        (n,), pos, row = struct.unpack_from("!H", payload), 2, []
        for _ in range(n):
            (length,) = struct.unpack_from("!i", payload, pos)
            pos += 4
            row.append(None if length < 0 else payload[pos:pos + length].decode())
            pos += max(length, 0)
        rows.append(row)
    return rows


def assert_fatal_then_closed(raw, messages):
    error = first_error(messages)
    assert error is not None, messages
    assert error["S"] == "FATAL"
    assert raw.read_until_closed() == b""
    return error


@pytest.mark.parametrize("code", [SSL_REQUEST_CODE, GSSENC_REQUEST_CODE], ids=["ssl", "gssenc"])
def test_encryption_request_answered_n_then_plain_startup(proxy, database, code):
    with RawConnection(proxy.endpoint) as raw:
        raw.send(special_request(code))
        assert raw.recv_byte() == b"N"
        raw.startup(dbname=database)
        messages = raw.read_until_ready()
        kinds = [k for k, _ in messages]
        assert kinds[0] == b"R" and messages[0][1] == struct.pack("!I", 0)  # AuthenticationOk
        assert b"S" in kinds and b"K" in kinds and kinds[-1] == b"Z"
        assert data_rows(run_query(raw, "SELECT 40 + 2")) == [["42"]]


def test_startup_reports_parameters_and_backend_key(proxy, database):
    with RawConnection(proxy.endpoint) as raw:
        raw.startup(dbname=database, application_name="raw-test")
        messages = raw.read_until_ready()
        params = dict(p[:-1].split(b"\0") for k, p in messages if k == b"S")
        assert params[b"server_version"].startswith(b"15")
        assert params[b"client_encoding"] == b"UTF8"
        assert params[b"application_name"] == b"raw-test"
        assert raw.backend_key(messages) is not None
        assert messages[-1] == (b"Z", b"I")


@pytest.mark.parametrize("version", [(2, 0), (4, 0), (1234, 1)], ids=str)
def test_unsupported_protocol_version_gets_fatal(proxy, database, version):
    with RawConnection(proxy.endpoint) as raw:
        raw.startup(dbname=database, version=(version[0] << 16) | version[1])
        reply = raw.read_until_closed()
    # An ErrorResponse, then close. (PostgreSQL itself answers a 2.0 client in
    # the old headerless format; a v3 ErrorResponse is accepted too.)
    assert reply[:1] == b"E", reply
    assert b"protocol" in reply.lower()
    if reply[1:5] == struct.pack("!I", len(reply) - 1):
        assert error_fields(reply[5:])["S"] == "FATAL"
    with connect(proxy.endpoint, database) as conn:  # still serving others
        assert conn.execute("SELECT 1").fetchone()[0] == 1


def test_unknown_protocol_option_negotiated(proxy, database):
    with RawConnection(proxy.endpoint) as raw:
        raw.startup(dbname=database, **{"_pq_.no_such_option": "on"})
        messages = raw.read_until_ready()
        kinds = [k for k, _ in messages]
        assert b"v" in kinds, kinds  # NegotiateProtocolVersion
        payload = dict(messages)[b"v"]
        newest_minor, count = struct.unpack_from("!ii", payload)
        # PostgreSQL 15 sends its newest version in full (3.0); its minor is 0.
        assert newest_minor & 0xFFFF == 0 and count == 1
        assert payload[8:].rstrip(b"\0") == b"_pq_.no_such_option"
        assert messages[-1] == (b"Z", b"I")
        assert data_rows(run_query(raw, "SELECT 'negotiated'")) == [["negotiated"]]


def test_unknown_role_gets_server_fatal(proxy, database):
    with RawConnection(proxy.endpoint) as raw:
        raw.startup(user="no_such_role", dbname=database)
        error = assert_fatal_then_closed(raw, raw.read_until_ready())
        assert error["C"] == "28000", error
        assert 'role "no_such_role" does not exist' in error["M"]


def test_unknown_database_gets_server_fatal(proxy):
    with RawConnection(proxy.endpoint) as raw:
        raw.startup(dbname="no_such_database")
        error = assert_fatal_then_closed(raw, raw.read_until_ready())
        assert error["C"] == "3D000", error


def test_missing_user_gets_fatal(proxy):
    with RawConnection(proxy.endpoint) as raw:
        raw.send(struct.pack("!II", 9, PROTOCOL_3_0) + b"\0")  # no parameters at all
        error = assert_fatal_then_closed(raw, raw.read_until_ready())
        assert error["C"] in ("28000", "08P01"), error


@pytest.mark.parametrize("packet", [
    struct.pack("!I", 4),                                   # length too small
    struct.pack("!I", 2_000_000) + struct.pack("!I", PROTOCOL_3_0),  # absurd length
    struct.pack("!II", 8, PROTOCOL_3_0),                     # no terminator
], ids=["tiny", "huge", "unterminated"])
def test_malformed_startup_closes_without_harm(proxy, database, packet):
    with RawConnection(proxy.endpoint, timeout=10) as raw:
        raw.send(packet)
        rest = raw.read_until_closed()  # possibly an ErrorResponse, then close
        if rest:
            assert rest[:1] == b"E", rest
    with connect(proxy.endpoint, database) as conn:
        assert conn.execute("SELECT 1").fetchone()[0] == 1


def test_terminate_closes_connection(proxy, database):
    with RawConnection(proxy.endpoint) as raw:
        raw.startup(dbname=database)
        raw.read_until_ready()
        raw.send(message(b"X"))
        assert raw.read_until_closed() == b""


@pytest.mark.parametrize("sql", ["SELECT 1", "BEGIN; SELECT 1"], ids=["idle", "in-transaction"])
def test_request_then_half_close_gets_its_answer_then_the_end(proxy, pg, database, sql):
    """A client that sends a request and at once shuts down its sending side
    (a TCP proxy passing on a half-close does this; so do `nc -N` scripts)
    gets the answer, then sees the connection end, as from PostgreSQL. The FIN
    mostly arrives together with the request, so pgmux must notice it although
    the read that took the request found no bytes left (net/reactor_read.h)."""
    ready = b"Z\x00\x00\x00\x05" + (b"T" if "BEGIN" in sql else b"I")
    for endpoint in (pg.endpoint, proxy.endpoint):
        for _ in range(20):
            with RawConnection(endpoint, timeout=5) as raw:
                raw.startup(dbname=database)
                raw.read_until_ready()
                raw.sock.sendall(query_message(sql))
                raw.sock.shutdown(socket.SHUT_WR)
                rest = raw.read_until_closed()  # socket.timeout if the end never comes
                assert rest.endswith(ready), (endpoint, rest)
    # The transaction the client left open was rolled back: its server went back clean.
    with RawConnection(proxy.endpoint, timeout=5) as raw:
        raw.startup(dbname=database)
        raw.read_until_ready()
        raw.send(query_message("SELECT 1"))
        assert raw.read_until_ready()[-1] == (b"Z", b"I")


def test_pipeline_then_half_close_gets_every_answer(proxy, pg, database):
    """Several extended-protocol batches, each ended by Sync, then FIN: every
    batch is answered before the end, as PostgreSQL does."""
    batch = b"".join([
        message(b"P", b"\0SELECT pg_sleep(0.05), $1::int\0\0\0"),
        message(b"B", b"\0\0\0\0\0\x01\0\0\0\x017\0\0"),
        message(b"E", b"\0\0\0\0\0"),
        message(b"S", b""),
    ])
    for endpoint in (pg.endpoint, proxy.endpoint):
        with RawConnection(endpoint, timeout=10) as raw:
            raw.startup(dbname=database)
            raw.read_until_ready()
            raw.sock.sendall(batch * 3)
            raw.sock.shutdown(socket.SHUT_WR)
            rest = raw.read_until_closed()
            assert rest.count(b"Z\x00\x00\x00\x05I") == 3, (endpoint, rest)
            assert rest.count(b"C\x00\x00\x00\x0dSELECT 1\x00") == 3, (endpoint, rest)


def test_function_call(proxy, pg, database):
    (oid,) = pg.query("SELECT 'int4abs'::regproc::oid")[0]
    arg = b"-17"
    body = struct.pack("!IHHH", oid, 1, 0, 1) + struct.pack("!i", len(arg)) + arg + \
        struct.pack("!H", 0)
    with RawConnection(proxy.endpoint) as raw:
        raw.startup(dbname=database)
        raw.read_until_ready()
        raw.send(message(b"F", body))
        messages = raw.read_until_ready()
        kinds = [k for k, _ in messages]
        assert kinds == [b"V", b"Z"], messages
        payload = messages[0][1]
        (length,) = struct.unpack_from("!i", payload)
        assert payload[4:4 + length] == b"17"


def test_bind_with_mismatched_format_count_gets_the_servers_error(proxy, database):
    """A Bind with two format codes for three parameters, to a statement whose values pgmux reads
    (set_config): PostgreSQL's own 08P01, and the session goes on."""
    sql = b"SELECT set_config('proto.a', $1, false), $2::text, $3::text\0"
    values = b"".join(struct.pack("!i", len(v)) + v for v in (b"x", b"y", b"z"))
    with RawConnection(proxy.endpoint) as raw:
        raw.startup(dbname=database)
        raw.read_until_ready()
        raw.send(message(b"P", b"\0" + sql + struct.pack("!H", 0)) +
                 message(b"B", b"\0\0" + struct.pack("!HHHH", 2, 1, 1, 3) + values +
                         struct.pack("!H", 0)) +
                 message(b"E", b"\0" + struct.pack("!i", 0)) + message(b"S"))
        messages = raw.read_until_ready()
        assert [k for k, _ in messages] == [b"1", b"E", b"Z"], messages
        error = first_error(messages)
        assert error["C"] == "08P01", error
        assert error["M"] == "bind message has 2 parameter formats but 3 parameters"
        assert data_rows(run_query(raw, "SELECT 1")) == [["1"]]


def test_error_fields_pass_through(proxy, database):
    with RawConnection(proxy.endpoint) as raw:
        raw.startup(dbname=database)
        raw.read_until_ready()
        messages = run_query(raw, "SELECT 1/0")
        error = first_error(messages)
        assert error["S"] == "ERROR" and error["V"] == "ERROR"
        assert error["C"] == "22012"
        assert error["M"] == "division by zero"
        assert "F" in error and "L" in error and "R" in error  # file, line, routine
        assert messages[-1] == (b"Z", b"I")
        notice = run_query(raw, "DO $$ BEGIN RAISE NOTICE 'note %', 1; END $$")
        fields = [error_fields(p) for k, p in notice if k == b"N"]
        assert fields and fields[0]["M"] == "note 1"


def test_slow_client_gets_a_large_result_with_bounded_buffering(proxy, database):
    # 40 MB of rows to a client that reads slowly: pgmux stops reading the
    # server while more than 1 MiB waits for the client (the relay resumes
    # when the queue drains), so its memory stays far below the result size;
    # every row arrives, and other clients are served meanwhile.
    rows, width = 40000, 1000
    before = proxy.rss_kb()
    with RawConnection(proxy.endpoint, timeout=60) as raw, connect(proxy.endpoint, database) as other:
        raw.startup(dbname=database)
        raw.read_until_ready()
        raw.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        raw.send(query_message(f"SELECT repeat('x', {width}) FROM generate_series(1, {rows})"))
        time.sleep(1.0)  # the server has long sent everything; pgmux must hold back
        peak = proxy.rss_kb()
        assert other.execute("SELECT 42").fetchone() == (42,)
        data_rows = 0
        while True:
            kind, payload = raw.recv_message()
            if kind == b"D":
                data_rows += 1
                assert len(payload) == 2 + 4 + width
                if data_rows % 2000 == 0:
                    peak = max(peak, proxy.rss_kb())
                    time.sleep(0.01)
            elif kind == b"Z":
                break
        assert data_rows == rows
    # Under AddressSanitizer (SANITIZE=... scripts/test.sh) freed memory sits in its
    # quarantine: the RSS would measure the sanitizer. The run without it checks the bound.
    if not os.environ.get("PGMUX_SANITIZE"):
        assert peak - before < 16 * 1024, f"pgmux grew by {peak - before} kB for a 40 MB result"


def test_half_close_during_a_long_query_reaches_the_server(proxy, pg, database):
    """The server learns that the client ended its input, as it would from a direct
    client: with client_connection_check_interval it stops a long query at once."""
    for endpoint in (pg.endpoint, proxy.endpoint):
        with RawConnection(endpoint, timeout=10) as raw:
            raw.startup(dbname=database)
            raw.read_until_ready()
            raw.send(query_message("SET client_connection_check_interval = '100ms'"))
            raw.read_until_ready()
            raw.send(query_message("SELECT pg_sleep(30)"))
            raw.sock.shutdown(socket.SHUT_WR)
            t0 = time.monotonic()
            raw.read_until_closed()
            assert time.monotonic() - t0 < 5, endpoint
