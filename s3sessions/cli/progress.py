"""Progress of a reindex, observed through the S3 client's event hooks (the manager reports none itself)."""

from __future__ import annotations

import sys
import time
from typing import Any

import click

HEAD_SUFFIX = "/head.json.zst"


class HeadProgress:
    """Counts the heads a manager lists and reads, and reports ``reindex: read/total heads`` on stderr.

    On a terminal the line is redrawn in place (at most every 0.1 s); elsewhere a line is written at most
    every ``interval`` seconds, and always for the first and the last head.

    Args:
        interval: Seconds between reports when stderr is not a terminal.
    """

    def __init__(self, *, interval: float = 2.0) -> None:
        self.total = 0
        self.read = 0
        self.is_terminal = self._tty = sys.stderr.isatty()
        self._interval = 0.1 if self._tty else interval
        self._last = 0.0

    def attach(self, client: Any) -> None:
        """Registers the hooks on an aiobotocore S3 client."""
        events = client.meta.events
        events.register("after-call.s3.ListObjectsV2", self._listed)
        events.register("before-parameter-build.s3.GetObject", self._reading)
        events.register("after-call.s3.GetObject", self._read)

    def _listed(self, parsed: dict[str, Any], **_: Any) -> None:
        self.total += sum(1 for item in parsed.get("Contents", []) if str(item.get("Key", "")).endswith(HEAD_SUFFIX))

    def _reading(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        if str(params.get("Key", "")).endswith(HEAD_SUFFIX):
            context["s3sessions_head"] = True

    def _read(self, context: dict[str, Any], **_: Any) -> None:
        if context.get("s3sessions_head"):
            self.read += 1
            self.report()

    def report(self) -> None:
        """Writes the progress line if it is due (always for the first and the last head)."""
        now = time.monotonic()
        if not (self.read in (1, self.total) or now - self._last >= self._interval):
            return
        self._last = now
        text = f"reindex: {self.read}/{self.total} heads read"
        if self._tty:
            click.echo(f"\r{text}", err=True, nl=self.read >= self.total)
        else:
            click.echo(text, err=True)
