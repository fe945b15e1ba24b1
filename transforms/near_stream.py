"""Streaming near-duplicates with small state: signatures stored once, buckets hold ids.

The first design (``dedup.band_step``) kept every story's whole signature in each of its
``bands`` buckets: 20.6 KB of state per story alive in the TTL at 100,000 stories
(``python -m benchmarks.dedup --streaming-state``). Here each bucket entry is 12 bytes
(16-bit band-hash fragment, 64-bit id, 16-bit hour) and the signature lives once, in an
id-sharded *store* that verifies:

    article -> probes, one per band      keyed "<band>/<shard>"   -> "ask" per candidate id (no
                                                                     signature) to the candidate's
                                                                     store shard; "expect n" per
                                                                     band, and (band 0) "reg", to
                                                                     its own store shard
            -> store                     keyed "s<shard>"         -> verified answers, per article
            -> decide                    keyed by article id      -> article, or duplicate rows

Three stateful steps: each keyed step is a fused stage the in-process runner runs on every
polling round, and a fourth one (collecting all bands before asking) made the e2e streaming
job fall behind its 1 s polls on a loaded machine.

No timers, no GroupByKey, no multi-input Flatten (cf. ``pipeline/streaming.py``): every step
is a stateful DoFn on one input. State is bounded by event-time TTL applied on every access,
plus a per-bucket cap. An "ask" can reach the store before the candidate's own "reg" (both are
in flight in one round): it waits in the store until the "reg" arrives, unless the candidate is
older than the store's TTL horizon (then it is gone: answered "no match"). Every article,
copies included, is registered, so a later copy finds the story itself; the earliest verified
entry in (event time, representative order) wins, as before. State of both keyed steps is
seeded from ``DIR/_state/signatures`` the first time a key is used (restart).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import struct
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import apache_beam as beam
import numpy as np
from apache_beam import pvalue
from apache_beam.metrics import Metrics

from schemas.records import Article, Duplicate, SignatureEntry
from transforms import minhash
from transforms.minhash import NearDupConfig

HOUR = 3600
_STORE_SHARDS = 32


def id64(article_id: str) -> int:
    """A 64-bit id for state (the article id is a 32-hex string; any string works)."""
    return int.from_bytes(hashlib.blake2b(article_id.encode("utf-8"), digest_size=8).digest(), "big")


def store_key(ident: int, shards: int = _STORE_SHARDS) -> str:
    return f"s{ident % shards:03d}"


def bucket_key(band: int, band_hash: int, shards: int) -> str:
    return f"{band:02d}/{band_hash % shards:04d}"


# --------------------------------------------------------------------------- buckets (pure)

@dataclasses.dataclass
class Buckets:
    """One bucket key's entries, columnar: 12 bytes per entry."""
    tag: np.ndarray = dataclasses.field(default_factory=lambda: np.empty(0, np.uint16))    # band hash >> 16
    ids: np.ndarray = dataclasses.field(default_factory=lambda: np.empty(0, np.uint64))
    hours: np.ndarray = dataclasses.field(default_factory=lambda: np.empty(0, np.uint16))  # event hour mod 2**16
    newest_hour: int = 0

    def nbytes(self) -> int:
        return self.tag.nbytes + self.ids.nbytes + self.hours.nbytes


def _tag(band_hash: int) -> int:
    return (band_hash >> 16) & 0xFFFF


