import os
import sys

from pipeline import arrow_pool

arrow_pool.before_pyarrow_loads()  # before anything below loads pyarrow

from pipeline import cli  # noqa: E402
from pipeline.cli import EXIT_INTERRUPTED, main  # noqa: E402

cli.EXEC_SUPERVISOR = True  # a chunked run continues in the Beam-free chunk supervisor
code = main()
if code == EXIT_INTERRUPTED:
    # Stopped by Ctrl-C: do not wait at exit for fetch threads finishing a request in flight.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
sys.exit(code)
