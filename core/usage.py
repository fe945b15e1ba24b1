"""Usage rights of a page: what the publisher says machines may do with it.

Why: downstream users (analytics, archives, anyone assembling text for machine
learning) need to know per article what the publisher allows, and the fetch
and the page already tell us. Everything here is a pure function; the fetcher
(``core.pages``) and the extractor (``core.article``) call it.

Signals and the standards they follow:

- robots.txt (RFC 9309), read by the fetcher's :class:`~core.robots.RobotsCache`:
  whether our user agent may fetch the URL, and which of :data:`AI_AGENTS` may not;
- TDM reservation, W3C TDMRep final report (2024): the origin's
  ``/.well-known/tdmrep.json``, the ``tdm-reservation`` / ``tdm-policy`` HTTP
  headers and the same names in ``<meta>``. Its "processing priority": headers
  supersede the file, HTML meta supersedes both (:func:`resolve_tdm`);
- ``noai``/``noimageai``/``noarchive``/``nosnippet`` in ``<meta name="robots">`` and
  ``X-Robots-Tag`` (directives addressed to all agents or to ours);
- licence: ``<link rel="license">`` (and ``<a rel="license">``, the Creative Commons
  badge), JSON-LD ``license``, ``copyrightHolder``, ``copyrightYear``, ``isAccessibleForFree``.

None always means "not known" (not checked, or the source could not be read),
never "allowed".
"""
from __future__ import annotations

import dataclasses
import functools
import json
import re
import threading
import time
import urllib.parse
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple

from schemas import reasons
from schemas.records import Article, DeadLetter, Usage

# Well-known AI crawler user-agent tokens, asked about in every robots.txt. The one
# list: README "Usage rights" documents it; add a token here and nowhere else.
AI_AGENTS: Tuple[str, ...] = (
    "GPTBot",              # OpenAI, model training
    "CCBot",               # Common Crawl (a common source of training corpora)
    "Google-Extended",     # Google, Gemini training (a robots.txt token, not a crawler)
    "ClaudeBot",           # Anthropic
    "anthropic-ai",        # Anthropic (older token)
    "PerplexityBot",       # Perplexity
    "Applebot-Extended",   # Apple, model training (a robots.txt token)
    "Bytespider",          # ByteDance
    "meta-externalagent",  # Meta
)

# Directives recorded from <meta name="robots"> and X-Robots-Tag.
DIRECTIVES: Tuple[str, ...] = ("noai", "noimageai", "noarchive", "nosnippet")
# X-Robots-Tag directives that carry a value after a colon (not an agent prefix).
_VALUED_DIRECTIVES = frozenset({"max-snippet", "max-image-preview", "max-video-preview",
                                "unavailable_after"})

TDM_HEADER = "http_header"
TDM_META = "meta"
TDM_FILE = "tdmrep_json"
TDMREP_PATH = "/.well-known/tdmrep.json"
TDMREP_MAX_RULES = 10_000  # a file with more rules is treated as unreadable

# Reservation kinds counted per source in the summary, report and inspect.
KINDS: Tuple[str, ...] = ("tdm_reserved", "ai_agents_disallowed") + DIRECTIVES + ("licensed", "not_free")

TDM_MODES = ("record", "omit-body", "skip")


# --------------------------------------------------------------------------- robots.txt

def ai_agents_disallowed(can_fetch: Callable[[str, str], bool], url: str,
                         agents: Iterable[str] = AI_AGENTS) -> Tuple[str, ...]:
    """The agents of ``agents`` that robots.txt disallows for ``url``, given the
    parser's ``can_fetch(agent, url)`` (RFC 9309: an agent without its own group
    follows the ``*`` group)."""
    return tuple(agent for agent in agents if not can_fetch(agent, url))


# --------------------------------------------------------------------------- TDMRep

@dataclasses.dataclass(frozen=True)
class TdmDeclaration:
    """One TDMRep statement: ``reserved`` None when the source says nothing."""
    reserved: Optional[bool]
    policy: Optional[str] = None
    source: Optional[str] = None


