"""Checks on rendered HTML: what an injection would leave behind, found with the standard library's parser."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from s3sessions.viewer.markup import IMAGE_DATA_URI

OUR_SCRIPT = re.compile(r"/static/viewer\.js(\?v=\w+)?")


class Collector(HTMLParser):
    """Collects every start tag with its attributes, and the text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(html: str) -> Collector:
    collector = Collector()
    collector.feed(html)
    collector.close()
    return collector


def unsafe_parts(html: str) -> list[str]:
    """Returns whatever in the page could run script, load something from elsewhere, or restyle it."""
    found = []
    for tag, attributes in parse(html).tags:
        if tag == "script" and not OUR_SCRIPT.fullmatch(attributes.get("src") or ""):
            found.append(f"<script {attributes}>")
        if tag in {"iframe", "object", "embed", "style", "base", "svg", "math", "frame", "meta"} and not (
            tag == "meta" and set(attributes) <= {"charset", "name", "content"} and "http-equiv" not in attributes
        ):
            found.append(f"<{tag}>")
        for name, value in attributes.items():
            if name.startswith("on") or name in {"style", "srcdoc", "formaction", "srcset"}:
                found.append(f"<{tag} {name}=...>")
            if (
                name in {"href", "action"}
                and value is not None
                and not (value.startswith(("/", "#")) and not value.startswith("//"))
            ):
                found.append(f"<{tag} {name}={value[:60]!r}>")
            if name == "src" and tag == "img" and not IMAGE_DATA_URI.fullmatch(value or ""):
                found.append(f"<img src={value[:60]!r}>")
            if name == "src" and tag not in {"img", "script"}:
                found.append(f"<{tag} src>")
    return found
