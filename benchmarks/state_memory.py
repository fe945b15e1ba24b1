"""Peak memory of one run into a fresh output vs into an output holding a large ``_state``.

    python -m benchmarks.state_memory --pages 900 --state-pages 20000 --json /tmp/state_memory.json

A run reads the earlier runs' ``_state/index`` and ``_state/signatures``; what it keeps of
them should be bounded by what this run can match (its own URLs, ids, content hashes and
LSH buckets), not by the size of the output. Two measured runs of the same generated
pages (``benchmarks.corpus``, ``--seed``), as ``benchmarks.memory`` measures them (peak RSS
of the process tree, CPU seconds, ``--workers``):

- ``fresh``: into an empty output;
- ``state``: into an output whose ``_state`` holds ``--state-pages`` pages' worth of rows,
  made from the real rows of a run over ``--template-html`` (real pages, e.g.
  ``../shared/data/dev/extraction-fundus/pages``; default: ``--template-pages`` other
  generated pages, seed ``--seed + 1``) with new URLs, ids and content hashes (bodies and
  signatures kept), written as the pipeline writes them. Nothing in it names this run's
  pages. Generated pages share LSH buckets and anchors across seeds (one word model, ten
  templates: ~99 % of such a state falls in a 900-page run's buckets), so only real pages
  make a state this run mostly cannot match, as a real output's older days are.

``--code DIR``: run the pipeline of another checkout (e.g. the previous version) for a
before/after comparison in the same session; ``--keep`` leaves the outputs in ``--workdir``.
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import hashlib
import json
import pathlib
import shutil
import sys
import tempfile
from typing import Dict, List, Optional, Sequence

from benchmarks.memory import command, corpus_pages
from benchmarks.pipeline import ROOT, count_rows, loadavg, machine, run_measured


def _new_id(kind: str, i: int) -> str:
    return hashlib.sha256(f"state-memory\x1f{kind}\x1f{i}".encode()).hexdigest()[:32]


def synthetic_state(template: pathlib.Path, pages: int, template_pages: int, output: pathlib.Path) -> Dict[str, int]:
    """Write into ``output/_state`` ``pages`` pages' worth of index and signature rows cycled
    from ``template``'s (a run over ``template_pages`` pages), each under a new URL and id."""
    from schemas import arrow as arrow_schemas
    from schemas.records import IndexEntry
    from transforms import dedup, sink
    from transforms.minhash import NearDupConfig
    index = list(sink.read_index(str(template)))
    signatures = [entry for _, entry in dedup.read_evidence(
        str(template), {e.article_id: "" for e in dedup.read_signatures(str(template))}, NearDupConfig())]
    counts = {}
    for table, base in (("index", index), ("signatures", signatures)):
        rows = round(len(base) * pages / template_pages)
        made = []
        for i in range(rows):
            row = base[i % len(base)]
            if table == "index":
                made.append(IndexEntry(url=f"https://state-{i % 97}.example/{_new_id('url', i)}.html",
                                       article_id=_new_id("id", i), content_hash=_new_id("hash", i) * 2,
                                       kind=row.kind, written_at=row.written_at))
            else:
                made.append(dataclasses.replace(row, article_id=_new_id("id", i), copy_of=None))
        for start in range(0, rows, sink.MAX_ROWS_PER_FILE):
            part = arrow_schemas.rows_for(table, made[start:start + sink.MAX_ROWS_PER_FILE])
            sink.write_partition(str(output), table, "", part)
        counts[f"{table}_rows"] = rows
    return counts


def measure(pages: pathlib.Path, output: pathlib.Path, workers: int, code: pathlib.Path, log: pathlib.Path
            ) -> Dict[str, object]:
    load_before = loadavg()
    measured = run_measured(command(pages, output, workers, "0"), dict(PYTHONHASHSEED="0", **_env()), log,
                            cwd=code)
    return {**measured, "rows": count_rows(str(output)), "load_before": load_before, "load_after": loadavg(),
            "at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}


def _env() -> Dict[str, str]:
    import os
    return {k: v for k, v in os.environ.items() if k != "PYTHONHASHSEED"}


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=900, help="generated pages of the measured run")
    parser.add_argument("--state-pages", type=int, default=20000, help="pages' worth of rows in the large state")
    parser.add_argument("--template-pages", type=int, default=300, help="generated pages the rows are taken from")
    parser.add_argument("--template-html", type=pathlib.Path, default=None,
                        help="real pages (an --html-dir) the rows are taken from instead")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--code", type=pathlib.Path, default=ROOT, help="checkout whose pipeline runs")
    parser.add_argument("--workdir", type=pathlib.Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the outputs (fresh/, state/)")
    parser.add_argument("--runs", default="fresh,state", help="which runs (default fresh,state)")
    parser.add_argument("--json", type=pathlib.Path, default=None)
    args = parser.parse_args(argv)
    workdir = args.workdir or pathlib.Path(tempfile.mkdtemp(prefix="newsbeam-state-memory-"))
    workdir.mkdir(parents=True, exist_ok=True)
    pages = corpus_pages(workdir, args.pages, args.seed)
    template = workdir / (f"template-{args.template_html.name}" if args.template_html
                          else f"template-{args.template_pages}")
    if args.template_html:
        args.template_pages = sum(1 for f in args.template_html.rglob("*") if f.is_file())
    if not (template / "_state" / "signatures").exists():
        shutil.rmtree(template, ignore_errors=True)
        template_pages = args.template_html or corpus_pages(workdir / "template", args.template_pages, args.seed + 1)
        run_measured(command(template_pages, template, args.workers, "0"), None, workdir / "log-template.txt")
    results: Dict[str, object] = {"machine": machine(), "code": str(args.code), "pages": args.pages,
                                  "workers": args.workers, "runs": {}}
    for name in [r for r in args.runs.split(",") if r]:
        output = workdir / f"{name}-{args.code.name}"
        shutil.rmtree(output, ignore_errors=True)
        if name == "state":
            results["state"] = synthetic_state(template, args.state_pages, args.template_pages, output)
        run = measure(pages, output, args.workers, args.code, workdir / f"log-{name}-{args.code.name}.txt")
        results["runs"][name] = run
        print(f"{name:>5}: peak {run['peak_rss_mib']:.0f} MiB {run['peak_rss_by_process_mib']}, "
              f"{run['cpu_s']:.0f} CPU-s, {run['wall_s']:.0f} s wall, rows {run['rows']}, "
              f"load {run['load_before']}->{run['load_after']}", file=sys.stderr, flush=True)
        if not args.keep:
            shutil.rmtree(output, ignore_errors=True)
        if args.json:
            args.json.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    peaks = {f"{name}_peak_mib": round(run["peak_rss_mib"]) for name, run in results["runs"].items()}
    if len(peaks) == 2:
        peaks["state_over_fresh"] = round(peaks["state_peak_mib"] / peaks["fresh_peak_mib"], 3)
    print(json.dumps({**peaks, **results.get("state", {})}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
