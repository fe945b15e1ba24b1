"""The big run: 1,000 feed entries across 20 loopback hosts, 30 % of requests failing.

Twenty real HTTP servers on 127.0.0.1 (each its own host:port, so its own
politeness key) each serve a robots.txt, an RSS feed of 50 entries and the
pages. Every request has a 30 % chance (deterministic by seed, per host, path
and attempt) of failing transiently: 503 with Retry-After 0, 429 with
Retry-After 1, 500, a connection dropped before the response, or a body cut
short. robots.txt and feeds fail at most twice in a row (so they always get
through within the retries); pages may fail every attempt and end as dead
letters. The feeds also hold syndicated copies, tracking-parameter variants,
canonical duplicates, a robots-disallowed page, a 404, a PDF, a page too short
to be an article and an entry without a link.

Runs the CLI as a subprocess and checks that nothing is lost: every input URL
is exactly one of article, duplicate or dead letter; that every host saw its
requests spaced by at least the host delay (robots.txt, feed, pages and
retries alike); and that hosts proceeded in parallel.
"""
from __future__ import annotations

import hashlib
import json
import os
import pathlib
import random
import statistics
import subprocess
import sys
import time
from typing import Dict, List, Set, Tuple

import duckdb
import pyarrow.dataset as ds
import pytest

from tests.conftest import MisbehavingServer

ROOT = pathlib.Path(__file__).resolve().parents[2]
SEED = 20250515
HOSTS = 20
ENTRIES_PER_FEED = 50
FAILURE_RATE = 0.30
HOST_DELAY = 0.15
SPACING_SLACK = 0.04  # server-side arrival times jitter a little on a busy 2-core machine

WORDS = ("council budget harbour strike minister election court ruling storm river bridge school "
         "hospital nurses farmers drought market shares bank rates inflation energy grid wind solar "
         "railway station airport union talks treaty border village mayor police festival museum "
         "library orchestra league final coach striker vaccine study researchers satellite launch "
         "software chip factory exports tariff port ship cargo wildfire flood rescue volunteers "
         "teachers students exam prices housing rent tenants landlord reform pension budget deficit "
         "senate vote protest rally campaign poll survey climate summit delegates agreement").split()
ADJ = ("new major local national rural coastal northern southern eastern western early late "
       "record quiet tense surprise disputed joint regional urgent").split()
VERBS = ("approved rejected delayed announced criticised welcomed reviewed questioned funded "
         "expanded cancelled defended praised examined doubled halved").split()
PLACES = ("Lisbon Porto Braga Faro Coimbra Leiria Evora Aveiro Viseu Setubal Tomar Sintra Cascais "
          "Guarda Beja Lagos Tavira Obidos Nazare Peniche").split()


def _sentence(rng: random.Random) -> str:
    return (f"The {rng.choice(ADJ)} {rng.choice(WORDS)} {rng.choice(VERBS)} a {rng.choice(ADJ)} "
            f"{rng.choice(WORDS)} plan for the {rng.choice(WORDS)} near {rng.choice(PLACES)} after "
            f"{rng.choice(WORDS)} and {rng.choice(WORDS)} officials met on {rng.choice(WORDS)} issues.")


def _page(rng: random.Random, title: str, canonical: str = "") -> bytes:
    """About 100 words: enough to be an article, small enough to keep NER quick."""
    paragraphs = ["<p>" + " ".join(_sentence(rng) for _ in range(n)) + "</p>" for n in (3, 2)]
    link = f'<link rel="canonical" href="{canonical}">' if canonical else ""
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{title}</title>{link}"
            "<meta property='article:published_time' content='2025-05-14T10:00:00+00:00'>"
            f"</head><body><article><h1>{title}</h1>{''.join(paragraphs)}</article></body></html>"
            ).encode("utf-8")


