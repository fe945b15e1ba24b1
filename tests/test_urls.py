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
