"""Rendering: turn numbers as rewind takes them, folded tool calls, paging, lineage, and hostile data escaped."""

from __future__ import annotations

import time

import pytest
from viewer_corpus import HOSTILE_TEXTS, XSS_FLAG, anthropic_turns, hostile_messages
from viewer_support import attribute, parse, unsafe_parts

from s3sessions import Session, SessionMetadata, turn_starts
from s3sessions.viewer.compare import BEFORE_FIRST_TURN, CompareView, compare_page, divergence, segments
from s3sessions.viewer.lineage import Family, Node, common_prefix, family_tree, shared_cut
from s3sessions.viewer.markup import breakable
from s3sessions.viewer.messages import parse_message
from s3sessions.viewer.pages import ListView, MessageView, list_page, message_page
from s3sessions.viewer.render import message_html, timestamp
from s3sessions.viewer.transcript import MESSAGES_PER_PAGE, SessionView, page_of_turn, session_page

LOCATION = "s3://bucket/prefix/"


def lonely(session: Session) -> SessionView:
    return SessionView(session, 1, [], Family(Node(session.id, session.metadata), 1, False), parent_exists=False)


def anthropic_session() -> Session:
    session = Session(metadata=SessionMetadata(name="argparse"))
    for turn in anthropic_turns():
        session.messages.extend(turn)
    session.metadata.turn_count = len(turn_starts(session.messages))
    return session


def test_turn_banners_carry_the_numbers_rewind_takes():
    session = anthropic_session()
    html = session_page(LOCATION, lonely(session))
    tags = parse(html).tags
    banners = [attributes for tag, attributes in tags if tag == "h3" and attributes.get("data-turn") is not None]
    turns = [int(attribute(b, "data-turn")) for b in banners]
    assert turns == list(range(len(turn_starts(session.messages)))) == [0, 1, 2]
    assert f"s3sessions rewind {session.id} 2" in html
    articles = [int(attribute(a, "data-index")) for tag, a in tags if tag == "article"]
    assert articles == list(range(len(session.messages)))


def test_tool_calls_results_and_thinking_are_folded():
    html = session_page(LOCATION, lonely(anthropic_session()))
    folds = [a["class"] for tag, a in parse(html).tags if tag == "details" and "fold" in (a.get("class") or "")]
    assert folds.count("fold tool-call") == 3
    assert folds.count("fold tool-result") == 2 and folds.count("fold tool-result error") == 1
    assert folds.count("fold thinking") == 1
    assert not any(tag == "details" and "open" in a for tag, a in parse(html).tags if "fold" in (a.get("class") or ""))
    assert "read_file" in html and "Lib/argparse.py" in html


def test_images_are_inline_data_uris():
    html = session_page(LOCATION, lonely(anthropic_session()))
    [source] = [attribute(a, "src") for tag, a in parse(html).tags if tag == "img"]
    assert source.startswith("data:image/png;base64,iVBORw0KGgo")


def test_messages_before_the_first_turn_are_labelled():
    session = Session(messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}])
    html = session_page(LOCATION, lonely(session))
    assert "before turn 0" in html and 'id="turn-0"' in html


def test_ten_thousand_messages_render_a_page_at_a_time_and_fast():
    session = Session(metadata=SessionMetadata(name="long"))
    for turn in range(5000):
        session.messages += [{"role": "user", "content": f"q{turn}"}, {"role": "assistant", "content": f"a{turn}"}]
    started = time.perf_counter()
    html = session_page(LOCATION, SessionView(**{**lonely(session).__dict__, "page": 50}))
    elapsed = time.perf_counter() - started
    articles = [a for tag, a in parse(html).tags if tag == "article"]
    assert len(articles) == MESSAGES_PER_PAGE and articles[-1]["data-index"] == "9999"
    assert "page 50 of 50" in html and len(html) < 400_000
    assert elapsed < 2.0, elapsed
    starts = turn_starts(session.messages)
    assert page_of_turn(starts, len(session.messages), 4999) == 50 and page_of_turn(starts, 10_000, 100) == 2


def test_times_are_utc_whether_int_or_float():
    assert "2023-11-14 22:13:20 UTC" in timestamp(1_700_000_000)
    assert 'datetime="2023-11-14T22:13:20.250Z"' in timestamp(1_700_000_000.25)


