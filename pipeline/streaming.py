"""The streaming job: the one stage graph (``pipeline/graph.py``) in streaming
mode, and running it (signals, window summaries, Dataflow dry runs).

    ticks -> poll feeds (conditional GET, back-off, seen-set) -> fetch -> extract
          -> site templates -> dedup(canonical URL, content, near) -> entities -> topics
          -> windowed Parquet (articles, _duplicates, _dead_letters, _state/index,
             _state/signatures: the near-duplicate state a restart restores)
          -> one line + _reports/windows/<start>.json per window

No GroupByKey anywhere on the path (the local FnApiRunner holds a GroupByKey's
input until an unbounded source ends) and no timers (apache/beam#35168): the
stateful steps are driven by the data and by the poller's ticks. Semantics in
``docs/streaming.md``.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import glob
import json
import logging
import os
import signal
import time
from typing import Dict, Optional

import apache_beam as beam

from pipeline import graph
from pipeline.build import job_config
from pipeline.errors import UsageError
from pipeline.sources_file import Sources
from transforms import poll, window_sink

LOG = logging.getLogger("newsbeam")
FOREVER = 10 * 365 * 24 * 3600.0
TABLES = ("articles", "duplicates", "dead_letters", "index")


def build_streaming_pipeline(p: beam.Pipeline, options, inputs: Sources, *, duration: float,
                             in_process: bool = True) -> Dict[str, object]:
    """Add the streaming job to ``p``: polls ``inputs.feeds`` every
    ``poll_interval`` s for ``duration`` s from the first round (or until
    :func:`transforms.poll.request_stop`); returns the main PCollections.
    ``in_process``: the runner runs every worker in this process (the local
    FnApiRunner): windows are buffered in memory instead of Beam state."""
    return graph.build(p, job_config(options), inputs, graph.Streaming(duration, in_process))


def check_streaming_inputs(options, inputs) -> Optional[str]:
    """A usage problem with a streaming job's inputs, or None."""
    job = dataclasses.replace(job_config(options), streaming=True)
    problems = job.problems(inputs)
    return problems[0] if problems else None


class _StopOnSignals:
    """SIGINT/SIGTERM end the job cleanly (current round, then the final flush);
    a second SIGINT interrupts at once."""

    def __enter__(self):
        self._previous = {}
        self._count = 0

        def handler(signum, _frame):
            self._count += 1
            if self._count > 1 and signum == signal.SIGINT:
                raise KeyboardInterrupt
            LOG.warning("stopping: finishing the current round and flushing open windows "
                        "(Ctrl-C again to abort)")
            poll.request_stop()

        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._previous[sig] = signal.signal(sig, handler)
            except ValueError:  # not the main thread (e.g. called from a test thread)
                pass
        return self

    def __exit__(self, *exc):
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)
        return False


def read_window_reports(output: str, since: float = 0.0) -> list:
    """Window summaries written under ``DIR/_reports/windows`` (local outputs),
    for windows starting at or after ``since`` - one window (epoch seconds)."""
    out = []
    for path in sorted(glob.glob(os.path.join(output, "_reports", "windows", "window-*.json"))):
        with open(path, encoding="utf-8") as handle:
            summary = json.load(handle)
        if dt.datetime.fromisoformat(summary["window_start"]).timestamp() >= since:
            out.append(summary)
    return out


IN_PROCESS_ONLY = (window_sink.BufferRows, window_sink.FlushWindows)  # buffers in this process's memory


def graph_facts(pipeline: beam.Pipeline) -> Dict[str, object]:
    """What a deployment cares about in a built job graph: every step name, the
    stateful steps (their names must stay stable for Dataflow ``--update``) and
    any step that only works when every worker is this process."""
    from apache_beam.portability import common_urns
    from apache_beam.portability.api import beam_runner_api_pb2

    proto = pipeline.to_runner_api()
    names, stateful = [], []
    for transform in proto.components.transforms.values():
        names.append(transform.unique_name)
        if transform.spec.urn == common_urns.primitives.PAR_DO.urn:
            payload = beam_runner_api_pb2.ParDoPayload.FromString(transform.spec.payload)
            if payload.state_specs:
                stateful.append(transform.unique_name)

    local_only: list = []

    class _Visitor(beam.pipeline.PipelineVisitor):
        def enter_composite_transform(self, node):
            if isinstance(node.transform, IN_PROCESS_ONLY):
                local_only.append(node.full_label)

        def visit_transform(self, node):
            self.enter_composite_transform(node)

    pipeline.visit(_Visitor())
    return {"transforms": len(names), "names": sorted(names), "stateful_steps": sorted(stateful),
            "in_process_only_steps": sorted(local_only)}


def dry_run_streaming(options, nb, inputs, runner, run_id: str) -> dict:
    """Build the streaming job for ``runner`` (Dataflow's ``--dry_run=True``:
    nothing is submitted) and describe its graph."""
    problem = check_streaming_inputs(options, inputs)
    if problem:
        raise UsageError(problem)
    started = time.monotonic()
    pipeline = beam.Pipeline(runner=runner, options=options)
    build_streaming_pipeline(pipeline, nb, inputs,
                             duration=nb.max_runtime if nb.max_runtime is not None else FOREVER,
                             in_process=not isinstance(runner, str))
    facts = graph_facts(pipeline)
    if isinstance(runner, str) and facts["in_process_only_steps"]:
        raise RuntimeError(f"streaming graph for {runner} has in-process-only steps: "
                           f"{', '.join(facts['in_process_only_steps'])}")
    pipeline.run()  # with --dry_run=True the runner builds (and stages) the job, submits nothing
    return {"dry_run": True, "streaming": True, "run_id": run_id,
            "runner": runner if isinstance(runner, str) else type(runner).__name__,
            "output": nb.output, **facts, "elapsed_seconds": round(time.monotonic() - started, 3)}


def run_streaming(options, nb, inputs, runner, run_id: str) -> dict:
    """Run until ``--max-runtime`` or a signal; returns a small report."""
    problem = check_streaming_inputs(options, inputs)
    if problem:
        raise UsageError(problem)
    poll.clear_stop()
    start = time.time()
    LOG.info("streaming: %d feed(s) every %g s, %g s windows, into %s%s", len(inputs.feeds),
             nb.poll_interval, nb.window, nb.output,
             f", for {nb.max_runtime:g} s" if nb.max_runtime is not None else " until stopped")
    pipeline = beam.Pipeline(runner=runner, options=options)
    build_streaming_pipeline(pipeline, nb, inputs,
                             duration=nb.max_runtime if nb.max_runtime is not None else FOREVER,
                             in_process=not isinstance(runner, str))
    with _StopOnSignals():
        result = pipeline.run()
        result.wait_until_finish()
    elapsed = time.time() - start
    windows = read_window_reports(nb.output, since=start - nb.window) if "://" not in nb.output else []
    totals = {k: sum(w[k] for w in windows) for k in ("articles", "duplicates", "dead_letters")}
    summary = (f"streaming run {run_id}: {elapsed:.1f} s, {len(windows)} windows, {totals['articles']} articles, "
               f"{totals['duplicates']} duplicates, {totals['dead_letters']} dead letters written to {nb.output}"
               + (" (stopped by signal)" if poll.stop_requested() else ""))
    return {"streaming": True, "run_id": run_id, "elapsed_seconds": round(elapsed, 3), "windows": windows,
            "totals": totals, "output": nb.output, "summary": summary}
