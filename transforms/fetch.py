"""Fetching pages and feeds over HTTP, politely and safely.

Pure part (usable without Beam, e.g. by a streaming poller):

- address guard: :func:`is_public_address`, and connections that resolve the
  host, check every address and connect to exactly the checked address (no
  second DNS lookup an attacker could rebind), on every redirect hop;
- :func:`fetch_url`: one logical GET with manual redirects (max 5, loops
  detected), retries with exponential backoff + jitter on connection errors,
  408/429/5xx, ``Retry-After`` honoured, a bounded total waiting time, bodies
  streamed and capped after decompression (gzip/deflate/br bombs), a total
  time budget that a slow-drip server cannot stretch;
- :class:`HostThrottle`: per-host minimum delay and concurrency limit, shared by
  every request a worker process makes (robots.txt, feeds, pages, retries);
- :class:`RobotsCache`: robots.txt once per host (RFC 9309 semantics, decimal
  ``Crawl-delay`` and ``Request-rate``);
- :func:`resolve_charset`: which charset a page is really in.

Beam part: :class:`FetchPages` groups requests by host so each host is fetched
with its delay while different hosts proceed in parallel on a thread pool.
"""
from __future__ import annotations

import codecs
import contextlib
import dataclasses
import datetime as dt
import email.utils
import ipaddress
import logging
import queue
import random
import re
import socket
import threading
import time
import urllib.parse
import urllib.robotparser
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Tuple, Union

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.metrics import Metrics
from apache_beam.utils.windowed_value import WindowedValue

from schemas import reasons
from schemas.records import DeadLetter, FetchedPage, PageRequest, Usage
from transforms import interrupt
from transforms import usage as usage_rights

LOG = logging.getLogger(__name__)

DEAD_LETTER = "dead_letter"
# Feeds (by URL) whose entries could not all be fetched for a transient reason:
# their conditional-GET state must not claim "seen" (see transforms.feed_state).
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


def header_charset(content_type: Optional[str]) -> Optional[str]:
    for part in (content_type or "").split(";")[1:]:
        key, _, value = part.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            return value.strip().strip('"\'').lower()
    return None


# --------------------------------------------------------------------------- address guard

def is_public_address(ip: Union[ipaddress.IPv4Address, ipaddress.IPv6Address]) -> bool:
    """True for globally routable unicast addresses only.

    ``is_global`` already excludes RFC 1918, loopback, link-local (incl. the
    169.254.169.254 metadata address), CGNAT 100.64/10, documentation and
    reserved ranges; multicast is excluded explicitly. IPv4-mapped (and
    NAT64/6to4-embedded) IPv6 addresses are judged by their IPv4 part.
    """
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        elif ip in _NAT64:
            ip = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        elif ip.sixtofour is not None:
            ip = ip.sixtofour
    return bool(ip.is_global) and not ip.is_multicast


_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _getaddrinfo(host: str, port: Optional[int]):
    """The one DNS lookup of a connection (a seam so tests can play a rebinding DNS)."""
    return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)


def resolve(host: str, port: Optional[int] = None) -> List[str]:
    try:
        infos = _getaddrinfo(host, port)
    except socket.gaierror as exc:
        raise FetchError(reasons.DNS_ERROR, f"{host}: {exc}") from None
    except UnicodeError as exc:
        raise FetchError(reasons.BAD_URL, f"{host!r}: {exc}") from None
    return sorted({info[4][0] for info in infos})


def _check_addresses(host: str, addresses: Iterable[str], allow_networks: Iterable[str] = ()) -> None:
    networks = [ipaddress.ip_network(n, strict=False) for n in allow_networks]
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        if not is_public_address(ip) and not any(ip in net for net in networks
                                                 if net.version == ip.version):
            raise FetchError(reasons.BLOCKED_ADDRESS, f"{host} resolves to {ip}")


def validate_url(url: str) -> None:
    """Only absolute http(s) URLs with a host are fetched."""
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as exc:
        raise FetchError(reasons.BAD_URL, str(exc)) from None
    if parts.scheme not in ("http", "https"):
        raise FetchError(reasons.UNSUPPORTED_SCHEME, f"scheme {parts.scheme!r} not fetched")
    if not parts.hostname:
        raise FetchError(reasons.BAD_URL, "no host")


