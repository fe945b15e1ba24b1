"""The all-cores default (pipeline/runner.py): which runner mode a run without flags picks."""
from __future__ import annotations

import gzip

from apache_beam.options.pipeline_options import DirectOptions, PipelineOptions

from pipeline import runner as runners


def test_a_big_input_gets_one_worker_per_core():
    plan = runners.auto_workers(pages=2000, cores=2, memory_mib=16_000)
    assert plan.workers == 2 and plan.multi_process
    assert "multi_processing, 2 workers" in plan.label()


def test_a_tiny_input_stays_in_process():
    plan = runners.auto_workers(pages=12, cores=8, memory_mib=16_000)
    assert plan.workers == 1 and not plan.multi_process
    assert "in-process" in plan.label() and "too few" in plan.reason


def test_workers_grow_with_the_input_up_to_the_cores():
    counts = [runners.auto_workers(pages=n, cores=8, memory_mib=64_000).workers
              for n in (100, 2 * runners.PAGES_PER_WORKER, 5 * runners.PAGES_PER_WORKER, 100_000)]
    assert counts == [1, 2, 5, 8]


def test_memory_caps_the_workers():
    memory = runners.RUNNER_MIB + 3 * runners.WORKER_MIB + 10
    plan = runners.auto_workers(pages=100_000, cores=16, memory_mib=memory)
    assert plan.workers == 3 and "memory" in plan.reason
    assert runners.auto_workers(pages=100_000, cores=16, memory_mib=100).workers == 1


def test_one_core_is_in_process():
    assert runners.auto_workers(pages=100_000, cores=1, memory_mib=None).workers == 1


def test_beams_own_flags_and_named_runners_win():
    for argv in (["--direct_running_mode=multi_threading"], ["--direct_num_workers=3"],
                 ["--runner", "PortableRunner"]):
        assert runners.plan_workers(PipelineOptions(argv), None, 100_000) is None, argv
    assert runners.plan_workers(PipelineOptions(["--runner", "DirectRunner"]), 3, 10).workers == 3


def test_workers_flag_and_streaming():
    assert runners.plan_workers(PipelineOptions([]), 1, 100_000).workers == 1
    assert runners.plan_workers(PipelineOptions([]), 4, 10).workers == 4
    assert runners.plan_workers(PipelineOptions([]), 4, 100_000, streaming=True).workers == 1


def test_the_plan_sets_beams_direct_options():
    options = PipelineOptions([])
    runners.apply_plan(options, runners.WorkerPlan(2, "test"))
    direct = options.view_as(DirectOptions)
    assert (direct.direct_running_mode, direct.direct_num_workers) == ("multi_processing", 2)
    runners.apply_plan(options, runners.WorkerPlan(1, "test"))
    assert (direct.direct_running_mode, direct.direct_num_workers) == ("in_memory", 1)
    from apache_beam.runners.portability.fn_api_runner import FnApiRunner
    assert "in-process" in runners.describe_runner(FnApiRunner(), options, None)


def test_page_estimate_counts_pages_feeds_and_archive_bytes(tmp_path):
    archive = tmp_path / "a.warc.gz"
    archive.write_bytes(gzip.compress(b"x") + b"\0" * (10 * runners.WARC_BYTES_PER_PAGE))
    estimate = runners.estimate_pages(pages=3, feeds=2, html_files=5, warc_paths=[str(archive)])
    assert estimate == 3 + 2 * runners.PAGES_PER_FEED + 5 + 10
    assert runners.estimate_pages(warc_paths=[str(tmp_path)]) == 10


def test_streaming_refuses_more_than_one_worker(tmp_path, capsys):
    from pipeline import cli
    code = cli.main(["--streaming", "--workers", "2", "--output", str(tmp_path / "out"),
                     "--feed", "https://example.com/feed.xml"])
    assert code == cli.EXIT_USAGE
    assert "one process" in capsys.readouterr().err
    assert not (tmp_path / "out" / "_state").exists()


def test_help_names_the_workers_flag(capsys):
    from pipeline import cli
    assert cli.main(["--help"]) == cli.EXIT_OK
    text = capsys.readouterr().out
    assert "--workers N" in text and "no --workers, no multi_processing" in text
