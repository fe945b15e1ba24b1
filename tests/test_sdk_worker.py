"""The local runner's worker processes (pipeline/sdk_worker.py): Beam's worker main, started so
that a batch job's finished stages go while later ones run."""
from __future__ import annotations

import os
import pathlib
import sys
import time

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.portability import python_urns
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms import environments

from pipeline import runner as runners
from pipeline import sdk_worker


def _proto_with(*commands: str):
    pipeline = beam.Pipeline(runner="PortableRunner", options=PipelineOptions())
    _ = pipeline | beam.Create([1])
    proto = pipeline.to_runner_api()
    for i, command in enumerate(commands):
        environment = environments.SubprocessSDKEnvironment.from_command_string(command)
        proto.components.environments[f"env-{i}"].CopyFrom(environment.to_runner_api(None))
    return proto


def test_only_beams_own_worker_command_is_replaced():
    beams = sdk_worker.worker_command(sdk_worker.BEAM_WORKER_MODULE)
    users = "/opt/my-python -m my_worker --flag"
    proto = _proto_with(beams, users)
    assert sdk_worker.replace_worker_command(proto, beams, sdk_worker.worker_command()) == 1
    payloads = {name: env.payload.decode() for name, env in proto.components.environments.items()
                if env.urn == python_urns.SUBPROCESS_SDK}
    assert payloads == {"env-0": sdk_worker.worker_command(), "env-1": users}
    assert sdk_worker.worker_command().endswith(" -m pipeline.sdk_worker")


def test_the_default_local_runner_is_beams_fn_api_runner_with_our_workers():
    chosen = runners.choose_runner(PipelineOptions([]))
    assert isinstance(chosen, sdk_worker.FnApiRunner)
    assert runners.is_fn_api_runner(chosen) and runners.runner_label(chosen) == "FnApiRunner"
    assert "in-process" in runners.describe_runner(chosen, PipelineOptions([]), None)


def test_worker_processes_let_a_finished_stage_go_while_later_ones_run(tmp_path: pathlib.Path):
    """Beam's own workers keep a finished stage (its DoFns and what they hold) for 60 s, checked
    every 60 s: with them no stage is torn down before the job ends, and a chunk's NER stage
    carried the stages that had read ``_state`` (docs/performance.md). Ours tear it down
    within seconds, while the next stage still runs."""
    marks = str(tmp_path)

    class MarksTeardown(beam.DoFn):  # local: pickled by value, so the worker processes need no tests/
        def process(self, element):
            yield element

        def teardown(self):
            with open(os.path.join(marks, f"first-{os.getpid()}"), "w") as handle:
                handle.write(sys.modules["__main__"].__spec__.name)  # the worker's -m module

    def first_stage_released(_group, wait: float = 20.0) -> bool:
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if any(name.startswith("first-") for name in os.listdir(marks)):
                return True
            time.sleep(0.1)
        return False

    options = PipelineOptions(["--direct_running_mode=multi_processing", "--direct_num_workers=2"])
    with beam.Pipeline(runner=runners.choose_runner(options), options=options) as p:
        seen = (p | beam.Create([1, 2, 3, 4])
                | "First" >> beam.ParDo(MarksTeardown())
                | beam.GroupBy(lambda n: n % 2)  # a stage boundary
                | "Later" >> beam.Map(first_stage_released))
        assert_that(seen, equal_to([True, True]))
    started_as = {(tmp_path / name).read_text() for name in os.listdir(marks)}
    assert started_as == {sdk_worker.WORKER_MODULE}
