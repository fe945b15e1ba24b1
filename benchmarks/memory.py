"""Peak memory of the whole process tree against input size: chunked runs vs one job.

    python -m benchmarks.memory --sizes 600,4000 --workers 1,2 --chunk-pages default,0 \\
        --json /tmp/memory.json

Each run is ``python -m pipeline --html-dir <generated pages> --quiet`` with
``--workers W`` and ``--chunk-pages N`` (``default``: the CLI's default), measured
as ``benchmarks.pipeline`` measures (peak RSS of the process tree sampled every
0.1 s, by process kind; wall; CPU seconds of the tree). Generated pages come from
``benchmarks.corpus`` (same seed, so 600 pages are the first 600 of 4,000 only in
kind, not in identity). Results are appended to ``--json`` after every run, so a
long series (20,000 pages takes ~25 min a run) keeps what finished. A chunked run's
peak is also kept per chunk (``chunk_peaks``), and each chunk's peak is appended to
``WORKDIR/chunks-SIZE-WORKERS-CHUNKS.jsonl`` as the chunk ends, so a run stopped
early still tells its chunks. ``--keep-output`` keeps the outputs for
``python -m benchmarks.same_rows``. ``--html-dir DIR`` measures a given folder instead
(e.g. one site's pages; its size is named ``dir``); ``--code CHECKOUT`` runs the
pipeline from another checkout (e.g. a ``git worktree`` of main), for a before/after
under the same load (``--label`` keeps their outputs apart).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import pathlib
import shutil
import sys
import tempfile
import time
from typing import Dict, List, Optional, Sequence

from benchmarks.pipeline import count_rows, loadavg, machine, run_measured


def corpus_pages(root: pathlib.Path, size: int, seed: int) -> pathlib.Path:
    """``root/corpus<size>/pages``, generated once."""
    from benchmarks import corpus
    folder = root / f"corpus{size}"
    manifest = folder / "manifest.json"
    if not manifest.exists() or json.loads(manifest.read_text()).get("pages") != size:
        shutil.rmtree(folder, ignore_errors=True)
        corpus.generate(folder, size, seed)
    return folder / "pages"


def command(pages: pathlib.Path, output: pathlib.Path, workers: int, chunk_pages: str) -> List[str]:
    cmd = [sys.executable, "-m", "pipeline", "--html-dir", str(pages), "--output", str(output),
           "--quiet", "--progress-interval", "0", "--workers", str(workers)]
    return cmd + ([] if chunk_pages == "default" else ["--chunk-pages", chunk_pages])


def report_of(output: pathlib.Path) -> Dict[str, object]:
    [path] = sorted((output / "_reports").glob("run-*.json"))
    report = json.loads(path.read_text())
    return {"chunks": report.get("chunks"), "runner": report.get("runner"),
            "accounting": report.get("figures", {}).get("accounting")}


class ChunkPeaks:
    """Peak tree RSS (and its parts) per chunk, keyed by how many chunk manifests the
    run has published in ``_reports`` (chunk k runs while k-1 are there). Each chunk's
    peak is appended to ``live`` as it ends, so a run stopped early keeps its chunks."""

    def __init__(self, output: pathlib.Path, live: Optional[pathlib.Path] = None):
        self.output, self.live = output, live
        self.peaks: List[Dict[str, object]] = []
        self._checked = 0.0

    def _published(self) -> int:
        return len(list((self.output / "_reports").glob("run-*-chunk*.json")))

    def sample(self, total: int, parts: Dict[str, int]) -> None:
        now = time.monotonic()
        if now - self._checked >= 1.0 or not self.peaks:  # a glob a second is enough
            self._checked = now
            done = self._published()
            while len(self.peaks) <= done:
                if self.peaks and self.live:
                    self._write_live(self.peaks[-1])
                self.peaks.append({"chunk": len(self.peaks) + 1, "peak_rss_mib": 0.0, "by_process_mib": {}})
        current = self.peaks[-1]
        if total / 2**20 > current["peak_rss_mib"]:
            current["peak_rss_mib"] = round(total / 2**20, 1)
            current["by_process_mib"] = {k: round(v / 2**20) for k, v in sorted(parts.items())}

    def _write_live(self, peak: Dict[str, object]) -> None:
        with open(self.live, "a") as handle:
            handle.write(json.dumps(peak, sort_keys=True) + "\n")


def measure(pages: pathlib.Path, workdir: pathlib.Path, size, workers: int, chunk_pages: str,
            keep: bool = False, code: Optional[pathlib.Path] = None, label: str = "") -> Dict[str, object]:
    name = f"{label}{size}-{workers}-{chunk_pages}"
    output = workdir / f"out-{name}"
    shutil.rmtree(output, ignore_errors=True)
    log = workdir / f"log-{name}.txt"
    env = dict(os.environ, PYTHONHASHSEED="0")
    if code is not None:  # that checkout's packages first, also in the run's child processes
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(code), env.get("PYTHONPATH")]))
    load_before = loadavg()
    live = workdir / f"chunks-{name}.jsonl"
    live.unlink(missing_ok=True)
    chunk_peaks = ChunkPeaks(output, live)
    measured = run_measured(command(pages, output, workers, chunk_pages), env, log,
                            on_sample=chunk_peaks.sample, **({"cwd": code} if code else {}))
    if chunk_peaks.peaks:
        chunk_peaks._write_live(chunk_peaks.peaks[-1])
    run = {"size": size, "code": str(code or ""), "workers": workers, "chunk_pages": chunk_pages, **measured,
           "chunk_peaks_mib": [p["peak_rss_mib"] for p in chunk_peaks.peaks],
           "chunk_peaks": chunk_peaks.peaks,
           "rows": count_rows(str(output)), **report_of(output), "load_before": load_before,
           "load_after": loadavg(), "at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
    if not keep:
        shutil.rmtree(output, ignore_errors=True)
    return run


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="600,4000", help="generated pages per run (default 600,4000)")
    parser.add_argument("--workers", default="1,2", help="--workers values (default 1,2)")
    parser.add_argument("--chunk-pages", default="default,0",
                        help="--chunk-pages values; 'default' = the CLI's default (default: default,0)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workdir", type=pathlib.Path, default=None, help="corpora and outputs (default: a temp dir)")
    parser.add_argument("--json", type=pathlib.Path, default=None, help="append each run's result here")
    parser.add_argument("--keep-output", action="store_true",
                        help="keep each run's output (WORKDIR/out-SIZE-WORKERS-CHUNKS) for benchmarks.same_rows")
    parser.add_argument("--html-dir", type=pathlib.Path, default=None,
                        help="measure this folder of pages instead of generated corpora (--sizes ignored)")
    parser.add_argument("--code", type=pathlib.Path, default=None,
                        help="run the pipeline from this checkout (default: this one)")
    parser.add_argument("--label", default="", help="prefix of the outputs' and logs' names in WORKDIR")
    args = parser.parse_args(argv)
    workdir = args.workdir or pathlib.Path(tempfile.mkdtemp(prefix="newsbeam-memory-"))
    workdir.mkdir(parents=True, exist_ok=True)
    results: Dict[str, object] = {"machine": machine(), "runs": []}
    sizes = ["dir"] if args.html_dir else [int(s) for s in args.sizes.split(",") if s]
    for size in sizes:
        pages = args.html_dir.resolve() if args.html_dir else corpus_pages(workdir, size, args.seed)
        for workers in [int(w) for w in args.workers.split(",") if w]:
            for chunk_pages in [c for c in args.chunk_pages.split(",") if c]:
                started = time.perf_counter()
                run = measure(pages, workdir, size, workers, chunk_pages, args.keep_output,
                              args.code.resolve() if args.code else None, args.label)
                results["runs"].append(run)
                print(f"{args.label}{size:>6} pages, --workers {workers}, --chunk-pages {chunk_pages:>7}: "
                      f"peak {run['peak_rss_mib']:.0f} MiB {run['peak_rss_by_process_mib']}, "
                      f"{run['wall_s']:.0f} s wall, {run['cpu_s']:.0f} s CPU, chunks {run['chunks']}, "
                      f"rows {run['rows']}, chunk peaks {run['chunk_peaks_mib']}, load {run['load_before']}->{run['load_after']} "
                      f"({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)
                if args.json:
                    args.json.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
