"""pyarrow's memory pool in newsbeam's processes: jemalloc giving freed pages back at once.

Reading ``_state`` allocates and frees column buffers of a few hundred KiB among small
allocations that stay. pyarrow's default allocator (mimalloc) keeps the freed pages out of
reach of spaCy and Python; the system allocator leaves them in glibc's heap, which they
fragment and grow; jemalloc with no decay returns them to the system at once (a run into a
14,000-page ``_state``: 428 against 486-496 MiB with the system allocator, same CPU;
docs/performance.md, "pyarrow's jemalloc, with no decay").

pyarrow reads both variables once, when it loads (``ARROW_DEFAULT_MEMORY_POOL`` is also the pool
of its C++ code, the parquet reader's among it; ``pyarrow.set_memory_pool`` only sets the Python
calls' pool: a run into a 14,000-page state peaked at 487 MiB with that alone). So
``python -m pipeline`` sets them before anything loads pyarrow (:func:`before_pyarrow_loads`),
and every process it starts inherits them (the chunks' processes, Beam's worker processes),
batch and streaming alike. A batch job built in another program (a library use, the tests)
switches the Python calls' pool and sets the variables for the processes it starts
(:func:`for_child_processes`, ``pipeline.graph.returning_arrow_allocator``). A user's own
values win.
"""
from __future__ import annotations

import importlib.util
import os
import re
from typing import MutableMapping

POOL_VARIABLE = "ARROW_DEFAULT_MEMORY_POOL"
JEMALLOC_VARIABLE = "JE_ARROW_MALLOC_CONF"
RETURNING_JEMALLOC_CONF = "dirty_decay_ms:0,muzzy_decay_ms:0"


def built_with_jemalloc() -> bool:
    """Whether the installed pyarrow has jemalloc, from the C++ build configuration it ships
    (pyarrow not loaded; False when it is not found: the variable then stays unset)."""
    spec = importlib.util.find_spec("pyarrow")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        try:
            with open(os.path.join(folder, "include", "arrow", "util", "config.h")) as handle:
                return re.search(r"^#define ARROW_JEMALLOC\b", handle.read(), re.M) is not None
        except OSError:
            continue
    return False


def before_pyarrow_loads(environ: MutableMapping[str, str] = os.environ) -> None:
    """jemalloc with no decay for this process and the ones it starts, unless the user chose
    a pool (only effective before pyarrow loads)."""
    if not environ.get(POOL_VARIABLE) and built_with_jemalloc():
        environ[POOL_VARIABLE] = "jemalloc"
    environ.setdefault(JEMALLOC_VARIABLE, RETURNING_JEMALLOC_CONF)


def returning_pool():
    """pyarrow's jemalloc where this pyarrow has it, else the system allocator (Windows, some
    conda builds)."""
    import pyarrow as pa
    try:
        return pa.jemalloc_memory_pool()
    except NotImplementedError:
        return pa.system_memory_pool()


def for_child_processes(environ: MutableMapping[str, str] = os.environ) -> bool:
    """Processes started from now on allocate all pyarrow memory from the returning pool;
    False (nothing set) when the user chose a pool."""
    if environ.get(POOL_VARIABLE):
        return False
    environ[POOL_VARIABLE] = returning_pool().backend_name
    environ.setdefault(JEMALLOC_VARIABLE, RETURNING_JEMALLOC_CONF)
    return True
