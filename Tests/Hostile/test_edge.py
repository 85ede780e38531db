"""Hostile clients against a running gateway: raw sockets that do what browsers and proxies never do.

Run by scripts/hostile-clients.sh, which starts the gateway with short edge timeouts so that each
attack resolves in seconds. What is asserted is what a person operating the gateway would see: the
connection closed, the answer a client gets (status, problem+json, request ID, Allow), and the
counters on /metrics.

Environment (all required; the script sets them):
  STOREFLEET_URL        the gateway, http://127.0.0.1:PORT
  STOREFLEET_TOKEN      an admin API token
  EDGE_IDLE, EDGE_HEADER, EDGE_BODY, EDGE_STALL   the gateway's GATEWAY_*_TIMEOUT, in seconds
  EDGE_MAX_HEADER_BYTES the gateway's GATEWAY_MAX_HEADER_BYTES
  EDGE_MAX_STREAMS      the gateway's EVENTS_MAX_STREAMS_PER_TENANT
"""

import json
import os
import re
import socket
import struct
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import pytest


def env(name):
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set: run scripts/hostile-clients.sh")
    return value


URL = env("STOREFLEET_URL")
TOKEN = env("STOREFLEET_TOKEN")
HOST, PORT = urllib.parse.urlsplit(URL).hostname, urllib.parse.urlsplit(URL).port
IDLE = float(env("EDGE_IDLE"))
HEADER = float(env("EDGE_HEADER"))
BODY = float(env("EDGE_BODY"))
STALL = float(env("EDGE_STALL"))
MAX_HEADER_BYTES = int(env("EDGE_MAX_HEADER_BYTES"))
MAX_STREAMS = int(env("EDGE_MAX_STREAMS"))
SLACK = 3.0  # scheduling on a busy two-core machine


# --- helpers ---------------------------------------------------------------------------------------

