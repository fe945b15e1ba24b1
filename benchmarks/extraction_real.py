"""Extraction on real news pages: newsbeam vs plain trafilatura, in one run.

    python -m benchmarks.extraction --real [--data ../shared/data/dev/extraction-fundus]
    python -m benchmarks.extraction_real [--data DIR] [--negatives DIR] [--per-page] [--json FILE]

Reads a Fundus-style set (``truth.json``: id, file, url, crawl_date, title, authors,
publishing_date, body; ``pages/*.html.gz``) and scores, side by side:

* ``trafilatura``: ``trafilatura.extract(html, url=url)`` 2.x with its defaults;
* ``traf:precision``: the same with ``favor_precision=True``;
* ``newsbeam``: our whole extraction stage (:func:`transforms.extract.extract_article`,
  default minimum length, metadata included); a dead letter scores as an empty body.

Measures: body precision/recall/F1 (4-token shingles, every page weighing the same, the
metric of ``shared/tools/score_bodies.py``: precision over pages with output, recall over
all pages); pages rejected and why; title exact match (whitespace-normalised); author set
F1 (case-folded names, mean over pages); dates on the same day as the truth (UTC day or
the truth's local day); dates invented (a date on another day, or where the truth has
none); pages per CPU-second (``time.process_time``, best of ``--repeat`` interleaved
rounds). trafilatura's metadata comes from a separate, untimed ``bare_extraction`` call.

``--negatives DIR`` also runs newsbeam's article / not-an-article verdict over a folder
of non-article pages (section fronts, tag pages, search results, error pages) and reports
how many were written as articles.
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import gzip
import html
import json
import logging
import pathlib
import re
import statistics
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Sequence

from benchmarks.extraction import aggregate, match_counts

ROOT = pathlib.Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "dev" / "extraction-fundus"
DEFAULT_NEGATIVES = ROOT / "benchmarks" / "data" / "non_articles"
DEFAULT_BRIEFS = [ROOT.parent / "shared" / "data" / "dev" / "ner-conll2003" / name for name in ("eng.testa", "eng.train")]
BRIEF_WORDS = (30, 100)  # a real short news item: a few sentences


@dataclasses.dataclass
class RealPage:
    id: str
    url: str
    content: bytes
    crawled_at: dt.datetime
    truth: Dict[str, Any]


@dataclasses.dataclass
class Output:
    """What one extractor said about one page."""
    body: str = ""
    title: Optional[str] = None
    authors: Sequence[str] = ()
    published: Optional[str] = None   # ISO date or datetime string
    rejected: Optional[str] = None    # dead-letter reason (newsbeam only)


def _parse_when(value: Optional[str]) -> Optional[dt.datetime]:
    if not value:
        return None
    try:
        return dt.datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        return None


def load_set(folder: pathlib.Path) -> List[RealPage]:
    """The pages of a Fundus-style set with their truth, in id order."""
    items = json.loads((folder / "truth.json").read_text(encoding="utf-8"))
    pages = []
    for item in sorted(items, key=lambda i: i["id"]):
        path = folder / item["file"]
        content = path.read_bytes()
        if path.name.endswith(".gz"):
            content = gzip.decompress(content)
        crawled = _parse_when(item.get("crawl_date")) or dt.datetime(2026, 1, 1)
        if crawled.tzinfo is None:
            crawled = crawled.replace(tzinfo=dt.timezone.utc)
        pages.append(RealPage(item["id"], item.get("url") or path.resolve().as_uri(), content, crawled, item))
    return pages


# --------------------------------------------------------------------------- extractors

def trafilatura_body(page: RealPage, **options: Any) -> str:
    import trafilatura
    return trafilatura.extract(page.content, url=page.url, **options) or ""


def trafilatura_metadata(page: RealPage, out: Output) -> Output:
    """Title, authors and date as trafilatura sees them (its metadata pass, htmldate included)."""
    import trafilatura
    doc = trafilatura.bare_extraction(page.content, url=page.url, with_metadata=True)
    if doc is not None:
        out.title = getattr(doc, "title", None)
        author = getattr(doc, "author", None)
        out.authors = [a.strip() for a in author.split(";")] if author else []
        out.published = getattr(doc, "date", None)
    return out


def newsbeam_output(page: RealPage) -> Output:
    """The pipeline's extraction stage on a page as fetched on its crawl date."""
    from schemas.records import Article, FetchedPage, PageRequest
    from transforms.extract import extract_article
    fetched = FetchedPage(request=PageRequest(url=page.url, origin="url"), final_url=page.url,
                          status=200, content=page.content, content_type="text/html",
                          fetched_at=page.crawled_at)
    result = extract_article(fetched)
    if not isinstance(result, Article):
        return Output(rejected=f"{result.reason}: {result.detail}")
    return Output(body=result.body, title=result.title, authors=result.authors,
                  published=result.published_at.isoformat() if result.published_at else None)


