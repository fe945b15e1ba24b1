"""Sources files (TOML, OPML, plain text), host lists, saved pages."""
from __future__ import annotations

import datetime as dt
import gzip
import os

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from schemas.records import DeadLetter, FeedRequest, FetchedPage, PageRequest
from pipeline import sources_file
from pipeline.sources_file import SourcesError, parse_sources
from transforms import sources

TOML = '''
# newsbeam sources
[hosts]
allow = ["Example.com", "*.news.example.org"]
deny = ["ads.example.com"]

[[feed]]
url = "https://example.com/rss/politics.xml"
topic = "Politics"
tags = ["eu", "wire", "eu"]
poll_interval = "15m"

[[feed]]
url = "https://www.news.example.org/feed"
poll_interval = 600

[[page]]
url = "https://example.com/news/2025/05/15/story.html"
topic = "world"
'''

OPML = '''<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head><title>My subscriptions</title></head>
  <body>
    <outline text="Sport" title="Sport">
      <outline type="rss" text="Ledger sport" xmlUrl="https://ledger.example/sport.rss" htmlUrl="https://ledger.example/"/>
      <outline text="Cycling fans">
        <outline type="rss" text="Velo" xmlUrl="https://velo.example/feed" category="/races/tour"/>
      </outline>
    </outline>
    <outline text="Unsorted" xmlUrl="https://misc.example/atom.xml"/>
    <outline text="Again, in another folder" xmlUrl="https://ledger.example/sport.rss"/>
  </body>
</opml>
'''


def test_toml_full_format():
    parsed = parse_sources(TOML, "sources.toml")
    assert parsed.feeds == (
        FeedRequest(url="https://example.com/rss/politics.xml", topic="politics", trusted=True,
                    tags=("eu", "wire"), poll_interval=900.0),
        FeedRequest(url="https://www.news.example.org/feed", topic=None, trusted=True, tags=(),
                    poll_interval=600.0),
    )
    assert parsed.pages == (PageRequest(url="https://example.com/news/2025/05/15/story.html",
                                        origin="sources", topic_hint="world"),)
    assert parsed.allow_hosts == ("example.com", "news.example.org")
    assert parsed.deny_hosts == ("ads.example.com",)
    assert parsed.has_host_rules


def test_toml_backwards_compatible_minimal_file():
    parsed = parse_sources('[[feed]]\nurl = "https://x.example/rss"\n', "s.toml")
    assert parsed.feeds == (FeedRequest(url="https://x.example/rss"),) and not parsed.has_host_rules


@pytest.mark.parametrize("text,line,fragment", [
    ('[[feed]]\nurl = "https://x/rss\n', 2, "invalid TOML"),
    ('[[feed]]\nurl = "https://a.example/rss"\n\n[[feed]]\nurl = "https://b.example/rss"\ntopc = "x"\n', 6,
     "unknown key 'topc'"),
    ('[[feed]]\nurl = "https://a.example/rss"\ntopic = "poltics"\n', 3, "unknown topic 'poltics'"),
    ('[[feed]]\nurl = "https://a.example/rss"\ntags = "a"\n[[page]]\nurl = "ftp://a.example/x"\n', 5,
     "unsupported URL scheme"),
    ('[feed]\nurl = "https://a.example/rss"\n', 1, "write [[feed]]"),
    ('[[feed]]\ntopic = "world"\n', 1, "'url' is missing"),
    ('[[feed]]\nurl = "https://a.example/rss"\npoll_interval = "5 weeks"\n', 3, "poll_interval"),
    ('[[feed]]\nurl = "https://a.example/rss"\npoll_interval = -5\n', 3, "poll_interval"),
    ('[[feed]]\nurl = "https://a.example/rss"\ntags = [1, 2]\n', 3, "'tags' must be"),
    ('\n\n[hosts]\nallow = ["https://example.com/"]\n', 4, "write 'example.com'"),
    ('[hosts]\nallow = ["a.example"]\nblock = ["b.example"]\n', 3, "unknown key 'block'"),
    ('feeds = ["https://a.example/rss"]\n', 1, "unknown table or key 'feeds'"),
    ('[[feed]]\nurl = "https://a.example/rss"\ntopic = "world"\n[[feed]]\nurl = "https://a.example/rss"\n'
     'topic = "sports"\n', 4, "listed again"),
])
def test_toml_mistakes_name_file_and_line(text, line, fragment):
    with pytest.raises(SourcesError) as info:
        parse_sources(text, "my/sources.toml")
    assert info.value.path == "my/sources.toml" and info.value.line == line, str(info.value)
    assert str(info.value).startswith(f"my/sources.toml line {line}: ") and fragment in str(info.value)


def test_poll_interval_units():
    assert [sources_file.parse_interval(v) for v in (30, "30", "30s", "15m", "2h", "1d", "1.5h")] == \
        [30.0, 30.0, 30.0, 900.0, 7200.0, 86400.0, 5400.0]
    assert [sources_file.parse_interval(v) for v in (0, "0s", "8d", "soon", True, None, [1])] == [None] * 7


