import os
import sys

from pipeline import cli
from pipeline.cli import EXIT_INTERRUPTED, main

cli.EXEC_SUPERVISOR = True  # a chunked run continues in the Beam-free chunk supervisor
code = main()
if code == EXIT_INTERRUPTED:
    # Stopped by Ctrl-C: do not wait at exit for fetch threads finishing a request in flight.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
sys.exit(code)
