"""Run a pure function on untrusted input in a child process that can be killed.

Why a process: hostile HTML can keep lxml/trafilatura busy for minutes (a tag
with 200,000 attributes, 5 MB of link soup) inside C code or regular
expressions that no signal or thread trick can interrupt. A child process can
always be killed, so a per-document budget is a hard limit and the worker never
hangs: on timeout the child is SIGKILLed and the next call gets a fresh one.

Children are pooled per process (spawned on first use, then reused by every
DoFn instance and thread of that process). A child imports only ``core`` and
``schemas.records``: no Beam and no pyarrow (``tests/test_core_imports.py``), so
it costs about 128 MiB after its first page instead of 281 (docs/performance.md).
Their log records travel back with each reply and are logged by the parent,
so --log-format json stays JSON; their stderr is discarded.
They talk over pipes in length-prefixed pickle frames, die with their parent
(``PR_SET_PDEATHSIG`` on Linux, and EOF on stdin everywhere) and run with a
memory ceiling so a memory bomb becomes a ``MemoryError`` inside the child, not
an out-of-memory kill of the worker.
"""
from __future__ import annotations

import atexit
import importlib
import logging
import os
import pathlib
import pickle
import select
import struct
import subprocess
import sys
import threading
import time
from typing import Any, List, Optional, Tuple

from core import logtally

LOG = logging.getLogger(__name__)

MEMORY_LIMIT_BYTES = 3 * 1024 ** 3
MAX_IDLE = 8
# A child's RSS creeps with the pages it has parsed (lxml/libxml2 and library state: 166 MiB
# after 600 pages, 209 after 1,000); a fresh one costs ~1 CPU-s to start (docs/performance.md).
RECYCLE_AFTER_CALLS = 250
# An idle child is closed after this long: a stage extracts its pages back to back, then the
# runner's later stages (NER, dedup, writing) would run beside a useless child. A batch stage
# closes its children as soon as its bundle ends (transforms/extract.py): this bounds the rest.
IDLE_CLOSE_SECONDS = 5.0
_HEADER = struct.Struct("!Q")
_ROOT = str(pathlib.Path(__file__).resolve().parents[1])


class SandboxTimeout(Exception):
    """The call did not finish within its budget; the child was killed."""


class SandboxCrash(Exception):
    """The child died (killed, out of memory, ...) before answering."""


def _resolve(target: str):
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


class _Child:
    def __init__(self):
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([_ROOT] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
        level = logging.getLogger().getEffectiveLevel()
        logtally.install()  # this process's own third-party warnings are counted too
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "core.sandbox", str(os.getpid()), str(level)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,  # logs come back in replies
            env=env, cwd=_ROOT, close_fds=True)
        self.calls = 0
        self.idle_since = time.monotonic()

    def call(self, target: str, args: tuple, kwargs: dict, timeout: float) -> Any:
        data = pickle.dumps((target, args, kwargs), protocol=pickle.HIGHEST_PROTOCOL)
        self.calls += 1
        try:
            self.proc.stdin.write(_HEADER.pack(len(data)) + data)
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            raise SandboxCrash(f"worker process gone: {exc}") from None
        deadline = time.monotonic() + timeout
        header = self._read(_HEADER.size, deadline)
        (size,) = _HEADER.unpack(header)
        ok, value, logs, warning_counts = pickle.loads(self._read(size, deadline))
        logtally.add_counts(warning_counts)
        for level, name, message in logs:  # through the parent's handlers (text or JSON)
            logging.getLogger(name).log(level, "%s (extraction worker)", message)
        if not ok:
            raise SandboxCrash(value)
        return value

    def _read(self, n: int, deadline: float) -> bytes:
        fd = self.proc.stdout.fileno()
        chunks, have = [], 0
        while have < n:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise SandboxTimeout()
            ready, _, _ = select.select([fd], [], [], remaining)
            if not ready:
                raise SandboxTimeout()
            chunk = os.read(fd, min(n - have, 1 << 20))
            if not chunk:
                code = self.proc.poll()
                raise SandboxCrash(f"worker process exited (code {code})")
            chunks.append(chunk)
            have += len(chunk)
        return b"".join(chunks)

    def kill(self) -> None:
        try:
            self.proc.kill()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass

    def close(self) -> None:
        try:
            self.proc.stdin.close()  # EOF: the child leaves its loop
            self.proc.wait(timeout=2)
        except Exception:
            self.kill()


_LOCK = threading.Lock()
_IDLE: List[_Child] = []
_SPAWN_FAILED = False
_REAPER: Optional[threading.Thread] = None


def _acquire() -> Optional[_Child]:
    global _SPAWN_FAILED
    with _LOCK:
        while _IDLE:
            child = _IDLE.pop()
            if child.proc.poll() is None:
                return child
        if _SPAWN_FAILED:
            return None
    try:
        return _Child()
    except OSError as exc:  # e.g. a sandbox forbidding subprocesses: run in-process
        LOG.warning("cannot start an extraction worker process (%s); running in-process "
                    "without a hard time limit", exc)
        _SPAWN_FAILED = True
        return None