def bucket_step(state: Buckets, band_hash: int, ident: int, event_s: int, ttl_s: int, cap: int
                ) -> Tuple[Buckets, List[Tuple[int, int]]]:
    """A probe at one bucket key: evict what the TTL expired, return the ids in the
    probe's bucket (a 16-bit fragment of the band hash: rare false candidates are
    rejected by verification) with their event hour, register the probe (at most
    ``cap`` per bucket, the latest kept). Pure; returns the new state."""
    hour = event_s // HOUR
    newest = max(state.newest_hour, hour)
    ttl_h = ttl_s // HOUR + 1
    age = (np.uint16(newest & 0xFFFF) - state.hours).astype(np.uint16)  # modular: wraps every 7.5 years
    keep = age <= ttl_h
    tag, ids, hours = state.tag[keep], state.ids[keep], state.hours[keep]
    same = tag == _tag(band_hash)
    candidates = sorted({(int(x), int(newest - ((newest - int(h)) & 0xFFFF)))
                         for x, h in zip(ids[same], hours[same]) if int(x) != ident})
    if newest - hour <= ttl_h and not np.any(ids[same] == ident):
        tag = np.append(tag, np.uint16(_tag(band_hash)))
        ids = np.append(ids, np.uint64(ident))
        hours = np.append(hours, np.uint16(hour & 0xFFFF))
        in_bucket = np.flatnonzero(tag == _tag(band_hash))
        if len(in_bucket) > cap:
            drop = in_bucket[:len(in_bucket) - cap]  # appended in arrival order: oldest first
            mask = np.ones(len(tag), bool)
            mask[drop] = False
            tag, ids, hours = tag[mask], ids[mask], hours[mask]
    return Buckets(tag, ids, hours, newest), candidates


# --------------------------------------------------------------------------- store (pure)

_REC = struct.Struct(">qiiQ")  # event micros, -body length, shingle count, content-hash prefix


@dataclasses.dataclass(frozen=True)
class Record:
    """What verification needs of a story, packed once per story."""
    ident: int
    article_id: str
    event_micros: int
    neg_length: int
    size: int
    content_prefix: int
    signature: bytes

    def order(self) -> tuple:
        return (self.event_micros, self.neg_length, self.article_id)

    def pack(self) -> bytes:
        return (_REC.pack(self.event_micros, self.neg_length, self.size, self.content_prefix)
                + self.article_id.encode("utf-8") + b"\0" + self.signature)

    @staticmethod
    def unpack(ident: int, raw: bytes) -> "Record":
        event, neg_length, size, prefix = _REC.unpack_from(raw)
        rest = raw[_REC.size:]
        cut = rest.index(b"\0")
        return Record(ident, rest[:cut].decode("utf-8"), event, neg_length, size, prefix, rest[cut + 1:])


def content_prefix(content_hash: str) -> int:
    return int.from_bytes(hashlib.blake2b((content_hash or "").encode(), digest_size=8).digest(), "big") >> 1


@dataclasses.dataclass
class Store:
    """One store key: packed records by id, and asks waiting for their candidate."""
    records: Dict[int, bytes] = dataclasses.field(default_factory=dict)
    events: Dict[int, int] = dataclasses.field(default_factory=dict)  # id -> event second
    pending: Dict[int, List["Ask"]] = dataclasses.field(default_factory=dict)
    newest_s: int = 0
    oldest_s: int = 0  # no record is older: eviction scans only when one has expired


@dataclasses.dataclass(frozen=True)
class Ask:
    candidate: int
    candidate_hour: int  # event hour the bucket registered it with
    probe: Record
    band: int = 0  # the band that proposed it (a candidate may be asked once per shared band)


@dataclasses.dataclass(frozen=True)
class Answer:
    """A store's reply to one ask: the candidate's (order, article id, similarity,
    content prefix) when the probe verifies against it and comes after it, else None."""
    candidate: int
    match: Optional[Tuple[tuple, str, float, int]]
    band: int = 0


def _evict(store: Store, event_s: int, ttl_s: int) -> int:
    store.newest_s = max(store.newest_s, event_s)
    horizon = store.newest_s - ttl_s
    if store.events and store.oldest_s < horizon:
        for ident in [i for i, e in store.events.items() if e < horizon]:
            del store.events[ident]
            del store.records[ident]
        store.oldest_s = min(store.events.values(), default=0)
    return horizon


def _answer(record: Record, ask: "Ask", config: NearDupConfig) -> Answer:
    probe = ask.probe
    if record.order() >= probe.order():
        return Answer(record.ident, None, ask.band)
    ok, similarity = minhash.verify_estimated(
        np.frombuffer(probe.signature, dtype=minhash.SIG_DTYPE), probe.size,
        np.frombuffer(record.signature, dtype=minhash.SIG_DTYPE), record.size, config)
    return Answer(record.ident, (record.order(), record.article_id, round(similarity, 4),
                                 record.content_prefix) if ok else None, ask.band)


