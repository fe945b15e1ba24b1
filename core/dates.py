"""The one date parser: feeds, WARC headers and page metadata all go through it."""
from __future__ import annotations

import datetime as dt
import email.utils
import re
from typing import Any, Optional

MIN_YEAR = 1990
FUTURE_TOLERANCE = dt.timedelta(days=1)
_MAX_CHARS = 64  # longer strings are not dates (hostile metadata)
_LEADING_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")


def _parse(value: str) -> Optional[dt.datetime]:
    iso = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
    try:
        return dt.datetime.fromisoformat(iso.replace(" UTC", "+00:00"))
    except ValueError:
        pass
    try:
        return email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        pass
    match = _LEADING_DAY.match(value)
    if match:
        try:
            return dt.datetime(*map(int, match.groups()))
        except ValueError:
            return None
    return None


def parse_datetime(value: Any) -> Optional[dt.datetime]:
    """An ISO 8601 or RFC 2822 date(-time), or a leading ``YYYY-MM-DD``, as an aware
    UTC datetime (naive values are taken as UTC); None for anything else."""
    if not value or not isinstance(value, str):
        return None
    value = value.strip()
    if not value or len(value) > _MAX_CHARS:
        return None
    parsed = _parse(value)
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return parsed.astimezone(dt.timezone.utc)


def plausible(when: Optional[dt.datetime], fetched_at: dt.datetime) -> Optional[dt.datetime]:
    """Reject dates before 1990 or in the future relative to the fetch."""
    if when is None:
        return None
    if when.year < MIN_YEAR or when > fetched_at + FUTURE_TOLERANCE:
        return None
    return when
