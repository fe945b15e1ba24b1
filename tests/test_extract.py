"""HTML -> Article on pages modelled on real news templates."""
import datetime as dt

import pytest

from schemas import reasons
from schemas.records import Article, DeadLetter, FetchedPage, PageRequest
from transforms.extract import (clean_authors, clean_title, content_hash, decode_html,
                                extract_article, parse_datetime)

FETCHED = dt.datetime(2025, 5, 16, 12, 0, tzinfo=dt.timezone.utc)
PARAS = [
    "Delegations from Russia and Ukraine arrived in Istanbul on Thursday for the first direct talks in "
    "three years, but neither Vladimir Putin nor Donald Trump attended, dimming hopes of a breakthrough.",
    "Volodymyr Zelenskiy said he had come to Turkey ready to meet Putin in person and accused the Kremlin "
    "of sending a low-level team that had no mandate to agree a ceasefire.",
    "Kremlin spokesman Dmitry Peskov said the Russian delegation was authorised to discuss the technical "
    "details of any settlement and rejected what he called an ultimatum from Kyiv and its allies.",
    "Officials in Ankara said the talks would continue on Friday, while diplomats cautioned that the gap "
    "between the two sides remained wide on territory, security guarantees and sanctions relief.",
]
CHROME = """<header><nav><a href="/">Menu</a> <a href="/search">Search</a> <a href="/politics">Politics</a>
<a href="/business">Business</a></nav></header>
<aside class="market-data"><h3>Market Data</h3><ul><li>DJIA 42,051.06 +0.65%</li><li>Brent Crude 64.53 -2.4%</li>
<li>EUR/USD 1.1187</li></ul></aside>"""
FOOTER = """<div class="newsletter"><p>Welcome to EconoTimes - sign up for daily updates</p></div>
<footer><p>© 2025 EconoTimes. All rights reserved.</p></footer>"""


def page_html(head="", body_extra="", paras=PARAS, lang="en"):
    paragraphs = "".join(f"<p>{p}</p>" for p in paras)
    return f"""<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">
<title>Hopes Dim for Peace Talks | EconoTimes</title>{head}</head><body>{CHROME}
<main><article><h1>Hopes Dim for Peace Talks</h1><div class="byline">By Jane Doe</div>
<div class="share">Share on X Share on Facebook Copy link</div>{paragraphs}{body_extra}</article></main>
{FOOTER}</body></html>"""


def make_page(html, url="https://econotimes.example/politics/talks.html", request=None, ctype_charset=None):
    content = html.encode("utf-8") if isinstance(html, str) else html
    return FetchedPage(request=request or PageRequest(url=url), final_url=url, status=200,
                       content=content, content_type="text/html", fetched_at=FETCHED,
                       declared_charset=ctype_charset)


def test_body_is_clean_of_chrome():
    art = extract_article(make_page(page_html()))
    assert isinstance(art, Article), art
    for chrome in ("Menu", "Market Data", "DJIA", "Brent Crude", "EUR/USD", "sign up",
                   "Welcome to EconoTimes", "Share on", "All rights reserved", "Copy link"):
        assert chrome not in art.body, chrome
    assert art.body.startswith("Delegations from Russia")
    assert art.title == "Hopes Dim for Peace Talks"
    assert art.word_count > 100 and art.language == "en"


def test_metadata_precedence_and_provenance():
    head = """<link rel="canonical" href="https://econotimes.example/politics/talks.html?utm_source=x">
<meta property="article:section" content="Politics">
<meta property="article:published_time" content="2025-05-15T09:30:00+03:00">
<script type="application/ld+json">{"@context":"https://schema.org","@graph":[{"@type":"WebPage"},
{"@type":"NewsArticle","headline":"Hopes Dim for Ukraine-Russia Peace Talks","datePublished":"2025-05-15T08:00:00+03:00",
"dateModified":"2025-05-15T11:00:00Z","author":[{"@type":"Person","name":"Jane Doe"},{"@type":"Person","name":"Omar Haddad"}],
"articleSection":"World"}]}</script>"""
    art = extract_article(make_page(page_html(head=head)))
    assert art.published_at == dt.datetime(2025, 5, 15, 5, 0, tzinfo=dt.timezone.utc)
    assert art.date_source == "jsonld"
    assert art.modified_at == dt.datetime(2025, 5, 15, 11, 0, tzinfo=dt.timezone.utc)
    assert art.authors == ("Jane Doe", "Omar Haddad")
    assert art.title == "Hopes Dim for Ukraine-Russia Peace Talks"
    assert art.section == "Politics"  # the page's own meta tag wins over JSON-LD
    assert art.canonical_url == "https://econotimes.example/politics/talks.html"


