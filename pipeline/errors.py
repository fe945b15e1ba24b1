"""Errors shared by the CLI and the job builders (its own module: no import cycle)."""


class UsageError(Exception):
    """A user mistake (bad flag, missing file, unusable output): one line, exit code 2."""
