"""Train the topic classifier shipped in ``transforms/topic_model.json``, and measure it.

    python -m benchmarks.train_topics [--data ../shared/data/dev]           # train, write, measure
    python -m benchmarks.train_topics --check [--data ../shared/data/dev]   # measure the shipped file

Needs the ``training`` extra (``pip install -e .[training]``: scikit-learn for the TF-IDF
vocabulary and the plain-library baseline); the shipped model loads without it.

Training data (``benchmarks/topic_sets.py``): the AG News items outside the held-out part
(6,000 real items) and the project's hand-written items of ``benchmarks/data/topics.txt``
(stories) and ``topics_short.txt`` (briefs shaped like AG items) -- the only source for
politics, health, science, entertainment and lifestyle; opinion items are left out:
opinion is a genre, decided by explicit signals, never by the text.

AG's classes are wider than the slugs they map to (World news includes other countries'
politics, Sci/Tech includes science), and 6,000 AG items outweigh 42 hand-written ones per
slug: trained as one softmax, politics became world. So the softmax is over *groups*
(world+politics, technology+science, and the other slugs), trained on AG and the
hand-written items (politics counted as the world group); a logistic *split* per group,
trained on the hand-written items of its two slugs, shares the group's probability
between them. Features: TF-IDF of words and word pairs (sublinear tf, smoothed idf, terms
in >= ``MIN_DF`` documents); softmax regression with L2 by full-batch Adam from zeros and
the splits by L-BFGS (deterministic: same data, same file).

Confidence: the softmax temperature is fitted on out-of-fold predictions of the real AG
training items (5 folds), so ``topic_confidence`` is a calibrated probability; below
``min_confidence`` the topic is ``other``. The threshold is the upper edge of the highest
confidence band in which out-of-fold predictions are right less than half of the time.
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
import time
from typing import Dict, List, Optional, Sequence, Set, Tuple

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import topic_sets  # noqa: E402
from benchmarks.topic_sets import AG_ACCEPTS, MIND_ACCEPTS, Item  # noqa: E402
from schemas.taxonomy import DEFAULT_TOPIC  # noqa: E402
from transforms.topics import MODEL_PATH, TopicClassifier, classifier_text, tokenize  # noqa: E402

# The softmax's classes. AG's World and Sci/Tech hold two slugs each, so they are groups
# whose share between the two slugs is learnt by a logistic split from the hand-written
# items (the only ones with the fine label). Never opinion (a genre), never other.
GROUPS = ("world", "business", "technology", "health", "sports", "entertainment", "lifestyle")
SPLITS = (("world", "politics"), ("technology", "science"))
GROUP_OF = {second: group for group, second in SPLITS}
LABELS = GROUPS  # what fit_softmax learns
SPLIT_C = 10.0  # inverse L2 strength of the splits (~100 hand-written items each)
LANGUAGES = ("en",)  # what the training text is in: the classifier runs on nothing else
NGRAM = 2
MIN_DF = 2
L2 = 2e-5
OWN_WEIGHT = 10.0  # a hand-written item counts as 10 AG items (67 per class against 1,500)
ITERATIONS = 400
LEARNING_RATE = 0.05
FOLDS = 5
PRUNE = 1e-3  # terms whose every weight is below this (after calibration) are dropped
SEED_NOTE = "AG held-out part: 400 items per class, seeded shuffle (benchmarks/topic_sets.py)"


# --------------------------------------------------------------------------- training

def _label_sets(items: Sequence[Item]) -> List[Set[str]]:
    return [{GROUP_OF.get(i.label, i.label)} for i in items]


def _vectorizer():
    from sklearn.feature_extraction.text import TfidfVectorizer
    return TfidfVectorizer(analyzer=lambda text: tokenize(text, NGRAM), sublinear_tf=True,
                           min_df=MIN_DF, smooth_idf=True, norm="l2", dtype=np.float64)


def texts(items: Sequence[Item]) -> List[str]:
    return [classifier_text(i.title, i.body) for i in items]


def fit_softmax(x, accepted: Sequence[Set[str]], weights: np.ndarray, l2: float = L2,
                iterations: int = ITERATIONS) -> Tuple[np.ndarray, np.ndarray]:
    """Softmax regression where each row may accept several labels: minimises the weighted
    mean of ``-log(sum_{c in accepted} p_c)`` + ``l2/2 |W|^2`` by full-batch Adam."""
    n, d = x.shape
    mask = np.zeros((n, len(LABELS)))
    for row, labels in enumerate(accepted):
        for label in labels:
            mask[row, LABELS.index(label)] = 1.0
    weights = weights / weights.sum()
    w, b = np.zeros((d, len(LABELS))), np.zeros(len(LABELS))
    state = [np.zeros_like(w), np.zeros_like(w), np.zeros_like(b), np.zeros_like(b)]
    xt = x.T.tocsr()
    for step in range(1, iterations + 1):
        scores = x @ w + b
        scores -= scores.max(axis=1, keepdims=True)
        p = np.exp(scores)
        p /= p.sum(axis=1, keepdims=True)
        q = p * mask
        q /= q.sum(axis=1, keepdims=True)
        delta = (p - q) * weights[:, None]
        for i, (param, grad) in enumerate(((w, xt @ delta + l2 * w), (b, delta.sum(axis=0)))):
            m, v = state[2 * i], state[2 * i + 1]
            m *= 0.9
            m += 0.1 * grad
            v *= 0.999
            v += 0.001 * grad * grad
            param -= LEARNING_RATE * (m / (1 - 0.9 ** step)) / (np.sqrt(v / (1 - 0.999 ** step)) + 1e-8)
    return w, b


def _training_rows(ag_train: Sequence[Item], own: Sequence[Item]):
    items = list(ag_train) + list(own)
    accepted = _label_sets(ag_train) + _label_sets(own)
    weights = np.array([1.0] * len(ag_train) + [OWN_WEIGHT] * len(own))
    return items, accepted, weights


def _fit_items(items, accepted, weights):
    vec = _vectorizer()
    x = vec.fit_transform(texts(items))
    w, b = fit_softmax(x, accepted, weights)
    return vec, w, b


def fit_splits(vec, own: Sequence[Item]) -> Tuple[np.ndarray, np.ndarray]:
    """One logistic regression per split, on the hand-written items of its two slugs (classes
    weighted equally: the files hold more briefs for the slug AG lacks):
    (weights: terms x splits, bias: splits); a positive score means the second slug."""
    from sklearn.linear_model import LogisticRegression
    w = np.zeros((len(vec.vocabulary_), len(SPLITS)))
    b = np.zeros(len(SPLITS))
    for k, (group, second) in enumerate(SPLITS):
        items = [i for i in own if i.label in (group, second)]
        model = LogisticRegression(C=SPLIT_C, max_iter=5000, class_weight="balanced").fit(
            vec.transform(texts(items)), [int(i.label == second) for i in items])
        w[:, k], b[k] = model.coef_[0], model.intercept_[0]
    return w, b


def combine(group_probs: np.ndarray, split_scores: np.ndarray) -> np.ndarray:
    """Group probabilities + split scores -> probabilities over ``final_labels()``."""
    columns = []
    for g, group in enumerate(GROUPS):
        k = next((k for k, (grp, _) in enumerate(SPLITS) if grp == group), None)
        if k is None:
            columns.append(group_probs[:, g])
        else:
            share = 1 / (1 + np.exp(-np.clip(split_scores[:, k], -60, 60)))
            columns += [group_probs[:, g] * (1 - share), group_probs[:, g] * share]
    return np.stack(columns, axis=1)


def final_labels() -> Tuple[str, ...]:
    seconds = dict(SPLITS)
    return tuple(s for g in GROUPS for s in ((g, seconds[g]) if g in seconds else (g,)))


def _probs(scores: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    scores = scores / temperature
    scores = scores - scores.max(axis=1, keepdims=True)
    p = np.exp(scores)
    return p / p.sum(axis=1, keepdims=True)


def out_of_fold_scores(ag_train: Sequence[Item], own: Sequence[Item]) -> Tuple[np.ndarray, np.ndarray]:
    """(group scores, split scores) of each AG training item by models that did not see it
    (5 stratified folds; the hand-written items are always in training)."""
    scores = np.zeros((len(ag_train), len(LABELS)))
    split_scores = np.zeros((len(ag_train), len(SPLITS)))
    order = {label: 0 for label in AG_ACCEPTS}
    fold_of = []
    for item in ag_train:
        fold_of.append(order[item.label] % FOLDS)
        order[item.label] += 1
    for fold in range(FOLDS):
        train = [i for i, f in zip(ag_train, fold_of) if f != fold]
        test_rows = [r for r, f in enumerate(fold_of) if f == fold]
        vec, w, b = _fit_items(*_training_rows(train, own))
        sw, sb = fit_splits(vec, own)
        x = vec.transform(texts([ag_train[r] for r in test_rows]))
        scores[test_rows] = x @ w + b
        split_scores[test_rows] = x @ sw + sb
        print(f"fold {fold + 1}/{FOLDS} done", file=sys.stderr)
    return scores, split_scores


def calibrate(scores: np.ndarray, split_scores: np.ndarray, items: Sequence[Item]
              ) -> Tuple[float, float, Dict[str, float]]:
    """(temperature, min_confidence, figures) from out-of-fold scores of real items: the
    temperature maximises the likelihood of the (group) labels; the threshold is the top
    of the highest 0.05-wide band of final confidence whose predictions are right < 50 %."""
    mask = np.array([[label == i.label for label in LABELS] for i in items], dtype=float)

    def nll(t: float) -> float:
        return float(-np.log((_probs(scores, t) * mask).sum(axis=1) + 1e-12).mean())

    grid = [round(0.2 + 0.02 * k, 2) for k in range(200)]
    temperature = min(grid, key=nll)
    p = combine(_probs(scores, temperature), split_scores)
    confidence = p.max(axis=1)
    labels = final_labels()
    right = np.array([labels[j] in AG_ACCEPTS[i.label] for j, i in zip(p.argmax(axis=1), items)])
    threshold = 0.0
    for k in range(2, 16):
        low, high = 0.05 * (k - 1), 0.05 * k
        band = (confidence >= low) & (confidence < high)
        if band.sum() >= 10 and right[band].mean() < 0.5:
            threshold = round(high, 2)
    # Reliability of what the temperature calibrates: the group probability vs. the group
    # being right (the split's share comes from hand-written items only).
    groups = _probs(scores, temperature)
    ece = expected_calibration_error(groups.max(axis=1), mask[np.arange(len(items)), groups.argmax(axis=1)] > 0)
    return temperature, threshold, {"out_of_fold_items": len(items), "temperature": temperature,
                                    "nll_before": round(nll(1.0), 4), "nll_after": round(nll(temperature), 4),
                                    "expected_calibration_error": round(float(ece), 4),
                                    "out_of_fold_accuracy_mapped": round(float(right.mean()), 4),
                                    "below_threshold_share": round(float((confidence < threshold).mean()), 4)}


def expected_calibration_error(confidence: np.ndarray, right: np.ndarray, bins: int = 10) -> float:
    """Mean |accuracy - confidence| over 10 equal-width confidence bins, weighted by size."""
    edges = np.linspace(0, 1, bins + 1)
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        band = (confidence >= lo) & ((confidence < hi) if hi < 1 else (confidence <= hi))
        if band.any():
            total += abs(right[band].mean() - confidence[band].mean()) * band.mean()
    return total


def export(vec, w: np.ndarray, b: np.ndarray, sw: np.ndarray, sb: np.ndarray,
           temperature: float, threshold: float) -> TopicClassifier:
    w = np.hstack([w / temperature, sw])
    b = np.concatenate([b / temperature, sb])
    idf = vec.idf_
    weights, idfs = {}, {}
    for term, column in vec.vocabulary_.items():
        row = w[column]
        if np.abs(row).max() >= PRUNE:
            weights[term] = tuple(float(round(v, 4)) for v in row)
            idfs[term] = float(round(idf[column], 4))
    return TopicClassifier(groups=GROUPS, idf=idfs, weights=weights, splits=SPLITS,
                           bias=tuple(float(round(v, 4)) for v in b), ngram=NGRAM,
                           min_confidence=threshold, languages=LANGUAGES)


def train(data: pathlib.Path, out_path: pathlib.Path = MODEL_PATH) -> Dict[str, object]:
    started = time.perf_counter()
    ag_train, _held_out = topic_sets.load_ag(data)
    own = topic_sets.load_own()
    with _one_thread():
        oof, oof_splits = out_of_fold_scores(ag_train, own)
        temperature, threshold, calibration = calibrate(oof, oof_splits, ag_train)
        vec, w, b = _fit_items(*_training_rows(ag_train, own))
        sw, sb = fit_splits(vec, own)
    model = export(vec, w, b, sw, sb, temperature, threshold)
    extra = {"training": {
        "data": ["../shared/data/dev/topics-agnews (AG News, 6,000 items outside the held-out part)",
                 "benchmarks/data/topics.txt, benchmarks/data/topics_short.txt (hand-written, opinion items left out)"],
        "held_out": SEED_NOTE, "groups": list(GROUPS), "splits": [list(x) for x in SPLITS], "split_c": SPLIT_C,
        "ngram": NGRAM, "min_df": MIN_DF, "l2": L2, "own_weight": OWN_WEIGHT, "iterations": ITERATIONS,
        "learning_rate": LEARNING_RATE, "prune": PRUNE, "calibration": calibration,
        "script": "python -m benchmarks.train_topics"}}
    out_path.write_text(model.to_json(extra) + "\n", encoding="utf-8")
    return {"terms": len(model.weights), "bytes": out_path.stat().st_size,
            "temperature": temperature, "min_confidence": threshold,
            "train_seconds": round(time.perf_counter() - started, 1)}


def _one_thread():
    """One BLAS thread: results bit-stable, and the machine is shared."""
    from threadpoolctl import threadpool_limits
    return threadpool_limits(1)


# --------------------------------------------------------------------------- measuring

def scores_for(predicted: Sequence[str], items: Sequence[Item], accepts=None) -> Dict[str, object]:
    """Accuracy, per-class F1 and the confusion matrix (gold -> predicted -> count). With
    ``accepts`` (AG, MIND), a prediction in the gold class's accepted set counts as the gold class."""
    gold = [i.label for i in items]
    if accepts:
        predicted = [g if p in accepts.get(g, {g}) else p for p, g in zip(predicted, gold)]
    confusion: Dict[str, Dict[str, int]] = {}
    for g, p in zip(gold, predicted):
        confusion.setdefault(g, {})
        confusion[g][p] = confusion[g].get(p, 0) + 1
    f1 = {}
    for label in sorted(set(gold)):
        tp = sum(g == p == label for g, p in zip(gold, predicted))
        fp = sum(p == label and g != label for g, p in zip(gold, predicted))
        fn = sum(g == label and p != label for g, p in zip(gold, predicted))
        f1[label] = round(2 * tp / (2 * tp + fp + fn), 3) if tp else 0.0
    worst = max(((count / sum(row.values()), g, p) for g, row in confusion.items()
                 for p, count in row.items() if p not in (g, DEFAULT_TOPIC)), default=(0.0, None, None))
    return {"items": len(items), "accuracy": round(sum(g == p for g, p in zip(gold, predicted)) / max(1, len(items)), 4),
            "macro_f1": round(sum(f1.values()) / max(1, len(f1)), 4), "f1": f1,
            "fell_to_other": sum(p == DEFAULT_TOPIC for p in predicted),
            "largest_confusion": {"share": round(worst[0], 3), "gold": worst[1], "predicted": worst[2]},
            "confusion": {g: dict(sorted(row.items(), key=lambda kv: -kv[1])) for g, row in sorted(confusion.items())}}


