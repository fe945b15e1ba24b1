"""Entities come only from a model for the article's language (issue 16).

Pages in German, Norwegian, Spanish and Japanese go through the real extraction (language
detection on the body) and the real tagging: no entities and ``entities_model`` null. The
English model on the same text does produce entities ("Dienstag" PERSON, "Det" PERSON...),
so these tests fail if non-English text reaches it.
"""
import dataclasses
import datetime as dt

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from schemas.records import Article, FetchedPage, PageRequest
from tests.fixtures.languages import STORIES
from transforms.entities import LANGUAGE_MODELS, ModelCache, TagEntities, tag_articles, tag_texts
from transforms.extract import detect_language, extract_article, parse_page

FETCHED = dt.datetime(2025, 6, 3, 9, 0, tzinfo=dt.timezone.utc)
NOT_TAGGED = ("de", "no", "es", "ja")


def _page(language: str) -> FetchedPage:
    paragraphs = "".join(f"<p>{p}</p>" for p in STORIES[language])
    html = (f'<!DOCTYPE html><html lang="{language}"><head><meta charset="utf-8"><title>Nachrichten</title>'
            f"</head><body><article><h1>Titel</h1>{paragraphs}</article></body></html>")
    url = f"https://news.example/{language}/story.html"
    return FetchedPage(request=PageRequest(url=url), final_url=url, status=200, content=html.encode("utf-8"),
                       content_type="text/html", fetched_at=FETCHED)


def _article(language: str) -> Article:
    if language == "ja":
        # Extraction counts words by spaces, so a Japanese story is "9 words" and refused as
        # not_an_article (extraction's length rule, not ours): same page, language detected
        # by extraction's own function, the rest taken from an extracted article.
        page = _page("ja")
        body = "\n".join(STORIES["ja"])
        language = detect_language(parse_page(page.content), body)
        return dataclasses.replace(_article("de"), url=page.request.url, body=body, language=language)
    article = extract_article(_page(language))
    assert isinstance(article, Article), article
    return article


@pytest.fixture(scope="module")
def models(nlp):
    return ModelCache({"en": nlp})


def test_english_model_would_tag_these_stories(nlp):
    """The trap is real: the English model finds 'entities' in German, Norwegian, Spanish."""
    for language in ("de", "no", "es"):
        assert tag_texts(nlp, ["\n".join(STORIES[language])])[0], language


@pytest.mark.parametrize("language", NOT_TAGGED)
def test_languages_without_a_model_get_no_entities(models, language):
    article = _article(language)
    assert article.language == language
    tagged = tag_articles(models, [article])[0]
    assert tagged.entities == () and tagged.entities_model is None
    assert tagged.body == article.body and tagged.url == article.url  # the article itself is kept


def test_english_and_french_get_their_own_model(models):
    english, french = tag_articles(models, [_article("en"), _article("fr")])
    assert english.entities_model == LANGUAGE_MODELS["en"].name
    assert {("Daniela Cavallo", "PERSON"), ("Olaf Lies", "PERSON")} <= {(e.text, e.label) for e in english.entities}
    assert french.language == "fr" and french.entities_model == LANGUAGE_MODELS["fr"].name
    found = {(e.text, e.label) for e in french.entities}
    assert {("Emmanuel Macron", "PERSON"), ("Christine Lagarde", "PERSON")} <= found, found
    assert {label for _, label in found} <= {"PERSON", "ORG", "LOC"}  # French labels mapped, MISC dropped


def test_mixed_batch_in_beam():
    articles = [_article(language) for language in ("en", "de", "ja", "no")]
    with TestPipeline() as p:
        tagged = p | beam.Create(articles) | TagEntities()
        assert_that(tagged["articles"] | beam.Map(lambda a: (a.language, a.entities_model, bool(a.entities))),
                    equal_to([("en", LANGUAGE_MODELS["en"].name, True), ("de", None, False),
                              ("ja", None, False), ("no", None, False)]))
