"""Checks on rendered HTML (what an injection would leave behind), and starting the headless browser."""

from __future__ import annotations

import os
import re
from html.parser import HTMLParser
from typing import Any

from s3sessions.viewer.markup import IMAGE_DATA_URI

CHROMIUM = os.environ.get("S3SESSIONS_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("S3SESSIONS_CHROMEDRIVER", "/usr/bin/chromedriver")
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",  # this machine has no internet: no update, sync or metrics connections
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--disable-extensions",
    "--disable-default-apps",
    "--no-first-run",
    "--no-default-browser-check",
    "--lang=en-US",
]


def start_chromium(profile: str, width: int = 1280, height: int = 900) -> Any:
    """Returns a selenium driver of Debian's headless chromium with a fresh profile; its console is logged."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in [*CHROMIUM_FLAGS, f"--window-size={width},{height}", f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    return driver


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


def attribute(attributes: dict[str, str | None], name: str) -> str:
    """The value of attribute ``name`` of a parsed tag (a KeyError if it is absent, a failure if it has no value)."""
    value = attributes[name]
    assert value is not None, f"{name} has no value"
    return value


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
                found.append(f"<img src={(value or '')[:60]!r}>")
            if name == "src" and tag not in {"img", "script"}:
                found.append(f"<{tag} src>")
    return found
