"""A later batch into the same output: syndicated copies of a story an earlier
run wrote are recorded as near duplicates of it (via ``DIR/_state/signatures``),
not written again; and two workers give the same clusters as one."""
from __future__ import annotations

import pathlib

import pyarrow.dataset as ds
import pyarrow.parquet as pq

from tests.e2e.test_demo_pipeline import PAGES, _path, run_cli

ORIGINAL = "econotimes/business/santos-port-strike-strands-shipments.html"
COPIES = sorted(p for p, e in PAGES.items() if e["kind"] == f"near_duplicate_of:{ORIGINAL}")


def _rows(out):
    return ds.dataset(str(out), partitioning="hive").to_table().to_pylist()


def _side(out, name):
    return [r for f in sorted(pathlib.Path(out, name).rglob("*.parquet")) for r in pq.read_table(f).to_pylist()]


def test_copies_in_a_later_run_point_at_the_story_already_written(demo_site, tmp_path):
    out = tmp_path / "out"
    common = ["--output", str(out), "--allow-private-hosts", "--host-delay", "0", "--quiet"]
    first = run_cli(*common, "--url", f"{demo_site}/{ORIGINAL}")
    assert first.returncode == 0, first.stderr[-2000:]
    [original] = _rows(out)
    assert len(_side(out, "_state/signatures")) == 1
    second = run_cli(*common, *[a for c in COPIES for a in ("--url", f"{demo_site}/{c}")],
                     "--direct_running_mode=multi_processing", "--direct_num_workers=2")
    assert second.returncode == 0, second.stderr[-2000:]
    assert [r["article_id"] for r in _rows(out)] == [original["article_id"]]
    dups = {_path(r["url"], demo_site): r for r in _side(out, "_duplicates")}
    assert sorted(dups) == COPIES
    assert all(d["kind"] == "near" and d["duplicate_of"] == original["article_id"] for d in dups.values())


def test_out_of_range_near_duplicate_flags_are_usage_errors(tmp_path):
    for flag, value in (("--lsh-bands", "0"), ("--near-dup-threshold", "1.5"), ("--shingle-size", "0")):
        result = run_cli("--output", str(tmp_path / "o"), "--url", "https://example.com/a", flag, value)
        assert result.returncode == 2 and flag in result.stderr, (flag, result.stderr[-500:])


def test_clusters_view_counts_copies_found_by_later_runs(demo_site, tmp_path):
    """Three batch runs: the story, then one copy, then the other. The article row keeps the
    size it was written with; ``clusters`` (pipeline.inspect) gives the current size and sources."""
    from pipeline import inspect
    out = tmp_path / "out"
    common = ["--output", str(out), "--allow-private-hosts", "--host-delay", "0", "--quiet"]
    for page in (ORIGINAL, *COPIES):
        result = run_cli(*common, "--url", f"{demo_site}/{page}")
        assert result.returncode == 0, result.stderr[-2000:]
    [original] = _rows(out)
    assert original["cluster_size"] == 1
    con = inspect.connect(str(out))
    rows = con.execute("SELECT article_id, cluster_size, cluster_sources, cluster_size_when_written "
                       "FROM clusters").fetchall()
    domains = sorted({urls_domain(f"{demo_site}/{p}") for p in (ORIGINAL, *COPIES)})
    assert rows == [(original["article_id"], 3, domains, 1)]


def urls_domain(url):
    from transforms.urls import domain_of
    return domain_of(url)
