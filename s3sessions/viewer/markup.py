"""A tiny HTML builder that escapes everything it is not told is markup (pure code, no I/O).

Every string that reaches a page goes through `element` or `escape`: text children and attribute values are
escaped, tag and attribute names must be constants of ours, and the only URLs an attribute can carry are the
viewer's own paths (``/...``), fragments (``#...``) and, for ``<img src>``, a ``data:`` URI of a raster image
type with canonical base64. There is no way to put a ``style`` or ``on*`` attribute on an element, so message
data can neither run script nor restyle the page, whatever the Content-Security-Policy does.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping

_NAME = re.compile(r"[a-z][a-z0-9-]*")
_VOID = frozenset({"br", "hr", "img", "input", "link", "meta", "wbr"})
_FORBIDDEN_ATTRIBUTES = frozenset(
    {"style", "srcdoc", "srcset", "formaction", "action", "poster", "data", "ping", "background", "manifest", "xmlns"}
)
_URL_ATTRIBUTES = frozenset({"href", "src"})
IMAGE_DATA_URI = re.compile(r"data:image/(?:png|jpeg|gif|webp);base64,[A-Za-z0-9+/]*={0,2}")
"""The only ``data:`` URIs a page may hold: raster images with canonical base64 (no SVG, no script)."""

BREAK_EVERY = 64
"""`breakable` lets a line break after this many characters without a space."""
_LONG_RUN = re.compile(rf"\S{{{BREAK_EVERY}}}")

AttributeValue = str | int | bool | None


class Markup(str):
    """A string that is already HTML: `element` inserts it as it is instead of escaping it."""

    __slots__ = ()


def escape(value: object) -> Markup:
    """Returns ``value`` as HTML text: markup stays as it is, anything else is converted and escaped."""
    if isinstance(value, Markup):
        return value
    return Markup(html.escape(str(value), quote=True))


def join(parts: Iterable[Markup | str]) -> Markup:
    """Returns the parts one after the other, escaping those that are not markup."""
    return Markup("".join(escape(part) for part in parts))


def breakable(text: str) -> Markup:
    """Returns ``text`` escaped, with a ``<wbr>`` after every `BREAK_EVERY` characters that hold no space.

    Browsers lay out one long unbroken run (a base64 blob, a minified file) very slowly when they may break it
    anywhere: 50,000 such characters took Chromium 5 seconds, 2 million froze it. With a break opportunity
    every 64 characters, 2 million take 2 seconds. Copied text is unchanged: ``<wbr>`` adds no character.
    """
    parts: list[str] = []
    start = 0
    for match in _LONG_RUN.finditer(text):
        parts += [html.escape(text[start : match.end()], quote=True), "<wbr>"]
        start = match.end()
    parts.append(html.escape(text[start:], quote=True))
    return Markup("".join(parts))


def _check_url(name: str, tag: str, value: str) -> None:
    if value.startswith("/") and not value.startswith("//"):
        return
    if value.startswith("#") or (name == "src" and tag == "img" and IMAGE_DATA_URI.fullmatch(value)):
        return
    raise ValueError(f"<{tag} {name}=...>: only the viewer's own paths, fragments and image data URIs")


def _attribute(tag: str, name: str, value: AttributeValue) -> str:
    if not _NAME.fullmatch(name) or name.startswith("on") or name in _FORBIDDEN_ATTRIBUTES:
        raise ValueError(f"attribute {name!r} is not allowed")
    if value is None or value is False:
        return ""
    if value is True:
        return f" {name}"
    text = str(value)
    if name in _URL_ATTRIBUTES:
        _check_url(name, tag, text)
    return f' {name}="{html.escape(text, quote=True)}"'


def element(tag: str, attributes: Mapping[str, AttributeValue] | None = None, *children: Markup | str) -> Markup:
    """Returns ``<tag attributes>children</tag>`` with the attribute values and text children escaped.

    Attribute names ending in ``_`` lose it (``class_`` is ``class``); None and False values are left out, True
    values are written as a bare name.

    Example:
        >>> element("a", {"href": "/session/x"}, "<b>")
        '<a href="/session/x">&lt;b&gt;</a>'

    Raises:
        ValueError: a tag or attribute name that is not ours, an event handler or ``style`` attribute, or a URL
            other than one of the viewer's paths, a fragment or an image data URI.
    """
    if not _NAME.fullmatch(tag) or tag in {"script", "style", "iframe", "object", "embed", "base"}:
        raise ValueError(f"element {tag!r} is not allowed here")
    rendered = "".join(_attribute(tag, name.rstrip("_"), value) for name, value in (attributes or {}).items())
    if tag in _VOID:
        if children:
            raise ValueError(f"<{tag}> takes no children")
        return Markup(f"<{tag}{rendered}>")
    return Markup(f"<{tag}{rendered}>{join(children)}</{tag}>")


def script(path: str) -> Markup:
    """Returns a ``<script>`` element that loads one of the viewer's own files (never inline code)."""
    _check_url("src", "script", path)
    return Markup(f'<script src="{html.escape(path, quote=True)}" defer></script>')


def stylesheet(path: str) -> Markup:
    """Returns a ``<link rel=stylesheet>`` to one of the viewer's own files."""
    return element("link", {"rel": "stylesheet", "href": path})


__all__ = ["BREAK_EVERY", "IMAGE_DATA_URI", "Markup", "breakable", "element", "escape", "join", "script", "stylesheet"]
