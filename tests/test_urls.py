from transforms.urls import article_id, domain_of, normalize_url, same_site, url_key


def test_tracking_parameters_fragment_and_case_removed():
    assert normalize_url("HTTP://WWW.Example.com:80/a/b?utm_source=rss&b=2&a=1&fbclid=x#frag") == \
        "http://www.example.com/a/b?a=1&b=2"
    assert normalize_url("https://example.com:443/story?gclid=1&id=5") == "https://example.com/story?id=5"


def test_variants_share_an_id():
    base = article_id("https://example.com/news/story.html")
    for variant in ("https://www.example.com/news/story.html?utm_medium=feed",
                    "http://example.com/news/story.html#comments",
                    "https://example.com/amp/news/story.html",
                    "https://EXAMPLE.com/news/story.html?utm_source=x&utm_campaign=y"):
        assert article_id(variant) == base, variant
    assert article_id("https://example.com/news/other.html") != base
    assert article_id("https://example.com/story?id=5") != article_id("https://example.com/story?id=6")


def test_domain_and_same_site():
    assert domain_of("https://www.bbc.co.uk/news") == "bbc.co.uk"
    assert same_site("https://www.example.com/a", "https://example.com/b")
    assert same_site("https://news.example.com/a", "https://example.com/b")
    assert not same_site("https://evil.test/a", "https://example.com/b")
    assert url_key("https://example.com/a/") == url_key("https://example.com/a")


def test_tracking_parameter_variants_are_fetched_once(http_server):
    """Feed links that differ only by tracking parameters, fragment, case of the
    host or ``www.``/AMP form reach a real server once."""
    import apache_beam as beam
    from apache_beam.testing.test_pipeline import TestPipeline
    from apache_beam.testing.util import assert_that, equal_to

    from schemas.records import PageRequest
    from tests.conftest import article_html
    from transforms import dedup, fetch

    page = http_server.add_body("/news/story.html", article_html())
    variants = [page, page + "?utm_source=rss&utm_medium=feed", page + "?fbclid=abc#comments",
                page.replace("/news/", "/news//") + "?gclid=1&ocid=x"]
    config = fetch.FetchConfig(allow_private_hosts=True, host_delay=0.0, respect_robots=False,
                               total_timeout=5.0, connect_timeout=2.0)
    with TestPipeline(runner="FnApiRunner") as p:
        previous = p | "Prev" >> beam.Create([])
        requests_ = (p | beam.Create([PageRequest(url=u, origin="feed", feed_url=f"f{i}")
                                      for i, u in enumerate(variants)])
                     | dedup.DedupRequests(previous))
        fetched = requests_.requests | fetch.FetchPages(config)
        assert_that(fetched.pages | beam.Map(lambda pg: (pg.final_url, len(pg.request.aliases))),
                    equal_to([(page, 3)]))
    assert http_server.hits == {"/news/story.html": 1, "/.well-known/tdmrep.json": 1}  # usage rights: once per host
