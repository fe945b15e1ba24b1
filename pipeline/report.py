"""The run report: ``DIR/_reports/run-<run id>.json`` and a self-contained
``run-<run id>.html`` with charts (inline SVG and CSS; no script, no external
asset, so it opens offline and from any file share or bucket).

The figures come from the manifest the job combines from its own writes (per
file row counts, partitions and count histograms, see ``transforms/sink.py``),
plus what only the CLI knows: inputs, elapsed time, runner. :func:`build`
turns both into the report; :func:`render_html` draws it; :func:`write`
stores both files through ``FileSystems`` (local, ``gs://``, ``s3://``).
"""
from __future__ import annotations

import datetime as dt
import html
import json
import math
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from transforms import logtally, sink, usage

TOP_N = 10
FAILED_URLS_SHOWN = 100  # the report's table of failed URLs (all of them are in _dead_letters)
TOPIC_COLOURS = {
    "politics": "#4e79a7", "world": "#59a14f", "business": "#f28e2b", "technology": "#76b7b2",
    "science": "#edc948", "health": "#e15759", "sports": "#b07aa1", "entertainment": "#ff9da7",
    "lifestyle": "#9c755f", "opinion": "#8cd17d", "other": "#bab0ac",
}
PERCENTILES = (50, 90, 99)


# --------------------------------------------------------------------------- figures

def _top(counts: Dict[str, int], n: int = TOP_N) -> List[Tuple[str, int]]:
    """Largest first; ties by key so that the report is deterministic."""
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]


def percentiles(histogram: Dict[str, int], points: Sequence[int] = PERCENTILES) -> Dict[str, float]:
    """Nearest-rank percentiles of a ``{value: count}`` histogram."""
    values = sorted((float(k), n) for k, n in histogram.items() if n > 0)
    total = sum(n for _, n in values)
    result: Dict[str, float] = {}
    if not total:
        return result
    for point in points:
        rank = max(1, math.ceil(point / 100 * total))
        seen = 0
        for value, n in values:
            seen += n
            if seen >= rank:
                result[f"p{point}"] = value
                break
    return result


def topic_date_rows(partitions: Dict[str, int]) -> List[Dict[str, Any]]:
    rows = []
    for part, n in partitions.items():
        fields = sink.partition_fields(part)
        rows.append({"topic": fields.get("topic", "?"), "date": fields.get("date", "?"), "articles": n})
    return sorted(rows, key=lambda r: (r["date"], r["topic"]))


def _feed_rows(feeds: Iterable[Any], per_feed: Dict[str, int]) -> Tuple[List[Dict[str, Any]], Dict[str, int]]:
    """Articles per configured feed (most first) and per feed tag."""
    rows, per_tag = [], {}
    for feed in feeds:
        n = int(per_feed.get(feed.url, 0))
        rows.append({"url": feed.url, "articles": n, "topic": feed.topic, "tags": list(feed.tags),
                     "poll_interval": feed.poll_interval})
        for tag in feed.tags:
            per_tag[tag] = per_tag.get(tag, 0) + n
    rows.sort(key=lambda r: (-r["articles"], r["url"]))
    return rows, per_tag


def _source_rows(counts: Dict[str, Any]) -> List[Dict[str, Any]]:
    """Articles and dead letters per source host, most articles first."""
    domains = counts.get("articles.source_domain", {})
    dead_hosts = counts.get("dead_letters.host", {})
    rows = [{"source": host, "articles": int(domains.get(host, 0)), "dead_letters": int(dead_hosts.get(host, 0))}
            for host in set(domains) | set(dead_hosts)]
    rows.sort(key=lambda r: (-r["articles"], -r["dead_letters"], r["source"]))
    return rows


