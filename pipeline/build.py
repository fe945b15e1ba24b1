"""Pipeline assembly: wires the transforms, nothing else.

    sources -> feeds -> requests -> dedup(URL) -> fetch -> extract -> site templates
            -> dedup(canonical URL, content) -> entities -> topics
            -> Parquet (articles, _duplicates, _dead_letters, _state/index) -> run report
"""
from __future__ import annotations

from typing import Dict, Optional

import apache_beam as beam

from transforms import feed_state
from transforms.minhash import NearDupConfig
from transforms import accounting, dedup, entities, extract, feeds, fetch, sink, site_learning, sources, topics, warc
from transforms import usage


def fetch_config(options) -> fetch.FetchConfig:
    return fetch.FetchConfig(
        user_agent=fetch.user_agent(options.contact),
        total_timeout=options.fetch_timeout,
        connect_timeout=min(10.0, options.fetch_timeout),
        max_bytes=options.max_page_bytes,
        allow_private_hosts=options.allow_private_hosts,
        host_delay=max(0.0, options.host_delay),
        respect_robots=not options.ignore_robots,
        max_parallel_hosts=max(1, options.max_parallel_hosts),
        host_concurrency=max(1, options.host_concurrency),
    )


def near_config(options) -> Optional[NearDupConfig]:
    """Near-duplicate settings from the options (None when disabled)."""
    if getattr(options, "no_near_duplicates", False):
        return None
    return NearDupConfig(shingle=options.shingle_size, bands=options.lsh_bands,
                         rows=options.lsh_rows, jaccard=options.near_dup_threshold,
                         containment=options.near_dup_containment).validate()