def test_opml_feeds_folders_become_tags_and_topics():
    parsed = parse_sources(OPML, "subs.opml")
    assert parsed.feeds == (
        FeedRequest(url="https://ledger.example/sport.rss", topic="sports", tags=("Sport",)),
        FeedRequest(url="https://velo.example/feed", topic="sports",
                    tags=("Sport", "Cycling fans", "races", "tour")),
        FeedRequest(url="https://misc.example/atom.xml", topic=None, tags=()),
    )
    assert parsed.pages == ()


@pytest.mark.parametrize("text,line,fragment", [
    (OPML.replace("</body>", ""), 14, "invalid OPML"),
    (OPML.replace("https://misc.example/atom.xml", "javascript:alert(1)"), 11, "unsupported URL scheme"),
    ('<?xml version="1.0"?>\n<rss version="2.0"><channel/></rss>', 2, "not an OPML file"),
    ('<?xml version="1.0"?>\n<!DOCTYPE opml [<!ENTITY x "y">]>\n<opml><body/></opml>', 2, "DOCTYPE"),
    ('<opml version="2.0"><body><outline text="empty folder"/></body></opml>', None, "no feeds found"),
])
def test_opml_mistakes(text, line, fragment):
    with pytest.raises(SourcesError) as info:
        parse_sources(text, "subs.opml")
    assert info.value.line == line and fragment in str(info.value), str(info.value)


def test_plain_text_list():
    text = ("# my feeds\n"
            "https://a.example/rss   # a comment after the URL\n"
            "\n"
            "  feed https://b.example/atom.xml\n"
            "page https://c.example/story.html#section-2\n"
            "https://a.example/rss\n"
            "deny ads.a.example\n")
    parsed = parse_sources(text, "urls.txt")
    assert [f.url for f in parsed.feeds] == ["https://a.example/rss", "https://b.example/atom.xml"]
    assert parsed.pages == (PageRequest(url="https://c.example/story.html#section-2", origin="sources"),)
    assert parsed.deny_hosts == ("ads.a.example",) and parsed.allow_hosts == ()


@pytest.mark.parametrize("text,line,fragment", [
    ("https://a.example/rss\nhttps://a.example/x extra words\n", 2, "one URL per line"),
    ("# ok\nwww.example.com/rss\n", 2, "unsupported URL scheme"),
    ("allow http://x.example/\n", 1, "not a host name"),
    ("page file:///etc/passwd\n", 1, "unsupported URL scheme"),
])
def test_plain_text_mistakes(text, line, fragment):
    with pytest.raises(SourcesError) as info:
        parse_sources(text, "urls.txt")
    assert info.value.line == line and fragment in str(info.value), str(info.value)


@pytest.mark.parametrize("name,text,expected", [
    ("s.toml", "https://a.example/rss\n", "toml"),  # the extension wins
    ("s.opml", "<opml/>", "opml"),
    ("s.xml", "<?xml version='1.0'?><opml/>", "opml"),
    ("s.txt", "https://a.example/rss\n", "text"),
    ("sources", "# feeds\n[[feed]]\nurl = 'https://a.example/rss'\n", "toml"),
    ("sources", "\ufeff  <?xml version='1.0'?><opml/>", "opml"),
    ("sources", "# feeds\nhttps://a.example/rss\npage https://b.example/x\n", "text"),
])
def test_format_detection(name, text, expected):
    assert sources_file.detect_format(name, text) == expected


def test_load_sources_file_relative_feed_path_and_errors(tmp_path):
    (tmp_path / "feeds").mkdir()
    (tmp_path / "feeds" / "local.xml").write_text("<rss/>")
    path = tmp_path / "sources"
    path.write_text('[[feed]]\nurl = "feeds/local.xml"\n')
    parsed = sources_file.load_sources_file(str(path))
    assert parsed.feeds[0].url == (tmp_path / "feeds" / "local.xml").resolve().as_uri()
    path.write_text('[[feed]]\nurl = "feeds/missing.xml"\n')
    with pytest.raises(SourcesError, match=r"line 2: .*neither a URL nor an existing file"):
        sources_file.load_sources_file(str(path))
    path.write_bytes(b"https://a.example/rss\n\xff\xfe broken\n")
    with pytest.raises(SourcesError, match="line 2: not UTF-8"):
        sources_file.load_sources_file(str(path))
    with pytest.raises(SourcesError, match="cannot read sources file"):
        sources_file.load_sources_file(str(tmp_path / "nope.toml"))


def test_sources_add_merges_host_lists():
    a = sources_file.Sources(allow_hosts=("a.example",), deny_hosts=("x.example",))
    b = sources_file.Sources(feeds=(FeedRequest(url="https://a.example/rss"),), allow_hosts=("a.example", "b.example"))
    merged = a + b
    assert merged.allow_hosts == ("a.example", "b.example") and merged.deny_hosts == ("x.example",)
    assert len(merged.feeds) == 1


