"""Nothing lost without a trace: every input URL ends as an article, a duplicate,
a dead letter, or a URL an earlier run already wrote.

Inputs are page-level: each page request (feed entries, ``--url``, sources
pages, tracking-parameter variants), each saved page or WARC record, and each
feed or file that failed as a whole (its dead letter is its outcome). An input
may reach the output under another URL — a redirect, or the page's canonical
link — so outcomes are also looked up through ``lineage`` pairs (input URL,
URL it became). Each input is classified once: already written if the sink
found its rows in place; else by the outcomes recorded under the input URL
itself (first match wins: article, duplicate, dead letter, already written),
where an article's page URL counts only when nothing else is recorded there
(a copy folded by canonical URL is recorded under the input URL it came from,
which may be the representative's page URL); else by the outcomes of the URL it
became. The rest is *unaccounted*, which must be 0. So ``inputs = articles + duplicates + dead_letters + already_written +
unaccounted`` holds by construction, counted by distinct input URL, and the run
summary prints it.
"""
from __future__ import annotations

from typing import Dict, Iterable, List, Tuple

import apache_beam as beam

ARTICLE, DUPLICATE, DEAD_LETTER, SKIPPED, UNACCOUNTED = (
    "articles", "duplicates", "dead_letters", "already_written", "unaccounted")
ORDER = (ARTICLE, DUPLICATE, DEAD_LETTER, SKIPPED)  # first match wins
# A row the sink found already in its partition (written by an earlier run that was
# stopped before its index): already written, even though this run produced it again.
PRESENT = "present"
# An article's page URL when the article came from another input URL (a redirect,
# a saved page): weaker than a duplicate recorded under that same URL.
ARTICLE_PAGE = "article_page"
MANIFEST_TABLE = "_accounting"
EXAMPLES = 10


def best(categories: Iterable[str]) -> str:
    found = set(categories)
    if PRESENT in found:
        return SKIPPED
    strong = next((c for c in ORDER if c in found), UNACCOUNTED)
    if strong == UNACCOUNTED and ARTICLE_PAGE in found:
        return ARTICLE
    return strong


def classify(direct: Iterable[str], via: Iterable[str]) -> str:
    """One input's category from the outcomes under its own URL (``direct``)
    and those of the URLs it became (``via``: categories already resolved)."""
    direct, via = set(direct), set(via)
    if PRESENT in direct or SKIPPED in via:
        return SKIPPED
    found = best(direct)
    return found if found != UNACCOUNTED else best(via)


def article_outcomes(article) -> List[Tuple[str, str]]:
    """Where an article is recorded: its input URL, and its page URL (weakly,
    when it came from another input URL)."""
    if article.input_url and article.input_url != article.url:
        return [(article.input_url, ARTICLE), (article.url, ARTICLE_PAGE)]
    return [(article.url, ARTICLE)]


def account(inputs: Iterable[str], lineage: Iterable[Tuple[str, str]],
            outcomes: Iterable[Tuple[str, str]]) -> Dict[str, object]:
    """Pure version of :class:`Account` (same figures): ``outcomes`` are
    (URL, category) pairs read from what was written."""
    by_url: Dict[str, set] = {}
    for url, category in outcomes:
        by_url.setdefault(url, set()).add(category)
    became: Dict[str, set] = {}
    for source, target in lineage:
        became.setdefault(source, set()).add(target)
    figures = empty()
    for url in sorted(set(inputs)):
        via = {best(by_url.get(target, ())) for target in became.get(url, ())}
        add(figures, classify(by_url.get(url, ()), via - {UNACCOUNTED}), url)
    return figures


def empty() -> Dict[str, object]:
    return {"table": MANIFEST_TABLE, "inputs": 0, **{c: 0 for c in ORDER}, UNACCOUNTED: 0,
            "unaccounted_examples": []}


def add(figures: Dict[str, object], category: str, url: str) -> None:
    figures["inputs"] += 1
    figures[category] += 1
    if category == UNACCOUNTED:
        figures["unaccounted_examples"] = sorted(figures["unaccounted_examples"] + [url])[:EXAMPLES]


def merge(parts: Iterable[Dict[str, object]]) -> Dict[str, object]:
    total = empty()
    for part in parts:
        for key in ("inputs", *ORDER, UNACCOUNTED):
            total[key] += part[key]
        total["unaccounted_examples"] = sorted(total["unaccounted_examples"]
                                               + part["unaccounted_examples"])[:EXAMPLES]
    return total


