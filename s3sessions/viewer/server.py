"""The viewer's HTTP server: the standard library's threading server, GET and HEAD only, strict headers.

Every response carries a Content-Security-Policy that allows only the viewer's own script and stylesheet and
``data:`` images (no inline script or style, no connection, no frame, no other origin), plus ``nosniff``, no
referrer and no caching of pages. On a loopback address the server also refuses requests whose ``Host`` is
not that loopback address and port: a web page elsewhere cannot read sessions through DNS rebinding.
"""

from __future__ import annotations

import ipaddress
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from .app import HTML, Response, ViewerApp

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'none'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
WRITE_METHODS = ("POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT")


def is_loopback(host: str) -> bool:
    """Returns True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    app: ViewerApp
    allowed_hosts: frozenset[str] | None
    verbose: bool


class _Server6(_Server):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = "s3sessions-viewer"
    sys_version = ""

    def end_headers(self) -> None:
        for name, value in SECURITY_HEADERS.items():
            self.send_header(name, value)
        super().end_headers()

    def log_message(self, format: str, *args: object) -> None:
        if self.server.verbose:
            super().log_message(format, *args)

    def _send(self, response: Response, *, body: bool = True) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        headers = {"Cache-Control": "no-store", **response.headers}
        for name, value in headers.items():
            self.send_header(name, value)
        if response.location is not None:
            self.send_header("Location", response.location)
        self.end_headers()
        if body:
            self.wfile.write(response.body)

    def _host_allowed(self) -> bool:
        allowed = self.server.allowed_hosts
        return allowed is None or (self.headers.get("Host") or "").lower() in allowed

    def _answer(self, *, body: bool) -> None:
        if not self._host_allowed():
            text = b"unexpected Host header: open the address the viewer printed\n"
            self._send(Response(421, text, "text/plain; charset=utf-8"), body=body)
            return
        target = urlsplit(self.path)
        try:
            response = self.server.app.handle(target.path or "/", parse_qs(target.query))
        except Exception as exc:  # a bug or an unexpected failure: say so, keep serving
            print(f"s3sessions view: {self.command} {self.path[:200]}: {exc!r}", file=sys.stderr)
            response = Response(500, b"internal error: see the viewer's terminal\n", "text/plain; charset=utf-8")
        self._send(response, body=body)

    def do_GET(self) -> None:
        self._answer(body=True)

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def _refuse(self) -> None:
        text = b"the viewer is read-only: GET and HEAD only\n"
        self.send_response(405)
        self.send_header("Allow", "GET, HEAD")
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(text)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self.close_connection = True  # any request body stays unread
        self.end_headers()
        self.wfile.write(text)


for _method in WRITE_METHODS:
    setattr(_Handler, f"do_{_method}", _Handler._refuse)


class ViewerServer:
    """Serves a `ViewerApp` over HTTP on ``host:port`` (port 0: a free one) until `close`.

    Example:
        >>> server = ViewerServer(app, port=0).start()  # doctest: +SKIP
        >>> print(server.url)  # doctest: +SKIP
        http://127.0.0.1:43117/
    """

    def __init__(self, app: ViewerApp, host: str = "127.0.0.1", port: int = 0, *, verbose: bool = False) -> None:
        server_class = _Server6 if ":" in host else _Server
        self._server = server_class((host, port), _Handler, bind_and_activate=True)
        self._server.app = app
        self._server.verbose = verbose
        self.host = host
        self.port = int(self._server.server_address[1])
        if is_loopback(host):
            names = {"localhost", "127.0.0.1", "[::1]", host if ":" not in host else f"[{host}]"}
            self._server.allowed_hosts = frozenset(f"{name}:{self.port}" for name in names)
        else:
            self._server.allowed_hosts = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The address to open in a browser."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def start(self) -> ViewerServer:
        """Serves in a daemon thread and returns self."""
        self._thread = threading.Thread(target=self._server.serve_forever, name="s3sessions-viewer", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serves in this thread until `close` is called from another (or KeyboardInterrupt)."""
        self._server.serve_forever()

    def close(self) -> None:
        """Stops serving and closes the socket; idempotent."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()


__all__ = ["CONTENT_SECURITY_POLICY", "HTML", "SECURITY_HEADERS", "ViewerServer", "is_loopback"]
