"""robots.txt once per host (RFC 9309 semantics, decimal ``Crawl-delay`` and
``Request-rate``), and the publisher's tdmrep.json, through the same session and throttle.
"""
from __future__ import annotations

import dataclasses
import logging
import re
import threading
import time
import urllib.parse
import urllib.robotparser
from typing import Dict, List, Optional, Tuple

from core import usage as usage_rights
from core.fetch_config import ROBOTS_MAX_BYTES, ROBOTS_TTL, FetchConfig, FetchError
from core.http import fetch_url
from core.politeness import HostThrottle
from schemas import reasons

LOG = logging.getLogger(__name__)


def parse_crawl_delay(text: str, agent: str) -> Optional[float]:
    """``Crawl-delay`` (decimals allowed) or ``Request-rate`` of the group that
    applies to ``agent`` (else ``*``). The stdlib parser only takes integers."""
    token = agent.split("/")[0].strip().lower()
    groups: List[Tuple[List[str], Dict[str, str]]] = []
    agents: List[str] = []
    rules: Dict[str, str] = {}
    in_agents = False
    for raw_line in text.splitlines():
        line = raw_line.split("#", 1)[0].strip()
        if ":" not in line:
            continue
        key, _, value = line.partition(":")
        key, value = key.strip().lower(), value.strip()
        if key == "user-agent":
            if not in_agents:
                agents, rules = [], {}
                groups.append((agents, rules))
                in_agents = True
            agents.append(value.lower())
        else:
            in_agents = False
            if groups and key in ("crawl-delay", "request-rate"):
                rules.setdefault(key, value)

    def delay_of(found: Dict[str, str]) -> Optional[float]:
        try:
            if "crawl-delay" in found:
                value = float(found["crawl-delay"])
                return value if value >= 0 and value == value else None
            if "request-rate" in found:
                count, _, seconds = found["request-rate"].partition("/")
                seconds = re.match(r"[\d.]+", seconds.strip())
                if seconds and float(count) > 0:
                    return float(seconds.group(0)) / float(count)
        except ValueError:
            return None
        return None

    specific = [r for a, r in groups if any(x != "*" and x and x in token for x in a)]
    default = [r for a, r in groups if "*" in a]
    for candidates in (specific, default):
        for found in candidates:
            delay = delay_of(found)
            if delay is not None:
                return delay
        if candidates:
            return None
    return None


@dataclasses.dataclass
class _Robots:
    parser: Optional[urllib.robotparser.RobotFileParser]  # None = everything allowed
    crawl_delay: Optional[float]
    error: Optional[FetchError]  # robots.txt unreachable: every page of the origin fails with it
    loaded_at: float


class RobotsCache:
    """robots.txt fetched once per host (per worker) and cached for a day.

    RFC 9309: 4xx (no robots.txt) allows everything; a 5xx or a network
    failure after retries means "unreachable", which disallows everything (the
    pages are dead-lettered as ``robots_unavailable`` and retried by a later
    run). Loads of different hosts proceed in parallel.
    """

    def __init__(self, session, config: FetchConfig, throttle: Optional[HostThrottle] = None,
                 ttl: float = ROBOTS_TTL):
        self._session = session
        self._config = config
        self._throttle = throttle
        self._ttl = ttl
        self._entries: Dict[str, _Robots] = {}
        self._locks: Dict[str, threading.Lock] = {}
        self._lock = threading.Lock()
        # TDMRep's /.well-known/tdmrep.json: same fetch path, caps and cache life as robots.txt.
        self._tdmrep = usage_rights.TdmRepCache(self._load_small, ttl=ttl)

    def _load_small(self, url: str) -> Tuple[int, bytes]:
        config = dataclasses.replace(self._config, max_bytes=ROBOTS_MAX_BYTES)
        response = fetch_url(self._session, url, config, throttle=self._throttle)
        return response.status, response.content

    def tdmrep(self, url: str) -> usage_rights.TdmRepFile:
        """The origin's tdmrep.json rules (fetched once per origin)."""
        return self._tdmrep.get(url)

    def decisions(self, url: str, load: bool = True) -> Tuple[Optional[bool], Optional[Tuple[str, ...]]]:
        """(our agent allowed, AI agents disallowed) for ``url``; (None, None) when
        robots.txt could not be read (or, with ``load`` False, was not read yet)."""
        if load:
            entry: Optional[_Robots] = self._robots(url)
        else:
            parts = urllib.parse.urlsplit(url)
            entry = self._entries.get(f"{parts.scheme}://{parts.netloc}")
        if entry is None or entry.error is not None:
            return None, None
        if entry.parser is None:
            return True, ()
        return (entry.parser.can_fetch(self._config.user_agent, url),
                usage_rights.ai_agents_disallowed(entry.parser.can_fetch, url))

    def _load(self, origin: str) -> _Robots:
        config = dataclasses.replace(self._config, max_bytes=ROBOTS_MAX_BYTES)
        now = time.monotonic()
        try:
            response = fetch_url(self._session, origin + "/robots.txt", config,
                                 throttle=self._throttle)
        except FetchError as exc:
            LOG.info("robots.txt for %s unreachable (%s)", origin, exc.reason)
            if exc.reason in (reasons.TIMEOUT, reasons.CONNECTION_ERROR):
                exc = FetchError(reasons.ROBOTS_UNAVAILABLE, f"robots.txt {exc.reason}: {exc.detail}"[:300])
            # else the precise reason (blocked_address, dns_error, tls_error...) is the page's too
            return _Robots(None, None, exc, now)
        if response.status >= 500 or response.status == 429:
            return _Robots(None, None, FetchError(reasons.ROBOTS_UNAVAILABLE,
                                                  f"robots.txt HTTP {response.status}"), now)
        if response.status >= 400:
            return _Robots(None, None, None, now)
        text = response.content.decode("utf-8", "replace")
        parser = urllib.robotparser.RobotFileParser()
        parser.parse(text.splitlines())
        delay = parse_crawl_delay(text, self._config.user_agent)
        if delay is not None and delay > self._config.max_crawl_delay:
            LOG.warning("%s asks for Crawl-delay %s s; using %s s", origin, delay,
                        self._config.max_crawl_delay)
            delay = self._config.max_crawl_delay
        return _Robots(parser, delay, None, now)

    def _robots(self, url: str) -> _Robots:
        parts = urllib.parse.urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        with self._lock:
            lock = self._locks.setdefault(origin, threading.Lock())
        with lock:  # one load per origin; other origins are not blocked
            entry = self._entries.get(origin)
            if entry is None or time.monotonic() - entry.loaded_at > self._ttl:
                entry = self._entries[origin] = self._load(origin)
            return entry

    def check(self, url: str) -> None:
        """Raise ``robots_disallowed`` / ``robots_unavailable`` unless ``url`` may be fetched."""
        entry = self._robots(url)
        if entry.error is not None:
            raise FetchError(entry.error.reason, entry.error.detail)
        if entry.parser is not None and not entry.parser.can_fetch(self._config.user_agent, url):
            raise FetchError(reasons.ROBOTS_DISALLOWED, "disallowed by robots.txt")

    def allowed(self, url: str) -> bool:
        try:
            self.check(url)
        except FetchError:
            return False
        return True

    def crawl_delay(self, url: str) -> Optional[float]:
        return self._robots(url).crawl_delay