def parse_reservation(value: Any) -> Optional[bool]:
    """``1`` -> reserved, ``0`` -> not reserved; anything else says nothing."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return {1: True, 0: False}.get(value)
    if isinstance(value, str):
        return {"1": True, "0": False}.get(value.strip())
    return None


def _absolute_policy(value: Any, base: Optional[str] = None) -> Optional[str]:
    """A TDM policy is a URL; relative ones are resolved against ``base``, other text is dropped."""
    if not isinstance(value, str) or not value.strip():
        return None
    url = urllib.parse.urljoin(base or "", value.strip())
    return url if urllib.parse.urlsplit(url).scheme in ("http", "https") else None


def tdm_from_fields(fields: Mapping[str, str], source: str, base: Optional[str] = None) -> TdmDeclaration:
    """``tdm-reservation`` / ``tdm-policy`` from HTTP headers or meta tags (keys lowercase).
    A policy without a reservation says nothing (TDMRep: the policy qualifies a reservation)."""
    reserved = parse_reservation(fields.get("tdm-reservation"))
    if reserved is None:
        return TdmDeclaration(None)
    policy = _absolute_policy(fields.get("tdm-policy"), base) if reserved else None
    return TdmDeclaration(reserved, policy, source)


@functools.lru_cache(maxsize=4096)
def _location_regex(location: Any) -> Optional["re.Pattern[str]"]:
    """A tdmrep.json ``location``: a path prefix (robots.txt style, as TDMRep says) where
    ``*`` matches any characters and a final ``$`` anchors the end."""
    if not isinstance(location, str) or not location.startswith("/"):
        return None
    anchored = location.endswith("$")
    body = location[:-1] if anchored else location
    pattern = ".*".join(re.escape(part) for part in body.split("*"))
    return re.compile(pattern + ("$" if anchored else ""))


@dataclasses.dataclass(frozen=True)
class TdmRepFile:
    """A parsed ``/.well-known/tdmrep.json``. ``readable`` False: absent is fine (no
    rules), but the file could not be fetched or parsed, so nothing is known."""
    rules: Tuple[Tuple[str, Optional[bool], Optional[str]], ...] = ()
    readable: bool = True

    def match(self, url: str) -> TdmDeclaration:
        """The first rule whose location matches the URL's path (and query)."""
        if not self.readable:
            return TdmDeclaration(None)
        parts = urllib.parse.urlsplit(url)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        path = urllib.parse.unquote(path)
        for location, reserved, policy in self.rules:
            regex = _location_regex(location)
            if regex is not None and regex.match(path):
                return TdmDeclaration(reserved, policy, TDM_FILE)
        return TdmDeclaration(None)


UNREADABLE = TdmRepFile(readable=False)
ABSENT = TdmRepFile()


