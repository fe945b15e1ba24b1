"""End-to-end benchmark: the Beam pipeline against a plain Python loop doing the same work.

    python -m benchmarks.pipeline                          # 2,000 generated pages, from files
    python -m benchmarks.pipeline --modes files,http --size 400 --rounds 2 --json bench.json
    python -m benchmarks.pipeline --pages DIR              # any folder of real HTML pages
    python -m benchmarks.pipeline --modes files --variants a,c --json out.json

Variants, each a fresh process on the same corpus and a fresh output folder:

- ``a`` baseline: a plain loop over the same core functions the pipeline's transforms call
  (read/fetch -> ``extract_article`` -> per-site template learning -> dedup by canonical
  URL, content hash and MinHash/LSH -> ``tag_texts`` (batches of 32) -> ``assign_topic`` ->
  ``write_partition`` for articles, duplicates, dead letters, index and signatures), no Beam;
  per-stage times come from here.
- ``b`` ``python -m pipeline --workers 1``: in-process (FnApiRunner, one worker);
- ``c`` ``python -m pipeline --workers 2``: two SDK worker processes (multi_processing);
- ``d`` ``python -m pipeline`` with no runner flag: what the automatic choice picks
  (``pipeline/runner.py``; one worker per core for inputs big enough).
- ``B``, ``C``: ``b`` and ``c`` run from another checkout (``--compare-tree DIR``, e.g. a
  ``git worktree`` of main), interleaved with the others: before/after under the same load.

Modes: ``files`` (``--html-dir``) and ``http``: the corpus served by a separate process on one
loopback address per site (``benchmarks.corpus --serve``), read through its RSS feeds with
politeness off (``--host-delay 0 --ignore-robots --allow-private-hosts``). The baseline
fetches the same feeds and pages one after another with the pipeline's own fetch functions.

Rounds interleave the variants (a b c, then c b a, ...), so drift in machine load hits all of
them alike; the table and the JSON give medians, the ratios (b)/(a) and (c)/(a) of
throughput (articles/s) measured in the same run, CPU-seconds of the whole process tree,
peak RSS of the whole process tree (polled from /proc every 0.1 s), and the row counts each
variant wrote (they must agree: a faster run that writes less is no win). Load average and
``nproc`` are recorded before and after: on a shared machine the ratios are what counts.
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import pathlib
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

ROOT = pathlib.Path(__file__).resolve().parents[1]
VARIANTS = {"a": "baseline (plain loop)", "b": "pipeline, in-process",
            "c": "pipeline, multi_processing x2", "d": "pipeline, default (auto)",
            "B": "--compare-tree, in-process", "C": "--compare-tree, multi_proc. x2"}
COMPARED = {"B": "b", "C": "c"}  # variants run from --compare-tree
POLITENESS_OFF = ["--host-delay", "0", "--ignore-robots", "--allow-private-hosts"]
STAGES = ("read", "extract", "site_learning", "dedup", "entities", "topics", "write")


# --------------------------------------------------------------------------- the baseline

def _baseline_fetch_config():
    from transforms import fetch
    return fetch.FetchConfig(user_agent=fetch.user_agent(None), total_timeout=30.0,
                             connect_timeout=10.0, max_bytes=fetch.MAX_BODY_BYTES,
                             allow_private_hosts=True, host_delay=0.0, respect_robots=False,
                             max_parallel_hosts=16, host_concurrency=1)


def read_inputs(html_dir: Optional[str], feeds: Sequence[str]) -> Tuple[list, list]:
    """(pages, dead letters) from a folder of saved pages and/or feeds fetched over HTTP."""
    from schemas.records import DeadLetter, FeedRequest
    from transforms import dedup, fetch, feeds as feeds_mod, sources, urls
    pages, dead = [], []
    if html_dir:
        for path in sources.list_html_files(html_dir):
            result = sources.read_html_file(path)
            (dead if isinstance(result, DeadLetter) else pages).append(result)
    if feeds:
        config = _baseline_fetch_config()
        session = fetch.make_session(config)
        requests_: Dict[str, list] = {}
        for url in feeds:
            read = feeds_mod.read_feed(FeedRequest(url=url), session, config)
            dead.extend(read.dead)
            for request in read.pages:
                requests_.setdefault(urls.url_key(request.url), []).append(request)
        for key in sorted(requests_):
            result = fetch.fetch_page(session, None, dedup.merge_requests(requests_[key]), config)
            (dead if isinstance(result, DeadLetter) else pages).append(result)
    return pages, dead


def dedup_articles(articles: list, near) -> Tuple[list, list, dict]:
    """What ``DedupArticles`` does for a first run, as a loop: fold by canonical URL, then by
    content hash, then near copies per LSH component. Returns (stories, duplicates,
    sketches by article_id)."""
    from transforms import dedup, minhash
    now = dt.datetime.now(dt.timezone.utc)

    def fold_by(items, key, kind):
        groups: Dict[str, list] = {}
        for article in items:
            groups.setdefault(key(article), []).append(article)
        out = []
        for group_key in sorted(groups):
            representative, others = dedup.choose(groups[group_key])
            out.append(dedup.fold(representative, others, kind))
        return out

    stories = fold_by(articles, lambda a: a.article_id, "url")
    stories = fold_by(stories, lambda a: a.content_hash, "exact")
    sketches: Dict[str, object] = {}
    if near is not None:
        hasher = minhash.MinHasher(near.num_perm, near.seed)
        sketched = [dedup.sketch(a, hasher, near) for a in stories]
        buckets: Dict[str, list] = {}
        for s in sketched:
            sketches[s.article.article_id] = s
            if s.size == 0:
                continue
            for key in minhash.band_keys(dedup._sig(s.signature), near.bands, near.rows):
                buckets.setdefault(key, []).append((s.article.article_id, 1))
        links = [link for key in sorted(buckets) for link in dedup.bucket_links(buckets[key])]
        component = dedup.components(links)
        groups: Dict[str, list] = {}
        stories = []
        for s in sketched:
            if s.article.article_id in component:
                groups.setdefault(component[s.article.article_id], []).append(s)
            else:
                stories.append(s.article)
        for key in sorted(groups):
            representatives, _to_previous = dedup.cluster_component(groups[key], [], near)
            stories.extend(representatives)
    duplicates = [d for a in stories for d in dedup.duplicates_of(a, a.article_id, now)]
    return stories, duplicates, sketches


def write_table(output: str, table: str, records: Iterable) -> int:
    """Group records by partition and write them with the sink's own writer; returns files."""
    from schemas import arrow as arrow_schemas
    from transforms import sink
    partitions: Dict[str, list] = {}
    for record in records:
        partitions.setdefault(sink.partition_of(table, record), []).append(record)
    files = 0
    for partition in sorted(partitions):
        rows = arrow_schemas.rows_for(table, partitions[partition])
        files += len(sink.write_partition(output, table, partition, rows))
    return files


