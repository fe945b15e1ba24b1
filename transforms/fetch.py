"""Fetching pages and feeds over HTTP, politely and safely.

Pure part: :func:`fetch_url` (one URL, with the address guard, redirects checked
hop by hop, retries with backoff, size caps) and :class:`RobotsCache`.
Beam part: :class:`FetchPages`, which groups requests by host so that each host
is fetched sequentially with a delay while different hosts proceed in parallel.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import email.utils
import ipaddress
import logging
import random
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
from schemas.records import DeadLetter, FetchedPage, PageRequest

LOG = logging.getLogger(__name__)

DEAD_LETTER = "dead_letter"
PROJECT_URL = "https://github.com/newsbeam/newsbeam"
DEFAULT_CONTACT = "contact: set --contact"
MAX_BODY_BYTES = 5 * 1024 * 1024
MAX_REDIRECTS = 5
HTML_TYPES = ("text/html", "application/xhtml+xml")
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


def user_agent(contact: Optional[str] = None) -> str:
    return f"newsbeam/0.1 (+{PROJECT_URL}; {contact or DEFAULT_CONTACT})"


@dataclasses.dataclass(frozen=True)
class FetchConfig:
    """Everything that shapes how we talk to servers; picklable, one per job."""
    user_agent: str = user_agent()
    connect_timeout: float = 10.0
    total_timeout: float = 30.0
    max_bytes: int = MAX_BODY_BYTES
    max_redirects: int = MAX_REDIRECTS
    allow_private_hosts: bool = False
    host_delay: float = 1.0
    respect_robots: bool = True
    max_retries: int = 3
    backoff_base: float = 0.5
    max_retry_wait: float = 30.0  # total time spent waiting between retries of one URL
    max_parallel_hosts: int = 16


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
        for part in self.headers.get("content-type", "").split(";")[1:]:
            key, _, value = part.partition("=")
            if key.strip().lower() == "charset" and value.strip():
                return value.strip().strip('"\'').lower()
        return None


# --------------------------------------------------------------------------- address guard

def is_public_address(ip: Union[ipaddress.IPv4Address, ipaddress.IPv6Address]) -> bool:
    """True for globally routable unicast addresses only.

    ``is_global`` already excludes RFC 1918, loopback, link-local (incl. the
    169.254.169.254 metadata address), CGNAT 100.64/10, documentation and
    reserved ranges; multicast is excluded explicitly. IPv4-mapped IPv6
    addresses are judged by their IPv4 part.
    """
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return bool(ip.is_global) and not ip.is_multicast


def resolve(host: str) -> List[str]:
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise FetchError(reasons.DNS_ERROR, f"{host}: {exc}") from None
    except UnicodeError as exc:
        raise FetchError(reasons.BAD_URL, f"{host!r}: {exc}") from None
    return sorted({info[4][0] for info in infos})


def check_url_allowed(url: str, allow_private_hosts: bool) -> None:
    """Refuse non-http(s) URLs and hosts that resolve to non-public addresses."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise FetchError(reasons.UNSUPPORTED_SCHEME, f"scheme {parts.scheme!r} not fetched")
    host = parts.hostname
    if not host:
        raise FetchError(reasons.BAD_URL, "no host")
    if allow_private_hosts:
        return
    for address in resolve(host):
        ip = ipaddress.ip_address(address.split("%")[0])
        if not is_public_address(ip):
            raise FetchError(reasons.BLOCKED_ADDRESS, f"{host} resolves to {ip}")


# --------------------------------------------------------------------------- HTTP