EXTRACTORS: Dict[str, Callable[[RealPage], Output]] = {
    "trafilatura": lambda page: Output(body=trafilatura_body(page)),
    "traf:precision": lambda page: Output(body=trafilatura_body(page, favor_precision=True)),
    "newsbeam": newsbeam_output,
}


# --------------------------------------------------------------------------- measures

def _norm(text: Optional[str]) -> str:
    return " ".join((text or "").split())


def title_exact(truth: Optional[str], predicted: Optional[str]) -> bool:
    return bool(_norm(truth)) and _norm(truth) == _norm(predicted)


def author_f1(truth: Sequence[str], predicted: Sequence[str]) -> Optional[float]:
    """Set F1 of case-folded names; None when both are empty (nothing to judge)."""
    gold = {_norm(a).casefold() for a in truth or () if _norm(a)}
    found = {_norm(a).casefold() for a in predicted or () if _norm(a)}
    if not gold and not found:
        return None
    hits = len(gold & found)
    return 2 * hits / (len(gold) + len(found))


def truth_days(value: Optional[str]) -> set:
    """The truth's publication day in UTC and as written (its local day)."""
    when = _parse_when(value)
    if when is None:
        return set()
    days = {when.date()}
    if when.tzinfo is not None:
        days.add(when.astimezone(dt.timezone.utc).date())
    return days


def predicted_day(value: Optional[str]) -> Optional[dt.date]:
    when = _parse_when(value)
    if when is None:
        return None
    if when.tzinfo is not None:
        when = when.astimezone(dt.timezone.utc)
    return when.date()


def measure(pages: Sequence[RealPage], outputs: Dict[str, Output]) -> Dict[str, Any]:
    counts, titles, authors = [], [], []
    same_day = invented = undated = dated_truth = 0
    rejected: Dict[str, str] = {}
    for page in pages:
        out = outputs[page.id]
        truth = page.truth
        counts.append(match_counts(truth.get("body") or "", out.body))
        if out.rejected:
            rejected[page.id] = out.rejected
        titles.append(title_exact(truth.get("title"), out.title))
        score = author_f1(truth.get("authors") or (), out.authors)
        if score is not None:
            authors.append(score)
        days, day = truth_days(truth.get("publishing_date")), predicted_day(out.published)
        dated_truth += bool(days)
        if day is None:
            undated += 1
        elif day in days:
            same_day += 1
        else:
            invented += 1
    body = aggregate(counts)
    return {
        "precision": body["precision"], "recall": body["recall"], "f1": body["f1"],
        "pages": len(pages), "empty": len(pages) - body["pages_with_output"],
        "rejected": rejected,
        "title_exact": statistics.fmean(titles) if titles else 0.0,
        "author_f1": statistics.fmean(authors) if authors else 0.0,
        "date_same_day": same_day / dated_truth if dated_truth else 0.0,
        "dates_invented": invented, "dates_missing": undated,
    }


# --------------------------------------------------------------------------- non-articles

def negatives_written(folder: pathlib.Path) -> Dict[str, Any]:
    """newsbeam's verdict on pages that are not articles: which would be written."""
    from schemas.records import Article, FetchedPage, PageRequest
    from transforms.extract import extract_article
    files = sorted(p for p in folder.rglob("*.htm*") if p.is_file())
    written = []
    for path in files:
        url = f"https://{path.parent.name}.example/{path.stem}"
        page = FetchedPage(request=PageRequest(url=url, origin="url"), final_url=url, status=200,
                           content=path.read_bytes(), content_type="text/html",
                           fetched_at=dt.datetime(2026, 6, 1, tzinfo=dt.timezone.utc))
        if isinstance(extract_article(page), Article):
            written.append(path.relative_to(folder).as_posix())
    return {"pages": len(files), "written": written}


