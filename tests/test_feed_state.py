"""Conditional GET: the pure decisions, the state files, and ReadFeeds against a
real loopback server that honours (or ignores) validators."""
import dataclasses
import datetime as dt
import os
import pathlib

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from schemas import reasons
from schemas.records import FeedRequest
from transforms import feed_state, feeds, fetch

T0 = dt.datetime(2025, 5, 15, 12, 0, tzinfo=dt.timezone.utc)
T1 = T0 + dt.timedelta(hours=1)
URL = "https://news.example.com/rss.xml"


# --------------------------------------------------------------------------- pure

def test_first_read_is_new_and_remembers_validators_and_hash():
    check = feed_state.assess(None, URL, 200, {"ETag": '"v1"', "Last-Modified": "Thu, 15 May 2025 11:00:00 GMT"},
                              b"<rss/>", T0)
    assert check.changed and check.outcome == feed_state.NEW
    assert check.state == feed_state.FeedState(
        url=URL, etag='"v1"', last_modified="Thu, 15 May 2025 11:00:00 GMT",
        body_sha256=feed_state.body_hash(b"<rss/>"), checked_at=T0, changed_at=T0, complete=True)
    assert feed_state.conditional_headers(check.state) == {
        "If-None-Match": '"v1"', "If-Modified-Since": "Thu, 15 May 2025 11:00:00 GMT"}
    assert feed_state.conditional_headers(None) == {}


def test_304_keeps_the_state_and_takes_fresh_validators():
    first = feed_state.assess(None, URL, 200, {"ETag": '"v1"'}, b"<rss/>", T0).state
    check = feed_state.assess(first, URL, 304, {"etag": '"v2"'}, b"", T1)
    assert not check.changed and check.outcome == feed_state.NOT_MODIFIED
    assert check.state.etag == '"v2"' and check.state.body_sha256 == first.body_sha256
    assert check.state.checked_at == T1 and check.state.changed_at == T0


def test_same_body_under_new_or_missing_validators_is_unchanged():
    first = feed_state.assess(None, URL, 200, {"ETag": '"v1"'}, b"<rss>same</rss>", T0).state
    check = feed_state.assess(first, URL, 200, {"ETag": '"v9"'}, b"<rss>same</rss>", T1)
    assert not check.changed and check.outcome == feed_state.SAME_BODY and check.state.etag == '"v9"'
    check = feed_state.assess(first, URL, 200, {}, b"<rss>same</rss>", T1)
    assert not check.changed and check.state.etag is None


def test_changed_body_under_the_same_validator_is_changed():
    """Servers that keep sending the old ETag for a new feed: the hash notices."""
    first = feed_state.assess(None, URL, 200, {"ETag": '"stuck"'}, b"<rss>one</rss>", T0).state
    check = feed_state.assess(first, URL, 200, {"ETag": '"stuck"'}, b"<rss>two</rss>", T1)
    assert check.changed and check.outcome == feed_state.CHANGED and check.state.changed_at == T1


def test_incomplete_state_never_short_cuts():
    first = feed_state.assess(None, URL, 200, {"ETag": '"v1"'}, b"<rss/>", T0).state
    incomplete = dataclasses.replace(first, complete=False)
    assert feed_state.conditional_headers(incomplete) == {}
    check = feed_state.assess(incomplete, URL, 200, {"ETag": '"v1"'}, b"<rss/>", T1)
    assert check.changed and check.state.complete


def test_merge_states_is_deterministic_and_keeps_incompleteness():
    a = feed_state.FeedState(url=URL, body_sha256="a", checked_at=T0)
    b = feed_state.FeedState(url=URL, body_sha256="b", checked_at=T1, complete=False)
    c = feed_state.FeedState(url=URL, body_sha256="c", checked_at=T1)
    for order in ([a, b, c], [c, b, a], [b, a, c]):
        merged = feed_state.merge_states(order)
        assert merged.body_sha256 == "c" and merged.complete is False


# --------------------------------------------------------------------------- storage

def test_state_files_roundtrip_atomically(tmp_path):
    out = str(tmp_path)
    assert feed_state.load_state(out, URL) is None
    state = feed_state.FeedState(url=URL, etag='"e"', last_modified=None, body_sha256="ab",
                                 checked_at=T0, changed_at=T0)
    path = feed_state.save_state(out, state)
    assert path.startswith(os.path.join(out, "_state", "feeds")) and path.endswith(".json")
    assert feed_state.load_state(out, URL) == state
    newer = dataclasses.replace(state, etag='"f"', checked_at=T1, complete=False)
    assert feed_state.save_state(out, newer) == path  # overwritten in place
    assert feed_state.load_state(out, URL) == newer
    assert [p.name for p in pathlib.Path(path).parent.iterdir()] == [pathlib.Path(path).name]  # no temp left
    assert feed_state.load_state(out, URL + "?other") is None