# ---------------------------------------------------------------------------------------------------- lineage


def meta(session_id: str, parent: str | None = None, shared: int | None = None, created: int = 0) -> SessionMetadata:
    return SessionMetadata(id=session_id, parent_id=parent, forked_at_turn=shared, created_at=created)


def test_family_tree_from_the_oldest_ancestor():
    sessions = {m.id: m for m in [meta("a"), meta("b", "a", 1, 2), meta("c", "a", 2, 1), meta("d", "b", 3), meta("z")]}
    family = family_tree(sessions, "d")
    assert family.root.session_id == "a" and family.size == 4 and not family.cut
    assert [child.session_id for child in family.root.children] == ["c", "b"]  # oldest first
    assert family.root.children[1].children[0].session_id == "d"


def test_family_tree_with_a_deleted_parent_a_cycle_and_a_limit():
    orphan = family_tree({"b": meta("b", "gone", 1)}, "b")
    assert orphan.root.session_id == "gone" and orphan.root.metadata is None
    cycle = family_tree({"x": meta("x", "y"), "y": meta("y", "x")}, "x")
    assert cycle.size == 2
    wide = {m.id: m for m in [meta("root"), *(meta(f"f{n}", "root", 1) for n in range(20))]}
    cut = family_tree(wide, "root", limit=5)
    assert cut.cut and cut.size == 5


def test_shared_cut_and_common_prefix():
    assert shared_cut([1, 3, 5], 7, 0) == 1 and shared_cut([1, 3, 5], 7, 2) == 5 and shared_cut([1, 3, 5], 7, 3) == 7
    assert shared_cut([], 2, 1) == 2
    assert common_prefix([1, 2, 3], [1, 2, 4]) == 2 and common_prefix([], [1]) == 0


def test_fork_markers_on_the_parent_and_the_fork():
    parent = anthropic_session()
    fork_metadata = SessionMetadata(id="forked", name="the fork", parent_id=parent.id, forked_at_turn=2)
    view = SessionView(
        parent, 1, [fork_metadata], family_tree({parent.id: parent.metadata, "forked": fork_metadata}, parent.id), False
    )
    html = session_page(LOCATION, view)
    marker = html.index('id="fork-forked"')
    assert html.index('id="turn-1"') < marker < html.index('id="turn-2"')
    fork = Session(metadata=fork_metadata, messages=parent.messages[:6])
    fork_view = SessionView(
        fork, 1, [], family_tree({parent.id: parent.metadata, "forked": fork_metadata}, "forked"), True
    )
    fork_html = session_page(LOCATION, fork_view)
    assert 'id="fork-point"' in fork_html and f"/session/{parent.id}?fork=forked" in fork_html
    assert "/compare/forked" in fork_html


def test_compare_starts_at_the_fork_point():
    parent = anthropic_session()
    fork = Session(
        metadata=SessionMetadata(id="forked", parent_id=parent.id, forked_at_turn=2), messages=parent.messages[:6]
    )
    fork.messages += [{"role": "user", "content": "other question"}, {"role": "assistant", "content": "other answer"}]
    where = divergence(fork, parent)
    assert where.intact and where.first_turn == 2 and where.common == 6
    html = compare_page(LOCATION, CompareView(fork, parent))
    rows = [a["data-turn"] for tag, a in parse(html).tags if tag == "section"]
    assert rows == ["2"] and "other question" in html and "Add a test for the group" in html
    assert "Where does argparse" not in html  # the shared part is not repeated


def test_compare_after_a_rewind_of_the_parent():
    parent = anthropic_session()
    fork = Session(
        metadata=SessionMetadata(id="forked", parent_id=parent.id, forked_at_turn=2), messages=parent.messages[:6]
    )
    rewritten = Session(
        metadata=parent.metadata, messages=[*parent.messages[:4], {"role": "user", "content": "new turn 1"}]
    )
    where = divergence(fork, rewritten)
    assert not where.intact and where.common == 4 and where.first_turn == 1
    assert "agree only on their first" in compare_page(LOCATION, CompareView(fork, rewritten))


