"""Fetching against a real misbehaving HTTP server on 127.0.0.1."""
import dataclasses
import time

import pytest

from core import addresses
from core.charset import decode_html, header_charset
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
    assert b"Council approves budget" in page.content
    assert decode_html(page.content, page.declared_charset)[1] == "utf-8"
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


# --------------------------------------------------------------------------- helpers

def _route(body: bytes, content_type="text/html", status=200, headers=None, delay=0.0):
    def route(handler):
        if delay:
            time.sleep(delay)
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            handler.send_header(key, value)
        handler.end_headers()
        handler.wfile.write(body)
    return route


def _redirect(to):
    def route(handler):
        handler.send_response(302)
        handler.send_header("Location", to)
        handler.send_header("Content-Length", "0")
        handler.end_headers()
    return route


def _peak_kib(fn):
    import tracemalloc
    tracemalloc.start()
    try:
        result = fn()
        return result, tracemalloc.get_traced_memory()[1] // 1024
    finally:
        tracemalloc.stop()


# --------------------------------------------------------------------------- address guard

def _fake_dns(monkeypatch, answers):
    """Replace the fetcher's DNS lookup (the one seam: tests may not use real DNS).

    ``answers`` maps a host name to a list of address lists: the n-th lookup of
    that name gets the n-th list (the last one repeats), like a rebinding server."""
    calls = []

    def getaddrinfo(host, port):
        calls.append(host)
        if host not in answers:
            raise __import__("socket").gaierror(-2, "Name or service not known")
        seen = calls.count(host)
        addresses = answers[host][min(seen, len(answers[host])) - 1]
        return [(2 if ":" not in a else 10, 1, 6, "", (a, port or 0)) for a in addresses]
    monkeypatch.setattr(addresses, "_getaddrinfo", getaddrinfo)
    return calls


def test_connection_goes_to_the_checked_address(http_server, monkeypatch):
    """One lookup per connection, and the connection uses its answer: a name only
    our resolver knows works, so urllib3 did not look it up again."""
    calls = _fake_dns(monkeypatch, {"news.test": [["127.0.0.1"]]})
    http_server.add_body("/a.html", article_html())
    url = f"http://news.test:{http_server.port}/a.html"
    page = _fetch(url, dataclasses.replace(CONFIG, respect_robots=False))
    assert isinstance(page, FetchedPage), page
    assert calls == ["news.test"]
    assert http_server.log[-1][2]["Host"] == f"news.test:{http_server.port}"


def test_dns_rebinding_is_refused_at_connect(http_server, monkeypatch):
    """The name looks public to a pre-flight check, then rebinds to loopback: the
    connection's own lookup is checked and refused, nothing reaches the server."""
    calls = _fake_dns(monkeypatch, {"rebind.test": [["93.184.216.34"], ["127.0.0.1"]]})
    http_server.add_body("/a.html", article_html())
    url = f"http://rebind.test:{http_server.port}/a.html"
    guarded = dataclasses.replace(CONFIG, allow_private_hosts=False, respect_robots=False)
    fetch.check_url_allowed(url, allow_private_hosts=False)  # the first answer is public
    letter = _fetch(url, guarded)
    assert isinstance(letter, DeadLetter) and letter.reason == reasons.BLOCKED_ADDRESS
    assert "127.0.0.1" in letter.detail and calls == ["rebind.test", "rebind.test"]
    assert http_server.hits == {}


def test_any_private_answer_refuses_the_host(http_server, monkeypatch):
    _fake_dns(monkeypatch, {"mixed.test": [["93.184.216.34", "127.0.0.1"]],
                            "meta.test": [["169.254.169.254"]], "v6.test": [["::1"]]})
    guarded = dataclasses.replace(CONFIG, allow_private_hosts=False, respect_robots=False)
    for host in ("mixed.test", "meta.test", "v6.test"):
        assert _fetch(f"http://{host}:{http_server.port}/", guarded).reason == reasons.BLOCKED_ADDRESS
    assert _fetch(f"http://nxdomain.test:{http_server.port}/", guarded).reason == reasons.DNS_ERROR
    assert http_server.hits == {}