def plain_baseline(ag_train: Sequence[Item]):
    """The plain library: TF-IDF (1-2 grams, sublinear tf) + LinearSVC on the same AG items."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.svm import LinearSVC
    vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
    clf = LinearSVC().fit(vec.fit_transform([f"{i.title} {i.body}" for i in ag_train]),
                          [i.label for i in ag_train])
    return lambda items: list(clf.predict(vec.transform([f"{i.title} {i.body}" for i in items])))


def evaluate(data: pathlib.Path, model: Optional[TopicClassifier] = None,
             with_baseline: bool = True) -> Dict[str, object]:
    model = model or TopicClassifier.load()
    ag_train, ag_held_out = topic_sets.load_ag(data)
    fundus_hand, excluded = topic_sets.load_fundus_hand(data)
    sets = {"ag_held_out": ag_held_out, "fundus_en_hand": fundus_hand,
            "fundus_en_url_section": topic_sets.load_fundus_url(data), "mind_mapped": topic_sets.load_mind(data)}
    baseline = plain_baseline(ag_train) if with_baseline else None
    out: Dict[str, object] = {"model_bytes": MODEL_PATH.stat().st_size, "terms": len(model.weights),
                              "min_confidence": model.min_confidence,
                              "fundus_en_hand_excluded": excluded}
    for name, items in sets.items():
        accepts = {"ag_held_out": AG_ACCEPTS, "mind_mapped": MIND_ACCEPTS}.get(name)
        predicted = [model.predict(i.title, i.body)[0] for i in items]
        raw_pairs = [model.predict(i.title, i.body, min_confidence=0.0) for i in items]
        raw = [p for p, _ in raw_pairs]
        figures = scores_for(predicted, items, accepts)
        figures["accuracy_without_threshold"] = scores_for(raw, items, accepts)["accuracy"]
        right = np.array([p in (accepts or {}).get(i.label, {i.label}) for p, i in zip(raw, items)])
        figures["confidence_ece"] = round(expected_calibration_error(np.array([c for _, c in raw_pairs]), right), 4)
        if name == "ag_held_out":
            figures["accuracy_strict"] = scores_for(predicted, items)["accuracy"]
        if baseline is not None:
            base_predicted = baseline(items)
            base = scores_for(base_predicted, items, accepts)
            figures["plain_baseline"] = {k: base[k] for k in ("accuracy", "macro_f1", "largest_confusion")}
            if name != "ag_held_out":  # the baseline knows AG's 4 classes only: compare on those too
                four = [k for k, i in enumerate(items) if i.label in AG_ACCEPTS]
                figures["on_ag_classes"] = {
                    "items": len(four),
                    "accuracy": scores_for([predicted[k] for k in four], [items[k] for k in four], accepts)["accuracy"],
                    "plain_baseline_accuracy": scores_for([base_predicted[k] for k in four],
                                                          [items[k] for k in four])["accuracy"]}
        out[name] = figures
    full_articles = [i for i in fundus_hand] * 5
    wall, cpu = time.perf_counter(), time.process_time()
    for item in full_articles:
        model.predict(item.title, item.body)
    # CPU time is what an article costs; wall time on a shared machine mostly measures the others.
    out["cpu_ms_per_full_article"] = round((time.process_time() - cpu) * 1000 / len(full_articles), 3)
    out["wall_ms_per_full_article"] = round((time.perf_counter() - wall) * 1000 / len(full_articles), 3)
    out["load_average"] = [round(x, 2) for x in os.getloadavg()]
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="train/measure the topic classifier")
    parser.add_argument("--check", action="store_true", help="only measure the shipped model")
    parser.add_argument("--data", type=pathlib.Path, default=topic_sets.DEFAULT_DATA,
                        help="the real sets (default ../shared/data/dev)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the plain-library baseline")
    args = parser.parse_args(argv)
    if not args.check:
        print(json.dumps(train(args.data), indent=2))
    print(json.dumps(evaluate(args.data, with_baseline=not args.no_baseline), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
