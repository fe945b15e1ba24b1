"""NER with the real spaCy model."""
from benchmarks.nlp import entity_quality, load_gold
from core.entities import _char_batches
from transforms.entities import (NER_WEIGHTS, ModelCache, chunk_text, load_base_model, merge_mentions,
                                 normalize_surface, tag_articles, tag_texts)

TEXT = ("Hopes dim for Ukraine-Russia peace talks as Vladimir Putin and Donald Trump skip the Istanbul "
        "summit. The Kremlin said Putin would not travel. Volodymyr Zelenskiy arrived in Ankara and said "
        "Putin's absence showed Russia was not serious. Trump said talks could still work.")


def test_demo_style_entities(nlp):
    entities = tag_texts(nlp, [TEXT])[0]
    found = {(e.text, e.label): e.count for e in entities}
    assert found[("Putin", "PERSON")] == 2 and found[("Vladimir Putin", "PERSON")] == 1
    for person in ("Donald Trump", "Volodymyr Zelenskiy", "Trump"):
        assert (person, "PERSON") in found, person
    for place in ("Russia", "Ukraine", "Istanbul", "Ankara"):
        assert (place, "GPE") in found, place
    assert not any(e.label in ("DATE", "CARDINAL", "MONEY") for e in entities)
    counts = [e.count for e in entities]
    assert counts == sorted(counts, reverse=True)


def test_mentions_are_counted_per_text_and_label():
    """Distinct (text, label), as the real-news measure counts them: no alias or surname merging
    (measured to cost F1 on real news, docs/quality.md), only spacing unified."""
    mentions = [("Vladimir Putin", "PERSON", 0), ("Putin", "PERSON", 50), ("Putin", "PERSON", 80),
                ("Kremlin", "ORG", 100), ("Kremlin", "GPE", 140), ("Vladimir\nPutin", "PERSON", 200),
                ("2025", "DATE", 310), ("three", "CARDINAL", 320), ("1-0", "ORG", 330)]
    merged = [(e.text, e.label, e.count) for e in merge_mentions(mentions)]
    assert merged == [("Vladimir Putin", "PERSON", 2), ("Putin", "PERSON", 2), ("Kremlin", "ORG", 1),
                      ("Kremlin", "GPE", 1)]
    assert normalize_surface("European\u00a0 Union") == "European Union"
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


def test_spacy_batches_are_bounded_by_characters_and_do_not_change_the_entities(nlp):
    """spaCy's working memory follows the characters it tags at once (~3 KB each: a batch of
    8 long articles took +123 MiB of the run's peak); batching is not allowed to change a span."""
    pieces = [(i, 0, "x" * n) for i, n in enumerate([4000, 4000, 3000, 12000, 500, 500])]
    assert [[p[0] for p in b] for b in _char_batches(pieces, 32, 10_000)] == [[0, 1], [2], [3], [4, 5]]
    assert [[p[0] for p in b] for b in _char_batches(pieces, 2, 10**9)] == [[0, 1], [2, 3], [4, 5]]
    texts = [TEXT, "Angela Merkel met Emmanuel Macron in Paris.\n" * 300, "", TEXT.upper(), TEXT[:90]]
    one_batch = tag_texts(nlp, texts, batch_chars=10**9)
    assert tag_texts(nlp, texts, batch_chars=100) == one_batch == tag_texts(nlp, texts)
    assert one_batch[0] and one_batch[1]


def test_fine_tuned_weights_are_shipped_and_loaded(nlp):
    """The NER trained on real news (benchmarks/train_ner.py) replaces the base model's: city-named
    clubs are organisations, the score is not glued to the name."""
    assert (NER_WEIGHTS / "model").stat().st_size > 1_000_000
    text = ("Manchester United beat Chelsea 2-1 at Old Trafford on Saturday. Bruno Fernandes scored twice "
            "for United, and Chelsea manager Enzo Maresca said his side had been unlucky.")
    found = {(e.text, e.label) for e in tag_texts(nlp, [text])[0]}
    assert {("Manchester United", "ORG"), ("Chelsea", "ORG"), ("Bruno Fernandes", "PERSON")} <= found, found
    base = {(e.text, e.label) for e in tag_texts(load_base_model(), [text])[0]}
    assert ("Manchester United", "PERSON") in base  # the base model's slip the training fixed


def test_not_below_the_base_model_on_the_hand_written_sets(nlp):
    for path in (None, "heldout"):
        from benchmarks.nlp import HELDOUT_PATH
        gold = load_gold(HELDOUT_PATH) if path else load_gold()
        scores = entity_quality(nlp, gold)
        assert scores["shipped_tagging"]["f1"] >= scores["raw_model"]["f1"] + 0.03, scores


def test_a_short_brief_gets_its_entities(nlp):
    """A real-length news brief (51 words) is tagged like a long story: no length limit here."""
    brief = ("Rescue teams in Nepal pulled three climbers from a crevasse on Annapurna on Sunday, the "
             "Himalayan Rescue Association said. The climbers, two from Poland and one from Chile, were "
             "flown to Kathmandu by helicopter. The expedition organiser said a fourth member of the team, "
             "Marek Nowak, was still missing.")
    from tests.fixtures.write_schema_fixture import ARTICLE
    import dataclasses
    article = dataclasses.replace(ARTICLE, body=brief, word_count=len(brief.split()), entities=())
    tagged = tag_articles(ModelCache({"en": nlp}), [article])[0]
    found = {(e.text, e.label) for e in tagged.entities}
    assert {("Nepal", "GPE"), ("Kathmandu", "GPE"), ("Marek Nowak", "PERSON")} <= found, found
    assert tagged.entities_model is not None


def test_numpy_blas_model_gives_the_same_entities_as_default_ops(nlp):
    """load_model swaps blis for numpy's BLAS (faster here); it must not change a single span."""
    import spacy
    from transforms.entities import EXCLUDED_COMPONENTS, MODEL_NAME
    default = spacy.load(MODEL_NAME, exclude=EXCLUDED_COMPONENTS)
    default.get_pipe("ner").from_disk(NER_WEIGHTS, exclude=["vocab"])
    texts = [t for _, t, _ in load_gold()] + [TEXT]
    spans = lambda model: [[(e.start_char, e.end_char, e.label_) for e in d.ents] for d in model.pipe(texts)]
    assert spans(nlp) == spans(default)


def test_memory_zone_frees_the_new_words_and_keeps_the_entities(nlp, monkeypatch):
    """A long-lived model's StringStore must not grow with every new word of the input
    (core/entities.py ``_memory_zone``); the entities are those found without the zone."""
    import contextlib
    import random
    from core import entities
    rng = random.Random(5)
    names = ["".join(rng.choice("bcdfghklmnprstvz") + rng.choice("aeiou") for _ in range(4)).title()
             for _ in range(60)]
    texts = [f"{names[i]} {names[i + 1]} met officials of {names[i + 2]} Corp in {names[i + 3]} on Tuesday, "
             f"said Reuters. {names[i + 4]} denied it." for i in range(0, 55, 5)]
    before = len(nlp.vocab.strings)
    zoned = entities.tag_texts(nlp, texts)
    assert len(nlp.vocab.strings) == before
    assert sum(len(found) for found in zoned) >= len(texts), zoned
    monkeypatch.setattr(entities, "_memory_zone", lambda _nlp: contextlib.nullcontext())
    assert entities.tag_texts(nlp, texts) == zoned
    assert len(nlp.vocab.strings) > before + len(names) // 2  # what the zone saves
