"""``s3sessions view``: the read-only web viewer on 127.0.0.1, as a command of the console script."""

from __future__ import annotations

import sys
import webbrowser

import click

from ..cli.options import Settings, connection_options, pass_settings, translated_errors
from ..loop_thread import LoopThread
from .app import ReadOnlySessions, ViewerApp
from .server import ViewerServer, is_loopback

DEFAULT_PORT = 8765


@click.command("view")
@connection_options(from_environment=False)
@click.option(
    "--port", type=click.IntRange(0, 65535), default=DEFAULT_PORT, show_default=True, help="Port (0: a free one)."
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on. Anything but a loopback address lets others read every session: a warning.",
)
@click.option("--open", "open_browser", is_flag=True, help="Open the viewer in the default web browser.")
@click.option("--verbose", is_flag=True, help="Log every request to stderr.")
@pass_settings
def view(settings: Settings, port: int, host: str, open_browser: bool, verbose: bool) -> None:
    """Serves a read-only web viewer of the sessions on 127.0.0.1 (until Ctrl-C).

    Lists sessions newest first (filter by name, tag or agent); shows each transcript with the turn numbers
    `rewind` takes, folded tool calls, inline images, state, metadata, forks and a fork beside its parent.
    Nothing in the viewer writes to S3.
    """
    manager = settings.manager()
    loop = LoopThread("s3sessions-viewer-loop")
    server: ViewerServer | None = None
    try:
        with translated_errors():
            loop.run(manager.list_page(1))  # fail here, not in the browser, on a wrong bucket or credentials
        app = ViewerApp(ReadOnlySessions(manager), loop.run, settings.location)
        try:
            server = ViewerServer(app, host, port, verbose=verbose)
        except OSError as exc:
            hint = " (try --port 0 for a free one)" if port else ""
            raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror or exc}{hint}") from exc
        if not is_loopback(host):
            click.echo(
                f"warning: listening on {host}, not on a loopback address: anyone who can reach it can read every "
                f"session in {settings.location}",
                err=True,
            )
        click.echo(f"s3sessions viewer of {settings.location} on {server.url} (read-only; Ctrl-C stops it)")
        sys.stdout.flush()
        if open_browser:
            webbrowser.open(server.url)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            click.echo("stopped", err=True)
    finally:
        if server is not None:
            server.close()
        loop.close(manager.close())
