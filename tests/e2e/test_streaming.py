"""Streaming mode end to end: the CLI polls a loopback feed that gains entries
while the job runs, writes windowed Parquet during the run, and a restart on
the same output adds nothing.

The feed gains 3 entries every 2 s for 10 s (15 entries): 13 distinct stories,
one near copy of an earlier story (a duplicate) and one link that 404s (a dead
letter). Job: ``--streaming --poll-interval 1 --window 2 --max-runtime 15``.
"""
from __future__ import annotations

import datetime as dt
import email.utils
import glob
import json
import os
import random
import subprocess
import sys
import threading
import time

import pyarrow.parquet as pq
import pytest

from tests.conftest import ROOT, MisbehavingServer

ROUNDS, PER_ROUND, EVERY = 5, 3, 2.0
WORDS = ("harbour council budget river school tram bridge festival museum library ferry orchard "
         "vineyard glacier summit election court tariff market harvest drought flood storm wildfire "
         "vaccine hospital clinic nurse teacher student pilot airline railway tunnel canal dock "
         "shipyard factory mine quarry telescope satellite rocket reactor turbine battery solar wind "
         "copper lithium wheat coffee cocoa sugar cotton timber salmon tuna whale eagle falcon wolf "
         "bear lynx otter beaver heron crane stork pelican mayor senator minister judge sheriff "
         "striker goalkeeper coach referee stadium marathon regatta tournament").split()


def story(seed: int, words: int = 150) -> str:
    rng = random.Random(seed)
    sentences = []
    while sum(len(s.split()) for s in sentences) < words:
        chunk = [rng.choice(WORDS) for _ in range(rng.randint(8, 14))]
        sentences.append(" ".join(chunk).capitalize() + ".")
    return " ".join(sentences)


def page(title: str, body: str, published: dt.datetime) -> bytes:
    paragraphs = "".join(f"<p>{body[i:i + 400]}</p>" for i in range(0, len(body), 400))
    return (f"<!doctype html><html lang='en'><head><title>{title}</title>"
            f"<meta property='article:published_time' content='{published.isoformat()}'>"
            f"<meta property='article:section' content='World'></head><body><article><h1>{title}</h1>"
            f"{paragraphs}</article></body></html>").encode("utf-8")


class GrowingFeed:
    """Entry i (0-based) appears at ``t0 + EVERY * (i // PER_ROUND)``, ``t0`` = first poll."""

    def __init__(self, server: MisbehavingServer):
        self.server = server
        self.t0 = None  # the clock starts at the first poll, so start-up time does not merge rounds
        self.paths = [f"/news/story-{i:02d}.html" for i in range(ROUNDS * PER_ROUND)]
        self.polls = []  # (time, entry URLs in the feed at that time), one per feed request
        server.add("/feed.xml", self._feed)
        server.add_body("/robots.txt", b"User-agent: *\nAllow: /\n", "text/plain")

    def appears(self, i: int) -> float:
        return self.t0 + EVERY * (i // PER_ROUND)

    def _start(self):
        self.t0 = time.time()
        for i, path in enumerate(self.paths):
            if i == 7:  # a link that is gone: a dead letter
                continue
            body = story(103) + " Reporters added one more line today." if i == 10 else story(100 + i)
            published = dt.datetime.fromtimestamp(self.appears(i), dt.timezone.utc).replace(microsecond=0)
            self.server.add_body(path, page(f"Story number {i}", body, published))

    def _feed(self, handler):
        if self.t0 is None:
            self._start()
        now = time.time()
        items = []
        for i, path in enumerate(self.paths):
            appears = self.appears(i)
            if appears <= now:
                items.append(f"<item><title>Story number {i}</title><link>{self.server.url(path)}</link>"
                             f"<guid>{self.server.url(path)}</guid>"
                             f"<pubDate>{email.utils.formatdate(int(appears), usegmt=True)}</pubDate></item>")
        self.polls.append((now, {self.server.url(self.paths[i]) for i in range(len(self.paths))
                                 if self.appears(i) <= now}))
        body = ("<?xml version='1.0'?><rss version='2.0'><channel><title>Growing</title>"
                f"<link>{self.server.base}</link>{''.join(reversed(items))}</channel></rss>").encode("utf-8")
        handler.send_response(200)
        handler.send_header("Content-Type", "application/rss+xml")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def urls(self):
        return {self.server.url(path) for path in self.paths}


def _cli(out: str, feed: str, runtime: float) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "pipeline", "--streaming", "--feed", feed, "--output", out,
           "--poll-interval", "1", "--window", "2", "--max-runtime", str(runtime),
           "--allow-private-hosts", "--host-delay", "0.05", "--log-format", "json"]
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})