def test_redirect_to_a_blocked_address_is_refused(http_server):
    """127.0.0.1 is allowed to this test (as an operator may allow a mirror);
    127.0.0.2, another loopback address, is not: the redirect hop is refused."""
    from tests.conftest import MisbehavingServer
    other = MisbehavingServer()
    other.httpd.server_close()
    import http.server as hs
    other.httpd = hs.ThreadingHTTPServer(("127.0.0.2", 0), other.httpd.RequestHandlerClass)
    other.port = other.httpd.server_address[1]
    other.thread = __import__("threading").Thread(target=other.httpd.serve_forever, daemon=True)
    other.start()
    try:
        other.add_body("/internal.html", article_html())
        config = dataclasses.replace(CONFIG, allow_private_hosts=False,
                                     allow_networks=("127.0.0.1/32",), respect_robots=False)
        http_server.add_body("/ok.html", article_html())
        assert isinstance(_fetch(http_server.url("/ok.html"), config), FetchedPage)
        url = http_server.add("/go", _redirect(f"http://127.0.0.2:{other.port}/internal.html"))
        letter = _fetch(url, config)
        assert letter.reason == reasons.BLOCKED_ADDRESS and "127.0.0.2" in letter.detail
        assert other.hits == {}  # refused before any traffic
        url = http_server.add("/meta", _redirect("http://169.254.169.254/latest/meta-data/"))
        assert _fetch(url, config).reason == reasons.BLOCKED_ADDRESS
        url = http_server.add("/file", _redirect("file:///etc/passwd"))
        assert _fetch(url, config).reason == reasons.UNSUPPORTED_SCHEME
    finally:
        other.stop()


def test_embedded_ipv4_in_ipv6_is_judged_by_its_ipv4_part():
    import ipaddress
    for address in ("64:ff9b::7f00:1", "2002:7f00:1::", "::ffff:10.0.0.1"):
        assert not fetch.is_public_address(ipaddress.ip_address(address)), address
    assert fetch.is_public_address(ipaddress.ip_address("2606:4700:4700::1111"))


# --------------------------------------------------------------------------- bodies

@pytest.mark.parametrize("encoding", ["br", "deflate-zlib", "deflate-raw", "gzip"])
def test_decompression_bombs_are_capped_with_flat_memory(http_server, encoding):
    import zlib
    import brotli
    raw = b"<html>" + b"\x00" * (50 * 1024 * 1024)
    if encoding == "br":
        body, header = brotli.compress(raw, quality=5), "br"
    elif encoding == "deflate-zlib":
        body, header = zlib.compress(raw, 9), "deflate"
    elif encoding == "deflate-raw":
        packer = zlib.compressobj(9, zlib.DEFLATED, -15)
        body, header = packer.compress(raw) + packer.flush(), "deflate"
    else:
        body, header = gzip_bytes(raw), "gzip"
    assert len(body) < 200 * 1024
    url = http_server.add_body(f"/bomb-{encoding}.html", body, headers={"Content-Encoding": header})
    capped = dataclasses.replace(CONFIG, max_bytes=1024 * 1024)
    letter, peak = _peak_kib(lambda: _fetch(url, capped))
    assert letter.reason == reasons.TOO_LARGE
    assert peak < 8 * 1024, f"{peak} KiB allocated for a 1 MiB cap"


def test_endless_body_is_aborted_at_the_cap_with_flat_memory(http_server):
    def endless(handler):
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html")
        handler.end_headers()  # no length: the body ends when the connection does (never)
        chunk = b"<p>" + b"a" * 65533
        for _ in range(50 * 16):  # 50 MiB if nobody stops reading
            handler.wfile.write(chunk)
    url = http_server.add("/endless.html", endless)
    letter, peak = _peak_kib(lambda: _fetch(url, dataclasses.replace(CONFIG, max_bytes=2 * 1024 * 1024)))
    assert letter.reason == reasons.TOO_LARGE
    assert peak < 10 * 1024, f"{peak} KiB allocated for a 2 MiB cap"


