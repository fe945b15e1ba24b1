"""One logical GET: manual redirects (max 5, loops detected), retries with
exponential backoff + jitter on connection errors, 408/429/5xx, ``Retry-After``
honoured, a bounded total waiting time, bodies streamed and capped after
decompression (gzip/deflate/br bombs), a total time budget that a slow-drip
server cannot stretch.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import random
import socket
import time
import urllib.parse
from typing import Callable, Dict, List, Optional

from core import interrupt
from core.addresses import supported_encodings, validate_url
from core.dates import parse_datetime
from core.fetch_config import HTML_TYPES, READ_CHUNK, RETRY_STATUSES, FetchConfig, FetchError, Response
from core.politeness import HostThrottle, host_key
from schemas import reasons


def parse_retry_after(value: Optional[str], now: Optional[float] = None) -> Optional[float]:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    when = parse_datetime(value)
    if when is None:
        return None
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
