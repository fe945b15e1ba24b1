"""Fetching against a real misbehaving HTTP server on 127.0.0.1."""
import dataclasses
import time

import pytest

from schemas import reasons
from schemas.records import DeadLetter, FetchedPage, PageRequest
from tests.conftest import article_html, gzip_bytes
from transforms import fetch

CONFIG = fetch.FetchConfig(allow_private_hosts=True, host_delay=0.0, backoff_base=0.05,
                           max_retry_wait=5.0, total_timeout=3.0, connect_timeout=1.0,
                           respect_robots=True)


def _fetch(url, config=CONFIG):
    session = fetch.make_session(config)
    robots = fetch.RobotsCache(session, config)
    return fetch.fetch_page(session, robots, PageRequest(url=url), config)


def test_ok_page(http_server):
    url = http_server.add_body("/a.html", article_html())
    page = _fetch(url)
    assert isinstance(page, FetchedPage) and page.status == 200
    assert b"Council approves budget" in page.content and page.encoding == "utf-8"
    ua = [h for _, p, h in http_server.log if p == "/a.html"][0]["User-Agent"]
    assert ua.startswith("newsbeam/")


def test_http_errors_are_dead_letters(http_server):
    assert _fetch(http_server.url("/missing.html")).reason == reasons.HTTP_4XX
    url = http_server.add_body("/boom.html", b"oops", status=500)
    letter = _fetch(url)
    assert isinstance(letter, DeadLetter) and letter.reason == reasons.HTTP_5XX
    assert http_server.hits["/boom.html"] == CONFIG.max_retries + 1  # retried, then gave up


def test_500_then_200_is_retried(http_server):
    calls = {"n": 0}

    def flaky(handler):
        calls["n"] += 1
        body = article_html() if calls["n"] > 1 else b"temporarily broken"
        handler.send_response(200 if calls["n"] > 1 else 503)
        handler.send_header("Content-Type", "text/html")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)
    page = _fetch(http_server.add("/flaky.html", flaky))
    assert isinstance(page, FetchedPage) and calls["n"] == 2


def test_429_retry_after_is_honoured(http_server):
    calls = {"n": 0}

    def limited(handler):
        calls["n"] += 1
        if calls["n"] == 1:
            handler.send_response(429)
            handler.send_header("Retry-After", "1")
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        body = article_html()
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)
    started = time.monotonic()
    page = _fetch(http_server.add("/limited.html", limited))
    assert isinstance(page, FetchedPage)
    assert time.monotonic() - started >= 0.95


def test_redirects_loops_and_limits(http_server):
    def redirect(to):
        def route(handler):
            handler.send_response(302)
            handler.send_header("Location", to)
            handler.send_header("Content-Length", "0")
            handler.end_headers()
        return route
    http_server.add_body("/final.html", article_html())
    page = _fetch(http_server.add("/r1", redirect("/final.html")))
    assert isinstance(page, FetchedPage) and page.final_url.endswith("/final.html")
    http_server.add("/loop-a", redirect("/loop-b"))
    http_server.add("/loop-b", redirect("/loop-a"))
    assert _fetch(http_server.url("/loop-a")).reason == reasons.REDIRECT_LOOP
    for i in range(8):
        http_server.add(f"/chain{i}", redirect(f"/chain{i + 1}"))
    assert _fetch(http_server.url("/chain0")).reason == reasons.TOO_MANY_REDIRECTS


def test_size_caps_and_gzip_bomb(http_server):
    small = dataclasses.replace(CONFIG, max_bytes=64 * 1024)
    url = http_server.add_body("/big.html", b"<html>" + b"a" * (200 * 1024))
    assert _fetch(url, small).reason == reasons.TOO_LARGE
    bomb = gzip_bytes(b"<html>" + b"\x00" * (10 * 1024 * 1024))
    url = http_server.add_body("/bomb.html", bomb, headers={"Content-Encoding": "gzip"})
    assert len(bomb) < 64 * 1024
    assert _fetch(url, small).reason == reasons.TOO_LARGE


def test_not_html_and_timeout(http_server):
    url = http_server.add_body("/report.pdf", b"%PDF-1.4 binary", content_type="application/pdf")
    assert _fetch(url).reason == reasons.NOT_HTML

    def slow(handler):
        time.sleep(2.5)
        handler.send_response(200)
        handler.send_header("Content-Length", "0")
        handler.end_headers()
    fast = dataclasses.replace(CONFIG, total_timeout=0.5, max_retries=0)
    assert _fetch(http_server.add("/slow.html", slow), fast).reason == reasons.TIMEOUT


def test_ssrf_guard_blocks_loopback_and_redirects_to_it(http_server):
    guarded = dataclasses.replace(CONFIG, allow_private_hosts=False)
    assert _fetch(http_server.add_body("/a.html", article_html()), guarded).reason == reasons.BLOCKED_ADDRESS
    assert "/a.html" not in http_server.hits  # refused before any traffic
    for address in ("127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254",
                    "100.64.0.1", "::1", "fe80::1", "fc00::1", "224.0.0.1", "::ffff:127.0.0.1", "0.0.0.0"):
        import ipaddress
        assert not fetch.is_public_address(ipaddress.ip_address(address)), address
    assert fetch.is_public_address(__import__("ipaddress").ip_address("93.184.216.34"))
    for url in ("file:///etc/passwd", "ftp://example.com/x", "gopher://x"):
        assert _fetch(url).reason == reasons.UNSUPPORTED_SCHEME


def test_robots_disallow(http_server):
    http_server.add_body("/robots.txt", b"User-agent: *\nDisallow: /private/\n", content_type="text/plain")
    url = http_server.add_body("/private/a.html", article_html())
    assert _fetch(url).reason == reasons.ROBOTS_DISALLOWED
    assert "/private/a.html" not in http_server.hits
    ignoring = dataclasses.replace(CONFIG, respect_robots=False)
    assert isinstance(_fetch(url, ignoring), FetchedPage)


def test_host_delay_is_honoured(http_server):
    urls = [http_server.add_body(f"/p{i}.html", article_html()) for i in range(3)]
    config = dataclasses.replace(CONFIG, host_delay=0.3)
    session = fetch.make_session(config)
    results = list(fetch.fetch_host(session, None, [PageRequest(url=u) for u in urls], config))
    assert all(isinstance(r, FetchedPage) for r in results)
    times = [t for t, p, _ in http_server.log if p.startswith("/p")]
    assert all(b - a >= 0.29 for a, b in zip(times, times[1:]))


def test_retry_after_parsing():
    assert fetch.parse_retry_after("120") == 120.0
    assert fetch.parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412480.0) == 0.0
    assert fetch.parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert fetch.parse_retry_after("soon") is None