def check_url_allowed(url: str, allow_private_hosts: bool, allow_networks: Iterable[str] = ()) -> None:
    """Refuse non-http(s) URLs and hosts that resolve to non-public addresses.

    A pre-flight check for callers that want an answer without traffic; the
    fetch itself re-checks at connect time on the address it connects to."""
    validate_url(url)
    if allow_private_hosts:
        return
    host = urllib.parse.urlsplit(url).hostname or ""
    _check_addresses(host, resolve(host), allow_networks)


def _guarded_connect(conn, allow_private_hosts: bool, allow_networks: Tuple[str, ...]) -> socket.socket:
    """Resolve once, refuse non-public addresses, connect to a checked one.

    Replaces urllib3's ``_new_conn``: urllib3 would resolve the name again
    when connecting, letting a DNS-rebinding server answer with a public
    address for the check and a private one for the connection."""
    from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
    from urllib3.util import connection as u3conn
    host = conn._dns_host
    try:
        infos = _getaddrinfo(host, conn.port)
    except socket.gaierror as exc:
        raise FetchError(reasons.DNS_ERROR, f"{conn.host}: {exc}") from None
    except UnicodeError as exc:
        raise FetchError(reasons.BAD_URL, f"{conn.host!r}: {exc}") from None
    addresses: List[str] = []
    for info in infos:
        if info[4][0] not in addresses:
            addresses.append(info[4][0])
    if not allow_private_hosts:
        _check_addresses(conn.host, addresses, allow_networks)
    last: Optional[Exception] = None
    for address in addresses:
        try:
            sock = u3conn.create_connection((address, conn.port), conn.timeout,
                                            source_address=conn.source_address,
                                            socket_options=conn.socket_options)
        except socket.timeout as exc:
            last = ConnectTimeoutError(conn, f"Connection to {conn.host} ({address}) timed out")
            last.__cause__ = exc
            continue
        except OSError as exc:
            last = NewConnectionError(conn, f"Failed to establish a new connection: {exc}")
            continue
        conn._newsbeam_address = address  # the address actually connected to (tests read it)
        return sock
    raise last or NewConnectionError(conn, f"{conn.host}: no address")


_POOL_CLASSES: Dict[Tuple[bool, Tuple[str, ...]], Dict[str, type]] = {}
_POOL_LOCK = threading.Lock()


def _pool_classes(allow_private_hosts: bool, allow_networks: Tuple[str, ...] = ()) -> Dict[str, type]:
    policy = (allow_private_hosts, tuple(allow_networks))
    with _POOL_LOCK:
        if policy not in _POOL_CLASSES:
            from urllib3.connection import HTTPConnection, HTTPSConnection
            from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

            def new_conn(self):
                return _guarded_connect(self, *policy)
            http_conn = type("GuardedHTTPConnection", (HTTPConnection,), {"_new_conn": new_conn})
            https_conn = type("GuardedHTTPSConnection", (HTTPSConnection,), {"_new_conn": new_conn})
            _POOL_CLASSES[policy] = {
                "http": type("GuardedHTTPConnectionPool", (HTTPConnectionPool,),
                             {"ConnectionCls": http_conn}),
                "https": type("GuardedHTTPSConnectionPool", (HTTPSConnectionPool,),
                              {"ConnectionCls": https_conn}),
            }
        return _POOL_CLASSES[policy]


# --------------------------------------------------------------------------- HTTP session

def supported_encodings() -> Tuple[str, ...]:
    """Content-Encodings urllib3 can decode here (``br`` needs the brotli package)."""
    from urllib3.response import HTTPResponse
    return tuple(HTTPResponse.CONTENT_DECODERS)


