"""End to end, one CLI subprocess per kind of input: sources files (TOML with host
lists, OPML, plain text), ``--url``, ``--html-dir`` and ``--warc``; then
``pipeline.inspect`` on the output. Also what the operator sees while it runs:
JSON logs, the TTY progress line, ``--quiet``.

The demo site (``pipeline/demo_site``) is served on loopback; saved pages and
the WARC archive are written here from its pages.
"""
from __future__ import annotations

import datetime as dt
import io
import json
import os
import pathlib
import pty
import subprocess
import sys
import threading

import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

ROOT = pathlib.Path(__file__).resolve().parents[2]
SITE = ROOT / "pipeline" / "demo_site"
EXPECTED = json.loads((SITE / "expected.json").read_text())
UTC = dt.timezone.utc
PUTIN = "econotimes/politics/putin-trump-skip-istanbul-summit.html"


def cli_env():
    return dict(os.environ, PYTHONPATH=str(ROOT))


def run_cli(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "pipeline", *map(str, args)], cwd=ROOT, env=cli_env(),
                          capture_output=True, text=True, timeout=timeout)


def inspect(*args):
    return subprocess.run([sys.executable, "-m", "pipeline.inspect", *map(str, args)], cwd=ROOT,
                          env=cli_env(), capture_output=True, text=True, timeout=120)


def articles(out):
    return ds.dataset(str(out), partitioning="hive").to_table().to_pylist()


def side_table(out, name):
    return [row for f in sorted(pathlib.Path(out, name).rglob("*.parquet")) for row in pq.read_table(f).to_pylist()]


def report_of(out):
    [path] = list(pathlib.Path(out, "_reports").glob("run-*.json"))
    assert path.with_suffix(".html").is_file()
    return json.loads(path.read_text())


def demo_page(path, base):
    return (SITE / path).read_bytes().replace(b"__BASE_URL__", base.encode())


def articles_of_feed(feed):
    return [link for link in EXPECTED["_feeds"][feed]
            if link and EXPECTED.get(link.split("?")[0], {}).get("kind") == "article"]


# --------------------------------------------------------------------------- TOML + hosts + inspect

