"""NER with the real spaCy model."""
from transforms.entities import chunk_text, merge_mentions, normalize_surface, tag_texts

TEXT = ("Hopes dim for Ukraine-Russia peace talks as Vladimir Putin and Donald Trump skip the Istanbul "
        "summit. The Kremlin said Putin would not travel. Volodymyr Zelenskiy arrived in Ankara and said "
        "Putin's absence showed Russia was not serious. Trump said talks could still work.")


def test_demo_style_entities(nlp):
    entities = tag_texts(nlp, [TEXT])[0]
    by_text = {e.text: e for e in entities}
    assert by_text["Vladimir Putin"].label == "PERSON" and by_text["Vladimir Putin"].count >= 3
    assert by_text["Donald Trump"].count == 2
    for name in ("Istanbul", "Kremlin", "Russia", "Ankara"):
        assert name in by_text, name
    assert "Putin" not in by_text  # merged into the full name
    assert not any(e.label in ("DATE", "CARDINAL", "MONEY") for e in entities)
    counts = [e.count for e in entities]
    assert counts == sorted(counts, reverse=True)


def test_merging_rules():
    mentions = [("President Vladimir Putin", "PERSON", 0), ("Putin's", "PERSON", 50),
                ("Putin", "ORG", 80), ("the Kremlin", "ORG", 100), ("Kremlin", "ORG", 140),
                ("Secretary of State Marco Rubio", "PERSON", 200), ("Rubio", "PERSON", 260),
                ("“Istanbul”", "GPE", 300), ("2025", "DATE", 310), ("three", "CARDINAL", 320)]
    merged = {(e.text, e.label): e.count for e in merge_mentions(mentions)}
    assert merged == {("Vladimir Putin", "PERSON"): 3, ("Kremlin", "ORG"): 2,
                      ("Marco Rubio", "PERSON"): 2, ("Istanbul", "GPE"): 1}
    assert normalize_surface("the  European\u00a0Union", "ORG") == "European Union"
    assert len(merge_mentions([(f"Person{i} Name", "PERSON", i) for i in range(100)], cap=10)) == 10


def test_long_bodies_are_chunked(nlp):
    paragraph = "Angela Merkel met Emmanuel Macron in Paris to discuss trade. " * 20
    body = "\n".join([paragraph] * 200)  # ~250k characters
    assert len(chunk_text(body)) > 1
    assert "".join(p for _, p in chunk_text(body)) == body
    entities = tag_texts(nlp, [body, ""])
    merkel = [e for e in entities[0] if e.text == "Angela Merkel"]
    assert merkel and merkel[0].count >= 3000
    assert entities[1] == ()


# --- rules and gazetteer (transforms.entities.fix_mentions), with and without the model ---

from benchmarks.nlp import entity_quality, load_gold  # noqa: E402
from transforms.entities import find_dateline, fix_mentions  # noqa: E402

DATELINE_TEXT = ("SANTOS, Brazil, May 13 (EconoTimes) \u2014 Dockworkers at the Port of Santos walked out "
                 "on Tuesday. Secretary of State Marco Rubio said the United States was watching. "
                 "Ukrainian President Volodymyr Zelenskiy met Kremlin critics in Kyiv. Zelenskiy, "
                 "speaking later, said the talks in Santos had been useful.")


def _by_text(entities):
    return {e.text: e for e in entities}


def test_dateline_state_title_and_repeated_names(nlp):
    entities = _by_text(tag_texts(nlp, [DATELINE_TEXT])[0])
    assert entities["Santos"].label == "GPE" and entities["Santos"].count == 2
    assert "SANTOS" not in entities and "EconoTimes" not in entities  # credit line is not a story entity
    assert "State" not in entities  # part of a title
    assert entities["Marco Rubio"].label == "PERSON"
    assert entities["Volodymyr Zelenskiy"].label == "PERSON" and entities["Volodymyr Zelenskiy"].count == 2
    assert entities["Kyiv"].label == "GPE"
    assert entities["United States"].label == "GPE"