def test_feed_metadata_fills_gaps_and_bad_dates_are_rejected():
    request = PageRequest(url="https://econotimes.example/politics/talks.html", origin="feed",
                          feed_url="https://econotimes.example/rss.xml",
                          entry_published=dt.datetime(2025, 5, 14, 7, 0, tzinfo=dt.timezone.utc),
                          entry_authors=("Feed Author",), entry_categories=("Politics",))
    head = '<meta property="article:published_time" content="2031-01-01T00:00:00Z">'
    art = extract_article(make_page(page_html(head=head).replace('<div class="byline">By Jane Doe</div>', ""),
                                    request=request))
    assert art.published_at == request.entry_published and art.date_source == "feed"
    assert art.feed_url == "https://econotimes.example/rss.xml"
    assert art.categories == ("Politics",)


def test_foreign_canonical_is_not_trusted():
    head = '<link rel="canonical" href="https://attacker.example/other.html">'
    art = extract_article(make_page(page_html(head=head)))
    assert art.canonical_url == "https://econotimes.example/politics/talks.html"


def test_saved_page_takes_its_canonical_url():
    head = '<link rel="canonical" href="https://econotimes.example/politics/talks.html">'
    art = extract_article(make_page(page_html(head=head), url="file:///tmp/saved/talks.html"))
    assert art.url == art.canonical_url == "https://econotimes.example/politics/talks.html"
    assert art.source_domain == "econotimes.example"


def test_not_articles_and_broken_input_are_dead_letters():
    index = page_html(paras=["<a href='/a'>Short teaser one</a>", "<a href='/b'>Teaser two</a>"])
    result = extract_article(make_page(index))
    assert isinstance(result, DeadLetter) and result.reason in (reasons.NOT_AN_ARTICLE,
                                                                reasons.EMPTY_EXTRACTION)
    assert extract_article(make_page(b"")).reason == reasons.EMPTY_EXTRACTION
    assert extract_article(make_page(b"\x00\x00\x00")).stage == reasons.STAGE_EXTRACT
    binary = bytes(range(256)) * 400
    assert isinstance(extract_article(make_page(binary)), DeadLetter)


def test_encodings():
    html = page_html(paras=[p + " Café Müller in München." for p in PARAS])
    latin = html.replace('<meta charset="utf-8">', '<meta charset="iso-8859-1">').encode("iso-8859-1")
    art = extract_article(make_page(latin))
    assert "München" in art.body
    # Header charset wrong (says utf-8, bytes are latin-1): detection recovers.
    text, _ = decode_html("Grüße aus Köln".encode("cp1252"), "utf-8")
    assert "Köln" in text or "K" in text
    assert decode_html("\ufeffhello".encode("utf-8"))[0] == "hello"


def test_helpers():
    assert clean_authors(["By Jane Doe and Omar Haddad, Staff Writer"]) == ("Jane Doe", "Omar Haddad")
    assert clean_authors(["By Staff", "jane@example.com", "Updated May 15, 2025 10:32"]) == ()
    assert clean_authors(["Theresa May"]) == ("Theresa May",)
    assert clean_title("Putin skips summit | EconoTimes", "EconoTimes") == "Putin skips summit"
    assert clean_title("Putin skips summit - World - Daily Ledger", None, "www.dailyledger.com") == \
        "Putin skips summit - World"
    # A dash part that does not name the site is the headline's own (real titles do this).
    assert clean_title("Brand in Lichterfelde – Starke Rauchentwicklung", "Berliner Morgenpost",
                       "www.morgenpost.de") == "Brand in Lichterfelde – Starke Rauchentwicklung"
    assert clean_title("Samsung soll Smartphones zerst&ouml;ren - Golem.de", "Golem.de") == \
        "Samsung soll Smartphones zerstören"
    assert clean_title("Kohberger&amp;#8217;s lawyers talk again | Sport", None) == "Kohberger’s lawyers talk again"
    assert clean_title("Short", None) == "Short"
    assert parse_datetime("2025-05-15T09:30:00+03:00") == dt.datetime(2025, 5, 15, 6, 30, tzinfo=dt.timezone.utc)
    assert parse_datetime("Thu, 15 May 2025 09:30:00 GMT").hour == 9
    assert parse_datetime("not a date") is None
    assert content_hash("Hello,   World!") == content_hash("hello world")


