"""The end-of-run summary, rendered from the run report the pipeline wrote."""
from __future__ import annotations

from typing import Any, Dict, List


def _table(rows: List[List[str]], header: List[str]) -> List[str]:
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    fmt = "  " + "  ".join(f"{{:<{w}}}" if i < len(header) - 1 else f"{{:>{w}}}"
                           for i, w in enumerate(widths))
    return [fmt.format(*header), fmt.format(*["-" * w for w in widths])] + \
        [fmt.format(*map(str, r)) for r in rows]


def render(report: Dict[str, Any]) -> str:
    lines: List[str] = []
    tables = report.get("tables", {})
    counts = report.get("counts", {})
    elapsed = report.get("elapsed_seconds")
    lines.append(f"newsbeam run {report.get('run_id', '?')}"
                 + (f" finished in {elapsed:.1f} s" if elapsed is not None else "")
                 + f" on {report.get('runner', '?')}")
    lines.append(f"output: {report.get('output', '?')}")
    lines.append("")
    articles = tables.get("articles", 0)
    lines.append(f"Articles written: {articles}")
    partitions = report.get("partitions", {})
    if partitions:
        rows = []
        for part in sorted(partitions):
            topic, date = (p.split("=", 1)[1] for p in part.split("/"))
            rows.append([topic, date, partitions[part]])
        lines.extend(_table(rows, ["topic", "date", "articles"]))
    kinds = counts.get("duplicates.kind", {})
    lines.append("")
    lines.append(f"Duplicates recorded: {tables.get('duplicates', 0)}"
                 + (" (" + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())) + ")" if kinds else ""))
    reasons = counts.get("dead_letters.reason", {})
    lines.append(f"Dead letters: {tables.get('dead_letters', 0)}")
    if reasons:
        lines.extend(_table([[k, v] for k, v in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))],
                            ["stage:reason", "count"]))
    lines.append(f"Already in the output from earlier runs (skipped): {report.get('skipped_already_written', 0)}")
    entities = counts.get("articles.entities", {})
    if entities:
        top = sorted(entities.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
        lines.append("Top entities: " + ", ".join(
            f"{k.split(chr(9))[0]} ({k.split(chr(9))[1]}) {v}" for k, v in top))
    domains = counts.get("articles.source_domain", {})
    if domains:
        top = sorted(domains.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
        lines.append("Top sources: " + ", ".join(f"{k} {v}" for k, v in top))
    if elapsed and articles:
        lines.append(f"Throughput: {articles / elapsed:.1f} articles/s")
    return "\n".join(lines)
