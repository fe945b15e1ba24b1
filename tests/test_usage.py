"""Usage rights (transforms/usage.py): each signal on its own, then through the real
fetcher against a loopback site (robots.txt groups for AI agents, TDMRep headers and
tdmrep.json fetched once per origin, size cap and SSRF guard on that fetch)."""
from __future__ import annotations

import dataclasses
import datetime as dt
import urllib.robotparser

import lxml.html
import pytest

from schemas import reasons
from schemas.arrow import ARTICLE_SCHEMA, article_to_row, to_table
from schemas.records import Article, DeadLetter, FetchedPage, PageRequest, Usage
from tests.conftest import article_html
from transforms import fetch, usage

AT = dt.datetime(2025, 5, 14, 10, 0, tzinfo=dt.timezone.utc)
ROBOTS = """User-agent: GPTBot
Disallow: /

User-agent: CCBot
User-agent: Bytespider
Disallow: /news/

User-agent: *
Disallow: /private/
"""


def _parser(text: str = ROBOTS) -> urllib.robotparser.RobotFileParser:
    parser = urllib.robotparser.RobotFileParser()
    parser.parse(text.splitlines())
    return parser


def test_the_ai_agent_list_is_the_documented_one():
    assert usage.AI_AGENTS == ("GPTBot", "CCBot", "Google-Extended", "ClaudeBot", "anthropic-ai",
                               "PerplexityBot", "Applebot-Extended", "Bytespider", "meta-externalagent")


def test_ai_agents_disallowed_per_url_follow_their_groups():
    can = _parser().can_fetch
    assert usage.ai_agents_disallowed(can, "https://x.example/news/a") == ("GPTBot", "CCBot", "Bytespider")
    assert usage.ai_agents_disallowed(can, "https://x.example/about") == ("GPTBot",)
    # An agent without its own group follows "*" (RFC 9309); one with its own group does not.
    assert set(usage.ai_agents_disallowed(can, "https://x.example/private/p")) == \
        set(usage.AI_AGENTS) - {"CCBot", "Bytespider"}


TDMREP = b"""[
  {"location": "/reserved/*", "tdm-reservation": 1, "tdm-policy": "https://pub.example/policy.json"},
  {"location": "/open/*", "tdm-reservation": 0},
  {"location": "/exact.html$", "tdm-reservation": 1},
  {"location": "no-slash", "tdm-reservation": 1},
  {"location": "/bad-value/*", "tdm-reservation": "yes"},
  {"location": "/*", "tdm-reservation": 1, "tdm-policy": "/rel-policy.json"}
]"""


def test_tdmrep_rules_match_in_order_with_wildcards_and_anchors():
    rules = usage.parse_tdmrep(TDMREP, "https://pub.example/")
    assert len(rules.rules) == 4  # the rule without a leading "/" and the one with "yes" are skipped
    first = rules.match("https://pub.example/reserved/2025/story.html")
    assert (first.reserved, first.policy, first.source) == (True, "https://pub.example/policy.json", "tdmrep_json")
    assert rules.match("https://pub.example/open/story.html").reserved is False
    assert rules.match("https://pub.example/exact.html").reserved is True
    fallback = rules.match("https://pub.example/exact.html.bak")  # "$" anchors: falls to "/*"
    assert fallback.reserved is True and fallback.policy == "https://pub.example/rel-policy.json"
    assert usage.parse_tdmrep(b'[{"location": "/a/*", "tdm-reservation": 1}]').match(
        "https://p.example/b/c").reserved is None  # no rule matches: says nothing


@pytest.mark.parametrize("content", [b'[{"location": "/", ', b'{"location": "/"}', b"\xff\xfe\x00",
                                     b"[" * 100_000 + b"]" * 100_000])