# --------------------------------------------------------------------------- beyond trafilatura

import json  # noqa: E402

import trafilatura  # noqa: E402

from transforms.extract import extract_body, extract_text, parse_page  # noqa: E402

WP_PAGE = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title} – Harbour Gazette</title>
<meta property="og:type" content="article"><meta property="og:description" content="{dek}">
</head><body><header><nav><a href="/">Home</a> <a href="/news/">News</a></nav></header>
<main><article class="post type-post"><header class="entry-header"><h1 class="entry-title">{title}</h1>
<div class="entry-meta">by <a href="/author/jd/">Jane Doe</a></div></header>
<div class="entry-content">
<p>{p0}</p><p>{p1}</p>
<p><strong>Related:</strong> <a href="/ferry-fares/">Ferry fares to rise in June as fuel costs climb</a></p>
<p>{p2}</p>
<div class="wp-block-group">
<p>The day's top stories from the harbour towns, free in your inbox every weekday at 6 a.m.</p>
<p><a href="/brief/">Sign up now</a></p></div>
<p>{p3}</p>
<p><em>Jane Doe covers transport and the harbour for the Gazette. Reach her at jdoe@gazette.example.</em></p>
</div></article></main><footer><p>&copy; 2025 Harbour Gazette</p></footer></body></html>"""


def wp_page(**extra):
    fields = dict(title="Hopes Dim for Peace Talks", dek="Neither leader will attend.",
                  **{f"p{i}": text for i, text in enumerate(PARAS)})
    fields.update(extra)
    return WP_PAGE.format(**fields)


def test_chrome_inside_the_article_container_is_removed():
    html = wp_page()
    art = extract_article(make_page(html))
    assert art.body == "\n".join(PARAS)
    plain = trafilatura.extract(html, include_comments=False)
    assert "Reach her at" in plain or "Related" in plain  # what plain trafilatura leaves in
    assert art.boilerplate_removed_chars > 0


def test_split_body_is_recovered_with_the_publishers_article_body():
    more = ["Officials said a second round could take place in Geneva next month if both sides agree on an agenda "
            "and on who should sit at the table for each delegation.",
            "Analysts cautioned that previous rounds had broken down over the sequencing of a ceasefire and the "
            "withdrawal of troops from occupied areas in the east and south."]
    body = PARAS + more
    ld = {"@context": "https://schema.org", "@type": "NewsArticle", "headline": "Hopes Dim for Peace Talks",
          "articleBody": " ".join(body)}
    html = f"""<html lang="en"><head><title>Hopes Dim for Peace Talks | Orbit</title>
<script type="application/ld+json">{json.dumps(ld)}</script></head><body>
<div class="story"><h1>Hopes Dim for Peace Talks</h1><div class="story-body">{''.join(f'<p>{t}</p>' for t in body[:3])}</div>
<div class="recirc-module"><h3>Don't miss</h3><ul><li><a href="/a">What to see in the sky this month</a></li>
<li><a href="/b">The best telescopes for beginners, tested</a></li></ul></div>
<div class="story-body story-body--continued">{''.join(f'<p>{t}</p>' for t in body[3:])}</div></div></body></html>"""
    tree = parse_page(html.encode())
    result = extract_body(tree, "https://orbit.example/a", titles=["Hopes Dim for Peace Talks"])
    assert result.text == "\n".join(body)
    assert not result.truncated_suspected and not result.paywall_suspected


def test_paywall_and_truncation_flags():
    free = extract_article(make_page(page_html()))
    assert not free.paywall_suspected and not free.truncated_suspected
    locked = '<script type="application/ld+json">{"@type": "NewsArticle", "isAccessibleForFree": "False", ' \
             '"wordCount": 1200}</script>'
    art = extract_article(make_page(page_html(head=locked)))
    assert art.paywall_suspected and art.truncated_suspected  # ~170 words of a 1,200-word story
    marked = page_html(body_extra='<div class="article-paywall"><p>Subscribe to continue reading.</p></div>')
    art = extract_article(make_page(marked))
    assert art.paywall_suspected and "Subscribe" not in art.body
    teaser = page_html(paras=PARAS[:3] + [PARAS[3][:120] + " …"])
    assert extract_article(make_page(teaser)).truncated_suspected


def test_pages_trafilatura_gives_up_on_are_not_empty():
    """<br>-separated text in a table layout: trafilatura's precision pass finds nothing; we
    fall back to its default pass, then trim the navigation around the text."""
    html = f"""<html><head><title>Island Times Online - Ferry adds late sailing</title></head><body><table><tr>
