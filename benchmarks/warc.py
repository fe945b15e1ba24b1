"""Big WARC archives: a generated archive run as one job vs in chunks of record ranges.

    python -m benchmarks.warc --pages 4000 --chunk-pages 0,1000 --workers 1 \\
        --workdir /tmp/newsbeam-warc --json /tmp/warc.json

The archive (``WORKDIR/corpus<N>.warc.gz``) holds the :mod:`benchmarks.corpus` pages
(same seed as :mod:`benchmarks.memory`) as ``response`` records, each after its
``request`` record as in a Common Crawl WARC, one gzip member per record. Each run is
``python -m pipeline --warc ARCHIVE --quiet --workers W --chunk-pages N``, measured as
:mod:`benchmarks.memory` measures (peak RSS of the process tree, CPU seconds, wall).
``--base-root DIR`` also runs the same command from another checkout (e.g. main's
code, ``git archive main | tar -x -C DIR``) as the baseline of the same session.
Planning (the cut into ranges the CLI makes) is timed separately: seconds and bytes read
per cut, and per GiB of archive.
"""
from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import pathlib
import shutil
import sys
import tempfile
import time
from typing import Dict, List, Optional, Sequence

from benchmarks.memory import corpus_pages, report_of
from benchmarks.pipeline import ROOT, count_rows, loadavg, machine, run_measured

WHEN = "2025-05-20T06:00:00Z"


