"""Lineage: a session's parent and its forks as a tree, and where in a transcript each fork diverged.

A fork records ``parent_id`` and ``forked_at_turn`` (how many turns it shares with its parent), so the forks of
a session are the sessions whose ``parent_id`` is its id. The index has no reverse link, so the viewer lists
every session (`all_sessions`, one walk of the index pages) and builds the family from that; `Snapshot` keeps
the walk for a few seconds so that paging through one transcript does not repeat it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from s3sessions import Session, SessionMetadata, SessionPage

MAX_TREE_NODES = 500
"""A family larger than this is cut (the page says so)."""
LIST_PAGE_SIZE = 1000


class SessionReader(Protocol):
    """What the viewer needs from a manager: the two reads. It never sees a method that writes."""

    async def list_page(
        self, limit: int = 100, cursor: str | None = None, *, tag: str | None = None, agent_name: str | None = None
    ) -> SessionPage: ...

    async def resume(self, session_id: str) -> Session: ...


async def all_sessions(reader: SessionReader) -> dict[str, SessionMetadata]:
    """Returns every session's metadata by id, walking the index pages newest first."""
    found: dict[str, SessionMetadata] = {}
    cursor: str | None = None
    while True:
        page = await reader.list_page(LIST_PAGE_SIZE, cursor)
        for metadata in page.sessions:
            found.setdefault(metadata.id, metadata)
        if page.next_cursor is None:
            return found
        cursor = page.next_cursor


def forks_by_parent(sessions: Iterable[SessionMetadata]) -> dict[str, list[SessionMetadata]]:
    """Returns the forks of each session, oldest first (ties by id)."""
    children: dict[str, list[SessionMetadata]] = {}
    for metadata in sessions:
        if metadata.parent_id is not None:
            children.setdefault(metadata.parent_id, []).append(metadata)
    for forks in children.values():
        forks.sort(key=lambda fork: (fork.created_at, fork.id))
    return children


@dataclass
class Node:
    """One session of a family tree; ``metadata`` is None for an ancestor that no longer exists."""

    session_id: str
    metadata: SessionMetadata | None
    children: list[Node] = field(default_factory=list)


@dataclass
class Family:
    """The tree a session belongs to, from its oldest known ancestor; ``cut`` when it exceeded the limit."""

    root: Node
    size: int
    cut: bool


def family_tree(sessions: Mapping[str, SessionMetadata], session_id: str, limit: int = MAX_TREE_NODES) -> Family:
    """Returns the tree of forks that ``session_id`` belongs to, rooted at its oldest ancestor.

    An ancestor that was deleted is a node without metadata; its own ancestors are unknown. Cycles (which
    the library never creates) are broken where they close.
    """
    top = session_id
    seen = {top}
    while (metadata := sessions.get(top)) is not None and metadata.parent_id and metadata.parent_id not in seen:
        top = metadata.parent_id
        seen.add(top)
    children = forks_by_parent(sessions.values())
    root = Node(top, sessions.get(top))
    placed = {top}
    queue = [root]
    cut = False
    while queue:
        node = queue.pop(0)
        for fork in children.get(node.session_id, []):
            if fork.id in placed:
                continue
            if len(placed) >= limit:
                cut = True
                break
            placed.add(fork.id)
            child = Node(fork.id, fork)
            node.children.append(child)
            queue.append(child)
    return Family(root, len(placed), cut)


def shared_cut(starts: list[int], message_count: int, shared_turns: int) -> int:
    """Returns how many messages make up the first ``shared_turns`` turns (the prefix a fork shares)."""
    if shared_turns <= 0:
        return starts[0] if starts else message_count
    return starts[shared_turns] if shared_turns < len(starts) else message_count


def common_prefix(first: list[object], second: list[object]) -> int:
    """Returns how many leading messages two transcripts have in common."""
    count = 0
    for left, right in zip(first, second, strict=False):
        if left != right:
            break
        count += 1
    return count


class Snapshot:
    """The last `all_sessions` walk, reused for ``ttl`` seconds; thread-safe (one walk at a time)."""

    def __init__(self, ttl: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._taken: float | None = None
        self._sessions: dict[str, SessionMetadata] = {}

    def get(self, load: Callable[[], dict[str, SessionMetadata]]) -> dict[str, SessionMetadata]:
        """Returns the cached walk, or calls ``load`` for a new one when it is older than ``ttl``."""
        with self._lock:
            now = self._clock()
            if self._taken is None or now - self._taken >= self._ttl:
                self._sessions = load()
                self._taken = self._clock()
            return self._sessions


__all__ = [
    "MAX_TREE_NODES",
    "Family",
    "Node",
    "SessionReader",
    "Snapshot",
    "all_sessions",
    "common_prefix",
    "family_tree",
    "forks_by_parent",
    "shared_cut",
]
