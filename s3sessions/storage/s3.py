"""`S3ObjectStore`: the package's one S3 request path (layer 2; knows nothing about sessions).

Every request, from session reads to bucket provisioning, goes through `S3ObjectStore.call`: it logs the
operation and key at DEBUG (never a body), leaves retrying of throttles, 5xx and dropped connections to
botocore's standard retry mode, and translates botocore's exceptions into ours in one table. aioboto3 is
imported when the first request is made, so ``import s3sessions`` stays cheap on a Lambda cold start.

One client per event loop (`s3sessions.storage.loop_clients`): a manager is used from whatever loop calls it,
and each loop's client is created there and closed there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from ..errors import CorruptObject, ObjectMissing, PreconditionFailed, StorageError, WriteConflict
from ..waves import gather
from .endpoint_params import leave_out_unread_parameters
from .loop_clients import LoopClients
from .protocol import ListPage, ObjectInfo, ObjectMeta, ObjectVersion, StoredObject
from .timestamps import use_fast_timestamps
from .user_agent import fixed_user_agent, keeps_botocores_user_agent

log = logging.getLogger("s3sessions.store")

DEFAULT_POOL_SIZE = 64
_DELETE_BATCH = 1000
_MISSING_CODES = frozenset(
    {
        "NoSuchKey",
        "404",
        "NotFound",
        "NoSuchVersion",
        # a bucket setting that is not set (GetBucket* answers these):
        "ServerSideEncryptionConfigurationNotFoundError",
        "NoSuchPublicAccessBlockConfiguration",
        "NoSuchLifecycleConfiguration",
        "NoSuchBucketPolicy",
    }
)
_PRECONDITION_CODES = frozenset({"PreconditionFailed", "412"})
_CONFLICT_CODES = frozenset({"ConditionalRequestConflict", "409"})
_DENIED_CODES = frozenset({"AccessDenied", "403", "Forbidden"})


class S3ObjectStore:
    """`ObjectStore` on one S3 bucket through aioboto3.

    Args:
        bucket: The bucket name.
        client: An already-open aiobotocore S3 client to use on every loop (its owner closes it).
        session: An ``aioboto3.Session`` to create clients from (default: a new one, reading the usual AWS
            environment: credentials, profile, region, ``AWS_ENDPOINT_URL``).
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
        self.endpoint_url = endpoint_url
        self._given_client = client
        self._session = session
        self._region_name = region_name
        self._profile_name = profile_name
        self._pool_size = pool_size
        self._client_config = dict(client_config or {})
        self._clients = LoopClients()
        self._write_extra: dict[str, str] = {}
        if kms_key_id:
            self._write_extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key_id}

    @property
    def open_clients(self) -> int:
        """How many event loops currently hold a client of this store (for tests and diagnostics)."""
        return self._clients.open_count

    async def client(self) -> Any:
        """Returns this loop's S3 client, creating it on first use (the only place aioboto3 is imported)."""
        if self._given_client is not None:
            return self._given_client
        return await self._clients.get(self._open)

    async def _open(self, stack: contextlib.AsyncExitStack) -> Any:
        import aioboto3
        from aiobotocore.config import AioConfig

        config_args: dict[str, Any] = {
            "max_pool_connections": self._pool_size,
            "retries": {"mode": "standard", "max_attempts": 5},
            "connect_timeout": 10,
            "read_timeout": 60,
        }
        config_args.update(self._client_config)
        try:
            session = self._session
            if session is None:
                session = aioboto3.Session(profile_name=self._profile_name)
                use_fast_timestamps(session, _botocore_timestamp_parser())
                if not keeps_botocores_user_agent(config_args, session):
                    config_args["user_agent"] = fixed_user_agent(_sdk_versions())
            client = await stack.enter_async_context(
                session.client(
                    "s3", endpoint_url=self.endpoint_url, region_name=self._region_name, config=AioConfig(**config_args)
                )
            )
            leave_out_unread_parameters(client)
            return client
        except Exception as exc:
            raise StorageError(f"cannot create an S3 client: {exc}") from exc

    async def close(self) -> None:
        """Closes this loop's client now, and asks every other live loop to close its own (never across loops)."""
        await self._clients.close()

    async def describe(self) -> tuple[str, str, str]:
        """Returns (endpoint URL, region, ARN partition) of this loop's client, as configured (no request)."""
        meta = getattr(await self.client(), "meta", None)
        endpoint = getattr(meta, "endpoint_url", None)
        region = getattr(meta, "region_name", None)
        partition = getattr(meta, "partition", None)
        return (
            endpoint if isinstance(endpoint, str) else "",
            region if isinstance(region, str) and region else "us-east-1",
            partition if isinstance(partition, str) and partition else "aws",
        )

    async def call(self, operation: str, key: str | None = None, **kwargs: Any) -> Any:
        """Makes one S3 request on this bucket: the single place botocore errors become ours.

        Args:
            operation: The client method, e.g. ``"put_object"``.
            key: The key concerned, for log lines and error messages.
            kwargs: The request's parameters (``Bucket`` is added).
        """
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

        client = await self.client()
        method: Callable[..., Awaitable[Any]] = getattr(client, operation)
        log.debug("s3 %s bucket=%s key=%s", operation, self.bucket, key)
        try:
            return await method(Bucket=self.bucket, **kwargs)
        except ClientError as exc:
            raise self._translate(exc, operation, key) from exc
        except NoCredentialsError as exc:
            raise StorageError(
                "no AWS credentials found: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE or a role",
                key=key,
            ) from exc
        except (BotoCoreError, OSError, asyncio.TimeoutError) as exc:
            where = f" at {self.endpoint_url}" if self.endpoint_url else ""
            raise StorageError(f"S3 {operation}{where} failed: {exc}", key=key) from exc

    def _translate(self, exc: Any, operation: str, key: str | None) -> StorageError:
        """The one translation table from S3 error codes to our errors."""
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = str(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
        message = error.get("Message") or str(exc)
        if code in _MISSING_CODES:
            return ObjectMissing(f"{operation}: no such key", key=key, code=code)
        if code in _PRECONDITION_CODES:
            return PreconditionFailed(f"{operation}: precondition failed", key=key)
        if code in _CONFLICT_CODES or (status == "409" and operation == "put_object"):
            return WriteConflict(f"{operation}: conditional request conflict ({code})", key=key)
        if code in _DENIED_CODES:
            return StorageError(
                f"S3 {operation}: access denied; check the IAM policy and the bucket policy (a policy that denies"
                " non-TLS requests refuses http:// endpoints)",
                key=key,
                code=code,
            )
        if code == "NoSuchBucket":
            return StorageError(f"bucket {self.bucket!r} does not exist", key=key, code=code)
        if code == "BucketAlreadyExists":
            return StorageError(
                f"bucket name {self.bucket!r} is taken by another AWS account (names are global): pick another",
                code=code,
            )
        return StorageError(f"S3 {operation} failed: {code} {message}".rstrip(), key=key, code=code)

    async def _read_body(self, response: Mapping[str, Any], key: str) -> bytes:
        from aiohttp import ClientError as HttpClientError
        from botocore.exceptions import BotoCoreError

        try:
            async with response["Body"] as stream:
                data: bytes = await stream.read()
                return data
        except (BotoCoreError, HttpClientError, OSError, asyncio.TimeoutError) as exc:
            raise StorageError(f"S3 GetObject body read failed: {exc}", key=key) from exc

    async def get(self, key: str, *, max_bytes: int, version_id: str | None = None) -> StoredObject:
        extra = {"VersionId": version_id} if version_id else {}
        response = await self.call("get_object", key, Key=key, **extra)
        length = int(response.get("ContentLength") or 0)
        # The compressed body of a legitimate object is never much larger than its JSON.
        if length > max_bytes + 65536:
            response["Body"].close()
            raise CorruptObject(f"object of {length} bytes is over the {max_bytes}-byte cap", key=key)
        body = await self._read_body(response, key)
        return StoredObject(body=body, etag=response["ETag"], metadata=response.get("Metadata") or {})

    async def head(self, key: str, *, version_id: str | None = None) -> ObjectMeta:
        extra = {"VersionId": version_id} if version_id else {}
        response = await self.call("head_object", key, Key=key, **extra)
        modified = response.get("LastModified")
        return ObjectMeta(
            etag=response["ETag"],
            metadata=response.get("Metadata") or {},
            modified=modified.timestamp() if modified is not None else 0.0,
        )

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
        response = await self.call("put_object", key, **kwargs)
        etag: str = response["ETag"]
        return etag

    async def copy(self, source_key: str, dest_key: str) -> str:
        response = await self.call(
            "copy_object",
            dest_key,
            Key=dest_key,
            CopySource={"Bucket": self.bucket, "Key": source_key},
            **self._write_extra,
        )
        etag: str = response.get("CopyObjectResult", {}).get("ETag", "")
        return etag

    async def delete(self, key: str, *, if_match: str | None = None) -> None:
        extra = {"IfMatch": if_match} if if_match is not None else {}
        await self.call("delete_object", key, Key=key, **extra)

    async def delete_keys(self, keys: Sequence[str]) -> None:
        await self._delete_batches([{"Key": key} for key in keys])

    async def list_page(self, prefix: str, *, start_after: str | None = None, max_keys: int = 1000) -> ListPage:
        extra = {"StartAfter": start_after} if start_after else {}
        response = await self.call("list_objects_v2", prefix, Prefix=prefix, MaxKeys=max_keys, **extra)
        return ListPage(_infos(response), bool(response.get("IsTruncated")))

    async def list_objects(self, prefix: str) -> list[ObjectInfo]:
        objects: list[ObjectInfo] = []
        token: str | None = None
        while True:
            extra = {"ContinuationToken": token} if token else {}
            response = await self.call("list_objects_v2", prefix, Prefix=prefix, **extra)
            objects.extend(_infos(response))
            token = response.get("NextContinuationToken")
            if not response.get("IsTruncated") or not token:
                return objects

    async def list_prefixes(self, prefix: str) -> list[str]:
        prefixes: list[str] = []
        token: str | None = None
        while True:
            extra = {"ContinuationToken": token} if token else {}
            response = await self.call("list_objects_v2", prefix, Prefix=prefix, Delimiter="/", **extra)
            prefixes.extend(item["Prefix"] for item in response.get("CommonPrefixes", []))
            token = response.get("NextContinuationToken")
            if not response.get("IsTruncated") or not token:
                return prefixes

    async def list_versions(self, prefix: str) -> list[ObjectVersion]:
        """Versions first, in S3's order (by key, newest first), then delete markers (by key, newest first)."""
        versions: list[ObjectVersion] = []
        markers: dict[str, str] = {}
        while True:
            response = await self.call("list_object_versions", prefix, Prefix=prefix, **markers)
            for item, marker in [
                *((item, False) for item in response.get("Versions", [])),
                *((item, True) for item in response.get("DeleteMarkers", [])),
            ]:
                modified = item["LastModified"].timestamp() if "LastModified" in item else 0.0
                versions.append(
                    ObjectVersion(
                        key=item["Key"],
                        version_id=item.get("VersionId") or "null",
                        modified=modified,
                        is_latest=bool(item.get("IsLatest")),
                        is_delete_marker=marker,
                        etag=item.get("ETag", ""),
                    )
                )
            if not response.get("IsTruncated"):
                return versions
            markers = {"KeyMarker": response["NextKeyMarker"]}
            if response.get("NextVersionIdMarker"):
                markers["VersionIdMarker"] = response["NextVersionIdMarker"]

    async def delete_versions(self, versions: Sequence[ObjectVersion]) -> None:
        await self._delete_batches([{"Key": version.key, "VersionId": version.version_id} for version in versions])

    async def _delete_batches(self, objects: Sequence[Mapping[str, str]]) -> None:
        batches = [list(objects[start : start + _DELETE_BATCH]) for start in range(0, len(objects), _DELETE_BATCH)]
        results = await gather(
            self.call("delete_objects", batch[0]["Key"], Delete={"Objects": batch, "Quiet": True}) for batch in batches
        )
        errors = [error for response in results for error in response.get("Errors") or []]
        if errors:
            first = errors[0]
            raise StorageError(
                f"S3 DeleteObjects failed for {len(errors)} object(s): {first.get('Code')} {first.get('Message')}",
                key=first.get("Key"),
            )


def credentials_session(access_key_id: str, secret_access_key: str, region_name: str) -> Any:
    """Returns an ``aioboto3.Session`` with the given credentials (for a local S3 with fake ones)."""
    import aioboto3

    session = aioboto3.Session(
        aws_access_key_id=access_key_id, aws_secret_access_key=secret_access_key, region_name=region_name
    )
    use_fast_timestamps(session, _botocore_timestamp_parser())
    return session


def _sdk_versions() -> dict[str, str]:
    import aioboto3
    import aiobotocore
    import botocore

    return {"aioboto3": aioboto3.__version__, "aiobotocore": aiobotocore.__version__, "botocore": botocore.__version__}


def _botocore_timestamp_parser() -> Callable[[Any], Any]:
    """botocore's own timestamp parser: `use_fast_timestamps` falls back to it for the forms it leaves."""
    from botocore.utils import parse_timestamp

    parser: Callable[[Any], Any] = parse_timestamp
    return parser


def _infos(response: Mapping[str, Any]) -> list[ObjectInfo]:
    return [
        ObjectInfo(
            key=item["Key"],
            size=int(item.get("Size", 0)),
            modified=item["LastModified"].timestamp(),
            etag=item.get("ETag", ""),
        )
        for item in response.get("Contents", [])
    ]
