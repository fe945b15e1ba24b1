"""``python -m pipeline``: validate arguments, run the batch job, print the summary.

User mistakes (missing file, unwritable output, bad sources file, unknown flag)
end with a one-line message and exit code 2; a failed job exits 1. Inputs that
fail individually never fail the job: they are dead-lettered.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import sys
import tempfile
import time
import uuid
from typing import Callable, Optional, Sequence

from pipeline.errors import UsageError  # noqa: F401  (re-exported: callers catch pipeline.cli.UsageError)
from transforms import interrupt

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
LOG = logging.getLogger("newsbeam")
# ``python -m pipeline`` (pipeline/__main__.py) sets it: a chunked run's process then
# ``exec``s into the Beam-free chunk supervisor (pipeline/supervisor.py); callers of
# :func:`run` in their own process (tests, notebooks) keep theirs.
EXEC_SUPERVISOR = False
INTERRUPT_LINE = ("newsbeam: interrupted: stopping; nothing of this run is published and the same "
                  "command finishes the work (Ctrl-C again to quit at once)")


class Interrupted(Exception):
    """The operator stopped the run (the one line was already printed)."""


def _all_option_classes():
    from apache_beam.options.pipeline_options import PipelineOptions
    seen, stack = [], [PipelineOptions]
    while stack:
        cls = stack.pop()
        for sub in cls.__subclasses__():
            if sub not in seen:
                seen.append(sub)
                stack.append(sub)
    return seen


def _help_text() -> str:
    from apache_beam.options.pipeline_options import _BeamArgumentParser
    from pipeline.options import NewsbeamOptions
    parser = _BeamArgumentParser(
        prog="python -m pipeline",
        description="newsbeam: feeds and pages -> clean articles with entities and topics -> "
                    "Parquet partitioned by topic and date.",
        epilog="Any Apache Beam option is accepted too, e.g. --runner, --direct_running_mode, "
               "--direct_num_workers, --project, --region, --temp_location.")
    NewsbeamOptions._add_argparse_args(parser)
    for action in parser._actions:
        if action.dest == "output":
            action.required = True  # shown without brackets in the usage line
    streaming = next(g for g in parser._action_groups if g.title.startswith("streaming"))
    streaming.add_argument("--streaming", action="store_true",
                           help="poll the feeds and write windows until stopped (Beam's streaming mode)")
    beam_group = parser.add_argument_group("beam (common)")
    beam_group.add_argument("--runner", metavar="NAME",
                            help="default: Beam's FnApiRunner (DirectRunner means the same here) with "
                                 "one worker process per core for big inputs (see --workers); "
                                 "PortableRunner, DataflowRunner, FlinkRunner, ...")
    beam_group.add_argument("--direct_running_mode", help="in_memory | multi_threading | multi_processing")
    beam_group.add_argument("--direct_num_workers", help="workers for the local runner")
    return parser.format_help()


def _check_unknown(argv: Sequence[str]) -> None:
    """Beam silently discards unknown flags; a typo must not go unnoticed."""
    from apache_beam.options.pipeline_options import _BeamArgumentParser

    class Parser(_BeamArgumentParser):
        def error(self, message):  # a bad value: one line, not argparse's 150-line usage
            raise UsageError(message)

    parser = Parser(allow_abbrev=False)
    for cls in _all_option_classes():
        try:
            cls._add_argparse_args(parser)
        except argparse.ArgumentError:
            pass  # options registered by two classes
    _known, unknown = parser.parse_known_args(list(argv))
    flags = [u for u in unknown if u.startswith("--")]
    if flags:
        raise UsageError(f"unknown option {flags[0].split('=')[0]} (see --help)")
    stray = [u for u in unknown if not u.startswith("-")]
    if stray:
        raise UsageError(f"unexpected argument {stray[0]!r} (options take the form --name value)")


def _check_output(output: Optional[str]) -> str:
    """Absolute output path, after a probe write; folders the probe made are removed
    again, so a run refused later leaves no empty ``OUT/_state`` behind."""
    from apache_beam.io.filesystems import FileSystems
    if not output:
        raise UsageError("--output DIR is required")
    made = []
    if "://" not in output:
        output = os.path.abspath(output)
        if os.path.exists(output) and not os.path.isdir(output):
            raise UsageError(f"output {output} exists and is not a directory")
        made = [d for d in (os.path.join(output, "_state"), output) if not os.path.exists(d)]
    probe = FileSystems.join(output, "_state", f".probe-{uuid.uuid4().hex}")
    try:
        with FileSystems.create(probe) as handle:
            handle.write(b"ok")
        FileSystems.delete([probe])
    except Exception as exc:  # permission, missing bucket, unknown scheme ...
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UsageError(f"cannot write to output {output}: {reason}") from None
    finally:
        for folder in made:  # deepest first
            try:
                os.rmdir(folder)
            except OSError:
                pass
    return output


def _inputs(options):
    from pipeline import sources_file
    from transforms import sources
    try:
        inputs = sources_file.cli_sources(options.feed or [], options.url or [])
        if options.sources:
            if "://" not in options.sources and not os.path.isfile(options.sources):
                raise UsageError(f"sources file {options.sources} does not exist")
            inputs = inputs + sources_file.load_sources_file(options.sources)
    except sources_file.SourcesError as exc:
        raise UsageError(str(exc)) from None
    if options.html_dir:
        if "://" not in options.html_dir:
            if not os.path.isdir(options.html_dir):
                raise UsageError(f"--html-dir {options.html_dir} is not a directory")
            options.html_dir = os.path.abspath(options.html_dir)
            if not sources.list_html_files(options.html_dir):
                raise UsageError(f"--html-dir {options.html_dir} holds no saved pages "
                                 f"(*.html, *.htm, .gz variants)")
    if options.warc:
        options.warc = [_check_warc(pattern) for pattern in options.warc]
    if not inputs.feeds and not inputs.pages and not options.html_dir and not options.warc:
        if options.sources:
            raise UsageError(f"sources file {options.sources} lists no feeds or pages")
        raise UsageError("nothing to do: give --feed, --url, --html-dir, --sources or --warc")
    return inputs


def _check_warc(pattern: str) -> str:
    from transforms import warc
    local = "://" not in pattern
    if local and not any(ch in pattern for ch in "*?[") and not os.path.exists(pattern):
        raise UsageError(f"--warc {pattern} does not exist")
    if not warc.list_warc_files(pattern):
        raise UsageError(f"--warc {pattern} matches no WARC files (*.warc, *.warc.gz)")
    return os.path.abspath(pattern) if local else pattern


def _configure_logging(options) -> None:
    configure_logging(options.log_level, options.log_format, options.quiet)


def configure_logging(level: Optional[str], fmt: str, quiet: bool) -> None:
    """Logging of this process (also the chunk supervisor's, which has no Beam options)."""
    from pipeline import progress
    from transforms import logtally
    progress.configure_logging(level, fmt, quiet)
    show = (level or "").upper() == "DEBUG"  # each third-party warning, not just counts
    os.environ[logtally.ENV_SHOW] = "1" if show else "0"
    logtally.install(show)


def run(argv: Sequence[str]) -> dict:
    """Run the job (holding the output's lock); returns the run report.
    Raises UsageError for user mistakes, LockHeld when another run writes the output."""
    from apache_beam.options.pipeline_options import PipelineOptions, SetupOptions
    from pipeline.config import JobConfig
    from pipeline.options import NewsbeamOptions
    from pipeline.runner import check_runner, choose_runner
    from apache_beam.options.pipeline_options import StandardOptions

    _check_unknown(argv)
    options = PipelineOptions(list(argv))
    nb = options.view_as(NewsbeamOptions)
    _configure_logging(nb)
    problem = check_runner(options.view_as(StandardOptions).runner)
    if problem:
        raise UsageError(problem)
    dry_run = bool(options.get_all_options().get("dry_run"))
    if not nb.output:
        raise UsageError("--output DIR is required")
    inputs = _inputs(nb)  # every usage check before the output is touched
    JobConfig.from_options(options).check(inputs)
    if not dry_run:  # Dataflow --dry_run builds the job without touching the cloud: no probe write.
        nb.output = _check_output(nb.output)
    options.view_as(SetupOptions).save_main_session = False
    plan = _worker_plan(options, nb, inputs)
    run_id = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]
    if dry_run:  # build the graph for the runner, submit nothing
        if options.view_as(StandardOptions).streaming:
            from pipeline import streaming
            return streaming.dry_run_streaming(options, nb, inputs, choose_runner(options), run_id)
        return _run_batch(options, nb, inputs, choose_runner(options), run_id, plan=plan)
    from pipeline.lock import OutputLock, describe
    lock = OutputLock(nb.output, run_id, wait=nb.wait, on_wait=lambda holder: LOG.warning(
        "waiting for the run holding %s (%s)", nb.output, describe(holder)))
    with lock:
        runner = choose_runner(options)
        if options.view_as(StandardOptions).streaming:
            from pipeline.streaming import run_streaming  # polls until --max-runtime or a signal
            return run_streaming(options, nb, inputs, runner, run_id)
        from transforms import sink
        if sink.clear_staging(nb.output):  # a stopped run's files: never published, safe to drop
            LOG.info("removed the unpublished files of an earlier, stopped run")
        try:
            chunks = _plan_chunks(options, nb, inputs, runner)
            if chunks:
                return _run_chunked(options, nb, inputs, chunks, run_id, lock=lock, explicit=plan is None)
            return _run_batch(options, nb, inputs, runner, run_id, lock=lock, plan=plan)
        finally:  # published files were moved out; what is left was never published
            sink.clear_staging(nb.output)