<td class="leftnav"><a href="/">Home</a><br><a href="/news.html">News</a><br><a href="/sports.html">Sports</a></td>
<td class="story"><font size="+2"><b>Ferry adds late sailing</b></font><br>By Gwen Tully<br>Monday, May 12, 2025<br><br>
{'<br><br>'.join(PARAS)}<br><br><a href="/print">Printer-friendly version</a> | <a href="/mail">E-mail this story</a>
</td></tr></table></body></html>"""
    assert trafilatura.extract(html, include_comments=False)
    text = extract_text(html, "https://islandtimes.example/ferry.html")
    assert text.startswith("Delegations from Russia") and text.endswith("sanctions relief.")


def test_link_lists_and_error_pages_are_not_articles():
    links = "".join(f'<li><a href="/s{i}">Story number {i} about the council budget and the harbour works</a></li>'
                    for i in range(12))
    index = f"""<html lang="en"><head><title>Politics | EconoTimes</title></head><body><main>
<h1>Politics</h1><ul>{links}</ul><p>Our politics desk covers the city and the state capitol.</p></main></body></html>"""
    result = extract_article(make_page(index))
    assert isinstance(result, DeadLetter) and result.reason == reasons.NOT_AN_ARTICLE
    error = page_html().replace("<title>Hopes Dim for Peace Talks | EconoTimes</title>",
                                "<title>Page not found | EconoTimes</title>")
    error = error.replace("<h1>Hopes Dim for Peace Talks</h1>", "<h1>Page not found</h1>")
    result = extract_article(make_page(error))
    assert isinstance(result, DeadLetter) and result.reason == reasons.NOT_AN_ARTICLE
    # A real article that mentions an error is still an article.
    ok = page_html().replace("Hopes Dim for Peace Talks", "Software error delays peace talks")
    assert isinstance(extract_article(make_page(ok)), Article)


def test_a_fast_pass_that_stops_early_gets_the_full_pass(monkeypatch):
    """When the fast pass returns much less than the page's prose paragraphs, trafilatura's full
    pass runs and wins if clearly longer (the fast pass is simulated stopping after one block)."""
    from core import body as ex
    real = ex._trafilatura_body
    passes = []

    def early_stop(tree, url, options):
        body = real(tree, url, options)
        passes.append(options is ex.FALLBACK_OPTIONS)
        if options is ex.TRAFILATURA_OPTIONS and body is not None:
            for child in list(body)[1:]:
                body.remove(child)
        return body

    monkeypatch.setattr(ex, "_trafilatura_body", early_stop)
    long_paras = PARAS + [p.replace("Kremlin", "Ankara") for p in PARAS]
    text = extract_text(page_html(paras=long_paras), "https://econotimes.example/politics/talks.html")
    assert passes == [False, True] and text.count("\n") == len(long_paras) - 1


def test_bylines_in_any_script_and_agency_or_publisher_credits():
    assert clean_authors(["牛镛", "구현모"]) == ("牛镛", "구현모")
    assert clean_authors(["jane doe"]) == ()  # cased but not capitalised: not a name
    agency = '<script type="application/ld+json">{"@type": "NewsArticle", "headline": "Hopes Dim for Peace Talks", ' \
             '"author": [{"@type": "Person", "name": "Jane Doe"}, {"@type": "Organization", "name": "AFP"}]}</script>'
    assert extract_article(make_page(page_html(head=agency))).authors == ("Jane Doe", "AFP")
    own = '<meta property="og:site_name" content="EconoTimes"><meta name="author" content="EconoTimes">'
    unsigned = page_html(head=own).replace('<div class="byline">By Jane Doe</div>', "")
    assert extract_article(make_page(unsigned)).authors == ("EconoTimes",)  # the only byline anywhere
    both = own + \
        '<script type="application/ld+json">{"@type": "NewsArticle", "author": {"@type": "Organization", ' \
        '"name": "EconoTimes"}}</script><meta name="dc.creator" content="Omar Haddad">'
    unsigned = page_html(head=both).replace('<div class="byline">By Jane Doe</div>', "")
    assert extract_article(make_page(unsigned)).authors == ("Omar Haddad",)
