"""What shapes how we talk to servers (one picklable FetchConfig per job), the
error every fetch failure becomes, and the response record.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Dict, Optional, Tuple

from core.charset import header_charset
from schemas import reasons


INCOMPLETE_FEEDS = "incomplete_feeds"
PROJECT_URL = "https://github.com/newsbeam/newsbeam"
DEFAULT_CONTACT = "contact: set --contact"
MAX_BODY_BYTES = 5 * 1024 * 1024
MAX_REDIRECTS = 5
MAX_CRAWL_DELAY = 60.0  # a robots.txt asking for more is capped (and logged)
ROBOTS_MAX_BYTES = 512 * 1024  # RFC 9309: parse at least 500 KiB
ROBOTS_TTL = 24 * 3600.0
READ_CHUNK = 64 * 1024
HTML_TYPES = ("text/html", "application/xhtml+xml")
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
# Reasons worth another try in a later run (the server or network may recover).
TRANSIENT_REASONS = frozenset({reasons.TIMEOUT, reasons.CONNECTION_ERROR, reasons.HTTP_5XX,
                               reasons.DNS_ERROR, reasons.RATE_LIMITED,
                               reasons.ROBOTS_UNAVAILABLE})
# Refusals made before any traffic to the host: they do not count as a request.
_NO_TRAFFIC_REASONS = frozenset({reasons.BLOCKED_ADDRESS, reasons.ROBOTS_DISALLOWED,
                                 reasons.UNSUPPORTED_SCHEME, reasons.BAD_URL})


def user_agent(contact: Optional[str] = None) -> str:
    return f"newsbeam/0.1 (+{PROJECT_URL}; {contact or DEFAULT_CONTACT})"


@dataclasses.dataclass(frozen=True)
class FetchConfig:
    """Everything that shapes how we talk to servers; picklable, one per job."""
    user_agent: str = user_agent()
    connect_timeout: float = 10.0
    total_timeout: float = 30.0  # network time of one logical GET, redirects included
    max_bytes: int = MAX_BODY_BYTES  # counted after decompression
    max_redirects: int = MAX_REDIRECTS
    allow_private_hosts: bool = False
    # Networks (CIDR) allowed although not public, e.g. an internal mirror; the
    # guard still refuses every other private address, on every hop.
    allow_networks: Tuple[str, ...] = ()
    host_delay: float = 1.0  # pause between the end of one request and the next, per host
    host_concurrency: int = 1  # requests in flight per host (per worker)
    respect_robots: bool = True
    max_retries: int = 3
    backoff_base: float = 0.5
    max_retry_wait: float = 30.0  # total time spent waiting between retries of one URL
    max_parallel_hosts: int = 16
    max_crawl_delay: float = MAX_CRAWL_DELAY


class FetchError(Exception):
    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclasses.dataclass(frozen=True)
class Response:
    url: str
    status: int
    headers: Dict[str, str]
    content: bytes
    fetched_at: dt.datetime

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    @property
    def charset(self) -> Optional[str]:
        return header_charset(self.headers.get("content-type"))
