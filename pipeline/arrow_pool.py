"""pyarrow's memory pool in a batch job: jemalloc giving freed pages back at once.

Reading ``_state`` allocates and frees column buffers of a few hundred KiB among small
allocations that stay. pyarrow's default allocator (mimalloc) keeps the freed pages out of
reach of spaCy and Python; the system allocator leaves them in glibc's heap, which they
fragment and grow; jemalloc with no decay returns them to the system at once (a run into a
14,000-page ``_state``: 428 against 486-496 MiB with the system allocator, same CPU;
docs/performance.md, "pyarrow's jemalloc, with no decay").

pyarrow reads both variables once, when it loads (``ARROW_DEFAULT_MEMORY_POOL`` is the pool of
its C++ code, the parquet reader's and writer's among it; ``pyarrow.set_memory_pool`` only sets
the Python calls' pool). So the processes a batch job starts get them from their start
(:func:`for_child_processes`: each chunk's process, Beam's worker processes); the CLI sets our
jemalloc setting before it loads pyarrow (:func:`before_pyarrow_loads`), and a batch job run
in the CLI's own process uses jemalloc for its Python calls (``pipeline.graph``). A user's own
values win.
"""
from __future__ import annotations

import os
from typing import MutableMapping

POOL_VARIABLE = "ARROW_DEFAULT_MEMORY_POOL"
JEMALLOC_VARIABLE = "JE_ARROW_MALLOC_CONF"
RETURNING_JEMALLOC_CONF = "dirty_decay_ms:0,muzzy_decay_ms:0"


def before_pyarrow_loads(environ: MutableMapping[str, str] = os.environ) -> None:
    """Our jemalloc setting, unless the user has one (effective only before pyarrow loads;
    it concerns pyarrow's jemalloc alone, which a process uses only once it chooses it)."""
    environ.setdefault(JEMALLOC_VARIABLE, RETURNING_JEMALLOC_CONF)


def returning_pool_name() -> str:
    """``jemalloc`` where this pyarrow has it, else ``system`` (Windows, some conda builds)."""
    import pyarrow as pa
    try:
        pa.jemalloc_memory_pool()
    except NotImplementedError:
        return "system"
    return "jemalloc"


def for_child_processes(environ: MutableMapping[str, str] = os.environ) -> bool:
    """Processes started from now on allocate all pyarrow memory from the returning pool;
    False (nothing set) when the user chose a pool."""
    if environ.get(POOL_VARIABLE):
        return False
    environ[POOL_VARIABLE] = returning_pool_name()
    before_pyarrow_loads(environ)
    return True
