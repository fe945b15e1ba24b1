"""Dead letters: the one output tag, the one constructor, the one counter name.

Every failed input becomes a :class:`~schemas.records.DeadLetter` (url, stage,
reason from ``schemas/reasons.py``) and a counter ``dead_letters/<stage>.<reason>``;
the Beam side emits them through ``transforms.emit.dead_letter_outputs``.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Iterable, Iterator, Optional

from schemas.records import DeadLetter, Usage

DEAD_LETTER = "dead_letter"  # the tagged output of every transform that can fail an input
COUNTER_NAMESPACE = "dead_letters"
MAX_DETAIL = 500


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def dead_letter(url: str, stage: str, reason: str, detail: str, *, at: Optional[dt.datetime] = None,
                usage: Optional[Usage] = None) -> DeadLetter:
    """A dead letter with its detail capped (hostile inputs make long messages)."""
    return DeadLetter(url=url, stage=stage, reason=reason, detail=detail[:MAX_DETAIL],
                      at=at or now(), usage=usage)


def counter_name(letter: DeadLetter) -> str:
    """Name of the letter's counter in namespace :data:`COUNTER_NAMESPACE`."""
    return f"{letter.stage}.{letter.reason}"


def alias_dead_letters(letter: DeadLetter, aliases: Iterable[str]) -> Iterator[DeadLetter]:
    """The same failure for every URL variant that was folded into one request."""
    for alias in aliases:
        yield dataclasses.replace(letter, url=alias,
                                  detail=f"variant of {letter.url}: {letter.detail}"[:MAX_DETAIL])