def _worker_plan(options, nb, inputs):
    """All cores by default (pipeline/runner.py decides); sets Beam's direct-runner options."""
    from apache_beam.options.pipeline_options import StandardOptions
    from pipeline import runner as runners
    from transforms import sources
    streaming = bool(options.view_as(StandardOptions).streaming)
    if streaming and (nb.workers or 0) > 1:
        raise UsageError("--workers: a streaming run keeps every step in one process (--workers 1 or none)")
    html_files = len(sources.list_html_files(nb.html_dir)) if nb.html_dir and "://" not in nb.html_dir else 0
    pages = runners.estimate_pages(pages=len(inputs.pages), feeds=len(inputs.feeds), html_files=html_files,
                                   warc_paths=getattr(nb, "warc", None) or ())
    plan = runners.plan_workers(options, nb.workers or None, pages, streaming=streaming)
    runners.apply_plan(options, plan)
    if plan is not None:
        LOG.debug("runner: %s", plan.label())  # the summary says it; a refused run prints one line
    return plan


def _plan_chunks(options, nb, inputs, runner):
    """The run's chunks (pipeline/chunks.py): several only for a local FnApiRunner batch
    run over more than ``--chunk-pages`` pages; remote runners get one job."""
    from pipeline import chunks
    from transforms import sources
    automatic = nb.chunk_pages is None
    if automatic:
        nb.chunk_pages = chunks.DEFAULT_CHUNK_PAGES
    if not _local_runner(options, runner) or not nb.chunk_pages:
        return []
    html_files = sources.list_html_files(nb.html_dir) if nb.html_dir else []
    planned = chunks.plan(inputs, html_files, chunks.warc_files(nb.warc or ()), nb.chunk_pages)
    if automatic and sum(c.weight for c in planned) <= chunks.ONE_JOB_PAGES:
        # A little over a chunk, one job: a second chunk's start-up (~12 CPU-s with 2 workers)
        # costs more than the memory it saves (docs/performance.md).
        return []
    return planned if len(planned) > 1 else []


