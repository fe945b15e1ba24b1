"""Resident memory and start-up time of one extraction worker process.

The worker (``core.sandbox``) is a child process per parent that extracts pages
under a hard time limit; what it imports is paid once per worker. This spawns a
worker, has it extract one page (so trafilatura, lxml and htmldate are loaded),
then reads the child's ``VmRSS``/``VmHWM`` from ``/proc`` (Linux only).

    .venv/bin/python -m benchmarks.worker_rss [--runs 3]
"""
from __future__ import annotations

import argparse
import datetime as dt
import statistics
import time
from typing import Dict

PAGE = ("<html><head><title>Council approves budget</title></head><body><article>"
        + "<p>The city council approved the new budget on Tuesday after a long debate about "
          "schools, roads and the harbour, the mayor said in a statement to reporters.</p>" * 8
        + "</article></body></html>").encode("utf-8")


def _status(pid: int) -> Dict[str, int]:
    values = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as handle:
        for line in handle:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0]) // 1024  # MiB
    return values


def one_worker() -> Dict[str, float]:
    """Spawn a fresh worker, extract one page in it, measure it, shut it down."""
    from schemas.records import FetchedPage, PageRequest
    from transforms import extract, sandbox
    sandbox.shutdown()
    page = FetchedPage(request=PageRequest(url="https://news.example/a"), final_url="https://news.example/a",
                       status=200, content=PAGE, content_type="text/html",
                       fetched_at=dt.datetime(2025, 5, 15, tzinfo=dt.timezone.utc))
    start = time.perf_counter()
    result, _ = extract.extract_with_budget(page, timeout=60)
    first_call = time.perf_counter() - start
    assert type(result).__name__ == "Article", result
    (pid,) = sandbox.idle_children()
    status = _status(pid)
    sandbox.shutdown()
    return {"rss_mib": status["VmRSS"], "hwm_mib": status["VmHWM"], "first_call_s": first_call}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    runs = [one_worker() for _ in range(args.runs)]
    for key in ("rss_mib", "hwm_mib", "first_call_s"):
        values = [r[key] for r in runs]
        print(f"{key}: median {statistics.median(values):.2f} (runs: {', '.join(f'{v:.2f}' for v in values)})")


if __name__ == "__main__":
    main()