def make_session(config: FetchConfig):
    """A requests session whose connections pass the address guard.

    ``trust_env`` is off: a proxy from the environment would resolve names
    itself and so bypass the guard."""
    import requests  # imported here: workers only pay for it when fetching

    policy = (config.allow_private_hosts, tuple(config.allow_networks))

    class GuardedAdapter(requests.adapters.HTTPAdapter):
        def init_poolmanager(self, *args, **kwargs):
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = dict(_pool_classes(*policy))

    session = requests.Session()
    session.trust_env = False
    encodings = [e for e in supported_encodings() if e != "x-gzip"]
    session.headers.update({
        "User-Agent": config.user_agent,
        "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        "Accept-Encoding": ", ".join(encodings),
    })
    adapter = GuardedAdapter(pool_connections=32, pool_maxsize=32, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


# --------------------------------------------------------------------------- politeness

def host_key(url: str) -> str:
    """The politeness key: host[:port] in lowercase, without user info."""
    try:
        parts = urllib.parse.urlsplit(url)
        host = (parts.hostname or "").lower()
        port = parts.port
    except ValueError:
        return ""
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{port}" if port else host


class _HostState:
    __slots__ = ("ends", "busy", "delay", "limit", "hold_until")

    def __init__(self, delay: float, concurrency: int):
        self.ends = [float("-inf")] * concurrency  # when each lane last finished a request
        self.busy = [False] * concurrency
        self.delay = delay
        self.limit = concurrency
        self.hold_until = float("-inf")


class HostThrottle:
    """Per-host politeness shared by all threads of a worker process.

    At most ``concurrency`` requests to a host are in flight; each of those
    lanes waits ``delay`` seconds after its previous request ended before
    starting the next. A robots.txt ``Crawl-delay`` raises the delay and
    limits the host to one lane; a ``Retry-After`` holds the whole host.
    """

    def __init__(self, delay: float, concurrency: int = 1,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = interrupt.sleep):
        self.delay = max(0.0, delay)
        self.concurrency = max(1, int(concurrency))
        self._clock = clock
        self._sleep = sleep
        self._cond = threading.Condition()
        self._hosts: Dict[str, _HostState] = {}

    def _state(self, host: str) -> _HostState:
        state = self._hosts.get(host)
        if state is None:
            state = self._hosts[host] = _HostState(self.delay, self.concurrency)
        return state

    def set_crawl_delay(self, host: str, seconds: float) -> None:
        with self._cond:
            state = self._state(host)
            state.delay = max(self.delay, seconds)
            state.limit = 1

    def hold(self, host: str, seconds: float) -> None:
        """No request to ``host`` before ``seconds`` from now (Retry-After)."""
        with self._cond:
            state = self._state(host)
            state.hold_until = max(state.hold_until, self._clock() + seconds)

    def delay_for(self, host: str) -> float:
        with self._cond:
            return self._state(host).delay

    @contextlib.contextmanager
    def slot(self, host: str) -> Iterator[float]:
        """Hold a lane of ``host`` for one request; yields the seconds waited."""
        started = self._clock()
        with self._cond:
            state = self._state(host)
            while sum(state.busy) >= state.limit:
                self._cond.wait(interrupt.POLL_SECONDS)
                interrupt.check()
            free = [i for i, busy in enumerate(state.busy) if not busy]
            # One lane: wait after the most recent request; several: the lane free longest.
            pick = max if state.limit == 1 else min
            lane = pick(free, key=lambda i: state.ends[i])
            state.busy[lane] = True
            ready = max(state.ends[lane] + state.delay, state.hold_until)
            if state.limit == 1:
                ready = max(ready, max(state.ends) + state.delay)
        try:
            pause = ready - self._clock()
            if pause > 0:
                self._sleep(pause)
            yield self._clock() - started
        finally:
            with self._cond:
                state.ends[lane] = self._clock()
                state.busy[lane] = False
                self._cond.notify_all()


_SHARED: Dict[Tuple, object] = {}
_SHARED_LOCK = threading.Lock()


def shared_throttle(config: FetchConfig) -> HostThrottle:
    """One throttle per worker process and politeness setting, so feed reads,
    robots.txt and page fetches of a host are all spaced, whichever DoFn makes them."""
    key = ("throttle", config.host_delay, config.host_concurrency)
    with _SHARED_LOCK:
        if key not in _SHARED:
            _SHARED[key] = HostThrottle(config.host_delay, config.host_concurrency)
        return _SHARED[key]  # type: ignore[return-value]


# --------------------------------------------------------------------------- HTTP

def parse_retry_after(value: Optional[str], now: Optional[float] = None) -> Optional[float]:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    now = time.time() if now is None else now
    return max(0.0, when.timestamp() - now)


def _check_content_encoding(headers) -> None:
    value = (headers.get("content-encoding") or "").lower()
    codings = [c.strip() for c in value.split(",") if c.strip() and c.strip() != "identity"]
    unknown = [c for c in codings if c not in supported_encodings()]
    if unknown:
        raise FetchError(reasons.BAD_ENCODING, f"unsupported content-encoding {value!r}")


def _read_capped(resp, max_bytes: int, deadline: float) -> bytes:
    """Read a streamed body, decompressed, aborting past ``max_bytes`` or the deadline.

    Counting decoded bytes caps decompressed size too (gzip/deflate/br bombs);
    urllib3 >= 2.6 bounds each decompression step, so a bomb never inflates
    more than a chunk at a time. ``read1`` returns whatever one socket read
    brought, so the deadline is checked even against a server that drips a
    byte at a time (``read(n)`` would block until ``n`` bytes arrived)."""
    declared = resp.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes and \
            not resp.headers.get("content-encoding"):
        raise FetchError(reasons.TOO_LARGE, f"content-length {declared} > {max_bytes}")
    _check_content_encoding(resp.headers)
    raw = resp.raw
    chunks: List[bytes] = []
    size = 0
    while True:
        if time.monotonic() > deadline:
            raise FetchError(reasons.TIMEOUT, "total time budget exceeded while reading body")
        chunk = raw.read1(READ_CHUNK, decode_content=True)
        if not chunk:
            break
        size += len(chunk)
        if size > max_bytes:
            raise FetchError(reasons.TOO_LARGE, f"body exceeds {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _classify_exception(exc: BaseException) -> FetchError:
    import requests
    from urllib3 import exceptions as u3
    if isinstance(exc, FetchError):
        return exc
    text = str(exc)[:500]
    if isinstance(exc, (requests.exceptions.SSLError, u3.SSLError)):
        return FetchError(reasons.TLS_ERROR, text)
    if isinstance(exc, (requests.exceptions.Timeout, u3.TimeoutError, socket.timeout)):
        return FetchError(reasons.TIMEOUT, text)
    if isinstance(exc, (requests.exceptions.ContentDecodingError, u3.DecodeError)):
        return FetchError(reasons.BAD_ENCODING, text)
    if isinstance(exc, (requests.exceptions.ConnectionError, u3.ProtocolError, OSError,
                        u3.HTTPError)):
        if "Name or service not known" in text or "getaddrinfo" in text:
            return FetchError(reasons.DNS_ERROR, text)
        return FetchError(reasons.CONNECTION_ERROR, text)
    if isinstance(exc, (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                        requests.exceptions.InvalidSchema, ValueError)):
        return FetchError(reasons.BAD_URL, text)
    return FetchError(reasons.CONNECTION_ERROR, f"{type(exc).__name__}: {text}")


def _slot(throttle: Optional[HostThrottle], url: str):
    return throttle.slot(host_key(url)) if throttle is not None else contextlib.nullcontext(0.0)


def _single_request(session, url: str, config: FetchConfig,
                    headers: Optional[Dict[str, str]],
                    throttle: Optional[HostThrottle] = None) -> Response:
    """One logical GET: follows redirects itself so every hop passes the guard
    (and the politeness throttle of its host). ``total_timeout`` bounds the
    network time; waiting for a politeness slot does not count against it."""
    budget = config.total_timeout
    seen = [url]
    current = url
    for _ in range(config.max_redirects + 1):
        validate_url(current)
        with _slot(throttle, current):
            started = time.monotonic()
            remaining = max(0.1, budget)
            try:
                resp = session.get(current, headers=headers, stream=True, allow_redirects=False,
                                   timeout=(min(config.connect_timeout, remaining), remaining))
            except Exception as exc:  # requests raises many types; classify them
                raise _classify_exception(exc) from None
            try:
                if resp.status_code in (301, 302, 303, 307, 308):
                    location = resp.headers.get("location")
                    if not location:
                        raise FetchError(reasons.HTTP_4XX if resp.status_code < 500 else reasons.HTTP_5XX,
                                         f"redirect {resp.status_code} without Location")
                    nxt = urllib.parse.urljoin(current, location.strip())
                    if nxt in seen:
                        raise FetchError(reasons.REDIRECT_LOOP, " -> ".join(seen + [nxt])[:500])
                    seen.append(nxt)
                    current = nxt
                    budget -= time.monotonic() - started
                    if budget <= 0:
                        raise FetchError(reasons.TIMEOUT, "total time budget exceeded in redirects")
                    continue
                try:
                    content = _read_capped(resp, config.max_bytes, started + remaining) \
                        if resp.status_code < 400 else b""
                except FetchError:
                    raise
                except Exception as exc:
                    raise _classify_exception(exc) from None
                return Response(url=current, status=resp.status_code,
                                headers={k.lower(): v for k, v in resp.headers.items()},
                                content=content, fetched_at=dt.datetime.now(dt.timezone.utc))
            finally:
                resp.close()
    raise FetchError(reasons.TOO_MANY_REDIRECTS, f"more than {config.max_redirects} redirects")


def fetch_url(session, url: str, config: FetchConfig, *,
              headers: Optional[Dict[str, str]] = None,
              sleep: Callable[[float], None] = interrupt.sleep,
              throttle: Optional[HostThrottle] = None) -> Response:
    """GET ``url`` with retries on connection errors, timeouts, 408, 429 and 5xx.

    Backoff is exponential with full jitter, ``Retry-After`` is honoured (and
    holds the whole host in ``throttle``), and the total waiting time is
    bounded by ``config.max_retry_wait``. Returns the final response (which
    may be a 4xx/5xx after retries are exhausted); raises :class:`FetchError`
    for refusals and transport failures.
    """
    waited = 0.0
    attempt = 0
    while True:
        error: Optional[FetchError] = None
        response: Optional[Response] = None
        try:
            response = _single_request(session, url, config, headers, throttle)
        except FetchError as exc:
            if exc.reason not in (reasons.CONNECTION_ERROR, reasons.TIMEOUT):
                raise
            error = exc
        if response is not None and response.status not in RETRY_STATUSES:
            return response
        if attempt >= config.max_retries:
            if error is not None:
                raise error
            return response  # type: ignore[return-value]
        wait = config.backoff_base * (2 ** attempt) * random.uniform(0.5, 1.0)
        if response is not None:
            hinted = parse_retry_after(response.headers.get("retry-after"))
            if hinted is not None:
                wait = hinted
                if throttle is not None:  # bounded: one URL's hint must not stall a host for hours
                    throttle.hold(host_key(response.url), min(hinted, config.max_retry_wait))
        if waited + wait > config.max_retry_wait:
            if error is not None:
                raise error
            return response  # type: ignore[return-value]
        sleep(wait)
        waited += wait
        attempt += 1


def status_error(response: Response, *, not_modified_ok: bool = False) -> Optional[FetchError]:
    """The dead-letter reason a final status means, or None for success."""
    status = response.status
    if status == 304 and not_modified_ok:
        return None
    if status == 429:
        return FetchError(reasons.RATE_LIMITED, "HTTP 429 after retries")
    if status >= 500:
        return FetchError(reasons.HTTP_5XX, f"HTTP {status}")
    if status >= 400:
        return FetchError(reasons.HTTP_4XX, f"HTTP {status}")
    if status >= 300 or status < 200:
        return FetchError(reasons.HTTP_4XX, f"unexpected HTTP {status}")
    return None


def looks_like_html(content: bytes) -> bool:
    head = content[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<!--", b"<meta",
                            b"<div", b"<p", b"<title", b"<article"))


def check_html(response: Response) -> None:
    ctype = response.content_type
    if ctype in HTML_TYPES:
        return
    if not ctype or ctype in ("text/plain", "application/octet-stream"):
        if looks_like_html(response.content):
            return
    raise FetchError(reasons.NOT_HTML, f"content-type {ctype or 'missing'}")


# --------------------------------------------------------------------------- charset

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_:.-]+)""", re.I)
# WHATWG: labels browsers decode differently from their name.
_WHATWG_ALIASES = {"iso8859-1": "cp1252", "latin-1": "cp1252", "ascii": "cp1252",
                   "iso8859-9": "cp1254", "gb2312": "gb18030", "gbk": "gb18030",
                   "euc_kr": "cp949", "tis-620": "cp874", "iso8859-11": "cp874"}
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def _codec(name: Optional[str]) -> Optional[str]:
    if not name:
        return None
    try:
        codec = codecs.lookup(name.strip().strip("\"'")).name
    except LookupError:
        return None
    return _WHATWG_ALIASES.get(codec, codec)


def _decodes(content: bytes, codec: str) -> bool:
    try:
        content.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return False
    return True


def resolve_charset(content: bytes, declared: Optional[str] = None) -> Optional[str]:
    """The charset a page is really in: BOM, then UTF-8 when the bytes are
    valid non-ASCII UTF-8 (legacy text practically never is, while servers
    and templates often mislabel UTF-8 pages as ISO-8859-1), then the HTTP
    header, then ``<meta charset>``, each only if the bytes decode under it,
    then statistical detection. None when nothing is known (pure ASCII)."""
    for bom, name in _BOMS:
        if content.startswith(bom):
            return name
    if not content.isascii() and _decodes(content, "utf-8"):
        return "utf-8"
    match = _META_CHARSET.search(content[:4096])
    meta = match.group(1).decode("ascii", "ignore") if match else None
    for name in (_codec(declared), _codec(meta)):
        if name and not name.startswith(("utf-16", "utf-32")) and _decodes(content, name):
            return name
    if content.isascii():
        return _codec(declared) or _codec(meta) or None
    try:
        from charset_normalizer import from_bytes
        best = from_bytes(content[:200_000]).best()
        if best is not None and best.encoding and _decodes(content, best.encoding):
            return _codec(best.encoding)
    except Exception:  # detection is best effort
        pass
    return "cp1252" if _decodes(content, "cp1252") else None


# --------------------------------------------------------------------------- robots.txt

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


# --------------------------------------------------------------------------- page fetching

def fetch_page(session, robots: Optional[RobotsCache], request: PageRequest,
               config: FetchConfig, throttle: Optional[HostThrottle] = None,
               ) -> Union[FetchedPage, DeadLetter]:
    """Fetch one article page, returning a page or a dead letter (never raising)."""
    now = lambda: dt.datetime.now(dt.timezone.utc)  # noqa: E731
    try:
        validate_url(request.url)
        if robots is not None and config.respect_robots:
            robots.check(request.url)
            crawl_delay = robots.crawl_delay(request.url)
            if crawl_delay and throttle is not None:
                throttle.set_crawl_delay(host_key(request.url), crawl_delay)
        response = fetch_url(session, request.url, config, throttle=throttle)
        error = status_error(response)
        if error is not None:
            raise error
        check_html(response)
    except FetchError as exc:
        return DeadLetter(url=request.url, stage=reasons.STAGE_FETCH, reason=exc.reason,
                          detail=exc.detail, at=now(), usage=_robots_usage(robots, request.url, config))
    except interrupt.Interrupted:
        raise  # Ctrl-C: not the page's fault, and not a dead letter
    except Exception as exc:  # a bug or an exotic failure must not kill the job
        LOG.exception("unexpected fetch failure for %s", request.url)
        return DeadLetter(url=request.url, stage=reasons.STAGE_FETCH,
                          reason=reasons.CONNECTION_ERROR,
                          detail=f"{type(exc).__name__}: {exc}"[:500], at=now())
    return FetchedPage(request=request, final_url=response.url, status=response.status,
                       content=response.content, content_type=response.content_type,
                       fetched_at=response.fetched_at,
                       encoding=resolve_charset(response.content, response.charset),
                       usage=_fetch_usage(robots, request.url, response, config))


def _robots_usage(robots: Optional[RobotsCache], url: str, config: FetchConfig) -> Optional[Usage]:
    """A failed page's robots decisions, when robots.txt was consulted and readable."""
    if robots is None or not config.respect_robots:
        return None
    try:
        allowed, agents = robots.decisions(url, load=False)  # never a robots.txt request for a failure
    except Exception:  # e.g. a bad URL: nothing known
        return None
    return Usage(robots_allowed=allowed, ai_agents_disallowed=agents) if allowed is not None else None


