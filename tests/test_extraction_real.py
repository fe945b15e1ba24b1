"""The real-page benchmark at tiny size, so it cannot rot: a Fundus-style set of two pages
written here (truth.json + pages/*.html.gz), scored for newsbeam and trafilatura."""
import gzip
import json

from benchmarks import extraction_real
from tests.test_dates import PARAS, undated_page

DATED = '<meta property="article:published_time" content="2026-03-05T08:00:00Z"><meta name="author" content="Ana Ruiz">'


def write_set(folder):
    (folder / "pages").mkdir(parents=True)
    truth = []
    for name, head in (("dated", DATED), ("undated", "")):
        (folder / "pages" / f"{name}.html.gz").write_bytes(gzip.compress(undated_page(extra_head=head).encode()))
        truth.append({"id": name, "file": f"pages/{name}.html.gz", "url": f"https://millbrook.example/news/{name}",
                      "crawl_date": "2026-03-09 15:00:00", "title": "Recycling centre opens to long queues",
                      "authors": ["Ana Ruiz"] if head else [],
                      "publishing_date": "2026-03-05 08:00:00+00:00" if head else None,
                      "body": "\n".join(PARAS)})
    (folder / "truth.json").write_text(json.dumps(truth))


def test_measures_on_known_pages(tmp_path):
    write_set(tmp_path / "set")
    pages = extraction_real.load_set(tmp_path / "set")
    results = extraction_real.run(pages, repeat=1)
    ours = results["newsbeam"]
    assert ours["f1"] > 0.95 and not ours["rejected"]
    assert ours["title_exact"] == 1.0  # without og:title or JSON-LD, the only <h1>
    assert ours["author_f1"] == 1.0
    assert ours["date_same_day"] == 1.0 and ours["dates_invented"] == 0 and ours["dates_missing"] == 1
    assert results["trafilatura"]["f1"] > 0.9 and results["newsbeam"]["pages_per_cpu_s"] > 0


def test_command_prints_the_table_and_writes_json(tmp_path, capsys):
    write_set(tmp_path / "set")
    out = tmp_path / "r.json"
    assert extraction_real.main(["--data", str(tmp_path / "set"), "--briefs", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "newsbeam" in printed and "traf:precision" in printed and "0 of 12 written" in printed
    figures = json.loads(out.read_text())
    assert set(figures) >= {"trafilatura", "traf:precision", "newsbeam", "_negatives"}
    assert extraction_real.main(["--data", str(tmp_path / "missing")]) == 2
