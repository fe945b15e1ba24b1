"""The end-to-end benchmark at tiny size, so it cannot rot: the corpus is deterministic and
has the advertised mix, the plain-loop baseline (files and loopback HTTP) writes what the
pipeline writes, and ``python -m benchmarks.pipeline`` runs a pipeline variant end to end
and reports JSON."""
from __future__ import annotations

import json
import pathlib
import subprocess
import sys

from benchmarks import corpus
from benchmarks import pipeline as bench

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_corpus_is_deterministic_with_copies_and_broken_pages(tmp_path):
    one = corpus.generate(tmp_path / "one", pages=200, seed=3)
    two = corpus.generate(tmp_path / "two", pages=200, seed=3)
    files_one = sorted(p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("*.html"))
    assert len(files_one) == 200
    assert one == two
    for rel in files_one[::17]:
        assert (tmp_path / "one" / rel).read_bytes() == (tmp_path / "two" / rel).read_bytes()
    kinds = one["kinds"]
    broken = sum(kinds.get(k, 0) for k in corpus.BROKEN_KINDS)
    assert 15 <= kinds["copy"] <= 50 and 3 <= broken <= 20, kinds
    assert len(one["sites"]) == 10
    other = corpus.generate(tmp_path / "other", pages=200, seed=4)
    assert other["kinds"] != kinds or other["sites"] != one["sites"]


def test_baseline_from_files_and_over_http_agree(tmp_path):
    manifest = corpus.generate(tmp_path / "corpus", pages=16, seed=5)
    pages = tmp_path / "corpus" / "pages"
    files = bench.run_baseline(str(tmp_path / "out-files"), html_dir=str(pages))
    started = corpus.serve(pages, manifest)
    try:
        http = bench.run_baseline(str(tmp_path / "out-http"), feeds=started["feeds"])
    finally:
        for server in started["servers"]:
            server.shutdown()
            server.server_close()
    for result in (files, http):
        assert result["pages"] + result["dead_letters"] >= 16
        assert result["articles"] > 0 and result["words"] > 400 * result["articles"] * 0.8
        assert set(bench.STAGES) <= set(result["stages"])
    assert (files["articles"], files["duplicates"]) == (http["articles"], http["duplicates"])
    rows = bench.count_rows(str(tmp_path / "out-files"))
    assert rows == {"articles": files["articles"], "duplicates": files["duplicates"],
                    "dead_letters": files["dead_letters"]}


def test_benchmark_command_runs_the_pipeline_over_http(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, "-m", "benchmarks.pipeline", "--size", "8", "--modes", "http",
                           "--variants", "b", "--json", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(out.read_text())
    entry = result["summary"]["http"]["b"]
    assert entry["rows"]["articles"] > 0 and entry["articles_per_s"] > 0
    assert entry["peak_rss_mib"] > 50  # the process tree was really measured
    assert result["machine"]["nproc"] >= 1 and len(result["load_before"]) == 3
    assert "pipeline, in-process" in proc.stdout
