"""Ctrl-C, one writer per output, and summaries that add up, against a slow loopback site.

The CLI runs as a subprocess (a real SIGINT, a real second process); the site
answers each page after a pause so a run lasts long enough to be interrupted.
"""
from __future__ import annotations

import os
import pathlib
import random
import re
import signal
import subprocess
import sys
import time

import pyarrow.parquet as pq
import pytest

from pipeline.cli import INTERRUPT_LINE

ROOT = pathlib.Path(__file__).resolve().parents[2]
PAGES = 12
WORDS = ("river harbor council budget school transport energy market farmer drought vaccine hospital "
         "court judge election minister railway bridge storm flood festival museum orchestra striker "
         "coach league satellite launch reactor battery factory union strike wages tariff export port "
         "airline runway tourism hotel glacier forest wildfire rescue police border treaty summit").split()


def body(i: int) -> str:
    rng = random.Random(i)
    sentences = [" ".join(rng.sample(WORDS, 14)).capitalize() + "." for _ in range(12)]
    return "".join(f"<p>{' '.join(sentences[k:k + 3])}</p>" for k in range(0, 12, 3))


def add_slow_site(server, delay: float = 0.4) -> str:
    items = []
    for i in range(PAGES):
        html = (f"<!doctype html><html lang='en'><head><title>Story {i}</title>"
                f"<meta property='article:published_time' content='2025-05-14T10:00:00+00:00'></head>"
                f"<body><article><h1>Story number {i}</h1>{body(i)}</article></body></html>").encode()

        def route(handler, html=html):
            time.sleep(delay)
            handler.send_response(200)
            handler.send_header("Content-Type", "text/html; charset=utf-8")
            handler.send_header("Content-Length", str(len(html)))
            handler.end_headers()
            handler.wfile.write(html)
        server.add(f"/news/story-{i}.html", route)
        items.append(f"<item><title>Story {i}</title><link>{server.url(f'/news/story-{i}.html')}</link></item>")
    feed = f"<?xml version='1.0'?><rss version='2.0'><channel><title>Slow</title>{''.join(items)}</channel></rss>"
    return server.add_body("/feed.xml", feed.encode(), "application/rss+xml")


def cli(*args: str) -> list:
    return [sys.executable, "-m", "pipeline", *args]


def env():
    return dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")


def base_args(feed: str, out: pathlib.Path) -> list:
    return ["--feed", feed, "--output", str(out), "--allow-private-hosts", "--host-delay", "0.2",
            "--ignore-robots", "--progress-interval", "0"]


def page_hits(server) -> list:
    return [t for t, path, _ in list(server.log) if path.startswith("/news/")]