def build(manifest: Dict[str, Any], *, run_id: str, output: str, elapsed: float, runner: str,
          started_at: dt.datetime, inputs: Optional[Dict[str, Any]] = None,
          feeds: Iterable[Any] = (), warnings: Optional[Dict[str, int]] = None) -> Dict[str, Any]:
    """The full report: the manifest's raw figures plus the derived ones the
    summary, the HTML page and machines reading the JSON need."""
    report = dict(manifest)
    counts = manifest.get("counts", {})
    tables = manifest.get("tables", {})
    articles = int(tables.get("articles", 0))
    feed_rows, per_tag = _feed_rows(feeds, counts.get("articles.feed_url", {}))
    freshness = percentiles(counts.get("articles.freshness_s", {}))
    freshness["articles_with_dates"] = sum(counts.get("articles.freshness_s", {}).values())
    report.update({
        "run_id": run_id,
        "output": output,
        "runner": runner,
        "started_at": started_at.astimezone(dt.timezone.utc).isoformat(timespec="seconds"),
        "elapsed_seconds": round(elapsed, 3),
        "inputs": inputs or {},
        "figures": {
            "articles": articles,
            "duplicates": int(tables.get("duplicates", 0)),
            "dead_letters": int(tables.get("dead_letters", 0)),
            "skipped_already_written": int(manifest.get("skipped_already_written", 0)),
            "articles_per_second": round(articles / elapsed, 3) if elapsed > 0 else None,
            "articles_per_topic_date": topic_date_rows(manifest.get("partitions", {})),
            "duplicates_by_kind": dict(_top(counts.get("duplicates.kind", {}), 100)),
            "dead_letters_by_reason": dict(_top(counts.get("dead_letters.reason", {}), 100)),
            "top_entities": [{"text": k.split("\t")[0], "label": k.split("\t")[-1], "mentions": v}
                             for k, v in _top(counts.get("articles.entities", {}))],
            "entities_languages": {  # articles per language tagged / without a model for it
                "tagged": dict(_top(counts.get("articles.entities_tagged", {}), 100)),
                "not_tagged": dict(_top(counts.get("articles.entities_not_tagged", {}), 100))},
            "top_sources": _source_rows(counts)[:TOP_N],
            "feeds": feed_rows,
            "articles_per_tag": dict(_top(per_tag, 1000)),
            "freshness_seconds": freshness,
            # no trustworthy publication day: published_at null, filed under the fetch day
            "articles_without_publish_date": int(counts.get("articles.date_source", {}).get("none", 0)),
            "date_sources": dict(_top(counts.get("articles.date_source", {}), 100)),
            "topic_sources": dict(_top(counts.get("articles.topic_source", {}), 100)),
            # how many of each topic_source's articles fell to "other" (classifier unsure,
            # unsupported language, no signal), and the opinion genre (transforms/topics.py)
            "topic_other_by_source": dict(_top(counts.get("articles.topic_other_by_source", {}), 100)),
            "opinion_articles": int(counts.get("articles.genre", {}).get("opinion", 0)),
            "accounting": manifest.get("accounting"),  # by input URL (transforms/accounting.py)
            "failed_urls": [dict(zip(("url", "stage", "reason"), row))
                            for row in manifest.get("failed_urls", [])[:FAILED_URLS_SHOWN]],
            "usage": usage.figures(counts),  # articles per usage-rights kind, per source
            # third-party warnings by kind (transforms/logtally.py); each at --log-level debug
            "warnings": logtally.rows(warnings or {}),
        },
    })
    return report


# --------------------------------------------------------------------------- HTML

