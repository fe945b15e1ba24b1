"""One module per stage: pure functions first, then the Beam transform wrapping them."""
import logging


class _DropApitoolsNotice(logging.Filter):
    """Beam logs "apitools not found, and bigquery client libraries are not available"
    on the root logger whenever its GCP I/O is imported without the [gcp] extra (every
    command, ``--help`` included, and again in each extraction worker). It concerns
    BigQuery only, which newsbeam does not use: keep it from users and the JSON logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "apitools not found" not in record.getMessage()


if not any(isinstance(f, _DropApitoolsNotice) for f in logging.getLogger().filters):
    logging.getLogger().addFilter(_DropApitoolsNotice())
