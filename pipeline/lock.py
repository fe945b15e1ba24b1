"""One writer per output: ``DIR/_state/lock.json`` names the run that holds ``DIR``.

Two runs writing one output at once would write dead letters twice and could
each write a copy of the same story (their indexes are read at start), so a
second run is refused with the holder's host, pid and start time, or waits for
it with ``--wait``. A lock left by a process that no longer exists on this host
(killed with SIGKILL, a power cut) is stale and taken over with a warning.

Local folders: the lock is created with ``O_CREAT | O_EXCL``, which is atomic.
Object stores (``gs://``, ``s3://``): Beam's file API has no create-if-absent,
so the lock is check-then-write, then read back; two runs starting within the
same second can both get in, and a holder on another machine cannot be checked
for life (remove a dead machine's lock by hand). There, schedule one run per
output (one cron entry, one Airflow task) and treat the lock as a guard against
mistakes, not as mutual exclusion.
"""
from __future__ import annotations

import datetime as dt
import errno
import json
import logging
import os
import socket
import time
from typing import Callable, Dict, Optional

LOG = logging.getLogger("newsbeam")
LOCK_NAME = "lock.json"
UNREADABLE_STALE_SECONDS = 60.0  # a lock file still empty/garbled after this is a crash's leftover


class LockHeld(Exception):
    """Another run holds the output."""

    def __init__(self, path: str, holder: Dict[str, object]):
        self.path = path
        self.holder = holder
        super().__init__(describe(holder))


def describe(holder: Dict[str, object]) -> str:
    return (f"host {holder.get('host', '?')}, pid {holder.get('pid', '?')}, "
            f"started {holder.get('started_at', '?')}")


def lock_path(output: str) -> str:
    if "://" not in output:  # without importing Beam (the chunk supervisor holds the lock)
        return os.path.join(output, "_state", LOCK_NAME)
    from apache_beam.io.filesystems import FileSystems
    return FileSystems.join(output, "_state", LOCK_NAME)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, another user's
        return True
    except OSError as exc:
        return exc.errno != errno.ESRCH
    return True


def is_stale(holder: Dict[str, object], age_seconds: float) -> bool:
    """Stale: its process is gone (checkable on this host only), or the file
    never got readable content."""
    if not holder:
        return age_seconds > UNREADABLE_STALE_SECONDS
    if holder.get("host") != socket.gethostname():
        return False
    try:
        return not pid_alive(int(holder.get("pid", -1)))
    except (TypeError, ValueError):
        return True


class OutputLock:
    """Context manager: hold ``output`` for one run (see the module doc)."""

    def __init__(self, output: str, run_id: str, wait: bool = False, poll_seconds: float = 1.0,
                 on_wait: Optional[Callable[[Dict[str, object]], None]] = None):
        self.output = output
        self.path = lock_path(output)
        self.run_id = run_id
        self.wait = wait
        self.poll_seconds = poll_seconds
        self.on_wait = on_wait
        self.held = False
        self.record = {"host": socket.gethostname(), "pid": os.getpid(), "run_id": run_id,
                       "started_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}

    # -- storage
    def _local(self) -> bool:
        return "://" not in self.path

    def _create(self) -> bool:
        data = json.dumps(self.record).encode("utf-8")
        if self._local():
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                return False
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            return True
        from apache_beam.io.filesystems import FileSystems
        if FileSystems.exists(self.path):
            return False
        with FileSystems.create(self.path) as handle:
            handle.write(data)
        time.sleep(0.2)  # then read back: the last of two racing writers wins, the other backs off
        return self._read()[0].get("run_id") == self.run_id

    def _read(self):
        """(holder record or {} if unreadable, age in seconds)."""
        from apache_beam.io.filesystems import FileSystems
        try:
            if self._local():
                age = time.time() - os.path.getmtime(self.path)
                with open(self.path, "rb") as handle:
                    data = handle.read()
            else:
                age = 0.0
                with FileSystems.open(self.path, compression_type="uncompressed") as handle:
                    data = handle.read()
        except FileNotFoundError:
            return None, 0.0
        except OSError:
            return {}, 0.0
        try:
            holder = json.loads(data.decode("utf-8"))
            return (holder if isinstance(holder, dict) else {}), age
        except ValueError:
            return {}, age

    def _remove(self) -> None:
        from apache_beam.io.filesystems import FileSystems
        try:
            if self._local():
                os.unlink(self.path)
            else:
                FileSystems.delete([self.path])
        except (FileNotFoundError, OSError):
            pass
        except Exception:  # BeamIOError: already gone
            pass

    # -- protocol
    def acquire(self) -> "OutputLock":
        told = False
        while True:
            if self._create():
                self.held = True
                return self
            holder, age = self._read()
            if holder is None:
                continue  # released between our two looks: try again
            if is_stale(holder, age):
                LOG.warning("taking over a stale lock on %s (%s: that process is gone)",
                            self.output, describe(holder) if holder else "unreadable")
                self._remove()
                continue
            if not self.wait:
                raise LockHeld(self.path, holder)
            if not told and self.on_wait is not None:
                self.on_wait(holder)
                told = True
            time.sleep(self.poll_seconds)

    def release(self) -> None:
        if not self.held:
            return
        holder, _age = self._read()
        if holder is not None and holder.get("run_id") == self.run_id:
            self._remove()
        self.held = False

    def __enter__(self) -> "OutputLock":
        return self.acquire()

    def __exit__(self, *_exc) -> None:
        self.release()