def test_malformed_tdmrep_is_unreadable_not_unreserved(content):
    parsed = usage.parse_tdmrep(content)
    assert parsed.readable is False and parsed.match("https://p.example/x").reserved is None
    tdm = usage.from_fetch({}, url="https://p.example/x", robots_allowed=True, ai_disallowed=(), tdmrep=parsed)
    assert tdm.tdm_reservation is None  # unknown, not "not reserved"


def test_tdm_priority_meta_over_header_over_file():
    """TDMRep "processing priority": headers supersede the file, HTML meta supersedes both."""
    rules = usage.parse_tdmrep(b'[{"location": "/*", "tdm-reservation": 0}]')
    by_header = usage.from_fetch({"TDM-Reservation": "1", "tdm-policy": "https://p.example/pol"},
                                 url="https://p.example/a", robots_allowed=True, ai_disallowed=(), tdmrep=rules)
    assert (by_header.tdm_reservation, by_header.tdm_source, by_header.tdm_policy) == \
        (True, "http_header", "https://p.example/pol")
    by_file = usage.from_fetch({}, url="https://p.example/a", robots_allowed=True, ai_disallowed=(), tdmrep=rules)
    assert (by_file.tdm_reservation, by_file.tdm_source) == (False, "tdmrep_json")
    meta = lxml.html.fromstring(b'<html><head><meta name="tdm-reservation" content="1"></head><body></body></html>')
    over_file = usage.from_page(meta, "https://p.example/a", [], None, by_file)
    assert (over_file.tdm_reservation, over_file.tdm_source) == (True, "meta")
    open_meta = lxml.html.fromstring(b'<html><head><meta name="tdm-reservation" content="0"></head></html>')
    over_header = usage.from_page(open_meta, "https://p.example/a", [], None, by_header)
    assert (over_header.tdm_reservation, over_header.tdm_policy, over_header.tdm_source) == (False, None, "meta")
    nothing = usage.from_fetch({}, url="https://p.example/a", robots_allowed=True, ai_disallowed=(),
                               tdmrep=usage.ABSENT)
    assert (nothing.tdm_reservation, nothing.tdm_source) == (False, None)  # consulted: not reserved
    from_meta = usage.from_page(meta, "https://p.example/a", [], None, nothing)
    assert (from_meta.tdm_reservation, from_meta.tdm_source) == (True, "meta")
    saved = usage.from_page(lxml.html.fromstring(b"<p>x</p>"), "https://p.example/a", [], None, None)
    assert saved.tdm_reservation is None and saved.robots_allowed is None and saved.ai_agents_disallowed is None


def test_robots_directives_from_header_and_meta():
    assert usage.directives_from_header("noai, noimageai") == ("noai", "noimageai")
    assert usage.directives_from_header("googlebot: noarchive, nosnippet") == ()
    assert usage.directives_from_header("newsbeam: noarchive", "newsbeam/0.1 (+x)") == ("noarchive",)
    assert usage.directives_from_header("max-snippet: 20, NoAI") == ("noai",)
    tree = lxml.html.fromstring(b'<html><head><meta name="ROBOTS" content="index, NOARCHIVE,nosnippet">'
                                b'<meta name="googlebot" content="noai"></head><body></body></html>')
    fetched = Usage(robots_allowed=True, ai_agents_disallowed=(), robots_directives=("noai",))
    found = usage.from_page(tree, "https://p.example/a", [], None, fetched)
    assert found.robots_directives == ("noai", "noarchive", "nosnippet")


