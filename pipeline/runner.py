"""Runner selection.

Beam 2.77's ``DirectRunner`` first tries to download the Prism runner (fails
offline, then falls back with different semantics). Unless the user names a
runner, run batch jobs on the in-process FnApiRunner, which also honours
``--direct_running_mode`` / ``--direct_num_workers``.
"""
from __future__ import annotations

import logging

from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

LOG = logging.getLogger(__name__)
IN_PROCESS = ("DirectRunner", "FnApiRunner", None, "")


def choose_runner(options: PipelineOptions):
    name = options.view_as(StandardOptions).runner
    if name in IN_PROCESS:
        from apache_beam.runners.portability.fn_api_runner import FnApiRunner
        LOG.info("running on the in-process FnApiRunner")
        return FnApiRunner()
    if name == "BundleBasedDirectRunner":
        from apache_beam.runners.direct.direct_runner import BundleBasedDirectRunner
        return BundleBasedDirectRunner()
    return name  # let Beam resolve it (PortableRunner, DataflowRunner, FlinkRunner, ...)


def runner_label(runner) -> str:
    return runner if isinstance(runner, str) else type(runner).__name__
