"""The benchmark's S3: the serialising moto server plus a measuring, delaying HTTP proxy in front of it.

Run as its own process (``python -m benchmarks.s3server``) so that the client's CPU time is the client's
alone. It prints one JSON line, ``{"proxy": url, "moto": url}``, and serves until stdin closes.

The proxy forwards every request to moto and, for each one, records when it arrived and when its response
was sent, and the body bytes in each direction (exact, on the wire). With ``latency_ms`` set, it holds every
request for that long before forwarding it: the client's pooled connection stays busy meanwhile, as it would
be during a round trip to a real S3 region. Each record also says whether the request was a conditional write
(``If-Match`` or ``If-None-Match``) and how long it queued behind others on its key (hot-key mode).

**Hot keys.** Real S3 takes about 15 conditional writes per second on one key, at 58-68 ms each (DESIGN.md,
"Limits of real S3"); moto takes hundreds. With ``hot_key_ms`` set, the proxy serialises conditional writes
*per key*: each one waits for the key's previous conditional write to finish, then holds the key for that long
before it is forwarded (so one key serves at most ``1000 / hot_key_ms`` of them a second, and an uncontended
one costs the latency plus ``hot_key_ms``). Unconditional writes and reads are not queued.

Control endpoints (not forwarded, not recorded):

- ``POST /__bench__/latency?ms=20`` sets the added latency;
- ``POST /__bench__/hot_keys?ms=60`` sets the per-key service time of conditional writes (0: off);
- ``GET /__bench__/log`` returns the records since the last call, and clears them.
"""

from __future__ import annotations

import http.client
import json
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade", "expect"}
)


class _State:
    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.latency = 0.0
        self.hot_key = 0.0
        self.lock = threading.Lock()
        self.records: list[dict[str, Any]] = []
        self.local = threading.local()
        self.key_locks: dict[str, threading.Lock] = {}

    def key_lock(self, path: str) -> threading.Lock:
        with self.lock:
            lock = self.key_locks.get(path)
            if lock is None:
                lock = self.key_locks[path] = threading.Lock()
            return lock


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state: _State

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            parts: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _upstream(self) -> http.client.HTTPConnection:
        connection = getattr(self.state.local, "connection", None)
        if connection is None:
            connection = http.client.HTTPConnection("127.0.0.1", self.state.upstream_port, timeout=120)
            self.state.local.connection = connection
        return connection

    def _control(self) -> bool:
        url = urllib.parse.urlsplit(self.path)
        if not url.path.startswith("/__bench__/"):
            return False
        self._read_body()
        if url.path in ("/__bench__/latency", "/__bench__/hot_keys"):
            seconds = float(urllib.parse.parse_qs(url.query)["ms"][0]) / 1000
            if url.path.endswith("latency"):
                self.state.latency = seconds
            else:
                self.state.hot_key = seconds
            payload = b"{}"
        else:
            with self.state.lock:
                records, self.state.records = self.state.records, []
            payload = json.dumps(records).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
        return True

    def _forward(self) -> None:
        start = time.monotonic()
        if self._control():
            return
        body = self._read_body()
        if self.state.latency:
            time.sleep(self.state.latency)
        headers = {name: value for name, value in self.headers.items() if name.lower() not in _HOP_BY_HOP}
        headers["Content-Length"] = str(len(body))
        names = {name.lower() for name in headers}
        conditional = self.command == "PUT" and bool(names & {"if-match", "if-none-match"})
        path = urllib.parse.urlsplit(self.path).path
        waited = 0.0
        if conditional and self.state.hot_key:
            queued = time.monotonic()
            with self.state.key_lock(path):
                waited = time.monotonic() - queued
                time.sleep(self.state.hot_key)
                response, payload = self._send_upstream(body, headers)
        else:
            response, payload = self._send_upstream(body, headers)
        # Record before answering: once the client has its response it may ask for the log at once.
        record = {
            "method": self.command,
            "path": path,
            "conditional": conditional,
            "waited": waited,
            "status": response.status,
            "sent": len(body),
            "received": 0 if self.command == "HEAD" else len(payload),
            "start": start,
            "end": time.monotonic(),
        }
        with self.state.lock:
            self.state.records.append(record)
        self.send_response(response.status, response.reason)
        for name, value in response.getheaders():
            if name.lower() not in _HOP_BY_HOP and not (name.lower() == "content-length" and self.command != "HEAD"):
                self.send_header(name, value)
        if self.command != "HEAD":
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD" and payload:
            self.wfile.write(payload)
        self.wfile.flush()

    def _send_upstream(self, body: bytes, headers: dict[str, str]) -> tuple[http.client.HTTPResponse, bytes]:
        for attempt in range(2):
            connection = self._upstream()
            try:
                connection.request(self.command, self.path, body=body, headers=headers)
                response = connection.getresponse()
                return response, response.read()
            except (http.client.HTTPException, OSError):
                connection.close()
                self.state.local.connection = None
                if attempt:
                    raise
        raise AssertionError("unreachable")

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = _forward


def serve() -> None:
    """Starts moto and the proxy, prints their URLs as one JSON line, serves until stdin closes."""
    from s3sessions.testing.local_s3 import LocalS3

    with LocalS3() as moto:
        state = _State(moto.port)
        handler = type("Handler", (_Handler,), {"state": state})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        server.request_queue_size = 256
        thread = threading.Thread(target=server.serve_forever, name="bench-proxy", daemon=True)
        thread.start()
        print(json.dumps({"proxy": f"http://127.0.0.1:{server.server_address[1]}", "moto": moto.endpoint_url}))
        sys.stdout.flush()
        sys.stdin.read()
        server.shutdown()
        server.server_close()


if __name__ == "__main__":
    serve()
