"""One charset policy for every source: the same UTF-8 page labelled ISO-8859-1 gives
the same body over HTTP (a real loopback server), from ``--html-dir`` and from WARC."""
from __future__ import annotations

import codecs

import pytest

from core import charset, warc as core_warc
from core.article import extract_article
from core.dates import parse_datetime
from core.pages import fetch_page
from schemas.records import Article, FetchedPage, PageRequest
from tests.test_warc import rec, write_warc
from transforms import fetch, sources

PARA = ("Der Gemeinderat von Zürich hat am Dienstag über die Zukunft des Hafens beraten. "
        "Die Bürgermeisterin sagte, die Straßenbahn werde bis 2027 verlängert; Kritiker "
        "nannten den Plan naïv und zu teuer für die Stadtkasse. ")
PAGE = (f'<!DOCTYPE html><html lang="de"><head><meta charset="iso-8859-1"><title>Zürich plant</title>'
        f'<link rel="canonical" href="https://news.example/zuerich.html"></head><body><article>'
        f'<h1>Zürich plant die Zukunft</h1>{"".join(f"<p>{PARA * 2}</p>" for _ in range(4))}'
        f'</article></body></html>').encode("utf-8")
LABEL = "text/html; charset=ISO-8859-1"
CONFIG = fetch.FetchConfig(allow_private_hosts=True, host_delay=0.0, respect_robots=False,
                           total_timeout=5.0, connect_timeout=2.0)


def _article(page) -> Article:
    assert isinstance(page, FetchedPage), page
    article = extract_article(page)
    assert isinstance(article, Article), article
    return article


def test_same_body_over_http_html_dir_and_warc(http_server, tmp_path):
    url = http_server.add_body("/zuerich.html", PAGE, content_type=LABEL)
    over_http = _article(fetch_page(fetch.make_session(CONFIG), None, PageRequest(url=url), CONFIG))

    saved = tmp_path / "zuerich.html"
    saved.write_bytes(PAGE)
    from_file = _article(sources.read_html_file(str(saved)))

    archive = write_warc(tmp_path / "crawl.warc.gz", [rec("https://news.example/zuerich.html", body=PAGE,
                                                          ctype=LABEL)])
    (page,) = [r for r in core_warc.read_warc(archive) if isinstance(r, FetchedPage)]
    assert page.declared_charset == "iso-8859-1"  # what the archive said, as over HTTP
    from_warc = _article(page)

    assert "Zürich" in over_http.body and "Ã" not in over_http.body
    assert over_http.body == from_file.body == from_warc.body
    assert over_http.title == from_file.title == from_warc.title == "Zürich plant die Zukunft"


@pytest.mark.parametrize("content, declared, expected", [
    ("Grüße aus Köln".encode("utf-8"), "iso-8859-1", "utf-8"),  # valid UTF-8 beats the label
    ("Grüße aus Köln".encode("cp1252"), "utf-8", None),  # a wrong UTF-8 label is not trusted (detected)
    ("Grüße aus Köln".encode("cp1252"), "iso-8859-1", "cp1252"),  # WHATWG: latin-1 means windows-1252
    (codecs.BOM_UTF8 + "Grüße".encode("utf-8"), "iso-8859-1", "utf-8"),  # a BOM beats everything
])
def test_decode_order(content, declared, expected):
    text, codec = charset.decode_html(content, declared)
    assert text.startswith("Grüße")
    assert codec == expected if expected else codec != "utf-8"


def test_undecodable_bytes_raise():
    with pytest.raises(ValueError):
        charset.decode_html(bytes(range(0x80, 0x100)) * 200 + b"\x81\x8d\x8f\x90\x9d" * 400, "utf-8")


def test_one_date_parser_for_feeds_warc_and_pages():
    iso = parse_datetime("2025-05-16T08:30:00Z")
    assert iso == parse_datetime("2025-05-16T10:30:00+02:00") == parse_datetime("Fri, 16 May 2025 08:30:00 GMT")
    assert parse_datetime("2025-05-16t08:30:00z") == iso  # lower-case designators (RFC 3339 allows them)
    assert core_warc.parse_warc_date("2025-05-16T08:30:00Z") == iso
    assert parse_datetime("2025-05-16 some text").day == 16
    assert parse_datetime("yesterday") is None and parse_datetime("x" * 100) is None and parse_datetime(None) is None
