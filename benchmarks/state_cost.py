"""What an output's near-duplicate state costs a later run (``python -m benchmarks.state_cost DIR``).

Every run into ``DIR`` reads ``DIR/_state/signatures``: first the signatures and anchors of
every story (``dedup.read_signatures``: the band/anchor filter), then the kept bodies of the
few stories a new article links to (``dedup.read_evidence``). Prints the table's size per
row and per written article and the CPU-seconds of both reads (``--ids``: how many linked
stories the second read looks up, drawn with a fixed seed), plus the same for the whole
table read in one go (``sink.read_state_rows``, the previous version's reader), the baseline.
"""
from __future__ import annotations

import argparse
import json
import pathlib
import random
import resource
import sys
import time
from typing import Dict, Optional, Sequence

from transforms import dedup, sink
from transforms.minhash import NearDupConfig


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(output: str, ids: int = 50, seed: int = 1) -> Dict[str, object]:
    folder = pathlib.Path(output, "_state", "signatures")
    files = sorted(folder.glob("*.parquet"))
    size = sum(f.stat().st_size for f in files)
    start = _cpu()
    entries = list(dedup.read_signatures(output))
    pass_one = _cpu() - start
    stories = sum(1 for e in entries if not e.copy_of)
    start = _cpu()
    whole = sink.read_state_rows(output, "signatures")
    whole_read = _cpu() - start
    linked = random.Random(seed).sample(sorted(e.article_id for e in entries), min(ids, len(entries)))
    start = _cpu()
    found = list(dedup.read_evidence(output, {i: i for i in linked}, NearDupConfig()))
    pass_two = _cpu() - start
    articles = sum(1 for _ in pathlib.Path(output).glob("topic=*/date=*/*.parquet"))
    return {"files": len(files), "bytes": size, "rows": len(entries), "story_rows": stories,
            "copy_rows": len(entries) - stories, "bytes_per_story": round(size / max(stories, 1)),
            "with_bodies": sum(1 for r in whole if r.get("evidence")), "article_files": articles,
            "read_signatures_cpu_s": round(pass_one, 3), "read_evidence_cpu_s": round(pass_two, 3),
            "evidence_ids": len(linked), "evidence_found": len(found),
            "whole_table_read_cpu_s": round(whole_read, 3)}


def synthetic(template: str, rows: int, folder: str, group_rows: Optional[int] = None) -> str:
    """An output whose ``_state/signatures`` holds ``rows`` rows cycled from ``template``'s
    (real bodies and signatures, new ids), written as the pipeline writes it."""
    import dataclasses
    import hashlib
    base = [e for e in dedup.read_evidence(template, {e.article_id: "" for e in dedup.read_signatures(template)},
                                           NearDupConfig())]
    entries = [dataclasses.replace(base[i % len(base)][1], article_id=hashlib.sha256(str(i).encode()).hexdigest()[:32])
               for i in range(rows)]
    if group_rows:
        sink.ROW_GROUP_ROWS["signatures"] = group_rows
    from schemas import arrow as arrow_schemas
    for start in range(0, rows, sink.MAX_ROWS_PER_FILE):
        sink.write_partition(folder, "signatures", "", arrow_schemas.rows_for("signatures", entries[start:start + sink.MAX_ROWS_PER_FILE]))
    return folder


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", nargs="+", help="output folders (compared side by side)")
    parser.add_argument("--ids", type=int, default=50, help="linked stories looked up by the second read")
    parser.add_argument("--synthetic", type=int, default=0, metavar="N",
                        help="measure instead an output of N rows cycled from the first output's")
    parser.add_argument("--group-rows", type=int, default=0, help="row group size of --synthetic")
    args = parser.parse_args(argv)
    if args.synthetic:
        import tempfile
        folder = tempfile.mkdtemp(prefix="newsbeam-state-cost-")
        args.output = [synthetic(args.output[0], args.synthetic, folder, args.group_rows or None)]
    for output in args.output:
        print(json.dumps({"output": output, **measure(output, args.ids)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