def make_session(config: FetchConfig):
    import requests  # imported here: workers only pay for it when fetching
    session = requests.Session()
    session.headers.update({
        "User-Agent": config.user_agent,
        "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        "Accept-Encoding": "gzip, deflate",
    })
    adapter = requests.adapters.HTTPAdapter(pool_connections=32, pool_maxsize=32, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


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


def _read_capped(resp, max_bytes: int, deadline: float) -> bytes:
    """Read a streamed body, decompressed, aborting past ``max_bytes`` or the deadline.

    Counting decoded bytes caps decompressed size too (gzip bombs)."""
    declared = resp.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes and \
            not resp.headers.get("content-encoding"):
        raise FetchError(reasons.TOO_LARGE, f"content-length {declared} > {max_bytes}")
    chunks: List[bytes] = []
    size = 0
    for chunk in resp.iter_content(chunk_size=65536):
        size += len(chunk)
        if size > max_bytes:
            raise FetchError(reasons.TOO_LARGE, f"body exceeds {max_bytes} bytes")
        if time.monotonic() > deadline:
            raise FetchError(reasons.TIMEOUT, "total time budget exceeded while reading body")
        chunks.append(chunk)
    return b"".join(chunks)


def _classify_exception(exc: Exception) -> FetchError:
    import requests
    if isinstance(exc, FetchError):
        return exc
    text = str(exc)[:500]
    if isinstance(exc, requests.exceptions.SSLError):
        return FetchError(reasons.TLS_ERROR, text)
    if isinstance(exc, requests.exceptions.Timeout):
        return FetchError(reasons.TIMEOUT, text)
    if isinstance(exc, requests.exceptions.ContentDecodingError):
        return FetchError(reasons.BAD_ENCODING, text)
    if isinstance(exc, requests.exceptions.ConnectionError):
        if "Name or service not known" in text or "getaddrinfo" in text:
            return FetchError(reasons.DNS_ERROR, text)
        return FetchError(reasons.CONNECTION_ERROR, text)
    if isinstance(exc, (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                        requests.exceptions.InvalidSchema, ValueError)):
        return FetchError(reasons.BAD_URL, text)
    return FetchError(reasons.CONNECTION_ERROR, f"{type(exc).__name__}: {text}")


def _single_request(session, url: str, config: FetchConfig,
                    headers: Optional[Dict[str, str]]) -> Response:
    """One logical GET: follows redirects itself so every hop passes the guard."""
    deadline = time.monotonic() + config.total_timeout
    seen = [url]
    current = url
    for _ in range(config.max_redirects + 1):
        check_url_allowed(current, config.allow_private_hosts)
        remaining = max(0.1, deadline - time.monotonic())
        try:
            resp = session.get(current, headers=headers, stream=True, allow_redirects=False,
                               timeout=(min(config.connect_timeout, remaining), remaining))
        except Exception as exc:  # requests raises many types; classify them
            raise _classify_exception(exc) from None
        try:
            if resp.is_redirect or resp.status_code in (301, 302, 303, 307, 308):
                location = resp.headers.get("location")
                if not location:
                    raise FetchError(reasons.HTTP_4XX if resp.status_code < 500 else reasons.HTTP_5XX,
                                     f"redirect {resp.status_code} without Location")
                nxt = urllib.parse.urljoin(current, location)
                if nxt in seen:
                    raise FetchError(reasons.REDIRECT_LOOP, " -> ".join(seen + [nxt])[:500])
                seen.append(nxt)
                current = nxt
                continue
            try:
                content = _read_capped(resp, config.max_bytes, deadline) \
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
              sleep: Callable[[float], None] = time.sleep) -> Response:
    """GET ``url`` with retries on connection errors, 429 and 5xx.

    Backoff is exponential with full jitter, ``Retry-After`` is honoured, and
    the total waiting time is bounded by ``config.max_retry_wait``. Returns
    the final response (which may be a 4xx/5xx after retries are exhausted);
    raises :class:`FetchError` for refusals and transport failures.
    """
    waited = 0.0
    attempt = 0
    while True:
        error: Optional[FetchError] = None
        response: Optional[Response] = None
        try:
            response = _single_request(session, url, config, headers)
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
        if waited + wait > config.max_retry_wait:
            if error is not None:
                raise error
            return response  # type: ignore[return-value]
        sleep(wait)
        waited += wait
        attempt += 1