@pytest.fixture(scope="module")
def toml_run(demo_site, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("toml")
    port = demo_site.rsplit(":", 1)[1]
    sources_file = tmp / "sources.toml"
    sources_file.write_text(f'''
# the demo site, two of its feeds and two pages
[hosts]
allow = ["127.0.0.1"]

[[feed]]
url = "{demo_site}/feeds/econotimes.xml"
tags = ["wire", "markets"]
poll_interval = "15m"

[[feed]]
url = "{demo_site}/feeds/ledger.atom"
topic = "world"          # every Ledger entry
tags = ["local"]

[[page]]
url = "{demo_site}/techwire/technology/voltra-solid-state-ebike-battery.html"

[[page]]                 # same server, but not a host on the allow list
url = "http://localhost:{port}/techwire/technology/budget-phones-bigger-batteries.html"
''')
    out = tmp / "out"
    result = run_cli("--output", out, "--sources", sources_file, "--allow-private-hosts", "--host-delay", "0")
    assert result.returncode == 0, result.stderr[-3000:]
    return demo_site, out, result


def test_toml_sources_topics_tags_and_host_lists(toml_run):
    base, out, result = toml_run
    rows = articles(out)
    by_path = {r["url"][len(base) + 1:]: r for r in rows if r["url"].startswith(base)}
    assert "techwire/technology/voltra-solid-state-ebike-battery.html" in by_path
    ledger = [r for r in rows if r["feed_url"] == f"{base}/feeds/ledger.atom"]
    assert ledger and all(r["topic"] == "world" and r["topic_source"] == "feed_config" for r in ledger)
    assert PUTIN in by_path and by_path[PUTIN]["topic"] == "politics"  # econotimes: no override
    dead = {r["url"]: r for r in side_table(out, "_dead_letters")}
    refused = [r for u, r in dead.items() if u.startswith("http://localhost:")]
    assert len(refused) == 1 and refused[0]["reason"] == "host_not_allowed" and refused[0]["stage"] == "sources"
    fig = report_of(out)["figures"]
    assert fig["articles"] == len(rows)
    econ = sum(1 for r in rows if r["feed_url"] == f"{base}/feeds/econotimes.xml")
    assert econ and fig["articles_per_tag"] == {"local": len(ledger), "markets": econ, "wire": econ}
    feeds = {f["url"]: f for f in fig["feeds"]}
    assert feeds[f"{base}/feeds/econotimes.xml"]["poll_interval"] == 900.0
    assert fig["dead_letters_by_reason"]["sources:host_not_allowed"] == 1
    assert "Articles per tag:" in result.stdout and "sources:host_not_allowed" in result.stdout


def test_inspect_answers_counts_entity_and_sql(toml_run):
    base, out, _ = toml_run
    rows = articles(out)
    counts = inspect(out)
    assert counts.returncode == 0, counts.stderr
    expected = {}
    for r in rows:
        expected[(r["topic"], r["date"])] = expected.get((r["topic"], r["date"]), 0) + 1
    table = [line.split() for line in counts.stdout.splitlines()[2:] if line and not line.startswith("(")]
    got = {(t, d): int(n) for t, d, n in (cells for cells in table if len(cells) == 3)}
    assert got == expected and f"{len(rows)} articles in" in counts.stdout

    entity = inspect(out, "--entity", "zelenskiy", "--format", "json")
    assert entity.returncode == 0, entity.stderr
    hits = [json.loads(line) for line in entity.stdout.splitlines()]
    assert hits and all("zelenskiy" in h["entity"].lower() for h in hits)
    assert any(h["url"].endswith(PUTIN) for h in hits)

    sql = inspect(out, "--sql", "SELECT reason, count(*) AS n FROM dead_letters GROUP BY 1 ORDER BY 1",
                  "--format", "csv")
    assert sql.returncode == 0, sql.stderr
    reasons = dict(line.split(",") for line in sql.stdout.splitlines()[1:])
    assert reasons["host_not_allowed"] == "1"
    assert sum(map(int, reasons.values())) == len(side_table(out, "_dead_letters"))
    dups = inspect(out, "--sql", "SELECT count(*) FROM duplicates")
    assert dups.returncode == 0 and f" {len(side_table(out, '_duplicates'))}" in dups.stdout

    bad = inspect(out, "--sql", "SELEC nothing")
    assert bad.returncode == 2 and bad.stderr.startswith("inspect: error:") and "Traceback" not in bad.stderr


# --------------------------------------------------------------------------- OPML + JSON logs

def test_opml_sources_with_json_logs(demo_site, tmp_path):
    opml = tmp_path / "subscriptions.opml"
    opml.write_text(f'''<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0"><head><title>demo</title></head><body>
  <outline text="Tech news">
    <outline type="rss" text="TechWire" xmlUrl="{demo_site}/feeds/techwire.xml"/>
  </outline>
  <outline text="Reading list">
    <outline type="rss" text="Ledger" xmlUrl="{demo_site}/feeds/ledger.atom"/>
  </outline>
</body></opml>
''')
    out = tmp_path / "out"
    result = run_cli("--output", out, "--sources", opml, "--allow-private-hosts", "--host-delay", "0",
                     "--log-format", "json", "--progress-interval", "0.5")
    assert result.returncode == 0, result.stderr[-3000:]
    rows = articles(out)
    tech = [r for r in rows if r["feed_url"] == f"{demo_site}/feeds/techwire.xml"]
    ledger = [r for r in rows if r["feed_url"] == f"{demo_site}/feeds/ledger.atom"]
    assert tech and all(r["topic"] == "technology" and r["topic_source"] == "feed_config" for r in tech)
    assert ledger and not all(r["topic_source"] == "feed_config" for r in ledger)  # "Reading list": no topic
    assert report_of(out)["figures"]["articles_per_tag"] == {
        "Reading list": len(ledger), "Tech news": len(tech)}
    lines = result.stderr.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("{"))
    records = [json.loads(line) for line in lines[first:] if line.strip()]  # every line after set-up is JSON
    progress = [r for r in records if r["logger"] == "newsbeam.progress"]
    assert progress and progress[-1]["progress"]["written_articles"] == len(rows)
    assert progress[-1]["progress"]["feeds_read"] == 2 and "pages/s" in progress[-1]["message"]


