"""Near-duplicate detection core: word shingles, MinHash, LSH bands, verification.

Pure numpy, no Beam, deterministic across processes (no use of Python's salted
``hash``): the same text gives the same shingles, signature and band keys on
every worker and in every run, which is what lets batch, streaming and earlier
runs' signatures (``DIR/_state/signatures``) be compared with each other.

- ``shingles(text, k)``: sorted unique 64-bit hashes of word k-grams of the
  text (lower-cased ``\\w+`` words: case/punctuation-insensitive like
  ``content_hash``).
- ``MinHasher.signature``: ``num_perm`` minimum hashes under
  ``(a*x + b) mod 2**64``, kept as 16-bit fingerprints (b-bit MinHash, Li &
  König 2010): 2 bytes per permutation, so 128 permutations cost 256 bytes and a
  million signatures fit in 256 MiB. Two 16-bit values collide by chance with
  probability 2**-16, which ``estimate_jaccard`` corrects for.
- ``band_keys``: the signature cut into ``bands`` bands of ``rows`` values,
  each hashed to a 64-bit key tagged with its band index; two documents are
  candidates when they share a key. P(candidate) = 1 - (1 - J**rows)**bands.
- ``anchors``: winnowed word 5-gram hashes (the smallest hash of every window
  of ``anchor_window`` 5-grams). A passage of at least ``anchor_window + 4``
  words shared by two texts gives them a common anchor, whatever else the
  texts hold: the candidate keys that find an excerpt or a much longer version
  of a story, pairs Jaccard banding never proposes (measured on real
  syndication, ``python -m benchmarks.dedup --real``).
- ``verify``: candidates are confirmed on the actual shingle sets (Jaccard on
  word 2-grams, or containment of the smaller in the larger on word 5-grams,
  so that an excerpt or a cut-short copy still matches its full original while
  scattered shared quotes of two different write-ups do not); earlier runs'
  stories are verified the same way from their kept bodies (``pack_evidence``);
  only estimates from signatures are available for streaming state and for
  signatures written before bodies were kept.
"""
from __future__ import annotations

import dataclasses
import re
import zlib
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

_WORD = re.compile(r"\w+", re.UNICODE)
_M64 = np.uint64(0xFFFFFFFFFFFFFFFF)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_C1 = np.uint64(0xBF58476D1CE4E5B9)
_C2 = np.uint64(0x94D049BB133111EB)
SIG_DTYPE = np.uint16
SIG_BITS = 16