def test_damaged_or_foreign_state_costs_only_a_full_read(tmp_path):
    out = str(tmp_path)
    path = pathlib.Path(feed_state.state_path(out, URL))
    path.parent.mkdir(parents=True)
    for junk in ("{not json", '{"version": 99, "url": "x"}', '[]',
                 feed_state.to_json(feed_state.FeedState(url="https://other.example.com/feed"))):
        path.write_text(junk)
        assert feed_state.load_state(out, URL) is None, junk


# --------------------------------------------------------------------------- against a server

RSS = """<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>C</title>
<link>{base}/</link>{items}</channel></rss>"""


def _feed_body(base, n):
    items = "".join(f"<item><title>Story {i}</title><link>{base}/s{i}.html</link></item>" for i in range(n))
    return RSS.format(base=base, items=items).encode()


class _FeedRoute:
    """A feed endpoint: honours If-None-Match when ``conditional``; the body can change."""

    def __init__(self, body: bytes, etag: str, conditional: bool = True):
        self.body, self.etag, self.conditional = body, etag, conditional
        self.statuses = []

    def __call__(self, handler):
        if self.conditional and handler.headers.get("If-None-Match") == self.etag:
            self.statuses.append(304)
            handler.send_response(304)
            handler.send_header("ETag", self.etag)
            handler.end_headers()
            return
        self.statuses.append(200)
        handler.send_response(200)
        handler.send_header("Content-Type", "application/rss+xml; charset=utf-8")
        handler.send_header("ETag", self.etag)
        handler.send_header("Content-Length", str(len(self.body)))
        handler.end_headers()
        handler.wfile.write(self.body)


CONFIG = fetch.FetchConfig(allow_private_hosts=True, host_delay=0.0, backoff_base=0.05,
                           max_retry_wait=2.0, total_timeout=3.0, connect_timeout=1.0)


def _read(out, feeds_, expected, incomplete=()):
    """One batch run of the feed stage (entry URLs must equal ``expected``), then the state commit."""
    pipeline = TestPipeline(runner="FnApiRunner")
    read = (pipeline | "Feeds" >> beam.Create([FeedRequest(url=u) for u in feeds_])
            | feeds.ReadFeeds(CONFIG, state_output=out))
    assert_that(read.entries | "Urls" >> beam.Map(lambda p: p.url), equal_to(expected))
    incomplete_pc = pipeline | "Incomplete" >> beam.Create(list(incomplete))
    read.feed_state | feed_state.CommitFeedStates(out, incomplete=incomplete_pc, after=read.entries)
    pipeline.run().wait_until_finish()


def test_conditional_get_304_and_body_hash_fallback(http_server, tmp_path):
    out = str(tmp_path / "out")
    honouring = _FeedRoute(_feed_body(http_server.base, 3), '"a1"')
    ignoring = _FeedRoute(_feed_body(http_server.base + "/x", 2), '"b1"', conditional=False)
    feed_a = http_server.add("/a.xml", honouring)
    feed_b = http_server.add("/b.xml", ignoring)

    urls_a = [f"{http_server.base}/s{i}.html" for i in range(3)]
    _read(out, [feed_a, feed_b], urls_a + [f"{http_server.base}/x/s{i}.html" for i in range(2)])
    assert feed_state.load_state(out, feed_a).etag == '"a1"'

    # Second run: a 304 for the feed that honours validators, same body for the other.
    _read(out, [feed_a, feed_b], [])
    assert honouring.statuses == [200, 304] and ignoring.statuses == [200, 200]
    sent = [h for _, p, h in http_server.log if p == "/a.xml"]
    assert "If-None-Match" not in sent[0] and sent[1]["If-None-Match"] == '"a1"'

    # The server changes the feed but keeps its ETag: 304 is what it says, and
    # for the one ignoring validators the new body is noticed.
    ignoring.body = _feed_body(http_server.base + "/x", 4)
    _read(out, [feed_a, feed_b], [f"{http_server.base}/x/s{i}.html" for i in range(4)])

    # A feed whose entries failed transiently is stored incomplete and read in full next time.
    _read(out, [feed_a], [], incomplete=[feed_a])
    assert feed_state.load_state(out, feed_a).complete is False
    _read(out, [feed_a], urls_a)
    assert honouring.statuses[-1] == 200 and feed_state.load_state(out, feed_a).complete is True


def test_unparseable_feed_is_not_remembered(http_server, tmp_path):
    out = str(tmp_path / "out")
    url = http_server.add("/junk.xml", _FeedRoute(b"<html><body>no feed</body></html>", '"j"'))
    _read(out, [url], [])
    assert feed_state.load_state(out, url) is None


def test_fetch_feed_treats_304_as_success_only_when_asked(http_server):
    url = http_server.add("/nm.xml", lambda h: (h.send_response(304), h.end_headers()))
    session = fetch.make_session(CONFIG)
    response = feeds.fetch_feed(FeedRequest(url=url), session, CONFIG, headers={"If-None-Match": '"x"'})
    assert response.status == 304
    with pytest.raises(fetch.FetchError) as error:
        feeds.fetch_feed(FeedRequest(url=url), session, CONFIG)
    assert error.value.reason == reasons.HTTP_4XX
