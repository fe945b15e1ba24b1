"""Feed parsing on feeds written in each dialect (modelled on real feeds)."""
import datetime as dt

import pytest

from schemas import reasons
from schemas.records import FeedRequest
from transforms.feeds import parse_feed

FEED_URL = "https://news.example.com/rss/world.xml"

RSS2 = b"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel><title>Example World</title><link>https://news.example.com/</link>
<item><title>Talks collapse in Istanbul</title><link>https://news.example.com/world/talks.html</link>
<pubDate>Thu, 15 May 2025 09:30:00 +0300</pubDate><dc:creator>Jane Doe</dc:creator>
<category>World</category><category>Europe</category>
<description>&lt;p&gt;Delegations left &lt;b&gt;early&lt;/b&gt;.&lt;/p&gt;</description></item>
<item><title>Relative link</title><link>/world/relative.html</link></item>
<item><title>No link at all</title><description>Orphan</description></item>
</channel></rss>"""

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Ledger</title><id>urn:x</id><updated>2025-05-15T10:00:00Z</updated>
<entry><title>Port strike spreads</title><link rel="alternate" href="https://ledger.example.org/business/strike.html"/>
<id>urn:uuid:1</id><published>2025-05-14T22:15:00-04:00</published><updated>2025-05-15T01:00:00Z</updated>
<author><name>Omar Haddad</name></author><category term="Business"/></entry></feed>"""

RSS1 = b"""<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
 xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel rdf:about="https://rdf.example.net/"><title>RDF</title><link>https://rdf.example.net/</link></channel>
<item rdf:about="https://rdf.example.net/a.html"><title>RDF item</title><link>https://rdf.example.net/a.html</link>
<dc:date>2025-05-13T08:00:00Z</dc:date></item></rdf:RDF>"""

JSON_FEED = b"""{"version": "https://jsonfeed.org/version/1.1", "title": "JSON news",
 "items": [{"id": "1", "url": "https://json.example.com/tech/chip.html", "title": "Chip maker",
            "date_published": "2025-05-12T12:00:00Z", "tags": ["Technology"],
            "authors": [{"name": "Ana Lima"}]},
           {"id": "2", "title": "no url"}]}"""

BOZO = b"""<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Broken &amp amp</title>
<item><title>Still readable</title><link>https://bozo.example.com/a.html</link></item>
<item><title>Unclosed<link>https://bozo.example.com/b.html</link></item></channel>"""

LATIN1 = ("<?xml version='1.0' encoding='iso-8859-1'?><rss version='2.0'><channel><title>Caf\u00e9</title>"
          "<item><title>M\u00fcnchen f\u00e4hrt</title><link>https://latin.example.de/a.html</link></item>"
          "</channel></rss>").encode("iso-8859-1")


def _parse(content, url=FEED_URL, **kw):
    return parse_feed(content, FeedRequest(url=url, topic=None), **kw)


def test_rss2_entries_metadata_relative_links_and_missing_link():
    pages, dead = _parse(RSS2)
    assert [p.url for p in pages] == ["https://news.example.com/world/talks.html",
                                      "https://news.example.com/world/relative.html"]
    first = pages[0]
    assert first.entry_title == "Talks collapse in Istanbul"
    assert first.entry_published == dt.datetime(2025, 5, 15, 6, 30, tzinfo=dt.timezone.utc)
    assert first.entry_authors == ("Jane Doe",)
    assert first.entry_categories == ("World", "Europe")
    assert first.entry_summary == "Delegations left early ."
    assert first.feed_url == FEED_URL and first.origin == "feed"
    assert len(dead) == 1 and dead[0].reason == reasons.ENTRY_WITHOUT_LINK
    assert dead[0].stage == reasons.STAGE_PARSE_FEED


def test_atom_rss1_and_json_feed():
    pages, dead = _parse(ATOM)
    assert pages[0].url == "https://ledger.example.org/business/strike.html"
    assert pages[0].entry_published == dt.datetime(2025, 5, 15, 2, 15, tzinfo=dt.timezone.utc)
    assert pages[0].entry_authors == ("Omar Haddad",) and pages[0].entry_categories == ("Business",)
    pages, _ = _parse(RSS1)
    assert pages[0].url == "https://rdf.example.net/a.html"
    pages, dead = _parse(JSON_FEED)
    assert pages[0].url == "https://json.example.com/tech/chip.html"
    assert pages[0].entry_categories == ("Technology",) and pages[0].entry_authors == ("Ana Lima",)
    assert [d.reason for d in dead] == [reasons.ENTRY_WITHOUT_LINK]


