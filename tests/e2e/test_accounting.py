"""Nothing lost: inputs = articles + duplicates + dead letters (+ already written), by URL.

The CLI runs on the demo site; the test recomputes the invariant itself from the
files written (Parquet read back with pyarrow) and the feeds' entry links (parsed
with our feed parser), and checks it against the run summary's ``unaccounted: 0``.
"""
from __future__ import annotations

import json
import pathlib
import re
import urllib.request

import pyarrow.parquet as pq
import pytest

from schemas.records import FeedRequest
from tests.e2e.test_demo_pipeline import EXPECTED, feed_args, run_cli
from transforms import accounting, feeds

SUMMARY = re.compile(r"Accounting by input URL: (\d+) inputs = (\d+) articles \+ (\d+) duplicates \+ "
                     r"(\d+) dead letters \+ (\d+) already written; unaccounted: (\d+)")


def _rows(out: pathlib.Path, folder: str):
    root = out / folder if folder else out
    files = [f for f in sorted(root.rglob("*.parquet"))
             if folder or not any(part.startswith("_") for part in f.relative_to(out).parts)]
    return [row for f in files for row in pq.read_table(f).to_pylist()]


def _entry_links(base: str):
    links = set()
    for feed in sorted(EXPECTED["_feeds"]):
        url = f"{base}/{feed}"
        content = urllib.request.urlopen(url, timeout=10).read()
        requests_, dead = feeds.parse_feed(content, FeedRequest(url=url), base_url=url)
        links |= {r.url for r in requests_} | {d.url for d in dead}
    return links


def recomputed(out: pathlib.Path, inputs, lineage=()):
    outcomes = [(r["url"], accounting.ARTICLE) for r in _rows(out, "")]
    outcomes += [(r["canonical_url"], accounting.ARTICLE) for r in _rows(out, "")]
    outcomes += [(r["url"], accounting.DUPLICATE) for r in _rows(out, "_duplicates")]
    outcomes += [(r["url"], accounting.DEAD_LETTER) for r in _rows(out, "_dead_letters")]
    return accounting.account(inputs, lineage, outcomes)


@pytest.fixture(scope="module")
def two_runs(demo_site, tmp_path_factory):
    out = tmp_path_factory.mktemp("accounting") / "out"
    args = ["--output", str(out), "--allow-private-hosts", "--host-delay", "0", *feed_args(demo_site)]
    first = run_cli(*args)
    assert first.returncode == 0, first.stderr[-3000:]
    # The second run reads the feeds in full again (no conditional-GET state), so
    # every entry is an input again and must be "already written".
    for state in (out / "_state" / "feeds").glob("*.json"):
        state.unlink()
    second = run_cli(*args)
    assert second.returncode == 0, second.stderr[-3000:]
    return demo_site, out, first, second


def _report(out: pathlib.Path, stdout: str):
    path = re.search(r"figures: (\S+\.json)\)", stdout).group(1)
    return json.loads(pathlib.Path(path).read_text())["figures"]["accounting"]


def test_demo_every_input_is_accounted_for(two_runs):
    base, out, first, _second = two_runs
    match = SUMMARY.search(first.stdout)
    assert match, first.stdout
    inputs, articles, duplicates, dead, already, unaccounted = map(int, match.groups())
    assert unaccounted == 0
    assert inputs == articles + duplicates + dead + already
    assert already == 0 and articles > 0 and duplicates > 0 and dead > 0
    # Independently: the feeds' entries, looked up in the files written.
    links = _entry_links(base)
    assert len(links) == inputs
    mine = recomputed(out, links)
    # Redirected/canonicalised pages resolve only through lineage; all others directly.
    assert mine["unaccounted"] <= 2, mine["unaccounted_examples"]
    figures = _report(out, first.stdout)
    assert figures["unaccounted"] == 0 and figures["inputs"] == inputs


def test_demo_rerun_is_all_already_written(two_runs):
    _base, _out, first, second = two_runs
    one = list(map(int, SUMMARY.search(first.stdout).groups()))
    two = list(map(int, SUMMARY.search(second.stdout).groups()))
    assert two[0] == one[0]  # the same inputs
    assert two[5] == 0 and two[1] == 0  # nothing lost, nothing written again as an article
    assert two[4] > 0 and two[0] == sum(two[1:5])


