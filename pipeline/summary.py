"""The end-of-run summary, rendered from the run report (``pipeline/report.py``)."""
from __future__ import annotations

from typing import Any, Dict, List

from pipeline.report import PERCENTILES, entity_languages_line, human_duration


def _table(rows: List[List[Any]], header: List[str]) -> List[str]:
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    fmt = "  " + "  ".join(f"{{:<{w}}}" if i < len(header) - 1 else f"{{:>{w}}}"
                           for i, w in enumerate(widths))
    return [fmt.format(*header), fmt.format(*["-" * w for w in widths])] + \
        [fmt.format(*map(str, r)) for r in rows]


def _usage_lines(figures: Dict[str, Any]) -> List[str]:
    """Articles per usage-rights kind (transforms/usage.py), then per source."""
    kinds = {k: v for k, v in (figures.get("kinds") or {}).items() if v}
    if not kinds:
        return []
    lines = ["Usage rights (articles): " + ", ".join(f"{k} {v}" for k, v in kinds.items())]
    rows = [[r["source"]] + [r.get(k, 0) for k in kinds] for r in figures.get("by_source", [])[:SUMMARY_ROWS]]
    return lines + _table(rows, ["source"] + list(kinds))


MAX_PARTITION_ROWS = 12
MAX_WARNING_KINDS = 10
SUMMARY_ROWS = 5  # failed URLs, usage rights per source: the report has them all


def _per_day_lines(per_day: List[Dict[str, Any]]) -> List[str]:
    """Articles per topic and day; per topic (with its first and last day) when
    that table would be long: the summary stays a screenful, the report has all."""
    rows = sorted(([r["topic"], r["date"], r["articles"]] for r in per_day), key=lambda r: (r[0], r[1]))
    if len(rows) <= MAX_PARTITION_ROWS:
        return _table(rows, ["topic", "date", "articles"])
    topics: Dict[str, List[Any]] = {}
    for topic, date, n in rows:
        entry = topics.setdefault(topic, [topic, date, date, 0])
        entry[2], entry[3] = date, entry[3] + n
    grouped = [[t, f"{first} .. {last}" if first != last else first, n] for t, first, last, n in topics.values()]
    return _table(grouped, ["topic", f"dates ({len(rows)} topic/date partitions in the report)", "articles"])


def warning_lines(warnings: List[Dict[str, Any]]) -> List[str]:
    """Third-party warnings: one line per kind with its count (each occurrence
    only at --log-level debug)."""
    if not warnings:
        return []
    total = sum(w["count"] for w in warnings)
    lines = [f"Library warnings: {total} in {len(warnings)} kinds (each one at --log-level debug)"]
    shown = warnings[:MAX_WARNING_KINDS]
    lines += [f"  {w['count']:>6}  {w['kind']}" for w in shown]
    rest = warnings[len(shown):]
    if rest:
        lines.append(f"  {sum(w['count'] for w in rest):>6}  {len(rest)} other kinds (all in the report)")
    return lines


def render(report: Dict[str, Any]) -> str:
    fig = report.get("figures", {})
    lines = _header_lines(report)
    lines += _outcome_lines(report, fig)
    lines += _content_lines(report.get("counts", {}), fig)
    lines += _timing_lines(report, fig)
    lines.extend(warning_lines(fig.get("warnings") or []))
    files = report.get("report_files", {})
    if files:
        lines.append(f"Report: {files.get('html')} (figures: {files.get('json')})")
    return "\n".join(lines)


def _header_lines(report: Dict[str, Any]) -> List[str]:
    elapsed = report.get("elapsed_seconds")
    return [
        f"newsbeam run {report.get('run_id', '?')}"
        + (f" finished in {elapsed:.1f} s" if elapsed is not None else "")
        + f" on {report.get('runner', '?')}",
        f"output: {report.get('output', '?')}",
        "",
    ]