def test_find_dateline_forms():
    assert find_dateline("PONTA DELGADA, Azores \u2014 Scientists said").city == "Ponta Delgada"
    assert find_dateline("NEW YORK (Reuters) - Stocks rose").city == "New York"
    line = find_dateline("WASHINGTON, June 4 (EconoTimes) \u2014 x")
    assert (line.city, line.credit_start) == ("Washington", 19)
    for text in ("Hopes dim for talks \u2014 x", "AI \u2014 the future", "Lena Hartmann spent the week"):
        assert find_dateline(text) is None


def test_rules_fix_labels_and_spans_without_the_model():
    text = ("The Gulls gave Alvarez an early lead. Diego Alvarez pitched in Sri Lanka and Kyiv. "
            "Jordan Mills homered. Nadia Karim of Voltra Energy spoke. Bayline Shipbuilding hired. "
            "Aryna Sabalenka of Belarus won the Lakeside Half Marathon.")
    model = [(surface, label, text.index(surface)) for surface, label in [
        ("Gulls gave Alvarez", "PERSON"), ("Diego Alvarez", "PERSON"), ("Sri Lanka", "PERSON"),
        ("Jordan Mills", "PERSON"), ("Nadia Karim", "ORG"), ("Voltra Energy", "PERSON"),
        ("Bayline Shipbuilding", "PERSON"), ("Aryna Sabalenka of Belarus", "ORG"),
        ("the Lakeside Half Marathon", "ORG")]]
    merged = {(e.text, e.label): e.count for e in merge_mentions(fix_mentions(text, model))}
    assert merged[("Diego Alvarez", "PERSON")] == 2          # run-on trimmed, then merged
    assert ("Sri Lanka", "GPE") in merged and ("Kyiv", "GPE") in merged  # relabelled / added
    assert ("Jordan Mills", "PERSON") in merged and ("Jordan", "GPE") not in merged
    assert ("Nadia Karim", "PERSON") in merged                # given name
    assert ("Voltra Energy", "ORG") in merged and ("Bayline Shipbuilding", "ORG") in merged
    assert ("Aryna Sabalenka", "PERSON") in merged and ("Belarus", "GPE") in merged
    assert ("Lakeside Half Marathon", "EVENT") in merged


def test_short_organisation_names_and_aliases_merge():
    mentions = [("Samsung Electronics", "ORG", 0), ("Samsung", "ORG", 40), ("Samsung's", "PERSON", 80),
                ("U.S.", "GPE", 100), ("US", "GPE", 120), ("United States", "GPE", 140),
                ("European", "NORP", 160), ("European Union", "ORG", 180), ("Quill Data Inc.", "ORG", 200),
                ("Quill Data", "ORG", 230), ("McDonald's", "ORG", 250), ("Wang Yi", "PERSON", 270),
                ("Wang", "PERSON", 290)]
    merged = {(e.text, e.label): e.count for e in merge_mentions(mentions)}
    assert merged == {("Samsung Electronics", "ORG"): 3, ("United States", "GPE"): 3,
                      ("European", "NORP"): 1, ("European Union", "ORG"): 1, ("Quill Data", "ORG"): 2,
                      ("McDonald's", "ORG"): 1, ("Wang Yi", "PERSON"): 2}


def test_fixes_beat_raw_model_and_merging_on_gold_set(nlp):
    gold = load_gold()
    assert len(gold) >= 30 and sum(len(g) for _, _, g in gold) >= 300
    scores = entity_quality(nlp, gold)
    raw, merged, fixed = (scores[k]["f1"] for k in ("raw_model", "merge_only", "merge_and_fixes"))
    assert merged > raw + 0.1 and fixed > merged + 0.05 and fixed >= 0.9, scores


def test_numpy_blas_model_gives_the_same_entities_as_default_ops(nlp):
    """load_model swaps blis for numpy's BLAS (faster here); it must not change a single span."""
    import spacy
    from transforms.entities import EXCLUDED_COMPONENTS, MODEL_NAME
    default = spacy.load(MODEL_NAME, exclude=EXCLUDED_COMPONENTS)
    texts = [t for _, t, _ in load_gold()] + [TEXT, DATELINE_TEXT]
    spans = lambda model: [[(e.start_char, e.end_char, e.label_) for e in d.ents] for d in model.pipe(texts)]
    assert spans(nlp) == spans(default)