def test_pure_accounting_finds_a_lost_input():
    figures = accounting.account(["a", "b", "c", "r"], [("r", "final")],
                                 [("a", accounting.ARTICLE), ("b", accounting.DEAD_LETTER),
                                  ("final", accounting.DUPLICATE)])
    assert figures["unaccounted"] == 1 and figures["unaccounted_examples"] == ["c"]
    assert figures["duplicates"] == 1 and figures["inputs"] == 4


# --------------------------------------------------------------------------- one count, every case

_STORIES = {
    "harbour": ("Harbour board approves the sea wall budget",
                "The harbour board voted on Tuesday to fund the north sea wall after two winters of flooding "
                "damaged the promenade and several boat sheds. Members said the repairs would start in "
                "spring and take about eighteen months. The budget of 4.2 million includes a new drainage "
                "channel behind the beach huts. Residents who attended the meeting asked for the footpath "
                "to stay open during the works, and the chair promised a temporary route along the car park. "
                "Fishermen welcomed the decision but warned that the slipway also needs attention soon."),
    "library": ("Library opens on Sundays from next month",
                "The town library will open on Sunday afternoons from next month, the council said, after a "
                "survey found that working parents and students could rarely visit during the week. The "
                "extra hours are paid for by cutting one late evening, when visits were lowest. Staff will "
                "run a homework club and a repair cafe on alternate weeks. The head librarian said the "
                "change was a trial for six months and that visitor numbers would decide whether it stays. "
                "Volunteers from the reading group have offered to help with the children's corner."),
}


def _page(story: str, canonical: str, tracker_link: bool = True) -> str:
    title, text = _STORIES[story]
    sentences = text.split(". ")
    # A whitespace-only link inside the text: trafilatura logs "empty link: …" for it.
    link = ' <a href="https://example.org/more"> </a>' if tracker_link else ""
    paragraphs = "".join(f"<p>{s.strip('.')}{link if i == 2 else ''}.</p>" for i, s in enumerate(sentences))
    return (f'<html><head><title>{title}</title><link rel="canonical" href="{canonical}">'
            f'<meta property="article:published_time" content="2025-05-14T08:00:00Z"></head>'
            f'<body><article><h1>{title}</h1>{paragraphs}</article></body></html>')


@pytest.fixture(scope="module")
def collision_run(tmp_path_factory):
    """Saved pages: one story under two file names (same canonical URL), a second
    story, an exact copy of it under its own canonical URL, and a stub (a dead
    letter); run with --quiet."""
    root = tmp_path_factory.mktemp("collisions")
    pages = root / "pages"
    (pages / "a").mkdir(parents=True)
    (pages / "b").mkdir()
    (pages / "a" / "harbour.html").write_text(_page("harbour", "https://example.org/news/harbour"))
    (pages / "b" / "harbour-saved-again.html").write_text(_page("harbour", "https://example.org/news/harbour"))
    (pages / "a" / "library.html").write_text(_page("library", "https://example.org/news/library"))
    (pages / "b" / "library-mirror.html").write_text(_page("library", "https://mirror.example.net/library"))
    (pages / "a" / "stub.html").write_text('<html><head><title>Soon</title></head><body><p>Coming soon.</p></body></html>')
    out = root / "out"
    result = run_cli("--html-dir", str(pages), "--output", str(out), "--quiet")
    assert result.returncode == 0, result.stderr[-3000:]
    return pages, out, result


def test_canonical_collisions_are_counted_once(collision_run):
    pages, out, result = collision_run
    match = SUMMARY.search(result.stdout)
    assert match, result.stdout
    inputs, articles, duplicates, dead, already, unaccounted = map(int, match.groups())
    assert (inputs, unaccounted, already) == (5, 0, 0)
    written, copies, failed = _rows(out, ""), _rows(out, "_duplicates"), _rows(out, "_dead_letters")
    # The accounting, the summary's table counts, the report and the files agree.
    assert (articles, duplicates, dead) == (len(written), len(copies), len(failed)) == (2, 2, 1)
    assert f"Articles written: {len(written)}" in result.stdout
    assert f"Duplicates recorded: {len(copies)}" in result.stdout
    assert f"Dead letters: {len(failed)}" in result.stdout
    figures = _report(out, result.stdout)
    assert {k: figures[k] for k in ("articles", "duplicates", "dead_letters")} == \
        {"articles": 2, "duplicates": 2, "dead_letters": 1}
    # No duplicate row points at itself; the saved page under a second name is
    # recorded under its own file URL.
    assert all(c["article_id"] != c["duplicate_of"] for c in copies)
    ids = {r["article_id"] for r in written}
    assert all(c["duplicate_of"] in ids for c in copies)
    urls = {c["url"]: c["kind"] for c in copies}
    assert sorted(urls.values()) == ["exact", "url"]
    saved_again = next(u for u, k in urls.items() if k == "url")
    assert saved_again.startswith("file://") and saved_again.endswith("harbour-saved-again.html")