@dataclasses.dataclass(frozen=True)
class NearDupConfig:
    """Near-duplicate parameters. Defaults chosen with ``python -m benchmarks.dedup``
    (see its docstring for the figures): word 2-grams, 42 bands x 3 rows (126
    16-bit values, 252 bytes); a pair is a near-duplicate when Jaccard >=
    ``jaccard`` or containment of the shorter text in the longer >=
    ``containment``. 4 rows missed a third of cut-short copies (LSH recall at
    Jaccard 0.4 is 0.56 with 32x4, 0.94 with 42x3).

    Containment is measured on word ``containment_shingle``-grams (5): an
    excerpt shares long runs of its story, two write-ups of one event only
    scattered quotes (on the real dev set, 2-gram containment >= 0.6 joined 122
    pairs of different stories, 5-gram containment >= 0.5 joined 3). When only
    signatures are known (earlier runs, streaming) containment is estimated from
    the 2-gram Jaccard estimate and compared with ``estimated_containment``.
    ``merge_share``: two clusters of one component merge when that share of the
    smaller one's members (and half that share of the larger one's) verify
    against a member of the other: syndicated copies that each verify against
    some copies but not against the representative (page residue, excerpts)."""
    shingle: int = 2
    bands: int = 42
    rows: int = 3
    jaccard: float = 0.45
    containment: float = 0.5
    seed: int = 1
    # Band buckets larger than this are not expanded pair by pair (only a star
    # around their smallest id is kept): protects against quadratic blow-up.
    max_bucket: int = 500
    containment_shingle: int = 5
    estimated_containment: float = 0.6
    anchor_window: int = 40  # 0: no anchor candidates
    # An anchor shared by more documents than this is template or boilerplate
    # ("All rights reserved ..."), not a story: it links nothing.
    max_anchor_bucket: int = 100
    merge_share: float = 0.3  # 0: no cluster merging (star clusters only)
    # A new document is compared with at most this many earlier runs' stories: those
    # its signature estimates closest. Real copies have a few; text that shares
    # buckets with much of an output's history would otherwise cost memory and time
    # in proportion to that history. 0: no limit.
    max_previous_candidates: int = 32
    # ... and only with those its signature estimates contain at least this share of
    # the shorter text's 2-grams (a copy contains ~0.45 or more; unrelated news ~0.02).
    # A story sharing an anchor or a band by chance is not read, nor compared. 0: all.
    min_previous_containment: float = 0.15

    @property
    def num_perm(self) -> int:
        return self.bands * self.rows

    @property
    def params_id(self) -> str:
        """Signatures are only comparable when these match (stored with them)."""
        return f"w{self.shingle}-p{self.num_perm}-s{self.seed}-b{SIG_BITS}"

    def validate(self) -> "NearDupConfig":
        if not (1 <= self.shingle <= 8):
            raise ValueError("shingle size must be 1..8 words")
        if self.bands < 1 or self.rows < 1 or self.num_perm > 1024:
            raise ValueError("bands and rows must be >= 1, bands*rows <= 1024")
        if not (0.0 < self.jaccard <= 1.0) or not (0.0 < self.containment <= 1.0):
            raise ValueError("thresholds must be in (0, 1]")
        if not (1 <= self.containment_shingle <= 16) or self.anchor_window < 0:
            raise ValueError("containment shingle must be 1..16 words, anchor window >= 0")
        return self


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser, vectorised (uint64 wrap-around is intended)."""
    with np.errstate(over="ignore"):
        x = x ^ (x >> np.uint64(30))
        x = x * _C1
        x = x ^ (x >> np.uint64(27))
        x = x * _C2
        return x ^ (x >> np.uint64(31))


def words(text: str) -> List[str]:
    return _WORD.findall((text or "").lower())


def gram_hashes(text: str, k: int = 2) -> np.ndarray:
    """uint64 hashes of the word k-grams in text order (a text shorter than k
    words gives one of all its words; an empty text gives none)."""
    tokens = words(text)
    if not tokens:
        return np.empty(0, dtype=np.uint64)
    hashes = np.fromiter((zlib.crc32(t.encode("utf-8")) for t in tokens), dtype=np.uint64,
                         count=len(tokens))
    n = max(1, len(tokens) - k + 1)
    with np.errstate(over="ignore"):
        out = _mix(hashes[:n] + _GOLDEN)
        for j in range(1, min(k, len(tokens))):
            out = _mix(out * _GOLDEN + hashes[j:j + n])
    return out


def shingles(text: str, k: int = 2) -> np.ndarray:
    """Sorted unique uint64 hashes of the word k-grams."""
    return np.unique(gram_hashes(text, k))


def anchor_values(text: str, config: "NearDupConfig") -> np.ndarray:
    """Winnowing (Schleimer et al. 2003) over word ``containment_shingle``-grams:
    the sorted unique minimum hashes of every window of ``anchor_window`` grams.
    Two texts sharing a run of ``anchor_window + containment_shingle - 1`` words
    share one. Empty when disabled."""
    w = config.anchor_window
    grams = gram_hashes(text, config.containment_shingle)
    if w <= 0 or len(grams) == 0:
        return np.empty(0, dtype=np.uint64)
    if len(grams) <= w:
        return grams.min(keepdims=True)
    return np.unique(np.lib.stride_tricks.sliding_window_view(grams, w).min(axis=1))


def anchor_keys(values: np.ndarray) -> List[str]:
    """Anchor values as candidate keys ``"a:<16 hex digits>"`` (sorted)."""
    return sorted(f"a:{int(v):016x}" for v in values)


def anchors(text: str, config: "NearDupConfig") -> List[str]:
    """The text's anchors as candidate keys (see ``anchor_values``)."""
    return anchor_keys(anchor_values(text, config))