class _CountFn(beam.CombineFn):
    def create_accumulator(self):
        return empty()

    def add_input(self, acc, element):
        url, category = element
        add(acc, category, url)
        return acc

    def merge_accumulators(self, accs):
        return merge(accs)

    def extract_output(self, acc):
        return acc


def _join(label: str, tagged: Dict[str, List[beam.PCollection]]):
    """``CoGroupByKey`` over several PCollections per tag, with ONE Flatten: each input is
    tagged where it is produced (fused there), instead of being flattened per tag first
    and again inside ``CoGroupByKey`` (each Flatten is materialised by the local runner).
    Yields (key, {tag: [values]}) for every key, every tag present."""
    tags = list(tagged)
    parts = [pcoll | f"{label}Tag{tag.title()}{i or ''}" >> beam.Map(lambda kv, t=tag: (kv[0], (t, kv[1])))
             for tag in tags for i, pcoll in enumerate(tagged[tag])]

    def _ungroup(element):
        key, values = element
        groups = {tag: [] for tag in tags}
        for tag, value in values:
            groups[tag].append(value)
        return key, groups

    return (parts
            | f"{label}Flatten" >> beam.Flatten()
            | f"{label}Group" >> beam.GroupByKey()
            | f"{label}Ungroup" >> beam.Map(_ungroup))


def _parts(pcolls) -> List[beam.PCollection]:
    """A PCollection, or a list of them (parts the caller did not flatten)."""
    return list(pcolls) if isinstance(pcolls, (list, tuple)) else [pcolls]


class Account(beam.PTransform):
    """A dict of PCollections in -> one manifest record ``{"table": "_accounting",
    "inputs": …, "articles": …, "duplicates": …, "dead_letters": …,
    "already_written": …, "unaccounted": …, "unaccounted_examples": […]}``.

    Keys: ``inputs`` (input URLs), ``lineage`` ((input URL, URL it became)
    pairs), ``articles``/``duplicates``/``dead_letters`` (the records written)
    and ``skipped`` (URLs an earlier run wrote); optional ``present``. ``inputs``
    and ``lineage`` may be lists of PCollections (not flattened: one Flatten less)."""

    def expand(self, pcolls):
        str_pair = Tuple[str, str]
        outcomes = [
            pcolls["articles"] | "ArticleUrls" >> beam.FlatMap(article_outcomes).with_output_types(str_pair),
            pcolls["duplicates"] | "DuplicateUrls" >> beam.Map(
                lambda d: (d.url, DUPLICATE)).with_output_types(str_pair),
            pcolls["dead_letters"] | "DeadLetterUrls" >> beam.Map(
                lambda d: (d.url, DEAD_LETTER)).with_output_types(str_pair),
            pcolls["skipped"] | "SkippedUrls" >> beam.Map(lambda u: (u, SKIPPED)).with_output_types(str_pair),
        ]
        if "present" in pcolls:
            outcomes.append(pcolls["present"] | "PresentUrls" >> beam.Map(
                lambda u: (u, PRESENT)).with_output_types(str_pair))
        # Outcomes reached through lineage: (target, source) joined with outcomes by target.
        by_target = [pairs | f"ByTarget{i or ''}" >> beam.Map(lambda p: (p[1], p[0])).with_output_types(str_pair)
                     for i, pairs in enumerate(_parts(pcolls["lineage"]))]

        def _via(element) -> List[Tuple[str, str]]:
            _target, groups = element
            found = best(groups["out"])
            if found == UNACCOUNTED:
                return []
            return [(source, found) for source in set(groups["sources"])]

        inherited = (_join("JoinLineage", {"sources": by_target, "out": outcomes})
                     | "Inherit" >> beam.FlatMap(_via).with_output_types(str_pair))
        keyed_inputs = [urls | f"KeyInputs{i or ''}" >> beam.Map(lambda u: (u, True)).with_output_types(
            Tuple[str, bool]) for i, urls in enumerate(_parts(pcolls["inputs"]))]

        def _classify(element):
            url, groups = element
            if not groups["input"]:
                return []
            return [(url, classify(groups["out"], groups["via"]))]

        return (_join("JoinInputs", {"input": keyed_inputs, "out": outcomes, "via": [inherited]})
                | "Classify" >> beam.FlatMap(_classify).with_output_types(str_pair)
                | "Count" >> beam.CombineGlobally(_CountFn()))
