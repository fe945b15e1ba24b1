"""newsbeam's Beam-free core: fetching, robots, politeness, charset, extraction,
boilerplate and entity tagging as plain functions over the ``schemas.records``
dataclasses. Nothing here imports Apache Beam (``tests/test_core_imports.py``
checks it), so the extraction worker process stays small and every piece can be
used and tested on its own; ``transforms/`` wraps these functions in thin DoFns.
Counters are passed in as one callable, :data:`core.counters.CounterInc`.
"""
