"""User mistakes give one clear line and exit code 2, never a traceback."""
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def run_cli(*args):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "pipeline", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("args,message", [
    ([], "--output DIR is required"),
    (["--output", "{tmp}/o"], "nothing to do"),
    (["--output", "{tmp}/o", "--sources", "{tmp}/missing.toml"], "does not exist"),
    (["--output", "{tmp}/o", "--html-dir", "{tmp}/nope"], "is not a directory"),
    (["--output", "{tmp}/o", "--feed", "ftp://x/y"], "unsupported URL scheme"),
    (["--output", "{tmp}/o", "--url", "https://x/y", "--host-dleay", "1"], "unknown option --host-dleay"),
    (["--output", "/proc/forbidden/out", "--url", "https://x/y"], "cannot write to output"),
    (["--output", "{tmp}/o", "--sources", "{tmp}/bad.toml"], "line 2"),
])
def test_usage_errors(tmp_path, args, message):
    (tmp_path / "bad.toml").write_text('[[feed]]\nurl = "https://x/rss\n')
    result = run_cli(*[a.format(tmp=tmp_path) for a in args])
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("newsbeam:")]
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_help_lists_groups():
    result = run_cli("--help")
    assert result.returncode == 0
    for group in ("sources", "fetching", "output", "beam"):
        assert group in result.stdout