def store_register(store: Store, record: Record, ttl_s: int, config: NearDupConfig
                   ) -> List[Tuple[str, Answer]]:
    """Keep ``record``; answer the asks that waited for it: [(probe article id, answer)]."""
    horizon = _evict(store, record.event_micros // 1_000_000, ttl_s)
    out = []
    event_s = record.event_micros // 1_000_000
    if event_s >= horizon:
        store.oldest_s = min(store.oldest_s, event_s) if store.events else event_s
        store.records[record.ident] = record.pack()
        store.events[record.ident] = event_s
    for ask in store.pending.pop(record.ident, []):
        out.append((ask.probe.article_id, _answer(record, ask, config)))
    return out


def store_ask(store: Store, ask: Ask, ttl_s: int, config: NearDupConfig) -> List[Tuple[str, Answer]]:
    """Answer now if the candidate is known or expired; else wait for its record."""
    horizon = _evict(store, ask.probe.event_micros // 1_000_000, ttl_s)
    raw = store.records.get(ask.candidate)
    if raw is not None:
        return [(ask.probe.article_id, _answer(Record.unpack(ask.candidate, raw), ask, config))]
    # Unknown and (its hour) older than the horizon: expired here, or dropped on arrival as too
    # late; no record is coming, and waiting would hold the probe's decision forever.
    if ask.candidate_hour * HOUR < horizon:
        return [(ask.probe.article_id, Answer(ask.candidate, None, ask.band))]
    store.pending.setdefault(ask.candidate, []).append(ask)
    return []


def choose(answers: Iterable[Answer]) -> Optional[Tuple[tuple, str, float, int]]:
    """The earliest verified entry, then the most similar, then the smallest id."""
    matches = sorted({a.match for a in answers if a.match is not None}, key=lambda m: (m[0], -m[2], m[1]))
    return matches[0] if matches else None


def state_bytes(buckets: Iterable[Buckets], stores: Iterable[Store]) -> int:
    """Encoded size of the state (the coder Beam uses for it: pickle)."""
    import pickle
    return (sum(len(pickle.dumps(b, protocol=pickle.HIGHEST_PROTOCOL)) for b in buckets)
            + sum(len(pickle.dumps(s, protocol=pickle.HIGHEST_PROTOCOL)) for s in stores))


# --------------------------------------------------------------------------- restore

def restored_records(signatures: Sequence[SignatureEntry], config: NearDupConfig
                     ) -> List[Tuple[List[int], Record]]:
    """Stories earlier runs wrote, with their band hashes (written time = event time)."""
    out = []
    params = config.params_id
    for sig in sorted(signatures, key=lambda e: e.article_id):
        if sig.params != params or len(sig.signature) != 2 * config.num_perm or sig.shingles <= 0:
            continue
        if sig.copy_of:  # a batch run's near copy kept under its story: not a story of its own
            continue
        micros = int(sig.written_at.timestamp() * 1_000_000)
        record = Record(id64(sig.article_id), sig.article_id, micros, 0, sig.shingles, content_prefix(""),
                        bytes(sig.signature))
        hashes = [int(k.split(":", 1)[1], 16) for k in minhash.band_keys(
            np.frombuffer(record.signature, dtype=minhash.SIG_DTYPE), config.bands, config.rows)]
        out.append((hashes, record))
    return out


class _Restorer:
    """Reads ``DIR/_state/signatures`` once per worker, slices it per key."""

    def __init__(self, output: Optional[str], config: NearDupConfig):
        self._output, self._config = output, config
        self._records: Optional[List[Record]] = None
        self._hashes = np.empty((0, config.bands), np.uint64)
        self._ids = np.empty(0, np.uint64)

    def _load(self) -> None:
        if self._records is not None:
            return
        items = []
        if self._output:
            from transforms.dedup import read_signatures
            items = restored_records(read_signatures(self._output), self._config)
            Metrics.counter("dedup", "streaming_restored_stories").inc(len(items))
        self._records = [r for _, r in items]
        if items:
            self._hashes = np.array([h for h, _ in items], dtype=np.uint64)
            self._ids = np.array([r.ident for r in self._records], dtype=np.uint64)

    def for_bucket_key(self, band: int, shard: int, shards: int) -> List[Tuple[int, Record]]:
        self._load()
        rows = np.flatnonzero(self._hashes[:, band] % np.uint64(shards) == np.uint64(shard))
        return [(int(self._hashes[i, band]), self._records[i]) for i in rows]

    def for_store_key(self, key: str) -> List[Record]:
        self._load()
        rows = np.flatnonzero(self._ids % np.uint64(_STORE_SHARDS) == np.uint64(int(key[1:])))
        return [self._records[i] for i in rows]


# --------------------------------------------------------------------------- Beam

@dataclasses.dataclass(frozen=True)
class _Probe:
    band: int
    band_hash: int
    record: Record
    article: Optional[Article]  # carried by band 0 only


class _BucketsFn(beam.DoFn):
    STATE = beam.transforms.userstate.ReadModifyWriteStateSpec("buckets", beam.coders.PickleCoder())

    def __init__(self, config: NearDupConfig, ttl_s: int, cap: int, shards: int, restore_from: Optional[str]):
        self._config, self._ttl, self._cap, self._shards = config, ttl_s, cap, shards
        self._restore_from = restore_from

    def setup(self):
        self._restorer = _Restorer(self._restore_from, self._config)

    def _initial(self, key: str) -> Buckets:
        band, shard = (int(x) for x in key.split("/", 1))
        state = Buckets()
        for band_hash, record in sorted(self._restorer.for_bucket_key(band, shard, self._shards),
                                        key=lambda item: item[1].order()):
            state, _ = bucket_step(state, band_hash, record.ident, record.event_micros // 1_000_000,
                                   self._ttl, self._cap)
        return state

    def process(self, element, state=beam.DoFn.StateParam(STATE)):
        key, probe = element
        current = state.read()
        if current is None:
            current = self._initial(key)
        record = probe.record
        current, candidates = bucket_step(current, probe.band_hash, record.ident,
                                          record.event_micros // 1_000_000, self._ttl, self._cap)
        state.write(current)
        own = store_key(record.ident)
        if probe.band == 0:
            yield own, ("reg", record)
        for candidate, hour in candidates:
            yield store_key(candidate), ("ask", Ask(candidate, hour, record, probe.band))
        yield own, ("expect", probe.band, len(candidates), record.article_id, probe.article)


class _StoreFn(beam.DoFn):
    STATE = beam.transforms.userstate.ReadModifyWriteStateSpec("store", beam.coders.PickleCoder())

    def __init__(self, config: NearDupConfig, ttl_s: int, restore_from: Optional[str]):
        self._config, self._ttl, self._restore_from = config, ttl_s, restore_from

    def setup(self):
        self._restorer = _Restorer(self._restore_from, self._config)

    def _initial(self, key: str) -> Store:
        store = Store()
        for record in self._restorer.for_store_key(key):
            store_register(store, record, self._ttl, self._config)
        return store

    def process(self, element, state=beam.DoFn.StateParam(STATE)):
        key, (kind, *payload) = element
        store = state.read()
        if store is None:
            store = self._initial(key)
        if kind == "reg":
            replies = store_register(store, payload[0], self._ttl, self._config)
        elif kind == "ask":
            replies = store_ask(store, payload[0], self._ttl, self._config)
        else:  # "expect": passes through to the decision, keyed by the article
            band, count, article_id, article = payload
            replies = [(article_id, ("expect", band, count, article))]
        state.write(store)
        for article_id, reply in replies:
            yield article_id, reply


def complete(messages: Sequence[object], bands: int) -> Optional[Tuple[Optional[Article], List[Answer]]]:
    """(article, answers) once every band said how many candidates it asked about and
    all those answers arrived; else None."""
    expects = {m[1]: m for m in messages if isinstance(m, tuple)}
    if len(expects) < bands:
        return None
    answers = {(a.band, a.candidate): a for a in messages if isinstance(a, Answer)}
    per_band: Dict[int, int] = {}
    for band, _candidate in answers:
        per_band[band] = per_band.get(band, 0) + 1
    if any(per_band.get(band, 0) < m[2] for band, m in expects.items()):
        return None
    article = next((m[3] for m in expects.values() if m[3] is not None), None)
    return article, list(answers.values())


class _DecideFn(beam.DoFn):
    MESSAGES = beam.transforms.userstate.BagStateSpec("messages", beam.coders.PickleCoder())

    def __init__(self, bands: int):
        self._bands = bands

    def process(self, element, messages=beam.DoFn.StateParam(MESSAGES)):
        from transforms.dedup import DUPLICATES, duplicates_of
        _id, message = element
        messages.add(message)
        done = complete(list(messages.read()), self._bands)
        if done is None:
            return
        messages.clear()
        article, answers = done
        if article is None:
            return
        match = choose(answers)
        if match is None:
            yield article
            return
        _order, target, similarity, prefix = match
        now = dt.datetime.now(dt.timezone.utc)
        kind = "exact" if prefix == content_prefix(article.content_hash) else "near"
        yield pvalue.TaggedOutput(DUPLICATES, Duplicate(
            url=article.url, article_id=article.article_id, duplicate_of=target, kind=kind,
            similarity=1.0 if kind == "exact" else similarity, detected_at=now))
        for dup in duplicates_of(article, target, now):
            yield pvalue.TaggedOutput(DUPLICATES, dup)


class StreamingNearDedup(beam.PTransform):
    """Unbounded Articles (element timestamp = event time) -> {"articles": first seen copy
    of each story, "duplicates": later copies}. Global window (state must outlive any
    window); re-window the outputs as needed. ``ttl``: how long a story stays matchable
    in event time (default 7 days); ``shards``: bucket keys per band; ``max_per_bucket``:
    entries per bucket; ``restore_from``: an output folder whose ``_state/signatures``
    seed the state (restart)."""

    def __init__(self, config: NearDupConfig = NearDupConfig(), ttl: dt.timedelta = dt.timedelta(days=7),
                 shards: int = 32, max_per_bucket: int = 64, label: Optional[str] = None,
                 restore_from: Optional[str] = None):
        super().__init__(label)
        self._config = config.validate()
        self._ttl = int(ttl.total_seconds())
        self._shards = max(1, shards)
        self._cap = max(1, max_per_bucket)
        self._restore_from = restore_from

    def expand(self, articles):
        from transforms.dedup import DUPLICATES, Sketched, _SketchFn
        from transforms.stream_dedup import _EventOrderInBundleFn
        config, shards = self._config, self._shards

        def _probes(s: Sketched, timestamp=beam.DoFn.TimestampParam):
            micros = int(timestamp.micros)
            record = Record(id64(s.article.article_id), s.article.article_id, micros, -len(s.article.body),
                            s.size, content_prefix(s.article.content_hash), s.signature)
            keys = minhash.band_keys(np.frombuffer(s.signature, dtype=minhash.SIG_DTYPE), config.bands,
                                     config.rows)
            for band, key in enumerate(keys):
                band_hash = int(key.split(":", 1)[1], 16)
                yield bucket_key(band, band_hash, shards), _Probe(band, band_hash, record,
                                                                   s.article if band == 0 else None)

        return (articles
                | "GlobalWindow" >> beam.WindowInto(beam.window.GlobalWindows())
                | "Sketch" >> beam.ParDo(_SketchFn(config)).with_output_types(Sketched)
                | "EventOrderInBundle" >> beam.ParDo(_EventOrderInBundleFn()).with_output_types(Sketched)
                | "Probes" >> beam.FlatMap(_probes).with_output_types(Tuple[str, _Probe])
                | "Buckets" >> beam.ParDo(_BucketsFn(config, self._ttl, self._cap, shards, self._restore_from))
                .with_output_types(Tuple[str, tuple])
                | "Store" >> beam.ParDo(_StoreFn(config, self._ttl, self._restore_from))
                .with_output_types(Tuple[str, object])
                | "Decide" >> beam.ParDo(_DecideFn(config.bands)).with_outputs(DUPLICATES, main="articles"))