def build_pipeline(p: beam.Pipeline, options, inputs: sources.Sources, run_id: str,
                   progress_dir: Optional[str] = None) -> Dict[str, beam.PCollection]:
    """Add the whole batch job to ``p``; returns the main PCollections (for tests).
    ``progress_dir``: where workers leave counts for the CLI's progress line."""
    output = options.output
    config = fetch_config(options)
    dead_letters = []

    previous = p | "ReadPreviousRuns" >> sink.ReadPreviousIndex(output)

    def check_hosts(pcoll, label):  # the sources file's allow/deny host lists
        if not inputs.has_host_rules:
            return pcoll
        checked = pcoll | label >> sources.FilterHosts(inputs.allow_hosts, inputs.deny_hosts)
        dead_letters.append(checked.dead_letter)
        return checked.allowed

    feed_entries = (check_hosts(p | "FeedSources" >> beam.Create(list(inputs.feeds)), "CheckFeedHosts")
                    | "ReadFeeds" >> feeds.ReadFeeds(config, state_output=output))
    dead_letters.append(feed_entries.dead_letter)
    direct_pages = p | "PageSources" >> beam.Create(list(inputs.pages))
    all_requests = (feed_entries.entries, direct_pages) | "AllRequests" >> beam.Flatten()
    requests_ = (check_hosts(all_requests, "CheckPageHosts")
                 | "DedupRequests" >> dedup.DedupRequests(previous))
    # Accounting (transforms/accounting.py): every input URL must reach an outcome.
    input_urls = [all_requests | "RequestUrls" >> beam.FlatMap(lambda r: (r.url,) + tuple(r.aliases)),
                  feed_entries.dead_letter | "FeedFailureUrls" >> beam.Map(lambda d: d.url)]

    fetched = requests_.requests | "FetchPages" >> fetch.FetchPages(config)
    dead_letters.append(fetched.dead_letter)
    page_sets = [fetched.pages]
    if options.html_dir:
        saved = p | "ReadHtmlDir" >> sources.ReadHtmlDir(options.html_dir)
        dead_letters.append(saved.dead_letter)
        page_sets.append(saved.pages)
        input_urls += [saved.pages | "SavedPageUrls" >> beam.Map(lambda page: page.request.url),
                       saved.dead_letter | "SavedFailureUrls" >> beam.Map(lambda d: d.url)]
    if getattr(options, "warc", None):
        archived = p | "ReadWarc" >> warc.ReadWarc(options.warc)
        dead_letters.append(archived.dead_letter)
        input_urls += [archived.pages | "ArchivedPageUrls" >> beam.Map(lambda page: page.request.url),
                       archived.dead_letter | "ArchiveFailureUrls" >> beam.Map(lambda d: d.url)]
        page_sets.append(check_hosts(archived.pages, "CheckArchiveHosts"))
    tdm = getattr(options, "tdm", "record")
    # Extraction where each source's pages are read, no Flatten of raw pages: Beam's local
    # runner materialises a multi-input Flatten, which held every page's HTML in memory until
    # extraction (memory in proportion to the input; docs/performance.md).
    extractions = [pages | f"ExtractArticles{i or ''}" >> extract.ExtractArticles(
        options.min_words, timeout=getattr(options, "extract_timeout", extract.EXTRACT_TIMEOUT_S), tdm=tdm)
        for i, pages in enumerate(page_sets)]
    dead_letters.extend(extracted.dead_letter for extracted in extractions)
    extracted_articles = ([e.articles for e in extractions] | "AllExtracted" >> beam.Flatten()
                          if len(extractions) > 1 else extractions[0].articles)
    # Per-site template paragraphs out before dedup, so copies compare on clean text.
    learned = extracted_articles | "LearnSiteTemplates" >> site_learning.LearnSiteTemplates(
        options.boilerplate_min_articles)
    near = near_config(options)
    previous_signatures = (p | "ReadPreviousSignatures" >> dedup.ReadPreviousSignatures(output)
                           if near is not None else None)
    unique = learned | "Deduplicate" >> dedup.DedupArticles(
        previous, near=near, previous_signatures=previous_signatures)
    tagged = unique["articles"] | "TagEntities" >> entities.TagEntities(options.max_entities)
    dead_letters.append(tagged.dead_letter)
    articles = tagged.articles | "AssignTopics" >> topics.AssignTopics()

    all_dead = dead_letters | "AllDeadLetters" >> beam.Flatten()
    max_rows = options.max_rows_per_file
    # Data files are staged, then published together once all are written: a run
    # stopped before (Ctrl-C, a crash) shows readers nothing of itself.
    staging = sink.staging_root(output, run_id)
    to_write = articles
    if tdm == "omit-body":  # bodies dropped only from what is written
        to_write = articles | "OmitReservedBodies" >> beam.Map(usage.omit_body)
    written = [
        to_write | "WriteArticles" >> sink.WritePartitioned(output, "articles", max_rows, staging=staging),
        unique["duplicates"] | "WriteDuplicates" >> sink.WritePartitioned(output, "duplicates", max_rows,
                                                                          staging=staging),
        all_dead | "WriteDeadLetters" >> sink.WritePartitioned(output, "dead_letters", max_rows,
                                                               staging=staging),
    ]
    published = (written | "AllStagedFiles" >> beam.Flatten()
                 | "PublishStaged" >> sink.CommitStaged())
    present_urls = published | "PresentUrls" >> beam.FlatMap(
        lambda r: r.get("urls", []) if r.get("table") == sink.PRESENT else []).with_output_types(str)
    if progress_dir:
        from pipeline import progress
        progress.attach(progress_dir, entries=feed_entries.entries, fetched=fetched.pages, read=page_sets[1:],
                        extracted=extracted_articles, errors=all_dead, written=written)
    # Crash safety: the index and signatures tell later runs what to skip, so they are
    # written only once the data files exist (a side input forces the order); a job
    # killed in between leaves data without index, and the rerun rewrites the same files.
    data_written = published | "CountDataFiles" >> beam.combiners.Count.Globally()

    def after_data(pcoll, label):
        return pcoll | label >> beam.Map(lambda record, _done: record, beam.pvalue.AsSingleton(data_written))

    index = (after_data((articles | "IndexArticles" >> beam.FlatMap(sink.index_entries_for_article),
                         unique["duplicates"] | "IndexDuplicates" >> beam.Map(sink.index_entry_for_duplicate))
                        | "AllIndexEntries" >> beam.Flatten(), "IndexAfterData")
             | "WriteIndex" >> sink.WritePartitioned(output, "index", max_rows))
    state_files = []  # near-duplicate signatures of what was written, for later runs
    if near is not None:
        state_files.append(after_data(articles | "ArticleSignatures" >> dedup.SignaturesOf(near),
                                      "SignaturesAfterData")
                           | "WriteSignatures" >> sink.WritePartitioned(output, "signatures", max_rows))
    skipped_urls = (requests_.skipped, unique["skipped"], present_urls) | "AllSkipped" >> beam.Flatten()
    skipped = (skipped_urls
               | "CountSkipped" >> beam.combiners.Count.Globally()
               | "SkippedRecord" >> beam.Map(lambda n: {"table": "_skipped", "rows": n}))
    lineage = ([e[extract.LINEAGE] for e in extractions]
               + [pages | f"PageLineage{i or ''}" >> beam.Map(lambda page: (page.request.url, page.final_url))
                  for i, pages in enumerate(page_sets)]
               | "AllLineage" >> beam.Flatten())
    accounted = ({"inputs": input_urls | "AllInputUrls" >> beam.Flatten(), "lineage": lineage,
                  "articles": articles, "duplicates": unique["duplicates"], "dead_letters": all_dead,
                  "skipped": skipped_urls, "present": present_urls}
                 | "Accounting" >> accounting.Account())
    data_files = published | "DataFiles" >> beam.Filter(lambda r: r.get("table") != sink.PRESENT)
    report = (([data_files] + state_files + [skipped, accounted])
              | "AllWrittenFiles" >> beam.Flatten()
              | "MergeManifest" >> beam.CombineGlobally(_MergeManifest())
              | "WriteReport" >> beam.Map(lambda r: sink.write_report(output, run_id, r)))
    # Conditional-GET state last: a feed is only remembered once its entries are written.
    feed_states = (feed_entries.feed_state
                   | "CommitFeedStates" >> feed_state.CommitFeedStates(
                       output, incomplete=fetched.incomplete_feeds, after=[report, index]))
    return {"articles": articles, "duplicates": unique["duplicates"], "dead_letters": all_dead,
            "index": index, "report": report, "feed_states": feed_states}


class _MergeManifest(beam.CombineFn):
    def create_accumulator(self):
        return []

    def add_input(self, acc, record):
        acc.append(record)
        return acc

    def merge_accumulators(self, accs):
        return [r for acc in accs for r in acc]

    def extract_output(self, acc):
        records = sorted(acc, key=lambda r: (r.get("table", ""), r.get("path", "")))
        return sink.merge_manifest(records)