def write_archive(pages: pathlib.Path, path: pathlib.Path) -> Dict[str, int]:
    """Every ``*.html`` under ``pages`` (sorted) as a response record of ``https://<site>.example/<id>.html``."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter
    files = sorted(p for p in pages.rglob("*.html") if p.is_file())
    with open(path, "wb") as handle:
        writer = WARCWriter(handle, gzip=True)
        writer.write_record(writer.create_warcinfo_record(path.name, {"software": "benchmarks.warc"}))
        for page in files:
            rel = page.relative_to(pages).as_posix()
            url = f"https://{rel.split('/', 1)[0]}.example/{rel.split('/', 1)[-1]}"
            request = StatusAndHeaders(f"GET /{rel} HTTP/1.1", [("Host", url.split("/")[2])], is_http_request=True)
            writer.write_record(writer.create_warc_record(url, "request", payload=io.BytesIO(b""),
                                                          http_headers=request,
                                                          warc_headers_dict={"WARC-Date": WHEN}))
            http = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(url, "response", payload=io.BytesIO(page.read_bytes()),
                                                          http_headers=http,
                                                          warc_headers_dict={"WARC-Date": WHEN}))
    return {"records": 1 + 2 * len(files), "pages": len(files), "bytes": path.stat().st_size}


def archive(workdir: pathlib.Path, size: int, seed: int) -> pathlib.Path:
    """``workdir/corpus<size>.warc.gz``, written once."""
    path = workdir / f"corpus{size}.warc.gz"
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        write_archive(corpus_pages(workdir, size, seed), tmp)
        tmp.rename(path)
    return path


class _CountingFile(io.FileIO):
    read_bytes = 0

    def read(self, size=-1):
        data = super().read(size)
        _CountingFile.read_bytes += len(data)
        return data


def planning_cost(path: pathlib.Path, chunk_pages: int) -> Dict[str, object]:
    """The CLI's chunk plan of ``path`` at ``chunk_pages`` (``pipeline.chunks.plan``: sample
    bytes per page, cut into ranges): CPU seconds, and bytes read by the same steps."""
    from core import warc as core_warc
    from pipeline import chunks
    from pipeline.sources_file import Sources
    size = path.stat().st_size
    cpu = time.process_time()
    planned = chunks.plan(Sources(), (), chunks.warc_files([str(path)]), chunk_pages)
    cpu = time.process_time() - cpu
    _CountingFile.read_bytes = 0
    per_page = core_warc.bytes_per_page(str(path), size, core_warc.BYTES_PER_PAGE, opener=_CountingFile)
    sampled = _CountingFile.read_bytes
    total = size // per_page
    even = -(-total // -(-total // chunk_pages)) if total > chunk_pages else chunk_pages
    ranges = core_warc.split_ranges(str(path), even * per_page, size, opener=_CountingFile)
    gib = size / 2 ** 30
    return {"chunk_pages": chunk_pages, "chunks": len(planned), "weights": [c.weight for c in planned],
            "ranges": [str(r) for r in ranges], "archive_bytes": size, "bytes_per_page_sampled": per_page,
            "cpu_s": round(cpu, 4), "cpu_s_per_gib": round(cpu / gib, 3), "bytes_read_sampling": sampled,
            "bytes_read_cutting": _CountingFile.read_bytes - sampled}


def measure(path: pathlib.Path, workdir: pathlib.Path, workers: int, chunk_pages: str, root: pathlib.Path,
            label: str) -> Dict[str, object]:
    output = workdir / f"out-{label}-{workers}-{chunk_pages}"
    shutil.rmtree(output, ignore_errors=True)
    cmd = [sys.executable, "-m", "pipeline", "--warc", str(path), "--output", str(output), "--quiet",
           "--progress-interval", "0", "--workers", str(workers), "--chunk-pages", chunk_pages]
    env = dict(os.environ, PYTHONHASHSEED="0", PYTHONPATH=str(root))
    load_before = loadavg()
    measured = run_measured(cmd, env, workdir / f"log-{label}-{workers}-{chunk_pages}.txt", cwd=root)
    return {"code": label, "workers": workers, "chunk_pages": chunk_pages, **measured, "output": str(output),
            "rows": count_rows(str(output)), **report_of(output), "load_before": load_before,
            "load_after": loadavg(), "at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=4000, help="generated pages in the archive (default 4000)")
    parser.add_argument("--chunk-pages", default="0,1000", help="--chunk-pages values (default 0,1000)")
    parser.add_argument("--workers", default="1", help="--workers values (default 1)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--base-root", type=pathlib.Path, default=None,
                        help="another checkout to run the same commands from (the baseline)")
    parser.add_argument("--workdir", type=pathlib.Path, default=None, help="corpus, archive and outputs")
    parser.add_argument("--json", type=pathlib.Path, default=None, help="write the results here after each run")
    args = parser.parse_args(argv)
    workdir = args.workdir or pathlib.Path(tempfile.mkdtemp(prefix="newsbeam-warc-"))
    workdir.mkdir(parents=True, exist_ok=True)
    path = archive(workdir, args.pages, args.seed)
    chunk_values = [c for c in args.chunk_pages.split(",") if c]
    results: Dict[str, object] = {"machine": machine(), "archive": str(path), "bytes": path.stat().st_size,
                                  "planning": [planning_cost(path, int(c)) for c in chunk_values if int(c)],
                                  "runs": []}
    print(json.dumps(results["planning"]), file=sys.stderr, flush=True)
    roots: List[tuple] = [("branch", ROOT)] + ([("base", args.base_root)] if args.base_root else [])
    for label, root in roots:
        for workers in [int(w) for w in args.workers.split(",") if w]:
            for chunk_pages in chunk_values:
                run = measure(path, workdir, workers, chunk_pages, root, label)
                results["runs"].append(run)
                print(f"{label}: --workers {workers} --chunk-pages {chunk_pages}: peak {run['peak_rss_mib']:.0f} MiB "
                      f"{run['peak_rss_by_process_mib']}, {run['wall_s']:.0f} s wall, {run['cpu_s']:.0f} s CPU, "
                      f"chunks {run['chunks']}, rows {run['rows']}, load {run['load_before']}->{run['load_after']}",
                      file=sys.stderr, flush=True)
                if args.json:
                    args.json.write_text(json.dumps(results, indent=1, sort_keys=True, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
