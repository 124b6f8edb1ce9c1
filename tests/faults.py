"""A fault-injecting HTTP proxy for tests: sits between the library and the moto server on 127.0.0.1.

For a seeded random fraction of requests it answers 503 SlowDown or 500 InternalError without forwarding,
drops the connection before forwarding, forwards and then drops the connection (the request took effect but
its response is lost: the ambiguous case), or forwards and stalls past the client's read timeout. Separately,
``conflicts`` is the fraction of conditional PUTs (``If-Match`` / ``If-None-Match``) answered with AWS's 409
ConditionalRequestConflict without forwarding: a conditional write that raced another and did not take effect.
"""

from __future__ import annotations

import http.client
import random
import socket
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

FAULTS = ("slow_down", "internal_error", "drop_before", "drop_after", "stall_after")
_WEIGHTS = (0.3, 0.2, 0.15, 0.3, 0.05)
EXTRA_FAULTS = ("truncate_body",)  # only on request: a response whose body stops halfway
_ERROR_XML = b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>injected</Message></Error>'


class FaultProxy:
    """Forwards HTTP to ``upstream``, injecting faults into ``rate`` of the requests (seeded).

    Attributes:
        injected: How many faults of each kind were injected.
        enabled: Set False to let everything through.
    """

    def __init__(
        self,
        upstream: str,
        *,
        rate: float,
        seed: int,
        stall_seconds: float = 1.5,
        kinds: tuple[str, ...] | None = None,
        conflicts: float = 0.0,
    ) -> None:
        self.upstream = urlsplit(upstream)
        self.rate = rate
        self.enabled = True
        self.injected: Counter[str] = Counter()
        self.requests = 0
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._stall = stall_seconds
        self._conflicts = conflicts
        self._kinds = kinds or FAULTS
        self._weights = _WEIGHTS if kinds is None else tuple(1.0 for _ in kinds)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _handle(self) -> None:
                try:
                    proxy._serve(self)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the client gave up (its read timeout): nothing to answer

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _choose(self) -> str | None:
        with self._lock:
            self.requests += 1
            if not self.enabled or self._random.random() >= self.rate:
                return None
            fault = self._random.choices(self._kinds, self._weights)[0]
            self.injected[fault] += 1
            return fault

    def _conflict(self, handler: BaseHTTPRequestHandler) -> bool:
        conditional = handler.command == "PUT" and ("If-Match" in handler.headers or "If-None-Match" in handler.headers)
        with self._lock:
            if not (self.enabled and conditional and self._random.random() < self._conflicts):
                return False
            self.injected["conflict_409"] += 1
            return True

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        body = _read_body(handler)
        fault = "conflict_409" if self._conflict(handler) else self._choose()
        if fault in ("slow_down", "internal_error", "conflict_409"):
            code, status = {
                "slow_down": (b"SlowDown", 503),
                "internal_error": (b"InternalError", 500),
                "conflict_409": (b"ConditionalRequestConflict", 409),
            }[fault]
            payload = _ERROR_XML % code
            handler.send_response(status)
            handler.send_header("Content-Type", "application/xml")
            handler.send_header("Content-Length", str(len(payload)))
            handler.end_headers()
            handler.wfile.write(payload)
            return
        if fault == "drop_before":
            handler.close_connection = True
            return
        status, headers, payload = self._forward(handler, body)
        if fault == "stall_after":
            time.sleep(self._stall)
        if fault in ("drop_after", "stall_after"):
            handler.close_connection = True
            return
        handler.send_response(status)
        for name, value in headers:
            if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        if fault == "truncate_body" and payload:
            handler.wfile.write(payload[: len(payload) // 2])
            handler.wfile.flush()
            handler.connection.shutdown(socket.SHUT_RDWR)
            handler.close_connection = True
        elif handler.command != "HEAD":
            handler.wfile.write(payload)

    def _forward(self, handler: BaseHTTPRequestHandler, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        connection = http.client.HTTPConnection(self.upstream.hostname or "127.0.0.1", self.upstream.port, timeout=30)
        headers = {
            name: value
            for name, value in handler.headers.items()
            if name.lower() not in ("transfer-encoding", "connection", "expect")
        }
        headers["Content-Length"] = str(len(body))
        try:
            connection.request(handler.command, handler.path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            connection.close()


def _read_body(handler: BaseHTTPRequestHandler) -> bytes:
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        chunks: list[bytes] = []
        while True:
            size = int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            chunks.append(handler.rfile.read(size))
            handler.rfile.readline()
    length = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(length) if length else b""
