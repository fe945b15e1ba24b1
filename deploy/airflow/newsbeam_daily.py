"""Airflow DAG: a daily newsbeam batch on Dataflow.

Each run is incremental: newsbeam skips every URL and story already written to
the output (the index under ``<output>/_state/``), so a daily schedule adds
only what is new; rerunning a failed day is safe. Requires
``apache-airflow-providers-apache-beam`` and ``apache-airflow-providers-google``.
"""
from __future__ import annotations

import datetime as dt

from airflow import DAG
from airflow.providers.apache.beam.operators.beam import BeamRunPythonPipelineOperator
from airflow.providers.google.cloud.operators.dataflow import DataflowConfiguration

PROJECT = "my-project"
REGION = "europe-west1"
BUCKET = "gs://my-bucket"
# A checkout of the newsbeam repository on the Airflow workers (or baked into their image).
NEWSBEAM_HOME = "/opt/airflow/newsbeam"

with DAG(
    dag_id="newsbeam_daily",
    schedule="0 5 * * *",
    start_date=dt.datetime(2025, 1, 1),
    catchup=False,
    max_active_runs=1,  # two runs writing one output would race for the same stories
    default_args={"retries": 2, "retry_delay": dt.timedelta(minutes=15)},
    tags=["newsbeam"],
) as dag:
    ingest = BeamRunPythonPipelineOperator(
        task_id="ingest",
        runner="DataflowRunner",
        py_file=f"{NEWSBEAM_HOME}/deploy/flex-template/main.py",
        # Installed into a throw-away virtualenv for the launch; workers get the same
        # package through --setup_file.
        py_requirements=[f"{NEWSBEAM_HOME}[gcp]"],
        py_interpreter="python3",
        py_system_site_packages=False,
        pipeline_options={
            "output": f"{BUCKET}/news",
            "sources": f"{BUCKET}/config/sources.toml",
            "contact": "data-team@example.com",
            "temp_location": f"{BUCKET}/tmp",
            "setup_file": f"{NEWSBEAM_HOME}/setup.py",
            "max_num_workers": 8,
        },
        dataflow_config=DataflowConfiguration(
            job_name="newsbeam-{{ ds_nodash }}", project_id=PROJECT, location=REGION,
            wait_until_finished=True),
    )
