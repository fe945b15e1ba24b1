"""A chunked run's own process holds no Beam while its chunks run (pipeline/supervisor.py):
``python -m pipeline`` execs into the chunk supervisor (same pid) and each chunk runs in
a child; memory of the whole tree is then one chunk's plus a small supervisor."""
from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import time

from tests.e2e.test_accounting import SUMMARY
from tests.e2e.test_chunked_runs import _pages

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _read(path: str) -> str:
    try:
        with open(path, "rb") as handle:
            return handle.read().decode("utf-8", "replace")
    except OSError:
        return ""


def _has_child(pid: int) -> bool:
    return any(_read(f"/proc/{pid}/task/{task}/children").split()
               for task in (os.listdir(f"/proc/{pid}/task") if os.path.isdir(f"/proc/{pid}/task") else ()))


def test_the_run_process_supervises_its_chunks_without_beam(tmp_path):
    pages = _pages(tmp_path)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "pipeline", "--html-dir", str(pages), "--output",
                             str(tmp_path / "out"), "--quiet", "--chunk-pages", "3"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = []  # (Beam mapped?, RSS in MiB) of the run's process while a chunk's child ran
    while proc.poll() is None:
        if "pipeline.supervisor" in _read(f"/proc/{proc.pid}/cmdline") and _has_child(proc.pid):
            maps = _read(f"/proc/{proc.pid}/maps")
            statm = _read(f"/proc/{proc.pid}/statm").split()
            if maps and statm and _has_child(proc.pid):
                seen.append(("apache_beam" in maps, int(statm[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20))
        time.sleep(0.02)
    stdout, stderr = proc.communicate()
    assert proc.returncode == 0, stderr[-3000:]
    assert SUMMARY.search(stdout), stdout  # one summary, printed by the same pid after the exec
    assert seen, "the chunks did not run under the supervisor"
    assert not any(beam for beam, _rss in seen), "the supervisor imported Beam while a chunk ran"
    assert max(rss for _beam, rss in seen) < 100, seen  # ~30 MiB; the CLI with Beam holds ~200
    assert not (tmp_path / "out" / "_state" / "lock.json").exists()
    assert len(list((tmp_path / "out" / "_reports").glob("run-*.json"))) == 1


def _children(pid: int) -> list:
    return [int(c) for task in (os.listdir(f"/proc/{pid}/task") if os.path.isdir(f"/proc/{pid}/task") else ())
            for c in _read(f"/proc/{pid}/task/{task}/children").split()]


def test_a_chunk_dies_with_its_supervisor(tmp_path):
    """``kill -9`` of the run's process: its chunk's runner must not carry on without the lock."""
    pages = _pages(tmp_path)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "pipeline", "--html-dir", str(pages), "--output",
                             str(tmp_path / "out"), "--quiet", "--chunk-pages", "3"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline, chunk = time.monotonic() + 120, None
    while chunk is None and proc.poll() is None and time.monotonic() < deadline:
        if "pipeline.supervisor" in _read(f"/proc/{proc.pid}/cmdline"):
            chunk = next(iter(_children(proc.pid)), None)
        time.sleep(0.02)
    assert chunk is not None, "no chunk child seen"
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 10
    while os.path.exists(f"/proc/{chunk}") and "chunk_child" in _read(f"/proc/{chunk}/cmdline") \
            and time.monotonic() < deadline:
        time.sleep(0.05)
    gone = not os.path.exists(f"/proc/{chunk}") or "chunk_child" not in _read(f"/proc/{chunk}/cmdline")
    assert gone, "the chunk's runner outlived the supervisor"
