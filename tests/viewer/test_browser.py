"""The viewer in a real browser (Debian's headless chromium through chromedriver and selenium).

A person's path: open the list, open a session, read the turn numbers, unfold a tool call, follow a fork to
its parent and to the point where it diverged. Then the hostile corpus: no injected script runs (it would set
``window.__xss``), nothing foreign is in the DOM, and the page keeps its shape around a 2-million-character
message. And a 10,000-message session stays quick.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from viewer_corpus import XSS_FLAG

pytestmark = pytest.mark.browser

FOREIGN_DOM = """
const problems = [];
for (const element of document.querySelectorAll('*')) {
  for (const attribute of element.attributes) {
    if (attribute.name.startsWith('on') || attribute.name === 'style' || attribute.name === 'srcdoc') {
      problems.push(element.tagName + ' ' + attribute.name);
    }
  }
}
const foreign = 'iframe, object, embed, style, base, svg, math, frame, meta[http-equiv]';
for (const element of document.querySelectorAll(foreign)) {
  problems.push(element.tagName);
}
for (const script of document.scripts) {
  if (!/^\\/static\\/viewer\\.js(\\?v=\\w+)?$/.test(script.getAttribute('src') || '')) problems.push('script');
}
for (const link of document.querySelectorAll('[href]')) {
  const href = link.getAttribute('href');
  const own = (href.startsWith('/') || href.startsWith('#')) && !href.startsWith('//');
  if (!own) problems.push('href ' + href.slice(0, 60));
}
for (const image of document.images) {
  if (!/^data:image\\/(png|jpeg|gif|webp);base64,/.test(image.getAttribute('src'))) problems.push('img');
}
return problems;
"""


def open_page(browser: Any, url: str) -> None:
    browser.get(url)
    browser.get_log("browser")  # drop what came before this page's checks


def console_errors(browser: Any) -> list[str]:
    return [entry["message"] for entry in browser.get_log("browser") if entry["level"] in {"SEVERE", "WARNING"}]


def by_css(browser: Any, selector: str) -> list[Any]:
    from selenium.webdriver.common.by import By

    return browser.find_elements(By.CSS_SELECTOR, selector)


def test_open_the_list(browser, server, corpus):
    open_page(browser, server.url)
    assert browser.title.startswith("sessions")
    rows = by_css(browser, "tr.session")
    assert {row.get_attribute("data-id") for row in rows} == set(corpus["ids"].values())
    assert browser.execute_script("return document.documentElement.dataset.viewerScript") == "ready"
    assert console_errors(browser) == []


def test_filter_the_list_by_name(browser, server, corpus):
    open_page(browser, server.url)
    box = by_css(browser, "input[name=q]")[0]
    box.send_keys("click")
    box.submit()
    names = {row.get_attribute("data-id") for row in by_css(browser, "tr.session")}
    assert names == {corpus["ids"]["fork"], corpus["ids"]["fork_of_fork"]}


def test_open_a_session_and_read_the_turn_numbers(browser, server, corpus):
    open_page(browser, server.url)
    row = next(r for r in by_css(browser, "tr.session") if r.get_attribute("data-id") == corpus["ids"]["original"])
    row.find_element("css selector", "a.open").click()
    assert browser.title.startswith("argparse questions")
    banners = by_css(browser, "h3.turn[data-turn]")
    assert [banner.find_element("css selector", "a").text for banner in banners] == ["turn 0", "turn 1", "turn 2"]
    commands = [banner.find_element("css selector", "code.rewind").text for banner in banners]
    assert commands[2] == f"s3sessions rewind {corpus['ids']['original']} 2"
    [image] = by_css(browser, "figure.image img")
    assert browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth", image) == 96
    assert console_errors(browser) == []


def test_unfold_a_tool_call(browser, server, corpus):
    open_page(browser, f"{server.url}session/{corpus['ids']['original']}")
    call = by_css(browser, "details.tool-call")[0]
    arguments = call.find_element("css selector", ".json")
    assert call.get_attribute("open") is None and not arguments.is_displayed()
    summary = call.find_element("css selector", "summary")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", summary)
    summary.click()
    assert call.get_attribute("open") is not None and arguments.is_displayed()
    assert '"path": "Lib/argparse.py"' in arguments.text
    by_css(browser, "#expand-all")[0].click()
    assert all(fold.get_attribute("open") is not None for fold in by_css(browser, "details.fold"))
    by_css(browser, "#collapse-all")[0].click()
    assert all(fold.get_attribute("open") is None for fold in by_css(browser, "details.fold"))


def test_follow_a_fork_to_its_parent_and_where_it_diverged(browser, server, corpus):
    ids = corpus["ids"]
    open_page(browser, f"{server.url}session/{ids['fork_of_fork']}")
    tree = [link.text for link in by_css(browser, ".tree a:not(.diverged):not(.compare)")]
    assert tree == ["argparse questions", "argparse vs click", "click with rich help"]
    by_css(browser, "p.parent-line a.parent")[0].click()
    assert browser.title.startswith("argparse vs click")
    by_css(browser, "p.parent-line a.diverged")[0].click()
    assert browser.current_url.endswith(f"/session/{ids['original']}?page=1#fork-{ids['fork']}")
    marker = by_css(browser, f"#fork-{ids['fork']}")[0]
    assert browser.execute_script(
        "const r = arguments[0].getBoundingClientRect(); return r.top >= 0 && r.top < innerHeight", marker
    )
    before = browser.execute_script("return arguments[0].previousElementSibling.dataset.index", marker)
    after = browser.execute_script("return arguments[0].nextElementSibling.dataset.turn", marker)
    assert (before, after) == ("5", "2")  # after turn 1's last message, before turn 2
    marker.find_element("css selector", "a[href^='/compare/']").click()
    parent_side, fork_side = by_css(browser, ".compare-row .side")
    assert "Add a test for the group" in parent_side.text and "Would click be simpler here?" in fork_side.text
    assert console_errors(browser) == []


def assert_inert_and_whole(browser: Any) -> None:
    assert browser.execute_script(f"return typeof window.{XSS_FLAG}") == "undefined"
    assert browser.execute_script(FOREIGN_DOM) == []
    assert console_errors(browser) == []  # a blocked inline script or style would be reported here
    assert browser.execute_script("return getComputedStyle(document.body).display") == "block"
    assert by_css(browser, "header.top")[0].is_displayed()
    width = browser.execute_script("return [document.documentElement.scrollWidth, innerWidth]")
    assert width[0] <= width[1], width  # nothing pushes the page sideways


def test_hostile_messages_never_run_script_nor_break_the_page(browser, server, corpus):
    hostile = corpus["ids"]["hostile"]
    started = time.monotonic()
    open_page(browser, f"{server.url}session/{hostile}")
    assert time.monotonic() - started < 10
    assert_inert_and_whole(browser)
    assert browser.title.startswith("<script>window.__xss=1</script> hostile")
    messages = by_css(browser, "article.msg")
    assert len(messages) == int(messages[-1].get_attribute("data-index")) + 1
    assert messages[-1].text.endswith("the last message")
    by_css(browser, "#expand-all")[0].click()
    assert_inert_and_whole(browser)
    open_page(browser, server.url)
    assert_inert_and_whole(browser)


def test_every_hostile_message_page_is_inert_even_the_huge_one(browser, server, corpus):
    hostile = corpus["ids"]["hostile"]
    open_page(browser, f"{server.url}session/{hostile}")
    count = len(by_css(browser, "article.msg"))
    for index in range(count):
        started = time.monotonic()
        open_page(browser, f"{server.url}session/{hostile}/message/{index}")
        assert time.monotonic() - started < 15, index
        assert_inert_and_whole(browser)


def test_ten_thousand_messages_page_quickly_and_jump_to_a_turn(browser, server, corpus):
    long = corpus["ids"]["long"]
    started = time.monotonic()
    open_page(browser, f"{server.url}session/{long}")
    assert time.monotonic() - started < 5
    assert len(by_css(browser, "article.msg")) == 200 and "page 1 of 50" in by_css(browser, ".pager .where")[0].text
    box = by_css(browser, "form.jump input[name=turn]")[0]
    box.send_keys("4999")
    box.submit()
    assert browser.current_url.endswith(f"/session/{long}?page=50#turn-4999")
    banner = by_css(browser, "#turn-4999")[0]
    assert browser.execute_script(
        "const r = arguments[0].getBoundingClientRect(); return r.top >= 0 && r.top < innerHeight", banner
    )
    timing = browser.execute_script(
        "const t = performance.getEntriesByType('navigation')[0]; return t.loadEventEnd - t.startTime"
    )
    assert 0 < timing < 5000, timing


def test_the_browser_enforces_the_policy_even_if_markup_slipped_through(browser, server):
    """Defence in depth: an inline script that got into the page anyway would be blocked by the CSP."""
    open_page(browser, server.url)
    probe = (
        "const s = document.createElement('script'); s.textContent = 'window.__inline = 1';"
        "document.body.appendChild(s);"
        "const i = document.createElement('img'); i.src = 'http://127.0.0.1:9/x.png'; document.body.appendChild(i);"
        "return typeof window.__inline;"
    )
    assert browser.execute_script(probe) == "undefined"
    time.sleep(0.2)
    reports = " ".join(console_errors(browser))
    assert "Content Security Policy" in reports and "script-src 'self'" in reports and "img-src" in reports