# --------------------------------------------------------------------------- short briefs

def _detokenize(tokens: Sequence[str]) -> str:
    text = " ".join(tokens)
    text = re.sub(r" ([,.;:!?%)\]]|'s|n't|'re|'ve|'ll|'d)", r"\1", text)
    return re.sub(r"([(\[$]) ", r"\1", text).replace(" - ", " - ")


def conll_documents(path: pathlib.Path) -> List[List[str]]:
    """CoNLL-2003 documents as lists of sentences (Reuters news, 1996)."""
    docs: List[List[str]] = []
    sentence: List[str] = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines() + [""]:
        if line.startswith("-DOCSTART-"):
            docs.append([])
            continue
        if not line.strip():
            if sentence and docs:
                docs[-1].append(_detokenize(sentence))
            sentence = []
            continue
        sentence.append(line.split(" ")[0])
    return docs


def brief_pages(path: pathlib.Path) -> List[tuple]:
    """Real short Reuters items (headline, dateline, 30-100 words of prose) rendered as plain
    article pages with no metadata at all: the hardest case for a length rule."""
    out = []
    for number, doc in enumerate(conll_documents(path)):
        if len(doc) < 4:
            continue
        headline, dateline, sentences = doc[0], doc[1], doc[2:]
        words = sum(len(s.split()) for s in sentences)
        letters = sum(1 for s in sentences for w in s.split() if w[:1].isalpha())
        prose = sum(1 for s in sentences if s.rstrip().endswith((".", "?", "!", '"', "'")))
        if not (BRIEF_WORDS[0] <= words <= BRIEF_WORDS[1]) or letters < 0.7 * words or prose < 0.8 * len(sentences):
            continue  # result tables, market data and long stories are not what this measures
        body = "".join(f"<p>{html.escape(s)}</p>" for s in sentences)
        page = (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(headline.title())}'
                f' | Wire Desk</title></head><body><header><a href="/">Wire Desk</a><nav><a href="/world">World</a> '
                f'<a href="/business">Business</a> <a href="/sport">Sport</a></nav></header><main><article>'
                f'<h1>{html.escape(headline.title())}</h1><p class="dateline">{html.escape(dateline)}</p>{body}'
                f'</article></main><footer><a href="/about">About</a> <a href="/privacy">Privacy</a></footer></body></html>')
        out.append((f"{path.name}-{number}", page.encode("utf-8"), words))
    return out


def briefs_rejected(paths: Sequence[pathlib.Path]) -> Dict[str, Any]:
    from schemas.records import Article, FetchedPage, PageRequest
    from transforms.extract import extract_article
    rejected = []
    pages = [page for path in paths for page in brief_pages(path)]
    for page_id, content, words in pages:
        url = f"https://wiredesk.example/{page_id}"
        page = FetchedPage(request=PageRequest(url=url, origin="url"), final_url=url, status=200,
                           content=content, content_type="text/html",
                           fetched_at=dt.datetime(1996, 9, 1, tzinfo=dt.timezone.utc))
        result = extract_article(page)
        if not isinstance(result, Article):
            rejected.append(f"{page_id} ({words} words): {result.reason}: {result.detail[:60]}")
    return {"pages": len(pages), "rejected": rejected}


# --------------------------------------------------------------------------- main

def run(pages: Sequence[RealPage], repeat: int) -> Dict[str, Dict[str, Any]]:
    outputs = {name: {} for name in EXTRACTORS}
    cpu: Dict[str, List[float]] = {name: [] for name in EXTRACTORS}
    names = list(EXTRACTORS)
    for name in names:  # warm-up: imports and lazily loaded models are not per-page costs
        for page in pages[:3]:
            EXTRACTORS[name](page)
    for rep in range(max(1, repeat)):
        for name in (names if rep % 2 == 0 else names[::-1]):
            fn = EXTRACTORS[name]
            start = time.process_time()
            outputs[name] = {page.id: fn(page) for page in pages}
            cpu[name].append(time.process_time() - start)
    for name in ("trafilatura", "traf:precision"):
        for page in pages:
            trafilatura_metadata(page, outputs[name][page.id])
    results = {}
    for name in names:
        metrics = measure(pages, outputs[name])
        metrics["pages_per_cpu_s"] = len(pages) / min(cpu[name])
        results[name] = metrics
    base = results["trafilatura"]["pages_per_cpu_s"]
    for metrics in results.values():
        metrics["speed_vs_trafilatura"] = metrics["pages_per_cpu_s"] / base
    results["_outputs"] = outputs  # type: ignore[assignment]
    return results