def _unit(*parts) -> float:
    digest = hashlib.sha256("|".join(str(p) for p in (SEED,) + parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2 ** 64


class FlakyHost:
    """One host: its routes, wrapped so that requests fail transiently by seed."""

    def __init__(self, index: int):
        self.index = index
        self.server = MisbehavingServer()
        self.failures: Dict[str, int] = {}

    def add(self, path: str, body: bytes, content_type: str = "text/html; charset=utf-8",
            max_failures_in_a_row: int = 99) -> str:
        server = self.server

        def route(handler):
            attempt = server.hits[path]
            if attempt <= max_failures_in_a_row and _unit(self.index, path, attempt) < FAILURE_RATE:
                self.failures[path] = self.failures.get(path, 0) + 1
                return self._fail(handler, _unit("kind", self.index, path, attempt), body)
            handler.send_response(200)
            handler.send_header("Content-Type", content_type)
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)
        return server.add(path, route)

    @staticmethod
    def _fail(handler, kind: float, body: bytes) -> None:
        if kind < 0.65:
            status, extra = ((503, {"Retry-After": "0"}) if kind < 0.35 else
                             (429, {"Retry-After": "1"}) if kind < 0.45 else (500, {}))
            handler.send_response(status)
            for key, value in extra.items():
                handler.send_header(key, value)
            handler.send_header("Content-Length", "0")
            handler.end_headers()
        elif kind < 0.85:  # connection dropped before any response
            handler.close_connection = True
        else:  # body cut short
            handler.send_response(200)
            handler.send_header("Content-Type", "text/html")
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body[: len(body) // 3])
            handler.close_connection = True


def build_site(hosts: List[FlakyHost]) -> Tuple[List[str], Set[str]]:
    """Serve everything; returns (feed URLs, every input URL the feeds name)."""
    rng = random.Random(SEED)
    bodies: Dict[Tuple[int, int], bytes] = {}
    for host in hosts:
        for j in range(40):
            bodies[(host.index, j)] = _page(rng, f"Story {j} from host {host.index}")
    feeds, inputs = [], set()
    for host in hosts:
        k, base = host.index, host.server.base
        entries: List[str] = []  # <item> XML
        host.add("/robots.txt", b"User-agent: *\nDisallow: /private/\n", "text/plain", 2)
        for j in range(40):
            path = f"/news/a{j}.html"
            host.add(path, bodies[(k, j)])
            href = path if j % 2 else base + path  # half relative, resolved against the feed URL
            entries.append(f"<item><title>Story {j}</title><link>{href}</link></item>")
        # 2 syndicated copies of the next host's stories (exact duplicates).
        nxt = (k + 1) % HOSTS
        for j in (0, 1):
            host.add(f"/syndicated/c{j}.html", bodies[(nxt, j)])
            entries.append(f"<item><title>Copy {j}</title><link>{base}/syndicated/c{j}.html</link></item>")
        # 2 tracking-parameter variants of stories already listed (URL duplicates).
        for j in (2, 3):
            entries.append(f"<item><title>Story {j} again</title>"
                           f"<link>{base}/news/a{j}.html?utm_source=rss&amp;utm_medium=feed</link></item>")
        # An AMP-style copy whose canonical link names a listed story.
        host.add("/news/a4-amp.html", _page(random.Random(k), f"Story 4 from host {k} (AMP)",
                                            canonical=f"{base}/news/a4.html"))
        entries.append(f"<item><title>AMP</title><link>{base}/news/a4-amp.html</link></item>")
        host.add("/private/p.html", _page(rng, "Private"))
        entries.append(f"<item><title>Private</title><link>{base}/private/p.html</link></item>")
        entries.append(f"<item><title>Gone</title><link>{base}/gone.html</link></item>")  # 404
        host.add("/report.pdf", b"%PDF-1.4 not a page", "application/pdf")
        entries.append(f"<item><title>Report</title><link>{base}/report.pdf</link></item>")
        host.add("/brief.html", b"<html><body><p>Too short to be an article.</p></body></html>")
        entries.append(f"<item><title>Brief</title><link>{base}/brief.html</link></item>")
        entries.append("<item><title>No link at all</title><description>orphan</description></item>")
        assert len(entries) == ENTRIES_PER_FEED
        feed = ("<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel>"
                f"<title>Host {k}</title><link>{base}/</link>{''.join(entries)}</channel></rss>").encode()
        feed_url = host.add("/feed.xml", feed, "application/rss+xml; charset=utf-8", 2)
        feeds.append(feed_url)
        for j in range(40):
            inputs.add(f"{base}/news/a{j}.html")
        inputs |= {f"{base}/syndicated/c0.html", f"{base}/syndicated/c1.html",
                   f"{base}/news/a2.html?utm_source=rss&utm_medium=feed",
                   f"{base}/news/a3.html?utm_source=rss&utm_medium=feed",
                   f"{base}/news/a4-amp.html", f"{base}/private/p.html", f"{base}/gone.html",
                   f"{base}/report.pdf", f"{base}/brief.html",
                   f"{feed_url}#entry-{ENTRIES_PER_FEED - 1}"}
    return feeds, inputs


def _table(out: pathlib.Path, name: str) -> List[dict]:
    files = sorted(str(p) for p in (out / name).rglob("*.parquet")) if name else None
    if name:
        return ds.dataset(files, format="parquet").to_table().to_pylist() if files else []
    return ds.dataset(str(out), partitioning="hive").to_table().to_pylist()


@pytest.mark.slow
def test_thousand_entries_twenty_flaky_hosts_nothing_lost(tmp_path):
    hosts = [FlakyHost(i) for i in range(HOSTS)]
    for host in hosts:
        host.server.start()
    try:
        feeds, inputs = build_site(hosts)
        assert len(inputs) == HOSTS * ENTRIES_PER_FEED  # 50 distinct input URLs per host
        out = tmp_path / "out"
        args = [sys.executable, "-m", "pipeline", "--output", str(out), "--allow-private-hosts",
                "--host-delay", str(HOST_DELAY), "--max-parallel-hosts", str(HOSTS), "--quiet"]
        for feed in feeds:
            args += ["--feed", feed]
        started = time.monotonic()
        result = subprocess.run(args, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)),
                                capture_output=True, text=True, timeout=300)
        wall = time.monotonic() - started
        assert result.returncode == 0, result.stderr[-3000:]
    finally:
        for host in hosts:
            host.server.stop()

    # ---- nothing lost: every input URL is exactly one of article / duplicate / dead letter
    articles = {r["url"] for r in _table(out, "")}
    duplicates = [r["url"] for r in _table(out, "_duplicates")]
    dead = _table(out, "_dead_letters")
    dead_urls = [r["url"] for r in dead]
    assert len(set(duplicates)) == len(duplicates) and len(set(dead_urls)) == len(dead_urls)
    assert not (articles & set(duplicates)) and not (articles & set(dead_urls)) \
        and not (set(duplicates) & set(dead_urls))
    accounted = articles | set(duplicates) | set(dead_urls)
    assert accounted == inputs, (sorted(inputs - accounted)[:10], sorted(accounted - inputs)[:10])
    assert len(articles) + len(duplicates) + len(dead_urls) == len(inputs) == 1000

    # DuckDB agrees with pyarrow on the totals.
    con = duckdb.connect()
    n_articles = con.execute(f"SELECT count(*) FROM read_parquet('{out}/topic=*/date=*/*.parquet', "
                             "hive_partitioning=true)").fetchall()[0][0]
    n_dead = con.execute(f"SELECT count(*) FROM read_parquet('{out}/_dead_letters/*/*.parquet')").fetchall()[0][0]
    assert (n_articles, n_dead) == (len(articles), len(dead_urls))

    by_reason: Dict[str, int] = {}
    for row in dead:
        by_reason[row["reason"]] = by_reason.get(row["reason"], 0) + 1
    # The planted permanent failures, one per host each (unless a transient failure got there first).
    for reason in ("robots_disallowed", "entry_without_link"):
        assert by_reason.get(reason) == HOSTS, by_reason
    assert by_reason.get("http_4xx") == HOSTS, by_reason  # the 404s (never retried)
    assert by_reason.get("not_html", 0) >= HOSTS - 3, by_reason
    assert by_reason.get("not_an_article", 0) + by_reason.get("empty_extraction", 0) >= HOSTS - 3, by_reason
    assert set(by_reason) <= {"robots_disallowed", "entry_without_link", "http_4xx", "not_html",
                              "not_an_article", "empty_extraction", "http_5xx", "rate_limited",
                              "connection_error"}, by_reason
    assert not any(r["stage"] == "fetch" and r["url"].endswith("/feed.xml") for r in dead)

    # ---- politeness: per host, every request (robots, feed, pages, retries) spaced by the delay
    gaps: List[float] = []
    spans: List[Tuple[float, float]] = []
    requests_total = 0
    for host in hosts:
        times = sorted(t for t, _path, _headers in host.server.log)
        requests_total += len(times)
        gaps += [b - a for a, b in zip(times, times[1:])]
        spans.append((times[0], times[-1]))
    min_gap = min(gaps)
    assert min_gap >= HOST_DELAY - SPACING_SLACK, f"min gap {min_gap:.3f}s < host delay {HOST_DELAY}s"
    # ---- parallelism: hosts overlapped (a serial crawl needs at least requests x delay)
    first, last = min(s for s, _ in spans), max(e for _, e in spans)
    serial_floor = requests_total * HOST_DELAY
    middle = first + (last - first) / 2
    active_mid = sum(1 for s, e in spans if s <= middle <= e)
    assert last - first < serial_floor / 4, (last - first, serial_floor)
    assert active_mid >= HOSTS * 3 // 4, active_mid
    transient = sum(sum(h.failures.values()) for h in hosts)
    feed_times = [t for h in hosts for t, path, _ in h.server.log if path == "/feed.xml"]
    page_times = [t for h in hosts for t, path, _ in h.server.log if path not in ("/feed.xml", "/robots.txt")]

    summary = {
        "inputs": len(inputs), "articles": len(articles), "duplicates": len(duplicates),
        "dead_letters": len(dead_urls), "dead_letters_by_reason": dict(sorted(by_reason.items())),
        "requests": requests_total, "transient_failures_injected": transient,
        "failure_share": round(transient / requests_total, 3),
        "wall_seconds": round(wall, 1), "http_span_seconds": round(last - first, 1),
        "job_start_to_first_request": round(first - started, 1),
        "feed_phase_seconds": round(max(feed_times) - min(feed_times), 1),
        "page_phase_seconds": round(max(page_times) - min(page_times), 1),
        "after_last_request_seconds": round(started + wall - last, 1),
        "serial_floor_seconds": round(serial_floor, 1), "hosts_active_at_midpoint": active_mid,
        "min_gap_seconds": round(min_gap, 3), "median_gap_seconds": round(statistics.median(gaps), 3),
    }
    print("\nBIG RUN " + json.dumps(summary))
    (tmp_path / "big_run.json").write_text(json.dumps(summary, indent=1))


