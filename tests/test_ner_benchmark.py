"""The real-data entity benchmark and the training's annotation, on a tiny CoNLL file written
for these tests (tests/fixtures/mini_conll.txt: IOB1, two documents)."""
import json
import pathlib

from benchmarks import conll, ner_real
from benchmarks.train_ner import annotate

MINI = pathlib.Path(__file__).resolve().parent / "fixtures" / "mini_conll.txt"


def test_documents_text_and_gold_sets():
    first, second = conll.read_documents(MINI)
    assert first.text.splitlines()[2] == 'Arsenal manager Arsene Wenger praised the French side on Tuesday ("We were lucky").'
    assert first.gold() == {("ARSENAL", "ORG"), ("PARIS", "LOC"), ("Arsenal", "ORG"), ("Arsene Wenger", "PER")}
    assert second.gold() == {("Deutsche Bank", "ORG"), ("Frankfurt", "LOC"), ("Hans Meyer", "PER")}
    assert ("French" in {first.text[s:e] for s, e, label in first.spans if label == "MISC"})


def test_score_is_micro_over_documents_and_per_label():
    gold = [{("Arsenal", "ORG"), ("Paris", "LOC")}, {("Hans Meyer", "PER")}]
    predicted = [{("Arsenal", "ORG"), ("Paris", "ORG")}, {("Hans Meyer", "PER"), ("Meyer", "PER")}]
    scores = conll.score(predicted, gold)
    assert (scores["all"]["tp"], scores["all"]["fp"], scores["all"]["fn"]) == (2, 2, 1)
    assert scores["LOC"]["r"] == 0.0 and scores["ORG"]["p"] == 0.5 and scores["PER"]["p"] == 0.5
    assert conll.measured([("Paris", "GPE"), ("Louvre", "FAC"), ("Tuesday", "DATE")]) == {
        ("Paris", "LOC"), ("Louvre", "LOC")}


def test_training_annotation_maps_labels_keeps_rehearsal_and_leaves_misc_missing(nlp):
    sentence = conll.read_documents(MINI)[0].sentences[2]
    doc = nlp.make_doc(sentence.text)
    tags = annotate(doc, sentence.spans, nlp(sentence.text))
    by_token = dict(zip([t.text for t in doc], tags))
    assert by_token["Arsenal"] == "U-ORG" and by_token["Arsene"] == "B-PERSON" and by_token["Wenger"] == "L-PERSON"
    assert by_token["French"] in ("-", "U-NORP")  # MISC: never O, the base model's NORP if it said so
    assert by_token["Tuesday"] == "U-DATE"       # rehearsal of a label CoNLL does not annotate
    assert by_token["manager"] == "O"


def test_benchmark_runs_on_a_conll_file(tmp_path, capsys):
    out = tmp_path / "scores.json"
    assert ner_real.main(["--data", str(MINI), "--repeats", "1", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["documents"] == 2 and report["gold_entities"] == 7
    for system in ("raw_base_model", "raw_shipped_model", "shipped_tagging", "without_normalize"):
        assert set(report["scores"][system]) == {"all", "PER", "ORG", "LOC"}
    assert report["scores"]["shipped_tagging"]["all"]["f1"] >= report["scores"]["raw_base_model"]["all"]["f1"]
    assert report["speed"]["shipped_tagging_words_per_cpu_s"] > 0
