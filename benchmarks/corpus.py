"""Deterministic benchmark corpus: N realistic news pages on ten site templates, plus feeds.

    python -m benchmarks.corpus DIR [--pages 2000] [--seed 7]     # write the corpus
    python -m benchmarks.corpus --serve DIR                         # serve it on loopback (prints JSON)

Pages (``DIR/pages/<site>/<id>.html``) are rendered with the page templates of the
extraction benchmark (:mod:`benchmarks.make_pages`: ten CMS layouts with their real weight
of scripts, navigation, CSS and JSON state). Bodies are 400-1,200 words from a word-bigram
model of the extraction benchmark's texts and the project's topic items (``_model``), with
people, places and organisations swapped in so NER has work to do. 15 % of the pages are syndicated copies of another page on a
different site (identical, or with wire edits: a dropped lead, a byline, edited words), and
5 % are broken (empty, binary, truncated before the body, a 404 page, an index page, a teaser).
``DIR/manifest.json`` lists sites and pages; the feeds are made by the server, since their
links must name the host and port it listens on.

``--serve`` (used by ``benchmarks.pipeline``) serves every site on its own loopback address
(127.0.0.2, 127.0.0.3, ...; Linux routes all of 127/8 to ``lo``), so per-host politeness and
per-host fetch parallelism behave as on the open web: ``/<site>/<page>.html`` and an RSS feed
at ``/feed/<site>.xml``. It prints ``{"hosts": {site: base_url}, "feeds": [url, ...]}`` on one
line and serves until its standard input closes.
"""
from __future__ import annotations

import argparse
import datetime as dt
import email.utils
import html
import http.server
import json
import os
import pathlib
import random
import re
import socketserver
import sys
import threading
from typing import Dict, List, Optional, Sequence

from benchmarks import make_pages, topic_sets
from benchmarks.page_texts import SITES

FIRST = ["Ana", "Ben", "Chen", "Dara", "Elif", "Femi", "Gita", "Hugo", "Ines", "Jonas", "Kofi",
         "Lena", "Mateo", "Nadia", "Omar", "Priya", "Quinn", "Rosa", "Sami", "Tara", "Umar",
         "Vera", "Wen", "Yara", "Zane", "Marta", "Pavel", "Aisha", "Diego", "Hana"]
LAST = ["Alves", "Brandt", "Costa", "Dubois", "Eriksen", "Farah", "Garcia", "Haddad", "Ivanov",
        "Jensen", "Kato", "Lopez", "Mensah", "Novak", "Okafor", "Petrov", "Quint", "Rossi",
        "Silva", "Tanaka", "Usman", "Varga", "Weber", "Yilmaz", "Zhou", "Moreau", "Lindqvist"]
PLACES = ["Santos", "Rotterdam", "Lagos", "Busan", "Valencia", "Mombasa", "Gdansk", "Durban",
          "Manila", "Callao", "Antwerp", "Chittagong", "Piraeus", "Tacoma", "Haifa", "Colombo",
          "Geneva", "Brussels", "Nairobi", "Osaka", "Lyon", "Denver", "Perth", "Quito"]
ORGS = ["Harbor Workers Union", "National Transport Agency", "Meridian Freight", "Coastal Grain Co",
        "Finance Ministry", "Port Authority", "Atlas Shipping", "Civic Council", "Delta Energy",
        "United Dockers", "Northwind Air", "Kestrel Interactive", "World Health Organization",
        "European Commission", "Central Bank", "Supreme Court", "Red Cross", "Orbital Labs"]
SECTIONS = ["Politics", "World", "Business", "Technology", "Science", "Health", "Sports",
            "Entertainment", "Lifestyle", "Opinion", "Local news", "Weather", "Education"]
BROKEN_KINDS = ("empty", "binary", "truncated", "not_found", "index", "teaser")
SYNDICATED_SHARE = 0.15
BROKEN_SHARE = 0.05
_SENT = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'])")
_START = dt.datetime(2025, 5, 1, tzinfo=dt.timezone.utc)


