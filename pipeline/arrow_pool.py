"""pyarrow's memory pool in a batch job: jemalloc giving freed pages back at once.

Reading ``_state`` allocates and frees column buffers of a few hundred KiB among small
allocations that stay. pyarrow's default allocator (mimalloc) keeps the freed pages out of
reach of spaCy and Python; the system allocator leaves them in glibc's heap, which they
fragment and grow; jemalloc with no decay returns them to the system at once (a run into a
14,000-page ``_state``: 428 against 486-496 MiB with the system allocator, same CPU;
docs/performance.md, "pyarrow's jemalloc, with no decay").

jemalloc reads its settings (``JE_ARROW_MALLOC_CONF``) once, when pyarrow loads: so the CLI's
entry point calls :func:`before_pyarrow_loads` first, and a batch job sets the variable for
the worker processes it starts (``pipeline.graph.returning_arrow_allocator``). No pyarrow
import here. A user's own value wins; it only concerns pyarrow's jemalloc, which a process
uses when it chooses it.
"""
from __future__ import annotations

import os
from typing import MutableMapping

POOL_VARIABLE = "ARROW_DEFAULT_MEMORY_POOL"
JEMALLOC_VARIABLE = "JE_ARROW_MALLOC_CONF"
RETURNING_JEMALLOC_CONF = "dirty_decay_ms:0,muzzy_decay_ms:0"


def before_pyarrow_loads(environ: MutableMapping[str, str] = os.environ) -> None:
    """Our jemalloc setting, unless the user has one (effective only before pyarrow loads)."""
    environ.setdefault(JEMALLOC_VARIABLE, RETURNING_JEMALLOC_CONF)