def entity_languages_line(fig: Dict[str, Any]) -> str:
    """"Entities from articles in: en 12, fr 2; no model for: de 4, ja 1" (articles)."""
    langs = fig.get("entities_languages") or {}
    line = "Entities from articles in: " + (", ".join(
        f"{k} {v}" for k, v in langs.get("tagged", {}).items()) or "none")
    if langs.get("not_tagged"):
        line += "; no model for: " + ", ".join(f"{k} {v}" for k, v in langs["not_tagged"].items())
    return line


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def human_duration(seconds: Optional[float]) -> str:
    if seconds is None:
        return "–"
    seconds = float(seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def _short(text: str, n: int = 30) -> str:
    """Fits the 210 px label column at 11 px. URLs keep their end (the path
    tells feeds of one site apart), other labels their start."""
    if len(text) <= n:
        return text
    return "…" + text[-(n - 1):] if "/" in text else text[:n - 1] + "…"


def integer_ticks(value: float, count: int = 4) -> List[int]:
    """0 .. top in ``count`` or fewer whole steps of 1, 2, 5 x 10^k (article counts are whole)."""
    value = max(1, math.ceil(value))
    step = 1
    while True:
        for factor in (1, 2, 5):
            candidate = factor * step
            if candidate * count >= value:
                top = candidate * math.ceil(value / candidate)
                return list(range(0, top + 1, candidate))
        step *= 10


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    exponent = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * exponent:
            return step * exponent
    return 10 * exponent


def hbar_chart(title: str, rows: Sequence[Tuple[str, Sequence[float]]], series: Sequence[str],
               colours: Sequence[str], width: int = 560) -> str:
    """Horizontal bars, one row per label; several series sit side by side."""
    if not rows:
        return f'<p class="empty">No {_e(title.lower())} in this run.</p>'
    label_w, value_w, bar_h, gap = 210, 44, 14, 8
    row_h = bar_h * len(series) + gap
    height = row_h * len(rows) + 8
    top = _nice_max(max(max(v) for _, v in rows))
    scale = (width - label_w - value_w) / top
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{_e(title)}" '
             f'xmlns="http://www.w3.org/2000/svg"><title>{_e(title)}</title>']
    for i, (label, values) in enumerate(rows):
        y = 4 + i * row_h
        parts.append(f'<text x="{label_w - 8}" y="{y + row_h / 2 - 1}" class="label" text-anchor="end" '
                     f'dominant-baseline="middle">{_e(_short(label))}<title>{_e(label)}</title></text>')
        for j, value in enumerate(values):
            by = y + j * bar_h
            w = max(0.0, value * scale)
            parts.append(f'<rect x="{label_w}" y="{by}" width="{w:.1f}" height="{bar_h - 2}" '
                         f'fill="{colours[j % len(colours)]}" rx="2"><title>{_e(label)}: {_e(series[j])} '
                         f'{value:g}</title></rect>')
            parts.append(f'<text x="{label_w + w + 4:.1f}" y="{by + bar_h / 2}" class="value" '
                         f'dominant-baseline="middle">{value:g}</text>')
    parts.append("</svg>")
    legend = ""
    if len(series) > 1:
        legend = '<div class="legend">' + "".join(
            f'<span><i style="background:{colours[j % len(colours)]}"></i>{_e(s)}</span>'
            for j, s in enumerate(series)) + "</div>"
    return legend + "".join(parts)


