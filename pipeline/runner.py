"""Runner selection.

Beam 2.77's ``DirectRunner`` first tries to download the Prism runner (fails
offline, then falls back with different semantics). Unless the user names a
runner, run batch jobs on the in-process FnApiRunner, which also honours
``--direct_running_mode`` / ``--direct_num_workers``.
"""
from __future__ import annotations

import logging
from typing import Optional

from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

LOG = logging.getLogger(__name__)
IN_PROCESS = ("directrunner", "direct", "fnapirunner", "")  # compared in lower case, like Beam does


def check_runner(name: Optional[str]) -> Optional[str]:
    """A one-line problem with ``--runner``, or None when Beam knows the name."""
    from apache_beam.runners.runner import _RUNNER_MAP
    if not name or "." in name:  # a dotted path is a runner class Beam imports itself
        return None
    lowered = name.lower()
    if lowered in IN_PROCESS or lowered in _RUNNER_MAP or lowered + "runner" in _RUNNER_MAP:
        return None
    known = sorted({path.rsplit(".", 1)[1] for path in _RUNNER_MAP.values()})
    return f"unknown runner {name!r} (known: {', '.join(known)})"


def choose_runner(options: PipelineOptions):
    name = options.view_as(StandardOptions).runner
    lowered = (name or "").lower()
    if lowered in IN_PROCESS:  # "directrunner" too: the progress line needs the in-process runner
        from apache_beam.runners.portability.fn_api_runner import FnApiRunner
        LOG.info("running on the in-process FnApiRunner")
        return FnApiRunner()
    if lowered == "bundlebaseddirectrunner":
        from apache_beam.runners.direct.direct_runner import BundleBasedDirectRunner
        return BundleBasedDirectRunner()
    return name  # let Beam resolve it (PortableRunner, DataflowRunner, FlinkRunner, ...)


def runner_label(runner) -> str:
    return runner if isinstance(runner, str) else type(runner).__name__