def _rows(out: str, folder: str, columns):
    rows = []
    for path in sorted(glob.glob(os.path.join(out, folder, "**", "*.parquet"), recursive=True)):
        if folder == "" and os.sep + "_" in path[len(out):]:
            continue
        rows.extend(pq.read_table(path, columns=columns).to_pylist())
    return rows


def _data_files(out: str):
    return [p for p in glob.glob(os.path.join(out, "**", "*.parquet"), recursive=True)
            if "/_state/" not in p]


def _run(out: str, feed: str, runtime: float):
    """Run the CLI; returns (stdout, stderr, seconds, files seen before it ended with their age)."""
    started = time.monotonic()
    proc = _cli(out, feed, runtime)
    seen = {}
    while proc.poll() is None:
        for path in _data_files(out):
            seen.setdefault(path, time.monotonic() - started)
        time.sleep(0.1)
    stdout, stderr = proc.communicate()
    assert proc.returncode == 0, stderr[-3000:]
    return stdout, stderr, time.monotonic() - started, seen


def _outcome(out):
    articles = [r["url"] for r in _rows(out, "", ["url"])]
    dups = _rows(out, "_duplicates", ["url", "kind"])
    dead = [r["url"] for r in _rows(out, "_dead_letters", ["url"])]
    return articles, dups, dead


def test_streaming_cli_writes_windows_during_the_run_and_restarts_without_duplicates(tmp_path):
    """The feed's clock starts at the job's first poll; on a loaded machine the
    job starts later, so "every entry" is every entry the feed listed by the
    job's last poll (the restart then picks up the rest)."""
    server = MisbehavingServer().start()
    try:
        feed = GrowingFeed(server)
        out = str(tmp_path / "lake")
        started = time.time()
        stdout, stderr, seconds, seen_mid_run = _run(out, server.url("/feed.xml"), 15)
        assert len({len(v) for _t, v in feed.polls}) >= 2, "the feed did not grow while the job polled it"
        last_poll, listed = feed.polls[-1]

        # Files appeared while the job was still polling, atomically (no temp names left).
        assert seen_mid_run, "no Parquet file appeared before the job ended"
        assert started + min(seen_mid_run.values()) < last_poll, (seen_mid_run, last_poll - started)
        assert not [p for p in glob.glob(os.path.join(out, "**", ".*"), recursive=True) if p.endswith(".tmp")]
        names = [os.path.basename(p) for p in _data_files(out)]
        assert all(n.startswith("part-w") and "-2s-s00" in n for n in names), names

        # Every listed entry exactly once: an article, a duplicate or a dead letter.
        articles, dups, dead = _outcome(out)
        outcome = articles + [d["url"] for d in dups] + dead
        assert sorted(outcome) == sorted(listed), (articles, dups, dead)
        copy, gone = server.url("/news/story-10.html"), server.url("/news/story-07.html")
        assert [d["url"] for d in dups] == ([copy] if copy in listed else [])
        assert all(d["kind"] in ("near", "exact") for d in dups)
        assert dead == ([gone] if gone in listed else [])

        # A line per window with freshness; the same figures on disk.
        lines = [json.loads(l) for l in stderr.splitlines() if l.startswith("{")]
        window_lines = [l["message"] for l in lines if l.get("message", "").startswith("window ")]
        assert window_lines and any("freshness median" in l for l in window_lines), stderr[-2000:]
        reports = [json.load(open(p)) for p in glob.glob(os.path.join(out, "_reports", "windows", "*.json"))]
        assert sum(r["articles"] for r in reports) == len(articles)
        lags = [r["freshness_p95_s"] for r in reports if r["freshness_p95_s"] is not None]
        assert lags and max(lags) < 15, reports
        print("freshness", json.dumps(sorted(reports, key=lambda r: r["window_start"])))

        # Restart on the same output, once the feed is complete: what was written is not
        # written again (files untouched), the rest is, each entry still exactly once.
        while time.time() < feed.appears(len(feed.paths) - 1):
            time.sleep(0.1)
        before = {p: os.stat(p).st_mtime_ns for p in _data_files(out)}
        polls_before = len(feed.polls)
        _stdout2, stderr2, _s2, _seen2 = _run(out, server.url("/feed.xml"), 8)
        assert len(feed.polls) > polls_before, stderr2[-2000:]
        assert {p: os.stat(p).st_mtime_ns for p in before} == before
        articles2, dups2, dead2 = _outcome(out)
        outcome2 = articles2 + [d["url"] for d in dups2] + dead2
        assert sorted(outcome2) == sorted(feed.urls()), (articles2, dups2, dead2)
        assert [d["url"] for d in dups2] == [copy] and dead2 == [gone]
    finally:
        server.stop()


