"""WARC input: archives written here with warcio, read back as pages or dead letters."""
from __future__ import annotations

import datetime as dt
import gzip
import io
import os

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from schemas.records import DeadLetter, FetchedPage
from tests.conftest import article_html
from transforms import warc

WHEN = "2025-05-16T08:30:00Z"


def write_warc(path, records, gz=True):
    """records: (kind, url, body, http_status or None, content_type, extra http headers, warc date)."""
    with open(path, "wb") as handle:
        writer = WARCWriter(handle, gzip=gz)
        writer.write_record(writer.create_warcinfo_record(os.path.basename(str(path)), {"software": "test"}))
        for kind, url, body, status, ctype, extra, date in records:
            http = None
            if status is not None:
                http = StatusAndHeaders(status, [("Content-Type", ctype)] + list(extra), protocol="HTTP/1.1")
            warc_headers = {"WARC-Date": date} if date else {}
            if kind == "resource":
                warc_headers["Content-Type"] = ctype
            record = writer.create_warc_record(url, kind, payload=io.BytesIO(body), http_headers=http,
                                               warc_headers_dict=warc_headers)
            writer.write_record(record)
    return str(path)


def rec(url, body=None, status="200 OK", ctype="text/html; charset=utf-8", extra=(), date=WHEN, kind="response"):
    return (kind, url, article_html() if body is None else body, status, ctype, extra, date)


@pytest.fixture
def archive(tmp_path):
    return write_warc(tmp_path / "crawl.warc.gz", [
        rec("https://news.example/a.html"),
        rec("https://news.example/b.html", ctype="text/html; charset=ISO-8859-1",
            date="2025-05-16T09:00:00.123456Z"),
        rec("https://news.example/report.pdf", body=b"%PDF-1.4 ...", ctype="application/pdf"),
        rec("https://news.example/old", body=b"", status="301 Moved Permanently",
            extra=[("Location", "https://news.example/a.html")]),
        rec("https://news.example/gone", body=b"not here", status="404 Not Found"),
        rec("https://news.example/err", body=b"oops", status="503 Service Unavailable"),
        ("request", "https://news.example/a.html", b"GET /a.html HTTP/1.1\r\nHost: news.example\r\n\r\n",
         None, "", (), WHEN),
        rec("ftp://news.example/c.html"),
        rec("https://news.example/undated.html", date="the day before yesterday"),
        rec("https://news.example/saved.html", status=None, kind="resource"),
        rec("https://news.example/chunked.html", body=b"5\r\n<html\r\n1\r\n>\r\n0\r\n\r\n",
            extra=[("Transfer-Encoding", "chunked")]),
    ])


def test_records_become_pages_or_dead_letters(archive):
    counted = []
    results = list(warc.read_warc(archive, counter_inc_fn=counted.append))
    pages = {r.final_url: r for r in results if isinstance(r, FetchedPage)}
    dead = {r.url: r for r in results if isinstance(r, DeadLetter)}
    assert set(pages) == {"https://news.example/a.html", "https://news.example/b.html",
                          "https://news.example/saved.html", "https://news.example/chunked.html"}
    a = pages["https://news.example/a.html"]
    assert a.fetched_at == dt.datetime(2025, 5, 16, 8, 30, tzinfo=dt.timezone.utc)
    assert a.content == article_html() and a.status == 200 and a.request.origin == "warc"
    assert a.content_type == "text/html" and a.declared_charset == "utf-8"
    b = pages["https://news.example/b.html"]
    assert b.declared_charset == "iso-8859-1" and b.fetched_at == dt.datetime(2025, 5, 16, 9, 0, 0, 123456,
                                                                      tzinfo=dt.timezone.utc)
    assert pages["https://news.example/chunked.html"].content == b"<html>"  # de-chunked by warcio
    reasons = {url: (d.stage, d.reason) for url, d in dead.items()}
    assert reasons == {
        "https://news.example/report.pdf": ("fetch", "not_html"),
        "https://news.example/old": ("fetch", "archived_redirect"),
        "https://news.example/gone": ("fetch", "http_4xx"),
        "https://news.example/err": ("fetch", "http_5xx"),
        "ftp://news.example/c.html": ("sources", "bad_url"),
        "https://news.example/undated.html": ("sources", "file_error"),
    }
    assert "https://news.example/a.html" in dead["https://news.example/old"].detail
    assert archive in dead["https://news.example/gone"].detail  # which archive it came from
    assert counted.count("records_skipped_warcinfo") == 1 and counted.count("records_skipped_request") == 1
    assert counted.count("pages") == 4 and counted.count("dead_letters") == 6