class BigramModel:
    """Word bigrams of the extraction benchmark's texts: sentences read like news prose."""

    def __init__(self, texts: Sequence[str]):
        self.next: Dict[str, List[str]] = {}
        self.starts: List[str] = []
        for text in texts:
            for sentence in _SENT.split(text):
                tokens = sentence.split()
                if len(tokens) < 4:
                    continue
                self.starts.append(tokens[0])
                for a, b in zip(tokens, tokens[1:]):
                    self.next.setdefault(a, []).append(b)
        for options in self.next.values():
            options.sort()
        self.starts.sort()

    def sentence(self, rng: random.Random, names: Sequence[str]) -> str:
        word = rng.choice(self.starts)
        out = [word]
        while len(out) < 40:
            options = self.next.get(word)
            if not options:
                break
            word = rng.choice(options)
            if word[:1].isupper() and rng.random() < 0.3:
                word = rng.choice(names)
            out.append(word)
            if word.endswith((".", "!", "?")) and len(out) >= 8:
                break
        text = " ".join(out)
        return text if text.endswith((".", "!", "?", '"')) else text + "."


def _model() -> BigramModel:
    """Bigrams of the extraction benchmark's bodies and of the topic items written for this
    project (``benchmarks/data/topics*.txt``, ~33,000 words). With the extraction bodies
    alone (3,900 bigrams) two unrelated generated stories shared word 2-grams at Jaccard
    0.10 and a 45-word passage (an anchor) in 22 % of pairs, so near-duplicate candidates
    linked most of a corpus; real English news (extraction-fundus): 0.013 and 0.08 %.
    With the topic items: 0.03 and 0.9 % (2026-12-05, 200 stories, seed 3)."""
    texts = []
    for site, articles in SITES.items():
        if site == "kuriernord":  # German: its template still serves, with English bodies
            continue
        for article in articles:
            texts.extend(b.lstrip("#->").strip() for b in article["body"])
    texts.extend(text for item in topic_sets.load_own(skip=()) for text in (item.title, *item.body.split("\n")))
    return BigramModel(texts)


def _names(rng: random.Random) -> List[str]:
    people = [f"{rng.choice(FIRST)} {rng.choice(LAST)}" for _ in range(3)]
    return people + rng.sample(PLACES, 2) + rng.sample(ORGS, 2)


def _story(model: BigramModel, rng: random.Random, names: List[str], words: int) -> List[str]:
    """Body blocks (paragraphs, a subheading or quotation now and then) of about ``words`` words."""
    blocks: List[str] = []
    total = 0
    while total < words:
        paragraph = " ".join(model.sentence(rng, names) for _ in range(rng.randint(2, 4)))
        roll = rng.random()
        if roll < 0.05 and len(blocks) > 2:
            blocks.append("## " + " ".join(model.sentence(rng, names).split()[:6]).rstrip(".,;"))
        elif roll < 0.10:
            paragraph = f'> "{paragraph}"'
        blocks.append(paragraph)
        total += len(paragraph.split())
    return blocks


