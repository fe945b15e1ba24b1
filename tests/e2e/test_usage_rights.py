"""Usage rights end to end: the CLI against loopback sites serving each signal.

Site ``main``: robots.txt groups for AI agents, a tdmrep.json with path patterns,
TDMRep headers and meta tags, X-Robots-Tag and robots meta directives, licence
links and JSON-LD; site ``broken`` serves a malformed tdmrep.json, ``huge`` one
over the size cap; two saved pages (``--html-dir``) carry meta tags only. Batch
runs with ``--tdm record`` (every column checked, read back with pyarrow and
DuckDB) and ``--tdm skip`` (dead letters ``tdm_reserved``, accounting exact);
a streaming run with ``--tdm omit-body``.
"""
from __future__ import annotations

import glob
import json
import os
import pathlib
import re
import subprocess
import sys

import pyarrow.parquet as pq
import pytest

from tests.conftest import ROOT, MisbehavingServer
from tests.e2e.test_accounting import SUMMARY
from tests.e2e.test_demo_pipeline import run_cli
from tests.e2e.test_streaming import story

ROBOTS = b"""User-agent: GPTBot
Disallow: /

User-agent: CCBot
Disallow: /news/

User-agent: Google-Extended
Disallow: /opinion/

User-agent: *
Disallow: /private/
"""
TDMREP = b"""[{"location": "/reserved/*", "tdm-reservation": 1, "tdm-policy": "https://pub.example/policy.json"},
 {"location": "/open/*", "tdm-reservation": 0}]"""
CC_BY = "https://creativecommons.org/licenses/by/4.0/"
# One sentence with names per page (a sentence shared by 3+ pages would be learnt as boilerplate).
PEOPLE = ("Anna Schmidt", "Luis Moreno", "Priya Raman", "John Okafor", "Marta Kowalski", "Kenji Sato",
          "Sofia Rossi", "Omar Haddad", "Ingrid Berg", "Paul Dubois", "Mei Chen", "Tom Walsh", "Ana Lima")
CITIES = ("Berlin", "Madrid", "Chennai", "Lagos", "Warsaw", "Osaka", "Rome", "Beirut", "Oslo", "Lyon",
          "Shanghai", "Dublin", "Porto")


def page(title: str, seed: int, head: str = "", tail: str = "") -> bytes:
    text = story(seed, 120)
    paragraphs = "".join(f"<p>{text[i:i + 400]}</p>" for i in range(0, len(text), 400))
    return (f"<!doctype html><html lang='en'><head><title>{title}</title>"
            "<meta property='article:published_time' content='2025-05-14T10:00:00+00:00'>"
            f"<meta property='article:section' content='World'>{head}</head><body><article><h1>{title}</h1>"
            f"<p>Mayor {PEOPLE[seed]} met officials in {CITIES[seed]} on Monday.</p>{paragraphs}</article>"
            f"{tail}</body></html>").encode("utf-8")


def jsonld(data: dict) -> str:
    return f"<script type='application/ld+json'>{json.dumps(data)}</script>"


# path -> (page, response headers, expected usage); None = the column's value is null
MAIN = {
    "/news/plain.html": (page("Plain story", 1), {}, dict(
        robots_allowed=True, ai_agents_disallowed=["GPTBot", "CCBot"], tdm_reservation=False, tdm_source=None,
        robots_directives=[], license=None)),
    "/news/header.html": (page("Header story", 2), {"tdm-reservation": "1", "tdm-policy": "https://pub.example/tdm",
                                                    "X-Robots-Tag": "noai, noimageai"}, dict(
        tdm_reservation=True, tdm_source="http_header", tdm_policy="https://pub.example/tdm",
        robots_directives=["noai", "noimageai"])),
    "/news/meta.html": (page("Meta story", 3, "<meta name='tdm-reservation' content='1'>"
                                              "<meta name='robots' content='noarchive, nosnippet'>"), {}, dict(
        tdm_reservation=True, tdm_source="meta", tdm_policy=None, robots_directives=["noarchive", "nosnippet"])),
    "/reserved/file.html": (page("File story", 4), {}, dict(
        ai_agents_disallowed=["GPTBot"], tdm_reservation=True, tdm_source="tdmrep_json",
        tdm_policy="https://pub.example/policy.json")),
    "/open/licensed.html": (page("Licensed story", 5, f"<link rel='license' href='{CC_BY}'>" + jsonld({
                                                          "@context": "https://schema.org", "@type": "NewsArticle",
                                                          "headline": "Licensed story",
                                                          "copyrightHolder": {"@type": "Organization",
                                                                              "name": "Loopback News"},
                                                          "copyrightYear": 2025, "isAccessibleForFree": False})),
                            {}, dict(tdm_reservation=False, tdm_source="tdmrep_json", license=CC_BY,
                                     copyright_holder="Loopback News", copyright_year=2025,
                                     accessible_for_free=False)),
    # TDMRep processing priority: the page's meta supersedes the file's reservation.
    "/reserved/meta-open.html": (page("Meta opens", 12, "<meta name='tdm-reservation' content='0'>"), {}, dict(
        tdm_reservation=False, tdm_source="meta", tdm_policy=None)),
    "/opinion/column.html": (page("Opinion column", 6, jsonld({"@type": "WebPage",
                                                               "license": "https://pub.example/licence"})), {},
                             dict(ai_agents_disallowed=["GPTBot", "Google-Extended"],
                                  license="https://pub.example/licence", copyright_holder=None)),
}
PRIVATE = "/private/secret.html"
RESERVED = {"/news/header.html", "/news/meta.html", "/reserved/file.html"}


