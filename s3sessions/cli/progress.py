"""Progress of a long CLI operation (reindex, ``ls --all``), reported on stderr."""

from __future__ import annotations

import sys
import time

import click


class HeadProgress:
    """Reports ``reindex: done/total heads read`` on stderr; pass it as ``reindex(progress=...)``.

    On a terminal the line is redrawn in place (at most every 0.1 s); elsewhere a line is written at most
    every ``interval`` seconds, and always for the first and the last head.

    Args:
        interval: Seconds between reports when stderr is not a terminal.
    """

    def __init__(self, *, interval: float = 2.0) -> None:
        self.is_terminal = sys.stderr.isatty()
        self._interval = 0.1 if self.is_terminal else interval
        self._last = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if not (done in (1, total) or now - self._last >= self._interval):
            return
        self._last = now
        text = f"reindex: {done}/{total} heads read"
        if self.is_terminal:
            click.echo(f"\r{text}", err=True, nl=done >= total)
        else:
            click.echo(text, err=True)


class PageProgress:
    """Reports ``ls: N sessions listed`` on stderr while ``ls --all`` walks pages (after the first page only)."""

    def __init__(self) -> None:
        self._pages = 0
        self._terminal = sys.stderr.isatty()

    def __call__(self, listed: int, *, done: bool) -> None:
        self._pages += 1
        if self._pages == 1 and done:
            return  # one page: nothing worth reporting
        text = f"ls: {listed} sessions listed ({self._pages} pages)"
        if self._terminal:
            click.echo(f"\r{text}", err=True, nl=done)
        elif done or self._pages % 10 == 0:
            click.echo(text, err=True)