def _fetch_usage(robots: Optional[RobotsCache], url: str, response: Response, config: FetchConfig) -> Usage:
    """Usage rights the fetch tells (transforms/usage.py): robots decisions for the
    requested URL, TDMRep headers and the final origin's tdmrep.json, X-Robots-Tag."""
    allowed, agents = robots.decisions(url) if robots is not None and config.respect_robots else (None, None)
    return usage_rights.from_fetch(response.headers, url=response.url, robots_allowed=allowed,
                                   ai_disallowed=agents,
                                   tdmrep=robots.tdmrep(response.url) if robots is not None else None,
                                   user_agent=config.user_agent)


def fetch_host(session, robots: Optional[RobotsCache], requests_: Iterable[PageRequest],
               config: FetchConfig, sleep: Callable[[float], None] = interrupt.sleep,
               throttle: Optional[HostThrottle] = None,
               ) -> Iterator[Union[FetchedPage, DeadLetter]]:
    """Fetch one host's pages (in URL order), politely; see :func:`fetch_host_pairs`."""
    for _request, result in fetch_host_pairs(session, robots, requests_, config, sleep, throttle):
        yield result


def fetch_host_pairs(session, robots: Optional[RobotsCache], requests_: Iterable[PageRequest],
                     config: FetchConfig, sleep: Callable[[float], None] = interrupt.sleep,
                     throttle: Optional[HostThrottle] = None,
                     ) -> Iterator[Tuple[PageRequest, Union[FetchedPage, DeadLetter]]]:
    """Fetch one host's pages (in URL order), politely, yielding (request, result)
    as each completes (a failed request also yields its aliases' dead letters).

    Spacing and concurrency come from ``throttle`` (a private one with
    ``config.host_delay`` / ``config.host_concurrency`` when None): every
    request to the host -- robots.txt, retries and redirect hops included --
    waits for a lane. Requests refused before any traffic (blocked address,
    robots) do not wait. With ``host_concurrency`` > 1 that many lanes run on
    threads; a Crawl-delay brings the host back to one lane.
    """
    if throttle is None:
        throttle = HostThrottle(config.host_delay, config.host_concurrency, sleep=sleep)
    ordered = sorted(requests_, key=lambda r: r.url)

    def one(request: PageRequest) -> List[Tuple[PageRequest, Union[FetchedPage, DeadLetter]]]:
        interrupt.check()  # Ctrl-C: no new request
        result = fetch_page(session, robots, request, config, throttle)
        out: List[Tuple[PageRequest, Union[FetchedPage, DeadLetter]]] = [(request, result)]
        if isinstance(result, DeadLetter):
            out.extend((request, alias) for alias in alias_dead_letters(result, request.aliases))
        return out

    if config.host_concurrency <= 1 or len(ordered) <= 1:
        for request in ordered:
            yield from one(request)
        return
    with ThreadPoolExecutor(max_workers=min(config.host_concurrency, len(ordered)),
                            thread_name_prefix="newsbeam-lane") as lanes:
        for results in lanes.map(one, ordered):
            yield from results


