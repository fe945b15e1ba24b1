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
