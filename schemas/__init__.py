"""Record types, Arrow schemas, the topic taxonomy and dead-letter codes.

Imports nothing else of newsbeam, so every other package may depend on it.
"""
from schemas.arrow import (ARTICLE_SCHEMA, DEAD_LETTER_SCHEMA, DUPLICATE_SCHEMA,
                           INDEX_SCHEMA, SCHEMA_VERSION, TABLE_SCHEMAS)
from schemas.records import (Article, DeadLetter, Duplicate, Entity, FeedRequest, IndexEntry, Member, Usage,
                             FetchedPage, PageRequest)
from schemas.taxonomy import DEFAULT_TOPIC, TOPICS, to_slug

__all__ = [
    "ARTICLE_SCHEMA", "DEAD_LETTER_SCHEMA", "DUPLICATE_SCHEMA", "INDEX_SCHEMA",
    "SCHEMA_VERSION", "TABLE_SCHEMAS", "Article", "DeadLetter", "Duplicate", "Entity",
    "FeedRequest", "FetchedPage", "IndexEntry", "Member", "PageRequest", "Usage", "DEFAULT_TOPIC", "TOPICS", "to_slug",
]
