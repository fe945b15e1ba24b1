"""Same pages, same rows on every runner (``python -m benchmarks.determinism``).

Lays the real pages of ``../shared/data/dev`` (``extraction-fundus`` and
``dedup-spotsigs``) out as one ``--html-dir`` — ``--copies`` times, each copy
under its own folder (copies keep their modification time, so ``fetched_at``
is the same), which gives canonical-URL collisions and exact copies on top of
the real syndication — then runs the CLI on it with several runners, each into
a fresh output, and compares what they wrote:

- articles: ``article_id`` -> (url, content_hash of the body, body, cluster
  membership = sorted member URLs via ``_duplicates.duplicate_of``);
- duplicates: (url, article_id, duplicate_of, kind);
- dead letters: (url, stage, reason).

Prints one line per run (counts, wall time, accounting line) and, per pair of
runs, how many keys differ, with examples. Exit 1 if any run differs from the
first. ``--quiet-lines`` also counts the lines the first run printed (it runs
with ``--quiet``).

Runs: ``inprocess`` (default runner), ``mp2`` (``--direct_running_mode=multi_processing
--direct_num_workers=2``), ``rerun`` (in-process again, fresh output),
``portable`` (``PortableRunner --job_endpoint=embed --environment_type=LOOPBACK``).
"""
from __future__ import annotations

import argparse
import collections
import gzip
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Sequence, Tuple

import pyarrow.dataset as ds

ROOT = pathlib.Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "dev"
SETS = ("extraction-fundus", "dedup-spotsigs")
RUNS = {
    "inprocess": [],
    "mp2": ["--direct_running_mode=multi_processing", "--direct_num_workers=2"],
    "rerun": [],
    "portable": ["--runner=PortableRunner", "--job_endpoint=embed", "--environment_type=LOOPBACK"],
}


def lay_out(data: pathlib.Path, target: pathlib.Path, copies: int, limit: int = 0) -> int:
    """Copy the pages of the real sets into ``target/c<k>/<set>/…`` (mtime kept);
    returns the number of files. ``limit`` keeps the first N pages of each set."""
    count = 0
    for copy in range(copies):
        for name in SETS:
            pages = sorted(p for p in (data / name / "pages").rglob("*") if p.is_file())
            for page in pages[:limit or None]:
                rel = page.relative_to(data / name / "pages")
                dest = target / f"c{copy}" / name / rel
                if not dest.name.lower().endswith((".html", ".htm", ".html.gz", ".htm.gz")):
                    dest = dest.with_name(dest.name + ".html")
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(page, dest)
                count += 1
    return count


def _table(path: pathlib.Path) -> List[dict]:
    if not path.exists():
        return []
    files = sorted(str(p) for p in path.rglob("*.parquet") if "/." not in str(p))
    if not files:
        return []
    return ds.dataset(files, format="parquet", partitioning="hive").to_table().to_pylist()


def snapshot(output: pathlib.Path) -> Dict[str, dict]:
    """What a run wrote, keyed for comparison (no timestamps)."""
    articles = []
    for part in sorted(output.glob("topic=*")):
        articles += _table(part)
    duplicates = _table(output / "_duplicates")
    dead = _table(output / "_dead_letters")
    members: Dict[str, List[str]] = collections.defaultdict(list)
    for d in duplicates:
        members[d["duplicate_of"]].append(d["url"])
    return {
        "articles": {a["article_id"]: (a["url"], a["content_hash"], a["body"], a["cluster_size"],
                                       tuple(sorted(members.get(a["article_id"], ()))))
                     for a in articles},
        "duplicates": {(d["url"], d["article_id"], d["duplicate_of"], d["kind"]): 1 for d in duplicates},
        "dead_letters": {(d["url"], d["stage"], d["reason"]): 1 for d in dead},
    }


def diff(a: Dict[str, dict], b: Dict[str, dict]) -> Dict[str, Tuple[int, list]]:
    out = {}
    for table in a:
        keys = set(a[table]) | set(b[table])
        bad = sorted((k for k in keys if a[table].get(k) != b[table].get(k)), key=str)
        out[table] = (len(bad), [str(k)[:160] for k in bad[:3]])
    return out


def run_cli(pages: pathlib.Path, output: pathlib.Path, extra: Sequence[str], quiet: bool
            ) -> Tuple[float, List[str], int]:
    cmd = [sys.executable, "-m", "pipeline", "--html-dir", str(pages), "--output", str(output),
           *(["--quiet"] if quiet else []), *extra]
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                          env=dict(os.environ, PYTHONUNBUFFERED="1"))
    wall = time.monotonic() - started
    lines = (proc.stdout + proc.stderr).splitlines()
    if proc.returncode != 0:
        print("\n".join(lines[-30:]), file=sys.stderr)
    return wall, lines, proc.returncode


def main(argv: Sequence[str] = ()) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=pathlib.Path, default=DEFAULT_DATA)
    parser.add_argument("--copies", type=int, default=3, help="lay the pages out this many times")
    parser.add_argument("--limit", type=int, default=0, help="first N pages of each set (0: all)")
    parser.add_argument("--runs", default="inprocess,mp2,rerun", help=f"comma list of {sorted(RUNS)}")
    parser.add_argument("--keep", type=pathlib.Path, help="keep pages and outputs under this folder")
    parser.add_argument("--json", type=pathlib.Path, help="write the figures here")
    parser.add_argument("--chunk-pages", type=int, default=None,
                        help="passed to every run (0: one job; default: the CLI's chunking)")
    args = parser.parse_args(list(argv) or None)
    work = args.keep or pathlib.Path(tempfile.mkdtemp(prefix="newsbeam-determinism-"))
    pages = work / "pages"
    if pages.exists():
        shutil.rmtree(pages)
    n = lay_out(args.data, pages, args.copies, args.limit)
    print(f"{n} saved pages ({args.copies} copies of {', '.join(SETS)}) in {pages}")
    snaps, figures = {}, {"pages": n, "runs": {}}
    for i, name in enumerate(args.runs.split(",")):
        output = work / f"out-{name}"
        if output.exists():
            shutil.rmtree(output)
        chunking = [] if args.chunk_pages is None else [f"--chunk-pages={args.chunk_pages}"]
        wall, lines, code = run_cli(pages, output, [*RUNS[name], *chunking], quiet=True)
        (work / f"out-{name}.log").write_text("\n".join(lines) + "\n")
        snaps[name] = snapshot(output)
        accounting = next((l for l in lines if l.startswith("Accounting by input URL")), "")
        written = next((l for l in lines if l.startswith("Articles written")), "")
        print(f"{name:10s} exit {code} wall {wall:6.1f} s  articles {len(snaps[name]['articles'])} "
              f"duplicates {len(snaps[name]['duplicates'])} dead letters {len(snaps[name]['dead_letters'])} "
              f"| printed {len(lines)} lines | {written} | {accounting}")
        figures["runs"][name] = {"exit": code, "wall_s": round(wall, 1), "lines": len(lines),
                                 **{t: len(v) for t, v in snaps[name].items()}, "accounting": accounting}
    first = next(iter(snaps))
    same = True
    for name in list(snaps)[1:]:
        d = diff(snaps[first], snaps[name])
        figures.setdefault("differences", {})[f"{first}~{name}"] = {t: c for t, (c, _) in d.items()}
        for table, (count, examples) in d.items():
            print(f"{first} vs {name}: {table} differing {count}" + (f"  e.g. {examples}" if count else ""))
            same &= count == 0
    print("IDENTICAL" if same else "DIFFERENT")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
