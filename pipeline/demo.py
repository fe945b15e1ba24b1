"""The bundled demo: a small news site served on loopback, and the default job.

``python -m pipeline.demo [--output DIR] [pipeline flags...]`` serves
``pipeline/demo_site`` on 127.0.0.1, runs the batch job against its feeds and
prints the summary. ``python -m pipeline.demo --serve`` only serves it.

The server replaces ``__BASE_URL__`` in served files with its own address. A
rerun into the same output reuses the port of the previous run (recorded under
``DIR/_state/demo.json``) so that URLs, and therefore article ids, are stable.
"""
from __future__ import annotations

import argparse
import contextlib
import http.server
import json
import os
import pathlib
import socket
import sys
import threading
import urllib.parse
from typing import Iterator, List, Optional, Sequence

DEMO_ROOT = pathlib.Path(__file__).resolve().parent / "demo_site"
DEFAULT_PORT = 8765
TOKEN = b"__BASE_URL__"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8", ".htm": "text/html; charset=utf-8",
    ".xml": "application/rss+xml; charset=utf-8", ".atom": "application/atom+xml; charset=utf-8",
    ".json": "application/feed+json; charset=utf-8", ".txt": "text/plain; charset=utf-8",
    ".pdf": "application/pdf", ".opml": "text/x-opml; charset=utf-8",
}


class _Handler(http.server.BaseHTTPRequestHandler):
    root: pathlib.Path = DEMO_ROOT
    base_url: str = ""
    server_version = "newsbeam-demo/1"

    def log_message(self, format, *args):  # noqa: A002 - keep test output quiet
        pass

    def do_GET(self):  # noqa: N802
        path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
        target = (self.root / path.lstrip("/")).resolve()
        if self.root not in target.parents and target != self.root:
            self.send_error(403)
            return
        if target.is_dir():
            target = target / "index.html"
        if not target.is_file():
            self.send_error(404, "Not Found")
            return
        data = target.read_bytes()
        ctype = CONTENT_TYPES.get(target.suffix.lower(), "application/octet-stream")
        if not ctype.startswith("application/pdf") and not ctype.startswith("application/octet"):
            data = data.replace(TOKEN, self.base_url.encode("ascii"))
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _port_free(port: int) -> bool:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server will
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@contextlib.contextmanager
def serve(root: pathlib.Path = DEMO_ROOT, port: int = 0) -> Iterator[str]:
    """Serve ``root`` on 127.0.0.1 (``port`` 0 = any free port); yields the base URL."""
    handler = type("DemoHandler", (_Handler,), {"root": root.resolve()})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    handler.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, name="demo-server", daemon=True)
    thread.start()
    try:
        yield handler.base_url
    finally:
        server.shutdown()
        server.server_close()


def feed_urls(base_url: str, root: pathlib.Path = DEMO_ROOT) -> List[str]:
    return [f"{base_url}/feeds/{p.name}" for p in sorted((root / "feeds").iterdir())
            if p.suffix in (".xml", ".atom", ".json")]


def _remembered_port(output: str) -> int:
    try:
        return int(json.loads((pathlib.Path(output) / "_state" / "demo.json").read_text())["port"])
    except (OSError, ValueError, KeyError, TypeError):
        return DEFAULT_PORT


def _remember_port(output: str, port: int) -> None:
    state = pathlib.Path(output) / "_state"
    state.mkdir(parents=True, exist_ok=True)
    (state / "demo.json").write_text(json.dumps({"port": port}))


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", default="demo-output", help="output folder (default ./demo-output)")
    parser.add_argument("--serve", action="store_true", help="only serve the demo site until Ctrl-C")
    parser.add_argument("--port", type=int, default=None, help="port to serve on")
    args, passthrough = parser.parse_known_args(argv)
    output = os.path.abspath(args.output)
    port = args.port if args.port is not None else _remembered_port(output)
    if not _port_free(port):
        print(f"port {port} is busy; serving on a random port (URLs will differ from earlier runs)",
              file=sys.stderr)
        port = 0
    with serve(DEMO_ROOT, port) as base_url:
        if args.serve:
            print(f"serving {DEMO_ROOT} at {base_url}/ (feeds: {', '.join(feed_urls(base_url))})")
            try:
                threading.Event().wait()
            except KeyboardInterrupt:
                return 0
        from pipeline import cli
        pipeline_args = ["--output", output, "--allow-private-hosts", "--host-delay", "0"]
        for url in feed_urls(base_url):
            pipeline_args += ["--feed", url]
        code = cli.main(pipeline_args + list(passthrough))
        if code == 0:
            _remember_port(output, int(base_url.rsplit(":", 1)[1]))
            print()
            print(f"Demo site served at {base_url}/ ; output in {output}")
            print(f"Look at it: .venv/bin/python -m pipeline.inspect {output}")
        return code


if __name__ == "__main__":
    sys.exit(main())