def status_error(response: Response) -> Optional[FetchError]:
    if response.status >= 500:
        return FetchError(reasons.HTTP_5XX, f"HTTP {response.status}")
    if response.status >= 400:
        return FetchError(reasons.HTTP_4XX, f"HTTP {response.status}")
    if response.status == 304:
        return None
    if response.status >= 300 or response.status < 200:
        return FetchError(reasons.HTTP_4XX, f"unexpected HTTP {response.status}")
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


# --------------------------------------------------------------------------- robots.txt

class RobotsCache:
    """robots.txt fetched once per host (per worker) and cached.

    Missing or failing robots.txt (4xx) means everything is allowed, as crawlers
    conventionally do; 5xx/transport errors are treated as allow too but logged.
    """

    def __init__(self, session, config: FetchConfig):
        self._session = session
        self._config = config
        self._parsers: Dict[str, Optional[urllib.robotparser.RobotFileParser]] = {}
        self._lock = threading.Lock()

    def _load(self, origin: str) -> Optional[urllib.robotparser.RobotFileParser]:
        config = dataclasses.replace(self._config, max_retries=0, max_bytes=512 * 1024)
        try:
            response = _single_request(self._session, origin + "/robots.txt", config, None)
        except FetchError as exc:
            LOG.info("robots.txt for %s unavailable (%s): allowing", origin, exc.reason)
            return None
        if response.status >= 400:
            return None
        parser = urllib.robotparser.RobotFileParser()
        parser.parse(response.content.decode("utf-8", "replace").splitlines())
        return parser

    def _parser(self, url: str) -> Optional[urllib.robotparser.RobotFileParser]:
        parts = urllib.parse.urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        with self._lock:
            if origin not in self._parsers:
                self._parsers[origin] = self._load(origin)
            return self._parsers[origin]

    def allowed(self, url: str) -> bool:
        parser = self._parser(url)
        return True if parser is None else parser.can_fetch(self._config.user_agent, url)

    def crawl_delay(self, url: str) -> Optional[float]:
        parser = self._parser(url)
        if parser is None:
            return None
        delay = parser.crawl_delay(self._config.user_agent)
        return float(delay) if delay is not None else None


# --------------------------------------------------------------------------- page fetching

def host_key(url: str) -> str:
    """The politeness key: scheme-less host[:port] in lowercase."""
    try:
        return (urllib.parse.urlsplit(url).netloc or "").lower()
    except ValueError:
        return ""


def fetch_page(session, robots: Optional[RobotsCache], request: PageRequest,
               config: FetchConfig) -> Union[FetchedPage, DeadLetter]:
    """Fetch one article page, returning a page or a dead letter (never raising)."""
    now = lambda: dt.datetime.now(dt.timezone.utc)  # noqa: E731
    try:
        check_url_allowed(request.url, config.allow_private_hosts)
        if robots is not None and config.respect_robots and not robots.allowed(request.url):
            raise FetchError(reasons.ROBOTS_DISALLOWED, "disallowed by robots.txt")
        response = fetch_url(session, request.url, config)
        error = status_error(response)
        if error is not None:
            raise error
        check_html(response)
    except FetchError as exc:
        return DeadLetter(url=request.url, stage=reasons.STAGE_FETCH, reason=exc.reason,
                          detail=exc.detail, at=now())
    except Exception as exc:  # a bug or an exotic failure must not kill the job
        LOG.exception("unexpected fetch failure for %s", request.url)
        return DeadLetter(url=request.url, stage=reasons.STAGE_FETCH,
                          reason=reasons.CONNECTION_ERROR,
                          detail=f"{type(exc).__name__}: {exc}"[:500], at=now())
    return FetchedPage(request=request, final_url=response.url, status=response.status,
                       content=response.content, content_type=response.content_type,
                       fetched_at=response.fetched_at, encoding=response.charset)