def test_uncompressed_warc_and_size_cap(tmp_path):
    path = write_warc(tmp_path / "plain.warc", [rec("https://news.example/a.html"),
                                                rec("https://news.example/big.html", body=b"<html>" + b"x" * 5000)],
                      gz=False)
    results = list(warc.read_warc(path, max_bytes=2000))
    assert [type(r).__name__ for r in results] == ["FetchedPage", "DeadLetter"]
    assert results[1].reason == "too_large"


def test_corrupt_and_truncated_archives_are_dead_letters(tmp_path, archive):
    garbage = tmp_path / "garbage.warc"
    garbage.write_bytes(b"this is not a web archive\n" * 10)
    [letter] = list(warc.read_warc(str(garbage)))
    assert letter.reason == "file_error" and letter.url == str(garbage) and "not a WARC file" in letter.detail
    garbage.write_bytes(b"\x1f\x8b" + b"\x00" * 40)
    [letter] = list(warc.read_warc(str(garbage)))
    assert letter.reason == "file_error" and "gzip" in letter.detail

    data = open(archive, "rb").read()
    truncated = tmp_path / "truncated.warc.gz"
    truncated.write_bytes(data[: len(data) * 2 // 3])
    results = list(warc.read_warc(str(truncated)))
    assert any(isinstance(r, FetchedPage) for r in results)  # what came before the damage
    assert isinstance(results[-1], DeadLetter) and "truncated" in results[-1].detail

    plain = write_warc(tmp_path / "plain.warc", [rec(f"https://news.example/{i}.html") for i in range(4)], gz=False)
    data = open(plain, "rb").read()
    for cut in (len(data) // 2, len(data) - 40):
        open(plain, "wb").write(data[:cut])
        results = list(warc.read_warc(plain))
        assert isinstance(results[-1], DeadLetter) and results[-1].reason == "file_error", (cut, results[-1])
        assert all(isinstance(r, FetchedPage) for r in results[:-1]) and len(results) >= 2

    empty = tmp_path / "empty.warc.gz"
    empty.write_bytes(gzip.compress(b""))
    [letter] = list(warc.read_warc(str(empty)))
    assert letter.reason == "file_error"

    [letter] = list(warc.read_warc(str(tmp_path / "missing.warc.gz")))
    assert letter.reason == "file_error" and "cannot open" in letter.detail


def test_list_warc_files(tmp_path, archive):
    sub = tmp_path / "more"
    sub.mkdir()
    second = write_warc(sub / "b.warc", [rec("https://news.example/z.html")], gz=False)
    (tmp_path / "readme.txt").write_text("x")
    assert warc.list_warc_files(str(tmp_path)) == sorted([archive, second])
    assert warc.list_warc_files(archive) == [archive]
    assert warc.list_warc_files(str(tmp_path / "*.warc.gz")) == [archive]
    assert warc.list_warc_files(str(tmp_path / "nothing-*.warc")) == []


def test_warc_date_parsing():
    utc = dt.timezone.utc
    assert warc.parse_warc_date("2025-05-16T08:30:00Z") == dt.datetime(2025, 5, 16, 8, 30, tzinfo=utc)
    assert warc.parse_warc_date("2025-05-16T10:30:00+02:00") == dt.datetime(2025, 5, 16, 8, 30, tzinfo=utc)
    assert warc.parse_warc_date("2025-05-16T08:30:00") == dt.datetime(2025, 5, 16, 8, 30, tzinfo=utc)
    assert warc.parse_warc_date("yesterday") is None and warc.parse_warc_date(None) is None


def test_read_warc_transform(tmp_path, archive):
    second = write_warc(tmp_path / "second.warc.gz", [rec("https://other.example/x.html")])
    with TestPipeline(runner="FnApiRunner") as p:
        result = p | warc.ReadWarc([archive, second])
        assert_that(result.pages | "Urls" >> beam.Map(lambda page: page.final_url),
                    equal_to(["https://news.example/a.html", "https://news.example/b.html",
                              "https://news.example/saved.html", "https://news.example/chunked.html",
                              "https://other.example/x.html"]), label="pages")
        assert_that(result.dead_letter | "Reasons" >> beam.Map(lambda d: d.reason),
                    equal_to(["not_html", "archived_redirect", "http_4xx", "http_5xx", "bad_url",
                              "file_error"]), label="dead")