def _release(child: _Child) -> None:
    """Back to the pool; closed instead once it has served :data:`RECYCLE_AFTER_CALLS`
    calls, so that its memory does not grow with the input (the next call starts a new one)."""
    global _REAPER
    with _LOCK:
        if len(_IDLE) < MAX_IDLE and child.calls < RECYCLE_AFTER_CALLS:
            child.idle_since = time.monotonic()
            _IDLE.append(child)
            if _REAPER is None:
                _REAPER = threading.Thread(target=_close_idle_forever, name="sandbox-reaper", daemon=True)
                _REAPER.start()
            return
    child.close()


def close_idle(older_than: float) -> int:
    """Close the pooled children idle for more than ``older_than`` seconds; how many."""
    now = time.monotonic()
    with _LOCK:
        stale = [c for c in _IDLE if now - c.idle_since > older_than]
        _IDLE[:] = [c for c in _IDLE if c not in stale]
    for child in stale:
        child.close()
    return len(stale)


def _close_idle_forever() -> None:
    """The reaper thread: idle children go after :data:`IDLE_CLOSE_SECONDS`; the thread
    ends when the pool is empty (the next release starts it again)."""
    global _REAPER
    while True:
        time.sleep(min(1.0, IDLE_CLOSE_SECONDS / 2))
        close_idle(IDLE_CLOSE_SECONDS)
        with _LOCK:
            if not _IDLE:
                _REAPER = None  # under the lock: a release after this starts a new reaper
                return


@atexit.register
def shutdown() -> None:
    """Close every idle child (they also exit on their own when we die)."""
    with _LOCK:
        children = list(_IDLE)
        _IDLE.clear()
    for child in children:
        child.close()


def call(target: str, *args, timeout: float, **kwargs) -> Any:
    """``module:function(*args, **kwargs)`` in a pooled child; raises
    :class:`SandboxTimeout` after ``timeout`` seconds (the child is killed) or
    :class:`SandboxCrash` if the child died. Arguments and result must pickle."""
    child = _acquire()
    if child is None:
        return _resolve(target)(*args, **kwargs)
    try:
        result = child.call(target, args, kwargs, timeout)
    except (SandboxTimeout, SandboxCrash):
        child.kill()
        raise
    except BaseException:  # unpicklable result, KeyboardInterrupt ...: the pipe state is unknown
        child.kill()
        raise
    _release(child)
    return result


def loaded_modules() -> List[str]:
    """Names in ``sys.modules`` (called in a child by tests: what a worker imports)."""
    return sorted(sys.modules)


def idle_children() -> List[int]:
    """PIDs of pooled children (for tests)."""
    with _LOCK:
        return [c.proc.pid for c in _IDLE]


# --------------------------------------------------------------------------- child side

def die_with_parent(parent: int) -> None:
    """Linux: this process is killed when ``parent`` (the process that started it) dies,
    so that no worker or chunk runner outlives the run that owns its output lock."""
    try:
        import ctypes
        import signal
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:  # not Linux: EOF on stdin still ends the loop
        pass
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(0)


def _limit_memory() -> None:
    try:
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        limit = MEMORY_LIMIT_BYTES if hard == resource.RLIM_INFINITY else min(MEMORY_LIMIT_BYTES, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except Exception:
        pass


def _read_exact(stream, n: int) -> Optional[bytes]:
    data = stream.read(n)
    return data if data and len(data) == n else None


def _serve(parent: int, level: int) -> None:
    import signal
    # Ctrl-C reaches the whole process group: the parent decides what stops (it kills us if needed).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent(parent)
    _limit_memory()
    logs: List[Tuple[int, str, str]] = []

    counts: dict = {}

    class _Collect(logging.Handler):
        def emit(self, record):
            try:
                if (level > logging.DEBUG and record.levelno < logging.ERROR
                        and logtally.is_third_party(record.name)):
                    kind = logtally.record_kind(record)
                    counts[kind] = counts.get(kind, 0) + 1
                    return
                logs.append((record.levelno, record.name, record.getMessage()[:2000]))
            except Exception:
                pass

    root = logging.getLogger()
    root.handlers[:] = [_Collect()]
    root.setLevel(level)
    logging.captureWarnings(True)  # warnings.warn -> "py.warnings": counted like the rest
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # stray prints of libraries must not corrupt our frames
    stdin = sys.stdin.buffer
    while True:
        header = _read_exact(stdin, _HEADER.size)
        if header is None:
            return
        payload = _read_exact(stdin, _HEADER.unpack(header)[0])
        if payload is None:
            return
        try:
            target, args, kwargs = pickle.loads(payload)
            value = _resolve(target)(*args, **kwargs)
            data = pickle.dumps((True, value, logs[:100], dict(counts)), protocol=pickle.HIGHEST_PROTOCOL)
        except BaseException as exc:  # report, keep serving
            data = pickle.dumps((False, f"{type(exc).__name__}: {exc}"[:500], logs[:100], dict(counts)))
        logs.clear()
        counts.clear()
        out.write(_HEADER.pack(len(data)) + data)
        out.flush()


if __name__ == "__main__":
    _serve(int(sys.argv[1]), int(sys.argv[2]))