def _local_runner(options, runner) -> bool:
    """Runs whose memory is this machine's: the FnApiRunner, and the PortableRunner with
    the embedded job service (the FnApiRunner behind it). Chunked alike, so that they
    give the same rows."""
    from pipeline.runner import is_fn_api_runner, runner_label
    if is_fn_api_runner(runner):
        return True
    from apache_beam.options.pipeline_options import PortableOptions
    return (runner_label(runner).lower() in ("portablerunner", "portable")
            and options.view_as(PortableOptions).job_endpoint == "embed")


def _run_job(pipeline, job, inputs, run_id: str, progress_dir: Optional[str]):
    """Build and run one Beam job; a run stopped by Ctrl-C raises :class:`Interrupted`."""
    from pipeline.build import build_pipeline
    build_pipeline(pipeline, job, inputs, run_id, progress_dir=progress_dir)
    try:
        result = pipeline.run()
    except Exception:
        if interrupt.requested():
            raise Interrupted() from None
        raise
    return result


def _run_batch(options, nb, inputs, runner, run_id: str, lock=None, plan=None) -> dict:
    import apache_beam as beam
    from pipeline import progress
    from pipeline import report as run_report
    from pipeline.runner import describe_runner, runner_label
    from transforms import logtally
    started = time.monotonic()
    started_at = dt.datetime.now(dt.timezone.utc)
    pipeline = beam.Pipeline(runner=runner, options=options)
    show_progress = progress.wanted(nb.quiet, nb.progress_interval, in_process=not isinstance(runner, str))
    with tempfile.TemporaryDirectory(prefix="newsbeam-progress-") as progress_dir, \
            logtally.counting(os.path.join(progress_dir, "warnings")) as warning_counts:
        with progress.ProgressReporter(progress_dir, interval=nb.progress_interval,
                                       feeds_total=len(inputs.feeds), enabled=show_progress), \
                _StopOnCtrlC(lock, enabled=not isinstance(runner, str)), \
                logtally.quiet_worker_stderr(nb.quiet and not logtally.show_each()):
            result = _run_job(pipeline, nb, inputs, run_id, progress_dir if show_progress else None)
            if options.get_all_options().get("dry_run"):
                # Dataflow --dry_run: nothing ran; report the job that would have been submitted.
                return {"dry_run": True, "run_id": run_id, "runner": runner_label(runner),
                        "output": nb.output,
                        "transforms": len(pipeline.to_runner_api().components.transforms),
                        "elapsed_seconds": round(time.monotonic() - started, 3)}
            result.wait_until_finish()
    if interrupt.requested():  # Ctrl-C came while the files were being published: the run is whole
        print("newsbeam: the run had finished publishing when it was interrupted; it is complete",
              file=sys.stderr, flush=True)
    elapsed = time.monotonic() - started
    manifest = run_report.read_manifest(nb.output, run_id)
    report = run_report.build(manifest, run_id=run_id, output=nb.output, elapsed=elapsed,
                              runner=describe_runner(runner, options, plan), started_at=started_at,
                              feeds=inputs.feeds, warnings=warning_counts, inputs=_report_inputs(nb, inputs))
    report["chunks"] = {"planned": 1, "completed": 1, "chunk_pages": nb.chunk_pages}
    return run_report.write(nb.output, run_id, report)  # _reports/run-<id>.json and .html