def _syndicated(source: dict, rng: random.Random, model: BigramModel, names: List[str]) -> List[str]:
    """A wire copy's body: identical (an exact duplicate) or with the edits copies get."""
    body = list(source["body"])
    edit = rng.choice(("same", "drop_lead", "byline", "edit_words", "add_lead"))
    if edit == "drop_lead" and len(body) > 4:
        body = body[1:]
    elif edit == "byline":
        body = body + [f"Reporting by {rng.choice(FIRST)} {rng.choice(LAST)}; "
                       f"editing by {rng.choice(FIRST)} {rng.choice(LAST)}."]
    elif edit == "edit_words":
        edited = []
        for block in body:
            tokens = block.split()
            for _ in range(max(1, len(tokens) // 30)):
                i = rng.randrange(len(tokens))
                tokens[i] = rng.choice(["reportedly", "also", "now", "officials", "local", "nearly"])
            edited.append(" ".join(tokens))
        body = edited
    elif edit == "add_lead":
        body = [" ".join(model.sentence(rng, names) for _ in range(2))] + body
    return body


def _broken(kind: str, rng: random.Random, article: dict, site: str, neighbours: List[dict]) -> bytes:
    if kind == "empty":
        return b""
    if kind == "binary":
        return bytes(rng.randrange(256) for _ in range(2048))
    if kind == "truncated":  # the connection died in the <head>
        page = make_pages.TEMPLATES[site](article, neighbours)
        return page[: page.find("</head>") // 2].encode("utf-8")
    if kind == "not_found":
        return (b"<!doctype html><html><head><title>Page not found</title></head><body>"
                b"<h1>404 - Page not found</h1><p>Sorry, the page you are looking for does not exist."
                b" Try the search or go back to the home page.</p></body></html>")
    if kind == "index":
        links = "".join(f'<li><a href="/{site}/{n["id"]}.html">{html.escape(n["title"])}</a></li>'
                        for n in neighbours)
        return (f"<!doctype html><html><head><title>Latest news</title>"
                f'<meta property="og:type" content="website"></head><body><h1>Latest</h1>'
                f"<ul>{links}</ul></body></html>").encode("utf-8")
    teaser = " ".join(article["body"][0].split()[:30])
    return (f"<!doctype html><html><head><title>{html.escape(article['title'])}</title></head>"
            f"<body><article><h1>{html.escape(article['title'])}</h1><p>{html.escape(teaser)} ...</p>"
            f"<p>Subscribe to read the full story.</p></article></body></html>").encode("utf-8")


def generate(out: pathlib.Path, pages: int = 2000, seed: int = 7) -> dict:
    """Write ``pages`` pages and ``manifest.json`` under ``out``; returns the manifest.
    Same ``pages`` and ``seed`` -> byte-identical files."""
    rng = random.Random(seed)
    model = _model()
    sites = sorted(make_pages.TEMPLATES)
    kinds: List[str] = []
    for i in range(pages):
        roll = rng.random()
        kinds.append("broken" if roll < BROKEN_SHARE else
                     "copy" if roll < BROKEN_SHARE + SYNDICATED_SHARE and i > 0 else "original")
    articles: List[dict] = []
    originals: List[int] = []
    for i, kind in enumerate(kinds):
        site = sites[rng.randrange(len(sites))]
        names = _names(rng)
        published = _START + dt.timedelta(minutes=rng.randrange(60 * 24 * 14))
        article = dict(
            id=f"story-{i:05d}", site=site, kind=kind,
            title=" ".join(model.sentence(rng, names).split()[:rng.randint(6, 11)]).rstrip(".,;:") or f"Story {i}",
            dek=model.sentence(rng, names),
            authors=[],
            published=published.isoformat(),
            section=rng.choice(SECTIONS))
        if kind == "copy" and originals:
            source = articles[originals[rng.randrange(len(originals))]]
            others = [s for s in sites if s != source["site"]]
            article["site"] = site = others[rng.randrange(len(others))]
            article["body"] = _syndicated(source, rng, model, names)
            article["title"] = source["title"]
            article["copy_of"] = source["id"]
            article["published"] = (dt.datetime.fromisoformat(source["published"])
                                    + dt.timedelta(minutes=rng.randint(5, 600))).isoformat()
        else:
            article["body"] = _story(model, rng, names, rng.randint(400, 1200))
            if kind == "broken":
                article["broken"] = BROKEN_KINDS[rng.randrange(len(BROKEN_KINDS))]
            else:
                originals.append(i)
        # The templates know their own staff (bios, mail addresses): a byline from the site.
        staff = sorted({a for known in SITES[site] for a in known["authors"]})
        article["authors"] = [staff[rng.randrange(len(staff))]]
        articles.append(article)

    pages_dir = out / "pages"
    manifest = {"pages": pages, "seed": seed, "sites": {}, "kinds": {}}
    by_site: Dict[str, List[dict]] = {}
    for article in articles:
        by_site.setdefault(article["site"], []).append(article)
    for site in sites:
        site_articles = by_site.get(site, [])
        folder = pages_dir / site
        folder.mkdir(parents=True, exist_ok=True)
        entries = []
        for n, article in enumerate(site_articles):
            # related links: the site's next stories (others when the site has few)
            pool = site_articles if len(site_articles) > 3 else articles
            at = pool.index(article)
            neighbours = [pool[(at + k) % len(pool)] for k in (1, 2, 3)]
            if article.get("broken"):
                data = _broken(article["broken"], rng, article, site, neighbours)
            else:
                page = make_pages.TEMPLATES[site](article, neighbours)
                data = page.encode(make_pages.ENCODINGS.get(site, "utf-8"), errors="xmlcharrefreplace")
            rel = f"{site}/{article['id']}.html"
            (pages_dir / rel).write_bytes(data)
            entries.append({"path": rel, "title": article["title"], "published": article["published"]})
            kind = article.get("broken", article["kind"])
            manifest["kinds"][kind] = manifest["kinds"].get(kind, 0) + 1
        manifest["sites"][site] = entries
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return manifest


def manifest_for(pages_dir: pathlib.Path) -> dict:
    """A manifest for any folder of HTML files (``--pages DIR``): one site per top-level folder."""
    sites: Dict[str, List[dict]] = {}
    for path in sorted(pages_dir.rglob("*")):
        if path.is_file() and path.name.lower().endswith((".html", ".htm")):
            rel = path.relative_to(pages_dir).as_posix()
            site = rel.split("/", 1)[0] if "/" in rel else "root"
            sites.setdefault(site, []).append({"path": rel, "title": path.stem, "published": None})
    return {"pages": sum(len(v) for v in sites.values()), "sites": sites}


# --------------------------------------------------------------------------- serving

def _rss(site: str, base: str, entries: List[dict]) -> bytes:
    items = []
    for entry in entries:
        pub = ""
        if entry.get("published"):
            when = dt.datetime.fromisoformat(entry["published"])
            pub = f"<pubDate>{email.utils.format_datetime(when.astimezone(dt.timezone.utc))}</pubDate>"
        items.append(f"<item><title>{html.escape(entry['title'])}</title>"
                     f"<link>{base}/{html.escape(entry['path'])}</link>{pub}</item>")
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{site}</title>'
            f"<link>{base}/</link><description>benchmark feed</description>{''.join(items)}"
            f"</channel></rss>").encode("utf-8")


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def serve(pages_dir: pathlib.Path, manifest: dict, first_host: int = 2) -> Dict[str, object]:
    """Start one server per site (127.0.0.<first_host + i>); returns hosts, feeds and servers."""
    files: Dict[str, bytes] = {}
    for entries in manifest["sites"].values():
        for entry in entries:
            files["/" + entry["path"]] = (pages_dir / entry["path"]).read_bytes()
    feeds: Dict[str, bytes] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_GET(self):  # noqa: N802
            path = self.path.split("?", 1)[0]
            body = feeds.get(path) if path.startswith("/feed/") else files.get(path)
            if body is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            kind = "application/rss+xml" if path.startswith("/feed/") else "text/html"
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    hosts, feed_urls, servers = {}, [], []
    for i, site in enumerate(sorted(manifest["sites"])):
        address = f"127.0.0.{first_host + i}"
        server = _Server((address, 0), Handler)
        base = f"http://{address}:{server.server_address[1]}"
        feeds[f"/feed/{site}.xml"] = _rss(site, base, manifest["sites"][site])
        hosts[site] = base
        feed_urls.append(f"{base}/feed/{site}.xml")
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    return {"hosts": hosts, "feeds": feed_urls, "servers": servers}


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dir", type=pathlib.Path)
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--serve", action="store_true",
                        help="serve DIR (a corpus, or any folder of HTML files) until stdin closes")
    args = parser.parse_args(argv)
    if args.serve:
        manifest_path = args.dir / "manifest.json"
        pages_dir = args.dir / "pages" if manifest_path.exists() else args.dir
        manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else manifest_for(args.dir)
        started = serve(pages_dir, manifest)
        print(json.dumps({"hosts": started["hosts"], "feeds": started["feeds"]}), flush=True)
        sys.stdin.read()  # until the parent closes the pipe
        return 0
    manifest = generate(args.dir, args.pages, args.seed)
    print(f"wrote {manifest['pages']} pages ({manifest['kinds']}) to {args.dir / 'pages'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
