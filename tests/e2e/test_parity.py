"""One graph, two modes: the same feed, read once by a batch run and polled by a
streaming run until it is drained, gives the same articles (ids, bodies, topics,
entities), the same duplicates and the same dead letters.

The feed (a loopback server): 4 distinct stories and a link that 404s; from its
second read on, also an exact copy and an edited (near) copy of the first story,
published later. Streaming keeps the first *seen* copy, batch the earliest
*published*: with copies that come after their story (the usual case, and the
one this feed models) both pick the same representative. Streaming runs first
(the feed grows while it polls), batch then reads the whole feed once.
"""
from __future__ import annotations

import datetime as dt
import email.utils
import glob
import os
import subprocess
import sys

import pyarrow.parquet as pq

from tests.conftest import ROOT, MisbehavingServer
from tests.e2e.test_streaming import _rows, page, story

STORIES = ["/wire/harbour.html", "/wire/council.html", "/wire/festival.html", "/wire/rocket.html"]
EXACT, NEAR, GONE = "/mirror/harbour-copy.html", "/other/harbour-updated.html", "/wire/gone.html"
ENTITY_LINE = (" Mayor Anna Lindqvist of Stockholm met officials from the European Commission in Brussels"
               " on Tuesday, Reuters reported.")


def _serve(server: MisbehavingServer) -> None:
    base = dt.datetime(2026, 11, 30, 8, tzinfo=dt.timezone.utc)
    server.add_body("/robots.txt", b"User-agent: *\nAllow: /\n", "text/plain")
    bodies = {path: story(700 + i) + ENTITY_LINE for i, path in enumerate(STORIES)}
    bodies[EXACT] = bodies[STORIES[0]]
    bodies[NEAR] = bodies[STORIES[0]] + " Officials confirmed the figures on Friday."
    items = []
    for i, path in enumerate(STORIES + [GONE, EXACT, NEAR]):
        published = base + dt.timedelta(hours=i)
        if path != GONE:
            server.add_body(path, page(f"Story {i}", bodies[path], published))
        items.append(f"<item><title>Story {i}</title><link>{server.url(path)}</link>"
                     f"<guid>{server.url(path)}</guid>"
                     f"<pubDate>{email.utils.format_datetime(published)}</pubDate></item>")
    reads = []

    def feed(handler):
        reads.append(1)
        shown = items if len(reads) > 1 else items[:len(STORIES) + 1]  # the copies from the 2nd read on
        body = ("<?xml version='1.0'?><rss version='2.0'><channel><title>Wire</title>"
                f"<link>{server.base}</link>{''.join(shown)}</channel></rss>").encode("utf-8")
        handler.send_response(200)
        handler.send_header("Content-Type", "application/rss+xml")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    server.add("/feed.xml", feed)


def _cli(out: str, feed: str, *extra: str) -> None:
    cmd = [sys.executable, "-m", "pipeline", "--feed", feed, "--output", out, "--allow-private-hosts",
           "--host-delay", "0", "--quiet", *extra]
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert result.returncode == 0, result.stderr[-3000:]


def _articles(out: str) -> list:
    """(id, url, body, topic, entities) of every article; the topic is in the path (topic=<slug>/)."""
    found = []
    for path in sorted(glob.glob(os.path.join(out, "topic=*", "**", "*.parquet"), recursive=True)):
        topic = path[len(out):].split("topic=", 1)[1].split(os.sep, 1)[0]
        for r in pq.read_table(path, columns=["article_id", "url", "body", "entities"]).to_pylist():
            entities = tuple(sorted((e["text"], e["label"]) for e in r["entities"] or ()))
            found.append((r["article_id"], r["url"], r["body"], topic, entities))
    return sorted(found)


def _outcome(out: str) -> dict:
    articles = _articles(out)
    duplicates = sorted((r["url"], r["duplicate_of"], r["kind"])
                        for r in _rows(out, "_duplicates", ["url", "duplicate_of", "kind"]))
    dead = sorted((r["url"], r["stage"], r["reason"])
                  for r in _rows(out, "_dead_letters", ["url", "stage", "reason"]))
    return {"articles": articles, "duplicates": duplicates, "dead_letters": dead}


def test_batch_and_streaming_give_the_same_dataset(tmp_path):
    """(``--no-near-duplicates`` keeping exact dedup in both modes: tests/test_graph.py.)"""
    server = MisbehavingServer().start()
    try:
        _serve(server)
        feed = server.url("/feed.xml")
        _cli(str(tmp_path / "stream"), feed, "--streaming", "--poll-interval", "1", "--window", "2",
             "--max-runtime", "12")  # round 1 (models, workers) takes seconds
        _cli(str(tmp_path / "batch"), feed)
        batch, streaming = _outcome(str(tmp_path / "batch")), _outcome(str(tmp_path / "stream"))
    finally:
        server.stop()
    first = {url: article_id for article_id, url, *_ in batch["articles"]}[server.url(STORIES[0])]
    assert len(batch["articles"]) == len(STORIES)
    assert batch["duplicates"] == sorted([(server.url(EXACT), first, "exact"), (server.url(NEAR), first, "near")])
    assert [(url, reason) for url, _stage, reason in batch["dead_letters"]] == [(server.url(GONE), "http_4xx")]
    assert any(entities for *_, entities in batch["articles"])
    assert streaming == batch


def test_streaming_applies_the_sources_files_host_lists_to_feeds(tmp_path):
    """A feed on a denied host is never polled: one host_not_allowed dead letter, as in batch."""
    server = MisbehavingServer().start()
    try:
        _serve(server)
        sources = tmp_path / "sources.toml"
        sources.write_text(f'[hosts]\ndeny = ["127.0.0.1"]\n\n[[feed]]\nurl = "{server.url("/feed.xml")}"\n')
        for mode, extra in (("batch", ()), ("stream", ("--streaming", "--poll-interval", "1",
                                                        "--window", "2", "--max-runtime", "2"))):
            out = str(tmp_path / mode)
            subprocess.run([sys.executable, "-m", "pipeline", "--sources", str(sources), "--output", out,
                            "--allow-private-hosts", "--quiet", *extra], cwd=ROOT, check=True, timeout=300,
                           capture_output=True)
            dead = _rows(out, "_dead_letters", ["url", "reason"])
            assert dead == [{"url": server.url("/feed.xml"), "reason": "host_not_allowed"}], mode
            assert _rows(out, "", ["url"]) == []
        assert server.hits.get("/feed.xml", 0) == 0
    finally:
        server.stop()
