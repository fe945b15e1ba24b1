"""Flex Template entry point: the launcher runs this file with the template's
parameters as ``--name=value`` arguments; they are newsbeam's CLI flags."""
import sys

from pipeline.cli import main

if __name__ == "__main__":
    sys.exit(main())