def render(results: Dict[str, Dict[str, Any]], pages: int) -> List[str]:
    lines = [f"{pages} real pages; body metric: 4-token shingles, mean per page (score_bodies.py)",
             f"{'extractor':<15} {'F1':>6} {'P':>6} {'R':>6} {'rejected':>8} {'title=':>7} {'authF1':>7} "
             f"{'day ok':>7} {'invent':>6} {'nodate':>6} {'pg/cpu-s':>8} {'speed':>6}"]
    for name, m in results.items():
        if name.startswith("_"):
            continue
        lines.append(f"{name:<15} {m['f1']:>6.3f} {m['precision']:>6.3f} {m['recall']:>6.3f} "
                     f"{len(m['rejected']):>8} {m['title_exact']:>7.3f} {m['author_f1']:>7.3f} "
                     f"{m['date_same_day']:>7.3f} {m['dates_invented']:>6} {m['dates_missing']:>6} "
                     f"{m['pages_per_cpu_s']:>8.1f} {m['speed_vs_trafilatura']:>5.2f}x")
    for page_id, reason in sorted(results["newsbeam"]["rejected"].items()):
        lines.append(f"  newsbeam rejected {page_id}: {reason[:120]}")
    return lines


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.extraction_real", description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=pathlib.Path, default=DEFAULT_DATA,
                        help="a Fundus-style set: truth.json + pages/ (default ../shared/data/dev/extraction-fundus)")
    parser.add_argument("--negatives", type=pathlib.Path, default=DEFAULT_NEGATIVES,
                        help="folder of non-article pages (default benchmarks/data/non_articles)")
    parser.add_argument("--briefs", type=pathlib.Path, nargs="*", default=DEFAULT_BRIEFS,
                        help="CoNLL-2003 files whose short items are rendered as plain article pages "
                             "(default ../shared/data/dev/ner-conll2003/eng.testa and eng.train)")
    parser.add_argument("--repeat", type=int, default=1, help="timed rounds, interleaved; the best counts (default 1)")
    parser.add_argument("--limit", type=int, default=0, help="only the first N pages (a quick look)")
    parser.add_argument("--per-page", action="store_true", help="print per-page body F1, worst first")
    parser.add_argument("--json", type=pathlib.Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    for name in ("trafilatura", "htmldate"):  # they log every odd link and date they meet
        logging.getLogger(name).setLevel(logging.ERROR)
    if not (args.data / "truth.json").is_file():
        print(f"no truth.json in {args.data} (pass --data)", file=sys.stderr)
        return 2
    started = time.time()
    pages = load_set(args.data)[: args.limit or None]
    results = run(pages, args.repeat)
    outputs = results.pop("_outputs")
    for line in render(results, len(pages)):
        print(line)
    if args.negatives.is_dir():
        neg = negatives_written(args.negatives)
        results["_negatives"] = neg
        print(f"non-articles ({args.negatives}): {len(neg['written'])} of {neg['pages']} written as articles"
              + (f": {', '.join(neg['written'])}" if neg["written"] else ""))
    brief_files = [path for path in args.briefs if path.is_file()]
    if brief_files:
        briefs = briefs_rejected(brief_files)
        results["_briefs"] = briefs
        print(f"real short briefs ({', '.join(p.name for p in brief_files)}: Reuters items of "
              f"{BRIEF_WORDS[0]}-{BRIEF_WORDS[1]} words as pages without metadata): "
              f"{len(briefs['rejected'])} of {briefs['pages']} rejected")
        for line in briefs["rejected"][:10]:
            print(f"  {line}")
    if args.per_page:
        rows = []
        for page in pages:
            cells = [aggregate([match_counts(page.truth.get("body") or "", outputs[n][page.id].body)])["f1"]
                     for n in EXTRACTORS]
            rows.append((cells[-1] - cells[0], page.id, cells))
        for delta, page_id, cells in sorted(rows):
            print(f"{delta:+.3f} {page_id:<45} " + " ".join(f"{c:.3f}" for c in cells))
    print(f"elapsed {time.time() - started:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, sort_keys=True, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
