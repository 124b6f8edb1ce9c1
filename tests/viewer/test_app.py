"""The routes, called directly: lists, filters and paging, session pages and redirects, errors; reads only."""

from __future__ import annotations

import asyncio
import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from viewer_corpus import seed
from viewer_support import attribute, parse

from s3sessions import InMemorySessionManager, Session, SessionMetadata
from s3sessions.viewer import ReadOnlySessions, ViewerApp
from s3sessions.viewer.app import LIST_PAGE_SIZE


def get(app: ViewerApp, target: str):
    parts = urlsplit(target)
    return app.handle(parts.path or "/", parse_qs(parts.query))


def html(app: ViewerApp, target: str, status: int = 200) -> str:
    response = get(app, target)
    assert response.status == status, (target, response.status, response.body[:300])
    return response.body.decode()


def listed_ids(page: str) -> list[str]:
    return [attribute(a, "data-id") for tag, a in parse(page).tags if tag == "tr" and a.get("data-id")]


def test_the_list_is_newest_first_with_turns_size_and_lineage(app, corpus):
    page = html(app, "/")
    ids = listed_ids(page)
    assert set(corpus["ids"].values()) == set(ids)
    metadata = asyncio.run(corpus["manager"].list())
    assert ids == [m.id for m in metadata]
    assert "↳ fork of" in page and "argparse vs click" in page and "5,000" not in page


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("tag=prod", {"openai_chat"}),
        ("agent=coder", {"original", "fork", "fork_of_fork"}),
        ("q=ARGPARSE", {"original", "fork"}),
        ("q=click&agent=coder", {"fork", "fork_of_fork"}),
        ("q=no+such+name", set()),
    ],
)
def test_filters(app, corpus, query, expected):
    ids = corpus["ids"]
    assert set(listed_ids(html(app, f"/?{query}"))) == {ids[name] for name in expected}


def test_paging_through_the_index():
    manager = InMemorySessionManager(clock=iter(range(1_700_000_000, 1_800_000_000)).__next__)
    for number in range(LIST_PAGE_SIZE * 2 + 7):
        asyncio.run(
            manager.save(
                Session(metadata=SessionMetadata(name=f"session {number:03d}", tags=["odd"] if number % 2 else []))
            )
        )
    app = ViewerApp(ReadOnlySessions(manager), asyncio.run, "memory")
    seen: list[str] = []
    target = "/"
    while True:
        page = html(app, target)
        seen += listed_ids(page)
        older = [attribute(a, "href") for tag, a in parse(page).tags if tag == "a" and a.get("class") == "next"]
        if not older:
            break
        target = older[0]
    assert len(seen) == len(set(seen)) == LIST_PAGE_SIZE * 2 + 7
    names = re.findall(r"session (\d{3})", "".join(html(app, "/")))
    assert names[0] == f"{LIST_PAGE_SIZE * 2 + 6:03d}"  # newest first
    filtered = html(app, "/?q=session+00&tag=odd")
    assert len(listed_ids(filtered)) == 5 and "name filter: looked at" in filtered


@pytest.mark.parametrize(
    ("target", "status"),
    [
        ("/?cursor=not-a-cursor", 400),
        ("/?tag=" + "x" * 100, 400),
        ("/session/no-such-session", 404),
        ("/session/bad%20id", 400),
        ("/session/x/message/abc", 400),
        ("/nowhere", 404),
        ("/static/secret.py", 404),
        ("/static/../app.py", 404),
        ("/compare/no-such-session", 404),
    ],
)
def test_errors_are_pages_with_a_status(app, target, status):
    page = html(app, target, status)
    assert "<h1>" in page


def test_session_page_redirects_to_a_turn_and_to_a_fork_point(app, corpus):
    ids = corpus["ids"]
    response = get(app, f"/session/{ids['original']}?turn=2")
    assert response.status == 303 and response.location == f"/session/{ids['original']}?page=1#turn-2"
    response = get(app, f"/session/{ids['original']}?fork={ids['fork']}")
    assert response.status == 303 and response.location == f"/session/{ids['original']}?page=1#fork-{ids['fork']}"
    long = get(app, f"/session/{ids['long']}?turn=4999")
    assert long.location == f"/session/{ids['long']}?page=50#turn-4999"
    assert get(app, f"/session/{ids['original']}?fork=unknown").location == f"/session/{ids['original']}"
    html(app, f"/session/{ids['original']}?page=x", 400)
    assert "page 50 of 50" in html(app, f"/session/{ids['long']}?page=999")


def test_message_pages(app, corpus):
    original = corpus["ids"]["original"]
    page = html(app, f"/session/{original}/message/2")
    assert "Message 2 of 12" in page and "stored JSON" in page and "_MutuallyExclusiveGroup" in page
    html(app, f"/session/{original}/message/12", 404)
    download = get(app, f"/session/{original}/message/2.json")
    assert download.status == 200 and download.content_type.startswith("application/json")
    assert download.headers["Content-Disposition"] == f'attachment; filename="{original}-message-2.json"'
    assert json.loads(download.body)["content"][0]["tool_use_id"] == "toolu_01"
    html(app, f"/session/{original}/message/x.json", 400)


def test_compare(app, corpus):
    ids = corpus["ids"]
    page = html(app, f"/compare/{ids['fork']}")
    assert "Would click be simpler here?" in page and "Add a test for the group" in page
    assert "Not a fork" in html(app, f"/compare/{ids['original']}", 404)


def test_a_fork_whose_parent_was_deleted():
    manager = InMemorySessionManager()

    async def build() -> str:
        ids = await seed(manager)
        await manager.delete(ids["original"])
        return ids["fork"]

    fork = asyncio.run(build())
    app = ViewerApp(ReadOnlySessions(manager), asyncio.run, "memory")
    assert "no longer exists" in html(app, f"/session/{fork}")
    assert "Parent not found" in html(app, f"/compare/{fork}", 404)


def test_static_files(app):
    for name, kind in [("viewer.css", "text/css"), ("viewer.js", "text/javascript"), ("favicon.svg", "image/svg+xml")]:
        response = get(app, f"/static/{name}")
        assert response.status == 200 and response.content_type.startswith(kind) and response.body


class Recorder:
    """A whole manager, recording every method the viewer calls on it."""

    def __init__(self, manager: InMemorySessionManager) -> None:
        self.manager = manager
        self.calls: list[str] = []

    def __getattr__(self, name: str):
        self.calls.append(name)
        return getattr(self.manager, name)


def test_the_viewer_only_reads(corpus):
    """Given the whole manager (not the read-only wrapper), no route calls anything but list_page and resume."""
    recorder = Recorder(corpus["manager"])
    app = ViewerApp(recorder, asyncio.run, "memory", snapshot_seconds=0)
    ids = corpus["ids"]
    original, fork = ids["original"], ids["fork"]
    for target in [
        "/", "/?q=arg", "/?tag=prod", f"/session/{original}", f"/session/{fork}?turn=1",
        f"/session/{original}?fork={fork}", f"/session/{original}/message/1", f"/compare/{fork}",
    ]:  # fmt: skip
        assert get(app, target).status in (200, 303), target
    assert set(recorder.calls) == {"list_page", "resume"}


def test_the_read_only_wrapper_has_no_way_to_write(corpus):
    wrapper = ReadOnlySessions(corpus["manager"])
    for name in ("save", "delete", "fork", "rewind", "tag", "rename", "update", "reindex", "close"):
        assert not hasattr(wrapper, name), name