@pytest.fixture(scope="module")
def sites(tmp_path_factory):
    main, broken, huge = (MisbehavingServer().start() for _ in range(3))
    main.add_body("/robots.txt", ROBOTS, "text/plain")
    main.add_body("/.well-known/tdmrep.json", TDMREP, "application/json")
    for path, (html, headers, _expected) in MAIN.items():
        main.add_body(path, html, headers=headers)
    main.add_body(PRIVATE, page("Private", 7))
    broken.add_body("/.well-known/tdmrep.json", b'[{"location": "/*", "tdm-reservation": 1', "application/json")
    broken.add_body("/a.html", page("Broken file", 8, "<link rel='license' href='/terms'>"))
    huge.add_body("/.well-known/tdmrep.json", b"[" + b'{"location": "/*", "tdm-reservation": 1},' * 20_000 + b"{}]",
                  "application/json")
    huge.add_body("/a.html", page("Huge file", 9), headers={"X-Robots-Tag": "nosnippet"})
    saved = tmp_path_factory.mktemp("saved")
    (saved / "reserved.html").write_bytes(page("Saved reserved", 10, "<link rel='canonical' href="
                                               "'https://saved.example/news/reserved'>"
                                               "<meta name='tdm-reservation' content='1'>"
                                               "<meta name='robots' content='noai'>"))
    (saved / "bare.html").write_bytes(page("Saved bare", 11, "<link rel='canonical' href="
                                           "'https://saved.example/news/bare'>"))
    urls = [main.url(p) for p in list(MAIN) + [PRIVATE]] + [broken.url("/a.html"), huge.url("/a.html")]
    yield {"main": main, "broken": broken, "huge": huge, "saved": str(saved), "urls": urls}
    for server in (main, broken, huge):
        server.stop()


def _run(sites, out: pathlib.Path, tdm: str):
    args = ["--output", str(out), "--allow-private-hosts", "--host-delay", "0", "--tdm", tdm,
            "--html-dir", sites["saved"]]
    for url in sites["urls"]:
        args += ["--url", url]
    result = run_cli(*args)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def _rows(out: pathlib.Path, folder: str = ""):
    files = [f for f in sorted((out / folder).rglob("*.parquet"))
             if folder or not any(p.startswith("_") for p in f.relative_to(out).parts)]
    return [row for f in files for row in pq.read_table(f).to_pylist()]


@pytest.fixture(scope="module")
def recorded(sites, tmp_path_factory):
    out = tmp_path_factory.mktemp("usage") / "record"
    return out, _run(sites, out, "record")


