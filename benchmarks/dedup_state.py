"""Streaming near-duplicate state per article kept (``python -m benchmarks.dedup --streaming-state N``).

N distinct stories (no copies: every story stays in state) go through the pure steps of
``transforms.near_stream`` (``bucket_step`` at each of the 42 band keys, ``store_register``
at the story's store key) with realistic field sizes (32-hex article ids and content hashes,
a 126-value signature, one story every 6 s so 100,000 fit in the 7-day TTL); every key's
state is encoded with pickle, as Beam's ``PickleCoder`` encodes it, and the total is divided
by the stories kept.

The first design (commit 59f4fed: each bucket entry carried the story's signature, URL and
hashes, in all 42 buckets) measured 20,571 bytes per story at 100,000 stories the same way.
"""
from __future__ import annotations

import hashlib
import time
from typing import Dict, Iterator

import numpy as np

from transforms import minhash
from transforms import near_stream as ns
from transforms.minhash import NearDupConfig

START_MICROS = 1_764_806_400_000_000


def records(n: int, config: NearDupConfig, seed: int = 1) -> Iterator[ns.Record]:
    rng = np.random.default_rng(seed)
    for i in range(n):
        url = f"https://www.example-news-site{i % 500}.com/world/2026/12/04/story-{i:07d}-title-words.html"
        article_id = hashlib.sha256(url.encode()).hexdigest()[:32]
        yield ns.Record(ns.id64(article_id), article_id, START_MICROS + i * 6_000_000,
                        -int(rng.integers(1500, 6000)), int(rng.integers(200, 900)),
                        ns.content_prefix(hashlib.sha256(url.encode()).hexdigest()),
                        rng.integers(0, 2 ** 16, size=config.num_perm, dtype=np.uint16).tobytes())


def measure_compact(n: int, shards: int = 32) -> Dict[str, object]:
    """State bytes per story kept after N stories (see the module docstring)."""
    config = NearDupConfig()
    ttl = 7 * 86_400
    start = time.perf_counter()
    buckets: Dict[str, ns.Buckets] = {}
    stores: Dict[str, ns.Store] = {}
    for record in records(n, config):
        keys = minhash.band_keys(np.frombuffer(record.signature, dtype=minhash.SIG_DTYPE), config.bands,
                                 config.rows)
        for band, key in enumerate(keys):
            band_hash = int(key.split(":", 1)[1], 16)
            name = ns.bucket_key(band, band_hash, shards)
            buckets[name], _ = ns.bucket_step(buckets.get(name) or ns.Buckets(), band_hash, record.ident,
                                              record.event_micros // 1_000_000, ttl, 64)
        ns.store_register(stores.setdefault(ns.store_key(record.ident), ns.Store()), record, ttl, config)
    total = ns.state_bytes(buckets.values(), stores.values())
    kept = sum(len(s.records) for s in stores.values())
    return {"design": "near_stream (ids in buckets, signature once)", "articles": n, "kept": kept,
            "bucket_keys": len(buckets), "store_keys": len(stores), "state_bytes": total,
            "bytes_per_article": round(total / max(1, kept), 1),
            "bucket_bytes_per_article": round(ns.state_bytes(buckets.values(), []) / max(1, kept), 1),
            "store_bytes_per_article": round(ns.state_bytes([], stores.values()) / max(1, kept), 1),
            "seconds": round(time.perf_counter() - start, 1)}