def test_compressed_pages_are_decoded_and_unknown_codings_refused(http_server):
    import brotli
    for name, body in (("br", brotli.compress(article_html())), ("gzip", gzip_bytes(article_html()))):
        page = _fetch(http_server.add_body(f"/{name}.html", body, headers={"Content-Encoding": name}))
        assert isinstance(page, FetchedPage) and b"Council approves budget" in page.content
    sent = http_server.log[-1][2]["Accept-Encoding"]
    assert "br" in sent and "gzip" in sent
    url = http_server.add_body("/z.html", b"\x28\xb5\x2f\xfd junk", headers={"Content-Encoding": "zstd"})
    assert _fetch(url).reason == reasons.BAD_ENCODING
    url = http_server.add_body("/badgz.html", b"not gzip at all", headers={"Content-Encoding": "gzip"})
    assert _fetch(url).reason == reasons.BAD_ENCODING


def test_slow_drip_cannot_stretch_the_time_budget(http_server):
    """A byte every 0.1 s never trips a per-read timeout; the total budget must."""
    def drip(handler):
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html")
        handler.send_header("Content-Length", "100000")
        handler.end_headers()
        for _ in range(100):
            handler.wfile.write(b"a")
            handler.wfile.flush()
            time.sleep(0.1)
    config = dataclasses.replace(CONFIG, total_timeout=1.0, max_retries=0)
    started = time.monotonic()
    letter = _fetch(http_server.add("/drip.html", drip), config)
    assert letter.reason == reasons.TIMEOUT and time.monotonic() - started < 3.0


def test_connection_dropped_mid_body_is_retried(http_server):
    calls = {"n": 0}

    def truncated_once(handler):
        calls["n"] += 1
        body = article_html()
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body if calls["n"] > 1 else body[:100])
        if calls["n"] == 1:
            handler.close_connection = True
    page = _fetch(http_server.add("/cut.html", truncated_once))
    assert isinstance(page, FetchedPage) and calls["n"] == 2


# --------------------------------------------------------------------------- statuses

def test_429_forever_is_rate_limited_and_bounded(http_server):
    url = http_server.add("/busy.html", _route(b"", status=429, headers={"Retry-After": "0"}))
    assert _fetch(url).reason == reasons.RATE_LIMITED
    assert http_server.hits["/busy.html"] == CONFIG.max_retries + 1
    # A Retry-After beyond the retry budget is not waited for at all.
    url = http_server.add("/later.html", _route(b"", status=503, headers={"Retry-After": "3600"}))
    started = time.monotonic()
    assert _fetch(url).reason == reasons.HTTP_5XX and time.monotonic() - started < 1.0
    assert http_server.hits["/later.html"] == 1


def test_retry_after_http_date_is_honoured(http_server):
    import email.utils
    calls = {"n": 0}

    def limited(handler):
        calls["n"] += 1
        if calls["n"] == 1:
            when = email.utils.formatdate(time.time() + 2, usegmt=True)  # 1-2 s, second resolution
            _route(b"", status=503, headers={"Retry-After": when})(handler)
        else:
            _route(article_html())(handler)
    started = time.monotonic()
    page = _fetch(http_server.add("/date.html", limited))
    assert isinstance(page, FetchedPage) and time.monotonic() - started >= 0.9


def test_unexpected_304_for_a_page_is_a_dead_letter(http_server):
    url = http_server.add("/304.html", _route(b"", status=304))
    assert _fetch(url).reason == reasons.HTTP_4XX


# --------------------------------------------------------------------------- robots.txt

def test_robots_unavailable_disallows_and_404_allows(http_server):
    http_server.add("/robots.txt", _route(b"down", content_type="text/plain", status=503))
    url = http_server.add_body("/a.html", article_html())
    letter = _fetch(url)
    assert letter.reason == reasons.ROBOTS_UNAVAILABLE and "503" in letter.detail
    assert "/a.html" not in http_server.hits
    assert http_server.hits["/robots.txt"] == CONFIG.max_retries + 1  # retried like any request
    del http_server.routes["/robots.txt"]  # now 404: no robots.txt means allowed
    assert isinstance(_fetch(url), FetchedPage)