def _report_inputs(nb, inputs) -> dict:
    return {"feeds": len(inputs.feeds), "pages": len(inputs.pages), "html_dir": nb.html_dir, "warc": nb.warc,
            "sources": nb.sources, "allow_hosts": list(inputs.allow_hosts), "deny_hosts": list(inputs.deny_hosts)}


def _run_chunked(options, nb, inputs, chunks, run_id: str, lock=None, explicit: bool = False) -> dict:
    """Consecutive Beam runs into one output (pipeline/chunks.py), one summary and report.
    Each chunk runs in a fresh child process under the chunk supervisor
    (pipeline/supervisor.py); from ``python -m pipeline`` this process first ``exec``s
    into the Beam-free supervisor, so that it does not hold Beam beside each chunk."""
    from pipeline import arrow_pool, progress
    from pipeline import supervisor
    arrow_pool.for_child_processes()  # each chunk's process allocates pyarrow memory from its start
    workdir = tempfile.mkdtemp(prefix="newsbeam-chunks-")
    show_progress = progress.wanted(nb.quiet, nb.progress_interval, in_process=True)
    progress_dir = os.path.join(workdir, "progress") if show_progress else None
    if progress_dir:
        os.makedirs(progress_dir)
    LOG.info("%d chunks of at most %d pages (--chunk-pages)", len(chunks), nb.chunk_pages)
    run = supervisor.SupervisedRun(
        tasks=_chunk_tasks(options, nb, chunks, run_id, workdir, progress_dir, explicit), run_id=run_id,
        output=nb.output, chunk_pages=nb.chunk_pages, workdir=workdir, progress_dir=progress_dir,
        progress_interval=nb.progress_interval, quiet=bool(nb.quiet), log_level=nb.log_level,
        log_format=nb.log_format, feeds=list(inputs.feeds), report_inputs=_report_inputs(nb, inputs),
        started_monotonic=time.monotonic(), started_at=dt.datetime.now(dt.timezone.utc))
    if EXEC_SUPERVISOR and lock is not None and "://" not in nb.output and os.name == "posix":
        supervisor.exec_into(run)  # never returns
    return supervise(run, lock)