def test_ill_formed_feed_is_used_and_counted():
    counted = []
    pages, dead = _parse(BOZO, counter_inc_fn=counted.append)
    assert "https://bozo.example.com/a.html" in [p.url for p in pages]
    assert counted == ["bozo"]


def test_declared_encoding_is_honoured():
    pages, _ = _parse(LATIN1)
    assert pages[0].entry_title == "M\u00fcnchen f\u00e4hrt"


def test_garbage_is_dead_lettered_not_raised():
    for junk in (b"", b"\x00\x01\x02 not a feed", b"<html><body>Not a feed</body></html>",
                 b"{\"version\": \"https://jsonfeed.org/version/1\", \"items\": 3}"):
        pages, dead = _parse(junk)
        assert pages == [] and [d.reason for d in dead] == [reasons.FEED_UNPARSEABLE], junk


# --------------------------------------------------------------------------- more dialects
# Written for this project, modelled on the kinds of fixtures in feedparser's test suite.

RSS090 = b"""<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://my.netscape.com/rdf/simple/0.9/">
<channel><title>Old Wire</title><link>https://old.example.net/</link><description>d</description></channel>
<item><title>First netscape item</title><link>https://old.example.net/1999/item.html</link></item>
</rdf:RDF>"""

RSS091 = b"""<?xml version="1.0" encoding="ISO-8859-1"?>
<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN"
 "http://my.netscape.com/publish/formats/rss-0.91.dtd">
<rss version="0.91"><channel><title>Gazette</title><link>https://gazette.example.com/</link>
<description>d</description><language>en-us</language>
<item><title>Harbour reopens</title><link>https://gazette.example.com/harbour.html</link>
<description>Ships return &amp; trade resumes.</description></item></channel></rss>"""

RSS092 = b"""<?xml version="1.0"?><rss version="0.92"><channel><title>Bulletin</title>
<link>https://bulletin.example.org/</link><description>d</description>
<item><title>Only a description here</title><description>no link</description></item>
<item><link>https://bulletin.example.org/untitled.html</link><description>untitled</description></item>
</channel></rss>"""

ATOM03 = b"""<?xml version="1.0" encoding="utf-8"?>
<feed version="0.3" xmlns="http://purl.org/atom/ns#"><title>Legacy Atom</title>
<link rel="alternate" type="text/html" href="https://legacy.example.com/"/>
<modified>2025-05-10T10:00:00Z</modified>
<entry><title>Atom zero three</title><link rel="alternate" type="text/html" href="https://legacy.example.com/a03.html"/>
<id>tag:legacy.example.com,2025:1</id><issued>2025-05-10T08:00:00-02:00</issued><modified>2025-05-10T10:00:00Z</modified>
<author><name>Kim Park</name></author></entry></feed>"""

