"""Shared fixtures: real loopback HTTP servers (no mocks) and the demo site."""
from __future__ import annotations

import gzip
import http.server
import os
import pathlib
import sys
import threading
import time
from typing import Callable, Dict, Iterator, Tuple

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

ARTICLE_HTML = """<!doctype html><html lang="en"><head><title>{title} | Test Times</title>
<meta property="article:section" content="{section}">
<meta property="article:published_time" content="2025-05-14T10:00:00+00:00"></head>
<body><nav>Menu Search</nav><article><h1>{title}</h1>
<p>{para}</p><p>{para}</p><p>{para}</p></article></body></html>"""
PARA = ("The city council approved a new budget on Tuesday after a long debate about funding for "
        "schools, public transport and road repairs across the northern districts of the city. ")


def article_html(title: str = "Council approves budget", section: str = "Politics") -> bytes:
    return ARTICLE_HTML.format(title=title, section=section, para=PARA * 2).encode("utf-8")


Route = Callable[[http.server.BaseHTTPRequestHandler], None]


class MisbehavingServer:
    """A real HTTP server on 127.0.0.1 whose routes can be slow, fail, redirect..."""

    def __init__(self):
        self.routes: Dict[str, Route] = {}
        self.hits: Dict[str, int] = {}
        self.log = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):  # noqa: N802
                path = self.path.split("?")[0]
                server.hits[path] = server.hits.get(path, 0) + 1
                server.log.append((time.monotonic(), path, dict(self.headers)))
                route = server.routes.get(path)
                if route is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                try:
                    route(self)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        # A short poll interval: stop() (httpd.shutdown) waits for it, once per test.
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)

    def url(self, path: str) -> str:
        return self.base + path

    def add(self, path: str, route: Route) -> str:
        self.routes[path] = route
        return self.url(path)

    def add_body(self, path: str, body: bytes, content_type: str = "text/html; charset=utf-8",
                 status: int = 200, headers: Dict[str, str] | None = None) -> str:
        def route(handler):
            handler.send_response(status)
            handler.send_header("Content-Type", content_type)
            handler.send_header("Content-Length", str(len(body)))
            for key, value in (headers or {}).items():
                handler.send_header(key, value)
            handler.end_headers()
            handler.wfile.write(body)
        return self.add(path, route)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def http_server() -> Iterator[MisbehavingServer]:
    server = MisbehavingServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def demo_site() -> Iterator[str]:
    from pipeline.demo import serve
    with serve() as base_url:
        yield base_url


@pytest.fixture(scope="session")
def nlp():
    from transforms.entities import load_model
    return load_model()


def gzip_bytes(data: bytes) -> bytes:
    return gzip.compress(data)
