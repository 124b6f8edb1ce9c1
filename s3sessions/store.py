"""Bytes and ETags over S3: the only module that talks to S3 (layer 2; knows nothing about sessions).

Every request goes through `S3ObjectStore._call`, which logs it at DEBUG (operation and key, never the body),
leaves retrying of throttles, 5xx and dropped connections to botocore's standard retry mode, and translates
botocore's exceptions into ours in exactly one place. aioboto3 is imported lazily, when the first request is
made, so ``import s3sessions`` stays cheap on a Lambda cold start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from .errors import CorruptObject, ObjectMissing, PreconditionFailed, StorageError

log = logging.getLogger("s3sessions.store")

DEFAULT_POOL_SIZE = 64
_DELETE_BATCH = 1000
_MISSING_CODES = frozenset({"NoSuchKey", "404", "NotFound"})
_PRECONDITION_CODES = frozenset({"PreconditionFailed", "412"})


@dataclass(frozen=True)
class StoredObject:
    """An object's body, its ETag and its user metadata (``x-amz-meta-*``)."""

    body: bytes
    etag: str
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ObjectInfo:
    """A key as a listing reports it: size in bytes and last-modified time (Unix seconds)."""

    key: str
    size: int
    modified: float


@dataclass(frozen=True)
class ObjectVersion:
    """One version (or delete marker) of a key, as ListObjectVersions reports it (``modified``: Unix seconds)."""

    key: str
    version_id: str
    modified: float = 0.0


class ObjectStore(Protocol):
    """The storage seam: keys to bytes with ETags and conditional writes."""

    async def get(self, key: str, *, max_bytes: int) -> StoredObject:
        """Returns the object; raises ObjectMissing if absent, CorruptObject if over ``max_bytes``."""
        ...

    async def put(
        self,
        key: str,
        body: bytes,
        *,
        if_match: str | None = None,
        if_none_match: bool = False,
        metadata: Mapping[str, str] | None = None,
    ) -> str:
        """Writes the object and returns its ETag; raises PreconditionFailed or ObjectMissing on a lost
        condition."""
        ...

    async def copy(self, source_key: str, dest_key: str) -> None:
        """Copies an object server-side; raises ObjectMissing if the source is absent."""
        ...

    async def delete(self, key: str) -> None:
        """Deletes the current version of a key (absent keys are not an error)."""
        ...

    async def list_objects(self, prefix: str) -> list[ObjectInfo]:
        """Returns every object under the prefix, in key order."""
        ...

    async def list_versions(self, prefix: str) -> list[ObjectVersion]:
        """Returns every version and delete marker under the prefix (one per key on unversioned buckets)."""
        ...

    async def delete_versions(self, versions: Sequence[ObjectVersion]) -> None:
        """Permanently deletes the given versions."""
        ...

    async def delete_keys(self, keys: Sequence[str]) -> None:
        """Deletes the current version of each key (a delete marker on a versioned bucket)."""
        ...