def connect(rcvbuf=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.connect((HOST, PORT))
    return s


def reset(s):
    """Close with RST, as a client whose process died or whose network vanished."""
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


def read_until_closed(s, limit):
    """Everything the server sends until it closes the connection. Returns (bytes, seconds, closed)."""
    s.settimeout(0.2)
    data, started = b"", time.monotonic()
    while time.monotonic() - started < limit:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            continue
        except ConnectionResetError:
            return data, time.monotonic() - started, True
        if not chunk:
            return data, time.monotonic() - started, True
        data += chunk
    return data, time.monotonic() - started, False


def parse_response(raw):
    """(status, headers with lowercase names, body) of the first response in raw."""
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", len(body)))
    return status, headers, body[:length]


def expect_problem(raw, status, type_suffix):
    code, headers, body = parse_response(raw)
    assert code == status, raw[:500]
    assert headers.get("content-type", "").startswith("application/problem+json"), headers
    problem = json.loads(body)
    assert problem["status"] == status and problem["type"].endswith("/" + type_suffix), problem
    assert re.fullmatch(r"[0-9a-f-]{36}", headers.get("x-request-id", "")), headers
    assert problem.get("request_id") == headers["x-request-id"], problem
    return problem, headers


def api(method, path, body=None, token=TOKEN):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(URL + path, data=data, method=method,
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def metric(name, **labels):
    """The value of one series on /metrics (0 when absent)."""
    with urllib.request.urlopen(URL + "/metrics", timeout=10) as response:
        text = response.read().decode()
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{"):
            series, _, value = line.rpartition(" ")
            present = series[len(name) + 1:-1].split(",")
            if all(pair in present for pair in wanted.split(",") if pair):
                total += float(value)
    return total


def head(method, path, extra=""):
    return f"{method} {path} HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: Bearer {TOKEN}\r\n{extra}".encode()


# --- the connection's life -------------------------------------------------------------------------

def test_a_connection_that_never_speaks_is_closed_after_the_idle_timeout():
    s = connect()
    data, seconds, closed = read_until_closed(s, IDLE + SLACK)
    assert closed and data == b"", (data, seconds)
    assert seconds >= IDLE - 0.5, seconds
    s.close()


def test_an_idle_keep_alive_connection_is_closed_after_the_idle_timeout():
    s = connect()
    s.sendall(head("GET", "/healthz", "\r\n"))
    data, seconds, closed = read_until_closed(s, IDLE + SLACK)
    assert closed, "the keep-alive connection was still open after the idle timeout"
    assert parse_response(data)[0] == 200
    assert seconds >= IDLE - 0.5, seconds
    s.close()


def test_a_request_head_that_trickles_in_gets_408_at_the_header_timeout():
    """Slowloris: one header byte every 300 ms keeps the idle timer from ever seeing silence."""
    s = connect()
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    s.settimeout(0.2)
    started, data = time.monotonic(), b""
    try:
        while time.monotonic() - started < HEADER + SLACK:
            s.send(b"X-Slow: a\r\n"[int((time.monotonic() - started) / 0.3) % 11:][:1])
            time.sleep(0.3)
            try:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
            except socket.timeout:
                pass
    except (BrokenPipeError, ConnectionResetError):
        pass
    rest, _, _ = read_until_closed(s, SLACK)
    data += rest
    seconds = time.monotonic() - started
    assert data, f"no answer after {seconds:.1f}s of a trickling head"
    expect_problem(data, 408, "header-timeout")
    assert seconds < HEADER + SLACK, seconds
    s.close()


def test_a_body_that_trickles_in_gets_408_at_the_body_timeout():
    s = connect()
    s.sendall(head("POST", "/api/stores", "Content-Type: application/json\r\nContent-Length: 200\r\n\r\n"))
    started, data = time.monotonic(), b""
    s.settimeout(0.05)
    try:
        for _ in range(200):
            s.send(b" ")
            try:
                chunk = s.recv(65536)
                if chunk:
                    data += chunk
                    break
            except socket.timeout:
                pass
            time.sleep(0.4)  # well inside the idle timeout: each byte is activity
    except (BrokenPipeError, ConnectionResetError):
        pass
    rest, _, closed = read_until_closed(s, SLACK)
    data += rest
    seconds = time.monotonic() - started
    expect_problem(data, 408, "body-timeout")
    assert closed, "the connection stayed open after the 408"
    assert seconds < BODY + SLACK, seconds
    s.close()


def test_a_client_that_stops_reading_is_disconnected_after_the_write_stall_timeout():
    """It pipelines requests for a large document and never reads the answers."""
    s = connect(rcvbuf=4096)
    s.setblocking(False)
    request = head("GET", "/openapi.json", "\r\n")
    sent = 0
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and sent < 4000:
        try:
            s.send(request)
            sent += 1
        except BlockingIOError:
            time.sleep(0.05)
        except (BrokenPipeError, ConnectionResetError):
            break
    time.sleep(STALL + SLACK)
    s.setblocking(True)
    data, _, closed = read_until_closed(s, 20)
    answered = data.count(b"HTTP/1.1 200")
    assert closed, "the server kept writing to a client that does not read"
    assert answered < sent, f"all {sent} pipelined responses were delivered: the stall was not noticed"
    s.close()


# --- what a refusal looks like ---------------------------------------------------------------------

def test_a_100_kib_header_gets_431_as_problem_json():
    s = connect()
    s.sendall(head("GET", "/api/stores", "X-Big: " + "a" * 100 * 1024 + "\r\n\r\n"))
    data, _, closed = read_until_closed(s, 5)
    problem, _ = expect_problem(data, 431, "headers-too-large")
    assert str(MAX_HEADER_BYTES) in problem["detail"]
    assert closed
    s.close()


@pytest.mark.parametrize("request_line", [
    b"GET / HTTP/9.9\r\n\r\n",
    b"GET /api\x01stores HTTP/1.1\r\nHost: x\r\n\r\n",
    b"BREW /coffee HTTP/1.1\r\nHost: x\r\n\r\n",
    b"POST /api/stores HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
])
def test_a_malformed_request_gets_400_as_problem_json_with_a_request_id(request_line):
    s = connect()
    s.sendall(request_line)
    data, _, _ = read_until_closed(s, 5)
    expect_problem(data, 400, "malformed")
    s.close()


@pytest.mark.parametrize("path", ["/app.js%00.html", "/app.js%00", "/api/stores/%0a", "/%2e%2e/app.js%00.css"])
def test_a_path_with_an_encoded_control_byte_gets_400_and_never_a_file(path):
    s = connect()
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    data, _, _ = read_until_closed(s, 5)
    problem, headers = expect_problem(data, 400, "malformed")
    assert "text/html" not in headers.get("content-type", "") and "javascript" not in headers.get("content-type", "")
    s.close()


def test_a_wrong_method_on_a_parameterized_route_gets_405_with_allow():
    status, headers, body = api("PUT", f"/api/stores/{uuid.uuid4()}", {"name": "x"})
    assert status == 405, body
    assert headers.get("Allow") == "DELETE, GET, PATCH", headers
    assert json.loads(body)["type"].endswith("/method-not-allowed")
    status, headers, _ = api("DELETE", f"/api/jobs/{uuid.uuid4()}")
    assert status == 405 and headers.get("Allow") == "GET", headers
    status, headers, _ = api("GET", f"/api/stores/{uuid.uuid4()}/retry")
    assert status == 405 and headers.get("Allow") == "POST", headers


# --- clients that leave ----------------------------------------------------------------------------

def test_an_aborted_upload_is_counted_as_499_never_as_a_server_error():
    before_499 = metric("storefleet_http_requests_total", method="POST", status="499")
    before_500 = metric("storefleet_http_requests_total", status="500")
    for leave in (reset, lambda s: (s.shutdown(socket.SHUT_WR), time.sleep(0.3), s.close())):
        s = connect()
        s.sendall(head("POST", "/api/stores", "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n") + b'{"name": ')
        time.sleep(0.3)
        leave(s)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and metric("storefleet_http_requests_total", method="POST", status="499") < before_499 + 2:
        time.sleep(0.2)
    assert metric("storefleet_http_requests_total", method="POST", status="499") == before_499 + 2
    assert metric("storefleet_http_requests_total", status="500") == before_500


def open_stream():
    s = connect()
    s.sendall(head("GET", "/api/events", "Accept: text/event-stream\r\n\r\n"))
    s.settimeout(5)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    return s, parse_response(data)[0]


def until_streams_open(count, limit):
    """Opens `count` streams, retrying refusals (429) until `limit` seconds have passed."""
    deadline = time.monotonic() + limit
    while True:
        streams, statuses = [], []
        for _ in range(count):
            s, status = open_stream()
            streams.append(s)
            statuses.append(status)
        if all(status == 200 for status in statuses) or time.monotonic() > deadline:
            return streams, statuses
        for s in streams:
            s.close()
        time.sleep(0.3)


@pytest.mark.parametrize("leave", ["reset", "half-close"])
def test_event_streams_whose_clients_vanish_give_their_slots_back(leave):
    streams, statuses = until_streams_open(MAX_STREAMS, 10)
    assert statuses == [200] * MAX_STREAMS, statuses
    extra, status = open_stream()
    assert status == 429, "the per-tenant stream limit did not hold"
    extra.close()
    for s in streams:
        if leave == "reset":
            reset(s)
        else:
            s.shutdown(socket.SHUT_WR)
    started = time.monotonic()
    again, statuses = until_streams_open(MAX_STREAMS, 5)
    assert statuses == [200] * MAX_STREAMS, f"slots still held {time.monotonic() - started:.1f}s after the clients left: {statuses}"
    for s in again + (streams if leave == "half-close" else []):
        s.close()
    time.sleep(1)  # let the server notice, for the next test


def test_a_normal_client_still_gets_its_answers():
    status, headers, body = api("GET", "/api/me")
    assert status == 200, body
    assert json.loads(body)["tenant"]["role"] == "admin"


# --- what the first attack review found ------------------------------------------------------------

@pytest.mark.parametrize("request_head", [
    "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
    "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n",
    "CONNECT x:443 HTTP/1.1\r\nHost: x:443\r\n\r\n",
])
def test_an_upgrade_or_connect_request_is_answered_and_its_connection_closed(request_head):
    """NIO's parser stops at such a request; a request sent after it on the same connection (a proxy's
    pooled upstream connection) would otherwise hang and get another client's 408."""
    s = connect()
    s.sendall(request_head.encode())
    time.sleep(0.5)
    try:
        s.sendall(head("GET", "/api/me", "\r\n"))
    except (BrokenPipeError, ConnectionResetError):
        pass
    data, seconds, closed = read_until_closed(s, HEADER + SLACK)
    status, headers, _ = parse_response(data)
    assert headers.get("connection", "").lower() == "close", headers
    assert closed and seconds < HEADER, f"the connection stayed open {seconds:.1f}s"
    assert b"header-timeout" not in data, data[:600]
    s.close()


@pytest.mark.parametrize("path", ["/api/stores", "/nope"])
def test_a_body_arriving_after_an_early_answer_does_not_earn_a_408(path):
    """An unauthenticated POST is answered (401/404) before its body is read; the body's bytes are
    that request's, not the start of a slow next one."""
    s = connect()
    s.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10\r\n\r\n".encode())
    time.sleep(0.3)
    s.sendall(b"{}        ")
    time.sleep(HEADER + 1)
    s.sendall(head("GET", "/healthz", "\r\n"))
    data, _, _ = read_until_closed(s, 2)
    assert b"header-timeout" not in data, data[:800]
    assert data.count(b"HTTP/1.1 ") == 2 and b"HTTP/1.1 200" in data, data[:800]
    s.close()


@pytest.mark.parametrize("byte_range", ["bytes=1-", "bytes=999999-", "bytes=-10", "bytes=-0", "bytes=9223372036854775807-"])
def test_dashboard_files_ignore_ranges_and_say_so(byte_range):
    s = connect()
    s.sendall(f"GET /index.html HTTP/1.1\r\nHost: x\r\nRange: {byte_range}\r\n\r\n".encode())
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data, _, _ = read_until_closed(s, 5)
    status, headers, body = parse_response(data)
    assert status == 200 and headers.get("accept-ranges") == "none", headers
    assert int(headers["content-length"]) == len(body) and body.rstrip().endswith(b"</html>")
    rest = data.partition(b"\r\n\r\n")[2][len(body):]
    assert rest.startswith(b"HTTP/1.1 200"), rest[:80]
    s.close()


@pytest.mark.parametrize("path", ["//views", "/%2fviews", "//evil.example/x"])
def test_a_path_starting_with_an_empty_segment_is_400_never_a_protocol_relative_redirect(path):
    s = connect()
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    data, _, _ = read_until_closed(s, 5)
    problem, headers = expect_problem(data, 400, "malformed")
    assert "location" not in headers
    s.close()


def test_refusals_at_the_edge_are_counted_on_metrics():
    before = metric("storefleet_http_edge_refusals_total", reason="malformed")
    s = connect()
    s.sendall(b"BREW /coffee HTTP/1.1\r\nHost: x\r\n\r\n")
    read_until_closed(s, 5)
    s.close()
    assert metric("storefleet_http_edge_refusals_total", reason="malformed") == before + 1
