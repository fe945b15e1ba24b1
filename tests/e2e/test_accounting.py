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