def pack_anchors(values: np.ndarray) -> bytes:
    """Anchor values as little-endian uint64 bytes (8 per anchor), for ``_state/signatures``."""
    return np.ascontiguousarray(values, dtype="<u8").tobytes()


def unpack_anchors(raw: Optional[bytes]) -> List[str]:
    """Keys of packed anchors (none for a signature written before anchors were kept)."""
    if not raw:
        return []
    return anchor_keys(np.frombuffer(raw, dtype="<u8"))


def pack_evidence(text: str) -> bytes:
    """The exact evidence of a written story, compressed (zlib: deterministic, stdlib):
    a later run verifies against it as one job verifies two of its own articles."""
    return zlib.compress(text.encode("utf-8", "surrogatepass"), 6)


def unpack_evidence(raw: Optional[bytes]) -> Optional[str]:
    if not raw:
        return None
    return zlib.decompress(raw).decode("utf-8", "surrogatepass")


class MinHasher:
    """Computes signatures with a fixed, seeded set of hash functions."""

    def __init__(self, num_perm: int, seed: int = 1):
        rng = np.random.default_rng(seed)
        self.num_perm = num_perm
        self._a = (rng.integers(0, 2 ** 63, size=num_perm, dtype=np.uint64) << np.uint64(1)) | np.uint64(1)
        self._b = rng.integers(0, 2 ** 63, size=num_perm, dtype=np.uint64)
        self._buffer = np.empty((0, num_perm), dtype=np.uint64)

    def signature(self, shingle_hashes: np.ndarray) -> np.ndarray:
        """16-bit MinHash signature (``num_perm`` values). An empty set gives all
        0xFFFF, which matches nothing else by construction of ``verify``."""
        n = len(shingle_hashes)
        if n == 0:
            return np.full(self.num_perm, 0xFFFF, dtype=SIG_DTYPE)
        if self._buffer.shape[0] < n:  # reused: allocation dominated the cost
            self._buffer = np.empty((max(n, 2 * self._buffer.shape[0]), self.num_perm),
                                    dtype=np.uint64)
        buf = self._buffer[:n]
        with np.errstate(over="ignore"):
            np.multiply(shingle_hashes[:, None], self._a[None, :], out=buf)
            np.add(buf, self._b[None, :], out=buf)
        mins = buf.min(axis=0)
        # Bits 16..31 of the minimum: a fingerprint of which shingle is the
        # minimum (its top bits are biased towards 0, being a minimum).
        return ((mins >> np.uint64(16)) & np.uint64(0xFFFF)).astype(SIG_DTYPE)


