"""Record types, Arrow schemas, the topic taxonomy and dead-letter codes.

Imports nothing else of newsbeam, so every other package may depend on it. The
Arrow schemas (``schemas.arrow``) load pyarrow, which costs ~55 MiB: they are
imported only when one of their names is first used (PEP 562), so code that only
needs the record dataclasses (the core, the extraction worker) never loads pyarrow.
"""
from schemas.records import (Article, DeadLetter, Duplicate, Entity, FeedRequest, IndexEntry, Member, Usage,
                             FetchedPage, PageRequest)
from schemas.taxonomy import DEFAULT_TOPIC, TOPICS, to_slug

_ARROW_NAMES = frozenset({"ARTICLE_SCHEMA", "DEAD_LETTER_SCHEMA", "DUPLICATE_SCHEMA", "INDEX_SCHEMA",
                          "SCHEMA_VERSION", "TABLE_SCHEMAS"})

__all__ = [
    "ARTICLE_SCHEMA", "DEAD_LETTER_SCHEMA", "DUPLICATE_SCHEMA", "INDEX_SCHEMA",
    "SCHEMA_VERSION", "TABLE_SCHEMAS", "Article", "DeadLetter", "Duplicate", "Entity",
    "FeedRequest", "FetchedPage", "IndexEntry", "Member", "PageRequest", "Usage", "DEFAULT_TOPIC", "TOPICS", "to_slug",
]


def __getattr__(name: str):
    if name in _ARROW_NAMES:
        from schemas import arrow
        return getattr(arrow, name)
    raise AttributeError(f"module 'schemas' has no attribute {name!r}")
