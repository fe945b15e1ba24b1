"""Article-body extraction benchmark: newsbeam's extractor vs plain ``trafilatura.extract``.

    python -m benchmarks.extraction --pages DIR --truth FILE.json [--site-learning] [--repeat N]

``DIR`` holds HTML pages (any depth; the page id is the file stem, the site is the first folder
under ``DIR``); ``FILE.json`` maps ids to ``{"articleBody": "..."}``. Scores are computed like
the public article-extraction benchmark (scrapinghub/article-extraction-benchmark): tokens are
``\\w+`` matches, texts are compared as overlapping 4-token shingles counted with repeats; per page
precision = matched / extracted and recall = matched / truth; precision is averaged over pages
with output, recall over pages with truth, and F1 is computed from the two averages.

Throughput is a ratio measured in the same run: each repetition times one pass of every
extractor over all pages, in alternating order, and the ratio is taken per repetition (median
reported), so a noisy machine slows both sides alike.

``newsbeam`` is the body core (``transforms.extract.extract_text``); ``newsbeam:article`` is the
pipeline's whole extraction stage (``extract_article``: also metadata, language, flags and the
not-an-article verdict, a dead letter scoring as empty output) and is there for its speed.

``--site-learning`` adds the batch site-learning pass (``transforms/site_learning.py``) on top of
our extractor: pages are grouped by site, paragraphs recurring in >= k distinct articles of a
site are removed; its cost is included in its timing.
"""
from __future__ import annotations

import argparse
import collections
import gzip
import json
import pathlib
import re
import statistics
import sys
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

_TOKEN = re.compile(r"\w+", re.UNICODE)
NGRAM = 4


# --------------------------------------------------------------------------- scoring

def shingles(text: Optional[str], n: int = NGRAM) -> collections.Counter:
    """Overlapping n-token shingles with their counts. A text of fewer than n tokens is one
    shorter shingle (as in the reference implementation); no tokens, no shingles."""
    tokens = _TOKEN.findall(text or "")
    if not tokens:
        return collections.Counter()
    if len(tokens) < n:
        return collections.Counter([tuple(tokens)])
    return collections.Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


def match_counts(truth: Optional[str], predicted: Optional[str]) -> Tuple[int, int, int]:
    """(matched, extracted, truth) shingle counts for one page."""
    true_sh, pred_sh = shingles(truth), shingles(predicted)
    matched = sum((true_sh & pred_sh).values())
    return matched, sum(pred_sh.values()), sum(true_sh.values())


def page_precision(matched: int, extracted: int, truth: int) -> Optional[float]:
    if extracted == 0:
        return None  # no output: the page does not count towards precision
    return matched / extracted


def page_recall(matched: int, extracted: int, truth: int) -> Optional[float]:
    if truth == 0:
        return None  # no truth: the page does not count towards recall
    return matched / truth


def aggregate(counts: Sequence[Tuple[int, int, int]]) -> Dict[str, float]:
    """Mean precision over pages with output, mean recall over pages with truth, F1 of the two."""
    precisions = [p for p in (page_precision(*c) for c in counts) if p is not None]
    recalls = [r for r in (page_recall(*c) for c in counts) if r is not None]
    precision = statistics.fmean(precisions) if precisions else 0.0
    recall = statistics.fmean(recalls) if recalls else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1,
            "pages_with_output": len(precisions), "pages_with_truth": len(recalls)}


# --------------------------------------------------------------------------- pages

class Page:
    __slots__ = ("id", "site", "path", "content", "url")

    def __init__(self, page_id: str, site: str, path: pathlib.Path, content: bytes):
        self.id, self.site, self.path, self.content = page_id, site, path, content
        self.url = path.resolve().as_uri()


def load_pages(folder: pathlib.Path) -> List[Page]:
    pages = []
    for path in sorted(folder.rglob("*")):
        name = path.name
        if not path.is_file() or not re.search(r"\.html?(\.gz)?$", name, re.I):
            continue
        content = path.read_bytes()
        if name.endswith(".gz"):
            content = gzip.decompress(content)
        page_id = re.sub(r"\.html?(\.gz)?$", "", name, flags=re.I)
        rel = path.relative_to(folder).parts
        site = rel[0] if len(rel) > 1 else page_id
        pages.append(Page(page_id, site, path, content))
    ids = [p.id for p in pages]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise SystemExit(f"page ids must be unique (file stems): {duplicates[:5]}")
    return pages