def band_keys(signature: np.ndarray, bands: int, rows: int) -> List[str]:
    """One key per band: ``"<band>:<16 hex digits>"`` (strings: a deterministic
    Beam key coder and a readable state key)."""
    sig = np.ascontiguousarray(signature[:bands * rows], dtype=SIG_DTYPE).reshape(bands, rows)
    packed = np.zeros(bands, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for r in range(rows):
            packed = _mix(packed * _GOLDEN + sig[:, r].astype(np.uint64))
    return [f"{i:02d}:{int(v):016x}" for i, v in enumerate(packed)]


def band_keys_matrix(signatures: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """uint64 band hashes for many signatures at once (n x bands), for the
    benchmark and in-memory indexes; equal to the hex part of ``band_keys``."""
    sig = signatures[:, :bands * rows].reshape(len(signatures), bands, rows).astype(np.uint64)
    packed = np.zeros((len(signatures), bands), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for r in range(rows):
            packed = _mix(packed * _GOLDEN + sig[:, :, r])
    return packed


# --------------------------------------------------------------------------- similarity

def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) == 0 or len(b) == 0:
        return 0.0
    inter = len(np.intersect1d(a, b, assume_unique=True))
    return inter / (len(a) + len(b) - inter)


def containment(a: np.ndarray, b: np.ndarray) -> float:
    """Share of the smaller set found in the larger one."""
    if len(a) == 0 or len(b) == 0:
        return 0.0
    inter = len(np.intersect1d(a, b, assume_unique=True))
    return inter / min(len(a), len(b))


def estimate_jaccard(sig_a: np.ndarray, sig_b: np.ndarray) -> float:
    """Jaccard from two b-bit signatures, corrected for chance collisions."""
    agree = float(np.count_nonzero(sig_a == sig_b)) / len(sig_a)
    chance = 2.0 ** -SIG_BITS
    return max(0.0, (agree - chance) / (1.0 - chance))


def containment_from_jaccard(j: float, size_a: int, size_b: int) -> float:
    """|A n B| / min(|A|, |B|) from Jaccard and the set sizes."""
    if size_a <= 0 or size_b <= 0:
        return 0.0
    inter = j * (size_a + size_b) / (1.0 + j)
    return min(1.0, inter / min(size_a, size_b))


def is_match(j: float, c: float, config: NearDupConfig) -> bool:
    return j >= config.jaccard or c >= config.containment


def verify(a: np.ndarray, b: np.ndarray, config: NearDupConfig,
           spans_a: Optional[np.ndarray] = None, spans_b: Optional[np.ndarray] = None
           ) -> Tuple[bool, float]:
    """Exact check on shingle sets: (match?, similarity). Jaccard on the word
    ``shingle``-grams ``a``/``b``; containment on the ``containment_shingle``-gram
    sets ``spans_a``/``spans_b`` (on ``a``/``b`` when not given). ``similarity``
    is the measure that decides: containment when it is the one above its
    threshold, else Jaccard."""
    if len(a) == 0 or len(b) == 0:
        return False, 0.0
    inter = len(np.intersect1d(a, b, assume_unique=True))
    j = inter / (len(a) + len(b) - inter)
    if j >= config.jaccard:
        return True, j
    if spans_a is not None and spans_b is not None:
        a, b = spans_a, spans_b
        if len(a) == 0 or len(b) == 0:
            return False, j
        inter = len(np.intersect1d(a, b, assume_unique=True))
    c = inter / min(len(a), len(b))
    if c >= config.containment:
        return True, c
    return False, j


def verify_estimated(sig_a: np.ndarray, size_a: int, sig_b: np.ndarray, size_b: int,
                     config: NearDupConfig) -> Tuple[bool, float]:
    """The same decision from signatures and set sizes (earlier runs, streaming)."""
    if size_a <= 0 or size_b <= 0:
        return False, 0.0
    j = estimate_jaccard(sig_a, sig_b)
    c = containment_from_jaccard(j, size_a, size_b)
    if j >= config.jaccard:
        return True, j
    if c >= config.estimated_containment:
        return True, c
    return False, j


# --------------------------------------------------------------------------- clustering

@dataclasses.dataclass
class Doc:
    """What clustering needs of a document. ``order`` is the total order of the
    representative choice (smallest first); ``shingles`` is None for documents
    known only by signature (written by an earlier run)."""
    doc_id: str
    order: tuple
    signature: np.ndarray
    size: int
    shingles: Optional[np.ndarray] = None
    previous: bool = False  # already written: always a representative, never moved
    spans: Optional[np.ndarray] = None  # containment_shingle-gram set, when known
    anchors: Tuple[str, ...] = ()
    # previous only: the story a kept near copy was folded into (None: the story itself)
    copy_of: Optional[str] = None


def _similar(a: Doc, b: Doc, config: NearDupConfig) -> Tuple[bool, float]:
    if a.shingles is not None and b.shingles is not None:
        return verify(a.shingles, b.shingles, config, a.spans, b.spans)
    return verify_estimated(a.signature, a.size, b.signature, b.size, config)


def candidate_pairs(docs: Sequence[Doc], config: NearDupConfig, limit_previous: bool = False
                    ) -> List[Tuple[int, int]]:
    """Index pairs sharing at least one band (at most ``max_bucket`` x bucket per
    key) or one anchor (anchors shared by more than ``max_anchor_bucket``
    documents are ignored). No pair of two earlier runs' documents: ``cluster``
    never compares them, and in a run that links many earlier stories they would
    be most of the pairs (quadratic in the stories linked). ``limit_previous``: each
    new document keeps only its closest earlier stories (``closest_previous``)."""
    buckets: Dict[str, List[int]] = {}
    anchor_buckets: Dict[str, List[int]] = {}
    # new documents first: an earlier story only joins the buckets a new document opened
    for i in sorted(range(len(docs)), key=lambda i: docs[i].previous):
        doc = docs[i]
        for index, keys in ((buckets, band_keys(doc.signature, config.bands, config.rows)),
                            (anchor_buckets, doc.anchors)):
            for key in keys:
                if not doc.previous:
                    index.setdefault(key, []).append(i)
                elif key in index:
                    index[key].append(i)
    buckets.update((k, v) for k, v in anchor_buckets.items() if len(set(v)) <= config.max_anchor_bucket)
    pairs = set()
    previous_of: Dict[int, set] = {}  # new document -> earlier stories sharing a bucket with it

    def pair(a: int, b: int) -> None:
        if not docs[a].previous and not docs[b].previous:
            pairs.add((a, b))
        elif docs[a].previous != docs[b].previous:  # two earlier stories are never compared (``cluster``)
            new, old = (b, a) if docs[a].previous else (a, b)
            previous_of.setdefault(new, set()).add(old)

    for members in buckets.values():
        if len(members) < 2:
            continue
        members = sorted(set(members))
        if len(members) > config.max_bucket:
            for m in members[1:]:
                pair(members[0], m)
            continue
        for x in range(len(members)):
            for y in range(x + 1, len(members)):
                pair(members[x], members[y])
    for new, olds in previous_of.items():
        pairs.update((min(new, old), max(new, old))
                     for old in closest_previous(docs, new, olds, config if limit_previous else None))
    return sorted(pairs)


def closeness(sig_a: np.ndarray, size_a: int, sig_b: np.ndarray, size_b: int) -> Tuple[float, float]:
    """(estimated containment, estimated Jaccard) of two documents from their signatures."""
    j = estimate_jaccard(sig_a, sig_b)
    return containment_from_jaccard(j, size_a, size_b), j


def is_previous_candidate(sig_new: np.ndarray, size_new: int, sig_old: np.ndarray, size_old: int,
                          config: NearDupConfig) -> bool:
    """Whether an earlier story sharing a bucket with a new document is worth comparing."""
    return closeness(sig_new, size_new, sig_old, size_old)[0] >= config.min_previous_containment


def closest_previous(docs: Sequence[Doc], new: int, olds: Iterable[int], config: Optional[NearDupConfig]
                     ) -> List[int]:
    """The earlier stories of ``olds`` new document ``new`` is compared with (``config``
    None: all): those estimated to contain ``min_previous_containment`` of it, at most the
    ``max_previous_candidates`` closest (estimated containment, then Jaccard, then id: a
    total order, so the cut does not depend on input order)."""
    olds = sorted(olds)
    if config is None:
        return olds
    a = docs[new]
    close = {old: closeness(a.signature, a.size, docs[old].signature, docs[old].size) for old in olds}
    olds = [old for old in olds if close[old][0] >= config.min_previous_containment]
    limit = config.max_previous_candidates
    if limit <= 0 or len(olds) <= limit:
        return olds
    return sorted(sorted(olds, key=lambda old: (-close[old][0], -close[old][1], docs[old].doc_id))[:limit])


def cluster(docs: Sequence[Doc], pairs: Iterable[Tuple[int, int]], config: NearDupConfig,
            compare: Optional[Callable[[int, int], Tuple[bool, float]]] = None
            ) -> List[Tuple[int, Optional[int], float]]:
    """Greedy star clustering in representative order, then merging of stars.

    Star: each document, smallest ``order`` first (earlier runs' documents
    before all), joins the most similar existing *representative* it is verified
    against — directly, never through another member — or becomes a
    representative itself. Candidate representatives are the candidate
    neighbours and their representatives.

    Merge (``merge_share`` > 0): on real syndication many copies verify against
    other copies but not against the representative (each outlet's residue, an
    excerpt of a long version). Two stars of new documents merge when at least
    ``merge_share`` of the smaller one's members, and half that share of the
    larger one's, verify against some member of the other: a group-level
    agreement that one chain of pairwise matches (two write-ups sharing a few
    quotes) does not give. Stars of earlier runs' stories never merge.

    ``compare(x, y)`` (x < y): the verification of a pair, when the documents do not
    carry their shingle sets themselves (``PreviousEvidence``).

    Returns ``(index, representative index or None, similarity)`` per document,
    independent of the input order."""
    neighbours = {i: set() for i in range(len(docs))}
    for a, b in pairs:
        neighbours[a].add(b)
        neighbours[b].add(a)
    rank = {i: (not docs[i].previous, docs[i].order, docs[i].doc_id) for i in range(len(docs))}
    cache: Dict[Tuple[int, int], Tuple[bool, float]] = {}

    def similar(x: int, y: int) -> Tuple[bool, float]:
        key = (min(x, y), max(x, y))
        if key not in cache:
            cache[key] = compare(*key) if compare is not None else _similar(docs[key[0]], docs[key[1]], config)
        return cache[key]

    rep_of: Dict[int, int] = {}
    result: Dict[int, Tuple[int, Optional[int], float]] = {}
    for i in sorted(range(len(docs)), key=rank.__getitem__):
        if docs[i].previous:
            rep_of[i] = i
            result[i] = (i, None, 1.0)
            continue
        best = None
        for r in sorted({rep_of[n] for n in neighbours[i] if n in rep_of}, key=rank.__getitem__):
            ok, sim = similar(i, r)
            if ok and (docs[r].copy_of is None or _joins_kept_copy(docs, i, r, sim, neighbours[i], similar)) \
                    and (best is None or sim > best[1] + 1e-12):
                best = (r, sim)
        rep_of[i] = i if best is None else best[0]
        result[i] = (i, None, 1.0) if best is None else (i, best[0], best[1])
    if config.merge_share > 0:
        _merge_stars(docs, neighbours, rep_of, result, rank, similar, config.merge_share)
    return [result[i] for i in range(len(docs))]


def _joins_kept_copy(docs: Sequence[Doc], i: int, r: int, sim: float, neighbours: set, similar) -> bool:
    """Whether new document ``i``, verified against ``r`` (an earlier run's near copy kept
    under its story), joins that story as it would in one job: as an exact copy of the
    copy (one job folds exact copies first), or, like the star merge, verified against
    at least two of the story's kept documents (the story and its copies)."""
    if sim >= 1.0:
        return True
    story = docs[r].copy_of
    support = sum(1 for n in neighbours if docs[n].previous and (docs[n].copy_of or docs[n].doc_id) == story
                  and similar(i, n)[0])
    return support >= 2


def _merge_stars(docs: Sequence[Doc], neighbours: Dict[int, set], rep_of: Dict[int, int],
                 result: Dict[int, Tuple[int, Optional[int], float]], rank: Dict[int, tuple],
                 similar, share: float) -> None:
    """The merge step of ``cluster`` (updates ``result`` in place)."""
    stars: Dict[int, List[int]] = {}
    for i, r in rep_of.items():
        if not docs[r].previous:
            stars.setdefault(r, []).append(i)
    # member -> the other stars it verifies against (candidate pairs only)
    reaches: Dict[int, set] = {i: set() for members in stars.values() for i in members}
    for i in reaches:
        for n in neighbours[i]:
            other = rep_of.get(n)
            if other is not None and other != rep_of[i] and other in stars and similar(i, n)[0]:
                reaches[i].add(other)
    parent = {r: r for r in stars}

    def find(x: int) -> int:
        while parent[x] != x:
            x = parent[x]
        return x

    linked = sorted({tuple(sorted((rep_of[i], o), key=rank.__getitem__))
                     for i, others in reaches.items() for o in others}, key=lambda p: (rank[p[0]], rank[p[1]]))
    for a, b in linked:
        small, large = sorted((a, b), key=lambda r: (len(stars[r]), rank[r]))
        share_small = sum(1 for i in stars[small] if large in reaches[i]) / len(stars[small])
        support = sum(1 for i in stars[large] if small in reaches[i])
        if share_small >= share and support >= 2 and support / len(stars[large]) >= share / 2:
            ra, rb = sorted((find(a), find(b)), key=rank.__getitem__)
            if ra != rb:
                parent[rb] = ra
    for r, members in stars.items():
        root = find(r)
        if root == r:
            continue
        group = [i for s, ms in stars.items() if find(s) == root for i in ms]
        for i in members:
            sims = [similar(i, j)[1] for j in group if j != i and j in neighbours[i] | {root}
                    and similar(i, j)[0]]
            result[i] = (i, root, max(sims) if sims else result[i][2])


class PreviousEvidence:
    """``cluster``'s ``compare`` for earlier runs' stories whose bodies were kept, verified
    exactly as one job verifies its own articles, but story by story: ``evidence(ids)``
    yields ``(doc_id, packed body)`` for those that have one (read from the output as it
    streams, or carried by the entries); each body's shingle sets are built once,
    compared with every new document paired with it, and kept only when one of them
    verifies (the story may then become a new document's representative). A run that
    links many earlier stories holds their comparisons, neither their bodies nor their
    shingles. A story without a body is verified by estimates, as ``cluster`` would."""

    def __init__(self, docs: Sequence[Doc], evidence: Callable[[List[str]], Iterable[Tuple[str, bytes]]],
                 pairs: Iterable[Tuple[int, int]], config: NearDupConfig):
        self._docs, self._config = docs, config
        self._sets: Dict[int, Tuple[np.ndarray, np.ndarray]] = {}
        self._known: Dict[Tuple[int, int], Tuple[bool, float]] = {}
        partners: Dict[int, List[int]] = {}
        for a, b in pairs:
            for old, new in ((a, b), (b, a)):
                if docs[old].previous and not docs[new].previous:
                    partners.setdefault(old, []).append(new)
        index = {docs[old].doc_id: old for old in partners}
        for doc_id, packed in evidence(sorted(index)):
            old = index.pop(doc_id, None)  # a row repeated in another file: once
            body = unpack_evidence(packed)
            if old is None or body is None:
                continue
            sets = shingles(body, config.shingle), shingles(body, config.containment_shingle)
            verified = False
            for new in partners[old]:
                result = verify(docs[new].shingles, sets[0], config, docs[new].spans, sets[1])
                self._known[(min(old, new), max(old, new))] = result
                verified = verified or result[0]
            if verified:
                self._sets[old] = sets

    @property
    def held(self) -> List[int]:
        """Earlier stories whose shingle sets are held (those a new document verified against)."""
        return sorted(self._sets)

    def _doc(self, i: int) -> Doc:
        if i not in self._sets:
            return self._docs[i]
        return dataclasses.replace(self._docs[i], shingles=self._sets[i][0], spans=self._sets[i][1])

    def __call__(self, x: int, y: int) -> Tuple[bool, float]:
        known = self._known.pop((x, y), None)  # ``cluster`` keeps what it asked
        if known is not None:
            return known
        # A held story, or one without a body (estimates). ``cluster`` asks for no other
        # earlier story than those paired with a new document (answered above) and the
        # representatives of new documents (held).
        return _similar(self._doc(x), self._doc(y), self._config)
