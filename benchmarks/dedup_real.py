"""Near-duplicates on real syndication, end to end (``python -m benchmarks.dedup --real``).

The gold set (``../shared/data/dev/dedup-spotsigs``: real pages of wire stories republished
by many outlets, ``gold.jsonl`` = id, cluster) is served on loopback with an RSS feed listing
every page, the CLI fetches it as a user's run would (politeness off), and the clusters are
rebuilt from what it wrote: each article is a cluster, each ``_duplicates`` row joins its URL
to ``duplicate_of``; a page in neither (a dead letter) is a cluster of its own.

Measures: Adjusted Rand Index and pairwise precision/recall against the gold clusters, and
the *hard-negative merge rate*: pairs of pages from two different gold clusters about the
same event (``SAME_EVENT``: clusters whose names differ only by a trailing digit, e.g. two
separate wire stories on one shooting) that were put in one cluster. Missed pairs are grouped
by cause, from the bodies the project's own extraction gives (``extract_article``):

- ``extraction failure``: one page was not written (dead letter) or kept < 30 words;
- ``LSH candidate missed``: the two bodies verify (``minhash.verify``) but the pages ended in
  different clusters (never proposed as candidates, or each verified against a different
  representative and the two clusters were not merged);
- ``body residue``: they verify once each body keeps only lines that also occur in another
  page of its gold cluster (what differs is text around the story);
- ``length ratio/excerpt``: 5-gram containment >= 0.4 and one body < half the other;
- ``below threshold``: the rest (edited rewrites).
"""
from __future__ import annotations

import collections
import datetime as dt
import html
import http.server
import itertools
import json
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import threading
import time
from typing import Dict, List, Optional, Sequence, Tuple

import pyarrow.dataset as ds
import pyarrow.parquet as pq

from transforms import minhash
from transforms.minhash import NearDupConfig

ROOT = pathlib.Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "dev" / "dedup-spotsigs"
MIN_WORDS = 30


# --------------------------------------------------------------------------- serving

def load_gold(data: pathlib.Path) -> Dict[str, str]:
    """page path relative to ``pages/`` -> gold cluster."""
    gold = {}
    files = {p.relative_to(data / "pages").with_suffix("").as_posix(): p.relative_to(data / "pages").as_posix()
             for p in (data / "pages").rglob("*") if p.is_file()}
    for line in (data / "gold.jsonl").read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            if row["id"] in files:
                gold[files[row["id"]]] = row["cluster"]
    return gold


def feed_xml(base: str, paths: Sequence[str]) -> bytes:
    items = "".join(f"<item><title>{html.escape(p)}</title><link>{html.escape(base + '/p/' + p)}</link>"
                    f"<guid>{html.escape(base + '/p/' + p)}</guid></item>" for p in paths)
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>wire</title>'
            f"<link>{base}/</link><description>syndication</description>{items}</channel></rss>").encode()


class Site:
    """The pages under ``/p/<path>`` and ``/feed.xml`` on 127.0.0.1 (a thread)."""

    def __init__(self, pages_dir: pathlib.Path, paths: Sequence[str], runs: int = 1):
        pages = {p: (pages_dir / p).read_bytes() for p in paths}
        routes: Dict[str, Tuple[bytes, str]] = {f"/p/{p}": (body, "text/html") for p, body in pages.items()}
        routes["/robots.txt"] = (b"User-agent: *\nAllow: /\n", "text/plain")

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):  # noqa: N802
                body, ctype = routes.get(self.path.split("?")[0], (b"", ""))
                self.send_response(200 if ctype else 404)
                if ctype:
                    self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        routes["/feed.xml"] = (feed_xml(self.base, sorted(paths)), "application/rss+xml")
        for k in range(runs):  # /feed-<k>.xml: every runs-th page, for a run of its own
            routes[f"/feed-{k}.xml"] = (feed_xml(self.base, sorted(paths)[k::runs]), "application/rss+xml")
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# --------------------------------------------------------------------------- clusters from output

def _rows(path: pathlib.Path) -> List[dict]:
    return [r for f in sorted(path.rglob("*.parquet")) for r in pq.read_table(f).to_pylist()]


