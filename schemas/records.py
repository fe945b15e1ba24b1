"""Typed records that flow between stages.

Plain frozen dataclasses: picklable by any Beam runner, comparable in tests, and
free of Beam so the core functions can be used and tested on their own. New
versions of a record are made with ``dataclasses.replace``.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Optional, Tuple


@dataclasses.dataclass(frozen=True)
class FeedRequest:
    """A feed to read. ``trusted`` marks feeds named by the operator (CLI or
    sources file): only those may use ``file://``; URLs found inside feed
    content never are."""
    url: str
    topic: Optional[str] = None  # operator's explicit topic for the feed's entries
    trusted: bool = True
    # From a sources file: free-form labels (reported per tag) and the polling
    # interval a streaming job should use for this feed (None = its default).
    tags: Tuple[str, ...] = ()
    poll_interval: Optional[float] = None  # seconds


@dataclasses.dataclass(frozen=True)
class PageRequest:
    """An article page to fetch, with whatever its feed entry said about it.

    Feed metadata is kept so that it can fill gaps the page leaves."""
    url: str
    origin: str = "url"  # url | feed | html_dir | sources
    feed_url: Optional[str] = None
    topic_hint: Optional[str] = None  # from the sources file (feed_config)
    entry_title: Optional[str] = None
    entry_published: Optional[dt.datetime] = None
    entry_authors: Tuple[str, ...] = ()
    entry_categories: Tuple[str, ...] = ()
    entry_summary: Optional[str] = None
    # Other input URLs that normalise to this one (tracking-parameter variants):
    # fetched once, accounted for as duplicates of whatever this request becomes.
    aliases: Tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class Usage:
    """What the publisher allows for a page (see ``transforms/usage.py``).
    None = not known (not checked, e.g. robots/TDMRep of saved pages), never "allowed"."""
    robots_allowed: Optional[bool] = None  # robots.txt allows our user agent
    ai_agents_disallowed: Optional[Tuple[str, ...]] = None  # of transforms.usage.AI_AGENTS
    tdm_reservation: Optional[bool] = None  # W3C TDMRep: TDM rights reserved
    tdm_policy: Optional[str] = None  # TDMRep policy URL
    tdm_source: Optional[str] = None  # meta | http_header | tdmrep_json (the one that decided)
    robots_directives: Tuple[str, ...] = ()  # noai, noimageai, noarchive, nosnippet
    license: Optional[str] = None  # <link rel="license"> or JSON-LD license
    copyright_holder: Optional[str] = None
    copyright_year: Optional[int] = None
    accessible_for_free: Optional[bool] = None  # JSON-LD isAccessibleForFree


@dataclasses.dataclass(frozen=True)
class FetchedPage:
    request: PageRequest
    final_url: str
    status: int
    content: bytes
    content_type: str
    fetched_at: dt.datetime
    # What the transport declared (HTTP or archived Content-Type charset; None for saved
    # files), for every source alike; the real charset is decided once, by core.charset.
    declared_charset: Optional[str] = None
    usage: Optional[Usage] = None  # what the fetch said (robots, TDM headers/tdmrep.json, X-Robots-Tag)
    # A saved page whose bytes are read again where it is extracted (``content`` is empty
    # until then): page bodies never cross a stage boundary (transforms/sources.py).
    content_path: Optional[str] = None
    # With ``content_path`` a WARC file: the byte offset of the page's record in it.
    content_offset: Optional[int] = None


@dataclasses.dataclass(frozen=True)
class Entity:
    text: str
    label: str
    count: int


@dataclasses.dataclass(frozen=True)
class Member:
    """A copy folded into a cluster's representative (becomes a Duplicate row)."""
    url: str
    article_id: str
    kind: str  # url | exact | near
    similarity: float
    domain: str