def _static_feed(server, paths):
    published = email.utils.formatdate(int(time.time()) - 60, usegmt=True)
    items = "".join(f"<item><title>{p}</title><link>{server.url(p)}</link><guid>{server.url(p)}</guid>"
                    f"<pubDate>{published}</pubDate></item>" for p in paths)
    server.add_body("/feed.xml", ("<?xml version='1.0'?><rss version='2.0'><channel><title>Wire</title>"
                                  f"<link>{server.base}</link>{items}</channel></rss>").encode("utf-8"),
                    "application/rss+xml")


def test_a_copy_after_a_restart_finds_the_story_written_before_it(tmp_path):
    """Run 1 writes a story (and its signature under ``_state/signatures``) and stops;
    run 2 starts with an empty Beam state, the feed now lists an edited copy of the story
    under a new URL: the copy is a ``_duplicates`` row pointing at the story, not an article."""
    server = MisbehavingServer().start()
    try:
        server.add_body("/robots.txt", b"User-agent: *\nAllow: /\n", "text/plain")
        now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
        server.add_body("/wire/story.html", page("Harbour story", story(501), now))
        server.add_body("/other/story.html", page("Unrelated story", story(502), now))
        server.add_body("/mirror/copy.html", page("Harbour story, updated",
                                                  story(501) + " Officials confirmed it on Friday.", now))
        out = str(tmp_path / "lake")
        _static_feed(server, ["/wire/story.html", "/other/story.html"])
        _run(out, server.url("/feed.xml"), 4)
        first = {r["url"]: r["article_id"] for r in _rows(out, "", ["url", "article_id"])}
        assert sorted(first) == [server.url("/other/story.html"), server.url("/wire/story.html")]
        assert len(_rows(out, "_state/signatures", ["article_id"])) == 2

        _static_feed(server, ["/wire/story.html", "/other/story.html", "/mirror/copy.html"])
        _run(out, server.url("/feed.xml"), 4)
        assert {r["url"] for r in _rows(out, "", ["url"])} == set(first)
        dups = _rows(out, "_duplicates", ["url", "duplicate_of", "kind"])
        assert dups == [{"url": server.url("/mirror/copy.html"),
                         "duplicate_of": first[server.url("/wire/story.html")], "kind": "near"}]
    finally:
        server.stop()
