"""Per-site boilerplate learning: the pure rules, the batch combine and the streaming state."""
import datetime as dt

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.test_stream import TestStream
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms.window import FixedWindows, TimestampedValue
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.records import Article
from transforms import site_learning as sl
from transforms.extract import content_hash, word_count

T0 = dt.datetime(2025, 5, 14, 8, 0, tzinfo=dt.timezone.utc)
NEWSLETTER = "Get the Harbour Brief: the week's ferry and port news, every Friday morning."
TIP_LINE = "Know something we should report? Call the newsroom on 555 0142, day or night."
STORIES = [
    ["The harbour board voted on Tuesday to extend the ferry pier by forty metres after a decade of debate.",
     "Board chair Lena Okafor said two vessels could then dock at once during the busy summer season.",
     "The fishing co-operative said the works would disturb spawning grounds near the breakwater."],
    ["The central library will open on Sundays from June, ending a closure that dates back to 2011.",
     "The pilot is paid for by the Friends of the Library, who raise money through book sales.",
     "Branch libraries in Eastport and Millbrook keep their current opening hours for now."],
    ["Waves tore a thirty-metre gap in the North Beach sea wall during Wednesday night's storm.",
     "Police closed Shore Road while city engineers inspected the damage on Thursday morning.",
     "Crews will place large rocks along the breach before the next spring tide arrives."],
    ["A kitchen garden planted by pupils at Westside Elementary has won the provincial award.",
     "The garden produced about six hundred kilograms of vegetables for the school cafeteria.",
     "The prize money will pay for a small greenhouse so seedlings can start in March."],
    ["The county fair drew a record crowd despite two afternoons of heavy rain and wind.",
     "Organisers credited a cheaper weekday ticket and a free shuttle from the park-and-ride.",
     "The junior livestock auction raised a record sum for local youth farming clubs."],
]


def art(url: str, paragraphs, domain: str = "harbour.example", when: dt.datetime = T0) -> Article:
    body = "\n".join(paragraphs)
    return Article(article_id=url.rsplit("/", 1)[-1], url=url, canonical_url=url, source_domain=domain,
                   feed_url=None, title="t", authors=(), published_at=when, modified_at=None,
                   date_source="jsonld", fetched_at=when, language="en", topic="other", topic_source=None,
                   section=None, body=body, word_count=word_count(body), content_hash=content_hash(body),
                   boilerplate_removed_chars=7)


def site(n: int, template=(NEWSLETTER,), domain: str = "harbour.example"):
    return [art(f"https://{domain}/news/{i}", STORIES[i][:2] + list(template) + STORIES[i][2:], domain)
            for i in range(n)]


# --------------------------------------------------------------------------- pure rules

def test_normalisation_ignores_case_punctuation_and_digits():
    assert sl.normalise("12 Comments!") == sl.normalise("4 comments")
    assert sl.paragraph_key("Share   this, NOW") == sl.paragraph_key("share this now")
    assert sl.paragraph_key(" -- ") is None
    assert sl.paragraph_key("Sign up") != sl.paragraph_key("Sign in")


def test_template_in_k_articles_is_removed_everywhere():
    items = [(a.url, a.body) for a in site(3)]
    out = sl.clean_site_bodies(items, k=3)
    for (url, body), story in zip(items, STORIES):
        assert NEWSLETTER not in out[url]
        assert out[url] == "\n".join(story)  # only the template line went


def test_below_k_nothing_is_removed():
    items = [(a.url, a.body) for a in site(2)]
    assert sl.clean_site_bodies(items, k=3) == dict(items)
    assert all(NEWSLETTER not in b for b in sl.clean_site_bodies(items, k=2).values())


def test_paragraph_seen_once_is_never_removed():
    one_off = "An editor's note that appears on this page and on no other page of the site."
    articles = site(4)
    articles[1] = art(articles[1].url, articles[1].body.split("\n") + [one_off])
    out = sl.clean_site_bodies([(a.url, a.body) for a in articles], k=2)
    assert one_off in out[articles[1].url]
    assert all(NEWSLETTER not in body for body in out.values())


def test_copies_count_once_and_sites_are_separate():
    copies = [(f"https://harbour.example/copy/{i}", site(1)[0].body) for i in range(3)]
    assert sl.clean_site_bodies(copies, k=3) == dict(copies)  # one article, three URLs
    items = [(a.url, a.body) for a in site(2)] + [(a.url, a.body) for a in site(2, domain="other.example")]
    # Per site only two articles carry the line: the caller groups by site, so nothing goes.
    by_site = {}
    for url, body in items:
        by_site.setdefault(url.split("/")[2], []).append((url, body))
    for group in by_site.values():
        assert sl.clean_site_bodies(group, k=3) == dict(group)