def run_baseline(output: str, html_dir: Optional[str] = None, feeds: Sequence[str] = (),
                 min_words: Optional[int] = None, boilerplate_min_articles: int = 3,
                 max_entities: int = 50) -> Dict[str, object]:
    """The whole job as a plain loop; returns per-stage seconds and row counts."""
    from schemas.records import DeadLetter
    from transforms import dedup, entities, extract, sink, site_learning, topics
    from transforms.minhash import NearDupConfig
    if min_words is None:  # the CLI's default (--min-words), so both write the same rows
        from pipeline.options import NewsbeamOptions
        min_words = NewsbeamOptions([]).min_words
    times: Dict[str, float] = {}
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        times[stage] = times.get(stage, 0.0) + now - clock
        clock = now

    # Heavy state first, like DoFn.setup(): not part of any per-element stage.
    nlp = entities.load_model()
    classifier = topics.TopicClassifier.load()
    near = NearDupConfig().validate()
    lap("setup")

    pages, dead = read_inputs(html_dir, feeds)
    lap("read")
    articles = []
    for page in pages:
        result = extract.extract_article(page, min_words=min_words)
        (dead if isinstance(result, DeadLetter) else articles).append(result)
    lap("extract")
    if boilerplate_min_articles:
        by_site: Dict[str, list] = {}
        for article in articles:
            by_site.setdefault(site_learning.site_of(article), []).append(article)
        cleaned = []
        for site in sorted(by_site):
            model = site_learning.learn(a.body for a in by_site[site])
            cleaned.extend(site_learning.apply_removal(a, model, boilerplate_min_articles)[0]
                           for a in by_site[site])
        articles = cleaned
    lap("site_learning")
    stories, duplicates, sketches = dedup_articles(articles, near)
    lap("dedup")
    tagged = []
    for start in range(0, len(stories), entities.BATCH_SIZE):
        batch = stories[start:start + entities.BATCH_SIZE]
        found = entities.tag_texts(nlp, [a.body for a in batch], cap=max_entities)
        tagged.extend(dataclasses.replace(a, entities=e) for a, e in zip(batch, found))
    lap("entities")
    final = [topics.assign_topic(a, classifier) for a in tagged]
    lap("topics")
    now = dt.datetime.now(dt.timezone.utc)
    write_table(output, "articles", final)
    write_table(output, "duplicates", duplicates)
    write_table(output, "dead_letters", dead)
    index = [e for a in final for e in sink.index_entries_for_article(a)]
    index += [sink.index_entry_for_duplicate(d) for d in duplicates]
    write_table(output, "index", index)
    write_table(output, "signatures", [dedup.signature_entry(sketches[a.article_id], near, now)
                                       for a in final if a.article_id in sketches])
    lap("write")
    return {"stages": {k: round(v, 3) for k, v in times.items()}, "pages": len(pages),
            "articles": len(final), "duplicates": len(duplicates), "dead_letters": len(dead),
            "words": sum(a.word_count for a in final)}