def wait_for_pages(server, n: int, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while len(page_hits(server)) < n:
        assert time.monotonic() < deadline, "the run never started fetching"
        time.sleep(0.05)


SUMMARY = re.compile(r"Accounting by input URL: (\d+) inputs = (\d+) articles \+ (\d+) duplicates \+ "
                     r"(\d+) dead letters \+ (\d+) already written; unaccounted: 0")


def check_summary(stdout: str) -> dict:
    """The summary never contradicts itself: written and already written add up."""
    found = SUMMARY.search(stdout)
    assert found, stdout
    inputs, articles, duplicates, dead, already = map(int, found.groups())
    assert inputs == articles + duplicates + dead + already
    assert int(re.search(r"Articles written: (\d+)", stdout).group(1)) == articles
    assert int(re.search(r"Duplicates recorded: (\d+)", stdout).group(1)) == duplicates
    assert int(re.search(r"Dead letters: (\d+)", stdout).group(1)) == dead
    assert int(re.search(r"Already in the output from earlier runs \(skipped\): (\d+)", stdout).group(1)) == already
    return {"inputs": inputs, "articles": articles, "already": already}


def article_files(out: pathlib.Path) -> list:
    return sorted(out.glob("topic=*/date=*/*.parquet"))


def ctrl_c(proc) -> None:
    """What a terminal does: SIGINT to the whole foreground process group (workers included)."""
    os.killpg(proc.pid, signal.SIGINT)


def test_first_ctrl_c_stops_within_2s_publishes_nothing_and_a_rerun_finishes(http_server, tmp_path):
    feed = add_slow_site(http_server)
    out = tmp_path / "out"
    proc = subprocess.Popen(cli(*base_args(feed, out)), cwd=ROOT, env=env(), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    wait_for_pages(http_server, 3)
    sent = time.monotonic()
    ctrl_c(proc)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr[-3000:]
    late = [t for t in page_hits(http_server) if t > sent + 2.0]
    assert not late, f"{len(late)} pages requested more than 2 s after Ctrl-C"
    assert len(page_hits(http_server)) < PAGES
    assert stderr.count(INTERRUPT_LINE) == 1 and "Traceback" not in stderr, stderr[-3000:]
    assert stdout.strip() == ""
    # Nothing half-done: no article, duplicate or dead-letter file, no index, no lock.
    assert article_files(out) == []
    assert not list(out.glob("_dead_letters/**/*.parquet")) and not list(out.glob("_duplicates/**/*.parquet"))
    assert not (out / "_state" / "index").exists() and not (out / "_state" / "lock.json").exists()
    assert not (out / "_state" / "feeds").exists() or not list((out / "_state" / "feeds").iterdir())

    rerun = subprocess.run(cli(*base_args(feed, out)), cwd=ROOT, env=env(), text=True,
                           capture_output=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    figures = check_summary(rerun.stdout)
    assert figures["articles"] == PAGES and figures["already"] == 0
    assert pq.read_table(str(out)).num_rows == PAGES
    assert not (out / "_staging").exists()


def test_second_ctrl_c_exits_at_once(http_server, tmp_path):
    feed = add_slow_site(http_server, delay=3.0)  # a request in flight for 3 s
    out = tmp_path / "out"
    proc = subprocess.Popen(cli(*base_args(feed, out)), cwd=ROOT, env=env(), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    wait_for_pages(http_server, 1)
    ctrl_c(proc)
    time.sleep(0.3)
    sent = time.monotonic()
    ctrl_c(proc)
    _stdout, stderr = proc.communicate(timeout=30)
    assert time.monotonic() - sent < 2.0
    assert proc.returncode == 130 and "Traceback" not in stderr, stderr[-3000:]
    assert article_files(out) == []


def test_one_writer_per_output_then_wait_then_consistent_summaries(http_server, tmp_path):
    feed = add_slow_site(http_server)
    out = tmp_path / "out"
    first = subprocess.Popen(cli(*base_args(feed, out)), cwd=ROOT, env=env(), text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_for_pages(http_server, 1)
    refused = subprocess.run(cli(*base_args(feed, out)), cwd=ROOT, env=env(), text=True,
                             capture_output=True, timeout=120)
    assert refused.returncode == 2, refused.stderr[-2000:]
    lines = [line for line in refused.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and f"pid {first.pid}" in lines[0] and "--wait" in lines[0], refused.stderr
    assert "host " in lines[0] and "started 20" in lines[0]
    waiting = subprocess.Popen(cli(*base_args(feed, out), "--wait"), cwd=ROOT, env=env(), text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    stdout, stderr = first.communicate(timeout=300)
    assert first.returncode == 0, stderr[-3000:]
    assert check_summary(stdout)["articles"] == PAGES
    stdout2, stderr2 = waiting.communicate(timeout=300)
    assert waiting.returncode == 0, stderr2[-3000:]
    assert "waiting for the run holding" in stderr2
    check_summary(stdout2)  # the feed is unchanged: nothing new, and the figures still add up
    assert pq.read_table(str(out)).num_rows == PAGES  # one copy of each story
    if (out / "_duplicates").exists():  # a duplicate row never points at itself
        copies = pq.read_table(str(out / "_duplicates")).to_pylist()
        assert all(c["article_id"] != c["duplicate_of"] for c in copies)
    assert pq.read_table(str(out / "_dead_letters")).num_rows == 0 if (out / "_dead_letters").exists() else True

    # A run cut short after publishing but before its index (simulated by removing the
    # index and feed state): the rerun finds every story in place and says so.
    import shutil
    shutil.rmtree(out / "_state")
    again = subprocess.run(cli(*base_args(feed, out)), cwd=ROOT, env=env(), text=True,
                           capture_output=True, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    figures = check_summary(again.stdout)
    assert figures["articles"] == 0 and figures["already"] == PAGES
    assert pq.read_table(str(out)).num_rows == PAGES