def _outcome_lines(report: Dict[str, Any], fig: Dict[str, Any]) -> List[str]:
    """Where every input went: articles per topic/day, duplicates, dead letters,
    already written, chunks, and the accounting line that adds them up."""
    tables, counts = report.get("tables", {}), report.get("counts", {})
    lines = [f"Articles written: {tables.get('articles', 0)}"]
    per_day = fig.get("articles_per_topic_date")
    if per_day is None:
        per_day = [dict(zip(("topic", "date"), (p.split("=", 1)[1] for p in part.split("/"))), articles=n)
                   for part, n in report.get("partitions", {}).items()]
    if per_day:
        lines.extend(_per_day_lines(per_day))
    kinds = fig.get("duplicates_by_kind", counts.get("duplicates.kind", {}))
    lines.append("")
    lines.append(f"Duplicates recorded: {tables.get('duplicates', 0)}"
                 + (" (" + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())) + ")" if kinds else ""))
    lines += _dead_letter_lines(tables, counts, fig)
    lines.append(f"Already in the output from earlier runs (skipped): {report.get('skipped_already_written', 0)}")
    chunks = report.get("chunks") or {}
    if chunks.get("planned", 1) > 1:
        lines.append(f"Ran as {chunks.get('completed')} of {chunks['planned']} chunks of at most "
                     f"{chunks.get('chunk_pages')} pages (--chunk-pages): a page whose story an earlier chunk "
                     f"wrote is a duplicate of it, or already written if it has the same canonical URL")
    acc = fig.get("accounting") or report.get("accounting")
    if acc:
        lines.append(f"Accounting by input URL: {acc['inputs']} inputs = {acc['articles']} articles + "
                     f"{acc['duplicates']} duplicates + {acc['dead_letters']} dead letters + "
                     f"{acc['already_written']} already written; unaccounted: {acc['unaccounted']}")
        if acc["unaccounted"]:
            lines.append("  unaccounted, e.g.: " + ", ".join(acc.get("unaccounted_examples", [])[:5]))
    return lines


def _dead_letter_lines(tables: Dict[str, Any], counts: Dict[str, Any], fig: Dict[str, Any]) -> List[str]:
    reasons = fig.get("dead_letters_by_reason", counts.get("dead_letters.reason", {}))
    lines = [f"Dead letters: {tables.get('dead_letters', 0)}"]
    if reasons:
        lines.extend(_table([[k, v] for k, v in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))],
                            ["stage:reason", "count"]))
    failed = fig.get("failed_urls", [])
    if failed:
        shown = failed[:SUMMARY_ROWS]
        lines.append(f"Failed URLs (first {len(shown)} of {tables.get('dead_letters', len(failed))}; "
                     f"up to {len(failed)} in the report, all in _dead_letters):")
        lines.extend(_table([[f["url"], f"{f['stage']}:{f['reason']}"] for f in shown], ["url", "stage:reason"]))
    return lines


def _content_lines(counts: Dict[str, Any], fig: Dict[str, Any]) -> List[str]:
    """What the articles hold: top entities and sources, usage, tags."""
    lines = []
    if fig.get("top_entities"):
        lines.append("Top entities: " + ", ".join(
            f"{e['text']} ({e['label']}) {e['mentions']}" for e in fig["top_entities"]))
    else:
        entities = counts.get("articles.entities", {})
        top = sorted(entities.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
        if top:
            lines.append("Top entities: " + ", ".join(
                f"{k.split(chr(9))[0]} ({k.split(chr(9))[-1]}) {v}" for k, v in top))
    if fig.get("entities_languages", {}).get("not_tagged"):
        lines.append(entity_languages_line(fig))
    sources = [s for s in fig.get("top_sources", []) if s["articles"]]
    if sources:
        lines.append("Top sources: " + ", ".join(f"{s['source']} {s['articles']}" for s in sources))
    elif counts.get("articles.source_domain"):
        top = sorted(counts["articles.source_domain"].items(), key=lambda kv: (-kv[1], kv[0]))[:10]
        lines.append("Top sources: " + ", ".join(f"{k} {v}" for k, v in top))
    lines.extend(_usage_lines(fig.get("usage") or {}))
    tags = fig.get("articles_per_tag", {})
    if tags:
        lines.append("Articles per tag: " + ", ".join(f"{k} {v}" for k, v in list(tags.items())[:10]))
    return lines


def _timing_lines(report: Dict[str, Any], fig: Dict[str, Any]) -> List[str]:
    """Freshness, undated articles and the run's rate."""
    lines = []
    articles = report.get("tables", {}).get("articles", 0)
    elapsed = report.get("elapsed_seconds")
    fresh = fig.get("freshness_seconds", {})
    if any(f"p{p}" in fresh for p in PERCENTILES):
        lines.append("Freshness (fetched - published): " + ", ".join(
            f"p{p} {human_duration(fresh[f'p{p}'])}" for p in PERCENTILES if f"p{p}" in fresh)
            + f" over {fresh.get('articles_with_dates', 0)} dated articles")
    undated = fig.get("articles_without_publish_date")
    if undated is not None and articles:
        lines.append(f"Articles without a publish date: {undated} of {articles} "
                     "(published_at null, filed under the fetch day)")
    if elapsed is not None:
        rate = f", {articles / elapsed:.1f} articles/s" if elapsed and articles else ""
        lines.append(f"Elapsed: {elapsed:.1f} s{rate}")
    return lines