def fetch_host(session, robots: Optional[RobotsCache], requests_: Iterable[PageRequest],
               config: FetchConfig, sleep: Callable[[float], None] = time.sleep,
               ) -> Iterator[Union[FetchedPage, DeadLetter]]:
    """Fetch one host's pages in order, pausing between requests.

    The pause is the larger of ``host_delay`` and the host's robots.txt
    Crawl-delay; it is measured from the end of one request to the start of
    the next. Requests refused before any traffic (blocked, robots) do not wait.
    """
    last_request: Optional[float] = None
    for request in sorted(requests_, key=lambda r: r.url):
        delay = config.host_delay
        if robots is not None and config.respect_robots:
            try:
                crawl_delay = robots.crawl_delay(request.url)
            except Exception:  # robots trouble never blocks fetching
                crawl_delay = None
            if crawl_delay:
                delay = max(delay, min(crawl_delay, 60.0))
        if last_request is not None and delay > 0:
            pause = delay - (time.monotonic() - last_request)
            if pause > 0:
                sleep(pause)
        result = fetch_page(session, robots, request, config)
        if isinstance(result, DeadLetter):
            yield from alias_dead_letters(result, request.aliases)
        if not (isinstance(result, DeadLetter) and result.reason in
                (reasons.BLOCKED_ADDRESS, reasons.ROBOTS_DISALLOWED, reasons.UNSUPPORTED_SCHEME,
                 reasons.BAD_URL)):
            last_request = time.monotonic()
        yield result


def alias_dead_letters(letter: DeadLetter, aliases: Iterable[str]) -> Iterator[DeadLetter]:
    """The same failure for every URL variant that was folded into one request."""
    for alias in aliases:
        yield dataclasses.replace(letter, url=alias, detail=f"variant of {letter.url}: {letter.detail}"[:500])


class _FetchHostsFn(beam.DoFn):
    """Fetches (host, requests) groups; several hosts at once on a thread pool.

    Results of a host are emitted when that host is done; at most
    ``2 * max_parallel_hosts`` hosts are in flight so memory stays bounded.
    """

    def __init__(self, config: FetchConfig):
        self._config = config
        self._pool: Optional[ThreadPoolExecutor] = None
        self._local: Optional[threading.local] = None
        self._robots: Optional[RobotsCache] = None
        self._pending: List[Tuple[Future, object, object]] = []
        self.fetched = Metrics.counter("fetch", "pages_fetched")
        self.failed = Metrics.counter("fetch", "pages_failed")

    def setup(self):
        self._pool = ThreadPoolExecutor(max_workers=self._config.max_parallel_hosts,
                                        thread_name_prefix="newsbeam-fetch")
        self._local = threading.local()
        self._robots = RobotsCache(make_session(self._config), self._config)

    def _session(self):
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = make_session(self._config)
        return session

    def _run_host(self, requests_: List[PageRequest]) -> List[Union[FetchedPage, DeadLetter]]:
        return list(fetch_host(self._session(), self._robots, requests_, self._config))

    def start_bundle(self):
        self._pending = []

    def process(self, element, window=beam.DoFn.WindowParam, timestamp=beam.DoFn.TimestampParam):
        _host, requests_ = element
        future = self._pool.submit(self._run_host, list(requests_))
        self._pending.append((future, window, timestamp))
        while len(self._pending) > 2 * self._config.max_parallel_hosts:
            yield from self._emit(*self._pending.pop(0))

    def _emit(self, future: Future, window, timestamp) -> Iterator:
        # Results may belong to an earlier element: emit them in its window.
        for result in future.result():
            if isinstance(result, DeadLetter):
                self.failed.inc()
                Metrics.counter("dead_letters", f"fetch.{result.reason}").inc()
                yield pvalue.TaggedOutput(DEAD_LETTER, WindowedValue(result, timestamp, [window]))
            else:
                self.fetched.inc()
                yield WindowedValue(result, timestamp, [window])

    def finish_bundle(self):
        pending, self._pending = self._pending, []
        for future, window, timestamp in pending:
            yield from self._emit(future, window, timestamp)

    def teardown(self):
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)


class FetchPages(beam.PTransform):
    """PageRequest -> FetchedPage, with a ``dead_letter`` output of DeadLetter."""

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
                DEAD_LETTER, main="pages")
        )
