"""What every command shares: connection settings, the shared option decorators, and error translation."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ..errors import AgentError

if TYPE_CHECKING:
    from ..manager import S3SessionManager

_T = TypeVar("_T")
_F = TypeVar("_F", bound=Callable[..., Any])
_AWS_PACKAGES = frozenset({"botocore", "aiobotocore", "boto3", "aioboto3"})


@dataclass
class Settings:
    """Where the sessions live: filled from the group's options, then overridden by a subcommand's."""

    bucket: str | None = None
    prefix: str | None = None
    endpoint_url: str | None = None
    profile: str | None = None
    region: str | None = None

    @property
    def location(self) -> str:
        """The sessions' location as an ``s3://`` URL, for messages."""
        return f"s3://{self.bucket or '?'}/{self.prefix or ''}"

    def manager(self) -> S3SessionManager:
        """Returns a manager for these settings (no request is made yet).

        Raises:
            click.ClickException: no bucket was given.
        """
        from ..manager import S3SessionManager

        if not self.bucket:
            raise click.ClickException("no bucket: pass --bucket or set S3SESSIONS_BUCKET")
        return S3SessionManager(
            bucket=self.bucket,
            prefix=self.prefix or "",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            profile_name=self.profile,
        )


def _remember(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and param.name is not None:
        setattr(ctx.ensure_object(Settings), param.name, value)
    return value


def connection_options(*, from_environment: bool) -> Callable[[_F], _F]:
    """Adds --bucket, --prefix, --endpoint-url, --profile and --region, stored in the context's `Settings`.

    The group reads them from the environment too; a subcommand's explicit value overrides the group's.
    """

    def env(name: str) -> str | None:
        return name if from_environment else None

    def decorate(function: _F) -> _F:
        specs = [
            ("--bucket", env("S3SESSIONS_BUCKET"), "S3 bucket holding the sessions [env: S3SESSIONS_BUCKET]."),
            ("--prefix", env("S3SESSIONS_PREFIX"), "Key prefix of the sessions [env: S3SESSIONS_PREFIX]."),
            ("--endpoint-url", None, "S3 endpoint, e.g. a local S3 [env: AWS_ENDPOINT_URL]."),
            ("--profile", None, "AWS profile to use [env: AWS_PROFILE]."),
            ("--region", None, "AWS region [env: AWS_REGION / AWS_DEFAULT_REGION]."),
        ]
        for flag, envvar, help_text in reversed(specs):
            function = click.option(
                flag,
                envvar=envvar,
                default=None,
                expose_value=False,
                callback=_remember,
                help=help_text,
            )(function)
        return function

    return decorate


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
"""The shared ``--json`` flag (parameter ``as_json``)."""

pass_settings = click.make_pass_decorator(Settings, ensure=True)


def one_line(text: str) -> str:
    """Returns the text with its line breaks folded, for a one-line error."""
    return " ".join(text.split())


@contextlib.contextmanager
def translated_errors() -> Iterator[None]:
    """Turns library and AWS configuration errors into one-line `click.ClickException`s (no traceback)."""
    try:
        yield
    except AgentError as exc:
        raise click.ClickException(one_line(str(exc))) from exc
    except click.ClickException:
        raise
    except Exception as exc:
        # e.g. botocore's ProfileNotFound or NoRegionError, raised while the client is being created.
        if type(exc).__module__.partition(".")[0] in _AWS_PACKAGES:
            raise click.ClickException(one_line(f"AWS configuration: {exc}")) from exc
        raise


def run(settings: Settings, operation: Callable[[S3SessionManager], Awaitable[_T]]) -> _T:
    """Opens a manager, awaits ``operation(manager)`` through `asyncio.run`, closes the manager, returns."""

    async def main() -> _T:
        async with settings.manager() as manager:
            return await operation(manager)

    with translated_errors():
        return asyncio.run(main())