def predicted_clusters(output: pathlib.Path, url_of: Dict[str, str]) -> Dict[str, str]:
    """page path -> predicted cluster id (the representative's article_id; the page's own
    path when it was not written)."""
    articles = ds.dataset(str(output), partitioning="hive").to_table(
        columns=["article_id", "url", "canonical_url"]).to_pylist() if any(
        output.glob("topic=*")) else []
    label: Dict[str, str] = {}
    for a in articles:
        label[a["url"]] = a["article_id"]
        label.setdefault(a["canonical_url"], a["article_id"])
    parent = {d["url"]: d["duplicate_of"] for d in _rows(output / "_duplicates")}
    written = {a["article_id"] for a in articles}

    def resolve(url: str) -> Optional[str]:
        if url in label:
            return label[url]
        target, hops = parent.get(url), 0
        while target is not None and target not in written and hops < 10:
            target = next((parent[u] for u, t in parent.items() if t == target and u in parent), None)
            hops += 1
        return target

    return {path: resolve(url) or f"unwritten:{path}" for path, url in url_of.items()}


# --------------------------------------------------------------------------- scoring

def same_pairs(labels: Dict[str, str]) -> set:
    groups = collections.defaultdict(list)
    for key, label in labels.items():
        groups[label].append(key)
    return {tuple(sorted(p)) for g in groups.values() for p in itertools.combinations(sorted(g), 2)}


def hard_negative_pairs(gold: Dict[str, str]) -> set:
    """Cross-cluster pairs of clusters about one event: names equal once trailing digits go."""
    by_event = collections.defaultdict(lambda: collections.defaultdict(list))
    for path, cluster in gold.items():
        by_event[re.sub(r"\d+$", "", cluster)][cluster].append(path)
    pairs = set()
    for clusters in by_event.values():
        for c1, c2 in itertools.combinations(sorted(clusters), 2):
            pairs |= {tuple(sorted((a, b))) for a in clusters[c1] for b in clusters[c2]}
    return pairs


def score(gold: Dict[str, str], predicted: Dict[str, str]) -> Dict[str, float]:
    from benchmarks.dedup import adjusted_rand_index
    keys = sorted(gold)
    ids_t = {c: i for i, c in enumerate(sorted(set(gold.values())))}
    ids_p = {c: i for i, c in enumerate(sorted(set(predicted.values())))}
    ari = adjusted_rand_index([ids_t[gold[k]] for k in keys], [ids_p[predicted[k]] for k in keys])
    t, p = same_pairs(gold), same_pairs(predicted)
    negatives = hard_negative_pairs(gold)
    return {"pages": len(keys), "gold_clusters": len(ids_t), "predicted_clusters": len(ids_p),
            "ari": round(ari, 4), "pair_precision": round(len(t & p) / len(p), 4) if p else 1.0,
            "pair_recall": round(len(t & p) / len(t), 4) if t else 1.0, "gold_pairs": len(t),
            "hard_negative_pairs": len(negatives),
            "hard_negative_merge_rate": round(len(negatives & p) / len(negatives), 4) if negatives else 0.0}


def bodies(data: pathlib.Path, paths: Sequence[str], base: str) -> Dict[str, str]:
    """The body our extraction gives each page (no site learning), '' for a dead letter."""
    from schemas.records import Article, FetchedPage, PageRequest
    from transforms.extract import extract_article
    out = {}
    now = dt.datetime.now(dt.timezone.utc)
    for p in paths:
        url = f"{base}/p/{p}"
        page = FetchedPage(request=PageRequest(url=url, origin="url"), final_url=url, status=200,
                           content=(data / "pages" / p).read_bytes(), content_type="text/html",
                           fetched_at=now)
        result = extract_article(page)
        out[p] = result.body if isinstance(result, Article) else ""
    return out


def _core(body: str, others: Sequence[str]) -> str:
    """Lines of ``body`` that also occur (as a line, normalised) in another page."""
    seen = {" ".join(minhash.words(line)) for other in others for line in other.splitlines()}
    return "\n".join(line for line in body.splitlines() if " ".join(minhash.words(line)) in seen)