def stacked_columns(rows: List[Dict[str, Any]], width: int = 560, height: int = 260) -> str:
    """Articles per day, one column per date, stacked by topic."""
    if not rows:
        return '<p class="empty">No articles written in this run.</p>'
    dates = sorted({r["date"] for r in rows})
    topics = [t for t in TOPIC_COLOURS if any(r["topic"] == t for r in rows)] + \
        sorted({r["topic"] for r in rows} - set(TOPIC_COLOURS))
    cell = {(r["date"], r["topic"]): r["articles"] for r in rows}
    totals = {d: sum(cell.get((d, t), 0) for t in topics) for d in dates}
    ticks = integer_ticks(max(totals.values()))
    top = ticks[-1]
    left, bottom, right, upper = 40, 44, 8, 12
    plot_w, plot_h = width - left - right, height - bottom - upper
    col_w = plot_w / len(dates)
    bar_w = min(56.0, col_w * 0.7)
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="Articles per topic per day" xmlns="http://www.w3.org/2000/svg">'
             f'<title>Articles per topic per day</title>']
    for value in ticks:
        y = upper + plot_h - plot_h * value / top
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        parts.append(f'<text x="{left - 6}" y="{y:.1f}" class="axis" text-anchor="end" '
                     f'dominant-baseline="middle">{value}</text>')
    for i, date in enumerate(dates):
        x = left + i * col_w + (col_w - bar_w) / 2
        y = upper + plot_h
        for topic in topics:
            n = cell.get((date, topic), 0)
            if not n:
                continue
            h = plot_h * n / top
            y -= h
            parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                         f'fill="{TOPIC_COLOURS.get(topic, "#999")}"><title>{_e(date)} · {_e(topic)}: {n}'
                         f'</title></rect>')
        parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{y - 4:.1f}" class="value" text-anchor="middle">'
                     f'{totals[date]}</text>')
        parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{upper + plot_h + 16}" class="axis" '
                     f'text-anchor="middle">{_e(date)}</text>')  # with the year, always
    parts.append("</svg>")
    legend = '<div class="legend">' + "".join(
        f'<span><i style="background:{TOPIC_COLOURS.get(t, "#999")}"></i>{_e(t)}</span>' for t in topics) + "</div>"
    return legend + "".join(parts)


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]], numeric_from: int = 1) -> str:
    head = "".join(f'<th{" class=num" if i >= numeric_from else ""}>{_e(h)}</th>' for i, h in enumerate(header))
    body = "".join("<tr>" + "".join(f'<td{" class=num" if i >= numeric_from else ""}>{_e(v)}</td>'
                                    for i, v in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


_CSS = """
:root{--ink:#1f2933;--muted:#616e7c;--line:#e4e7eb;--card:#fff;--bg:#f5f7fa;--accent:#4e79a7}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);
font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Liberation Sans","DejaVu Sans",sans-serif}
header{background:#1f2933;color:#fff;padding:18px 28px}
header h1{margin:0 0 4px;font-size:20px;font-weight:600}
header p{margin:0;color:#cbd2d9;font-size:13px;word-break:break-all}
main{padding:20px 28px 40px;max-width:1240px;margin:0 auto}
.kpis{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:12px;margin-bottom:18px}
.kpi{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:12px 14px}
.kpi b{display:block;font-size:24px;font-weight:600}
.kpi span{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.grid2{display:grid;grid-template-columns:repeat(auto-fit,minmax(520px,1fr));gap:16px}
section{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:14px 16px;margin-bottom:16px}
section h2{margin:0 0 10px;font-size:15px;font-weight:600}
section h2.sub{margin-top:14px;font-size:13px;color:var(--muted)}
svg.chart{width:100%;height:auto;display:block}
svg text{font-size:11px;fill:var(--ink)}
svg text.axis{fill:var(--muted)}
svg text.value{fill:var(--muted);font-size:10px}
svg line.grid{stroke:var(--line);stroke-width:1}
.legend{display:flex;flex-wrap:wrap;gap:4px 14px;margin:0 0 6px;font-size:12px;color:var(--muted)}
.legend i{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:5px;vertical-align:-1px}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{border-bottom:1px solid var(--line);padding:4px 8px;text-align:left;vertical-align:top}
th{color:var(--muted);font-weight:600}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
td{word-break:break-word}
.empty{color:var(--muted);font-style:italic;margin:6px 0}
footer{color:var(--muted);font-size:12px;text-align:center;padding:12px}
"""


def render_html(report: Dict[str, Any]) -> str:
    """The report as one HTML document; all text from the data is escaped."""
    fig = report.get("figures", {})
    kpis = _kpis(report, fig)
    sections = _chart_sections(fig)
    details = _detail_sections(fig) + _optional_sections(fig) + _inputs_section(report.get("inputs", {}))
    title = f"newsbeam run {report.get('run_id', '?')}"
    return (
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
        f"<header><h1>{_e(title)}</h1><p>started {_e(report.get('started_at', '?'))} · "
        f"runner {_e(report.get('runner', '?'))} · output {_e(report.get('output', '?'))}</p></header>"
        "<main><div class=\"kpis\">"
        + "".join(f'<div class="kpi"><b>{_e(v)}</b><span>{_e(k)}</span></div>' for k, v in kpis)
        + "</div><div class=\"grid2\">" + "".join(sections) + "</div>"
        + "<div class=\"grid2\">" + "".join(details) + "</div></main>"
        f"<footer>written by newsbeam · figures also in run-{_e(report.get('run_id', '?'))}.json</footer>"
        "</body></html>\n")


def _kpis(report: Dict[str, Any], fig: Dict[str, Any]) -> List[Tuple[str, Any]]:
    fresh = fig.get("freshness_seconds", {})
    return [
        ("articles", fig.get("articles", 0)),
        ("duplicates", fig.get("duplicates", 0)),
        ("dead letters", fig.get("dead_letters", 0)),
        ("already written", fig.get("skipped_already_written", 0)),
        ("elapsed", human_duration(report.get("elapsed_seconds"))),
        ("articles / s", f'{fig["articles_per_second"]:.2f}' if fig.get("articles_per_second") else "–"),
        ("median freshness", human_duration(fresh.get("p50"))),
    ]


def _chart_sections(fig: Dict[str, Any]) -> List[str]:
    dead = list(fig.get("dead_letters_by_reason", {}).items())
    entities = [(f'{e["text"]} ({e["label"]})', [e["mentions"]]) for e in fig.get("top_entities", [])]
    sources = [(s["source"], [s["articles"], s["dead_letters"]]) for s in fig.get("top_sources", [])]
    return [
        f'<section><h2>Articles per topic per day</h2>'
        f'{stacked_columns(fig.get("articles_per_topic_date", []))}</section>',
        f'<section><h2>Dead letters by reason</h2>'
        f'{hbar_chart("Dead letters", [(k, [v]) for k, v in dead], ["dead letters"], ["#e15759"])}</section>',
        f'<section><h2>Top entities</h2><p>{_e(entity_languages_line(fig))}</p>'
        f'{hbar_chart("Entities", entities, ["mentions"], ["#4e79a7"])}</section>',
        f'<section><h2>Per source</h2>'
        f'{hbar_chart("Sources", sources, ["articles", "dead letters"], ["#59a14f", "#e15759"])}'
        '</section>',
    ]


def _detail_sections(fig: Dict[str, Any]) -> List[str]:
    """Freshness, duplicates by kind, articles by topic and date: in every report."""
    fresh = fig.get("freshness_seconds", {})
    fresh_rows = [(f"p{p}", human_duration(fresh.get(f"p{p}"))) for p in PERCENTILES if f"p{p}" in fresh]
    details = [
        '<section><h2>Freshness (fetched − published)</h2>'
        + (_table(["percentile", "lag"], fresh_rows)
           + f'<p class="empty">{_e(fresh.get("articles_with_dates", 0))} articles with a publication time.</p>'
           if fresh_rows else '<p class="empty">No article with a publication time.</p>')
        + f'<p class="empty">{_e(fig.get("articles_without_publish_date", 0))} articles without a publish date '
          '(filed under the fetch day).</p>' + "</section>",
        '<section><h2>Duplicates by kind</h2>'
        + (_table(["kind", "copies"], sorted(fig.get("duplicates_by_kind", {}).items()))
           if fig.get("duplicates_by_kind") else '<p class="empty">No duplicates in this run.</p>') + "</section>",
        '<section><h2>Articles by topic and date</h2>'
        + (_table(["topic", "date", "articles"],
                  [(r["topic"], r["date"], r["articles"]) for r in
                   sorted(fig.get("articles_per_topic_date", []), key=lambda r: (r["topic"], r["date"]))],
                  numeric_from=2) if fig.get("articles_per_topic_date") else
           '<p class="empty">No articles written in this run.</p>') + "</section>",
    ]
    return details


def _optional_sections(fig: Dict[str, Any]) -> List[str]:
    """Tables shown only when the run has something for them."""
    details = []
    feeds = fig.get("feeds", [])  # a table, not bars: feed URLs are long and must show in full
    if fig.get("topic_sources"):
        other = fig.get("topic_other_by_source", {})
        details.append('<section><h2>Who decided the topic</h2>' + _table(
            ["topic_source", "articles", "of which other"],
            [(source, n, other.get(source, 0)) for source, n in fig["topic_sources"].items()])
            + f'<p class="empty">{_e(fig.get("opinion_articles", 0))} opinion articles (is_opinion).</p></section>')
    if feeds:
        details.append('<section><h2>Feeds</h2>' + _table(
            ["feed", "tags", "articles"],
            [(f["url"], ", ".join(f.get("tags") or []), f["articles"]) for f in feeds], numeric_from=2)
            + "</section>")
    failed = fig.get("failed_urls", [])
    if failed:
        total = fig.get("dead_letters", len(failed))
        details.append(f'<section><h2>Failed URLs (first {len(failed)} of {_e(total)})</h2>' + _table(
            ["url", "stage", "reason"], [(f["url"], f["stage"], f["reason"]) for f in failed], numeric_from=9)
            + "</section>")
    if fig.get("articles_per_tag"):
        details.append('<section><h2>Articles per tag</h2>' + _table(
            ["tag", "articles"], list(fig["articles_per_tag"].items())) + "</section>")
    by_source = (fig.get("usage") or {}).get("by_source") or []
    if by_source:
        details.append('<section><h2>Usage rights per source (articles)</h2>' + _table(
            ["source"] + list(usage.KINDS), [[r["source"]] + [r.get(k, 0) for k in usage.KINDS]
                                             for r in by_source[:TOP_N]]) + "</section>")
    if fig.get("warnings"):
        details.append('<section><h2>Library warnings by kind</h2>' + _table(
            ["kind", "count"], [(w["kind"], w["count"]) for w in fig["warnings"]])
            + '<p class="empty">Each occurrence is logged at --log-level debug.</p></section>')
    return details


def _inputs_section(inputs: Dict[str, Any]) -> List[str]:
    input_rows = [(k.replace("_", " "), ", ".join(map(str, v)) if isinstance(v, list) else v)
                  for k, v in sorted(inputs.items()) if v not in (None, [], 0, "")]
    if not input_rows:
        return []
    return ['<section><h2>Inputs</h2>' + _table(["input", "value"], input_rows, numeric_from=9) + "</section>"]


# --------------------------------------------------------------------------- files

def paths(output: str, run_id: str) -> Dict[str, str]:
    from apache_beam.io.filesystems import FileSystems
    folder = FileSystems.join(output, "_reports")
    return {"json": FileSystems.join(folder, f"run-{run_id}.json"),
            "html": FileSystems.join(folder, f"run-{run_id}.html")}


def _write_atomically(path: str, data: bytes) -> None:
    sink.publish_bytes(path, data)


def write(output: str, run_id: str, report: Dict[str, Any]) -> Dict[str, Any]:
    """Store the report as JSON and HTML; returns it with their paths added
    (``report_files``)."""
    where = paths(output, run_id)
    report = dict(report, report_files=where)
    _write_atomically(where["json"], json.dumps(report, indent=2, sort_keys=True, default=str).encode("utf-8"))
    _write_atomically(where["html"], render_html(report).encode("utf-8"))
    return report


def read_manifest(output: str, run_id: str) -> Dict[str, Any]:
    """What the job's ``WriteReport`` step left (the merged manifest)."""
    from apache_beam.io.filesystems import FileSystems
    with FileSystems.open(paths(output, run_id)["json"], compression_type="uncompressed") as handle:
        return json.loads(handle.read().decode("utf-8"))
