"""Lets botocore's endpoint cache hit for S3: the clients we create leave out the parameters S3's rules never read.

botocore works out the endpoint of every request by evaluating S3's endpoint rule set (a tree of hundreds of
rules) and caches the answer keyed by all the parameters it passes. Those include ``Key``, ``Prefix`` and
``CopySource``, which S3's rule set declares but no rule reads (boto/botocore#3528; botocore dropped them in
2026, PR #3692, in releases newer than the one aioboto3 pins). So every request on a key not seen among the
last 100 misses the cache and walks the whole tree again, and a session store touches new keys all the time
(segments, index entries). Leaving out the declared parameters that the loaded rule set never references
cannot change an answer; it is worked out from the rule set itself, so one that starts to read ``Key`` keeps it.
"""

from __future__ import annotations

import re
from typing import Any

_TEMPLATE_NAME = re.compile(r"\{([A-Za-z0-9_]+)")
_RULE_PARTS = ("conditions", "endpoint", "error")
_READ_BY_SHAPE: dict[tuple[Any, ...], set[str] | None] = {}
"""What each rule set read, by its version, parameters and rule count: walking S3's takes about 7 ms, and each
client builds its own copy of the same rules from botocore's data (one botocore per process)."""


def referenced_names(rules: list[Any]) -> set[str] | None:
    """The names the rules read (``{"ref": name}`` and ``{name}`` / ``{name#path}`` in templates), or None when
    a rule is of a shape this walk does not know (then nothing may be left out)."""
    names: set[str] = set()
    pending: list[Any] = list(rules)
    while pending:
        rule = pending.pop()
        parts = [getattr(rule, part) for part in _RULE_PARTS if hasattr(rule, part)]
        nested = getattr(rule, "rules", None)
        if not parts and nested is None:
            return None
        if nested is not None:
            if not isinstance(nested, list):
                return None
            pending.extend(nested)
        _collect(parts, names)
    return names


def _collect(value: Any, names: set[str]) -> None:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            ref = item.get("ref")
            if isinstance(ref, str):
                names.add(ref)
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
        elif isinstance(item, str):
            names.update(_TEMPLATE_NAME.findall(item))


def leave_out_unread_parameters(client: Any) -> frozenset[str]:
    """Makes ``client`` (one this package created) pass only the endpoint parameters its rule set reads;
    returns the names left out (none when the client is not shaped as expected)."""
    resolver = getattr(client, "_ruleset_resolver", None)
    definitions = getattr(resolver, "_param_definitions", None)
    ruleset = getattr(getattr(resolver, "_provider", None), "ruleset", None)
    rules = getattr(ruleset, "rules", None)
    if resolver is None or not isinstance(definitions, dict) or not isinstance(rules, list):
        return frozenset()
    shape = (getattr(ruleset, "version", None), tuple(definitions), len(rules))
    if shape not in _READ_BY_SHAPE:
        _READ_BY_SHAPE[shape] = referenced_names(rules)
    read = _READ_BY_SHAPE[shape]
    if read is None:
        return frozenset()
    unread = frozenset(
        name
        for name, definition in definitions.items()
        if name not in read
        and not getattr(definition, "required", False)
        and getattr(definition, "default", None) is None
    )
    if unread:
        resolver._param_definitions = {name: value for name, value in definitions.items() if name not in unread}
    return unread
