"""The HTML builder escapes every string and refuses what could run script or load another origin."""

from __future__ import annotations

import pytest

from s3sessions.viewer.markup import Markup, element, escape, join, script


def test_text_and_attributes_are_escaped():
    html = element("a", {"href": "/x?a=1&b=2", "title": '"><script>'}, "<b>&</b>")
    assert html == '<a href="/x?a=1&amp;b=2" title="&quot;&gt;&lt;script&gt;">&lt;b&gt;&amp;&lt;/b&gt;</a>'


def test_markup_children_are_kept_and_strings_are_not():
    inner = element("b", {}, "bold")
    assert element("p", {}, inner, "<i>") == "<p><b>bold</b>&lt;i&gt;</p>"
    assert join(["<", Markup("<br>")]) == "&lt;<br>"
    assert escape(Markup("<br>")) == "<br>" and escape("'") == "&#x27;"


def test_boolean_and_missing_attributes():
    assert element("details", {"open": True, "hidden": False, "title": None}) == "<details open></details>"
    assert element("input", {"class_": "x", "value": 3}) == '<input class="x" value="3">'


@pytest.mark.parametrize(
    "attributes",
    [
        {"onclick": "x"},
        {"onerror": "x"},
        {"style": "color:red"},
        {"srcdoc": "<script>"},
        {"formaction": "/x"},
        {"bad name": "x"},
        {"href": "javascript:alert(1)"},
        {"href": "JAVASCRIPT:alert(1)"},
        {"href": "//evil.example/"},
        {"href": "https://evil.example/"},
        {"href": "data:text/html,<script>"},
        {"src": "data:image/png;base64,AAAA"},  # only on <img>
    ],
)
def test_attributes_that_could_run_or_load_are_refused(attributes):
    with pytest.raises(ValueError):
        element("a", attributes, "x")


@pytest.mark.parametrize(
    "source",
    [
        "data:image/svg+xml;base64,PHN2Zz4=",
        "data:text/html;base64,PHNjcmlwdD4=",
        'data:image/png;base64,AAAA" onerror="x',
        "https://evil.example/x.png",
        "javascript:alert(1)",
    ],
)
def test_images_take_raster_data_uris_only(source):
    with pytest.raises(ValueError):
        element("img", {"src": source})


def test_image_data_uri_and_own_paths_pass():
    assert element("img", {"src": "data:image/png;base64,iVBORw0KGgo="}).startswith("<img src=")
    assert element("a", {"href": "#turn-3"}, "3") == '<a href="#turn-3">3</a>'


@pytest.mark.parametrize("tag", ["script", "style", "iframe", "object", "embed", "base", "Bad"])
def test_elements_that_could_run_or_restyle_are_refused(tag):
    with pytest.raises(ValueError):
        element(tag, {})


def test_scripts_only_load_our_files():
    assert script("/static/viewer.js") == '<script src="/static/viewer.js" defer></script>'
    for source in ("https://cdn.example/x.js", "//cdn.example/x.js", "data:text/javascript,alert(1)"):
        with pytest.raises(ValueError):
            script(source)


def test_void_elements_take_no_children():
    with pytest.raises(ValueError):
        element("br", {}, "x")
