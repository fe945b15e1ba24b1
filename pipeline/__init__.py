"""Options, CLI, pipeline assembly, the demo and the run summary."""
import logging


class _DropApitoolsNotice(logging.Filter):
    """Beam logs "apitools not found, and bigquery client libraries are not available"
    on the root logger whenever its GCP I/O is imported without the [gcp] extra
    (every command, ``--help`` included). It concerns BigQuery only, which newsbeam
    does not use: keep it from users and from the JSON logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("apitools not found")


logging.getLogger().addFilter(_DropApitoolsNotice())
