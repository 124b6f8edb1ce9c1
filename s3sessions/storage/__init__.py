"""The storage seam: bytes and ETags with conditional writes (layer 2; knows nothing about sessions).

`ObjectStore` is the protocol the engine talks to; `S3ObjectStore` is its one S3 implementation and the only
code in the package that makes S3 requests or sees botocore's exceptions; `s3sessions.testing.InMemoryObjectStore`
stands behind the same protocol for fast tests.
"""

from .protocol import ObjectInfo, ObjectMeta, ObjectStore, ObjectVersion, StoredObject

__all__ = ["ObjectInfo", "ObjectMeta", "ObjectStore", "ObjectVersion", "StoredObject"]
