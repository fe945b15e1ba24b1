"""The fixed topic taxonomy and the synonym table that maps raw strings to it.

Topics become partition folder names (``topic=<slug>``), so a slug is only ever
one of ``TOPICS``; any raw string from a page, feed or URL goes through
:func:`to_slug`, which returns ``None`` for anything it does not recognise.

Slugs:
  politics       government, elections, parliaments, policy
  world          international affairs, foreign news, conflicts, diplomacy
  business       companies, markets, economy, finance, jobs
  technology     tech industry, software, gadgets, internet, AI
  science        research, space, climate and environment science
  health         medicine, public health, wellbeing
  sports         all sports
  entertainment  film, TV, music, celebrities, arts, books, culture
  lifestyle      travel, food, fashion, home, personal finance, motoring
  opinion        a genre, not a subject: no longer assigned (``is_opinion`` marks it, and the
                 topic is the subject); kept so partitions written before schema v3 stay valid
  other          nothing above applies, no signal, the classifier is unsure, or the language
                 is one the classifier was not trained on

How an article gets its slug (``transforms/topics.py``), recorded in ``topic_source``:
``feed_config`` (the sources file's topic for the feed) > ``section`` (article:section,
JSON-LD articleSection, breadcrumb) > ``category`` (feed entry / page categories) > ``url``
(path segments) > ``classifier`` (title + body; ``other`` when unsure) or
``unsupported_language``. Opinion words among these signals set ``is_opinion`` instead of
the topic. Raw strings only ever reach a slug through :func:`to_slug`.
"""
from __future__ import annotations

import re
import unicodedata
from typing import Iterable, Optional

TOPICS = (
    "politics", "world", "business", "technology", "science", "health", "sports",
    "entertainment", "lifestyle", "opinion", "other",
)
DEFAULT_TOPIC = "other"
OPINION = "opinion"  # a genre, not a subject: kept as a slug for older partitions only

# token -> slug. Tokens are lowercase ASCII words after accent folding; several
# languages' section names are included because feeds are multilingual.
_SYNONYMS = {
    "politics": ["politics", "political", "politic", "politik", "politique", "politica",
                 "politica", "election", "elections", "government", "congress", "parliament",
                 "policy", "whitehouse", "inland", "nation", "national", "us-politics",
                 "uk-politics", "campaign", "vote", "senate"],
    "world": ["world", "international", "foreign", "global", "worldnews", "ausland",
              "monde", "mundo", "internacional", "europe", "asia", "africa", "americas",
              "middle-east", "middleeast", "diplomacy", "war", "conflict"],
    "business": ["business", "economy", "economics", "economic", "finance", "financial",
                 "markets", "market", "money", "companies", "company", "wirtschaft",
                 "economie", "economia", "negocios", "industry", "trade", "banking",
                 "stocks", "corporate", "earnings", "energy", "jobs", "property", "real-estate",
                 "realestate", "wirtschaft-finanzen"],
    "technology": ["technology", "tech", "technik", "digital", "internet", "software",
                   "gadgets", "computing", "cyber", "cybersecurity", "ai", "startups",
                   "tecnologia", "technologie", "innovation", "netzwelt", "science-tech"],
    "science": ["science", "wissenschaft", "sciences", "research", "space", "climate",
                "environment", "ciencia", "wissen", "nature", "astronomy", "physics"],
    "health": ["health", "gesundheit", "medicine", "medical", "wellness", "sante",
               "salud", "coronavirus", "covid", "healthcare", "wellbeing"],
    "sports": ["sport", "sports", "football", "soccer", "tennis", "cricket", "rugby",
               "golf", "nba", "nfl", "mlb", "nhl", "olympics", "formula1", "f1",
               "deportes", "athletics", "cycling", "baseball", "basketball", "hockey",
               "boxing", "motorsport", "fussball", "esports", "formula-1", "formula-one",
               "racing", "nascar", "ufc", "mma", "wimbledon", "sportnews"],
    "entertainment": ["entertainment", "culture", "kultur", "arts", "art", "film", "films",
                      "movies", "movie", "music", "tv", "television", "celebrity",
                      "showbiz", "books", "kunst", "cultura", "media", "gaming", "games",
                      "feuilleton", "theatre", "theater", "celebrities", "hollywood"],
    "lifestyle": ["lifestyle", "life", "travel", "food", "fashion", "style", "living",
                  "reise", "leben", "cars", "motoring", "auto", "family",
                  "personal-finance", "recipes", "wellbeing-lifestyle", "reisen", "autos",
                  "home-garden", "garden", "beauty", "parenting", "relationships"],
    "opinion": ["opinion", "opinions", "comment", "commentary", "editorial", "editorials",
                "column", "columns", "columnists", "meinung", "analysis", "letters",
                "op-ed", "oped", "views", "kommentar"],
}
SYNONYMS = {token: slug for slug, tokens in _SYNONYMS.items() for token in tokens}
# Phrases checked before single tokens ("science & tech" is technology).
_PHRASES = {
    "science-tech": "technology", "sci-tech": "technology", "personal-finance": "lifestyle",
    "middle-east": "world", "us-politics": "politics", "uk-politics": "politics",
    "op-ed": "opinion", "world-news": "world", "formula-1": "sports", "real-estate": "business",
    "home-garden": "lifestyle", "life-style": "lifestyle", "science-environment": "science",
}

_MAX_RAW = 200


def _fold(raw: str) -> str:
    text = unicodedata.normalize("NFKD", raw[:_MAX_RAW])
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return text.casefold()


def to_slug(raw: Optional[str]) -> Optional[str]:
    """Map a raw section/category/path string to a taxonomy slug, or ``None``.

    The first recognised token wins ("World News" -> world, "sport-news" ->
    sports). Never returns anything outside ``TOPICS``.
    """
    if not raw or not isinstance(raw, str):
        return None
    folded = _fold(raw)
    joined = re.sub(r"[^a-z0-9]+", "-", folded).strip("-")
    if joined in SYNONYMS:
        return SYNONYMS[joined]
    bounded = f"-{joined}-"
    for phrase, slug in _PHRASES.items():
        if f"-{phrase}-" in bounded:
            return slug
    for token in re.findall(r"[a-z0-9]+", folded):
        if token in SYNONYMS:
            return SYNONYMS[token]
    return None


def first_slug(candidates: Iterable[Optional[str]]) -> Optional[str]:
    for raw in candidates:
        slug = to_slug(raw)
        if slug is not None:
            return slug
    return None


def is_topic(value: object) -> bool:
    return isinstance(value, str) and value in TOPICS