@pytest.mark.slow
def test_second_run_uses_conditional_get_and_retries_incomplete_feeds(tmp_path):
    """Run 1: feed A (ETag-aware) is read fully; one page of feed B fails every
    attempt, so B's state is stored incomplete. Run 2: A answers 304 (nothing
    read), B is read in full again and the failed page now becomes an article."""
    server = MisbehavingServer().start()
    try:
        rng = random.Random(SEED + 1)
        base = server.base
        b_broken = {"on": True}
        for name in ("a", "b"):
            items = []
            for j in range(3):
                path = f"/{name}/s{j}.html"
                body = _page(rng, f"Story {name}{j}")
                if name == "b" and j == 2:
                    def flaky(handler, body=body):
                        status = 503 if b_broken["on"] else 200
                        handler.send_response(status)
                        handler.send_header("Content-Type", "text/html; charset=utf-8")
                        handler.send_header("Content-Length", str(len(body)))
                        handler.end_headers()
                        handler.wfile.write(body)
                    server.add(path, flaky)
                else:
                    server.add_body(path, body)
                items.append(f"<item><title>{name}{j}</title><link>{base}{path}</link></item>")
            feed = (f"<?xml version='1.0'?><rss version='2.0'><channel><title>{name}</title>"
                    f"<link>{base}/</link>{''.join(items)}</channel></rss>").encode()

            def feed_route(handler, feed=feed, etag=f'"{name}-v1"'):
                if handler.headers.get("If-None-Match") == etag:
                    handler.send_response(304)
                    handler.send_header("ETag", etag)
                    handler.end_headers()
                    return
                handler.send_response(200)
                handler.send_header("Content-Type", "application/rss+xml")
                handler.send_header("ETag", etag)
                handler.send_header("Content-Length", str(len(feed)))
                handler.end_headers()
                handler.wfile.write(feed)
            server.add(f"/{name}.xml", feed_route)
        out = tmp_path / "out"
        args = [sys.executable, "-m", "pipeline", "--output", str(out), "--allow-private-hosts",
                "--host-delay", "0", "--quiet", "--feed", f"{base}/a.xml", "--feed", f"{base}/b.xml"]
        env = dict(os.environ, PYTHONPATH=str(ROOT))

        first = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert first.returncode == 0, first.stderr[-3000:]
        assert len(_table(out, "")) == 5
        assert [r["reason"] for r in _table(out, "_dead_letters")] == ["http_5xx"]
        states = {json.loads(p.read_text())["url"]: json.loads(p.read_text())
                  for p in (out / "_state" / "feeds").glob("*.json")}
        assert states[f"{base}/a.xml"]["complete"] and states[f"{base}/a.xml"]["etag"] == '"a-v1"'
        assert not states[f"{base}/b.xml"]["complete"]

        b_broken["on"] = False
        hits_before = dict(server.hits)
        second = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert second.returncode == 0, second.stderr[-3000:]
        sent = [h for _, p, h in server.log if p == "/a.xml"]
        assert sent[-1].get("If-None-Match") == '"a-v1"'
        assert "If-None-Match" not in [h for _, p, h in server.log if p == "/b.xml"][-1]
        fetched_again = {p for p, n in server.hits.items() if n > hits_before.get(p, 0)}
        # Nothing else was fetched again (robots.txt and tdmrep.json are read once per run and host).
        assert fetched_again == {"/robots.txt", "/.well-known/tdmrep.json", "/a.xml", "/b.xml", "/b/s2.html"}
        assert {r["url"] for r in _table(out, "")} == {f"{base}/{n}/s{j}.html" for n in "ab" for j in range(3)}
        states = {json.loads(p.read_text())["url"]: json.loads(p.read_text())
                  for p in (out / "_state" / "feeds").glob("*.json")}
        assert states[f"{base}/b.xml"]["complete"]
    finally:
        server.stop()
