"""Flex Template entry point of the streaming job: the launcher runs this file
with the template's parameters as ``--name=value`` arguments (newsbeam's CLI
flags); ``--streaming`` is implied, since a template parameter cannot be a bare flag."""
import sys

from pipeline.cli import main

if __name__ == "__main__":
    argv = sys.argv[1:]
    sys.exit(main(argv if "--streaming" in argv else ["--streaming", *argv]))
