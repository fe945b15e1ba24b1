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
    (["--output", "{tmp}/o", "--url", "https://x/y", "--runner", "NoSuchRunner"], "unknown runner 'NoSuchRunner'"),
    (["--output", "{tmp}/o", "--sources", "{tmp}/empty.txt"], "empty.txt lists no feeds or pages"),
    (["--output", "{tmp}/o", "--url", "https://x/y", "--host-delay", "-1"], "must be a number >= 0"),
    (["--output", "{tmp}/o", "--url", "https://x/y", "--fetch-timeout", "0"], "must be > 0"),
    (["--output", "{tmp}/o", "--html-dir", "{tmp}/no_pages"], "holds no saved pages"),
    (["--output", "{tmp}/o", "--feed", "https://x/rss", "--streaming", "--direct_running_mode=multi_processing"],
     "cannot run a streaming job"),
])
def test_usage_errors(tmp_path, args, message):
    (tmp_path / "bad.toml").write_text('[[feed]]\nurl = "https://x/rss\n')
    (tmp_path / "empty.txt").write_text("# nothing here yet\n")
    (tmp_path / "no_pages").mkdir()
    (tmp_path / "no_pages" / "notes.txt").write_text("not a page")
    result = run_cli(*[a.format(tmp=tmp_path) for a in args])
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("newsbeam: error:") and message in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "o").exists(), "a refused run must leave no empty output/_state behind"


def test_usage_error_keeps_an_existing_output_as_it_was(tmp_path):
    (tmp_path / "o").mkdir()
    result = run_cli("--output", str(tmp_path / "o"), "--sources", str(tmp_path / "missing.toml"))
    assert result.returncode == 2
    assert list((tmp_path / "o").iterdir()) == []


def test_html_dir_follows_symlinked_folders(tmp_path):
    """Saved pages often sit in folders linked from elsewhere: they are read, not silently skipped."""
    from transforms import sources
    real = tmp_path / "real" / "2025"
    real.mkdir(parents=True)
    (real / "a.html").write_text("<html><body><p>x</p></body></html>")
    top = tmp_path / "pages"
    top.mkdir()
    (top / "2025").symlink_to(real, target_is_directory=True)
    (top / "loop").symlink_to(top, target_is_directory=True)  # a loop is walked once
    assert sources.list_html_files(str(top)) == [str(top / "2025" / "a.html")]


def test_runner_names_are_case_insensitive_like_beam():
    from apache_beam.options.pipeline_options import PipelineOptions
    from apache_beam.runners.portability.fn_api_runner import FnApiRunner
    from pipeline.runner import check_runner, choose_runner
    for name in ("directrunner", "DirectRunner", "direct", "FnApiRunner"):
        assert isinstance(choose_runner(PipelineOptions(["--runner", name])), FnApiRunner), name
        assert check_runner(name) is None
    assert check_runner("DataflowRunner") is None and check_runner("flink") is None
    assert "unknown runner" in check_runner("NoSuchRunner")


def _group(help_text: str, title: str) -> str:
    start = help_text.index(f"\n{title}")
    end = help_text.find("\n\n", start + 2)
    return help_text[start:end if end > 0 else None]


def test_help_lists_groups():
    result = run_cli("--help")
    assert result.returncode == 0
    text = result.stdout
    for group in ("sources", "fetching", "output", "beam"):
        assert group in text
    assert "apitools" not in result.stdout + result.stderr and result.stderr == ""
    assert "--output DIR" in text.split("\n\n")[0] and "[--output DIR]" not in text  # required
    display = _group(text, "progress and logging:")
    for flag in ("--quiet", "--log-level", "--log-format", "--progress-interval"):
        assert flag in display and flag not in _group(text, "output:")
    assert "--streaming " in _group(text, "streaming") and "--streaming" not in _group(text, "beam (common):")
    assert "(default 25)" in " ".join(_group(text, "processing:").split())
    assert "FnApiRunner" in _group(text, "beam (common):")


def test_quiet_run_prints_no_apitools_notice(tmp_path):
    result = run_cli("--output", str(tmp_path / "o"), "--quiet", "--log-format", "json",
                     "--sources", str(tmp_path / "missing.toml"))
    assert result.returncode == 2 and "apitools" not in result.stderr