def alias_dead_letters(letter: DeadLetter, aliases: Iterable[str]) -> Iterator[DeadLetter]:
    """The same failure for every URL variant that was folded into one request."""
    for alias in aliases:
        yield dataclasses.replace(letter, url=alias, detail=f"variant of {letter.url}: {letter.detail}"[:500])


def dead_letter_counter(letter: DeadLetter):
    """The Beam counter of a dead letter: namespace ``dead_letters``, name ``<stage>.<reason>``."""
    return Metrics.counter("dead_letters", f"{letter.stage}.{letter.reason}")


class _FetchHostsFn(beam.DoFn):
    """Fetches (host, requests) groups; several hosts at once on a thread pool.

    Each page is emitted as soon as it is fetched (fetch threads hand results
    over through a queue; the bundle's thread emits them and bumps counters),
    so extraction downstream overlaps with fetching. At most
    ``2 * max_parallel_hosts`` hosts are in flight so memory stays bounded.
    The throttle is per worker process (shared with the feed reader), the
    robots.txt cache per DoFn instance (in practice one per worker).
    """

    def __init__(self, config: FetchConfig):
        self._config = config
        self._pool: Optional[ThreadPoolExecutor] = None
        self._local: Optional[threading.local] = None
        self._robots: Optional[RobotsCache] = None
        self._throttle: Optional[HostThrottle] = None
        self._pending: List[Future] = []
        self._results: Optional["queue.Queue"] = None  # made per bundle
        self.fetched = Metrics.counter("fetch", "pages_fetched")
        self.failed = Metrics.counter("fetch", "pages_failed")

    def setup(self):
        self._pool = ThreadPoolExecutor(max_workers=self._config.max_parallel_hosts,
                                        thread_name_prefix="newsbeam-fetch")
        self._local = threading.local()
        self._throttle = shared_throttle(self._config)
        self._robots = RobotsCache(make_session(self._config), self._config, throttle=self._throttle)

    def _session(self):
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = make_session(self._config)
        return session

    def _run_host(self, requests_: List[PageRequest], window, timestamp) -> None:
        for request, result in fetch_host_pairs(self._session(), self._robots, requests_,
                                                self._config, throttle=self._throttle):
            self._results.put((request, result, window, timestamp))

    def start_bundle(self):
        self._pending = []
        self._results = queue.Queue()

    def process(self, element, window=beam.DoFn.WindowParam, timestamp=beam.DoFn.TimestampParam):
        _host, requests_ = element
        self._pending.append(self._pool.submit(self._run_host, list(requests_), window, timestamp))
        while len(self._pending) > 2 * self._config.max_parallel_hosts:
            self._pending.pop(0).result()
        yield from self._drain(block=False)

    def _drain(self, block: bool) -> Iterator:
        """Emit queued results; with ``block``, until every pending host is done."""
        while True:
            interrupt.check()  # Ctrl-C: stop emitting, do not wait for requests in flight
            try:
                item = self._results.get(timeout=0.05) if block else self._results.get_nowait()
            except queue.Empty:
                if not block:
                    return
                for future in [f for f in self._pending if f.done()]:
                    future.result()  # surface a bug in a fetch thread instead of losing it
                self._pending = [f for f in self._pending if not f.done()]
                if not self._pending and self._results.empty():
                    return
                continue
            yield from self._emit(*item)

    def _emit(self, request: PageRequest, result, window, timestamp) -> Iterator:
        # Results may belong to an earlier element: emit them in its window.
        if isinstance(result, DeadLetter):
            self.failed.inc()
            dead_letter_counter(result).inc()
            yield pvalue.TaggedOutput(DEAD_LETTER, WindowedValue(result, timestamp, [window]))
            if result.reason in TRANSIENT_REASONS and request.feed_url and result.url == request.url:
                yield pvalue.TaggedOutput(INCOMPLETE_FEEDS,
                                          WindowedValue(request.feed_url, timestamp, [window]))
        else:
            self.fetched.inc()
            yield WindowedValue(result, timestamp, [window])

    def finish_bundle(self):
        yield from self._drain(block=True)

    def teardown(self):
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)


