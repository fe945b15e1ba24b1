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


# --------------------------------------------------------------------------- record ranges

WORDS = ("harbour council budget river school museum station bridge market library festival "
         "election weather tram vote hospital park theatre mayor court union").split()


def story_html(n: int, pad: int = 0) -> bytes:
    """A distinct article page; ``pad`` bytes of seeded random text in a comment make
    records big (and incompressible) enough to be cut apart at a small range size."""
    import base64
    import random
    rng = random.Random(n)
    sentences = [" ".join(rng.choice(WORDS) for _ in range(12)).capitalize() + f" number {n}-{i}."
                 for i in range(12)]
    filler = base64.b64encode(rng.randbytes(pad * 3 // 4)).decode() if pad else ""
    paragraphs = "".join(f"<p>{s}</p>" for s in sentences)
    return (f"<html><head><title>Story {n} of the town</title>"
            f'<meta property="article:published_time" content="2025-05-14T08:00:00Z"></head>'
            f"<body><!-- {filler} --><article><h1>Story {n} of the town</h1>{paragraphs}</article>"
            f"</body></html>").encode()


def record_offsets(path):
    from warcio.archiveiterator import ArchiveIterator
    with open(path, "rb") as handle:
        iterator = ArchiveIterator(handle)
        return [iterator.offset for _record in iterator]


def garble_record(path, index: int) -> int:
    """Overwrite the middle of the ``index``-th record (a corrupt gzip member); its offset."""
    offsets = record_offsets(path)
    data = bytearray(open(path, "rb").read())
    start = offsets[index]
    data[start + 30:start + 200] = b"\x55" * 170
    open(path, "wb").write(bytes(data))
    return start


def mixed_archive(path, gz=True, pad=0, pages=8):
    """warcinfo, pages, a PDF, a revisit, a request; record 5 (story-3) is garbled when gzipped."""
    records = [rec(f"https://news.example/story-{n}.html", body=story_html(n, pad)) for n in range(pages)]
    records.insert(3, rec("https://news.example/report.pdf", body=b"%PDF-1.4 ...", ctype="application/pdf"))
    records.insert(6, ("revisit", "https://news.example/story-1.html", b"", "200 OK", "text/html", (), WHEN))
    records.insert(7, ("request", "https://news.example/story-2.html", b"GET / HTTP/1.1\r\n\r\n", None, "", (), WHEN))
    path = write_warc(path, records, gz=gz)
    return path, (garble_record(path, 5) if gz else None)


def _results(pairs):
    return [(offset, type(r).__name__, getattr(r, "final_url", None) or r.url) for offset, r in pairs]


@pytest.mark.parametrize("gz", [True, False])
def test_ranges_read_exactly_the_records_in_range(tmp_path, gz):
    from core import warc as core_warc
    path, damaged = mixed_archive(tmp_path / ("mixed.warc.gz" if gz else "mixed.warc"), gz=gz, pad=3000)
    size = os.path.getsize(path)
    whole = _results(core_warc.read_range(core_warc.WarcRange(path)))
    starts = set(record_offsets(path)) if not gz else None
    urls = [url for _o, _kind, url in whole]
    assert "https://news.example/story-7.html" in urls and "https://news.example/report.pdf" in urls
    if gz:  # the garbled member is one dead letter; reading resumed after it
        assert f"{path}#offset={damaged}" in urls and "https://news.example/story-3.html" not in urls
        assert "https://news.example/story-4.html" in urls
    for range_bytes in (1, 2000, 5000, size // 2):
        ranges = core_warc.split_ranges(path, range_bytes, size)
        assert ranges == core_warc.split_ranges(path, range_bytes, size)  # depends on the bytes only
        assert ranges[0].start == 0 and ranges[-1].end is None and len(ranges) > 1
        assert all(a.end == b.start for a, b in zip(ranges, ranges[1:]))
        if starts is not None:
            assert {r.start for r in ranges} <= starts  # cut at record starts only
        parts = [_results(core_warc.read_range(r)) for r in ranges]
        assert [x for part in parts for x in part] == whole, range_bytes  # each record once, in order
        for r, part in zip(ranges, parts):
            assert all(r.start <= o < (r.end or size) for o, _k, _u in part if o is not None)


def test_one_gzip_stream_is_read_whole_in_one_range(tmp_path):
    from core import warc as core_warc
    plain, _ = mixed_archive(tmp_path / "plain.warc", gz=False, pad=2000)
    single = tmp_path / "single.warc.gz"
    single.write_bytes(gzip.compress(open(plain, "rb").read()))
    size = os.path.getsize(single)
    assert core_warc.split_ranges(str(single), 1000, size) == [core_warc.WarcRange(str(single))]
    counted = []
    got = list(core_warc.read_range(core_warc.WarcRange(str(single)), counter_inc_fn=counted.append))
    assert _results(got) == [(None, kind, url) for _o, kind, url in _results(core_warc.read_range(
        core_warc.WarcRange(plain)))]
    assert "single_gzip_stream" in counted


def test_archived_pages_cross_stages_without_their_bytes(tmp_path):
    from core import warc as core_warc
    from transforms.sources import load_content
    path, _ = mixed_archive(tmp_path / "crawl.warc.gz")
    with TestPipeline(runner="FnApiRunner") as p:
        pages = (p | warc.ReadWarc(path)).pages | beam.Map(lambda page: (page.final_url, page.content,
                                                                             page.content_offset))
        assert_that(pages | beam.Map(lambda t: (t[0], t[1], t[2] is not None)), equal_to(
            [(f"https://news.example/story-{n}.html", b"", True) for n in (0, 1, 2, 4, 5, 6, 7)]))
    deferred = [warc.defer_record(page, path, offset) for offset, page in
                core_warc.read_range(warc.WarcRange(path)) if isinstance(page, FetchedPage)]
    loaded = load_content(deferred[1])
    assert loaded.content == story_html(1) and loaded.content_path is None
    # The file rewritten in between: another record at that offset -> a dead letter, not wrong bytes.
    write_warc(path, [rec("https://news.example/other.html", body=story_html(99))] * 8)
    letter = load_content(deferred[1])
    assert isinstance(letter, DeadLetter) and letter.url == "https://news.example/story-1.html"
    assert (letter.stage, letter.reason) == ("sources", "file_error") and "changed" in letter.detail
    os.remove(path)
    assert isinstance(load_content(deferred[2]), DeadLetter)


def test_one_expansion_of_warc_patterns(tmp_path):
    from pipeline import chunks, runner
    a, _ = mixed_archive(tmp_path / "a.warc.gz", pad=1000)
    (tmp_path / "sub").mkdir()
    b = write_warc(tmp_path / "sub" / "b.warc", [rec("https://news.example/z.html")], gz=False)
    (tmp_path / "notes.txt").write_text("x")
    sizes = [(a, os.path.getsize(a)), (b, os.path.getsize(b))]
    assert warc.match_warc_files(str(tmp_path)) == sizes
    assert warc.match_warc_files(str(tmp_path / "*.warc.gz")) == sizes[:1]
    assert chunks.warc_files([str(tmp_path), a]) == sizes
    assert runner.estimate_pages(warc_paths=[str(tmp_path)]) == \
        sum(max(1, s // runner.WARC_BYTES_PER_PAGE) for _p, s in sizes)  # small files: not sampled


def test_bytes_per_page_is_sampled_over_the_archive(tmp_path):
    from core import warc as core_warc
    path = write_warc(tmp_path / "big.warc.gz", [rec(f"https://news.example/{n}.html", body=story_html(n, 4000))
                                                  for n in range(60)])
    size = os.path.getsize(path)
    sampled = core_warc.bytes_per_page(path, size, 20_000, samples=4, sample_bytes=8000, min_pages=3)
    assert 0.8 < sampled / (size / 60) < 1.25
    assert core_warc.bytes_per_page(path, size, 20_000, samples=4, sample_bytes=8000, min_pages=100) == 20_000


def test_one_job_reads_a_big_file_as_ranges_on_many_workers(tmp_path):
    """Inside one job (remote runners): file -> ranges -> reshuffle -> read; the same pages and
    dead letters as the whole file, each once."""
    from core import warc as core_warc
    path, _ = mixed_archive(tmp_path / "crawl.warc.gz", pad=3000)
    whole = [(getattr(r, "final_url", None) or r.url) for _o, r in core_warc.read_range(core_warc.WarcRange(path))]
    assert len(core_warc.split_ranges(path, 4000, os.path.getsize(path))) > 3
    with TestPipeline(runner="FnApiRunner") as p:
        read = p | warc.ReadWarc([path], range_bytes=4000)
        urls = ((read.pages | "Pages" >> beam.Map(lambda page: page.final_url),
                 read.dead_letter | "Dead" >> beam.Map(lambda d: d.url)) | beam.Flatten())
        assert_that(urls, equal_to(whole))


def test_a_member_that_does_not_inflate_at_a_range_start_is_damage_not_a_record(tmp_path):
    """warcio reads a stream whose first gzip member does not inflate as plain bytes; with
    ARC conversion a line of them can parse as an ARC record (a dead letter under a
    garbage URL, seen with randomly garbled members). A range starting there gives one
    ``PATH#offset=N`` damage letter, and reading resumes at the next record."""
    from core import warc as core_warc
    path, damaged = mixed_archive(tmp_path / "arc-like.warc.gz", gz=True, pad=3000)
    data = bytearray(open(path, "rb").read())
    line = b"garbage 1.2.3.4 20250101000000 text/html 10\n0123456789\n"
    data[damaged:damaged + len(line)] = line
    open(path, "wb").write(bytes(data))
    urls = [url for _o, _kind, url in _results(core_warc.read_range(core_warc.WarcRange(path, start=damaged)))]
    assert urls[0] == f"{path}#offset={damaged}" and "garbage" not in urls
    assert "https://news.example/story-4.html" in urls
