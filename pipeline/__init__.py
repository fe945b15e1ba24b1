"""Options, CLI, pipeline assembly, the demo and the run summary."""