class S3ObjectStore:
    """`ObjectStore` on one S3 bucket through aioboto3.

    Args:
        bucket: The bucket name.
        client: An already-open aiobotocore S3 client to use (its owner closes it).
        session: An ``aioboto3.Session`` to create the client from (default: a new one, reading the usual
            AWS environment: credentials, profile, region, ``AWS_ENDPOINT_URL``).
        endpoint_url, region_name, profile_name: Passed to the session/client when given.
        kms_key_id: When given, every PutObject/CopyObject uses SSE-KMS with this key.
        pool_size: The client's connection pool size; bounds the parallelism of one wave of requests.
        client_config: Extra ``aiobotocore.config.AioConfig`` keyword arguments (timeouts, retries).
    """

    def __init__(
        self,
        bucket: str,
        *,
        client: Any = None,
        session: Any = None,
        endpoint_url: str | None = None,
        region_name: str | None = None,
        profile_name: str | None = None,
        kms_key_id: str | None = None,
        pool_size: int = DEFAULT_POOL_SIZE,
        client_config: Mapping[str, Any] | None = None,
    ) -> None:
        if not isinstance(bucket, str) or not bucket:
            raise StorageError(f"invalid bucket name {bucket!r}")
        self.bucket = bucket
        self._client = client
        self._session = session
        self._endpoint_url = endpoint_url
        self._region_name = region_name
        self._profile_name = profile_name
        self._pool_size = pool_size
        self._client_config = dict(client_config or {})
        self._exit_stack: contextlib.AsyncExitStack | None = None
        self._open_lock: asyncio.Lock | None = None
        self._write_extra: dict[str, str] = {}
        if kms_key_id:
            self._write_extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key_id}

    async def client(self) -> Any:
        """Returns the S3 client, creating it on first use (the only place aioboto3 is imported)."""
        if self._client is not None:
            return self._client
        if self._open_lock is None:
            self._open_lock = asyncio.Lock()
        async with self._open_lock:
            if self._client is None:
                import aioboto3
                from aiobotocore.config import AioConfig

                config_args: dict[str, Any] = {
                    "max_pool_connections": self._pool_size,
                    "retries": {"mode": "standard", "max_attempts": 5},
                    "connect_timeout": 10,
                    "read_timeout": 60,
                }
                config_args.update(self._client_config)
                stack = contextlib.AsyncExitStack()
                try:
                    session = self._session or aioboto3.Session(profile_name=self._profile_name)
                    self._client = await stack.enter_async_context(
                        session.client(
                            "s3",
                            endpoint_url=self._endpoint_url,
                            region_name=self._region_name,
                            config=AioConfig(**config_args),
                        )
                    )
                except Exception as exc:
                    await stack.aclose()
                    raise StorageError(f"cannot create an S3 client: {exc}") from exc
                self._exit_stack = stack
        return self._client

    async def close(self) -> None:
        """Closes the client if this store created it."""
        if self._exit_stack is not None:
            stack, self._exit_stack = self._exit_stack, None
            self._client = None
            await stack.aclose()

    async def _call(self, operation: str, key: str | None = None, **kwargs: Any) -> Any:
        """Makes one S3 request; the single place botocore errors become ours."""
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

        client = await self.client()
        method: Callable[..., Awaitable[Any]] = getattr(client, operation)
        log.debug("s3 %s bucket=%s key=%s", operation, self.bucket, key)
        try:
            return await method(Bucket=self.bucket, **kwargs)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            message = error.get("Message") or str(exc)
            if code in _MISSING_CODES:
                raise ObjectMissing(f"{operation}: no such key", key=key) from exc
            if code in _PRECONDITION_CODES:
                raise PreconditionFailed(f"{operation}: precondition failed", key=key) from exc
            if code in ("AccessDenied", "403", "Forbidden"):
                raise StorageError(
                    f"S3 {operation}: access denied; check the IAM policy and the bucket policy (a policy that"
                    " denies non-TLS requests refuses http:// endpoints)",
                    key=key,
                ) from exc
            if code == "NoSuchBucket":
                raise StorageError(f"bucket {self.bucket!r} does not exist", key=key) from exc
            raise StorageError(f"S3 {operation} failed: {code} {message}", key=key) from exc
        except NoCredentialsError as exc:
            raise StorageError(
                "no AWS credentials found: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE or a role",
                key=key,
            ) from exc
        except (BotoCoreError, OSError, asyncio.TimeoutError) as exc:
            raise StorageError(f"S3 {operation} failed: {exc}", key=key) from exc

    async def _read_body(self, response: Mapping[str, Any], key: str) -> bytes:
        from aiohttp import ClientError as HttpClientError
        from botocore.exceptions import BotoCoreError

        try:
            async with response["Body"] as stream:
                data: bytes = await stream.read()
                return data
        except (BotoCoreError, HttpClientError, OSError, asyncio.TimeoutError) as exc:
            raise StorageError(f"S3 GetObject body read failed: {exc}", key=key) from exc

    async def get(self, key: str, *, max_bytes: int) -> StoredObject:
        response = await self._call("get_object", key, Key=key)
        length = int(response.get("ContentLength") or 0)
        # The compressed body of a legitimate object is never much larger than its JSON.
        if length > max_bytes + 65536:
            response["Body"].close()
            raise CorruptObject(f"object of {length} bytes is over the {max_bytes}-byte cap", key=key)
        body = await self._read_body(response, key)
        return StoredObject(body=body, etag=response["ETag"], metadata=response.get("Metadata") or {})

    async def put(
        self,
        key: str,
        body: bytes,
        *,
        if_match: str | None = None,
        if_none_match: bool = False,
        metadata: Mapping[str, str] | None = None,
    ) -> str:
        kwargs: dict[str, Any] = {"Key": key, "Body": body, **self._write_extra}
        if if_match is not None:
            kwargs["IfMatch"] = if_match
        if if_none_match:
            kwargs["IfNoneMatch"] = "*"
        if metadata:
            kwargs["Metadata"] = dict(metadata)
        response = await self._call("put_object", key, **kwargs)
        etag: str = response["ETag"]
        return etag

    async def copy(self, source_key: str, dest_key: str) -> None:
        await self._call(
            "copy_object",
            dest_key,
            Key=dest_key,
            CopySource={"Bucket": self.bucket, "Key": source_key},
            **self._write_extra,
        )

    async def delete(self, key: str) -> None:
        await self._call("delete_object", key, Key=key)

    async def list_objects(self, prefix: str) -> list[ObjectInfo]:
        objects: list[ObjectInfo] = []
        token: str | None = None
        while True:
            extra = {"ContinuationToken": token} if token else {}
            response = await self._call("list_objects_v2", prefix, Prefix=prefix, **extra)
            objects.extend(
                ObjectInfo(key=item["Key"], size=int(item.get("Size", 0)), modified=item["LastModified"].timestamp())
                for item in response.get("Contents", [])
            )
            token = response.get("NextContinuationToken")
            if not response.get("IsTruncated") or not token:
                return objects

    async def list_versions(self, prefix: str) -> list[ObjectVersion]:
        versions: list[ObjectVersion] = []
        markers: dict[str, str] = {}
        while True:
            response = await self._call("list_object_versions", prefix, Prefix=prefix, **markers)
            for item in [*response.get("Versions", []), *response.get("DeleteMarkers", [])]:
                modified = item["LastModified"].timestamp() if "LastModified" in item else 0.0
                versions.append(
                    ObjectVersion(key=item["Key"], version_id=item.get("VersionId") or "null", modified=modified)
                )
            if not response.get("IsTruncated"):
                return versions
            markers = {"KeyMarker": response["NextKeyMarker"]}
            if response.get("NextVersionIdMarker"):
                markers["VersionIdMarker"] = response["NextVersionIdMarker"]

    async def delete_versions(self, versions: Sequence[ObjectVersion]) -> None:
        await self._delete_batches([{"Key": version.key, "VersionId": version.version_id} for version in versions])

    async def delete_keys(self, keys: Sequence[str]) -> None:
        await self._delete_batches([{"Key": key} for key in keys])

    async def _delete_batches(self, objects: Sequence[Mapping[str, str]]) -> None:
        for start in range(0, len(objects), _DELETE_BATCH):
            batch = list(objects[start : start + _DELETE_BATCH])
            response = await self._call("delete_objects", batch[0]["Key"], Delete={"Objects": batch, "Quiet": True})
            errors = response.get("Errors") or []
            if errors:
                first = errors[0]
                raise StorageError(
                    f"S3 DeleteObjects failed for {len(errors)} object(s): {first.get('Code')} {first.get('Message')}",
                    key=first.get("Key"),
                )
