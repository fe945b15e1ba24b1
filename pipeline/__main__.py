import os
import sys

from pipeline.cli import EXIT_INTERRUPTED, main

code = main()
if code == EXIT_INTERRUPTED:
    # Stopped by Ctrl-C: do not wait at exit for fetch threads finishing a request in flight.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
sys.exit(code)
