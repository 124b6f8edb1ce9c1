"""What every command shares: connection settings, the shared option decorators, and error translation.

Every expected failure is one line on stderr: library errors (exit 1) through `translated_errors`, usage errors
(exit 2) through `OneLineUsageGroup`, which the console script's root group is.
"""

from __future__ import annotations

import asyncio
import contextlib
import urllib.parse
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ..admin.bucket_names import check_bucket_name
from ..errors import AgentError

if TYPE_CHECKING:
    from ..manager import S3SessionManager

_T = TypeVar("_T")
_F = TypeVar("_F", bound=Callable[..., Any])
_AWS_PACKAGES = frozenset({"botocore", "aiobotocore", "boto3", "aioboto3"})

CONNECT_TIMEOUT_SECONDS = 2
"""How long the CLI waits for a TCP connection to S3 (the library's default is 10 s)."""
TOTAL_ATTEMPTS = 3
"""Attempts per request, the first included (the library's default is 6): a wrong endpoint fails in about 2 s."""
CLIENT_CONFIG: dict[str, Any] = {
    "connect_timeout": CONNECT_TIMEOUT_SECONDS,
    "retries": {"mode": "standard", "total_max_attempts": TOTAL_ATTEMPTS},
}
"""The ``client_config`` of every manager and bucket client the CLI makes: a person is waiting."""


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

        return S3SessionManager(
            bucket=self.bucket_name(),
            prefix=self.prefix or "",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            profile_name=self.profile,
            client_config=CLIENT_CONFIG,
        )

    def bucket_name(self) -> str:
        """Returns the bucket, checked before any request.

        Raises:
            click.ClickException: no bucket was given, or S3 cannot accept its name (said in words).
        """
        if not self.bucket:
            raise click.ClickException("no bucket: pass --bucket or set S3SESSIONS_BUCKET")
        with translated_errors():
            return check_bucket_name(self.bucket)

    def no_sessions(self, tags: Sequence[str] = (), *, agent: str | None = None) -> str:
        """The one-line answer to an empty listing: where it looked, and what to try."""
        where = f"bucket {self.bucket!r}, " + (f"prefix {self.prefix!r}" if self.prefix else "no prefix")
        tagged = (f" tagged {', '.join(tags)}" if tags else "") + (f" of agent {agent!r}" if agent else "")
        return (
            f"no sessions{tagged} in {self.location} ({where}); if they are under another prefix, pass"
            " --prefix PREFIX or set S3SESSIONS_PREFIX"
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


def _unreachable_endpoint(exc: BaseException) -> str | None:
    """Names the endpoint when the error chain holds a failed connection (wrong URL, nothing listening)."""
    seen: set[int] = set()
    error: BaseException | None = exc
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        url = (
            getattr(error, "kwargs", {}).get("endpoint_url") if type(error).__module__.startswith("botocore") else None
        )
        if isinstance(url, str):
            parts = urllib.parse.urlsplit(url)
            reason = "timed out" if "timeout" in type(error).__name__.lower() else "connection failed"
            return (
                f"cannot reach S3 at {parts.scheme}://{parts.netloc} ({reason}, {TOTAL_ATTEMPTS} attempts): check"
                " --endpoint-url / AWS_ENDPOINT_URL, or that the local S3 is running"
            )
        error = error.__cause__ or error.__context__
    return None


@contextlib.contextmanager
def translated_errors() -> Iterator[None]:
    """Turns library and AWS configuration errors into one-line `click.ClickException`s (no traceback)."""
    try:
        yield
    except AgentError as exc:
        raise click.ClickException(_unreachable_endpoint(exc) or one_line(str(exc))) from exc
    except click.ClickException:
        raise
    except Exception as exc:
        # e.g. botocore's ProfileNotFound or NoRegionError, raised while the client is being created.
        if type(exc).__module__.partition(".")[0] in _AWS_PACKAGES:
            raise click.ClickException(one_line(f"AWS configuration: {exc}")) from exc
        raise


class OneLineUsageError(click.UsageError):
    """A usage error shown on one line, with where to find help (click's own prints usage, hint and error)."""

    def show(self, file: Any = None) -> None:
        hint = f" (see '{self.ctx.command_path} --help')" if self.ctx is not None else ""
        click.echo(f"Error: {one_line(self.format_message())}{hint}", err=True, file=file)


@contextlib.contextmanager
def one_line_usage_errors() -> Iterator[None]:
    """Re-raises click's usage errors as `OneLineUsageError` (same message and exit status 2)."""
    try:
        yield
    except (click.exceptions.NoArgsIsHelpError, OneLineUsageError):
        raise  # a bare group prints its help, as it should
    except click.UsageError as exc:
        raise OneLineUsageError(exc.format_message(), exc.ctx) from exc


class OneLineUsageGroup(click.Group):
    """The root group: every usage error below it (unknown option, missing argument, bad value) is one line."""

    def make_context(
        self, info_name: str | None, args: list[str], parent: click.Context | None = None, **extra: Any
    ) -> click.Context:
        with one_line_usage_errors():
            return super().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx: click.Context) -> Any:
        with one_line_usage_errors():
            return super().invoke(ctx)


def run(settings: Settings, operation: Callable[[S3SessionManager], Awaitable[_T]]) -> _T:
    """Opens a manager, awaits ``operation(manager)`` through `asyncio.run`, closes the manager, returns."""

    async def main() -> _T:
        async with settings.manager() as manager:
            return await operation(manager)

    with translated_errors():
        return asyncio.run(main())