def miss_causes(missed: Sequence[Tuple[str, str]], gold: Dict[str, str], body: Dict[str, str],
                config: NearDupConfig) -> Dict[str, int]:
    by_cluster = collections.defaultdict(list)
    for p, c in gold.items():
        by_cluster[c].append(p)
    causes = collections.Counter()
    core: Dict[str, object] = {}
    shingles = {p: minhash.shingles(b, config.shingle) for p, b in body.items()}
    spans = {p: minhash.shingles(b, config.containment_shingle) for p, b in body.items()}
    for a, b in missed:
        if len(minhash.words(body[a])) < MIN_WORDS or len(minhash.words(body[b])) < MIN_WORDS:
            causes["extraction failure"] += 1
            continue
        sa, sb = shingles[a], shingles[b]
        if minhash.verify(sa, sb, config, spans[a], spans[b])[0]:
            causes["LSH candidate missed"] += 1
            continue
        for x in (a, b):
            if x not in core:
                others = [body[o] for o in by_cluster[gold[x]] if o != x][:40]
                core[x] = minhash.shingles(_core(body[x], others), config.shingle)
        if minhash.verify(core[a], core[b], config)[0]:
            causes["body residue"] += 1
            continue
        ratio = min(len(sa), len(sb)) / max(len(sa), len(sb))
        if minhash.containment(spans[a], spans[b]) >= 0.4 and ratio < 0.5:
            causes["length ratio/excerpt"] += 1
        else:
            causes["below threshold"] += 1
    return dict(sorted(causes.items(), key=lambda kv: -kv[1]))


# --------------------------------------------------------------------------- run

def run(data: pathlib.Path, extra_args: Sequence[str] = (), keep: Optional[str] = None,
        causes: bool = True, runs: int = 1, reverse: bool = False) -> Dict[str, object]:
    """``runs`` > 1: the pages split over that many consecutive runs into one output
    (page i of the sorted list in run i mod runs; ``reverse``: the last run first):
    dedup across runs (``_state``)."""
    gold = load_gold(data)
    paths = sorted(gold)
    site = Site(data / "pages", paths, runs)
    output = pathlib.Path(keep or tempfile.mkdtemp(prefix="newsbeam-dedup-real-"))
    feeds = ["feed.xml"] if runs <= 1 else [f"feed-{k}.xml" for k in range(runs)][::-1 if reverse else 1]
    start = time.perf_counter()
    try:
        for feed in feeds:
            cmd = [sys.executable, "-m", "pipeline", "--feed", f"{site.base}/{feed}", "--output", str(output),
                   "--allow-private-hosts", "--host-delay", "0", "--ignore-robots", "--quiet", *extra_args]
            done = subprocess.run(cmd, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)),
                                  capture_output=True, text=True)
            if done.returncode != 0:
                raise SystemExit(f"pipeline failed ({done.returncode}):\n{done.stderr[-3000:]}")
        seconds = time.perf_counter() - start
        url_of = {p: f"{site.base}/p/{p}" for p in paths}
        predicted = predicted_clusters(output, url_of)
        result: Dict[str, object] = {"data": str(data), "args": list(extra_args), "runs": runs, "reverse": reverse,
                                     "pipeline_seconds": round(seconds, 1), **score(gold, predicted)}
        dead = _rows(output / "_dead_letters")
        result["dead_letters"] = dict(collections.Counter(d["reason"] for d in dead))
        missed = sorted(same_pairs(gold) - same_pairs(predicted))
        if causes and missed:
            result["missed_pairs"] = len(missed)
            result["missed_by_cause"] = miss_causes(missed, gold, bodies(data, paths, site.base),
                                                    NearDupConfig())
        return result
    finally:
        site.close()


def main(argv: Optional[Sequence[str]] = None) -> int:
    import argparse
    parser = argparse.ArgumentParser(prog="python -m benchmarks.dedup --real", description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="a SpotSigs-style folder (pages/, gold.jsonl)")
    parser.add_argument("--keep", help="write the pipeline output here (default: a temp folder)")
    parser.add_argument("--no-causes", action="store_true", help="skip the missed-pair analysis")
    parser.add_argument("--json", help="also write the result here")
    parser.add_argument("--runs", type=int, default=1,
                        help="split the pages over this many runs into one output (dedup across runs)")
    parser.add_argument("--reverse", action="store_true", help="with --runs: the runs in reverse order")
    args, extra = parser.parse_known_args(argv)
    data = pathlib.Path(args.data)
    if not (data / "gold.jsonl").exists():
        print(f"no gold set at {data} (pass --data)", file=sys.stderr)
        return 2
    result = run(data, extra, args.keep, not args.no_causes, args.runs, args.reverse)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        pathlib.Path(args.json).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
