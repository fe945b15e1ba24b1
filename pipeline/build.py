"""The batch job: the one stage graph (``pipeline/graph.py``) in batch mode.

    sources -> feeds -> requests -> dedup(URL) -> fetch -> extract -> site templates
            -> dedup(canonical URL, content, near) -> entities -> topics
            -> Parquet (articles, _duplicates, _dead_letters, _state/index) -> run report
"""
from __future__ import annotations

from typing import Dict, Optional, Union

import apache_beam as beam

from pipeline import graph
from pipeline.config import JobConfig
from pipeline.sources_file import Sources


def job_config(options: Union[JobConfig, object]) -> JobConfig:
    """``options``: a JobConfig, or Beam options holding the newsbeam flags."""
    return options if isinstance(options, JobConfig) else JobConfig.from_options(options)


def build_pipeline(p: beam.Pipeline, options, inputs: Sources, run_id: str,
                   progress_dir: Optional[str] = None) -> Dict[str, beam.PCollection]:
    """Add the whole batch job to ``p``; returns the main PCollections (for tests).
    ``progress_dir``: where workers leave counts for the CLI's progress line."""
    return graph.build(p, job_config(options), inputs, graph.Batch(run_id, progress_dir))