def test_licence_from_link_and_jsonld():
    tree = lxml.html.fromstring(b'<html><head><link rel="License" href="/licence.html"></head><body>'
                                b'<a rel="license noopener" href="https://cc.example/by">cc</a></body></html>')
    article = {"@type": "NewsArticle", "copyrightHolder": {"@type": "Organization", "name": "Loop News"},
               "copyrightYear": "2024", "isAccessibleForFree": "False",
               "license": "https://ignored.example/"}
    page = {"@type": "WebPage", "copyrightYear": 1999, "isAccessibleForFree": True}
    found = usage.from_page(tree, "https://p.example/a/b", [page, article], article, None)
    assert found.license == "https://p.example/licence.html"  # the link first, resolved
    assert (found.copyright_holder, found.copyright_year, found.accessible_for_free) == ("Loop News", 2024, False)
    bare = usage.from_page(lxml.html.fromstring(b"<p>x</p>"), "https://p.example/a", [page],
                           None, None)
    assert bare.license is None and bare.copyright_year == 1999 and bare.accessible_for_free is True
    as_object = usage.from_page(lxml.html.fromstring(b"<p>x</p>"), "https://p.example/a",
                                [{"license": {"@type": "CreativeWork", "url": "https://cc.example/by-nd"}}],
                                None, None)
    assert as_object.license == "https://cc.example/by-nd"


def _article(body: str = "Some text here.", reserved=True) -> Article:
    return Article(article_id="a" * 40, url="https://p.example/a", canonical_url="https://p.example/a",
                   source_domain="p.example", feed_url=None, title="T", authors=(), published_at=AT,
                   modified_at=None, date_source="meta", fetched_at=AT, language="en", topic="other",
                   topic_source=None, section=None, body=body, word_count=3, content_hash="c" * 40,
                   usage=Usage(tdm_reservation=reserved, tdm_source="meta" if reserved else None))


def test_tdm_modes_omit_body_and_skip():
    reserved, free = _article(), _article(reserved=False)
    omitted = usage.omit_body(reserved)
    assert omitted.body == "" and omitted.word_count == 3 and omitted.content_hash == "c" * 40
    assert usage.omit_body(free) is free
    letter = usage.skip_if_reserved(reserved, "https://p.example/requested")
    assert isinstance(letter, DeadLetter) and letter.reason == reasons.TDM_RESERVED == "tdm_reserved"
    assert letter.url == "https://p.example/requested" and letter.usage == reserved.usage
    assert reasons.TDM_RESERVED in reasons.REASONS
    assert usage.skip_if_reserved(free, "x") is free


def test_usage_row_round_trips_and_counts_by_kind():
    full = dataclasses.replace(_article(), usage=Usage(
        robots_allowed=True, ai_agents_disallowed=("GPTBot",), tdm_reservation=True,
        robots_directives=("noai", "nosnippet"), license="https://cc.example/by", accessible_for_free=False))
    rows = to_table([article_to_row(full), article_to_row(dataclasses.replace(full, usage=None))],
                    ARTICLE_SCHEMA).to_pylist()
    assert rows[0]["usage"]["ai_agents_disallowed"] == ["GPTBot"] and rows[1]["usage"] is None
    assert usage.kinds_of(rows[0]["usage"]) == ["tdm_reserved", "ai_agents_disallowed", "noai", "nosnippet",
                                                "licensed", "not_free"]
    counts = {"articles.usage_by_source": {"p.example\ttdm_reserved": 2, "q.example\tnoai": 1},
              "articles.usage": {"tdm_reserved": 2, "noai": 1}}
    figures = usage.figures(counts)
    assert figures["kinds"]["tdm_reserved"] == 2 and figures["kinds"]["licensed"] == 0
    assert [r["source"] for r in figures["by_source"]] == ["p.example", "q.example"]
    assert figures["by_source"][0]["tdm_reserved"] == 2 and figures["by_source"][1]["noai"] == 1


# --------------------------------------------------------------------------- through the fetcher

CONFIG = fetch.FetchConfig(allow_private_hosts=True, host_delay=0.0, max_retries=0, total_timeout=5.0)


def _fetch_all(config, server, paths):
    session = fetch.make_session(config)
    robots = fetch.RobotsCache(session, config)
    return [fetch.fetch_page(session, robots, PageRequest(url=server.url(p)), config) for p in paths]


