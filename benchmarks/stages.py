"""Stage boundaries of the batch graph, as the local FnApiRunner fuses it (no run).

    python -m benchmarks.stages                      # --html-dir job, near-dup on (the defaults)
    python -m benchmarks.stages --warc --url         # every page source at once
    python -m benchmarks.stages --list               # also name every materialised PCollection

Every PCollection that crosses from one fused stage to another is encoded by the SDK
worker, decoded, buffered and re-encoded by the runner process (serial, in one
process) and shipped again: that per-element cost is what this counts. Reported:
fused stages, materialised PCollections (buffers: GroupByKey inputs, sunk Flattens,
side inputs, others), and GroupByKeys / multi-input Flattens / side inputs in the
pipeline proto.
"""
from __future__ import annotations

import argparse
import collections
import json
import tempfile
from typing import Dict, Optional, Sequence

STAGE_KINDS = ("group", "materialize", "timer", "other")


def build_proto(argv: Sequence[str]):
    """The batch job's pipeline proto for CLI flags ``argv`` (built, never run)."""
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    from pipeline.build import build_pipeline
    from pipeline.config import JobConfig
    from pipeline.sources_file import Sources
    from schemas.records import PageRequest

    options = PipelineOptions(list(argv))
    job = JobConfig.from_options(options)
    pages = tuple(PageRequest(url=u, origin="url") for u in options.get_all_options().get("url") or ())
    pipeline = beam.Pipeline(runner="DirectRunner", options=PipelineOptions())
    build_pipeline(pipeline, job, Sources(pages=pages), "stages")
    return pipeline.to_runner_api()


def count(proto) -> Dict[str, object]:
    """Fused stages and materialised PCollections of ``proto`` on the FnApiRunner."""
    from apache_beam.portability import common_urns
    from apache_beam.portability.api import beam_runner_api_pb2
    from apache_beam.runners.portability.fn_api_runner import fn_runner
    from apache_beam.runners.worker import bundle_processor

    transforms = proto.components.transforms
    leaves = [t for t in transforms.values() if not t.subtransforms]
    gbks = sum(t.spec.urn == common_urns.primitives.GROUP_BY_KEY.urn for t in leaves)
    flattens = sum(t.spec.urn == common_urns.primitives.FLATTEN.urn and len(t.inputs) > 1 for t in leaves)
    side_inputs = 0
    for t in leaves:
        if t.spec.urn == common_urns.primitives.PAR_DO.urn:
            payload = beam_runner_api_pb2.ParDoPayload.FromString(t.spec.payload)
            side_inputs += len(payload.side_inputs)
    _context, stages = fn_runner.FnApiRunner().create_stages(proto)
    buffers: Dict[str, str] = {}
    for stage in stages:
        for t in stage.transforms:
            if t.spec.urn == bundle_processor.DATA_OUTPUT_URN:
                buffer_id = t.spec.payload.decode("utf-8", "replace")
                kind = buffer_id.split(":", 1)[0]
                buffers[buffer_id] = kind if kind in STAGE_KINDS else "other"
    by_kind = collections.Counter(buffers.values())
    names = sorted(_producer_label(proto, b) for b in buffers)
    return {"stages": len(stages), "buffers": len(buffers), "buffers_by_kind": dict(sorted(by_kind.items())),
            "gbk": gbks, "multi_input_flattens": flattens, "side_inputs": side_inputs, "buffer_names": names}


def _producer_label(proto, buffer_id: str) -> str:
    """The label of the transform producing a buffer's PCollection (readable)."""
    kind, _, pcoll = buffer_id.partition(":")
    for t in proto.components.transforms.values():
        if not t.subtransforms and pcoll in t.outputs.values():
            return f"{kind}: {t.unique_name}"
    return buffer_id


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--warc", action="store_true", help="also read a WARC file")
    parser.add_argument("--url", action="store_true", help="also fetch a page (--url)")
    parser.add_argument("--no-near", action="store_true", help="near-duplicates off")
    parser.add_argument("--list", action="store_true", help="name every materialised PCollection")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="newsbeam-stages-") as tmp:
        flags = ["--output", f"{tmp}/out", "--html-dir", tmp]
        if args.warc:
            flags += ["--warc", f"{tmp}/x.warc.gz"]
        if args.url:
            flags += ["--url", "https://a.example/story"]
        if args.no_near:
            flags += ["--no-near-duplicates"]
        found = count(build_proto(flags))
    if not args.list:
        found.pop("buffer_names")
    if args.json:
        print(json.dumps(found, indent=1))
    else:
        for key, value in found.items():
            if key == "buffer_names":
                print("materialised:\n  " + "\n  ".join(value))
            else:
                print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
