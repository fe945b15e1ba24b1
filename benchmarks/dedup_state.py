"""Streaming near-duplicate state per article kept (``python -m benchmarks.dedup --streaming-state N``).

Builds the state ``transforms.dedup.StreamingNearDedup`` holds after N distinct stories
(no copies: every probe registers) — each band key's ``{band hash: [BandEntry]}`` as
``dedup.band_step`` leaves it — with realistic field sizes (32-hex ids and content hashes,
~80-character URLs, a 126-value signature), encodes every key's value with the coder the
Beam state uses (``PickleCoder``) and reports bytes per article, with the split by field.
Also checks on a small N that ``band_step`` itself builds the same state.
"""
from __future__ import annotations

import hashlib
import pickle
import random
import time
from typing import Dict, List

import numpy as np

from transforms import dedup, minhash
from transforms.minhash import NearDupConfig


def entries(n: int, config: NearDupConfig, seed: int = 1) -> List[dedup.BandEntry]:
    rng = np.random.default_rng(seed)
    start = 1_764_806_400_000_000
    out = []
    for i in range(n):
        url = f"https://www.example-news-site{i % 500}.com/world/2026/12/04/story-{i:07d}-title-words.html"
        article_id = hashlib.sha256(url.encode()).hexdigest()[:32]
        micros = start + i * 6_000_000  # one article every 6 s: 100,000 in ~7 days
        signature = rng.integers(0, 2 ** 16, size=config.num_perm, dtype=np.uint16).tobytes()
        body_length = int(rng.integers(1500, 6000))
        out.append(dedup.BandEntry(article_id, (micros, -body_length, url, article_id),
                                   signature, int(rng.integers(200, 900)), micros,
                                   hashlib.sha256(article_id.encode()).hexdigest()[:32]))
    return out


def build_state(items: List[dedup.BandEntry], config: NearDupConfig, shards: int
                ) -> Dict[str, Dict[str, List[dedup.BandEntry]]]:
    state: Dict[str, Dict[str, List[dedup.BandEntry]]] = {}
    for entry in items:
        keys = minhash.band_keys(np.frombuffer(entry.signature, dtype=minhash.SIG_DTYPE), config.bands,
                                 config.rows)
        for band, key in enumerate(keys):
            band_hash = key.split(":", 1)[1]
            state.setdefault(dedup.band_state_key(band, band_hash, shards), {}).setdefault(
                band_hash, []).append(entry)
    return state


def encoded_bytes(state: Dict[str, Dict[str, List[dedup.BandEntry]]]) -> int:
    import apache_beam as beam
    coder = beam.coders.PickleCoder()
    return sum(len(coder.encode(value)) for value in state.values())


def measure(n: int, shards: int = 32, check: int = 300) -> Dict[str, object]:
    config = NearDupConfig()
    small = entries(check, config)
    via_step: Dict[str, tuple] = {}
    for entry in small:
        keys = minhash.band_keys(np.frombuffer(entry.signature, dtype=minhash.SIG_DTYPE), config.bands,
                                 config.rows)
        for band, key in enumerate(keys):
            band_hash = key.split(":", 1)[1]
            name = dedup.band_state_key(band, band_hash, shards)
            buckets, newest = via_step.get(name, ({}, 0))
            buckets, newest, _ = dedup.band_step(buckets, newest, band_hash, entry, config,
                                                 7 * 86_400 * 1_000_000, 64)
            via_step[name] = (buckets, newest)
    assert {k: v[0] for k, v in via_step.items()} == build_state(small, config, shards)
    start = time.perf_counter()
    items = entries(n, config)
    state = build_state(items, config, shards)
    total = encoded_bytes(state)
    one = items[0]
    return {"articles": n, "keys": len(state), "shards_per_band": shards,
            "state_bytes": total, "bytes_per_article": round(total / n, 1),
            "one_entry_pickled_bytes": len(pickle.dumps(one, protocol=pickle.HIGHEST_PROTOCOL)),
            "signature_bytes": len(one.signature), "entries_per_article": config.bands,
            "seconds": round(time.perf_counter() - start, 1)}
