"""Whole pages: the layout, the session list, one message, errors (pure code: data in, HTML out).

Pages load only the viewer's own stylesheet and script (``/static/...``); they carry no inline script or
style, so the server's Content-Security-Policy can forbid both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

from s3sessions import SessionMetadata

from .markup import Markup, element, join, script, stylesheet
from .messages import Message
from .render import (
    MESSAGE_LIMITS,
    clipped,
    human_size,
    message_html,
    message_json_path,
    message_path,
    pretty_json,
    session_path,
    timestamp,
)

STATIC_VERSION = "2"
"""Bumped when the static files change, so a browser never mixes an old script with a new page."""


def query_path(path: str, **parameters: str | int | None) -> str:
    """Returns ``path?query`` with the parameters that are set (None and "" are left out)."""
    query = urlencode({name: value for name, value in parameters.items() if value not in (None, "")})
    return f"{path}?{query}" if query else path


def layout(title: str, location: str, *body: Markup) -> Markup:
    """Returns a whole HTML document: the viewer's header, then ``body``."""
    head = element(
        "head",
        {},
        element("meta", {"charset": "utf-8"}),
        element("meta", {"name": "viewport", "content": "width=device-width, initial-scale=1"}),
        element("meta", {"name": "referrer", "content": "no-referrer"}),
        element("title", {}, f"{title} · s3sessions viewer"),
        stylesheet(f"/static/viewer.css?v={STATIC_VERSION}"),
        element("link", {"rel": "icon", "href": "/static/favicon.svg", "type": "image/svg+xml"}),
        script(f"/static/viewer.js?v={STATIC_VERSION}"),
    )
    top = element(
        "header",
        {"class": "top"},
        element("a", {"class": "brand", "href": "/"}, "s3sessions viewer"),
        element("span", {"class": "location", "title": "where the sessions are read from"}, location),
        element("span", {"class": "readonly", "title": "this viewer never changes a session"}, "read-only"),
    )
    page = element("body", {}, top, element("main", {}, *body))
    return Markup("<!doctype html>\n" + element("html", {"lang": "en"}, head, page))


def error_page(location: str, title: str, detail: str) -> Markup:
    """Returns a page that says what went wrong (``detail`` is escaped like everything else)."""
    return layout(
        title,
        location,
        element("h1", {}, title),
        element("p", {"class": "error"}, detail),
        element("p", {}, element("a", {"href": "/"}, "all sessions")),
    )


def session_label(metadata: SessionMetadata) -> str:
    """Returns the name of a session, or its id when it has none."""
    return metadata.name or metadata.id


def lineage_marker(metadata: SessionMetadata, names: Mapping[str, str] | None = None) -> Markup:
    """Returns "fork of PARENT after N turns" for a fork (the parent's name when ``names`` has it), else nothing."""
    if metadata.parent_id is None:
        return Markup("")
    shared = metadata.forked_at_turn or 0
    parent = (names or {}).get(metadata.parent_id, metadata.parent_id)
    return element(
        "span",
        {"class": "lineage", "title": f"forked from {metadata.parent_id}; shares {shared} turn(s) with it"},
        "↳ fork of ",
        element("a", {"href": session_path(metadata.parent_id)}, parent),
        f" after {shared} turn(s)",
    )


def tag_links(tags: Sequence[str]) -> Markup:
    """Returns each tag as a link that filters the list by it."""
    return join(element("a", {"class": "tag", "href": query_path("/", tag=tag)}, tag) for tag in tags)


@dataclass(frozen=True)
class ListView:
    """One page of the session list: the sessions, the filters that chose them, and the next page's cursor."""

    sessions: list[SessionMetadata]
    next_cursor: str | None
    cursor: str | None = None
    tag: str | None = None
    agent: str | None = None
    text: str | None = None
    scanned: int = 0


def _filter_form(view: ListView) -> Markup:
    def field(label: str, name: str, value: str | None, hint: str) -> Markup:
        box = element("input", {"name": name, "type": "search", "value": value or "", "placeholder": hint})
        return element("label", {}, label, " ", box)

    return element(
        "form",
        {"class": "filters", "method": "get", "role": "search"},
        field("name", "q", view.text, "name or id contains"),
        field("tag", "tag", view.tag, "exact tag"),
        field("agent", "agent", view.agent, "exact agent name"),
        element("button", {"type": "submit"}, "filter"),
        element("a", {"href": "/"}, "clear"),
    )