def test_robots_txt_is_fetched_once_per_host(http_server):
    http_server.add_body("/robots.txt", b"User-agent: *\nDisallow: /private/\n", content_type="text/plain")
    urls = [http_server.add_body(f"/n{i}.html", article_html()) for i in range(4)]
    session = fetch.make_session(CONFIG)
    results = list(fetch.fetch_host(session, fetch.RobotsCache(session, CONFIG),
                                    [PageRequest(url=u) for u in urls], CONFIG))
    assert all(isinstance(r, FetchedPage) for r in results)
    assert http_server.hits["/robots.txt"] == 1


def test_parse_crawl_delay_groups_and_decimals():
    agent = fetch.user_agent()
    text = ("User-agent: Googlebot\nCrawl-delay: 9\n\n"
            "User-agent: *\nDisallow: /tmp/\nCrawl-delay: 2.5\n")
    assert fetch.parse_crawl_delay(text, agent) == 2.5
    text += "\nUser-agent: newsbeam\nUser-agent: otherbot\nCrawl-delay: 0.75 # ours\n"
    assert fetch.parse_crawl_delay(text, agent) == 0.75
    assert fetch.parse_crawl_delay("User-agent: *\nRequest-rate: 1/5s\n", agent) == 5.0
    assert fetch.parse_crawl_delay("User-agent: *\nRequest-rate: 2/3\n", agent) == 1.5
    assert fetch.parse_crawl_delay("User-agent: *\nCrawl-delay: soon\n", agent) is None
    assert fetch.parse_crawl_delay("User-agent: newsbeam\nDisallow:\n\nUser-agent: *\nCrawl-delay: 4\n",
                                   agent) is None  # our own group has none: '*' does not apply
    assert fetch.parse_crawl_delay("", agent) is None


def test_crawl_delay_is_honoured_even_without_host_delay(http_server):
    http_server.add_body("/robots.txt", b"User-agent: *\nCrawl-delay: 0.5\n", content_type="text/plain")
    urls = [http_server.add_body(f"/c{i}.html", article_html()) for i in range(3)]
    config = dataclasses.replace(CONFIG, host_delay=0.0, host_concurrency=3)
    session = fetch.make_session(config)
    throttle = fetch.HostThrottle(config.host_delay, config.host_concurrency)
    robots = fetch.RobotsCache(session, config, throttle=throttle)
    results = list(fetch.fetch_host(session, robots, [PageRequest(url=u) for u in urls], config,
                                    throttle=throttle))
    assert all(isinstance(r, FetchedPage) for r in results)
    times = [t for t, p, _ in http_server.log]  # robots.txt and tdmrep.json included: every request is spaced
    assert sorted(p for _, p, _ in http_server.log) == sorted(
        ["/robots.txt", "/.well-known/tdmrep.json"] + [f"/c{i}.html" for i in range(3)])
    assert all(b - a >= 0.45 for a, b in zip(times, times[1:])), times
    # Capped: a robots.txt asking for an hour is not obeyed literally.
    long_delay = fetch.parse_crawl_delay("User-agent: *\nCrawl-delay: 3600\n", config.user_agent)
    assert long_delay == 3600 and config.max_crawl_delay == 60.0


# --------------------------------------------------------------------------- politeness

def _concurrency_server(http_server, n, serve_time):
    state = {"now": 0, "max": 0}
    lock = __import__("threading").Lock()

    def slow(handler):
        with lock:
            state["now"] += 1
            state["max"] = max(state["max"], state["now"])
        time.sleep(serve_time)
        with lock:
            state["now"] -= 1
        _route(article_html())(handler)
    return [http_server.add(f"/s{i}.html", slow) for i in range(n)], state


@pytest.mark.parametrize("concurrency", [1, 2])
def test_host_concurrency_limit(http_server, concurrency):
    urls, state = _concurrency_server(http_server, 6, 0.15)
    config = dataclasses.replace(CONFIG, host_delay=0.1, host_concurrency=concurrency)
    session = fetch.make_session(config)
    started = time.monotonic()
    results = list(fetch.fetch_host(session, None, [PageRequest(url=u) for u in urls], config))
    elapsed = time.monotonic() - started
    assert sum(isinstance(r, FetchedPage) for r in results) == 6
    assert state["max"] == concurrency
    # Each lane: 0.15 s serving + 0.1 s pause between its requests.
    lane_time = (6 / concurrency) * 0.15 + (6 / concurrency - 1) * 0.1
    assert elapsed >= lane_time * 0.95
    if concurrency == 2:
        assert elapsed < (6 * 0.15 + 5 * 0.1) * 0.9  # faster than one lane