def load_truth(path: pathlib.Path) -> Dict[str, str]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return {key: (value or {}).get("articleBody") or "" for key, value in data.items()}


# --------------------------------------------------------------------------- extractors

def trafilatura_plain(page: Page) -> str:
    """The baseline: trafilatura with its defaults, as the public benchmark runs it."""
    import trafilatura
    return trafilatura.extract(page.content, include_comments=False) or ""


def newsbeam_body(page: Page) -> str:
    """Our extractor's body (the same core ``extract_article`` uses), without the article /
    not-an-article decision: the benchmark scores text, not that verdict."""
    from transforms.extract import extract_text
    return extract_text(page.content, url=page.url)


def newsbeam_article(page: Page) -> str:
    """The whole extraction stage of the pipeline (``extract_article``: metadata, language,
    flags, the not-an-article verdict); a dead letter scores as empty output."""
    import datetime as dt
    from schemas.records import Article, FetchedPage, PageRequest
    from transforms.extract import extract_article
    fetched = FetchedPage(request=PageRequest(url=page.url, origin="html_dir"), final_url=page.url,
                          status=200, content=page.content, content_type="text/html",
                          fetched_at=dt.datetime(2025, 6, 1, tzinfo=dt.timezone.utc))
    result = extract_article(fetched, min_words=1)
    return result.body if isinstance(result, Article) else ""


# trafilatura settings our extractor can run with (--variants measures them side by side).
VARIANTS: Dict[str, Dict[str, bool]] = {
    "precision": dict(favor_precision=True, fast=False),
    "fast+precision": dict(favor_precision=True, fast=True),
    "default": dict(favor_precision=False, fast=False),
    "fast": dict(favor_precision=False, fast=True),
    "recall": dict(favor_precision=False, favor_recall=True, fast=False),
}


def newsbeam_variant(settings: Dict[str, bool]) -> Callable[[Page], str]:
    """Our extractor with other trafilatura settings (swapped in for the call only)."""
    def run(page: Page) -> str:
        from transforms import extract
        saved = extract.TRAFILATURA_OPTIONS
        options = {k: v for k, v in saved.items() if k not in ("favor_precision", "favor_recall", "fast")}
        extract.TRAFILATURA_OPTIONS = dict(options, **settings)
        try:
            return newsbeam_body(page)
        finally:
            extract.TRAFILATURA_OPTIONS = saved
    return run


def run_plain(pages: Sequence[Page], fn: Callable[[Page], str]) -> Dict[str, str]:
    return {page.id: fn(page) for page in pages}


def run_site_learning(pages: Sequence[Page], k: int) -> Dict[str, str]:
    """Our extractor, then the site-learning pass per site (pure functions of the Beam pass)."""
    from transforms import site_learning
    bodies = run_plain(pages, newsbeam_body)
    by_site: Dict[str, List[Tuple[str, str]]] = collections.defaultdict(list)
    for page in pages:
        by_site[page.site].append((page.id, bodies[page.id]))
    out: Dict[str, str] = {}
    for site in sorted(by_site):
        cleaned = site_learning.clean_site_bodies(by_site[site], k)
        out.update(cleaned)
    return out


# --------------------------------------------------------------------------- main

