"""Options, CLI, pipeline assembly, the demo and the run summary."""
import transforms  # noqa: F401  (installs the filter that keeps Beam's apitools notice from users)
