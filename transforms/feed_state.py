"""Conditional-GET state of feeds: what we last saw of each feed.

An unchanged feed should cost the server a 304 and us nothing: we remember the
``ETag`` / ``Last-Modified`` validators and send ``If-None-Match`` /
``If-Modified-Since``. Many servers send unchanged (or no) validators for
changed feeds, or ignore conditional requests altogether, so a 200 is judged
by a hash of the body too: same body, no new entries.

Pure part (shared with a streaming poller, which keeps :class:`FeedState` in
Beam state instead of files): :func:`conditional_headers`, :func:`assess`,
:func:`to_json` / :func:`from_json`.

Batch storage: one small JSON file per feed, ``DIR/_state/feeds/<hash of URL>.json``,
read and written through ``FileSystems`` (local, gs://, s3://), atomically
(hidden temp name, then rename). :class:`CommitFeedStates` writes them only
after the run's outputs are written, and marks a feed ``complete = False`` when
some of its entries failed transiently, so that the next run reads it in full
and those entries get another try: a 304 must never hide an entry we lost.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Union

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

LOG = logging.getLogger(__name__)

STATE_VERSION = 1
STATE_DIR = ("_state", "feeds")

NEW = "new"                    # never seen (or last read incomplete): parse it
CHANGED = "changed"            # a body we have not seen: parse it
NOT_MODIFIED = "not_modified"  # HTTP 304: no new entries
SAME_BODY = "same_body"        # HTTP 200 with the body we saw last time: no new entries


@dataclasses.dataclass(frozen=True)
class FeedState:
    url: str
    etag: Optional[str] = None
    last_modified: Optional[str] = None  # echoed verbatim, as RFC 9110 recommends
    body_sha256: Optional[str] = None
    checked_at: Optional[dt.datetime] = None
    changed_at: Optional[dt.datetime] = None
    complete: bool = True  # False: some entries failed transiently; read in full next time


@dataclasses.dataclass(frozen=True)
class FeedCheck:
    changed: bool  # True: parse the body and emit its entries
    outcome: str   # NEW | CHANGED | NOT_MODIFIED | SAME_BODY
    state: FeedState  # what to remember once the run's output is written


def body_hash(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def conditional_headers(state: Optional[FeedState]) -> Dict[str, str]:
    """Request headers for a conditional GET (none for an unknown or incomplete feed)."""
    if state is None or not state.complete:
        return {}
    headers: Dict[str, str] = {}
    if state.etag:
        headers["If-None-Match"] = state.etag
    if state.last_modified:
        headers["If-Modified-Since"] = state.last_modified
    return headers


def _header(headers: Mapping[str, str], name: str) -> Optional[str]:
    for key, value in headers.items():
        if key.lower() == name:
            value = (value or "").strip()
            return value or None
    return None


def assess(previous: Optional[FeedState], url: str, status: int, headers: Mapping[str, str],
           content: bytes, now: dt.datetime) -> FeedCheck:
    """Decide whether a feed response holds anything new, and the state to keep.

    304 -> not modified (validators refreshed if the server sent new ones);
    200 with the previous body hash -> same body, whatever the validators say;
    otherwise changed. A previous state marked incomplete never short-cuts.
    """
    trusted = previous if previous is not None and previous.complete else None
    if status == 304:
        base = previous or FeedState(url=url)
        state = dataclasses.replace(
            base, etag=_header(headers, "etag") or base.etag,
            last_modified=_header(headers, "last-modified") or base.last_modified,
            checked_at=now)  # an unsolicited 304 leaves an incomplete feed incomplete
        return FeedCheck(changed=False, outcome=NOT_MODIFIED, state=state)
    digest = body_hash(content)
    if trusted is not None and trusted.body_sha256 == digest:
        state = dataclasses.replace(
            trusted, etag=_header(headers, "etag"), last_modified=_header(headers, "last-modified"),
            checked_at=now)
        return FeedCheck(changed=False, outcome=SAME_BODY, state=state)
    state = FeedState(url=url, etag=_header(headers, "etag"),
                      last_modified=_header(headers, "last-modified"), body_sha256=digest,
                      checked_at=now, changed_at=now, complete=True)
    return FeedCheck(changed=True, outcome=NEW if trusted is None else CHANGED, state=state)


def merge_states(states: Iterable[FeedState]) -> FeedState:
    """One state per feed URL (a feed listed twice): the latest check wins,
    ties broken by the body hash so the choice is deterministic; incomplete
    if any read was."""
    ordered = sorted(states, key=lambda s: (s.checked_at or dt.datetime.min.replace(tzinfo=dt.timezone.utc),
                                            s.body_sha256 or ""))
    last = ordered[-1]
    return dataclasses.replace(last, complete=all(s.complete for s in ordered))


# --------------------------------------------------------------------------- (de)serialisation

def _iso(value: Optional[dt.datetime]) -> Optional[str]:
    return value.astimezone(dt.timezone.utc).isoformat() if value else None


def _parse_iso(value) -> Optional[dt.datetime]:
    if not value or not isinstance(value, str):
        return None
    parsed = dt.datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def to_json(state: FeedState) -> str:
    return json.dumps({"version": STATE_VERSION, "url": state.url, "etag": state.etag,
                       "last_modified": state.last_modified, "body_sha256": state.body_sha256,
                       "checked_at": _iso(state.checked_at), "changed_at": _iso(state.changed_at),
                       "complete": state.complete}, sort_keys=True, indent=1)


def from_json(text: str) -> FeedState:
    data = json.loads(text)
    if not isinstance(data, dict) or data.get("version") != STATE_VERSION or not data.get("url"):
        raise ValueError("not a newsbeam feed state (version %r)" % (data.get("version")
                                                                      if isinstance(data, dict) else None))
    return FeedState(url=data["url"], etag=data.get("etag"), last_modified=data.get("last_modified"),
                     body_sha256=data.get("body_sha256"), checked_at=_parse_iso(data.get("checked_at")),
                     changed_at=_parse_iso(data.get("changed_at")),
                     complete=bool(data.get("complete", True)))


# --------------------------------------------------------------------------- storage

def state_dir(output: str) -> str:
    return FileSystems.join(output, *STATE_DIR)


def state_path(output: str, url: str) -> str:
    return FileSystems.join(state_dir(output), hashlib.sha256(url.encode("utf-8")).hexdigest()[:32] + ".json")


def load_state(output: str, url: str) -> Optional[FeedState]:
    """The stored state of ``url``, or None (missing, unreadable, another feed's)."""
    path = state_path(output, url)
    try:
        if not FileSystems.exists(path):
            return None
        with FileSystems.open(path, compression_type="uncompressed") as handle:
            state = from_json(handle.read().decode("utf-8"))
    except Exception as exc:  # a damaged state file only costs a full read
        LOG.warning("ignoring feed state %s: %s", path, exc)
        return None
    return state if state.url == url else None


def save_state(output: str, state: FeedState) -> str:
    """Write atomically (hidden temp file beside the target, then rename)."""
    from transforms import sink
    path = state_path(output, state.url)
    sink.publish_bytes(path, to_json(state).encode("utf-8"))
    return path


# --------------------------------------------------------------------------- Beam

def _commit(state: FeedState, output: str, incomplete: List[str], after: List) -> str:
    del after  # only sequences this step after the run's outputs
    if state.url in set(incomplete):
        state = dataclasses.replace(state, complete=False)
    return save_state(output, state)


class CommitFeedStates(beam.PTransform):
    """FeedState -> written state paths, once ``after`` (e.g. the run report,
    computed from every written file) exists. Feeds named in ``incomplete``
    are stored as incomplete so the next run re-reads them in full."""

    def __init__(self, output: str, incomplete: Optional[beam.PCollection] = None,
                 after: Union[None, beam.PCollection, Sequence[beam.PCollection]] = None,
                 label: Optional[str] = None):
        super().__init__(label)
        self._output = output
        self._incomplete = incomplete
        self._after = after

    def expand(self, states):
        pipeline = states.pipeline
        incomplete = self._incomplete if self._incomplete is not None else \
            pipeline | "NoIncompleteFeeds" >> beam.Create([])
        after = self._after if self._after is not None else []
        if isinstance(after, beam.PCollection):
            after = [after]
        # Reduced to one count, so the side input is tiny whatever ``after`` holds.
        done = ([pipeline | "Now" >> beam.Create([None])] + list(after)
                | "AfterOutputs" >> beam.Flatten()
                | "CountOutputs" >> beam.combiners.Count.Globally())
        return (states
                | "KeyByFeed" >> beam.Map(lambda s: (s.url, s))
                | "GroupByFeed" >> beam.GroupByKey()
                | "OnePerFeed" >> beam.MapTuple(lambda _url, group: merge_states(group))
                | "WriteFeedState" >> beam.Map(_commit, self._output,
                                               incomplete=beam.pvalue.AsList(incomplete),
                                               after=beam.pvalue.AsList(done)))