def parse_tdmrep(content: bytes, base: Optional[str] = None) -> TdmRepFile:
    """The rules of a tdmrep.json (a JSON array of ``{location, tdm-reservation,
    tdm-policy}``). Malformed JSON or a wrong shape is unreadable; single
    malformed rules are skipped."""
    try:
        data = json.loads(content.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return UNREADABLE
    if not isinstance(data, list) or len(data) > TDMREP_MAX_RULES:
        return UNREADABLE
    rules = []
    for item in data:
        location = item.get("location") if isinstance(item, dict) else None
        if not isinstance(location, str) or _location_regex(location) is None:
            continue
        reserved = parse_reservation(item.get("tdm-reservation"))
        if reserved is None:
            continue
        policy = _absolute_policy(item.get("tdm-policy"), base) if reserved else None
        rules.append((item["location"], reserved, policy))
    return TdmRepFile(tuple(rules))


def resolve_tdm(*declarations: TdmDeclaration) -> TdmDeclaration:
    """The first declaration that says something (callers pass them strongest first:
    meta, header, tdmrep.json)."""
    for declaration in declarations:
        if declaration.reserved is not None:
            return declaration
    return TdmDeclaration(None)


class TdmRepCache:
    """``/.well-known/tdmrep.json`` once per origin (per worker), cached like robots.txt.

    ``load(url)`` is the fetcher's polite, SSRF-guarded, size-capped GET; it returns
    ``(status, content)`` or raises. 404 (and other 4xx) = no file; anything else
    that is not a 2xx JSON array = unreadable (TDM from the file unknown)."""

    def __init__(self, load: Callable[[str], Tuple[int, bytes]], ttl: float = 24 * 3600.0):
        self._load = load
        self._ttl = ttl
        self._entries: Dict[str, Tuple[TdmRepFile, float]] = {}
        self._locks: Dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def _fetch(self, origin: str) -> TdmRepFile:
        try:
            status, content = self._load(origin + TDMREP_PATH)
        except Exception:  # too large, timeout, blocked...: unknown, never "not reserved"
            return UNREADABLE
        if 400 <= status < 500 and status != 429:
            return ABSENT
        if not 200 <= status < 300:
            return UNREADABLE
        return parse_tdmrep(content, origin + "/")

    def get(self, url: str) -> TdmRepFile:
        parts = urllib.parse.urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        with self._lock:
            lock = self._locks.setdefault(origin, threading.Lock())
        with lock:
            entry = self._entries.get(origin)
            if entry is None or time.monotonic() - entry[1] > self._ttl:
                entry = self._entries[origin] = (self._fetch(origin), time.monotonic())
            return entry[0]


# --------------------------------------------------------------------------- robots directives

def _agent_token(user_agent: str) -> str:
    return user_agent.split("/")[0].strip().lower()


def directives_from_header(value: Optional[str], user_agent: str = "newsbeam") -> Tuple[str, ...]:
    """Recorded directives of an ``X-Robots-Tag`` value (``googlebot: noarchive``
    addresses one agent: kept only when it is ours)."""
    if not value:
        return ()
    ours = _agent_token(user_agent)
    agent: Optional[str] = None
    found = []
    for part in value.split(","):
        token = part.strip().lower()
        name, colon, rest = token.partition(":")
        if colon and name.strip() not in _VALUED_DIRECTIVES and " " not in name.strip():
            agent, token = name.strip(), rest.strip()
        if token in DIRECTIVES and (agent is None or agent == ours):
            found.append(token)
    return tuple(found)


def directives_from_meta(contents: Iterable[str]) -> Tuple[str, ...]:
    """Recorded directives of ``<meta name="robots">`` contents."""
    return tuple(t for c in contents for t in (p.strip().lower() for p in c.split(",")) if t in DIRECTIVES)


def _ordered(items: Iterable[str]) -> Tuple[str, ...]:
    present = set(items)
    return tuple(d for d in DIRECTIVES if d in present)


# --------------------------------------------------------------------------- fetch side

def from_fetch(headers: Mapping[str, str], *, url: str, robots_allowed: Optional[bool],
               ai_disallowed: Optional[Tuple[str, ...]], tdmrep: Optional[TdmRepFile],
               user_agent: str = "newsbeam") -> Usage:
    """What the fetch tells: robots decisions, TDM from headers and tdmrep.json,
    X-Robots-Tag. ``tdmrep`` None = not consulted (saved pages, WARC records)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    header = tdm_from_fields(lowered, TDM_HEADER, url)
    from_file = tdmrep.match(url) if tdmrep is not None else TdmDeclaration(None)
    tdm = resolve_tdm(header, from_file)
    reserved = tdm.reserved
    if reserved is None and tdmrep is not None and tdmrep.readable:
        reserved = False  # header and file consulted, neither reserves (meta may still)
    return Usage(robots_allowed=robots_allowed, ai_agents_disallowed=ai_disallowed,
                 tdm_reservation=reserved, tdm_policy=tdm.policy, tdm_source=tdm.source,
                 robots_directives=_ordered(directives_from_header(lowered.get("x-robots-tag"),
                                                                   user_agent)))


# --------------------------------------------------------------------------- page side

def _flat_text(value: Any) -> Optional[str]:
    """A JSON-LD value as text: a string, or an object's ``url``/``@id``/``name``."""
    if isinstance(value, list):
        for item in value:
            text = _flat_text(item)
            if text:
                return text
        return None
    if isinstance(value, dict):
        for key in ("url", "@id", "name"):
            text = _flat_text(value.get(key))
            if text:
                return text
        return None
    if isinstance(value, str) and value.strip():
        return " ".join(value.split())[:500]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def _holder(value: Any) -> Optional[str]:
    if isinstance(value, dict):
        return _flat_text(value.get("name")) or _flat_text(value)
    if isinstance(value, list):
        return next((h for h in (_holder(v) for v in value) if h), None)
    return _flat_text(value)


def _year(value: Any) -> Optional[int]:
    text = _flat_text(value)
    match = re.search(r"\b(1[5-9]\d\d|2\d\d\d)\b", text or "")
    return int(match.group(1)) if match else None


def _free(value: Any) -> Optional[bool]:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def _first(objects: List[Dict[str, Any]], key: str, convert: Callable[[Any], Any]) -> Any:
    for obj in objects:
        if key in obj:
            value = convert(obj[key])
            if value is not None:
                return value
    return None


def from_page(tree, page_url: str, jsonld_objects: Iterable[Dict[str, Any]],
              article: Optional[Dict[str, Any]], fetched: Optional[Usage],
              user_agent: str = "newsbeam") -> Usage:
    """Combine the fetch's usage (None for saved pages: robots/TDMRep unknown) with
    what the page carries: TDM and robots meta tags, licence links and JSON-LD
    (the article object first, then any other, e.g. the WebPage)."""
    fetched = fetched or Usage()
    meta: Dict[str, str] = {}
    robots_meta: List[str] = []
    ours = _agent_token(user_agent)
    for node in tree.xpath("//meta[@name][@content]"):
        name = (node.get("name") or "").strip().lower()
        if name in ("robots", ours):
            robots_meta.append(node.get("content") or "")
        elif name in ("tdm-reservation", "tdm-policy") and name not in meta:
            meta[name] = node.get("content") or ""
    tdm_reserved, tdm_policy, tdm_source = fetched.tdm_reservation, fetched.tdm_policy, fetched.tdm_source
    page_tdm = tdm_from_fields(meta, TDM_META, page_url)
    if page_tdm.reserved is not None:  # TDMRep: HTML meta supersedes header and tdmrep.json
        tdm_reserved, tdm_policy, tdm_source = page_tdm.reserved, page_tdm.policy, page_tdm.source

    objects = ([article] if article else []) + [o for o in jsonld_objects if o is not article]
    licence = None
    for href in tree.xpath('//link[@href][contains(concat(" ", normalize-space(translate(@rel, '
                           '"LICENSE", "license")), " "), " license ")]/@href'
                           ' | //a[@href][contains(concat(" ", normalize-space(translate(@rel, '
                           '"LICENSE", "license")), " "), " license ")]/@href'):
        if href.strip():
            licence = urllib.parse.urljoin(page_url, href.strip())[:500]
            break
    licence = licence or _first(objects, "license", _flat_text)
    return dataclasses.replace(
        fetched,
        tdm_reservation=tdm_reserved, tdm_policy=tdm_policy, tdm_source=tdm_source,
        robots_directives=_ordered(fetched.robots_directives + directives_from_meta(robots_meta)),
        license=licence,
        copyright_holder=_first(objects, "copyrightHolder", _holder),
        copyright_year=_first(objects, "copyrightYear", _year),
        accessible_for_free=_first(objects, "isAccessibleForFree", _free),
    )


# --------------------------------------------------------------------------- policy and counts

def tdm_reserved(usage: Optional[Usage]) -> bool:
    return bool(usage is not None and usage.tdm_reservation)


def skip_if_reserved(result: Any, request_url: str) -> Any:
    """``--tdm skip``: a TDM-reserved article becomes a ``tdm_reserved`` dead letter
    (for the requested URL, so accounting follows it); anything else passes."""
    if not isinstance(result, Article) or not tdm_reserved(result.usage):
        return result
    usage = result.usage
    return DeadLetter(url=request_url, stage=reasons.STAGE_EXTRACT, reason=reasons.TDM_RESERVED,
                      detail=f"TDM rights reserved ({usage.tdm_source})"
                             + (f"; policy {usage.tdm_policy}" if usage.tdm_policy else ""),
                      at=result.fetched_at, usage=usage)


def omit_body(article: Article) -> Article:
    """``--tdm omit-body``: a TDM-reserved article keeps its metadata, entities,
    word count and content hash (so later runs still recognise it) but no body."""
    if tdm_reserved(getattr(article, "usage", None)) and article.body:
        return dataclasses.replace(article, body="")
    return article


def kinds_of(row: Optional[Mapping[str, Any]]) -> List[str]:
    """The reservation kinds (:data:`KINDS`) a ``usage`` row shows."""
    if not row:
        return []
    found = []
    if row.get("tdm_reservation"):
        found.append("tdm_reserved")
    if row.get("ai_agents_disallowed"):
        found.append("ai_agents_disallowed")
    found.extend(d for d in DIRECTIVES if d in (row.get("robots_directives") or ()))
    if row.get("license"):
        found.append("licensed")
    if row.get("accessible_for_free") is False:
        found.append("not_free")
    return found


def figures(counts: Mapping[str, Mapping[str, int]]) -> Dict[str, Any]:
    """Report figures from the sink's counts: articles per reservation kind, overall
    and per source (``{"kinds": {kind: n}, "by_source": [{"source", kind: n...}]}``)."""
    per_source: Dict[str, Dict[str, int]] = {}
    for key, n in counts.get("articles.usage_by_source", {}).items():
        source, _, kind = key.rpartition("\t")
        per_source.setdefault(source, {})[kind] = int(n)
    rows = [{"source": s, **{k: kinds.get(k, 0) for k in KINDS}} for s, kinds in per_source.items()]
    rows.sort(key=lambda r: (-sum(r[k] for k in KINDS), r["source"]))
    totals = counts.get("articles.usage", {})
    return {"kinds": {k: int(totals.get(k, 0)) for k in KINDS}, "by_source": rows}