def _chunk_tasks(options, nb, chunks, run_id: str, workdir: str, progress_dir: Optional[str],
                 explicit: bool) -> list:
    """Each chunk's child-process arguments, pickled under ``workdir``, with its worker
    choice made for its size and the runner label of the summary."""
    import dataclasses
    import pickle
    from pipeline.config import JobConfig
    from pipeline.runner import choose_runner, describe_runner
    from pipeline.supervisor import ChunkTask
    job = JobConfig.from_options(options)
    tasks = []
    for chunk in chunks:
        plan = _chunk_plan(options, nb, chunk.weight, explicit)
        label = describe_runner(choose_runner(options), options, plan)
        chunk_job = dataclasses.replace(job, html_dir=job.html_dir if chunk.html_files else None,
                                        html_files=chunk.html_files, warc=chunk.warc_files)
        payload = os.path.join(workdir, f"chunk{chunk.index:04d}.pickle")
        with open(payload, "wb") as handle:
            pickle.dump((argv_of(options), plan, chunk_job, chunk.sources, chunk.run_id(run_id), progress_dir),
                        handle, protocol=pickle.HIGHEST_PROTOCOL)
        LOG.debug("chunk %d: ~%d pages on %s", chunk.index, chunk.weight, label)
        tasks.append(ChunkTask(chunk.index, payload, chunk.run_id(run_id), label))
    return tasks


def supervise(run, lock=None) -> dict:
    """The chunks of ``run`` (a ``supervisor.SupervisedRun``), one child process each.
    Ctrl-C or a failure stops after the published chunks (a rerun skips them): the
    report of those is written, then the error propagates. Beam is imported only
    after the last chunk's process has ended (the report)."""
    import shutil
    from pipeline import progress
    from pipeline import supervisor
    from transforms import logtally
    done: list = []  # the published chunks' tasks
    warning_counts: dict = {}
    planned = len(run.tasks)
    try:
        with logtally.counting(run.warnings_dir) as warning_counts:
            stop = _StopOnCtrlC(lock, line=lambda: _chunk_interrupt_line(len(done), planned))
            with progress.ProgressReporter(run.progress_dir, interval=run.progress_interval,
                                           feeds_total=len(run.feeds), enabled=run.progress_dir is not None), \
                    stop, logtally.quiet_worker_stderr(run.quiet and not logtally.show_each()):
                for task in run.tasks:
                    if interrupt.requested():  # Ctrl-C while the previous chunk was publishing
                        break
                    try:
                        supervisor.run_child(task)
                        done.append(task)
                    except Interrupted:
                        break
                    except Exception:
                        print(f"newsbeam: chunk {task.index} of {planned} failed; the {len(done)} chunks "
                              f"before it are published and the same command finishes the work",
                              file=sys.stderr, flush=True)
                        raise
        if interrupt.requested() and len(done) < planned:
            print(f"newsbeam: stopped after {len(done)} of {planned} chunks (those are published); "
                  f"the same command finishes the work", file=sys.stderr, flush=True)
            raise Interrupted()
        if interrupt.requested():
            print("newsbeam: the run had finished publishing when it was interrupted; it is complete",
                  file=sys.stderr, flush=True)
    finally:
        if done:  # the published chunks' one report, even when a later chunk failed
            report = _chunked_report(run, done, warning_counts)
        shutil.rmtree(run.workdir, ignore_errors=True)
    return report


def _chunk_plan(options, nb, pages: int, explicit: bool):
    """The worker choice for one chunk (``explicit``: the user's Beam flags decide)."""
    from pipeline import runner as runners
    if explicit:
        return None
    plan = runners.choose_workers(nb.workers or None, pages)
    runners.apply_plan(options, plan)
    return plan


def argv_of(options) -> list:
    """The command line the options came from (Beam keeps it)."""
    return list(getattr(options, "_flags", None) or [])


def chunk_child(path: str, supervisor: Optional[int] = None) -> int:
    """Entry point of a chunk's process (``supervisor.run_child``): one chunk's Beam run,
    in-process or with worker processes as its plan says; exits 130 if Ctrl-C stopped it.
    It dies with the ``supervisor`` process: a chunk never runs on without the output lock."""
    import pickle
    from core.sandbox import die_with_parent
    if supervisor is not None:
        die_with_parent(supervisor)
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions, SetupOptions
    from pipeline import runner as runners
    from pipeline.options import NewsbeamOptions
    from transforms import logtally
    with open(path, "rb") as handle:
        argv, plan, job, sources, run_id, progress_dir = pickle.load(handle)
    options = PipelineOptions(list(argv))
    _configure_logging(options.view_as(NewsbeamOptions))
    options.view_as(SetupOptions).save_main_session = False
    runners.apply_plan(options, plan)
    try:
        with _StopOnCtrlC(None, line=lambda: ""):
            _run_job(beam.Pipeline(runner=runners.choose_runner(options), options=options), job, sources,
                     run_id, progress_dir).wait_until_finish()
    except Interrupted:
        return EXIT_INTERRUPTED
    finally:
        logtally.flush()
    return EXIT_OK


