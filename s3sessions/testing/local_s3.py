"""An embedded S3 for demos and tests: moto's server on 127.0.0.1, with writes serialised.

moto checks ``If-Match`` / ``If-None-Match`` by reading then writing with no lock, so racing conditional PUTs
can all win on moto (never on S3). This wrapper runs PUT/POST/DELETE requests one at a time, which makes
moto's conditional writes atomic like S3's; reads stay concurrent. Needs the ``cli`` extra (moto[server]).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

_WRITE_METHODS = frozenset({"PUT", "POST", "DELETE", "PATCH"})


class _SerialisedWrites:
    """WSGI middleware: one write request at a time, reads in parallel."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self._app = app
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") not in _WRITE_METHODS:
            return self._app(environ, start_response)
        with self._lock:
            # Drain the response inside the lock: moto may do its work lazily while the body is iterated.
            return list(self._app(environ, start_response))


class LocalS3:
    """A moto S3 server in a background thread, on a free port of 127.0.0.1 unless one is given.

    Example:
        >>> with LocalS3() as s3:  # doctest: +SKIP
        ...     print(s3.endpoint_url)
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> LocalS3:
        """Starts serving and returns self once the port is bound."""
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log line per request
        app = _SerialisedWrites(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(self.host, self.port, app, threaded=True, request_handler=MotoRequestHandler)
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, name="local-s3", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stops serving (all data is lost)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def reset(self) -> None:
        """Drops every bucket and object (moto's reset API)."""
        import urllib.request

        request = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST", data=b"")
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()

    def serve_forever(self) -> None:
        """Serves in the foreground until interrupted (for ``s3sessions local-s3``)."""
        if self._thread is None:
            self.start()
        assert self._thread is not None
        try:
            while self._thread.is_alive():
                self._thread.join(0.5)
        finally:
            self.stop()

    def __enter__(self) -> LocalS3:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
