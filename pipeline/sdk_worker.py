"""The SDK worker process of a local ``multi_processing`` run, and the runner that starts it.

Beam's FnApiRunner starts each worker as ``python -m apache_beam.runners.worker.sdk_worker_main``,
whose harness keeps every finished stage's processor (its DoFns, their models and what they
read) for 60 s after its last bundle; it reads that setting when it starts, before any of our
code runs in the worker. A batch chunk runs each stage once, one after another, in about two
minutes: the workers held the stages that read ``_state`` while the NER stage peaked, 130-170 MiB
over a chunk without a state (docs/performance.md, "Worker processes let finished stages go").
:class:`FnApiRunner` starts ``python -m pipeline.sdk_worker`` instead: Beam's worker main, with
the batch job's idle-stage setting (``pipeline.graph.IDLE_STAGE_SECONDS``) applied first.
"""
from __future__ import annotations

import sys
from typing import List, Optional

from apache_beam.portability import python_urns
from apache_beam.runners.portability.fn_api_runner import fn_runner
from apache_beam.runners.worker import sdk_worker_main

BEAM_WORKER_MODULE = "apache_beam.runners.worker.sdk_worker_main"
WORKER_MODULE = "pipeline.sdk_worker"


def worker_command(module: str = WORKER_MODULE) -> str:
    """The worker's command line, as Beam writes its own (this interpreter, ``-m``)."""
    return f"{sys.executable} -m {module}"


class FnApiRunner(fn_runner.FnApiRunner):
    """Beam's FnApiRunner whose ``multi_processing`` workers are :mod:`pipeline.sdk_worker`.

    Every other mode, option and environment is Beam's own: only a subprocess environment
    whose command is exactly Beam's default worker is rewritten (a user's own
    ``--environment_config`` command is left alone)."""

    def run_via_runner_api(self, pipeline_proto, options):
        replace_worker_command(pipeline_proto, worker_command(BEAM_WORKER_MODULE), worker_command())
        return super().run_via_runner_api(pipeline_proto, options)


def replace_worker_command(pipeline_proto, old: str, new: str) -> int:
    """Rewrite the subprocess environments that run ``old``; how many were rewritten."""
    replaced = 0
    for environment in pipeline_proto.components.environments.values():
        if environment.urn == python_urns.SUBPROCESS_SDK and environment.payload == old.encode("utf-8"):
            environment.payload = new.encode("utf-8")
            replaced += 1
    return replaced


def main(argv: Optional[List[str]] = None) -> None:
    from pipeline import graph
    graph.keep_idle_stages(graph.IDLE_STAGE_SECONDS)  # multi_processing runs batch jobs only
    sdk_worker_main.main(sys.argv if argv is None else argv)


if __name__ == "__main__":
    main()
