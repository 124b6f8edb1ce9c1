"""Test support for s3sessions and for anyone building on it: the conformance suite, an in-memory object store,
and an embedded local S3.

- `s3sessions.testing.conformance`: the behaviour suite every `SessionManager` must pass. Define a ``manager``
  fixture that yields a fresh manager (and a ``clock`` fixture it uses, see the module), then
  ``from s3sessions.testing.conformance import *`` in a test module.
- `InMemoryObjectStore`: an `ObjectStore` with ETags, versions and atomic conditional writes, and switches for
  the quirks of real stores (``S3SessionManager(store=InMemoryObjectStore())`` runs the real engine in memory).
- `LocalS3`: moto's S3 server on 127.0.0.1 with writes serialised (so its conditional writes are atomic, as on
  S3); needs the ``cli`` extra.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .memory_store import InMemoryObjectStore

if TYPE_CHECKING:
    from .local_s3 import LocalS3


def __getattr__(name: str) -> Any:
    if name == "LocalS3":  # moto is imported only when asked for
        from .local_s3 import LocalS3

        return LocalS3
    raise AttributeError(name)


__all__ = ["InMemoryObjectStore", "LocalS3"]