@pytest.mark.parametrize("url,allow,deny,refused", [
    ("https://example.com/a", (), (), None),
    ("https://news.example.com/a", ("example.com",), (), None),
    ("https://badexample.com/a", ("example.com",), (), "not on the allow list"),
    ("https://ads.example.com/a", ("example.com",), ("ads.example.com",), "deny list"),
    ("https://x.ads.example.com/a", (), ("ads.example.com",), "deny list"),
    ("HTTPS://EXAMPLE.COM./a", ("example.com",), (), None),
    ("file:///tmp/feed.xml", ("example.com",), (), None),
    ("http://127.0.0.1:8080/a", ("127.0.0.1",), (), None),
])
def test_host_refusal(url, allow, deny, refused):
    result = sources.host_refusal(url, allow, deny)
    assert (result is None) if refused is None else (refused in result)


def test_filter_hosts_transform_dead_letters_refused_urls():
    t0 = dt.datetime(2025, 5, 15, tzinfo=dt.timezone.utc)
    page = FetchedPage(request=PageRequest(url="https://ok.example/a", origin="warc"),
                       final_url="https://ok.example/a", status=200, content=b"<html/>",
                       content_type="text/html", fetched_at=t0)
    elements = [PageRequest(url="https://ok.example/1"), PageRequest(url="https://ads.example/2"),
                FeedRequest(url="https://other.example/rss"), page]
    with TestPipeline(runner="FnApiRunner") as p:
        result = (p | beam.Create(elements)
                  | sources.FilterHosts(["ok.example", "ads.example"], ["ads.example"]))
        assert_that(result.allowed | "Urls" >> beam.Map(lambda e: getattr(e, "final_url", None) or e.url),
                    equal_to(["https://ok.example/1", "https://ok.example/a"]), label="allowed")
        assert_that(result.dead_letter | "Reasons" >> beam.Map(lambda d: (d.url, d.stage, d.reason)),
                    equal_to([("https://ads.example/2", "sources", "host_not_allowed"),
                              ("https://other.example/rss", "sources", "host_not_allowed")]), label="dead")


def test_saved_pages_listing_and_reading(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "one.html").write_bytes(b"<html><body>one</body></html>")
    (tmp_path / "two.htm.gz").write_bytes(gzip.compress(b"<html>two</html>"))
    (tmp_path / "notes.txt").write_text("not a page")
    (tmp_path / "broken.html.gz").write_bytes(b"not gzip at all")
    files = sources.list_html_files(str(tmp_path))
    assert [os.path.basename(f) for f in files] == ["one.html", "broken.html.gz", "two.htm.gz"]
    mtime = dt.datetime(2025, 5, 18, 6, 0, tzinfo=dt.timezone.utc).timestamp()
    os.utime(tmp_path / "a" / "one.html", (mtime, mtime))
    page = sources.read_html_file(files[0])
    assert isinstance(page, FetchedPage) and page.fetched_at.timestamp() == mtime
    assert page.request.origin == "html_dir" and page.final_url.startswith("file://")
    assert sources.read_html_file(files[2]).content == b"<html>two</html>"
    broken = sources.read_html_file(files[1])
    assert isinstance(broken, DeadLetter) and broken.reason == "file_error"


def test_saved_pages_cross_stages_without_their_bytes(tmp_path):
    """ReadHtmlDir hands on pages without bytes (only the path crosses a stage boundary:
    on the PortableRunner the bytes in between lost whole data messages, issue 22);
    extraction reads them back, identical to a direct read; a file broken since it
    was listed becomes the dead letter reading it gives."""
    (tmp_path / "one.html").write_bytes(b"<html><body>one</body></html>")
    (tmp_path / "two.htm.gz").write_bytes(gzip.compress(b"<html>two</html>"))
    (tmp_path / "broken.html.gz").write_bytes(b"not gzip at all")
    with TestPipeline() as p:
        read = p | sources.ReadHtmlDir(str(tmp_path))
        assert_that(read.pages | beam.Map(lambda page: (os.path.basename(page.content_path), page.content)),
                    equal_to([("one.html", b""), ("two.htm.gz", b"")]), label="NoBytes")
        assert_that(read.dead_letter | beam.Map(lambda d: d.reason), equal_to(["file_error"]), label="Dead")
    path = str(tmp_path / "two.htm.gz")
    deferred = sources.defer_content(sources.read_html_file(path), path)
    assert deferred.content == b"" and deferred.content_path == path
    assert sources.load_content(deferred) == sources.read_html_file(path)
    fetched = FetchedPage(request=PageRequest(url="https://example.com/a"), final_url="https://example.com/a",
                          status=200, content=b"<html/>", content_type="text/html",
                          fetched_at=dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc))
    assert sources.load_content(fetched) is fetched  # fetched pages pass through
    (tmp_path / "two.htm.gz").write_bytes(b"broken since")
    gone = sources.load_content(deferred)
    assert isinstance(gone, DeadLetter) and gone.reason == "file_error" and gone.url == deferred.request.url