ATOM_XML_BASE = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://cdn.example.com/news/"><title>Based</title>
<id>urn:b</id><updated>2025-05-15T10:00:00Z</updated>
<entry><title>Relative to xml:base</title><link href="2025/05/based.html"/><id>urn:b:1</id>
<updated>2025-05-15T10:00:00Z</updated></entry></feed>"""


def test_older_dialects_rss090_091_092_atom03():
    pages, dead = _parse(RSS090)
    assert [p.url for p in pages] == ["https://old.example.net/1999/item.html"]
    pages, dead = _parse(RSS091)
    assert pages[0].url == "https://gazette.example.com/harbour.html"
    assert pages[0].entry_summary == "Ships return & trade resumes." and not dead
    pages, dead = _parse(RSS092)
    assert [p.url for p in pages] == ["https://bulletin.example.org/untitled.html"]
    assert [d.reason for d in dead] == [reasons.ENTRY_WITHOUT_LINK]
    assert dead[0].url == FEED_URL + "#entry-0" and "Only a description" in dead[0].detail
    pages, dead = _parse(ATOM03)
    assert pages[0].url == "https://legacy.example.com/a03.html" and pages[0].entry_authors == ("Kim Park",)
    assert pages[0].entry_published == dt.datetime(2025, 5, 10, 10, 0, tzinfo=dt.timezone.utc)


def test_relative_links_resolve_against_xml_base_and_the_final_feed_url():
    pages, _ = _parse(ATOM_XML_BASE)
    assert pages[0].url == "https://cdn.example.com/news/2025/05/based.html"
    # The feed moved (redirect): relative links resolve against where it was found.
    pages, _ = parse_feed(RSS2, FeedRequest(url=FEED_URL), base_url="https://moved.example.com/feeds/w.xml")
    assert "https://moved.example.com/world/relative.html" in [p.url for p in pages]
    assert all(p.feed_url == FEED_URL for p in pages)  # the feed is still known by its configured URL


# --------------------------------------------------------------------------- encodings

TITLE = "Grüße aus Zürich — “quoted” 東京"


def _rss(title, declared=None):
    decl = f'<?xml version="1.0" encoding="{declared}"?>' if declared else '<?xml version="1.0"?>'
    return (decl + '<rss version="2.0"><channel><title>Enc</title><link>https://enc.example.com/</link>'
            f'<item><title>{title}</title><link>https://enc.example.com/a.html</link></item>'
            '</channel></rss>')


@pytest.mark.parametrize("name,content,content_type,title", [
    ("utf-16le with BOM", b"\xff\xfe" + _rss(TITLE, "utf-16").encode("utf-16-le"), None, TITLE),
    ("utf-16be without BOM", _rss(TITLE, "utf-16").encode("utf-16-be"), None, TITLE),
    ("utf-16 undeclared, BOM only", _rss(TITLE).encode("utf-16"), None, TITLE),
    ("utf-32le without BOM", _rss(TITLE, "utf-32").encode("utf-32-le"), None, TITLE),
    ("utf-32be with BOM", b"\x00\x00\xfe\xff" + _rss(TITLE, "utf-32").encode("utf-32-be"), None, TITLE),
    ("utf-8 with BOM", b"\xef\xbb\xbf" + _rss(TITLE, "utf-8").encode("utf-8"), None, TITLE),
    ("big5 declared", _rss("臺北市政府宣布新政策", "big5").encode("big5"), None, "臺北市政府宣布新政策"),
    ("gb2312 in header overrides utf-8 declaration",
     _rss("北京市政府发布新闻", "utf-8").encode("gb2312"), "application/rss+xml; charset=gb2312", "北京市政府发布新闻"),
    ("euc-kr declared", _rss("서울 시장 발표", "euc-kr").encode("euc-kr"), None, "서울 시장 발표"),
    ("header lies (utf-8), bytes and declaration latin-1",
     _rss("Müller fährt nach Köln", "iso-8859-1").encode("latin-1"), "application/xml; charset=utf-8",
     "Müller fährt nach Köln"),
    ("text/xml without charset, utf-8 bytes", _rss(TITLE, "utf-8").encode("utf-8"), "text/xml", TITLE),
    ("windows-1252 smart quotes, declared", _rss("“Smart” café", "windows-1252").encode("cp1252"), None,
     "“Smart” café"),
])
def test_odd_encodings_come_out_as_correct_unicode(name, content, content_type, title):
    pages, dead = _parse(content, content_type=content_type)
    assert not dead, (name, dead)
    assert [p.entry_title for p in pages] == [title], name
    assert pages[0].url == "https://enc.example.com/a.html"


def test_bozo_kinds_are_counted_apart():
    counted = []
    _parse(_rss("x", "utf-8").encode(), content_type="text/html; charset=utf-8", counter_inc_fn=counted.append)
    assert counted == ["non_xml_content_type"]  # a content-type complaint, not ill-formed XML
    counted = []
    _parse(_rss("x", "utf-8").encode(), counter_inc_fn=counted.append)
    assert counted == []  # a file (no header): nothing to complain about


# --------------------------------------------------------------------------- XML safety

def _laughs(levels=9):
    decls = '<!ENTITY lol0 "lol">' + "".join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, levels + 1))
    return (f'<?xml version="1.0"?><!DOCTYPE rss [{decls}]><rss version="2.0"><channel><title>Bomb</title>'
            f'<item><title>&lol{levels};</title><link>https://bomb.example.com/a.html</link></item>'
            '</channel></rss>')


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_entity_bombs_are_defused_and_the_feed_still_read(encoding):
    import time
    import tracemalloc
    counted = []
    tracemalloc.start()
    started = time.monotonic()
    pages, dead = _parse(_laughs().encode(encoding), counter_inc_fn=counted.append)
    elapsed = time.monotonic() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert [p.url for p in pages] == ["https://bomb.example.com/a.html"]
    assert len(pages[0].entry_title or "") < 100  # not expanded
    assert "dtd_entities_removed" in counted
    assert elapsed < 1.0 and peak < 20 * 1024 * 1024, (elapsed, peak)


def test_external_entities_are_never_resolved(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    for declaration in (f'<!ENTITY xxe SYSTEM "file://{secret}">',
                        f'<!ENTITY % pe SYSTEM "file://{secret}"> %pe;'):
        feed = (f'<?xml version="1.0"?><!DOCTYPE rss [{declaration}]><rss version="2.0"><channel>'
                '<title>X</title><item><title>a &xxe; b</title><link>https://x.example.com/a.html</link>'
                '<description>&xxe;</description></item></channel></rss>').encode()
        pages, dead = _parse(feed)
        assert pages and all("TOP-SECRET" not in (p.entry_title or "") + (p.entry_summary or "")
                             for p in pages)


def test_harden_xml_leaves_ordinary_doctypes_alone():
    from transforms.feeds import harden_xml
    assert harden_xml(RSS091) == (RSS091, None, [])
    assert harden_xml(RSS2, "application/rss+xml") == (RSS2, "application/rss+xml", [])
    wide = _laughs(2).encode("utf-16")
    content, ctype, notes = harden_xml(wide, "application/xml; charset=utf-16")
    assert notes == ["dtd_entities_removed"] and ctype == "application/xml; charset=utf-8"
    assert b"<!ENTITY" not in content and content.decode("utf-8").startswith('<?xml version="1.0"?><rss')
    declared = _laughs(2).replace('<?xml version="1.0"?>', '<?xml version="1.0" encoding="UTF-16"?>')
    content, _, _ = harden_xml(declared.encode("utf-16"))
    assert content.decode("utf-8").startswith('<?xml version="1.0" encoding="utf-8"?><rss')


# --------------------------------------------------------------------------- JSON Feed

JSON_FEED_10 = b"""{"version": "https://jsonfeed.org/version/1", "title": "One oh",
 "home_page_url": "https://j10.example.com/", "feed_url": "https://j10.example.com/feed.json",
 "items": [{"id": "a", "url": "/2025/05/relative.html", "title": "Relative &amp; <b>bold</b>",
            "author": {"name": "Sol Reyes"}, "date_modified": "2025-05-09T07:00:00+02:00",
            "content_text": "Plain text body"},
           {"id": "b", "external_url": "https://elsewhere.example.org/story.html", "title": "Linked out"},
           "not an object",
           {"id": "c", "url": "javascript:alert(1)", "title": "Bad scheme"}]}"""


def test_json_feed_versions_relative_urls_and_bad_items():
    pages, dead = _parse(JSON_FEED_10, url="https://j10.example.com/feed.json")
    assert [p.url for p in pages] == ["https://j10.example.com/2025/05/relative.html",
                                      "https://elsewhere.example.org/story.html"]
    first = pages[0]
    assert first.entry_title == "Relative & bold" and first.entry_authors == ("Sol Reyes",)
    assert first.entry_published == dt.datetime(2025, 5, 9, 5, 0, tzinfo=dt.timezone.utc)
    assert first.entry_summary == "Plain text body"
    assert [(d.url.rsplit("#", 1)[1], d.reason) for d in dead] == [
        ("item-2", reasons.ENTRY_WITHOUT_LINK), ("item-3", reasons.ENTRY_WITHOUT_LINK)]


def test_json_feed_in_utf16_and_by_content_type():
    counted = []
    pages, _ = _parse(JSON_FEED.decode().encode("utf-16"), counter_inc_fn=counted.append)
    assert pages[0].url == "https://json.example.com/tech/chip.html" and counted == ["json_feed"]
    spaced = b"\n\n   " + JSON_FEED
    pages, _ = _parse(spaced, content_type="application/feed+json")
    assert pages[0].url == "https://json.example.com/tech/chip.html"
    for junk in (b'{"title": "just JSON"}', b'{"version": "https://jsonfeed.org/version/1.1", "items": [',
                 b"[" * 100000):
        pages, dead = _parse(junk, content_type="application/json")
        assert pages == [] and [d.reason for d in dead] == [reasons.FEED_UNPARSEABLE], junk[:40]


def test_many_doctypes_do_not_make_the_defusing_quadratic():
    import time
    started = time.monotonic()
    pages, dead = _parse(b"<!DOCTYPE x [" * 700_000)  # 9 MB, every position a candidate
    assert pages == [] and [d.reason for d in dead] == [reasons.FEED_UNPARSEABLE]
    assert time.monotonic() - started < 5.0


def test_an_html_page_given_as_a_feed_says_so():
    page = (b"<!doctype html><html><head><title>Council rejects levy</title></head>"
            b"<body><article><p>The council rejected the levy.</p></article></body></html>")
    pages, dead = parse_feed(page, FeedRequest(url="https://example.com/news/levy.html"),
                             content_type="text/html; charset=utf-8")
    assert pages == [] and [d.reason for d in dead] == [reasons.FEED_UNPARSEABLE]
    assert "HTML page, not a feed" in dead[0].detail and "--url" in dead[0].detail
