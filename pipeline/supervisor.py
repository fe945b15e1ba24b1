"""The chunk supervisor: runs a chunked batch run's chunks one after another, each
in a fresh child process (``pipeline.cli.chunk_child``), and keeps the run's one
lock, progress line, warning counts, Ctrl-C handling and report.

Why a child per chunk: Beam's multi-process runner leaves native memory behind in
the process that ran it, and in-process runs creep too (docs/performance.md);
a fresh process per chunk holds one chunk's memory, never the input's.

Why this module never imports Beam: while a chunk runs, the supervisor sits beside
it in the process tree. ``python -m pipeline`` plans the run (which needs Beam,
~200 MiB), writes a :class:`SupervisedRun` and ``exec``s into
``python -m pipeline.supervisor`` (:func:`exec_into`: same pid, so the lock stays
its own, and the same exit codes), which holds ~30 MiB while the chunks run and
imports Beam only for the report, once the last chunk's process is gone.
``tests/e2e/test_chunk_supervisor.py`` checks that it stays Beam-free.
"""
from __future__ import annotations

import dataclasses
import os
import pickle
import shutil
import subprocess
import sys
from typing import Any, Dict, List, Optional

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclasses.dataclass(frozen=True)
class ChunkTask:
    """One chunk's child run: its pickled arguments (for ``cli.chunk_child``), its run id
    (the manifest it publishes) and the runner label of the summary."""
    index: int
    payload: str
    run_id: str
    label: str


@dataclasses.dataclass
class SupervisedRun:
    """Everything the supervisor needs, in plain values (no Beam object): it is pickled
    across ``exec``."""
    tasks: List[ChunkTask]
    run_id: str
    output: str
    chunk_pages: int
    workdir: str  # the payloads and the progress files; removed at the end
    progress_dir: Optional[str]
    progress_interval: Optional[float]
    quiet: bool
    log_level: Optional[str]
    log_format: str
    feeds: list  # FeedRequest records (schemas.records: Beam-free) for the report
    report_inputs: Dict[str, Any]
    started_monotonic: float
    started_at: Any  # datetime

    @property
    def warnings_dir(self) -> str:
        return os.path.join(self.workdir, "warnings")


def run_child(task: ChunkTask) -> None:
    """One chunk in a fresh process; returns once it has published its chunk (exit 0),
    raises ``cli.Interrupted`` if Ctrl-C stopped it first and RuntimeError if it failed."""
    from pipeline.cli import EXIT_INTERRUPTED, Interrupted
    from transforms import interrupt
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH")) if p))
    child = subprocess.Popen([sys.executable, "-c", "import sys; from pipeline.cli import chunk_child; "
                              "sys.exit(chunk_child(sys.argv[1], int(sys.argv[2])))", task.payload,
                              str(os.getpid())], env=env)
    while True:
        try:
            code = child.wait()
            break
        except KeyboardInterrupt:  # only without our handler; wait for the child to stop
            continue
    if code == 0:  # published whole, even if Ctrl-C came while it was ending
        return
    if code in (EXIT_INTERRUPTED, -2) or interrupt.requested():
        raise Interrupted()
    raise RuntimeError(f"the chunk's runner process exited with code {code}")


def exec_into(run: SupervisedRun) -> None:
    """Replace this process (which imported Beam) by ``python -m pipeline.supervisor``
    carrying on with ``run``; never returns. Same pid: the output's lock stays ours."""
    path = os.path.join(run.workdir, "run.pickle")
    with open(path, "wb") as handle:
        pickle.dump(run, handle, protocol=pickle.HIGHEST_PROTOCOL)
    sys.stdout.flush()
    sys.stderr.flush()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH")) if p))
    os.execve(sys.executable, [sys.executable, "-m", "pipeline.supervisor", path], env)


def main(path: str) -> int:
    """The exec'd process: the chunks, then what ``cli.run``/``cli.main`` do at the end
    of a run (clear the staging folder, release the lock, print the summary)."""
    from pipeline import cli
    from pipeline.lock import OutputLock
    with open(path, "rb") as handle:
        run: SupervisedRun = pickle.load(handle)
    cli.configure_logging(run.log_level, run.log_format, run.quiet)
    lock = OutputLock(run.output, run.run_id)
    lock.held = True  # taken before the exec by this same pid

    def finish() -> dict:
        try:
            return cli.supervise(run, lock)
        finally:
            from transforms import sink
            sink.clear_staging(run.output)
            lock.release()
    return cli.outcome(finish)


if __name__ == "__main__":
    code = main(sys.argv[1])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # like ``python -m pipeline`` after Ctrl-C: no wait for stray threads
