"""A session's page (facts, lineage, state, the transcript a page at a time) and a fork beside its parent.

Turn numbers are the ones `rewind` takes: turn ``k`` starts at ``turn_starts(messages)[k]`` and
``s3sessions rewind ID k`` keeps everything up to the end of it. Long transcripts are shown
`MESSAGES_PER_PAGE` messages at a time, so a page of a 10,000-message session is as light as any other.
"""

from __future__ import annotations

import bisect
import json
from dataclasses import dataclass

from s3sessions import Session, SessionMetadata, turn_starts

from .lineage import Family, Node, shared_cut
from .markup import Markup, element
from .messages import parse_message
from .pages import layout, lineage_marker, query_path, session_label, tag_links
from .render import clipped, human_size, message_html, pretty_json, session_path, timestamp

MESSAGES_PER_PAGE = 200
TURNS_PER_COMPARE_PAGE = 20
STATE_CHARS = 100_000
"""How much of the state and metadata JSON a session page shows."""


def page_count(message_count: int) -> int:
    """Returns how many transcript pages a session has (at least one)."""
    return max(1, -(-message_count // MESSAGES_PER_PAGE))


def page_of_message(index: int, message_count: int) -> int:
    """Returns the 1-based transcript page that holds message ``index`` (the last page if beyond the end)."""
    return min(index // MESSAGES_PER_PAGE + 1, page_count(message_count))


def page_of_turn(starts: list[int], message_count: int, turn: int) -> int:
    """Returns the page where turn ``turn`` starts (the last page for a turn past the end)."""
    return page_of_message(starts[turn] if 0 <= turn < len(starts) else message_count, message_count)


def turn_of(starts: list[int], index: int) -> int | None:
    """Returns the turn that message ``index`` belongs to, or None before the first turn."""
    position = bisect.bisect_right(starts, index) - 1
    return position if position >= 0 else None


def rewind_command(session_id: str, turn: int) -> str:
    """Returns the command that keeps turns ``0..turn`` (session ids are ``[A-Za-z0-9._-]``: shell-safe)."""
    return f"s3sessions rewind {session_id} {turn}"


def _turn_banner(session_id: str, turn: int) -> Markup:
    command = rewind_command(session_id, turn)
    return element(
        "h3",
        {"class": "turn", "id": f"turn-{turn}", "data-turn": turn},
        element("a", {"href": f"#turn-{turn}"}, f"turn {turn}"),
        " ",
        element("code", {"class": "rewind", "title": f"keeps turns 0..{turn}, drops the rest"}, command),
        element("button", {"type": "button", "class": "copy", "data-copy": command, "hidden": True}, "copy"),
    )


def _fork_marker(fork: SessionMetadata) -> Markup:
    shared = fork.forked_at_turn or 0
    return element(
        "div",
        {"class": "fork-point", "id": f"fork-{fork.id}"},
        "↳ here ",
        element("a", {"href": session_path(fork.id)}, session_label(fork)),
        f" forked off (it shares turns 0..{shared - 1}) · " if shared else " forked off (it shares no turn) · ",
        element("a", {"href": f"/compare/{fork.id}"}, "compare"),
    )


def _own_marker(metadata: SessionMetadata) -> Markup:
    parent = metadata.parent_id or ""
    return element(
        "div",
        {"class": "fork-point own", "id": "fork-point"},
        "↳ this fork's own messages start here; before this point it shares its parent ",
        element("a", {"href": session_path(parent)}, parent),
    )


def _markers(session: Session, starts: list[int], forks: list[SessionMetadata]) -> dict[int, list[Markup]]:
    """Returns the fork markers by the message index they stand before (``len(messages)``: at the end)."""
    count = len(session.messages)
    markers: dict[int, list[Markup]] = {}
    if session.metadata.parent_id is not None:
        position = shared_cut(starts, count, session.metadata.forked_at_turn or 0)
        markers.setdefault(position, []).append(_own_marker(session.metadata))
    for fork in forks:
        position = shared_cut(starts, count, fork.forked_at_turn or 0)
        markers.setdefault(position, []).append(_fork_marker(fork))
    return markers


def _facts(metadata: SessionMetadata, message_count: int) -> Markup:
    facts: list[tuple[str, Markup | str]] = [
        ("id", element("code", {}, metadata.id)),
        ("agent", element("a", {"href": query_path("/", agent=metadata.agent_name)}, metadata.agent_name)),
        ("tags", tag_links(metadata.tags) if metadata.tags else "-"),
        ("turns", str(metadata.turn_count)),
        ("messages", f"{message_count:,}"),
        ("size", human_size(metadata.message_bytes)),
        ("tokens", f"{metadata.total_tokens:,}"),
        ("created", timestamp(metadata.created_at)),
        ("updated", timestamp(metadata.updated_at)),
        ("version", element("code", {}, metadata.version or "-")),
    ]
    items = [
        element(
            "div",
            {"class": "wide" if name in {"id", "version"} else None},
            element("dt", {}, name),
            element("dd", {}, value),
        )
        for name, value in facts
    ]
    return element("dl", {"class": "facts"}, *items)


def _tree_item(node: Node, current: str) -> Markup:
    metadata = node.metadata
    if metadata is None:
        label: list[Markup | str] = [element("span", {"class": "missing"}, f"{node.session_id} (no longer exists)")]
    else:
        css = "current" if node.session_id == current else None
        label = [element("a", {"href": session_path(metadata.id), "class": css}, session_label(metadata))]
        label.append(element("span", {"class": "turns"}, f" {metadata.turn_count} turn(s)"))
        if metadata.parent_id is not None:
            shared = metadata.forked_at_turn or 0
            target = query_path(session_path(metadata.parent_id), fork=metadata.id)
            label += [" · ", element("a", {"class": "diverged", "href": target}, f"diverged at turn {shared}")]
            label += [" · ", element("a", {"class": "compare", "href": f"/compare/{metadata.id}"}, "compare")]
    children = element("ul", {}, *(_tree_item(child, current) for child in node.children)) if node.children else ""
    return element("li", {}, *label, children)


def _lineage(metadata: SessionMetadata, parent_exists: bool, family: Family) -> Markup:
    parts: list[Markup] = []
    if metadata.parent_id is not None:
        shared = metadata.forked_at_turn or 0
        if parent_exists:
            target = query_path(session_path(metadata.parent_id), fork=metadata.id)
            parent: Markup | str = element(
                "a", {"class": "parent", "href": session_path(metadata.parent_id)}, metadata.parent_id
            )
            more: list[Markup | str] = [
                f"; shares turns 0..{shared - 1} · " if shared else "; shares no turn · ",
                element("a", {"class": "diverged", "href": target}, f"where it diverged (turn {shared})"),
                " · ",
                element("a", {"class": "compare", "href": f"/compare/{metadata.id}"}, "compare with the parent"),
            ]
        else:
            parent, more = f"{metadata.parent_id} (no longer exists)", []
        parts.append(element("p", {"class": "parent-line"}, "Fork of ", parent, *more))
    if family.size > 1:
        note = element("p", {"class": "clipped"}, f"(only the first {family.size} sessions)") if family.cut else ""
        parts.append(element("ul", {"class": "tree"}, _tree_item(family.root, metadata.id)))
        parts.append(Markup(note))
    if not parts:
        parts.append(element("p", {"class": "empty"}, "Not a fork, and not forked."))
    return element("section", {"class": "lineage-box"}, element("h2", {}, "Lineage"), *parts)


def _json_box(title: str, value: object, css: str) -> Markup:
    body = clipped(pretty_json(value), STATE_CHARS, None, "json", tag="pre")
    return element("details", {"class": css}, element("summary", {}, title), body)


def _pager(session_id: str, page: int, pages: int, starts: list[int]) -> Markup:
    def link(css: str, target: int, text: str) -> Markup:
        return element("a", {"class": css, "href": query_path(session_path(session_id), page=target)}, text)

    parts: list[Markup | str] = []
    if page > 1:
        parts += [link("first", 1, "« first"), link("prev", page - 1, "← previous")]
    parts.append(element("span", {"class": "where"}, f"page {page} of {pages}"))
    if page < pages:
        parts += [link("next", page + 1, "next →"), link("last", pages, "last »")]
    jump = element(
        "form",
        {"class": "jump", "method": "get"},
        element(
            "label",
            {},
            "turn ",
            element("input", {"name": "turn", "type": "number", "min": 0, "max": max(len(starts) - 1, 0)}),
        ),
        element("button", {"type": "submit"}, "go"),
    )
    return element("nav", {"class": "pager"}, *parts, jump)


@dataclass(frozen=True)
class SessionView:
    """What a session page shows: the session, which page of its transcript, its forks and its family."""

    session: Session
    page: int
    forks: list[SessionMetadata]
    family: Family
    parent_exists: bool


def session_page(location: str, view: SessionView) -> Markup:
    """Returns a session's page: facts, lineage, state and metadata, and one page of the transcript."""
    session, metadata = view.session, view.session.metadata
    messages = session.messages
    starts = turn_starts(messages)
    pages = page_count(len(messages))
    page = min(max(view.page, 1), pages)
    first, last = (page - 1) * MESSAGES_PER_PAGE, min(page * MESSAGES_PER_PAGE, len(messages))
    markers = _markers(session, starts, view.forks)
    turn_at = {start: turn for turn, start in enumerate(starts)}
    body: list[Markup] = []
    if first == 0 and messages and 0 not in turn_at:
        body.append(element("h3", {"class": "turn before"}, "before turn 0 (every rewind keeps these)"))
    for index in range(first, last):
        body.extend(markers.get(index, []))
        if index in turn_at:
            body.append(_turn_banner(metadata.id, turn_at[index]))
        body.append(message_html(parse_message(messages[index]), session_id=metadata.id, index=index))
    if last == len(messages):
        body.extend(markers.get(len(messages), []))
    if not messages:
        body.append(element("p", {"class": "empty"}, "No messages."))
    shown = f"messages {first} to {last - 1} of {len(messages):,}" if messages else "no messages"
    tools = element(
        "div",
        {"class": "tools", "id": "transcript-tools", "hidden": True},
        element("button", {"type": "button", "id": "expand-all"}, "expand all"),
        element("button", {"type": "button", "id": "collapse-all"}, "collapse all"),
    )
    return layout(
        session_label(metadata),
        location,
        element("h1", {}, session_label(metadata), " ", lineage_marker(metadata)),
        _facts(metadata, len(messages)),
        _lineage(metadata, view.parent_exists, view.family),
        _json_box("state", session.state, "state"),
        _json_box("metadata", json.loads(metadata.model_dump_json()), "metadata"),
        element("h2", {"id": "transcript"}, "Transcript ", element("span", {"class": "shown"}, shown)),
        tools,
        _pager(metadata.id, page, pages, starts),
        element("div", {"class": "transcript"}, *body),
        _pager(metadata.id, page, pages, starts),
    )