def _row(metadata: SessionMetadata, names: Mapping[str, str]) -> Markup:
    def cell(css: str, *content: Markup | str) -> Markup:
        return element("td", {"class": css}, *content)

    return element(
        "tr",
        {"class": "session", "data-id": metadata.id},
        cell(
            "name",
            element("a", {"class": "open", "href": session_path(metadata.id)}, session_label(metadata)),
            element("code", {"class": "id"}, metadata.id),
            lineage_marker(metadata, names),
        ),
        cell("agent", element("a", {"href": query_path("/", agent=metadata.agent_name)}, metadata.agent_name)),
        cell("tags", tag_links(metadata.tags)),
        cell("num turns", str(metadata.turn_count)),
        cell("num size", human_size(metadata.message_bytes)),
        cell("num tokens", f"{metadata.total_tokens:,}" if metadata.total_tokens else "-"),
        cell("updated", timestamp(metadata.updated_at)),
    )


def list_page(location: str, view: ListView) -> Markup:
    """Returns the session list: filters, a table newest first, and a link to the next page."""
    headers = ["name", "agent", "tags", "turns", "size", "tokens", "updated"]
    names = {metadata.id: metadata.name for metadata in view.sessions if metadata.name}
    table = element(
        "table",
        {"class": "sessions"},
        element("thead", {}, element("tr", {}, *(element("th", {}, header) for header in headers))),
        element("tbody", {}, *(_row(metadata, names) for metadata in view.sessions)),
    )
    filters = {"tag": view.tag, "agent": view.agent, "q": view.text}
    pager: list[Markup | str] = []
    if view.cursor is not None:
        pager.append(element("a", {"class": "first", "href": query_path("/", **filters)}, "← newest"))
    if view.next_cursor is not None:
        pager.append(
            element("a", {"class": "next", "href": query_path("/", cursor=view.next_cursor, **filters)}, "older →")
        )
    chosen = ", ".join(f"{name} {value!r}" for name, value in filters.items() if value)
    if view.sessions:
        summary = f"{len(view.sessions)} session(s), newest first" + (f", matching {chosen}" if chosen else "")
        content = table
    else:
        summary = "no sessions" + (f" matching {chosen}" if chosen else "") + " on this page"
        content = element(
            "p", {"class": "empty"}, f"No sessions in {location}" + (f" matching {chosen}." if chosen else ".")
        )
    if view.text and view.scanned:
        summary += f" (name filter: looked at {view.scanned} session(s))"
    return layout(
        "sessions",
        location,
        element("h1", {}, "Sessions"),
        _filter_form(view),
        element("p", {"class": "summary"}, summary),
        content,
        element("nav", {"class": "pager"}, *pager),
    )


@dataclass(frozen=True)
class MessageView:
    """One message of a session: where it is (index, transcript page, turn) and what it holds."""

    metadata: SessionMetadata
    message: Message
    raw: object
    index: int
    count: int
    page: int
    turn: int | None


def message_page(location: str, view: MessageView) -> Markup:
    """Returns one message with every block (up to `MESSAGE_LIMITS`), and the stored JSON."""
    metadata, index, count = view.metadata, view.index, view.count
    in_transcript = query_path(session_path(metadata.id), page=view.page) + f"#m-{index}"
    where = f"turn {view.turn}" if view.turn is not None else "before turn 0"
    links: list[Markup | str] = [element("a", {"href": session_path(metadata.id)}, session_label(metadata))]
    links += [" · ", element("a", {"class": "in-transcript", "href": in_transcript}, f"{where} in the transcript")]
    if index > 0:
        links += [" · ", element("a", {"class": "prev", "href": message_path(metadata.id, index - 1)}, "← previous")]
    if index + 1 < count:
        links += [" · ", element("a", {"class": "next", "href": message_path(metadata.id, index + 1)}, "next →")]
    download = message_json_path(metadata.id, index)
    links += [" · ", element("a", {"class": "download", "href": download}, "download JSON")]
    raw = clipped(pretty_json(view.raw), MESSAGE_LIMITS.text_chars, download, "json", tag="pre")
    stored = element("details", {"class": "raw"}, element("summary", {}, "stored JSON"), raw)
    return layout(
        f"message {index}",
        location,
        element("h1", {}, f"Message {index} of {count}"),
        element("nav", {"class": "crumbs"}, *links),
        message_html(view.message, session_id=metadata.id, index=index, limits=MESSAGE_LIMITS, whole=download),
        stored,
    )


__all__ = [
    "ListView",
    "MessageView",
    "error_page",
    "layout",
    "lineage_marker",
    "list_page",
    "message_page",
    "query_path",
    "session_label",
    "tag_links",
]
