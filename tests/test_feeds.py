"""Feed parsing on feeds written in each dialect (modelled on real feeds)."""
import datetime as dt

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
