"""JSON values: strict checks on what callers store, canonical encoding, and bounded decoding (pure code).

Messages and state are the caller's JSON values, stored verbatim. Before anything is written, `check_value`
walks a value once, iteratively (so the caller's stack depth never matters): only dicts with string keys, lists,
strings, finite floats, ints of at most ~4,200 digits, booleans and None, nested at most `MAX_NESTING` levels.
A circular value is nested infinitely deep, so the depth-first walk meets the bound after `MAX_NESTING` steps
and refuses it at once. Encoding and decoding then run in pydantic-core's Rust JSON code (pydantic is already a
dependency): about four times faster than the standard library, and its parser's own recursion limit (201
levels, above every document we write) does not depend on the Python stack either.

Reads enforce the same `MAX_NESTING` bound on every value they hand out (`copy_containers` checks it while it
copies), so a value nested too deeply is `InvalidInput` on write and `CorruptObject` on read, everywhere.
Decoding, copying and checking many messages run with the cyclic garbage collector paused (`gc_pause`: about
half of a long history's decode CPU was the collector walking the process's objects).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from typing import Any

import pydantic_core

from ..errors import CorruptObject, InvalidInput
from ..gc_pause import collection_paused

MAX_NESTING = 100
"""Deepest nesting of dicts and lists in one message or in the state (a message of text blocks is 3)."""
MAX_INT_BITS = 14_000
"""Largest int magnitude stored (about 4,200 decimal digits; Python refuses to print more than 4,300)."""
_SCALARS = (str, int, float, bool, type(None))
_INT_LIMIT = 1 << MAX_INT_BITS
"""Ints strictly between -_INT_LIMIT and _INT_LIMIT have at most `MAX_INT_BITS` bits."""
_FLOAT_MAX = sys.float_info.max


def _scalar_problem(value: object) -> str | None:
    """Returns why a scalar cannot be stored, or None if it can (or is a container)."""
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return None
    if kind is int or (isinstance(value, int) and not isinstance(value, bool)):
        if int(value).bit_length() > MAX_INT_BITS:  # type: ignore[call-overload]
            return f"integer of {int(value).bit_length()} bits is too large"  # type: ignore[call-overload]
        return None
    if kind is float or isinstance(value, float):
        if not math.isfinite(value):  # type: ignore[arg-type]
            return f"float {value!r} is not JSON"
        return None
    if isinstance(value, str | bool):
        return None
    if isinstance(value, dict | list | tuple):
        return None
    return f"{type(value).__name__} {value!r:.80} is not JSON"


def check_value(value: object, *, label: str = "value") -> None:
    """Raises InvalidInput unless the value is JSON that this library stores and reads back unchanged.

    Raises:
        InvalidInput: naming ``label`` and the problem (``nested too deeply``, a non-string key, NaN, ...).
    """
    stack: list[tuple[object, int]] = [(value, 0)]
    pop = stack.pop
    push = stack.append
    while stack:
        item, depth = pop()
        if isinstance(item, dict):
            depth += 1
            if depth > MAX_NESTING:
                raise InvalidInput(f"{label}: value is nested too deeply (over {MAX_NESTING} levels, or circular)")
            for key, child in dict.items(item):  # what the encoder walks, whatever a subclass's items() says
                if type(key) is not str and not isinstance(key, str):
                    raise InvalidInput(f"{label}: value is not JSON-serialisable: dict key {key!r:.80} is not a string")
                if type(child) in _SCALAR_FAST:
                    continue
                if isinstance(child, dict | list | tuple):
                    push((child, depth))
                elif (problem := _scalar_problem(child)) is not None:
                    raise InvalidInput(f"{label}: value is not JSON-serialisable: {problem}")
        elif isinstance(item, list | tuple):
            depth += 1
            if depth > MAX_NESTING:
                raise InvalidInput(f"{label}: value is nested too deeply (over {MAX_NESTING} levels, or circular)")
            for child in list.__iter__(item) if isinstance(item, list) else tuple.__iter__(item):
                if type(child) in _SCALAR_FAST:
                    continue
                if isinstance(child, dict | list | tuple):
                    push((child, depth))
                elif (problem := _scalar_problem(child)) is not None:
                    raise InvalidInput(f"{label}: value is not JSON-serialisable: {problem}")
        elif (problem := _scalar_problem(item)) is not None:
            raise InvalidInput(f"{label}: value is not JSON-serialisable: {problem}")


_SCALAR_FAST = frozenset({str, bool, type(None)})
"""Types that need no check at all (ints and floats are checked for size and finiteness)."""


def encode_value(value: object, *, label: str = "value") -> bytes:
    """Returns the canonical compact UTF-8 JSON of a value after `check_value`.

    Canonical: no whitespace, keys in the caller's order, non-ASCII as UTF-8, the same bytes for the same value.

    Raises:
        InvalidInput: the value is not storable JSON, or holds text that is not valid Unicode.
    """
    check_value(value, label=label)
    return encode_checked(value, label=label)


def encode_checked(value: object, *, label: str = "value") -> bytes:
    """Returns the canonical JSON of a value that already passed `check_value`."""
    try:
        return pydantic_core.to_json(value)
    except (ValueError, TypeError, pydantic_core.PydanticSerializationError) as exc:
        raise InvalidInput(f"{label}: value is not valid Unicode JSON: {exc}") from exc


def encode_messages(messages: Sequence[object], *, label: str = "messages", start: int = 0) -> list[bytes]:
    """Returns each message's canonical JSON (the unit of hashing and size accounting).

    Raises:
        InvalidInput: naming the first offending message, e.g. ``messages[3]: value is nested too deeply``.
    """
    with collection_paused:  # the checks' walk allocates a tuple per container
        return [encode_value(message, label=f"{label}[{start + index}]") for index, message in enumerate(messages)]


def decode_json(raw: bytes | memoryview, *, key: str, session_id: str | None = None) -> Any:
    """Parses stored JSON (bounded: pydantic-core refuses more than 201 levels and over-long numbers).

    ``cache_strings="all"``: pydantic-core reuses one object for each repeated short string (roles, block
    types, tool names), values as well as keys: about a quarter less decode CPU on a long history than caching
    keys only, and less memory (measured: ``benchmarks/cpu.py``).

    Raises:
        CorruptObject: not JSON, not UTF-8, nested beyond the parser's bound, or a number out of range.
    """
    try:
        with collection_paused:
            return pydantic_core.from_json(
                bytes(raw) if isinstance(raw, memoryview) else raw, cache_strings="all", allow_inf_nan=False
            )
    except ValueError as exc:
        raise CorruptObject(f"not JSON: {exc}", session_id=session_id, key=key) from exc


def decode_lines(lines: Sequence[bytes]) -> list[Any]:
    """Returns the values of canonical lines this library just encoded (one parse of them all, no bounds walk:
    `check_value` passed them on the way in)."""
    if not lines:
        return []
    values: list[Any] = decode_json(b"[" + b",".join(lines) + b"]", key="lines")
    return values


def copy_containers(values: Sequence[Any], *, key: str, session_id: str | None = None) -> list[Any]:
    """Returns a copy of decoded values whose dicts and lists are new objects and whose scalars are shared.

    Two jobs in one iterative walk over what was just read: it enforces the bounds of `check_value` (nesting, int
    size, finite floats: so every read path refuses what a write would), and it gives the manager a private
    snapshot to compare the caller's copy with at the next save (``snapshot == messages`` then runs in C, and
    shared strings compare by identity).

    Raises:
        CorruptObject: a value nested more than `MAX_NESTING` levels, an int over `MAX_INT_BITS`, or a float
            that is not finite (the parser turns 1e400 into infinity).
    """
    with collection_paused:
        return _copy_containers(values, key=key, session_id=session_id)


def _copy_containers(values: Sequence[Any], *, key: str, session_id: str | None) -> list[Any]:
    root: list[Any] = []
    stack: list[tuple[Any, Any, int]] = [(values, root, 0)]
    pop = stack.pop
    push = stack.append
    # Numbers inside these bounds are storable: two comparisons in place of a call per number (NaN fails both).
    int_low, int_high, float_low, float_high = -_INT_LIMIT, _INT_LIMIT, -_FLOAT_MAX, _FLOAT_MAX
    while stack:
        source, target, depth = pop()
        if depth > MAX_NESTING:
            raise CorruptObject(
                f"stored value is nested too deeply (over {MAX_NESTING} levels)", session_id=session_id, key=key
            )
        child_depth = depth + 1
        copied: Any
        if type(source) is dict:
            for name, child in source.items():
                kind = type(child)
                if kind is str:
                    target[name] = child
                elif kind is dict:
                    target[name] = copied = {}
                    push((child, copied, child_depth))
                elif kind is list:
                    target[name] = copied = []
                    push((child, copied, child_depth))
                else:
                    if (kind is int and not int_low < child < int_high) or (
                        kind is float and not float_low <= child <= float_high
                    ):
                        _check_number(child, key=key, session_id=session_id)
                    target[name] = child
        else:
            append = target.append
            for child in source:
                kind = type(child)
                if kind is str:
                    append(child)
                elif kind is dict:
                    append(copied := {})
                    push((child, copied, child_depth))
                elif kind is list:
                    append(copied := [])
                    push((child, copied, child_depth))
                else:
                    if (kind is int and not int_low < child < int_high) or (
                        kind is float and not float_low <= child <= float_high
                    ):
                        _check_number(child, key=key, session_id=session_id)
                    append(child)
    return root


def _check_number(value: float, *, key: str, session_id: str | None) -> None:
    if (problem := _scalar_problem(value)) is not None:
        raise CorruptObject(f"stored value is not storable JSON: {problem}", session_id=session_id, key=key)


def is_scalar(value: object) -> bool:
    """True for JSON scalars (str, int, float, bool, None)."""
    return isinstance(value, _SCALARS)
