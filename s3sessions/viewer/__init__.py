"""A local, read-only web viewer of sessions: ``s3sessions view`` (the ``view`` extra).

The pieces, bottom up: `messages` reads every supported message shape as blocks, `markup` and `render` turn
them into escaped HTML, `pages`, `transcript` and `compare` build whole pages, `lineage` finds parents and
forks, `app` routes requests to pages through the manager's two reads, and `server` serves the app with the
standard library's HTTP server behind a strict Content-Security-Policy.

Example:
    >>> from s3sessions import InMemorySessionManager
    >>> from s3sessions.loop_thread import LoopThread
    >>> from s3sessions.viewer import ReadOnlySessions, ViewerApp, ViewerServer
    >>> loop = LoopThread()
    >>> app = ViewerApp(ReadOnlySessions(InMemorySessionManager()), loop.run, "memory")
    >>> server = ViewerServer(app, port=0).start()  # doctest: +SKIP
"""

from __future__ import annotations

from .app import ReadOnlySessions, Response, ViewerApp
from .server import ViewerServer

__all__ = ["ReadOnlySessions", "Response", "ViewerApp", "ViewerServer"]