class FetchPages(beam.PTransform):
    """PageRequest -> FetchedPage (``pages``), with a ``dead_letter`` output of
    DeadLetter and an ``incomplete_feeds`` output: URLs of feeds some of whose
    entries failed transiently (so their conditional-GET state is not committed)."""

    def __init__(self, config: FetchConfig, label: Optional[str] = None):
        super().__init__(label)
        self._config = config

    def expand(self, requests_):
        return (
            requests_
            | "KeyByHost" >> beam.Map(lambda r: (host_key(r.url), r)).with_output_types(
                Tuple[str, PageRequest])
            | "GroupByHost" >> beam.GroupByKey()
            | "FetchHosts" >> beam.ParDo(_FetchHostsFn(self._config)).with_outputs(
                DEAD_LETTER, INCOMPLETE_FEEDS, main="pages")
        )


class FetchHostGroups(beam.PTransform):
    """(host, requests) -> like :class:`FetchPages`, for input already grouped by
    host (the streaming poller groups each round's entries itself: a
    GroupByKey after an unbounded source holds everything until it ends on
    the local runner)."""

    def __init__(self, config: FetchConfig, label: Optional[str] = None):
        super().__init__(label)
        self._config = config

    def expand(self, groups):
        return groups | "FetchHosts" >> beam.ParDo(_FetchHostsFn(self._config)).with_outputs(
            DEAD_LETTER, INCOMPLETE_FEEDS, main="pages")
