"""The swapped constructors of the Strands suites (see `_backends`)."""

from __future__ import annotations

from typing import Any

from _backends import BUCKET, current

from s3sessions import S3SessionManager
from s3sessions.integrations.strands import S3SessionsRepository, StrandsSessionManager
from s3sessions.loop_thread import LoopThread


def _strands(session_id: str, **options: Any) -> StrandsSessionManager:
    manager = StrandsSessionManager(session_id, **options)
    current().closers.append(manager.close)
    return manager


def strands_s3_session_manager(
    session_id: str,
    bucket: str,
    prefix: str = "",
    boto_session: Any = None,
    boto_client_config: Any = None,
    region_name: str | None = None,
    endpoint_url: str | None = None,
    **kwargs: Any,
) -> StrandsSessionManager:
    """``strands.session.s3_session_manager.S3SessionManager``: the same bucket and prefix (moto's endpoint comes
    from ``AWS_ENDPOINT_URL_S3``, as for the original's boto3 client)."""
    options: dict[str, Any] = {"bucket": bucket, "prefix": prefix, "region_name": region_name}
    if endpoint_url is not None:
        options["endpoint_url"] = endpoint_url
    return _strands(session_id, **options)


def strands_file_session_manager(session_id: str, storage_dir: str | None = None, **kwargs: Any) -> Any:
    """``strands.session.file_session_manager.FileSessionManager``: one prefix per storage directory (each
    manager has its own client, as two processes on one directory would)."""
    prefix = current().prefix(f"dir:{storage_dir}")
    return _strands(session_id, bucket=BUCKET, prefix=prefix, endpoint_url=current().endpoint)


class MockedSessionRepositoryOnS3(S3SessionsRepository):
    """Strands' ``MockedSessionRepository()``: each instance is a repository of its own, on its own loop."""

    def __init__(self) -> None:
        backend = current()
        loop = LoopThread(name="ported-strands-repository")
        manager = S3SessionManager(bucket=BUCKET, prefix=backend.prefix(None), endpoint_url=backend.endpoint)
        backend.closers.append(lambda: loop.close(manager.close()))
        super().__init__(manager, loop.run)