# --------------------------------------------------------------------------- text list + --url + TTY

def test_text_list_and_url_with_progress_on_a_terminal(demo_site, tmp_path):
    listing = tmp_path / "urls.txt"
    listing.write_text(f"# a plain list\n{demo_site}/feeds/techwire.xml   # TechWire\n\n"
                       f"page {demo_site}/ledger/politics/governor-signs-redistricting-commission-bill.html\n")
    out = tmp_path / "out"
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "pipeline", "--output", str(out), "--sources", str(listing),
                             "--url", f"{demo_site}/{PUTIN}", "--allow-private-hosts", "--host-delay", "0",
                             "--progress-interval", "0.3"],
                            cwd=ROOT, env=cli_env(), stdout=subprocess.PIPE, stderr=slave, text=True)
    os.close(slave)
    captured = io.BytesIO()

    def drain():
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:  # the child closed the terminal
                return
            if not data:
                return
            captured.write(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    stdout, _ = proc.communicate(timeout=300)
    reader.join(timeout=10)
    os.close(master)
    terminal = captured.getvalue().decode("utf-8", "replace")
    assert proc.returncode == 0, terminal[-3000:]
    rows = articles(out)
    urls = {r["url"] for r in rows}
    assert f"{demo_site}/{PUTIN}" in urls
    assert f"{demo_site}/ledger/politics/governor-signs-redistricting-commission-bill.html" in urls
    tech = [r for r in rows if r["feed_url"] == f"{demo_site}/feeds/techwire.xml"]
    assert len(tech) >= 6
    assert terminal.count("\r\x1b[K[") >= 2, terminal[-2000:]  # redrawn in place
    final = terminal.rsplit("\r\x1b[K", 1)[-1]
    assert final.startswith("[") and f"written {len(rows)}" in final and "pages/s" in final
    assert "newsbeam.progress" not in terminal  # a line on the terminal, not log records
    assert "Articles written:" in stdout


# --------------------------------------------------------------------------- saved pages + WARC

SAVED = ["ledger/sports/harbor-city-win-coastal-cup-final.html",
         "techwire/politics/senate-panel-advances-online-safety-bill.html"]
ARCHIVED = [PUTIN, "ledger/health/short-naps-memory-older-adults.html",
            "techwire/technology/developers-fork-quilldb-license-change.html"]
WARC_DATE = dt.datetime(2025, 5, 17, 6, 0, tzinfo=UTC)
SAVED_MTIME = dt.datetime(2025, 5, 18, 7, 30, tzinfo=UTC)


def write_demo_warc(path, base):
    stamp = WARC_DATE.strftime("%Y-%m-%dT%H:%M:%SZ")
    with open(path, "wb") as handle:
        writer = WARCWriter(handle, gzip=True)
        responses = [(f"{base}/{page}", "200 OK", "text/html; charset=utf-8", demo_page(page, base))
                     for page in ARCHIVED]
        responses += [(f"{base}/econotimes/files/report.pdf", "200 OK", "application/pdf",
                       (SITE / "econotimes/files/report.pdf").read_bytes()),
                      (f"{base}/econotimes/business/gone.html", "404 Not Found", "text/html", b"<h1>404</h1>")]
        for url, status, ctype, body in responses:
            http = StatusAndHeaders(status, [("Content-Type", ctype)], protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(url, "response", payload=io.BytesIO(body),
                                                          http_headers=http,
                                                          warc_headers_dict={"WARC-Date": stamp}))


def test_html_dir_and_warc_quietly(tmp_path):
    saved = tmp_path / "saved"
    for page in SAVED:
        target = saved / page
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(demo_page(page, "https://saved.example"))
        os.utime(target, (SAVED_MTIME.timestamp(), SAVED_MTIME.timestamp()))
    archives = tmp_path / "archives"
    archives.mkdir()
    write_demo_warc(archives / "news-00001.warc.gz", "https://archive.example")
    out = tmp_path / "out"
    result = run_cli("--output", out, "--html-dir", saved, "--warc", archives / "*.warc.gz", "--quiet")
    assert result.returncode == 0, result.stderr[-3000:]
    rows = {r["url"]: r for r in articles(out)}
    for page in SAVED:
        row = rows[f"https://saved.example/{page}"]
        assert row["fetched_at"] == SAVED_MTIME and row["title"] == EXPECTED[page]["title"]
    for page in ARCHIVED:
        row = rows[f"https://archive.example/{page}"]
        assert row["fetched_at"] == WARC_DATE, page
        assert row["title"] == EXPECTED[page]["title"] and row["source_domain"] == "archive.example"
    assert len(rows) == len(SAVED) + len(ARCHIVED)
    putin = rows[f"https://archive.example/{PUTIN}"]
    assert putin["date"] == "2025-05-15" and any(e["text"] == "Vladimir Putin" for e in putin["entities"])
    dead = {r["url"]: (r["stage"], r["reason"]) for r in side_table(out, "_dead_letters")}
    assert dead == {"https://archive.example/econotimes/files/report.pdf": ("fetch", "not_html"),
                    "https://archive.example/econotimes/business/gone.html": ("fetch", "http_4xx")}
    fresh = report_of(out)["figures"]["freshness_seconds"]
    assert fresh["articles_with_dates"] >= 4 and fresh["p50"] > 0
    # --quiet: the summary on stdout, no progress and no INFO logs on stderr
    assert "Articles written: 5" in result.stdout
    assert "progress" not in result.stderr and " INFO " not in result.stderr


# --------------------------------------------------------------------------- user mistakes

@pytest.mark.parametrize("files,args,message", [
    ({}, ["--warc", "{tmp}/missing.warc.gz"], "--warc {tmp}/missing.warc.gz does not exist"),
    ({"empty/readme.txt": "x"}, ["--warc", "{tmp}/empty"], "matches no WARC files"),
    ({"feeds.opml": '<opml version="2.0"><body>\n<outline xmlUrl="https://a.example/rss">\n</body></opml>'},
     ["--sources", "{tmp}/feeds.opml"], "feeds.opml line 3: invalid OPML"),
    ({"urls.txt": "# feeds\nhttps://a.example/rss\nnot a url at all\n"},
     ["--sources", "{tmp}/urls.txt"], "urls.txt line 3: expected one URL per line"),
    ({"s.toml": '[[feed]]\nurl = "https://a.example/rss"\n\n[hosts]\ndeny = ["https://b.example/"]\n'},
     ["--sources", "{tmp}/s.toml"], "s.toml line 5: [hosts] deny: 'https://b.example/' is not a host name"),
    ({}, ["--url", "https://a.example/x", "--log-format", "xml"], "invalid choice: 'xml'"),
])
def test_input_mistakes_are_one_line(tmp_path, files, args, message):
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    result = run_cli("--output", tmp_path / "out", *[a.format(tmp=tmp_path) for a in args])
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("newsbeam:")]
    assert len(lines) == 1 and message.format(tmp=tmp_path) in lines[0], result.stderr
    assert "Traceback" not in result.stderr and "usage:" not in result.stderr
