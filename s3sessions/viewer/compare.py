"""A fork beside its parent, turn by turn from the point where they part (pure code).

The fork shares its first ``forked_at_turn`` turns with its parent. Either side may have been rewound since, so
the page checks what they really have in common and starts from the first turn where they differ, which is
the fork point unless one of them rewrote the shared part.
"""

from __future__ import annotations

from dataclasses import dataclass

from s3sessions import Session, turn_starts

from .lineage import common_prefix, shared_cut
from .markup import Markup, element
from .messages import parse_message
from .pages import layout, query_path, session_label
from .render import message_html, session_path
from .transcript import TURNS_PER_COMPARE_PAGE, turn_of

BEFORE_FIRST_TURN = -1
"""The key of the messages before turn 0 (a system prompt, say)."""


def segments(messages: list[object]) -> dict[int, range]:
    """Returns the message indexes of each turn by turn number (`BEFORE_FIRST_TURN`: before turn 0)."""
    starts = turn_starts(messages)
    found: dict[int, range] = {}
    first = starts[0] if starts else len(messages)
    if first > 0:
        found[BEFORE_FIRST_TURN] = range(first)
    for turn, start in enumerate(starts):
        found[turn] = range(start, starts[turn + 1] if turn + 1 < len(starts) else len(messages))
    return found


@dataclass(frozen=True)
class CompareView:
    """A fork and its parent, and which page of their differing turns to show (1-based)."""

    fork: Session
    parent: Session
    page: int = 1


@dataclass(frozen=True)
class Divergence:
    """Where a fork and its parent part: the shared messages on each side, what they have in common, and
    the first turn to compare."""

    fork_shared: int
    parent_shared: int
    common: int
    first_turn: int

    @property
    def intact(self) -> bool:
        """True when both sides still hold exactly the shared part the fork was made with."""
        return self.common == self.fork_shared == self.parent_shared


def divergence(fork: Session, parent: Session) -> Divergence:
    """Returns where ``fork`` and ``parent`` part (see `Divergence`)."""
    shared_turns = fork.metadata.forked_at_turn or 0
    fork_messages: list[object] = list(fork.messages)
    parent_messages: list[object] = list(parent.messages)
    fork_starts, parent_starts = turn_starts(fork_messages), turn_starts(parent_messages)
    fork_shared = shared_cut(fork_starts, len(fork_messages), shared_turns)
    parent_shared = shared_cut(parent_starts, len(parent_messages), shared_turns)
    common = common_prefix(fork_messages, parent_messages)
    first_turn = shared_turns
    if common < max(fork_shared, parent_shared):  # one side rewrote or dropped part of what they shared
        longer = fork_starts if common < len(fork_messages) else parent_starts
        differing = turn_of(longer, common)
        first_turn = BEFORE_FIRST_TURN if differing is None else min(differing, shared_turns)
    return Divergence(fork_shared, parent_shared, common, first_turn)


def _side(session: Session, turn: int, span: range | None, css: str) -> Markup:
    if span is None:
        label = "before turn 0" if turn == BEFORE_FIRST_TURN else f"no turn {turn}"
        return element("div", {"class": f"side {css} absent"}, element("p", {"class": "empty"}, f"({label})"))
    prefix = "p-" if css == "parent" else "f-"
    messages = [
        message_html(parse_message(session.messages[index]), session_id=session.id, index=index, anchor_prefix=prefix)
        for index in span
    ]
    return element("div", {"class": f"side {css}"}, *messages)


def _summary(view: CompareView, where: Divergence) -> Markup:
    fork, parent = view.fork.metadata, view.parent.metadata
    shared_turns = fork.forked_at_turn or 0
    if where.intact:
        text = f"They share turns 0..{shared_turns - 1} ({where.common:,} identical messages); " if shared_turns else ""
        text += f"from turn {shared_turns} on, each went its own way."
    else:
        text = (
            f"The fork was made sharing {shared_turns} turn(s), but the two now agree only on their first "
            f"{where.common:,} message(s) (one of them was rewound since): compared from there on."
        )
    return element(
        "p",
        {"class": "summary"},
        "Fork ",
        element("a", {"href": session_path(fork.id)}, session_label(fork)),
        " (right) and its parent ",
        element("a", {"href": session_path(parent.id)}, session_label(parent)),
        " (left). ",
        text,
    )


def compare_page(location: str, view: CompareView) -> Markup:
    """Returns the fork and its parent side by side, one row per turn from where they part."""
    where = divergence(view.fork, view.parent)
    fork_turns, parent_turns = segments(list(view.fork.messages)), segments(list(view.parent.messages))
    turns = sorted(turn for turn in set(fork_turns) | set(parent_turns) if turn >= where.first_turn)
    pages = max(1, -(-len(turns) // TURNS_PER_COMPARE_PAGE))
    page = min(max(view.page, 1), pages)
    shown = turns[(page - 1) * TURNS_PER_COMPARE_PAGE : page * TURNS_PER_COMPARE_PAGE]
    rows = [
        element(
            "section",
            {"class": "compare-row", "data-turn": turn},
            element("h3", {"class": "turn"}, "before turn 0" if turn == BEFORE_FIRST_TURN else f"turn {turn}"),
            element(
                "div",
                {"class": "sides"},
                _side(view.parent, turn, parent_turns.get(turn), "parent"),
                _side(view.fork, turn, fork_turns.get(turn), "fork"),
            ),
        )
        for turn in shown
    ]
    if not rows:
        rows.append(element("p", {"class": "empty"}, "Nothing after the fork point on either side."))
    pager: list[Markup | str] = []
    path = f"/compare/{view.fork.id}"
    if page > 1:
        pager.append(element("a", {"class": "prev", "href": query_path(path, page=page - 1)}, "← earlier turns"))
    pager.append(element("span", {"class": "where"}, f"page {page} of {pages}"))
    if page < pages:
        pager.append(element("a", {"class": "next", "href": query_path(path, page=page + 1)}, "later turns →"))
    heads = element(
        "div",
        {"class": "sides heads"},
        element("h2", {}, "parent: ", session_label(view.parent.metadata)),
        element("h2", {}, "fork: ", session_label(view.fork.metadata)),
    )
    return layout(
        f"compare {view.fork.id}",
        location,
        element("h1", {}, "Fork compared with its parent"),
        _summary(view, where),
        heads,
        element("div", {"class": "compare"}, *rows),
        element("nav", {"class": "pager"}, *pager),
    )


__all__ = ["BEFORE_FIRST_TURN", "CompareView", "Divergence", "compare_page", "divergence", "segments"]