def test_throttle_spacing_holds_and_retry_after_holds_the_host():
    clock = {"t": 0.0}
    sleeps = []

    def sleep(seconds):
        sleeps.append(round(seconds, 6))
        clock["t"] += seconds
    throttle = fetch.HostThrottle(1.0, 1, clock=lambda: clock["t"], sleep=sleep)
    for _ in range(3):
        with throttle.slot("a.test"):
            clock["t"] += 0.25  # the request takes 0.25 s
    assert sleeps == [1.0, 1.0]  # from the end of one request to the start of the next
    with throttle.slot("b.test"):  # another host does not wait
        pass
    assert sleeps == [1.0, 1.0]
    throttle.hold("b.test", 5.0)
    with throttle.slot("b.test"):
        pass
    assert sleeps[-1] == 5.0
    zero = fetch.HostThrottle(0.0, 1, clock=lambda: clock["t"], sleep=sleep)
    for _ in range(3):
        with zero.slot("c.test"):
            pass
    assert sleeps[-1] == 5.0  # --host-delay 0 disables the pause


# --------------------------------------------------------------------------- charsets

CAFE_1252 = "<p>“Café” — naïve façade</p>"


@pytest.mark.parametrize("body,content_type,expected_codec", [
    # Header says UTF-8, bytes are windows-1252, meta tells the truth.
    (("<html><head><meta charset='windows-1252'></head><body>" + CAFE_1252 + "</body></html>").encode("cp1252"),
     "text/html; charset=utf-8", "cp1252"),
    # Header says ISO-8859-1 (a server default), bytes are UTF-8.
    (("<html><body>" + CAFE_1252 + "</body></html>").encode("utf-8"), "text/html; charset=iso-8859-1", "utf-8"),
    # Only a meta tag: big5.
    ("<html><head><meta http-equiv='Content-Type' content='text/html; charset=big5'></head>"
     "<body><p>臺北市政府今日宣布新的交通政策</p></body></html>".encode("big5"), "text/html", "big5"),
    # Header gb2312 (decoded as its superset, as browsers do).
    ("<html><body><p>北京市政府今天发布了新的交通政策。</p></body></html>".encode("gb2312"),
     "text/html; charset=gb2312", "gb18030"),
    # A BOM beats everything.
    (("<html><body>" + CAFE_1252 + "</body></html>").encode("utf-16"), "text/html; charset=iso-8859-1", "utf-16"),
    # Meta says ISO-8859-1 but uses windows-1252 quotes: WHATWG maps the label to windows-1252.
    (("<html><head><meta charset=iso-8859-1></head><body>" + CAFE_1252 + "</body></html>").encode("cp1252"),
     "text/html", "cp1252"),
])
def test_page_charset_header_meta_detection(http_server, body, content_type, expected_codec):
    url = http_server.add_body("/cs.html", body, content_type=content_type)
    page = _fetch(url)
    assert isinstance(page, FetchedPage)
    assert page.declared_charset == header_charset(content_type)  # what the server said, for every source
    text, codec = decode_html(page.content, page.declared_charset)  # what the page is really in
    assert codec == expected_codec
    original = body.decode(expected_codec)
    assert text == original and "\ufffd" not in text


def test_charset_detection_without_any_declaration():
    text = ("<html><body><p>" + "Москва: правительство объявило о новых мерах поддержки экономики. " * 8
            + "</p></body></html>")
    body = text.encode("windows-1251")
    codec = fetch.resolve_charset(body, None)
    assert body.decode(codec) == text
    assert fetch.resolve_charset(b"<html>plain ascii</html>", None) is None
    assert fetch.resolve_charset(b"<html>plain ascii</html>", "ISO-8859-1") == "cp1252"


# --------------------------------------------------------------------------- Beam