def test_quiet_prints_the_summary_alone(collision_run):
    _pages, out, result = collision_run
    assert result.stderr.strip() == ""
    assert result.stdout.startswith("newsbeam run ")
    # The library warnings are counted by kind, not printed one by one.
    assert re.search(r"Library warnings: \d+ in \d+ kinds", result.stdout), result.stdout
    assert re.search(r"^ +[1-9]\d*  trafilatura: empty link: … …$", result.stdout, re.M), result.stdout
    path = re.search(r"figures: (\S+\.json)\)", result.stdout).group(1)
    warnings = json.loads(pathlib.Path(path).read_text())["figures"]["warnings"]
    counted = {w["kind"]: w["count"] for w in warnings}
    assert counted.get("trafilatura: empty link: … …", 0) >= 4  # one link in each of 4 pages


def test_pure_accounting_prefers_what_is_recorded_under_the_input():
    # Two inputs end at one page URL (a redirect): the representative came from
    # "r" (its page URL is "v", weakly), the other input "v" is a duplicate.
    figures = accounting.account(["r", "v"], [("r", "v")],
                                 [("r", accounting.ARTICLE), ("v", accounting.ARTICLE_PAGE),
                                  ("v", accounting.DUPLICATE)])
    assert (figures["articles"], figures["duplicates"], figures["unaccounted"]) == (1, 1, 0)
    # A page whose canonical URL is another page's: both direct, no double count.
    figures = accounting.account(["a", "b"], [], [("b", accounting.ARTICLE), ("a", accounting.DUPLICATE)])
    assert (figures["articles"], figures["duplicates"]) == (1, 1)
    # Found in place by the sink (a rerun after a stop): already written, via lineage too.
    figures = accounting.account(["f"], [("f", "u")], [("u", accounting.PRESENT), ("f", accounting.ARTICLE)])
    assert figures["already_written"] == 1


def test_redirects_and_a_canonical_link_to_another_page_count_once(http_server, tmp_path):
    """Over HTTP: /old redirects to /news/harbour.html, which is also requested
    directly; /news/library.html declares /news/harbour.html as its canonical URL.
    Three inputs, one article, two duplicates — in the accounting, the summary,
    the report and the tables alike."""
    harbour = http_server.url("/news/harbour.html")
    http_server.add_body("/news/harbour.html", _page("harbour", harbour, tracker_link=False).encode())
    http_server.add_body("/news/library.html", _page("library", harbour, tracker_link=False).encode())
    http_server.add_body("/old", b"", status=301, headers={"Location": harbour})
    out = tmp_path / "out"
    result = run_cli("--output", str(out), "--allow-private-hosts", "--host-delay", "0", "--quiet",
                     "--url", http_server.url("/old"), "--url", harbour,
                     "--url", http_server.url("/news/library.html"))
    assert result.returncode == 0, result.stderr[-3000:]
    inputs, articles, duplicates, dead, already, unaccounted = map(int, SUMMARY.search(result.stdout).groups())
    written, copies = _rows(out, ""), _rows(out, "_duplicates")
    assert (inputs, articles, duplicates, dead, already, unaccounted) == (3, 1, 2, 0, 0, 0)
    assert (len(written), len(copies)) == (1, 2)
    assert "Articles written: 1" in result.stdout and "Duplicates recorded: 2" in result.stdout
    assert all(c["article_id"] != c["duplicate_of"] == written[0]["article_id"] for c in copies)
    # Each copy under its own input URL: the redirected request under /old.
    assert {c["url"] for c in copies} | {written[0]["url"]} == \
        {http_server.url("/old"), harbour, http_server.url("/news/library.html")}
