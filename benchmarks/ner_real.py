"""Entities on real news: ``python -m benchmarks.ner_real [--data FILE] [--json OUT]``.

CoNLL-2003 eng.testa (real Reuters stories, 1996; documents split at ``-DOCSTART-``, text
rebuilt from the tokens by :mod:`benchmarks.conll`). Measure (``../shared/data/dev/README.md``):
per document the set of distinct (entity text, label) for PER/ORG/LOC (PERSON->PER, ORG->ORG,
GPE/LOC/FAC->LOC), micro precision/recall/F1 over documents, overall and per label.
``--languages DIR`` adds a check on real pages in many languages: no entities where the
article's language has no model.

Systems, all in one run: the raw base model (``nlp.pipe`` alone), the shipped tagging
(``tag_texts``: model + rules + merging, what the pipeline writes), the same with each rule
group off (ablation; a group whose removal raises F1 does not pay), and, when a fine-tuned NER
is shipped, the raw base model next to it. Speed: words per CPU-second of ``tag_texts`` on the
same documents (one process, one BLAS thread), with the raw model's in the same run as ratio.
"""
from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time
from typing import Callable, Dict, List, Sequence, Set, Tuple

ROOT = pathlib.Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "dev" / "ner-conll2003" / "eng.testa"


def _raw(nlp, texts: Sequence[str]) -> List[Set[Tuple[str, str]]]:
    from benchmarks.conll import measured
    from transforms.entities import _single_blas_thread
    with _single_blas_thread():
        return [measured([(e.text, e.label_) for e in doc.ents]) for doc in nlp.pipe(texts, batch_size=32)]


def _tagged(nlp, texts: Sequence[str], **kwargs) -> List[Set[Tuple[str, str]]]:
    from benchmarks.conll import measured
    from transforms.entities import tag_texts
    return [measured([(e.text, e.label) for e in ents]) for ents in tag_texts(nlp, texts, cap=10_000, **kwargs)]


def _cpu_rate(run: Callable[[], object], words: int, repeats: int) -> int:
    """Best words per CPU-second over ``repeats`` runs (the least disturbed one)."""
    best = float("inf")
    for _ in range(repeats):
        started = time.process_time()
        run()
        best = min(best, time.process_time() - started)
    return round(words / best)


def languages_check(folder: pathlib.Path, nlp) -> Dict[str, object]:
    """Real pages in ~40 languages (extraction-fundus): extract as the pipeline does, then tag.
    Counts, per detected language, the articles tagged and the entities the English model would
    have produced on the non-English ones (what every page got before issue 16)."""
    import datetime as dt
    import gzip
    from collections import Counter
    from schemas.records import Article, FetchedPage, PageRequest
    from transforms import entities
    from transforms.extract import extract_article
    truth = json.loads((folder / "truth.json").read_text(encoding="utf-8"))
    articles = []
    for item in truth:
        page = FetchedPage(request=PageRequest(url=item["url"]), final_url=item["url"], status=200,
                           content=gzip.decompress((folder / item["file"]).read_bytes()),
                           content_type="text/html", fetched_at=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))
        article = extract_article(page)
        if isinstance(article, Article):
            articles.append(article)
    tagged = entities.tag_articles(entities.ModelCache({"en": nlp}), articles)
    by_language: Dict[str, Counter] = {}
    english_on_foreign: Counter = Counter()
    foreign = [a for a in articles if entities.model_for(a.language) is None]
    for article, found in zip(foreign, entities.tag_texts(nlp, [a.body for a in foreign])):
        english_on_foreign.update((e.text, e.label) for e in found if e.label == "PERSON")
    for article in tagged:
        counter = by_language.setdefault(article.language or "unknown", Counter())
        counter["articles"] += 1
        counter["tagged_by_" + (article.entities_model or "none")] += 1
        counter["entities"] += len(article.entities)
    return {"pages": len(truth), "articles": len(articles),
            "by_language": {k: dict(v) for k, v in sorted(by_language.items(), key=lambda kv: -kv[1]["articles"])},
            "entities_on_untagged_languages": sum(len(a.entities) for a in tagged if a.entities_model is None),
            "english_model_on_them_would_give": sum(
                len(f) for f in entities.tag_texts(nlp, [a.body for a in foreign])),
            "top_english_model_persons_on_them": [f"{t} {n}" for (t, _), n in english_on_foreign.most_common(10)]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="a CoNLL-2003 file (default eng.testa)")
    parser.add_argument("--json", default=None, metavar="FILE")
    parser.add_argument("--repeats", type=int, default=2, help="timing repetitions (best is kept)")
    parser.add_argument("--no-ablation", action="store_true")
    parser.add_argument("--languages", default=None, metavar="DIR",
                        help="also check real pages in many languages (e.g. ../shared/data/dev/extraction-fundus)")
    parser.add_argument("--errors", type=int, default=0, metavar="N",
                        help="print the N most frequent misses/extras of the shipped tagging")
    args = parser.parse_args(argv)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from benchmarks.conll import read_documents, score
    from transforms import entities

    documents = read_documents(pathlib.Path(args.data))
    texts = [d.text for d in documents]
    gold = [d.gold() for d in documents]
    words = sum(len(t.split()) for t in texts)
    report: Dict[str, object] = {"data": pathlib.Path(args.data).name, "documents": len(documents),
                                 "words": words, "gold_entities": sum(len(g) for g in gold)}
    nlp = entities.load_model()
    base = entities.load_base_model()
    systems: Dict[str, List[Set[Tuple[str, str]]]] = {
        "raw_base_model": _raw(base, texts),
        "raw_shipped_model": _raw(nlp, texts),
        "shipped_tagging": _tagged(nlp, texts),
    }
    if not args.no_ablation:
        for group in entities.RULE_GROUPS:
            systems[f"without_{group}"] = _tagged(nlp, texts, off=frozenset({group}))
        systems["without_all_rules"] = _tagged(nlp, texts, off=frozenset(entities.RULE_GROUPS))
    report["scores"] = {name: score(pred, gold) for name, pred in systems.items()}
    print(json.dumps(report, indent=1), flush=True)
    report["speed"] = {
        "raw_shipped_model_words_per_cpu_s": _cpu_rate(lambda: _raw(nlp, texts), words, args.repeats),
        "shipped_tagging_words_per_cpu_s": _cpu_rate(lambda: _tagged(nlp, texts), words, args.repeats),
        "raw_base_model_words_per_cpu_s": _cpu_rate(lambda: _raw(base, texts), words, args.repeats),
    }
    speed = report["speed"]
    speed["tagging_vs_raw_base"] = round(speed["shipped_tagging_words_per_cpu_s"]
                                         / speed["raw_base_model_words_per_cpu_s"], 3)
    print(json.dumps({"speed": report["speed"]}, indent=1), flush=True)
    if args.languages:
        report["languages"] = languages_check(pathlib.Path(args.languages), nlp)
        print(json.dumps({"languages": report["languages"]}, indent=1, ensure_ascii=False), flush=True)
    if args.errors:
        from collections import Counter
        missed, extra = Counter(), Counter()
        for pred, ref in zip(systems["shipped_tagging"], gold):
            missed.update(ref - pred)
            extra.update(pred - ref)
        print("missed:", missed.most_common(args.errors), "\nextra:", extra.most_common(args.errors),
              file=sys.stderr)
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