def test_never_empties_a_body():
    lines = [NEWSLETTER, TIP_LINE]
    items = [(f"u{i}", "\n".join(lines)) for i in range(3)]
    # identical bodies are one article; make them distinct but all-template
    items = [(f"u{i}", "\n".join(lines + ["x" * (i + 1)])) for i in range(4)]
    out = sl.clean_site_bodies(items, k=3)
    assert all(body.strip() for body in out.values())


def test_near_copies_of_one_story_keep_their_shared_paragraphs():
    """Three edited versions of one wire story on one site: not template."""
    wire = ["Dockworkers at the port of Santos walked off the job on Tuesday over pay and safety.",
            "The union, which represents about 6,000 stevedores, is seeking a 12 percent raise.",
            "At least 38 vessels were anchored outside the port by midday, shipping agents said.",
            "Brazil is the largest exporter of soybeans and coffee, and Santos handles a third.",
            "The port authority said it was monitoring the situation and urged both sides to talk."]
    a = wire
    b = wire[:2] + ["By midday dozens of ships were waiting offshore, according to agents."] + wire[3:]
    c = [wire[0] + " It was the first strike in a decade.", wire[1], wire[2],
         "Soybean and coffee exports are at risk, traders said.", wire[4]]
    items = [("a", "\n".join(a)), ("b", "\n".join(b)), ("c", "\n".join(c))] + \
        [(f"s{i}", "\n".join(STORIES[i])) for i in range(3)]
    out = sl.clean_site_bodies(items, k=3)
    assert out == dict(items)
    # ...while real template text on the same site still goes.
    items += [(f"t{i}", "\n".join(STORIES[i] + [TIP_LINE])) for i in range(3, 5)] + \
        [("t5", "\n".join(STORIES[0][:1] + [  # a follow-up quoting one paragraph of s0
            "Construction crews are expected to start driving the first steel pilings in late September.",
            "Ferry operators said timetables would not change until the new berth is finished next year.",
            "Residents can view the plans at the harbour office on weekdays until the end of the month.",
            TIP_LINE]))]
    out = sl.clean_site_bodies(items, k=3)
    assert all(TIP_LINE not in out[key] for key in ("t3", "t4", "t5"))
    assert out["b"] == items[1][1] and wire[1] in out["a"]


def test_mostly_shared_article_is_left_alone():
    short = art("https://harbour.example/brief", ["Ferry delayed by fog."])
    articles = [art(a.url, a.body.split("\n") + [TIP_LINE]) for a in site(3)]
    brief = art(short.url, short.body.split("\n") + [NEWSLETTER, TIP_LINE])
    out = sl.clean_site_bodies([(a.url, a.body) for a in articles + [brief]], k=3)
    assert out[brief.url] == brief.body  # 3 words of news under 27 of template: left alone
    assert all(NEWSLETTER not in out[a.url] and TIP_LINE not in out[a.url] for a in articles)


def test_rejects_k_below_two():
    with pytest.raises(ValueError):
        sl.clean_site_bodies([("a", "x")], k=1)
    with pytest.raises(ValueError):
        sl.LearnSiteTemplates(1)
    assert isinstance(sl.LearnSiteTemplates(0), sl.LearnSiteTemplates)  # 0 = off


paragraph = st.sampled_from([p for story in STORIES for p in story] + [NEWSLETTER, TIP_LINE])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(paragraph, min_size=1, max_size=6), min_size=1, max_size=8), st.integers(2, 4))
def test_property_once_seen_paragraphs_survive_and_bodies_stay(bodies, k):
    items = [(f"p{i}", "\n".join(lines)) for i, lines in enumerate(bodies)]
    out = sl.clean_site_bodies(items, k)
    distinct = {}
    for _key, body in items:
        distinct.setdefault(content_hash(body), body)
    seen_in = {}
    for body in distinct.values():
        for key in {sl.paragraph_key(line) for line in body.split("\n")}:
            seen_in[key] = seen_in.get(key, 0) + 1
    for key, body in items:
        assert out[key].strip()
        kept = set(out[key].split("\n"))
        for line in body.split("\n"):
            if seen_in[sl.paragraph_key(line)] < k:
                assert line in kept, (line, k)