# --------------------------------------------------------------------------- measuring processes

def _children_map() -> Dict[int, List[int]]:
    children: Dict[int, List[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2:].split()
        children.setdefault(int(fields[1]), []).append(int(name))
    return children


def _label(pid: int) -> str:
    """A short name for a process of the tree: the module it runs."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            args = handle.read().decode("utf-8", "replace").split("\0")
    except OSError:
        return "?"
    if "-m" in args and args.index("-m") + 1 < len(args):
        return args[args.index("-m") + 1]
    return os.path.basename(args[0]) if args and args[0] else "?"


def _cpu_seconds(pid: int) -> Optional[float]:
    """User + system CPU seconds of one process so far (None once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
    except OSError:
        return None
    fields = stat[stat.rfind(b")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_rss(root: int, parts: Optional[Dict[str, int]] = None,
             cpu: Optional[Dict[int, Tuple[str, float]]] = None) -> int:
    """Resident bytes of ``root`` and all its descendants (0 once it is gone); with
    ``parts``, also bytes per kind of process (see :func:`_label`); with ``cpu``, the
    latest (kind, CPU seconds) of every process seen, by pid."""
    children = _children_map()
    total, stack = 0, [root]
    page = os.sysconf("SC_PAGE_SIZE")
    while stack:
        pid = stack.pop()
        stack.extend(children.get(pid, ()))
        try:
            with open(f"/proc/{pid}/statm", "rb") as handle:
                rss = int(handle.read().split()[1]) * page
        except (OSError, IndexError, ValueError):
            continue
        total += rss
        if parts is not None or cpu is not None:
            label = _label(pid)
            if parts is not None:
                parts[label] = parts.get(label, 0) + rss
            seconds = _cpu_seconds(pid) if cpu is not None else None
            if seconds is not None:  # a zombie has lost its command line: keep the first name seen
                cpu[pid] = (cpu[pid][0] if pid in cpu and label == "?" else label, seconds)
    return total


def run_measured(cmd: List[str], env: Optional[dict] = None, log: Optional[pathlib.Path] = None,
                 interval: float = 0.1, cwd: pathlib.Path = ROOT,
                 on_sample: Optional[Callable[[int, Dict[str, int]], None]] = None) -> Dict[str, float]:
    """Run ``cmd``; wall seconds, CPU seconds of the process tree (waited-for descendants
    included) and peak RSS of the tree. Raises on a non-zero exit. ``on_sample(bytes,
    bytes by kind)`` sees every sample (e.g. peaks per chunk)."""
    out = open(log, "wb") if log else subprocess.DEVNULL
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    peak, peak_parts, done = [0], [{}], threading.Event()
    cpu_by_pid: Dict[int, Tuple[str, float]] = {}

    def poll():
        while not done.is_set():
            parts: Dict[str, int] = {}
            total = tree_rss(proc.pid, parts, cpu_by_pid)
            if total > peak[0]:
                peak[0], peak_parts[0] = total, parts
            if on_sample is not None:
                on_sample(total, parts)
            done.wait(interval)

    watcher = threading.Thread(target=poll, daemon=True)
    watcher.start()
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    done.set()
    watcher.join()
    if log:
        out.close()
    if proc.returncode != 0:
        tail = log.read_text(errors="replace")[-2000:] if log else ""
        raise RuntimeError(f"{' '.join(cmd[:4])}... exited {proc.returncode}\n{tail}")
    cpu_parts: Dict[str, float] = {}
    for label, seconds in cpu_by_pid.values():  # sampled: a process's last 0.1 s may be missed
        cpu_parts[label] = cpu_parts.get(label, 0.0) + seconds
    return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime, "peak_rss_mib": peak[0] / 2**20,
            "peak_rss_by_process_mib": {k: round(v / 2**20) for k, v in sorted(peak_parts[0].items())},
            "cpu_by_process_s": {k: round(v, 1) for k, v in sorted(cpu_parts.items())},
            "processes": len(cpu_by_pid)}


def count_rows(output: str) -> Dict[str, int]:
    import pyarrow.parquet as pq
    counts = {}
    for table, folder in (("articles", ""), ("duplicates", "_duplicates"),
                          ("dead_letters", "_dead_letters")):
        base = pathlib.Path(output) / folder
        files = [p for p in base.rglob("*.parquet")
                 if not p.name.startswith(".") and (folder or not any(
                     part.startswith("_") for part in p.relative_to(base).parts))]
        counts[table] = sum(pq.ParquetFile(p).metadata.num_rows for p in files)
    return counts


# --------------------------------------------------------------------------- the run

def machine() -> Dict[str, object]:
    cpu = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = 0
    try:
        mem = int(open("/proc/meminfo").readline().split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    import apache_beam
    return {"nproc": os.cpu_count(), "affinity": len(os.sched_getaffinity(0)), "cpu": cpu,
            "memory_gib": round(mem / 2**30, 1), "python": platform.python_version(),
            "beam": apache_beam.__version__, "platform": platform.platform()}


class Server:
    """``benchmarks.corpus --serve`` in its own process (its CPU is not the job's)."""

    def __init__(self, corpus_dir: pathlib.Path):
        self.proc = subprocess.Popen([sys.executable, "-m", "benchmarks.corpus", "--serve", str(corpus_dir)],
                                     cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("corpus server did not start")
        self.info = json.loads(line)

    def close(self) -> None:
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def command(variant: str, mode: str, source: Dict[str, object], output: str) -> List[str]:
    if mode == "files":
        inputs = ["--html-dir", str(source["html_dir"])]
    else:
        inputs = [arg for url in source["feeds"] for arg in ("--feed", url)] + POLITENESS_OFF
    if variant == "a":
        return [sys.executable, "-m", "benchmarks.pipeline", "--child-baseline", "--output", output] + inputs
    cmd = [sys.executable, "-m", "pipeline", "--output", output, "--quiet", "--progress-interval", "0"] + inputs
    return cmd + {"b": ["--workers", "1"], "c": ["--workers", "2"], "d": []}[COMPARED.get(variant, variant)]


def combine_page_dirs(folders: Sequence[pathlib.Path], target: pathlib.Path) -> pathlib.Path:
    """Several folders of saved pages as one (``target/<i>-<name>/...``), for one ``--html-dir``."""
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for i, folder in enumerate(folders):
        shutil.copytree(folder.resolve(), target / f"{i}-{folder.resolve().parent.name}-{folder.name}")
    return target.resolve()


def loadavg() -> List[float]:
    return [round(x, 2) for x in os.getloadavg()]


def summarise(runs: List[dict], modes: Sequence[str], variants: Sequence[str]) -> Dict[str, dict]:
    summary: Dict[str, dict] = {}
    for mode in modes:
        entry: Dict[str, object] = {}
        for variant in variants:
            mine = [r for r in runs if r["mode"] == mode and r["variant"] == variant]
            if not mine:
                continue
            entry[variant] = {
                "runs": len(mine),
                "wall_s": round(statistics.median(r["wall_s"] for r in mine), 2),
                "cpu_s": round(statistics.median(r["cpu_s"] for r in mine), 2),
                "articles_per_s": round(statistics.median(r["articles_per_s"] for r in mine), 2),
                "peak_rss_mib": round(max(r["peak_rss_mib"] for r in mine), 1),
                "peak_rss_by_process_mib": max(mine, key=lambda r: r["peak_rss_mib"]).get(
                    "peak_rss_by_process_mib", {}),
                "rows": mine[0]["rows"],
                "rows_agree": all(r["rows"] == mine[0]["rows"] for r in mine),
            }
            if variant == "a":
                stages = {s: statistics.median(r["stages"].get(s, 0.0) for r in mine)
                          for s in ("setup",) + STAGES}
                entry[variant]["stages_s"] = {s: round(v, 3) for s, v in stages.items()}
                pages = mine[0].get("pages") or 1
                entry[variant]["stages_ms_per_page"] = {s: round(1000 * v / pages, 2)
                                                         for s, v in stages.items() if s != "setup"}
        if "a" in entry:
            base = entry["a"]["articles_per_s"]
            for variant in ("b", "c", "d", *COMPARED):
                if variant in entry and base:
                    entry[f"ratio_{variant}_a"] = round(entry[variant]["articles_per_s"] / base, 3)
                    # paired per round: robust to load that drifts between rounds
                    pairs = [(r, s) for r in runs for s in runs
                             if r["mode"] == s["mode"] == mode and r["round"] == s["round"]
                             and r["variant"] == "a" and s["variant"] == variant]
                    entry[f"ratio_{variant}_a_paired_median"] = round(statistics.median(
                        s["articles_per_s"] / r["articles_per_s"] for r, s in pairs), 3) if pairs else None
                    # CPU-seconds of the whole process tree move far less than wall time when
                    # other jobs share the cores: the same work's CPU cost, baseline / variant
                    # (1.0 = no overhead; for c, twice this bounds the 2-core speed-up).
                    entry[f"cpu_ratio_{variant}_a"] = round(entry["a"]["cpu_s"] / entry[variant]["cpu_s"], 3)
        summary[mode] = entry
    return summary


def table(summary: Dict[str, dict]) -> str:
    lines = [f"{'mode':6} {'variant':32} {'wall s':>8} {'CPU s':>8} {'art/s':>7} {'ratio':>6} "
             f"{'CPU ratio':>9} {'peak RSS MiB':>12}  rows (articles/dups/dead)"]
    for mode, entry in summary.items():
        for variant, label in VARIANTS.items():
            if variant not in entry:
                continue
            e = entry[variant]
            ratio = entry.get(f"ratio_{variant}_a", 1.0 if variant == "a" else None)
            cpu_ratio = entry.get(f"cpu_ratio_{variant}_a", 1.0 if variant == "a" else None)
            rows = e["rows"]
            lines.append(f"{mode:6} {variant + ' ' + label:32} {e['wall_s']:8.1f} {e['cpu_s']:8.1f} "
                         f"{e['articles_per_s']:7.2f} {ratio if ratio is not None else '-':>6} "
                         f"{cpu_ratio if cpu_ratio is not None else '-':>9} "
                         f"{e['peak_rss_mib']:12.0f}  {rows['articles']}/{rows['duplicates']}/"
                         f"{rows['dead_letters']}{'' if e['rows_agree'] else ' (differ between rounds!)'}")
        if "a" in entry:
            per = entry["a"]["stages_ms_per_page"]
            lines.append(f"{mode:6} baseline ms/page: " + ", ".join(f"{s} {v:.1f}" for s, v in per.items())
                         + f" (setup {entry['a']['stages_s']['setup']:.1f} s once)")
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=2000, help="generated pages (default 2000)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--pages", type=pathlib.Path, action="append", default=None,
                        help="use this folder of HTML files instead of a generated corpus; repeatable "
                             "(the folders are copied side by side into the work folder)")
    parser.add_argument("--rounds", type=int, default=1, help="interleaved repetitions (default 1)")
    parser.add_argument("--modes", default="files",
                        help="files and/or http, comma-separated (default files: the 2,000-page default "
                             "then fits in 10 minutes on 2 idle cores; files,http takes about twice as long)")
    parser.add_argument("--variants", default="a,b,c", help="a,b,c (default all)")
    parser.add_argument("--workdir", type=pathlib.Path, default=None,
                        help="where the corpus and outputs go (default: a temporary folder, removed)")
    parser.add_argument("--json", type=pathlib.Path, default=None, help="write the results here")
    parser.add_argument("--keep-outputs", action="store_true",
                        help="keep each run's output folder under --workdir (to compare the rows)")
    parser.add_argument("--compare-tree", type=pathlib.Path, default=None,
                        help="another checkout (e.g. `git worktree add ../base main`): variants B and C "
                             "run its pipeline (in-process, 2 workers) with this venv, interleaved")
    # internal: the baseline variant's own process
    parser.add_argument("--child-baseline", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--output", help=argparse.SUPPRESS)
    parser.add_argument("--html-dir", help=argparse.SUPPRESS)
    parser.add_argument("--feed", action="append", default=[], help=argparse.SUPPRESS)
    for flag in ("--host-delay",):
        parser.add_argument(flag, help=argparse.SUPPRESS)
    parser.add_argument("--ignore-robots", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--allow-private-hosts", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child_baseline:
        result = run_baseline(args.output, html_dir=args.html_dir, feeds=args.feed)
        (pathlib.Path(args.output) / "_baseline.json").write_text(json.dumps(result))
        return 0

    modes = [m for m in args.modes.split(",") if m]
    variants = [v for v in args.variants.split(",") if v]
    if set(modes) - {"files", "http"} or set(variants) - set(VARIANTS):
        parser.error("--modes takes files,http; --variants takes a,b,c,d (B,C with --compare-tree)")
    if set(variants) & set(COMPARED) and not args.compare_tree:
        parser.error("variants B and C need --compare-tree DIR")
    workdir = args.workdir or pathlib.Path(tempfile.mkdtemp(prefix="newsbeam-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    result: Dict[str, object] = {"machine": machine(), "load_before": loadavg(),
                                 "started_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                                 "args": {"size": args.size, "seed": args.seed, "rounds": args.rounds,
                                          "pages": [str(p) for p in args.pages] if args.pages else None,
                                          "modes": modes, "variants": variants,
                                          "compare_tree": str(args.compare_tree) if args.compare_tree else None}}
    server = None
    try:
        if args.pages and len(args.pages) == 1:
            corpus_dir, html_dir = args.pages[0].resolve(), args.pages[0].resolve()
        elif args.pages:
            corpus_dir = html_dir = combine_page_dirs(args.pages, workdir / "pages")
        else:
            from benchmarks import corpus
            corpus_dir = workdir / "corpus"
            if (corpus_dir / "manifest.json").exists():
                manifest = json.loads((corpus_dir / "manifest.json").read_text())
                if (manifest.get("pages"), manifest.get("seed")) != (args.size, args.seed):
                    shutil.rmtree(corpus_dir)
            if not (corpus_dir / "manifest.json").exists():
                t0 = time.perf_counter()
                corpus.generate(corpus_dir, args.size, args.seed)
                print(f"corpus: {args.size} pages in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
            html_dir = corpus_dir / "pages"
            result["corpus"] = json.loads((corpus_dir / "manifest.json").read_text())["kinds"]
        sources: Dict[str, Dict[str, object]] = {"files": {"html_dir": html_dir}}
        if "http" in modes:
            server = Server(corpus_dir)
            sources["http"] = {"feeds": server.info["feeds"]}
        runs: List[dict] = []
        env = dict(os.environ, PYTHONHASHSEED="0")
        for round_ in range(args.rounds):
            order = variants if round_ % 2 == 0 else variants[::-1]
            for mode in modes:
                for variant in order:
                    output = workdir / f"out-{mode}-{variant}-{round_}"
                    shutil.rmtree(output, ignore_errors=True)
                    output.mkdir(parents=True)
                    log = workdir / f"log-{mode}-{variant}-{round_}.txt"
                    tree = args.compare_tree.resolve() if variant in COMPARED else ROOT
                    measured = run_measured(command(variant, mode, sources[mode], str(output)),
                                            dict(env, PYTHONPATH=str(tree)), log, cwd=tree)
                    rows = count_rows(str(output))
                    run = {"mode": mode, "variant": variant, "round": round_, **measured, "rows": rows,
                           "articles_per_s": rows["articles"] / measured["wall_s"], "load": loadavg()}
                    if variant == "a":
                        child = json.loads((output / "_baseline.json").read_text())
                        run["stages"], run["pages"] = child["stages"], child["pages"]
                    runs.append(run)
                    print(f"round {round_} {mode:5} {variant}: {measured['wall_s']:.1f} s wall, "
                          f"{measured['cpu_s']:.1f} s CPU, {run['articles_per_s']:.2f} articles/s, "
                          f"peak RSS {measured['peak_rss_mib']:.0f} MiB {measured['peak_rss_by_process_mib']}, "
                          f"rows {rows}, load {run['load']}",
                          file=sys.stderr)
                    if not args.keep_outputs:
                        shutil.rmtree(output, ignore_errors=True)
        result["runs"] = [{k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()} for r in runs]
        result["summary"] = summarise(runs, modes, variants)
        result["load_after"] = loadavg()
        result["elapsed_s"] = round(time.perf_counter() - started, 1)
    finally:
        if server is not None:
            server.close()
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    print(f"machine: {result['machine']['nproc']} CPUs ({result['machine']['cpu']}), load before "
          f"{result['load_before']}, after {result['load_after']}; {result['elapsed_s']} s in all")
    print(table(result["summary"]))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
