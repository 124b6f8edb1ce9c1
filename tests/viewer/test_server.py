"""Over HTTP: security headers on every answer, GET and HEAD only, and the Host check."""

from __future__ import annotations

import asyncio
import http.client

import pytest

from s3sessions.viewer.server import CONTENT_SECURITY_POLICY, is_loopback


def request(server, method: str, path: str, host: str | None = None, body: bytes | None = None):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        headers = {"Host": host or f"127.0.0.1:{server.port}"}
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def test_content_security_policy_forbids_inline_script_and_other_origins():
    policy = dict(part.split(" ", 1) for part in CONTENT_SECURITY_POLICY.split("; "))
    assert policy["default-src"] == "'none'" and policy["script-src"] == "'self'" and policy["style-src"] == "'self'"
    assert policy["img-src"] == "'self' data:" and policy["connect-src"] == "'none'"
    assert policy["frame-ancestors"] == "'none'" and policy["base-uri"] == "'none'"
    assert "unsafe" not in CONTENT_SECURITY_POLICY


@pytest.mark.parametrize("path", ["/", "/session/nope", "/static/viewer.js", "/nowhere"])
def test_every_answer_carries_the_security_headers(server, path):
    status, headers, _ = request(server, "GET", path)
    assert status in (200, 404)
    assert headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert headers["X-Content-Type-Options"] == "nosniff" and headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Frame-Options"] == "DENY"


def test_pages_are_not_cached_static_files_are(server):
    assert request(server, "GET", "/")[1]["Cache-Control"] == "no-store"
    assert request(server, "GET", "/static/viewer.css")[1]["Cache-Control"].startswith("max-age=")


def test_head_answers_without_a_body(server):
    status, headers, body = request(server, "HEAD", "/")
    assert status == 200 and body == b"" and int(headers["Content-Length"]) > 0


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_nothing_but_get_and_head(server, corpus, method):
    before = asyncio.run(corpus["manager"].list())
    status, headers, _ = request(server, method, f"/session/{corpus['ids']['original']}", body=b"{}")
    assert status == 405 and headers["Allow"] == "GET, HEAD"
    assert headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert asyncio.run(corpus["manager"].list()) == before


def test_an_unknown_method_is_refused_too(server):
    status, headers, _ = request(server, "PROPFIND", "/")
    assert status == 501 and headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:{port}", "127.0.0.1:1", "localhost.evil.example:{port}"]
)
def test_a_foreign_host_header_is_refused(server, host):
    """DNS rebinding: a page of another site that resolves its name to 127.0.0.1 still sends its own Host."""
    status, _, body = request(server, "GET", "/", host=host.format(port=server.port))
    assert status == 421 and b"<" not in body


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "LOCALHOST:{port}", "[::1]:{port}"])
def test_loopback_host_headers_pass(server, host):
    assert request(server, "GET", "/", host=host.format(port=server.port))[0] == 200


def test_is_loopback():
    assert all(is_loopback(host) for host in ("127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]"))
    assert not any(is_loopback(host) for host in ("0.0.0.0", "::", "192.168.1.5", "example.com"))