def _chunked_report(run, done, warnings) -> dict:
    """The one report of a chunked run (the published chunks' manifests merged), written
    under the run id; the chunks' own manifests are removed."""
    from pipeline import chunks as chunking
    from pipeline import report as run_report
    manifests = [run_report.read_manifest(run.output, task.run_id) for task in done]
    report = run_report.build(
        chunking.merge_manifests(manifests), run_id=run.run_id, output=run.output,
        elapsed=time.monotonic() - run.started_monotonic,
        runner=chunking.runner_label([task.label for task in done]), started_at=run.started_at,
        feeds=run.feeds, warnings=warnings, inputs=run.report_inputs)
    report["chunks"] = {"planned": len(run.tasks), "completed": len(done), "chunk_pages": run.chunk_pages}
    report = run_report.write(run.output, run.run_id, report)
    chunking.remove_chunk_manifests(run.output, [task.run_id for task in run.tasks])
    return report


def _chunk_interrupt_line(done: int, planned: int) -> str:
    return (f"newsbeam: interrupted: stopping; nothing of chunk {done + 1} of {planned} is published, "
            f"the {done} chunks before it are, and the same command finishes the work "
            f"(Ctrl-C again to quit at once)")


class _StopOnCtrlC:
    """Batch runs: the first Ctrl-C asks the job to stop (``transforms.interrupt``:
    no new request, nothing more staged, nothing published) and prints one line;
    a second one exits at once."""

    def __init__(self, lock=None, enabled: bool = True, line=None):
        self._lock = lock
        self._enabled = enabled
        self._line = line  # the one line to print (a chunked run says which chunks are published)
        self._previous = None

    def _handler(self, _signum, _frame):
        if interrupt.requested():  # second Ctrl-C
            if self._lock is not None:
                self._lock.release()
            os._exit(EXIT_INTERRUPTED)
        interrupt.request()
        logging.disable(logging.CRITICAL)  # Beam's tracebacks of the stopped bundles are noise
        line = self._line() if self._line else INTERRUPT_LINE
        if line:  # a chunk's runner process prints nothing: the CLI says it once
            print(line, file=sys.stderr, flush=True)

    def __enter__(self):
        import signal
        interrupt.clear()
        if self._enabled:
            try:
                self._previous = signal.signal(signal.SIGINT, self._handler)
            except ValueError:  # not the main thread
                self._previous = None
        return self

    def __exit__(self, *_exc):
        import signal
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        return False


def _read_json(path: str) -> dict:
    from apache_beam.io.filesystems import FileSystems
    with FileSystems.open(path, compression_type="uncompressed") as handle:
        return json.loads(handle.read().decode("utf-8"))


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if any(a in ("-h", "--help") for a in argv):
        print(_help_text())
        return EXIT_OK
    return outcome(lambda: run(argv))


def outcome(run_: Callable[[], dict]) -> int:
    """Run ``run_`` (the run, or the chunk supervisor's rest of it), print its summary
    or its one-line error; the exit code."""
    from pipeline.lock import LockHeld
    try:
        report = run_()
    except UsageError as exc:
        print(f"newsbeam: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except LockHeld as exc:
        print(f"newsbeam: error: output {exc.path.rsplit('/_state/', 1)[0]} is being written by another "
              f"run ({exc}); wait for it with --wait", file=sys.stderr)
        return EXIT_USAGE
    except Interrupted:
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        print("newsbeam: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a failed job: one line, details in the log
        LOG.debug("job failed", exc_info=True)
        first = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        print(f"newsbeam: error: job failed: {type(exc).__name__}: {first[:500]}", file=sys.stderr)
        if os.environ.get("NEWSBEAM_DEBUG"):
            raise
        return EXIT_FAILED
    if report.get("dry_run"):
        kind = "streaming job graph" if report.get("streaming") else "job graph"
        stateful = (f" ({len(report['stateful_steps'])} stateful steps)" if report.get("streaming") else "")
        print(f"dry run on {report['runner']}: {kind} with {report['transforms']} transforms{stateful} built "
              f"in {report['elapsed_seconds']:.1f} s; nothing was submitted (output {report['output']})")
        return EXIT_OK
    if report.get("streaming"):
        print(report["summary"])
        return EXIT_OK
    from pipeline.summary import render
    print(render(report))
    return EXIT_OK