# --------------------------------------------------------------------------- batch (Beam)

def test_batch_transform_learns_per_site():
    harbour = site(3)
    other = site(2, domain="other.example")  # the same line, but only twice on this site
    with TestPipeline(runner="FnApiRunner") as p:
        out = (p | beam.Create(harbour + other)
               | sl.LearnSiteTemplates(3)
               | beam.Map(lambda a: (a.url, NEWSLETTER in a.body, a.word_count == word_count(a.body),
                                     a.content_hash == content_hash(a.body), a.boilerplate_removed_chars)))
        removed = 7 + len(NEWSLETTER) + 1
        assert_that(out, equal_to([(a.url, False, True, True, removed) for a in harbour]
                                  + [(a.url, True, True, True, 7) for a in other]))


def test_batch_transform_off_is_identity():
    articles = site(3)
    with TestPipeline(runner="FnApiRunner") as p:
        out = p | beam.Create(articles) | sl.LearnSiteTemplates(0)
        assert_that(out, equal_to(articles))


# --------------------------------------------------------------------------- streaming

def _ts(when: dt.datetime) -> float:
    return when.timestamp()


def test_streaming_learns_as_articles_arrive_across_windows():
    hour = dt.timedelta(hours=1)
    articles = [art(a.url, a.body.split("\n"), when=T0 + i * 2 * hour) for i, a in enumerate(site(5))]
    copy = art("https://harbour.example/news/0-amp", articles[0].body.split("\n"), when=T0 + 11 * hour)
    stream = TestStream().advance_watermark_to(_ts(T0) - 60)
    for a in articles[:3]:  # one article per 2-hour step, in different hourly windows
        stream = stream.add_elements([TimestampedValue(a, _ts(a.published_at))]) \
            .advance_watermark_to(_ts(a.published_at) + 3600)
    stream = (stream.add_elements([TimestampedValue(copy, _ts(copy.published_at))])
              .add_elements([TimestampedValue(a, _ts(a.published_at)) for a in articles[3:]])
              .advance_watermark_to_infinity())
    options = PipelineOptions()
    options.view_as(StandardOptions).streaming = True
    with TestPipeline(runner="BundleBasedDirectRunner", options=options) as p:
        out = (p | stream
               | "Hourly" >> beam.WindowInto(FixedWindows(3600))
               | sl.LearnSiteTemplatesStreaming(3)
               | beam.Map(lambda a: (a.url, NEWSLETTER in a.body)))
        # The first two keep the line (seen in < 3 articles when they arrived); the third
        # and later lose it; the copy of the first is not a new article but is cleaned.
        assert_that(out, equal_to([(articles[0].url, True), (articles[1].url, True), (articles[2].url, False),
                                   (copy.url, False), (articles[3].url, False), (articles[4].url, False)]))


def test_streaming_state_is_bounded(monkeypatch):
    monkeypatch.setattr(sl, "MAX_PARAGRAPHS_PER_SITE", 20)
    monkeypatch.setattr(sl, "MAX_SEEN_PER_SITE", 3)
    state = sl.SiteState()
    for i in range(12):
        lines = [f"Story {i} paragraph {j} about {'abcdefghijkl'[i]} and {'mnopqrstuvwx'[j]} matters" for j in range(4)]
        lines = [line.replace(str(i), "abcdefghijkl"[i]) for line in lines]
        cleaned, _ = sl.clean_streaming(state, art(f"https://harbour.example/{i}", lines + [NEWSLETTER]), 3)
        if i >= 2:
            assert NEWSLETTER not in cleaned.body
    assert len(state.counts.counts) <= 20 + 5 and len(state.seen) == 3


def test_cli_flag_accepts_zero_or_two_plus(tmp_path, capsys):
    from pipeline.cli import main
    from pipeline.options import NewsbeamOptions
    base = ["--output", str(tmp_path / "out"), "--url", "https://example.com/a.html"]
    assert main(base + ["--boilerplate-min-articles", "1"]) == 2
    assert "boilerplate-min-articles" in capsys.readouterr().err
    assert NewsbeamOptions(["--boilerplate-min-articles", "0"]).boilerplate_min_articles == 0
    assert NewsbeamOptions(["--boilerplate_min_articles", "4"]).boilerplate_min_articles == 4
    assert NewsbeamOptions([]).boilerplate_min_articles == sl.DEFAULT_MIN_ARTICLES
