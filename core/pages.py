"""Fetching article pages: robots, politeness and usage rights around one GET, and
the pages of one host in order on a few lanes.
"""
from __future__ import annotations

import datetime as dt
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, Iterator, List, Optional, Tuple, Union

from core import interrupt
from core import usage as usage_rights
from core.addresses import validate_url
from core.dead_letters import alias_dead_letters
from core.fetch_config import FetchConfig, FetchError, Response
from core.http import check_html, fetch_url, status_error
from core.politeness import HostThrottle, host_key
from core.robots import RobotsCache
from schemas import reasons
from schemas.records import DeadLetter, FetchedPage, PageRequest, Usage

LOG = logging.getLogger(__name__)


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
                       declared_charset=response.charset,
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