def test_fetcher_records_robots_and_tdm_and_fetches_tdmrep_once(http_server):
    http_server.add_body("/robots.txt", ROBOTS.encode(), content_type="text/plain")
    http_server.add_body("/.well-known/tdmrep.json", TDMREP, content_type="application/json")
    http_server.add_body("/news/a.html", article_html(), headers={"X-Robots-Tag": "noai"})
    http_server.add_body("/reserved/b.html", article_html())
    http_server.add_body("/open/c.html", article_html(), headers={"tdm-reservation": "1"})
    a, b, c, private = _fetch_all(CONFIG, http_server, ["/news/a.html", "/reserved/b.html", "/open/c.html",
                                                        "/private/d.html"])
    assert all(isinstance(p, FetchedPage) for p in (a, b, c))
    assert (a.usage.robots_allowed, a.usage.ai_agents_disallowed) == (True, ("GPTBot", "CCBot", "Bytespider"))
    assert a.usage.robots_directives == ("noai",) and a.usage.tdm_source == "tdmrep_json"
    assert (b.usage.tdm_reservation, b.usage.tdm_policy) == (True, "https://pub.example/policy.json")
    assert (c.usage.tdm_reservation, c.usage.tdm_source) == (True, "http_header")  # header beats the file
    assert isinstance(private, DeadLetter) and private.reason == reasons.ROBOTS_DISALLOWED
    assert private.usage.robots_allowed is False and len(private.usage.ai_agents_disallowed) == 7
    assert http_server.hits["/.well-known/tdmrep.json"] == 1 and http_server.hits["/robots.txt"] == 1


def test_oversized_tdmrep_is_cut_and_unknown(http_server):
    http_server.add_body("/.well-known/tdmrep.json",
                         b"[" + b'{"location": "/*", "tdm-reservation": 1},' * 20_000 + b"{}]",
                         content_type="application/json")
    http_server.add_body("/a.html", article_html())
    (page,) = _fetch_all(CONFIG, http_server, ["/a.html"])
    assert isinstance(page, FetchedPage) and page.usage.tdm_reservation is None
    assert page.usage.robots_allowed is True  # no robots.txt (404): everything allowed


def test_tdmrep_fetch_passes_the_ssrf_guard(http_server):
    """A tdmrep.json redirecting to a private address is refused (never connected to)."""
    def to_metadata(handler):
        handler.send_response(302)
        handler.send_header("Location", "http://10.255.255.1/tdmrep.json")
        handler.send_header("Content-Length", "0")
        handler.end_headers()
    http_server.add("/.well-known/tdmrep.json", to_metadata)
    http_server.add_body("/a.html", article_html())
    guarded = dataclasses.replace(CONFIG, allow_private_hosts=False, allow_networks=("127.0.0.0/8",),
                                  connect_timeout=1.0, total_timeout=2.0)
    (page,) = _fetch_all(guarded, http_server, ["/a.html"])
    assert isinstance(page, FetchedPage) and page.usage.tdm_reservation is None


def test_warc_records_keep_their_archived_headers_and_leave_robots_unknown(tmp_path):
    from tests.test_warc import rec, write_warc
    from transforms import extract, warc
    path = write_warc(tmp_path / "crawl.warc.gz", [
        rec("https://news.example/a.html", extra=[("TDM-Reservation", "1"), ("X-Robots-Tag", "noai")]),
        rec("https://news.example/b.html")])
    reserved, plain = [p for p in warc.read_warc(path) if isinstance(p, FetchedPage)]
    assert (reserved.usage.tdm_reservation, reserved.usage.tdm_source) == (True, "http_header")
    assert reserved.usage.robots_directives == ("noai",)
    assert (plain.usage.tdm_reservation, plain.usage.robots_allowed, plain.usage.ai_agents_disallowed) == \
        (None, None, None)  # tdmrep.json and robots.txt were not consulted: unknown, not allowed
    article = extract.extract_article(reserved, min_words=20)
    assert isinstance(article, Article), article
    assert article.usage.tdm_reservation is True