def score(truth: Dict[str, str], outputs: Dict[str, str]) -> Tuple[Dict[str, float], Dict[str, Tuple[int, int, int]]]:
    per_page = {key: match_counts(truth.get(key, ""), outputs.get(key, "")) for key in sorted(truth)}
    return aggregate(list(per_page.values())), per_page


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--real" in argv:  # the real-page benchmark (benchmarks/extraction_real.py)
        from benchmarks import extraction_real
        return extraction_real.main([a for a in argv if a != "--real"])
    parser = argparse.ArgumentParser(prog="python -m benchmarks.extraction",
                                     description="newsbeam extraction vs plain trafilatura")
    parser.add_argument("--pages", type=pathlib.Path, required=True, help="folder of HTML pages")
    parser.add_argument("--truth", type=pathlib.Path, required=True, help='JSON {id: {"articleBody": ...}}')
    parser.add_argument("--site-learning", action="store_true",
                        help="also run our extractor + the per-site boilerplate learning pass")
    parser.add_argument("--min-articles", type=int, default=3, metavar="K",
                        help="site learning: a paragraph is template text when in >= K articles (default 3)")
    parser.add_argument("--variants", action="store_true",
                        help="also run our extractor with each trafilatura setting in VARIANTS")
    parser.add_argument("--repeat", type=int, default=3, metavar="N",
                        help="timing repetitions, interleaved (default 3)")
    parser.add_argument("--per-page", action="store_true", help="print per-page F1 of each extractor")
    parser.add_argument("--json", type=pathlib.Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
    pages = load_pages(args.pages)
    truth = load_truth(args.truth)
    missing = sorted(set(truth) - {p.id for p in pages})
    pages = [p for p in pages if p.id in truth]
    if not pages:
        print("no pages with truth found", file=sys.stderr)
        return 2
    if missing:
        print(f"warning: {len(missing)} truth ids have no page (scored as empty output)", file=sys.stderr)

    runners: Dict[str, Callable[[], Dict[str, str]]] = {
        "trafilatura": lambda: run_plain(pages, trafilatura_plain),
        "newsbeam": lambda: run_plain(pages, newsbeam_body),
        "newsbeam:article": lambda: run_plain(pages, newsbeam_article),
    }
    if args.site_learning:
        runners["newsbeam+sites"] = lambda: run_site_learning(pages, args.min_articles)
    if args.variants:
        for name, settings in VARIANTS.items():
            runners[f"nb:{name}"] = (lambda fn: lambda: run_plain(pages, fn))(newsbeam_variant(settings))

    # Warm-up (imports, lazy model loads), then interleaved timed repetitions.
    outputs = {name: fn() for name, fn in runners.items()}
    seconds: Dict[str, List[float]] = {name: [] for name in runners}
    names = list(runners)
    for rep in range(max(1, args.repeat)):
        order = names if rep % 2 == 0 else names[::-1]
        for name in order:
            start = time.perf_counter()
            runners[name]()
            seconds[name].append(time.perf_counter() - start)

    results = {}
    per_page_all = {}
    for name in names:
        metrics, per_page = score(truth, outputs[name])
        metrics["pages_per_s"] = len(pages) / statistics.median(seconds[name])
        metrics["speed_ratio_vs_trafilatura"] = statistics.median(
            base / ours for base, ours in zip(seconds["trafilatura"], seconds[name]))
        metrics["empty_where_trafilatura_not"] = sorted(
            key for key in truth if not _TOKEN.search(outputs[name].get(key, "") or "")
            and _TOKEN.search(outputs["trafilatura"].get(key, "") or ""))
        results[name] = metrics
        per_page_all[name] = per_page

    print(f"{len(pages)} pages, {len({p.site for p in pages})} sites, {args.repeat} timed repetitions")
    print(f"{'extractor':<18} {'precision':>9} {'recall':>7} {'F1':>7} {'pages/s':>8} {'speed vs traf.':>14}")
    for name in names:
        m = results[name]
        print(f"{name:<18} {m['precision']:>9.3f} {m['recall']:>7.3f} {m['f1']:>7.3f} "
              f"{m['pages_per_s']:>8.1f} {m['speed_ratio_vs_trafilatura']:>13.2f}x")
    for name in names[1:]:
        empty = results[name]["empty_where_trafilatura_not"]
        print(f"{name}: pages empty where trafilatura is not: {len(empty)}{' ' + str(empty) if empty else ''}")
    if args.per_page:
        print()
        print(f"{'page':<40} " + " ".join(f"{n:>15}" for n in names))
        for key in sorted(truth):
            row = []
            for name in names:
                m = aggregate([per_page_all[name][key]])
                row.append(f"{m['f1']:>15.3f}")
            print(f"{key:<40} " + " ".join(row))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