def test_compare_after_the_parent_was_rewound_behind_the_fork_point():
    """As the demo leaves it: forked after 3 turns, then the parent rewound to 2: the fork's turn 2 is shown."""
    parent = anthropic_session()
    fork = Session(
        metadata=SessionMetadata(id="forked", parent_id=parent.id, forked_at_turn=3), messages=list(parent.messages)
    )
    fork.messages += [{"role": "user", "content": "one more"}, {"role": "assistant", "content": "sure"}]
    rewound = Session(metadata=parent.metadata, messages=parent.messages[:6])
    where = divergence(fork, rewound)
    assert (where.common, where.first_turn, where.intact) == (6, 2, False)
    html = compare_page(LOCATION, CompareView(fork, rewound))
    assert [a["data-turn"] for tag, a in parse(html).tags if tag == "section"] == ["2", "3"]
    assert "(no turn 2)" in html and "Add a test for the group" in html and "one more" in html


def test_segments_include_what_comes_before_turn_0():
    found = segments(
        [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}, {"role": "assistant", "content": "a"}]
    )
    assert found == {BEFORE_FIRST_TURN: range(1), 0: range(1, 3)}


# ---------------------------------------------------------------------------------------------------- hostile


@pytest.fixture(scope="module")
def hostile() -> Session:
    metadata = SessionMetadata(
        name="<script>window.__xss=1</script>",
        agent_name='"><svg onload=alert(1)>',
        tags=["<img src=x onerror=alert(1)>"],
    )
    return Session(metadata=metadata, messages=hostile_messages(), state={"<script>": "<img src=x onerror=alert(1)>"})


def test_hostile_session_page_is_inert(hostile):
    html = session_page(LOCATION, lonely(hostile))
    assert unsafe_parts(html) == []
    text = "".join(parse(html).text)
    for payload in HOSTILE_TEXTS[:5]:
        assert payload in text  # shown as text, not markup
    assert XSS_FLAG in text


def test_hostile_list_page_is_inert(hostile):
    html = list_page(LOCATION, ListView([hostile.metadata], "0000000000000~x", tag="<b>", text='"><script>'))
    assert unsafe_parts(html) == [] and "<script>window.__xss=1</script>" in "".join(parse(html).text)


def test_every_hostile_message_page_is_inert(hostile):
    for index, raw in enumerate(hostile.messages):
        view = MessageView(hostile.metadata, parse_message(raw), raw, index, len(hostile.messages), 1, 0)
        assert unsafe_parts(message_page(LOCATION, view)) == [], index


def test_hostile_compare_page_is_inert(hostile):
    fork = Session(
        metadata=SessionMetadata(parent_id=hostile.id, forked_at_turn=0, name="</h1><script>"),
        messages=hostile.messages[::-1],
    )
    assert unsafe_parts(compare_page(LOCATION, CompareView(fork, hostile))) == []


def test_a_huge_message_is_cut_on_the_transcript_and_less_on_its_own_page(hostile):
    index = next(i for i, m in enumerate(hostile.messages) if len(str(m)) > 1_000_000)
    parsed = parse_message(hostile.messages[index])
    cut = message_html(parsed, session_id=hostile.id, index=index)
    assert len(cut) < 50_000 and "more characters" in cut and f"/session/{hostile.id}/message/{index}" in cut
    view = MessageView(hostile.metadata, parsed, hostile.messages[index], index, len(hostile.messages), 1, 0)
    own = message_page(LOCATION, view)
    assert 1_000_000 < len(own) < 1_200_000  # half a million characters twice (the text, the stored JSON)
    assert f'href="/session/{hostile.id}/message/{index}.json"' in own and "more characters" in own


def test_long_unbroken_runs_get_break_opportunities():
    html = breakable("x" * 130 + " <b>" + "y" * 10)
    assert html == "x" * 64 + "<wbr>" + "x" * 64 + "<wbr>" + "xx &lt;b&gt;" + "y" * 10
    assert breakable("short words only") == "short words only"


def test_many_blocks_are_cut_too(hostile):
    index = next(
        i for i, m in enumerate(hostile.messages) if isinstance(m.get("content"), list) and len(m["content"]) > 1000
    )
    cut = message_html(parse_message(hostile.messages[index]), session_id=hostile.id, index=index)
    assert "2,900 more blocks" in cut