@dataclasses.dataclass(frozen=True)
class Article:
    article_id: str
    url: str
    canonical_url: str
    source_domain: str
    feed_url: Optional[str]
    title: Optional[str]
    authors: Tuple[str, ...]
    published_at: Optional[dt.datetime]
    modified_at: Optional[dt.datetime]
    date_source: Optional[str]
    fetched_at: dt.datetime
    language: Optional[str]
    topic: str
    topic_source: Optional[str]
    section: Optional[str]
    body: str
    word_count: int
    content_hash: str
    entities: Tuple[Entity, ...] = ()
    cluster_size: int = 1
    cluster_sources: Tuple[str, ...] = ()
    boilerplate_removed_chars: int = 0
    truncated_suspected: bool = False  # body much shorter than the page says, or ends in a teaser
    paywall_suspected: bool = False    # isAccessibleForFree: false, locked tier, paywall markup
    entities_model: Optional[str] = None  # model that tagged ``entities``; None: no model for the language
    topic_confidence: Optional[float] = None  # the classifier's calibrated probability (None: explicit signal)
    is_opinion: bool = False  # opinion genre, from explicit signals only (transforms/topics.py)
    usage: Optional[Usage] = None  # usage rights (transforms/usage.py)
    # Not written: hints the topic stage uses, carried from the feed entry / page.
    categories: Tuple[str, ...] = ()
    genre_hints: Tuple[str, ...] = ()  # JSON-LD @type and genre, kicker above the headline
    topic_hint: Optional[str] = None
    aliases: Tuple[str, ...] = ()
    members: Tuple[Member, ...] = ()
    # The input URL this article was made from (the request, or a saved page's
    # file:// URL) when it differs from ``url``: a copy folded by canonical URL
    # is recorded under it, so each input has one outcome (transforms/accounting.py).
    input_url: Optional[str] = None
    # ("<params_id>:<crc32 of body>", MinHash signature bytes, shingle count) computed by near-duplicate
    # detection, carried so the ``_state/signatures`` entry is not computed again.
    sketch: Optional[Tuple[str, bytes, int]] = None

    @property
    def partition_date(self) -> dt.date:
        """Publication date in UTC, else the fetch date."""
        stamp = self.published_at or self.fetched_at
        return stamp.astimezone(dt.timezone.utc).date()


@dataclasses.dataclass(frozen=True)
class Duplicate:
    url: str
    article_id: str
    duplicate_of: str
    kind: str  # url | exact | near
    similarity: float
    detected_at: dt.datetime


@dataclasses.dataclass(frozen=True)
class DeadLetter:
    url: str
    stage: str
    reason: str
    detail: str
    at: dt.datetime
    usage: Optional[Usage] = None  # usage rights where known (e.g. robots_disallowed, tdm_reserved)


@dataclasses.dataclass(frozen=True)
class IndexEntry:
    """What a run wrote, kept under ``DIR/_state/index`` so later runs skip it."""
    url: str
    article_id: str
    content_hash: Optional[str]
    kind: str  # article | url | exact | near
    written_at: dt.datetime


@dataclasses.dataclass(frozen=True)
class SignatureEntry:
    """MinHash signature of a written article, kept under ``DIR/_state/signatures``
    so that later runs find near-duplicates of stories already written.
    ``params`` names the shingle/permutation settings: signatures made with
    other settings are not comparable and are ignored.

    ``anchors`` (packed uint64 anchor values) and ``evidence`` (the compressed
    body) give a later run (or chunk) the evidence one job has for its own
    articles: anchor candidates (excerpts, longer versions) and exact
    verification. Both are empty in signatures written before they were kept
    (and ``evidence`` is only read for the few stories a new article links to):
    such stories are found by bands and estimated verification, as before.
    ``copy_of``: set on the row of a near copy folded into a story (the row's
    ``article_id`` is the copy's): a later copy of that copy is a duplicate of
    the story, as in one job, where it would have joined the copy's cluster."""
    article_id: str
    signature: bytes
    shingles: int
    params: str
    written_at: dt.datetime
    anchors: bytes = b""
    evidence: Optional[bytes] = None
    copy_of: Optional[str] = None

    @property
    def story(self) -> str:
        """The written article this row stands for."""
        return self.copy_of or self.article_id
