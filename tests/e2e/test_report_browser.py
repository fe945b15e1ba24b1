"""The HTML run report opens in a real headless browser without console errors.

Uses Debian's ``chromium`` (``run_tests.sh`` installs it with apt-get where it
can); skipped, with the reason, where no Chromium is installed. Console output
is read from Chromium's own log (``--enable-logging=stderr``): the report has
no script, so *any* console message (a CSP violation, a blocked or failed load)
is a defect. A control page with a script error proves the check can fail.

Set ``NEWSBEAM_REPORT_SCREENSHOT=/some/file.png`` to keep the screenshot.
"""
from __future__ import annotations

import json
import os
import pathlib
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXPECTED = json.loads((ROOT / "pipeline" / "demo_site" / "expected.json").read_text())
CHROMIUM = next((shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome",
                                                 "google-chrome-stable") if shutil.which(name)), None)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium on this machine (run_tests.sh installs Debian's chromium "
                             "with apt-get where apt is available)")
CONSOLE = re.compile(r":CONSOLE[:(]")


def headless(url: str, *extra: str, timeout: float = 90) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="newsbeam-chromium-") as profile:
        return subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", "--hide-scrollbars",
             "--window-size=1280,1800", *extra, url],
            capture_output=True, text=True, timeout=timeout)


def console_messages(stderr: str):
    return [line for line in stderr.splitlines() if CONSOLE.search(line)]


def png_pixels(path: pathlib.Path):
    """(width, height, raw scanlines) of a non-interlaced PNG, with zlib only."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, size = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            size = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    return size[0], size[1], zlib.decompress(idat)


@pytest.fixture(scope="module")
def report_html(demo_site, tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "out"
    args = ["--output", str(out), "--allow-private-hosts", "--host-delay", "0", "--quiet"]
    for feed in sorted(EXPECTED["_feeds"]):
        args += ["--feed", f"{demo_site}/{feed}"]
    result = subprocess.run([sys.executable, "-m", "pipeline", *args], cwd=ROOT, capture_output=True,
                            text=True, timeout=300, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert result.returncode == 0, result.stderr[-3000:]
    [html] = list((out / "_reports").glob("run-*.html"))
    return html


def test_console_check_catches_errors(tmp_path):
    page = tmp_path / "broken.html"
    page.write_text('<!doctype html><meta http-equiv="Content-Security-Policy" content="default-src \'none\'">'
                    '<p>control</p><script>undefinedFunction()</script><img src="https://example.invalid/x.png">')
    result = headless(page.as_uri(), "--dump-dom")
    assert "control" in result.stdout
    assert len(console_messages(result.stderr)) >= 2, result.stderr[-3000:]


def test_report_renders_in_chromium_without_console_errors(report_html, tmp_path):
    shot = tmp_path / "report.png"
    result = headless(report_html.as_uri(), f"--screenshot={shot}")
    assert shot.is_file(), result.stderr[-3000:]
    assert console_messages(result.stderr) == []
    width, height, pixels = png_pixels(shot)
    assert (width, height) == (1280, 1800)
    assert len(set(pixels)) > 50  # charts and text, not a blank page
    if os.environ.get("NEWSBEAM_REPORT_SCREENSHOT"):
        shutil.copy(shot, os.environ["NEWSBEAM_REPORT_SCREENSHOT"])

    dom = headless(report_html.as_uri(), "--dump-dom")
    assert console_messages(dom.stderr) == []
    rendered = dom.stdout
    assert rendered.count("<svg") >= 4 and rendered.count("<rect") >= 20
    figures = json.loads(report_html.with_suffix(".json").read_text())["figures"]
    top_entity = figures["top_entities"][0]
    for text in ("Articles per topic per day", "Dead letters by reason", "Top entities", "Per source",
                 "fetch:robots_disallowed", f'{top_entity["text"]} ({top_entity["label"]})'):
        assert text in rendered, text
