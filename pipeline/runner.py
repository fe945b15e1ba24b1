"""Runner selection.

Beam 2.77's ``DirectRunner`` first tries to download the Prism runner (fails
offline, then falls back with different semantics). Unless the user names a
runner, run batch jobs on the FnApiRunner, which also honours
``--direct_running_mode`` / ``--direct_num_workers``.

With no runner flags a batch run uses the machine's cores: one SDK worker
process per core (``multi_processing``), as many as the input pays for
(:func:`auto_workers`: starting a worker costs a few seconds of imports and
model loading) and the memory allows; in-process for small inputs.
``--workers N`` or Beam's own flags override the choice.
"""
from __future__ import annotations

import dataclasses
import logging
import os
from typing import Optional, Sequence

from apache_beam.options.pipeline_options import DirectOptions, PipelineOptions, StandardOptions

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
        from pipeline.sdk_worker import FnApiRunner  # Beam's, with workers that let finished stages go
        LOG.debug("running on the FnApiRunner")
        return FnApiRunner()
    if lowered == "bundlebaseddirectrunner":
        from apache_beam.runners.direct.direct_runner import BundleBasedDirectRunner
        return BundleBasedDirectRunner()
    return name  # let Beam resolve it (PortableRunner, DataflowRunner, FlinkRunner, ...)


def is_fn_api_runner(runner) -> bool:
    """Beam's FnApiRunner or ours (pipeline.sdk_worker), not a runner named by a string."""
    from apache_beam.runners.portability.fn_api_runner import FnApiRunner
    return isinstance(runner, FnApiRunner)


def runner_label(runner) -> str:
    return runner if isinstance(runner, str) else type(runner).__name__


# A worker process pays ~3 s (Beam, spaCy model, extraction sandbox) and ~650 MiB of RSS;
# at ~60 CPU-ms per page, 150 pages per worker keeps that start-up under a third of its work.
PAGES_PER_WORKER = 150
WORKER_MIB = 700        # one SDK worker + its extraction sandbox, measured peak (docs/performance.md)
RUNNER_MIB = 500        # the runner process itself
PAGES_PER_FEED = 30     # entries of a typical feed: only known once it is read
WARC_BYTES_PER_PAGE = 20_000  # a gzipped HTML response record, before an archive is sampled (core.warc)
REMOTE_WARC_PAGES = 1000      # a remote archive's size is not looked up: assume a big one


@dataclasses.dataclass(frozen=True)
class WorkerPlan:
    """How a local batch run executes: ``workers`` SDK processes (1 = in-process) and why."""
    workers: int
    reason: str

    @property
    def multi_process(self) -> bool:
        return self.workers > 1

    def label(self) -> str:
        if not self.multi_process:
            return f"FnApiRunner (in-process, 1 worker: {self.reason})"
        return f"FnApiRunner (multi_processing, {self.workers} workers: {self.reason})"


def usable_cores() -> int:
    """Cores this process may use: CPU affinity, capped by a cgroup CPU quota (containers)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    try:
        with open("/sys/fs/cgroup/cpu.max") as handle:
            quota, period = handle.read().split()[:2]
        if quota != "max":
            cores = min(cores, max(1, int(int(quota) // int(period))))
    except (OSError, ValueError):
        pass
    return max(1, cores)


def available_mib() -> Optional[int]:
    """MemAvailable in MiB (None where /proc/meminfo does not exist)."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def estimate_pages(pages: int = 0, feeds: int = 0, html_files: int = 0,
                   warc_paths: Sequence[str] = ()) -> int:
    """Pages a run will process, as far as it is known before it starts. ``warc_paths``:
    ``--warc`` patterns, expanded and weighed as the chunk plan does
    (``transforms.warc.match_warc_files``, ``estimated_pages``: local archives sampled);
    a file whose size is unknown weighs ``REMOTE_WARC_PAGES``."""
    from transforms import warc
    archived = 0
    for pattern in warc_paths or ():
        for path, size in warc.match_warc_files(pattern):
            found = warc.estimated_pages(path, size, sample="://" not in path)
            archived += REMOTE_WARC_PAGES if found is None else found
    return pages + feeds * PAGES_PER_FEED + html_files + archived


def auto_workers(pages: int, cores: int, memory_mib: Optional[int]) -> WorkerPlan:
    """One worker per core, no more than the input pays for (``PAGES_PER_WORKER`` each)
    or the free memory holds; 1 (in-process) for small inputs."""
    by_work = max(1, pages // PAGES_PER_WORKER)
    by_memory = cores if memory_mib is None else max(1, (memory_mib - RUNNER_MIB) // WORKER_MIB)
    workers = max(1, min(cores, by_work, by_memory))
    if cores == 1:
        reason = "1 core"
    elif workers == by_work and by_work < cores:
        reason = f"~{pages} pages, too few for {min(cores, by_memory)} workers"
    elif workers == by_memory and by_memory < cores:
        reason = f"{memory_mib} MiB free memory"
    else:
        reason = f"auto, {cores} cores"
    return WorkerPlan(workers, reason)


def explicit_runner_flags(options: PipelineOptions) -> bool:
    """True when the user chose how Beam runs (``--runner`` other than the local default,
    ``--direct_running_mode`` or ``--direct_num_workers``): then newsbeam decides nothing."""
    given = options.get_all_options(drop_default=True)
    runner = (given.get("runner") or "").lower()
    return bool(given.get("direct_running_mode") or given.get("direct_num_workers")
                or (runner and runner not in IN_PROCESS))


def plan_workers(options: PipelineOptions, requested: Optional[int], pages: int,
                 streaming: bool = False) -> Optional[WorkerPlan]:
    """The plan for a local run, or None when Beam's own flags decide. ``requested``:
    ``--workers`` (None or 0 = automatic). Streaming needs every step in one process."""
    if explicit_runner_flags(options):
        return None
    return choose_workers(requested, pages, streaming)


def choose_workers(requested: Optional[int], pages: int, streaming: bool = False) -> WorkerPlan:
    """The plan once newsbeam decides (also per chunk of a chunked run, whose first
    plan has set Beam's flags already)."""
    if streaming:
        return WorkerPlan(1, "streaming runs in one process")
    if requested:
        return WorkerPlan(requested, "--workers")
    return auto_workers(pages, usable_cores(), available_mib())


def apply_plan(options: PipelineOptions, plan: Optional[WorkerPlan]) -> None:
    """Set Beam's direct-runner options from the plan (the FnApiRunner reads them at run time)."""
    if plan is None:
        return
    direct = options.view_as(DirectOptions)
    if plan.multi_process:
        direct.direct_running_mode = "multi_processing"
        direct.direct_num_workers = plan.workers
    else:
        direct.direct_running_mode = "in_memory"
        direct.direct_num_workers = 1


def describe_runner(runner, options: PipelineOptions, plan: Optional[WorkerPlan]) -> str:
    """What the summary says the run used."""
    if isinstance(runner, str) or not is_fn_api_runner(runner):
        return runner_label(runner)
    if plan is not None:
        return plan.label()
    direct = options.view_as(DirectOptions)
    mode = direct.direct_running_mode or "in_memory"
    workers = direct.direct_num_workers or 1
    if mode == "in_memory" and workers <= 1:
        return "FnApiRunner (in-process, 1 worker)"
    return f"FnApiRunner ({mode}, {workers} workers)"