def test_fetch_pages_counts_every_dead_letter_reason(http_server):
    import apache_beam as beam
    from apache_beam.metrics.metric import MetricsFilter
    from apache_beam.testing.test_pipeline import TestPipeline
    from apache_beam.testing.util import assert_that, equal_to
    http_server.add_body("/robots.txt", b"User-agent: *\nDisallow: /private/\n", content_type="text/plain")
    ok = http_server.add_body("/ok.html", article_html())
    pdf = http_server.add_body("/doc.pdf", b"%PDF-1.4", content_type="application/pdf")
    private = http_server.add_body("/private/p.html", article_html())
    missing, missing2 = http_server.url("/gone.html"), http_server.url("/gone2.html")
    requests_ = [PageRequest(url=u, feed_url="http://feed.test/rss") for u in (ok, pdf, private, missing)]
    requests_.append(PageRequest(url=missing2))
    config = dataclasses.replace(CONFIG, host_delay=0.0)
    pipeline = TestPipeline(runner="FnApiRunner")
    fetched = pipeline | beam.Create(requests_) | fetch.FetchPages(config)
    assert_that(fetched.pages | "Urls" >> beam.Map(lambda p: p.final_url), equal_to([ok]), label="pages")
    assert_that(fetched.dead_letter | "Reasons" >> beam.Map(lambda d: (d.url, d.reason)),
                equal_to([(pdf, reasons.NOT_HTML), (private, reasons.ROBOTS_DISALLOWED),
                          (missing, reasons.HTTP_4XX), (missing2, reasons.HTTP_4XX)]), label="dead")
    assert_that(fetched.incomplete_feeds, equal_to([]), label="incomplete")  # no transient failure
    result = pipeline.run()
    result.wait_until_finish()
    counters = {r.key.metric.name: r.committed for r in
                result.metrics().query(MetricsFilter().with_namespace("dead_letters"))["counters"]}
    assert counters == {"fetch.not_html": 1, "fetch.robots_disallowed": 1, "fetch.http_4xx": 2}


# --------------------------------------------------------------------------- TLS

@pytest.fixture
def tls_server(tmp_path):
    """A real HTTPS server on 127.0.0.1 with a self-signed certificate for 127.0.0.1."""
    import shutil
    import ssl
    import subprocess
    import threading
    import http.server as hs
    if shutil.which("openssl") is None:
        pytest.skip("openssl command not available to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    body = article_html()

    class Handler(hs.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):  # noqa: N802
            self.send_response(200 if self.path == "/a.html" else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
    httpd = hs.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{httpd.server_address[1]}", str(cert)
    httpd.shutdown()
    httpd.server_close()


def test_https_through_the_guarded_connection(tls_server):
    base, cert = tls_server
    config = dataclasses.replace(CONFIG, respect_robots=False, max_retries=0)
    session = fetch.make_session(config)
    letter = fetch.fetch_page(session, None, PageRequest(url=base + "/a.html"), config)
    assert isinstance(letter, DeadLetter) and letter.reason == reasons.TLS_ERROR  # untrusted certificate
    session.verify = cert  # trust it: the pinned connection still verifies the name
    page = fetch.fetch_page(session, None, PageRequest(url=base + "/a.html"), config)
    assert isinstance(page, FetchedPage) and b"Council approves budget" in page.content


def test_wrong_declared_charset_gives_correct_article_text(http_server):
    """The whole way: the charset fetch resolves is what extraction decodes with."""
    from transforms import extract
    from tests.conftest import PARA
    text = "Señora Müller’s “café” in Zürich reopened; naïve façade. " * 4 + PARA * 3
    html = ("<html><head><meta charset='windows-1252'><title>Café news</title></head><body><article>"
            f"<h1>Café</h1><p>{text}</p><p>{text}</p></article></body></html>")
    lying_utf8 = http_server.add_body("/w.html", html.encode("cp1252"), content_type="text/html; charset=utf-8")
    lying_latin1 = http_server.add_body("/u.html", html.replace("windows-1252", "utf-8").encode("utf-8"),
                                        content_type="text/html; charset=iso-8859-1")
    for url in (lying_utf8, lying_latin1):
        article = extract.extract_article(_fetch(url, dataclasses.replace(CONFIG, respect_robots=False)))
        assert "Señora Müller’s “café” in Zürich" in article.body and "\ufffd" not in article.body
