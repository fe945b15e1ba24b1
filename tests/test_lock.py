"""One writer per output (pipeline/lock.py): refuse, wait, take over a dead holder's lock."""
from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time

import pytest

from pipeline.lock import LockHeld, OutputLock, lock_path


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_second_holder_is_refused_with_host_pid_and_start(tmp_path):
    with OutputLock(str(tmp_path), "run-a"):
        with pytest.raises(LockHeld) as refused:
            OutputLock(str(tmp_path), "run-b").acquire()
        text = str(refused.value)
        assert f"host {socket.gethostname()}" in text and f"pid {os.getpid()}" in text and "started 20" in text
    assert not os.path.exists(lock_path(str(tmp_path)))  # released
    with OutputLock(str(tmp_path), "run-b"):
        pass


def test_wait_gets_the_lock_once_the_holder_releases(tmp_path):
    first = OutputLock(str(tmp_path), "run-a").acquire()
    told = []
    got = threading.Event()

    def second():
        with OutputLock(str(tmp_path), "run-b", wait=True, poll_seconds=0.05, on_wait=told.append):
            got.set()
    thread = threading.Thread(target=second)
    thread.start()
    time.sleep(0.3)
    assert not got.is_set() and told and told[0]["run_id"] == "run-a"
    first.release()
    thread.join(5)
    assert got.is_set()


def test_a_dead_holders_lock_is_taken_over_with_a_warning(tmp_path, caplog):
    path = lock_path(str(tmp_path))
    os.makedirs(os.path.dirname(path))
    with open(path, "w") as handle:
        json.dump({"host": socket.gethostname(), "pid": dead_pid(), "run_id": "old",
                   "started_at": "2026-01-01T00:00:00+00:00"}, handle)
    with caplog.at_level(logging.WARNING, logger="newsbeam"):
        with OutputLock(str(tmp_path), "new"):
            with open(path) as handle:
                assert json.load(handle)["run_id"] == "new"
    assert any("stale lock" in r.getMessage() for r in caplog.records)


def test_another_hosts_lock_is_never_taken_over(tmp_path):
    path = lock_path(str(tmp_path))
    os.makedirs(os.path.dirname(path))
    with open(path, "w") as handle:
        json.dump({"host": "some-other-machine", "pid": dead_pid(), "run_id": "old"}, handle)
    with pytest.raises(LockHeld, match="some-other-machine"):
        OutputLock(str(tmp_path), "new").acquire()


def test_release_leaves_a_lock_that_is_not_ours(tmp_path):
    lock = OutputLock(str(tmp_path), "run-a").acquire()
    with open(lock.path, "w") as handle:  # someone took it over (e.g. after a stale takeover)
        json.dump({"host": "h", "pid": 1, "run_id": "run-z"}, handle)
    lock.release()
    assert os.path.exists(lock.path)