def test_record_mode_fills_every_signal(sites, recorded):
    out, result = recorded
    by_url = {row["url"]: row for row in _rows(out)}
    main = sites["main"]
    for path, (_html, _headers, expected) in MAIN.items():
        usage = by_url[main.url(path)]["usage"]
        assert usage["robots_allowed"] is True, path
        assert {k: usage[k] for k in expected} == expected, (path, usage)
    assert by_url[main.url("/news/header.html")]["body"]  # record: bodies kept
    broken = by_url[sites["broken"].url("/a.html")]["usage"]
    assert broken["tdm_reservation"] is None and broken["ai_agents_disallowed"] == []  # malformed: unknown
    assert broken["license"] == sites["broken"].url("/terms")
    huge = by_url[sites["huge"].url("/a.html")]["usage"]
    assert huge["tdm_reservation"] is None and huge["robots_directives"] == ["nosnippet"]  # over the cap: unknown
    saved = by_url["https://saved.example/news/reserved"]["usage"]
    assert (saved["robots_allowed"], saved["ai_agents_disallowed"]) == (None, None)  # not consulted: null
    assert (saved["tdm_reservation"], saved["tdm_source"], saved["robots_directives"]) == (True, "meta", ["noai"])
    bare = by_url["https://saved.example/news/bare"]["usage"]
    assert bare["tdm_reservation"] is None and bare["robots_allowed"] is None
    # The robots-disallowed page is a dead letter that says what robots.txt said.
    (dead,) = [r for r in _rows(out, "_dead_letters") if r["url"] == main.url(PRIVATE)]
    assert dead["reason"] == "robots_disallowed" and dead["usage"]["robots_allowed"] is False
    assert "ClaudeBot" in dead["usage"]["ai_agents_disallowed"] and "CCBot" not in dead["usage"]["ai_agents_disallowed"]
    # Summary, report and inspect count the reservation kinds per source.
    assert "Usage rights (articles): tdm_reserved 4" in result.stdout, result.stdout
    report = json.loads(pathlib.Path(re.search(r"figures: (\S+\.json)\)", result.stdout).group(1)).read_text())
    kinds = report["figures"]["usage"]["kinds"]
    assert (kinds["tdm_reserved"], kinds["noai"], kinds["licensed"], kinds["not_free"]) == (4, 2, 3, 1)
    inspect = subprocess.run([sys.executable, "-m", "pipeline.inspect", str(out), "--usage", "--format", "json"],
                             cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert inspect.returncode == 0, inspect.stderr
    per_source = {r["source"]: r for r in map(json.loads, inspect.stdout.splitlines())}
    assert per_source["127.0.0.1"]["tdm_reserved"] == 3 and per_source["saved.example"]["tdm_reserved"] == 1
    assert per_source["127.0.0.1"]["ai_agents_disallowed"] == 7 and per_source["saved.example"]["noai"] == 1


def test_skip_mode_dead_letters_reserved_pages_and_accounts_for_them(sites, tmp_path):
    out = tmp_path / "skip"
    result = _run(sites, out, "skip")
    main = sites["main"]
    articles = {row["url"] for row in _rows(out)}
    skipped = {r["url"]: r for r in _rows(out, "_dead_letters") if r["reason"] == "tdm_reserved"}
    # The saved page's dead letter carries its input URL (the file), like its other outcomes.
    assert len(skipped) == 4 and {main.url(p) for p in RESERVED} <= set(skipped), skipped
    assert all(r["stage"] == "extract" and r["usage"]["tdm_reservation"] for r in skipped.values())
    assert not articles & {main.url(p) for p in RESERVED}
    assert main.url("/open/licensed.html") in articles and main.url("/news/plain.html") in articles
    inputs, n_articles, duplicates, dead, already, unaccounted = map(int, SUMMARY.search(result.stdout).groups())
    assert unaccounted == 0 and inputs == n_articles + duplicates + dead + already
    assert n_articles == len(articles) and dead == len(_rows(out, "_dead_letters"))


def test_streaming_omit_body_keeps_metadata_and_entities(sites, tmp_path):
    main = sites["main"]
    paths = ["/news/plain.html", "/news/header.html", "/reserved/file.html"]
    items = "".join(f"<item><title>{p}</title><link>{main.url(p)}</link><guid>{main.url(p)}</guid></item>"
                    for p in paths)
    main.add_body("/feed.xml", (f"<?xml version='1.0'?><rss version='2.0'><channel><title>F</title>"
                                f"<link>{main.base}</link>{items}</channel></rss>").encode(),
                  "application/rss+xml")
    out = str(tmp_path / "stream")
    cmd = [sys.executable, "-m", "pipeline", "--streaming", "--feed", main.url("/feed.xml"), "--output", out,
           "--poll-interval", "1", "--window", "2", "--max-runtime", "8", "--allow-private-hosts",
           "--host-delay", "0", "--tdm", "omit-body", "--quiet"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=180,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = []
    for path in sorted(glob.glob(os.path.join(out, "topic=*", "**", "*.parquet"), recursive=True)):
        rows.extend(pq.read_table(path).to_pylist())
    by_url = {r["url"]: r for r in rows}
    assert set(by_url) == {main.url(p) for p in paths}, proc.stderr[-2000:]
    for path in paths:
        row = by_url[main.url(path)]
        reserved = path != "/news/plain.html"
        assert row["usage"]["tdm_reservation"] is reserved and row["usage"]["robots_allowed"] is True
        assert (row["body"] == "") is reserved and row["word_count"] > 60 and row["title"]
        assert {e["text"] for e in row["entities"]} & set(PEOPLE + CITIES), row  # entities from the full body
