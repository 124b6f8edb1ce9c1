"""Measuring one operation: requests by type (botocore hooks), bytes and round trips (the proxy), CPU time.

- **Requests by type** come from botocore's ``before-send.s3`` event, registered on every client under test
  (aiobotocore's and boto3's alike): the operation name as botocore sends it, retries included.
- **Bytes sent / received** are the request and response body bytes that crossed the proxy (headers excluded:
  a few hundred bytes per request, the same for every store). The hook's own count of request body bytes is
  kept as a cross-check.
- **Sequential round trips** are the depth of the request chain: the longest sequence of requests in which
  each one reached the proxy only after the previous one's response had left it. Requests in flight at the
  same time (one parallel wave) count once; a wave wider than the client's connection pool or thread pool
  counts as several, as it would cost on S3. The proxy holds each request for the added latency, so issue
  jitter of a few milliseconds cannot split one wave into two.
- **CPU time** is this process's CPU (all threads) during the operation; the S3 server runs in another process.
"""

from __future__ import annotations

import bisect
import json
import threading
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from typing import Any


class RequestHook:
    """A botocore ``before-send.s3`` handler counting requests by operation name (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.operations: Counter[str] = Counter()
        self.body_bytes = 0

    def __call__(self, request: Any, event_name: str = "", **_: Any) -> None:
        # The event is "before-send.s3.<OperationName>"; AWSPreparedRequest carries no operation context.
        name = event_name.rsplit(".", 1)[-1] or "?"
        body = request.body
        size = len(body) if isinstance(body, bytes | bytearray) else 0
        with self._lock:
            self.operations[name] += 1
            self.body_bytes += size

    def take(self) -> tuple[Counter[str], int]:
        with self._lock:
            operations, self.operations = self.operations, Counter()
            body_bytes, self.body_bytes = self.body_bytes, 0
        return operations, body_bytes


def chain_depth(intervals: list[tuple[float, float]]) -> int:
    """Returns the longest chain of intervals in which each starts at or after the previous one's end."""
    finished: list[tuple[float, int]] = []  # (end, depth), kept sorted by end
    done = 0  # how many of `finished` ended at or before the current start
    running = 0  # the best depth among those
    deepest = 0
    for start, end in sorted(intervals):
        while done < len(finished) and finished[done][0] <= start:
            running = max(running, finished[done][1])
            done += 1
        depth = running + 1
        deepest = max(deepest, depth)
        bisect.insort(finished, (end, depth), lo=done)
    return deepest


class Proxy:
    """Talks to the benchmark proxy's control endpoints."""

    def __init__(self, url: str) -> None:
        self.url = url

    def set_latency(self, milliseconds: float) -> None:
        self._control(f"latency?ms={milliseconds}")

    def set_hot_keys(self, milliseconds: float) -> None:
        """Serialises conditional writes per key, each holding its key this long (0: off); see s3server."""
        self._control(f"hot_keys?ms={milliseconds}")

    def _control(self, what: str) -> None:
        request = urllib.request.Request(f"{self.url}/__bench__/{what}", method="POST", data=b"")
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()

    def take_log(self) -> list[dict[str, Any]]:
        with urllib.request.urlopen(f"{self.url}/__bench__/log", timeout=60) as response:
            records: list[dict[str, Any]] = json.loads(response.read())
        return records


@dataclass
class Measurement:
    """What one operation cost."""

    requests: dict[str, int] = field(default_factory=dict)
    request_count: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0
    round_trips: int = 0
    wall_seconds: float = 0.0
    cpu_seconds: float = 0.0
    hook_body_bytes: int = 0
    proxy_requests: int = 0
    segment_bytes_sent: int = 0
    """Body bytes sent to keys with ``/segments/`` in them (s3sessions' message segments)."""


class Meter:
    """Measures operations one at a time: ``with meter.measure() as result: ...``."""

    def __init__(self, proxy: Proxy, hook: RequestHook) -> None:
        self.proxy = proxy
        self.hook = hook

    def begin(self) -> tuple[float, float]:
        self.hook.take()
        self.proxy.take_log()
        return time.perf_counter(), time.process_time()

    def end(self, started: tuple[float, float]) -> Measurement:
        wall = time.perf_counter() - started[0]
        cpu = time.process_time() - started[1]
        operations, hook_bytes = self.hook.take()
        records = self.proxy.take_log()
        return Measurement(
            requests=dict(sorted(operations.items())),
            request_count=sum(operations.values()),
            bytes_sent=sum(record["sent"] for record in records),
            bytes_received=sum(record["received"] for record in records),
            round_trips=chain_depth([(record["start"], record["end"]) for record in records]),
            wall_seconds=wall,
            cpu_seconds=cpu,
            hook_body_bytes=hook_bytes,
            proxy_requests=len(records),
            segment_bytes_sent=sum(record["sent"] for record in records if "/segments/" in record["path"]),
        )
