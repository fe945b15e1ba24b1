"""Third-party warnings counted by kind (transforms/logtally.py), in this process
and in the extraction worker process, and shown one line per kind."""
import logging

import pytest

from pipeline import summary
from transforms import logtally, sandbox
from transforms.sources import read_html_file
from tests.e2e.test_accounting import _page


def test_kind_strips_what_varies_between_occurrences():
    kind = logtally.kind_of("trafilatura.xml", "empty link:   {'target': 'https://example.org/a?b=1'}"
                                               " (extraction worker)")
    assert kind == "trafilatura: empty link: {…}"
    assert logtally.kind_of("htmldate.core", "discarding data: 2025-13-45 at https://x.example/p") == \
        "htmldate: discarding data: N-N-N at <url>"
    assert logtally.kind_of("trafilatura.external",
                            "readability_lxml failed: Input object is not an XML element: HtmlComment") == \
        "trafilatura: readability_lxml failed: Input object is not an XML element: HtmlComment"
    assert logtally.kind_of("py.warnings", "/venv/lib/spacy/util.py:910: UserWarning: [W095] 'x'") == \
        "warnings: <path>:N: UserWarning: […] '…'"
    assert logtally.is_third_party("courlan.clean") and not logtally.is_third_party("newsbeam.progress")
    failed = logging.LogRecord("trafilatura.external", logging.WARNING, "f", 1, "readability_lxml failed: %s",
                               (ValueError("Input object is not an XML element: HtmlComment"),), None)
    assert logtally.record_kind(failed) == \
        "trafilatura: readability_lxml failed: ValueError: Input object is not an XML element: HtmlComment"


@pytest.fixture
def counting(tmp_path, monkeypatch):
    monkeypatch.setenv(logtally.ENV_SHOW, "0")
    logtally.install(show=False)
    logging.disable(logging.NOTSET)  # earlier tests may have silenced or raised levels
    for name in ("htmldate", "htmldate.extractors", "courlan", "newsbeam", "trafilatura", "trafilatura.xml"):
        monkeypatch.setattr(logging.getLogger(name), "level", logging.NOTSET)
    monkeypatch.setattr(logging.getLogger(), "level", logging.WARNING)
    seen = []

    class Keep(logging.Handler):
        def emit(self, record):
            seen.append(record.getMessage())

    root = logging.getLogger()
    keep = Keep(level=logging.DEBUG)
    root.addHandler(keep)
    try:
        with logtally.counting(str(tmp_path / "warnings")) as totals:
            yield totals, seen
    finally:
        root.removeHandler(keep)


def test_warnings_are_counted_not_printed_errors_still_shown(counting):
    totals, seen = counting
    for n in range(3):
        logging.getLogger("htmldate.extractors").warning("discarding data: %s", f"20{n}5-99")
    logging.getLogger("courlan").error("cannot parse %s", "https://x.example/")
    logging.getLogger("newsbeam").warning("our own warning stays a line")
    logtally.flush()
    assert logtally.snapshot() == {"htmldate: discarding data: …": 3}  # one kind: the format string
    assert seen == ["cannot parse https://x.example/", "our own warning stays a line"]


def test_the_extraction_worker_sends_counts_not_lines(counting, tmp_path):
    totals, seen = counting
    path = tmp_path / "page.html"
    path.write_text(_page("harbour", "https://example.org/news/harbour"))
    article, _counts = sandbox.call("transforms.extract:extract_counted", read_html_file(str(path)), 25,
                                    timeout=120)
    assert article.word_count > 50
    assert logtally.snapshot().get("trafilatura: empty link: … …", 0) >= 1
    assert not [line for line in seen if "empty link" in line]


def test_summary_shows_one_line_per_kind():
    rows = logtally.rows({f"trafilatura: kind {i}": i + 1 for i in range(15)})
    lines = summary.warning_lines(rows)
    assert lines[0] == "Library warnings: 120 in 15 kinds (each one at --log-level debug)"
    assert lines[1] == "      15  trafilatura: kind 14"
    assert len(lines) == 1 + summary.MAX_WARNING_KINDS + 1 and lines[-1].endswith("5 other kinds (all in the report)")


def test_worker_processes_start_up_log_is_counted_not_printed(capfd, monkeypatch):
    """A multi_processing worker is another program writing to the stderr it
    inherits: its log lines are filtered, anything else passes."""
    import subprocess
    import sys
    monkeypatch.delenv(logtally.ENV_DIR, raising=False)
    logtally.reset()
    script = ("import sys; w = sys.stderr.write; w('INFO:apache_beam.runners.worker.sdk_worker:Control channel established.\\n');"
              "w('WARNING:__main__:No semi_persistent_directory found: 3 things\\n'); w('Traceback (most recent call last):\\n')")
    with logtally.quiet_worker_stderr(True):
        subprocess.run([sys.executable, "-c", script], check=True)
    assert capfd.readouterr().err == "Traceback (most recent call last):\n"
    assert logtally.snapshot() == {"apache_beam: No semi_persistent_directory found: N things": 1}
