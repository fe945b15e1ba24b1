"""Usage-rights signals on saved real pages, and what reading them costs.

    python -m benchmarks.usage [--data ../shared/data/dev/extraction-fundus] [--repeat 3]

For every ``*.html``/``*.html.gz`` page under ``--data`` (recursive): the page-side usage
signals (``transforms.usage.from_page``: TDMRep meta, robots meta directives, licence link
and JSON-LD licence/copyright/isAccessibleForFree) as saved pages carry them (robots.txt,
headers and tdmrep.json are not in a saved page, so those stay null), counted per kind; and
the time of ``from_page`` against the whole extraction stage (``extract_article``) over the
same pages, as a ratio per repetition (median reported), so a noisy machine slows both alike.
There is no truth to score against: this is a prevalence and cost check, not a quality measure.
"""
from __future__ import annotations

import argparse
import collections
import dataclasses
import datetime as dt
import gzip
import json
import pathlib
import statistics
import time
from typing import Dict, List, Tuple

from schemas.records import FetchedPage, PageRequest
from transforms import extract, usage

DEFAULT_DATA = "../shared/data/dev/extraction-fundus"
FETCHED_AT = dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc)


def load_pages(root: pathlib.Path) -> List[Tuple[str, bytes]]:
    files = sorted(p for p in root.rglob("*") if p.name.endswith((".html", ".html.gz", ".htm")))
    return [(p.name, gzip.decompress(p.read_bytes()) if p.name.endswith(".gz") else p.read_bytes())
            for p in files]


def page_usage(content: bytes, url: str):
    tree = extract.parse_page(content)
    objects = list(extract._iter_jsonld(tree))
    return usage.from_page(tree, url, objects, extract._jsonld_article(tree), None)


def run(root: pathlib.Path, repeat: int) -> Dict[str, object]:
    pages = load_pages(root)
    urls = {}
    truth = root / "truth.json"
    if truth.exists():  # the real URL, so relative licence links resolve as on the site
        urls = {pathlib.Path(t["file"]).name: t["url"] for t in json.loads(truth.read_text())}
    counts: collections.Counter = collections.Counter()
    examples: Dict[str, str] = {}
    for name, content in pages:
        found = page_usage(content, urls.get(name, f"https://saved.example/{name}"))
        row = dataclasses.asdict(found)
        kinds = usage.kinds_of(row)
        if found.tdm_reservation is False:
            kinds.append("tdm_not_reserved")
        if found.copyright_holder:
            kinds.append("copyright_holder")
        if found.accessible_for_free is True:
            kinds.append("free")
        counts.update(set(kinds))
        for kind in kinds:
            examples.setdefault(kind, name)
    whole_times, usage_times = [], []
    for _ in range(repeat):  # both timed in each repetition, so machine noise hits both alike
        started = time.perf_counter()
        for name, content in pages:
            url = urls.get(name, "https://saved.example/x")
            extract.extract_article(FetchedPage(request=PageRequest(url=url), final_url=url, status=200,
                                                content=content, content_type="text/html",
                                                fetched_at=FETCHED_AT))
        whole_times.append(time.perf_counter() - started)  # the stage, usage reading included
        trees = [extract.parse_page(content) for _name, content in pages]
        started = time.perf_counter()
        for tree in trees:  # what the hook adds: the usage reading on the stage's parsed tree
            usage.from_page(tree, "https://saved.example/x", extract._iter_jsonld(tree),
                            extract._jsonld_article(tree), None)
        usage_times.append(time.perf_counter() - started)
    share = statistics.median(u / w for u, w in zip(usage_times, whole_times))
    return {"pages": len(pages), "pages_with": dict(sorted(counts.items())), "examples": examples,
            "usage_seconds_per_page": statistics.median(usage_times) / max(1, len(pages)),
            "extract_seconds_per_page": statistics.median(whole_times) / max(1, len(pages)),
            "usage_share_of_extraction": round(share, 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=DEFAULT_DATA, help=f"folder of saved pages (default {DEFAULT_DATA})")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(json.dumps(run(pathlib.Path(args.data), args.repeat), indent=2))


if __name__ == "__main__":
    main()
