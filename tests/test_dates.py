"""No invented publication dates: a year or a month is never a publication day.

Pages modelled on real undated articles (a blog post whose only date is the copyright
footer, a story with a year in its text, a date only in the URL)."""
import datetime as dt

from schemas.records import Article, FetchedPage, PageRequest
from transforms.extract import NO_DATE, extract_article

FETCHED = dt.datetime(2026, 3, 9, 15, 30, tzinfo=dt.timezone.utc)
PARAS = [
    "The county's new recycling centre opened to residents on a cold morning, with a queue of cars stretching "
    "back to the main road before the gates were unlocked at eight o'clock.",
    "Staff said the centre can take garden waste, old furniture, electrical goods and building rubble, which "
    "residents previously had to drive forty minutes to the nearest site to get rid of.",
    "The project was first proposed in 2019 and delayed twice, once by the pandemic and once by a dispute over "
    "the access road, before councillors approved the final plans in the spring of 2024.",
    "Opening hours will be extended in the summer months, and a booking system for vans and trailers is "
    "expected to start later in the year, the council said.",
]


def undated_page(footer: str = "<p>&copy; 2025 Millbrook Gazette. All rights reserved.</p>", extra_head: str = "") -> str:
    body = "".join(f"<p>{p}</p>" for p in PARAS)
    return f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Recycling centre opens</title>
{extra_head}</head><body><header><a href="/">Millbrook Gazette</a><nav><a href="/news">News</a></nav></header>
<main><article><h1>Recycling centre opens to long queues</h1>{body}</article></main>
<footer>{footer}</footer></body></html>"""


def extract(html: str, url: str = "https://millbrook.example/news/recycling-centre-opens"):
    page = FetchedPage(request=PageRequest(url=url), final_url=url, status=200, content=html.encode("utf-8"),
                       content_type="text/html", fetched_at=FETCHED)
    article = extract_article(page)
    assert isinstance(article, Article), article
    return article


def test_a_copyright_footer_is_not_a_publication_date():
    article = extract(undated_page())
    assert article.published_at is None and article.date_source == NO_DATE
    assert article.partition_date == FETCHED.date()  # filed under the fetch day


def test_years_and_months_in_the_text_or_markup_are_not_dates():
    for extra in ('<meta name="date" content="2025">', '<meta property="article:published_time" content="2025-05">'):
        article = extract(undated_page(extra_head=extra))
        assert article.published_at is None and article.date_source == NO_DATE, extra
    article = extract(undated_page(footer='<p class="date">Published May 2025</p>'))
    assert article.published_at is None and article.date_source == NO_DATE


def test_a_date_only_in_the_url_is_used():
    article = extract(undated_page(), url="https://millbrook.example/news/2026/03/07/recycling-centre-opens")
    assert article.published_at == dt.datetime(2026, 3, 7, tzinfo=dt.timezone.utc)
    assert article.date_source == "url" and article.partition_date == dt.date(2026, 3, 7)


def test_a_full_day_in_the_page_is_still_found():
    article = extract(undated_page(footer='<p class="date">Published: 2026-03-06</p>'))
    assert article.published_at is not None and article.published_at.date() == dt.date(2026, 3, 6)
    assert article.date_source == "htmldate"
    dated = extract(undated_page(extra_head='<meta property="article:published_time" content="2026-03-05T08:00:00Z">'))
    assert dated.date_source == "meta" and dated.published_at.date() == dt.date(2026, 3, 5)


def test_a_month_after_the_year_is_not_the_day():
    """htmldate completes "2025-05" with today's day: on the 5th that day must not be found
    in the month itself (this test used to fail on the 5th of every month)."""
    from core.metadata import _day_on_page
    assert not _day_on_page("2025-05-05", b'<meta property="article:published_time" content="2025-05">', None)
    assert _day_on_page("2025-05-05", b'<time datetime="2025-05-05">', None)
    assert _day_on_page("2025-05-05", b"<p>5 May 2025</p>", None)
    assert _day_on_page("2025-05-12", b"<p>12.05.2025</p>", None)
