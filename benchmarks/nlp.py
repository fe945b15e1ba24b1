"""NER and topic benchmark: ``python -m benchmarks.nlp``.

Reports, in one run on this machine:
- NER throughput in words/s and articles/s on 600-word articles, with 1 and 2 processes
  (wall time and CPU time; the raw spaCy pipeline is timed in the same run, interleaved, so the
  cost of merging/fixes is a ratio that survives a noisy shared machine);
- entity precision/recall/F1 on the hand-annotated gold set (``benchmarks/data/ner_gold.txt``)
  and a held-out set (``ner_gold_heldout.txt``), both written for the project, for the base model
  alone and the shipped tagging (fine-tuned model). Quality on *real* news is measured by
  ``python -m benchmarks.ner_real`` (CoNLL-2003 eng.testa, docs/quality.md);
- topic quality of the shipped classifier on real sets (``benchmarks/train_topics.py --check``:
  AG News held-out part, English extraction-fundus pages, MIND), when ``../shared/data/dev``
  is there; numbers in docs/quality.md (## Topics).


Options: ``--quick`` (fewer articles/repetitions), ``--json FILE`` (write the figures).

Last measured (2 cores shared with other jobs, load average ~5.5, so wall-clock words/s is
not meaningful; best of 3 interleaved runs, 120 articles x 600 words):
  words per CPU-second  blis model (foundation) 12.6k / 11.5k (1 / 2 processes),
                        numpy-BLAS model 15.0k / 14.8k, full tagging (rules + merge) 14.5k / 14.3k
  entity F1 (36 paragraphs, 418 entities)   base model 0.623, shipped tagging 0.707 (2026-12-04;
                                            0.937 with the former rules, which were tuned on it)
  entity F1 held-out (10 paragraphs, 95)    base model 0.644, shipped tagging 0.711 (rules: 0.835)
  topics: see docs/quality.md (## Topics)
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import pathlib
import sys
import time
from typing import Dict, List, Sequence, Set, Tuple

ROOT = pathlib.Path(__file__).resolve().parents[1]
DATA = pathlib.Path(__file__).resolve().parent / "data"
GOLD_PATH = DATA / "ner_gold.txt"                   # annotated before the rules; used to develop them
HELDOUT_PATH = DATA / "ner_gold_heldout.txt"        # written after the rules were frozen
ARTICLE_WORDS = 600

Gold = List[Tuple[str, str, Set[Tuple[str, str]]]]


def load_gold(path: pathlib.Path = GOLD_PATH) -> Gold:
    """[(id, text, {(entity text, label)})] from the block format described in the file."""
    items = []
    for block in path.read_text(encoding="utf-8").split("\n## ")[1:]:
        ident, rest = block.split("\n", 1)
        text, ents = rest.split("\n---\n", 1)
        gold = set()
        for line in ents.strip().splitlines():
            name, label = (part.strip() for part in line.rsplit("|", 1))
            gold.add((name, label))
        items.append((ident.strip(), text.strip(), gold))
    return items


def prf(predicted: Sequence[Set[Tuple[str, str]]], gold: Sequence[Set[Tuple[str, str]]],
        with_label: bool = True) -> Dict[str, float]:
    """Micro precision/recall/F1 over distinct (text, label) per paragraph."""
    from benchmarks.conll import micro_prf
    if not with_label:
        predicted = [{(t, "") for t, _ in pred} for pred in predicted]
        gold = [{(t, "") for t, _ in ref} for ref in gold]
    m = micro_prf(predicted, gold)
    return {"precision": m["p"], "recall": m["r"], "f1": m["f1"], "tp": m["tp"], "fp": m["fp"], "fn": m["fn"]}


def raw_entities(nlp, texts: Sequence[str]) -> List[Set[Tuple[str, str]]]:
    """What the model alone gives: distinct (span text, label), kept labels only."""
    from transforms.entities import KEPT_LABELS
    return [{(e.text, e.label_) for e in doc.ents if e.label_ in KEPT_LABELS}
            for doc in nlp.pipe(texts, batch_size=32)]


def pipeline_entities(nlp, texts: Sequence[str]) -> List[Set[Tuple[str, str]]]:
    from transforms.entities import tag_texts
    return [{(e.text, e.label) for e in ents} for ents in tag_texts(nlp, texts, cap=1000)]


def entity_quality(nlp, gold: Gold, show_errors: bool = False) -> Dict[str, Dict[str, float]]:
    """On the hand-written paragraphs: the base model alone vs the shipped tagging (fine-tuned
    model). Real-news quality is measured by ``python -m benchmarks.ner_real``."""
    from transforms.entities import load_base_model
    texts = [t for _, t, _ in gold]
    refs = [g for _, _, g in gold]
    runs = {"raw_model": raw_entities(load_base_model(), texts),
            "shipped_tagging": pipeline_entities(nlp, texts)}
    out = {}
    for name, predicted in runs.items():
        out[name] = prf(predicted, refs)
        out[name]["f1_ignoring_label"] = prf(predicted, refs, with_label=False)["f1"]
    if show_errors:
        for (ident, _, ref), pred in zip(gold, runs["shipped_tagging"]):
            missing, extra = sorted(ref - pred), sorted(pred - ref)
            if missing or extra:
                print(f"{ident}: missing {missing}\n     extra   {extra}", file=sys.stderr)
    return out


def make_articles(gold: Gold, count: int, words: int = ARTICLE_WORDS) -> List[str]:
    """``count`` distinct ~600-word articles cut from the gold paragraphs (rotated)."""
    paragraphs = [t for _, t, _ in gold]
    articles = []
    for i in range(count):
        picked, total, j = [], 0, i
        while total < words:
            para = paragraphs[j % len(paragraphs)]
            picked.append(para)
            total += len(para.split())
            j += 7
        text = " ".join("\n".join(picked).split(" ")[:words])
        articles.append(text)
    return articles


MODES = {
    "blis_raw": "model loaded with spaCy's default ops (blis), nlp.pipe only: the foundation's path",
    "raw": "load_model() (numpy BLAS, one thread), nlp.pipe only",
    "full": "tag_texts(): chunking + NER + counting per article, what the pipeline runs",
}


def _time_ner(args) -> Tuple[float, float, int, int]:
    """(wall s, cpu s, words, pid) for one process tagging ``texts`` in the given mode."""
    mode, texts = args
    import spacy
    from transforms.entities import (EXCLUDED_COMPONENTS, MODEL_NAME, _single_blas_thread, load_model,
                                     tag_texts)
    nlp = spacy.load(MODEL_NAME, exclude=EXCLUDED_COMPONENTS) if mode == "blis_raw" else load_model()
    list(nlp.pipe(texts[:4]))  # warm up
    wall, cpu = time.perf_counter(), time.process_time()
    if mode == "full":
        tag_texts(nlp, texts)
    else:
        with _single_blas_thread():
            for doc in nlp.pipe(texts, batch_size=32):
                doc.ents
    return (time.perf_counter() - wall, time.process_time() - cpu, sum(len(t.split()) for t in texts),
            os.getpid())


def ner_speed(gold: Gold, articles: int, repetitions: int) -> Dict[str, object]:
    """Throughput at 1 and 2 processes for each of ``MODES``, repetitions interleaved; the best
    of the repetitions is reported (the machine is shared: the least disturbed run).

    Each process loads its own model (as a Beam worker does); model loading is not timed.
    words/CPU-s is the issue's target unit; wall-clock words/s depends on the machine's load.
    """
    texts = make_articles(gold, articles)
    results: Dict[str, List[Tuple[float, float, int]]] = {}
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as pool:
        for _ in range(repetitions):
            for mode in MODES:
                # 1 process: all articles in one worker.
                wall, cpu, words, _pid = pool.apply(_time_ner, ((mode, texts),))
                results.setdefault(f"{mode}_1proc", []).append((wall, cpu, words))
                # 2 processes: half each, started together; wall = the slower one.
                halves = [(mode, texts[0::2]), (mode, texts[1::2])]
                parts = pool.map(_time_ner, halves, chunksize=1)
                if parts[0][3] == parts[1][3]:
                    print("warning: both halves ran in one process", file=sys.stderr)
                results.setdefault(f"{mode}_2proc", []).append(
                    (max(p[0] for p in parts), sum(p[1] for p in parts), sum(p[2] for p in parts)))
    out: Dict[str, object] = {"modes": MODES}
    for key, runs in results.items():
        best_wall = min(r[0] for r in runs)
        best_cpu = min(r[1] for r in runs)
        words = runs[0][2]
        out[key] = {"words_per_s": round(words / best_wall), "articles_per_s": round(articles / best_wall, 1),
                    "words_per_cpu_s": round(words / best_cpu),
                    "words_per_cpu_s_all_runs": [round(words / r[1]) for r in runs]}
    for procs in ("1proc", "2proc"):
        for a, b in (("full", "raw"), ("raw", "blis_raw"), ("full", "blis_raw")):
            out[f"{a}_vs_{b}_cpu_{procs}"] = round(out[f"{a}_{procs}"]["words_per_cpu_s"]
                                                   / out[f"{b}_{procs}"]["words_per_cpu_s"], 3)
    try:
        out["load_average_after"] = os.getloadavg()
    except OSError:
        pass
    return out


def topic_quality() -> Dict[str, object]:
    from benchmarks import topic_sets, train_topics
    if not (topic_sets.DEFAULT_DATA / "topics-agnews").is_dir():
        return {"skipped": f"no real sets at {topic_sets.DEFAULT_DATA}"}
    return train_topics.evaluate(topic_sets.DEFAULT_DATA, with_baseline=False)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer articles and repetitions")
    parser.add_argument("--errors", action="store_true", help="print gold-set misses to stderr")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--json", default=None, metavar="FILE")
    args = parser.parse_args(argv)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from transforms.entities import load_model
    gold = load_gold()
    heldout = load_gold(HELDOUT_PATH)
    report: Dict[str, object] = {
        "gold_set": {"paragraphs": len(gold), "entities": sum(len(g) for _, _, g in gold)},
        "heldout_set": {"paragraphs": len(heldout), "entities": sum(len(g) for _, _, g in heldout)}}
    nlp = load_model()
    report["entities"] = entity_quality(nlp, gold, show_errors=args.errors)
    report["entities_heldout"] = entity_quality(nlp, heldout, show_errors=args.errors)
    print(json.dumps({k: report[k] for k in ("gold_set", "entities", "heldout_set", "entities_heldout")},
                     indent=2), flush=True)
    report["topics"] = topic_quality()
    print(json.dumps({"topics": report["topics"]}, indent=2), flush=True)
    if not args.skip_speed:
        n, reps = (60, 2) if args.quick else (120, 3)
        report["ner_speed"] = {"articles": n, "words_per_article": ARTICLE_WORDS, "cpus": os.cpu_count(),
                               **ner_speed(gold, n, reps)}
        print(json.dumps({"ner_speed": report["ner_speed"]}, indent=2), flush=True)
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
