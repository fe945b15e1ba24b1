"""Arrow schemas of everything newsbeam writes, derived from the records in one place.

Bump ``SCHEMA_VERSION`` on any change to these schemas; readers of older files
rely on it (columns are only ever added, never renamed or retyped; a column may
move into the partition path, where every reader still sees it).

Partition columns (``topic``, ``date``) live only in the folder names
(``topic=<slug>/date=<YYYY-MM-DD>``), the Hive convention: a column stored both
in the files and in the path makes ``pandas.read_parquet(DIR)`` and
``pyarrow.parquet.read_table(DIR)`` fail to merge ``string`` with the
partition's ``dictionary`` type.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any, Dict, Iterable, List, Optional

import pyarrow as pa

from schemas.records import Article, DeadLetter, Duplicate, IndexEntry, SignatureEntry, Usage

SCHEMA_VERSION = 3  # 2: articles gained truncated_suspected, paywall_suspected; 3: topic only in the path, usage (articles, dead letters), topic_confidence, is_opinion, entities_model

TIMESTAMP = pa.timestamp("us", tz="UTC")

ENTITY_TYPE = pa.struct([
    pa.field("text", pa.string(), nullable=False),
    pa.field("label", pa.string(), nullable=False),
    pa.field("count", pa.int32(), nullable=False),
])

# Usage rights (transforms/usage.py); a null field is "not known", never "allowed".
USAGE_TYPE = pa.struct([
    pa.field("robots_allowed", pa.bool_()),
    pa.field("ai_agents_disallowed", pa.list_(pa.string())),
    pa.field("tdm_reservation", pa.bool_()),
    pa.field("tdm_policy", pa.string()),
    pa.field("tdm_source", pa.string()),
    pa.field("robots_directives", pa.list_(pa.string())),
    pa.field("license", pa.string()),
    pa.field("copyright_holder", pa.string()),
    pa.field("copyright_year", pa.int32()),
    pa.field("accessible_for_free", pa.bool_()),
])

ARTICLE_SCHEMA = pa.schema([
    pa.field("article_id", pa.string(), nullable=False),
    pa.field("url", pa.string(), nullable=False),
    pa.field("canonical_url", pa.string(), nullable=False),
    pa.field("source_domain", pa.string(), nullable=False),
    pa.field("feed_url", pa.string()),
    pa.field("title", pa.string()),
    pa.field("authors", pa.list_(pa.string())),
    pa.field("published_at", TIMESTAMP),
    pa.field("modified_at", TIMESTAMP),
    pa.field("date_source", pa.string()),
    pa.field("fetched_at", TIMESTAMP, nullable=False),
    pa.field("language", pa.string()),
    pa.field("topic_source", pa.string()),
    pa.field("section", pa.string()),
    pa.field("body", pa.string(), nullable=False),
    pa.field("word_count", pa.int32(), nullable=False),
    pa.field("content_hash", pa.string(), nullable=False),
    pa.field("entities", pa.list_(ENTITY_TYPE)),
    pa.field("cluster_size", pa.int32(), nullable=False),
    pa.field("cluster_sources", pa.list_(pa.string())),
    pa.field("boilerplate_removed_chars", pa.int32(), nullable=False),
    pa.field("truncated_suspected", pa.bool_(), nullable=False),
    pa.field("paywall_suspected", pa.bool_(), nullable=False),
    pa.field("entities_model", pa.string()),  # null: the article's language has no model, no entities
    pa.field("topic_confidence", pa.float32()),
    pa.field("is_opinion", pa.bool_()),  # null in files written before schema 3 (not recorded)
    pa.field("usage", USAGE_TYPE),
    pa.field("schema_version", pa.int32(), nullable=False),
], metadata={"newsbeam.schema_version": str(SCHEMA_VERSION), "newsbeam.table": "articles"})

DUPLICATE_SCHEMA = pa.schema([
    pa.field("url", pa.string(), nullable=False),
    pa.field("article_id", pa.string(), nullable=False),
    pa.field("duplicate_of", pa.string(), nullable=False),
    pa.field("kind", pa.string(), nullable=False),
    pa.field("similarity", pa.float32(), nullable=False),
    pa.field("detected_at", TIMESTAMP, nullable=False),
    pa.field("schema_version", pa.int32(), nullable=False),
], metadata={"newsbeam.schema_version": str(SCHEMA_VERSION), "newsbeam.table": "duplicates"})

DEAD_LETTER_SCHEMA = pa.schema([
    pa.field("url", pa.string(), nullable=False),
    pa.field("stage", pa.string(), nullable=False),
    pa.field("reason", pa.string(), nullable=False),
    pa.field("detail", pa.string()),
    pa.field("at", TIMESTAMP, nullable=False),
    pa.field("usage", USAGE_TYPE),
    pa.field("schema_version", pa.int32(), nullable=False),
], metadata={"newsbeam.schema_version": str(SCHEMA_VERSION), "newsbeam.table": "dead_letters"})

# Compact per-article signature kept under DIR/_state/ so later runs can skip
# what earlier runs wrote (by URL and by content).
INDEX_SCHEMA = pa.schema([
    pa.field("url", pa.string(), nullable=False),
    pa.field("article_id", pa.string(), nullable=False),
    pa.field("content_hash", pa.string()),
    pa.field("kind", pa.string(), nullable=False),  # article | url | exact | near
    pa.field("written_at", TIMESTAMP, nullable=False),
], metadata={"newsbeam.schema_version": str(SCHEMA_VERSION), "newsbeam.table": "index"})

# Near-duplicate signatures of written articles (DIR/_state/signatures): a
# state table, like the index, so its changes do not bump SCHEMA_VERSION.
SIGNATURE_SCHEMA = pa.schema([
    pa.field("article_id", pa.string(), nullable=False),
    pa.field("signature", pa.binary(), nullable=False),  # uint16 little-endian values
    pa.field("shingles", pa.int32(), nullable=False),
    pa.field("params", pa.string(), nullable=False),
    pa.field("written_at", TIMESTAMP, nullable=False),
    # Added 2026-12-05 (absent from older files: readers fall back to bands and estimates).
    pa.field("anchors", pa.binary()),  # winnowed 5-gram anchors, uint64 little-endian
    pa.field("evidence", pa.binary()),  # the body, zlib: exact verification by a later run
    pa.field("copy_of", pa.string()),  # a near copy's row: the story it was folded into
], metadata={"newsbeam.table": "signatures"})

# Columns that only the partition path carries (moved out of the files in v3).
PARTITION_COLUMNS = {"articles": ("topic", "date"), "duplicates": ("date",), "dead_letters": ("date",)}
MOVED_TO_PATH = {"articles": frozenset({"topic"})}

TABLE_SCHEMAS = {
    "articles": ARTICLE_SCHEMA,
    "duplicates": DUPLICATE_SCHEMA,
    "dead_letters": DEAD_LETTER_SCHEMA,
    "index": INDEX_SCHEMA,
    "signatures": SIGNATURE_SCHEMA,
}

_DETAIL_MAX = 2000


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc)


def usage_to_row(usage: Optional[Usage]) -> Optional[Dict[str, Any]]:
    if usage is None:
        return None
    row = dataclasses.asdict(usage)
    for key in ("ai_agents_disallowed", "robots_directives"):
        row[key] = list(row[key]) if row[key] is not None else None
    return row


def article_to_row(article: Article) -> Dict[str, Any]:
    return {
        "article_id": article.article_id,
        "url": article.url,
        "canonical_url": article.canonical_url,
        "source_domain": article.source_domain,
        "feed_url": article.feed_url,
        "title": article.title,
        "authors": list(article.authors),
        "published_at": _utc(article.published_at),
        "modified_at": _utc(article.modified_at),
        "date_source": article.date_source,
        "fetched_at": _utc(article.fetched_at),
        "language": article.language,
        "topic_source": article.topic_source,
        "section": article.section,
        "body": article.body,
        "word_count": int(article.word_count),
        "content_hash": article.content_hash,
        "entities": [dataclasses.asdict(e) for e in article.entities],
        "cluster_size": int(article.cluster_size),
        "cluster_sources": list(article.cluster_sources),
        "boilerplate_removed_chars": int(article.boilerplate_removed_chars),
        "truncated_suspected": bool(article.truncated_suspected),
        "paywall_suspected": bool(article.paywall_suspected),
        "entities_model": article.entities_model,
        "topic_confidence": article.topic_confidence,
        "is_opinion": bool(article.is_opinion),
        "usage": usage_to_row(article.usage),
        "schema_version": SCHEMA_VERSION,
    }


def duplicate_to_row(dup: Duplicate) -> Dict[str, Any]:
    return {
        "url": dup.url, "article_id": dup.article_id, "duplicate_of": dup.duplicate_of,
        "kind": dup.kind, "similarity": float(dup.similarity),
        "detected_at": _utc(dup.detected_at), "schema_version": SCHEMA_VERSION,
    }


def dead_letter_to_row(dl: DeadLetter) -> Dict[str, Any]:
    return {
        "url": dl.url, "stage": dl.stage, "reason": dl.reason,
        "detail": (dl.detail or "")[:_DETAIL_MAX], "at": _utc(dl.at),
        "usage": usage_to_row(dl.usage), "schema_version": SCHEMA_VERSION,
    }


def index_to_row(entry: "IndexEntry") -> Dict[str, Any]:
    return {"url": entry.url, "article_id": entry.article_id, "content_hash": entry.content_hash,
            "kind": entry.kind, "written_at": _utc(entry.written_at)}


def signature_to_row(entry: "SignatureEntry") -> Dict[str, Any]:
    return {"article_id": entry.article_id, "signature": bytes(entry.signature),
            "shingles": int(entry.shingles), "params": entry.params,
            "written_at": _utc(entry.written_at), "anchors": bytes(entry.anchors or b""),
            "evidence": None if entry.evidence is None else bytes(entry.evidence),
            "copy_of": entry.copy_of}


def _valid_utf8(value: Any) -> Any:
    """Lone surrogates (JSON ``"\\ud800"`` escapes in feeds and JSON-LD) cannot be
    UTF-8: replace them rather than fail the write."""
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, dict):
        return {k: _valid_utf8(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_valid_utf8(v) for v in value]
    return value


def to_table(rows: Iterable[Dict[str, Any]], schema: pa.Schema) -> pa.Table:
    """Build a table that is guaranteed to match ``schema`` (raises otherwise)."""
    rows = list(rows)
    try:
        return pa.Table.from_pylist(rows, schema=schema)
    except UnicodeEncodeError:  # rare: clean every string, only then
        return pa.Table.from_pylist([_valid_utf8(r) for r in rows], schema=schema)


def rows_for(table: str, records: Iterable[Any]) -> List[Dict[str, Any]]:
    convert = {"articles": article_to_row, "duplicates": duplicate_to_row,
               "dead_letters": dead_letter_to_row, "index": index_to_row, "signatures": signature_to_row}[table]
    return [convert(r) for r in records]
