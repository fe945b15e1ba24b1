import pytest

from schemas.taxonomy import TOPICS, first_slug, to_slug

CASES = [
    ("Politics", "politics"), ("US Politics", "politics"), ("politik", "politics"),
    ("Politique", "politics"), ("Elections 2025", "politics"), ("Government", "politics"),
    ("World", "world"), ("World News", "world"), ("world-news", "world"), ("International", "world"),
    ("Ausland", "world"), ("Middle East", "world"), ("Business", "business"), ("Markets", "business"),
    ("Economy", "business"), ("Wirtschaft", "business"), ("Finance", "business"),
    ("Technology", "technology"), ("Tech", "technology"), ("Science & Tech", "technology"),
    ("Netzwelt", "technology"), ("Science", "science"), ("Space", "science"),
    ("Health", "health"), ("Gesundheit", "health"), ("Sport", "sports"), ("Sports", "sports"),
    ("sport-news", "sports"), ("Football", "sports"), ("Fußball", "sports"), ("Tennis", "sports"),
    ("Entertainment", "entertainment"), ("Culture", "entertainment"), ("Film", "entertainment"),
    ("Lifestyle", "lifestyle"), ("Travel", "lifestyle"), ("Opinion", "opinion"),
    ("Comment is free", "opinion"), ("Op-Ed", "opinion"), ("Política", "politics"),
    ("Formula 1", "sports"), ("Esports", "sports"), ("Deportes", "sports"), ("Real Estate", "business"),
    ("Économie", "business"), ("Economía", "business"), ("Money", "business"), ("Life & Style", "lifestyle"),
    ("Home & Garden", "lifestyle"), ("Reisen", "lifestyle"), ("Autos", "lifestyle"),
    ("Science & Environment", "science"), ("Tech & Science", "technology"), ("Sci/Tech", "technology"),
    ("Arts & Culture", "entertainment"), ("Feuilleton", "entertainment"), ("Books", "entertainment"),
    ("Kultur", "entertainment"), ("Meinung", "opinion"), ("Wissenschaft", "science"),
]


@pytest.mark.parametrize("raw,slug", CASES)
def test_synonyms_map_to_slugs(raw, slug):
    assert to_slug(raw) == slug


@pytest.mark.parametrize("raw", ["", None, "Misc", "../../etc", "Home", "Shop education", "US News",
                                 "Weather", "Crime", "Obituaries", "Panorama",
                                 "\x00politics-ish\x00", "x" * 10_000, "日本語", "/absolute/path"])
def test_unknown_strings_never_become_slugs(raw):
    slug = to_slug(raw)
    assert slug is None or slug in TOPICS


def test_home_breadcrumb_is_not_lifestyle():
    assert to_slug("Home") is None
    assert first_slug(["Home", "Sport"]) == "sports"
