"""The core is Beam-free and the records are Arrow-free: checked in fresh interpreters
(and in a real extraction worker process), since this test process has both loaded."""
from __future__ import annotations

import datetime as dt
import json
import pathlib
import pkgutil
import subprocess
import sys

from schemas.records import Article, FetchedPage, PageRequest

ROOT = pathlib.Path(__file__).resolve().parents[1]
CORE_MODULES = sorted(f"core.{m.name}" for m in pkgutil.iter_modules([str(ROOT / "core")]))


def _loaded_after(statement: str) -> set:
    code = f"{statement}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def _roots(modules: set) -> set:
    return {name.split(".")[0] for name in modules}


def test_every_core_module_imports_without_beam_or_pyarrow():
    assert "core.article" in CORE_MODULES and "core.sandbox" in CORE_MODULES
    loaded = _roots(_loaded_after("; ".join(f"import {m}" for m in CORE_MODULES)))
    assert "apache_beam" not in loaded and "pyarrow" not in loaded
    assert "transforms" not in loaded  # the core depends on schemas only, never on the Beam layer


def test_records_import_without_pyarrow_until_arrow_schemas_are_used():
    assert "pyarrow" not in _roots(_loaded_after("import schemas.records; import schemas"))
    assert "pyarrow" in _roots(_loaded_after("from schemas import ARTICLE_SCHEMA"))


def test_the_extraction_worker_process_loads_no_beam():
    """A real worker: it extracts a page (trafilatura, lxml, htmldate loaded), then reports
    its own ``sys.modules``."""
    from core import sandbox
    from core.article import extract_with_budget
    from tests.conftest import article_html
    page = FetchedPage(request=PageRequest(url="https://news.example/a"), final_url="https://news.example/a",
                       status=200, content=article_html(), content_type="text/html",
                       fetched_at=dt.datetime(2025, 5, 16, tzinfo=dt.timezone.utc))
    result, _counts = extract_with_budget(page, timeout=60)
    assert isinstance(result, Article)
    loaded = _roots(set(sandbox.call("core.sandbox:loaded_modules", timeout=30)))
    assert {"trafilatura", "lxml", "core"} <= loaded
    assert "apache_beam" not in loaded and "pyarrow" not in loaded and "transforms" not in loaded
