"""A deterministic corpus of hostile pages and feeds, generated at test time.

``python -m tests.hostile.generate DIR [--count N]`` writes it to DIR (saved pages
under ``DIR/pages/`` for ``--html-dir``, feeds under ``DIR/feeds/``) and prints
one line per case family. Nothing here is committed as blobs: the same seed
always gives the same bytes.

Each page is a plausible article wrapped in one hostile trait: path tricks in
every string that could reach a file name (section, title, canonical link,
og:url, author), NUL bytes, invalid or mixed encodings, BOMs that lie, absurd
dates, deep nesting, huge single lines and tags, binary junk, empty files,
broken gzip. The expected outcome of every page is "a row or a dead letter".
"""
from __future__ import annotations

import argparse
import gzip
import pathlib
import random
from typing import Callable, Dict, Iterator, List, Tuple

SEED = 11
PATH_TRICKS = ["../../../../etc/passwd", "/etc/passwd", "..\\..\\windows\\system32", "a\x00b",
               "topic=../../escape", "date=1970-01-01/../../x", "%2e%2e%2f%2e%2e%2f", "~root/.ssh",
               "x" * 5000, "ниже/..//.. новости", "政治/../../国际", "\u202e\u0000/etc", "CON", "nul:",
               "file:///etc/passwd", "//evil.example/../", "politics/../../../tmp"]
WORDS = ("council housing levy budget minister river harbour election court school hospital "
         "market energy storm festival train bridge museum league police farmers union").split()


def _paragraphs(rng: random.Random, n: int = 4) -> List[str]:
    out = []
    for _ in range(n):
        words = [rng.choice(WORDS) for _ in range(rng.randint(40, 70))]
        out.append(" ".join(words).capitalize() + ".")
    return out


def article(rng: random.Random, *, title: str = "Council votes on the housing levy", section: str = "Politics",
            published: str = "2025-05-14T10:00:00+00:00", head: str = "", canonical: str = "",
            author: str = "Jane Doe", body_extra: str = "", charset: str = "utf-8") -> str:
    paras = "".join(f"<p>{p}</p>" for p in _paragraphs(rng))
    link = f'<link rel="canonical" href="{canonical}">' if canonical else ""
    return (f'<!doctype html><html lang="en"><head><meta charset="{charset}"><title>{title}</title>{link}'
            f'<meta property="article:section" content="{section}">'
            f'<meta property="article:published_time" content="{published}">'
            f'<meta name="author" content="{author}">{head}</head>'
            f'<body><article><h1>{title}</h1>{paras}{body_extra}</article></body></html>')


Case = Tuple[str, bytes]  # (file name, bytes)


def _path_tricks(rng: random.Random) -> Iterator[Case]:
    for i, trick in enumerate(PATH_TRICKS):
        esc = trick.replace('"', "&quot;").replace("\x00", "&#0;")
        yield f"path-section-{i}.html", article(rng, section=esc).encode("utf-8", "surrogatepass")
        yield f"path-title-{i}.html", article(rng, title=esc).encode("utf-8")
        yield f"path-canonical-{i}.html", article(rng, canonical=esc).encode("utf-8")
        yield f"path-ogurl-{i}.html", article(
            rng, head=f'<meta property="og:url" content="{esc}"><meta property="og:site_name" content="{esc}">'
        ).encode("utf-8")
        yield f"path-author-{i}.html", article(rng, author=esc, published=esc[:60]).encode("utf-8")


def _bytes_and_encodings(rng: random.Random) -> Iterator[Case]:
    base = article(rng).encode("utf-8")
    yield "nul-everywhere.html", base.replace(b" ", b" \x00")
    yield "nul-only.html", b"\x00" * 4096
    yield "nul-in-tags.html", base.replace(b"<p>", b"<p\x00 class='x\x00'>")
    yield "invalid-utf8-sprinkled.html", base.replace(b"e", b"e\xff", 40)
    yield "invalid-utf8-mostly.html", bytes(rng.randrange(128, 256) for _ in range(20000))
    yield "overlong-utf8.html", base.replace(b"a", b"\xc0\xe1", 30)
    yield "surrogates-utf8.html", base.replace(b"o", b"\xed\xa0\x80", 30)
    latin = article(rng, title="Café déjà vu à Zürich", charset="iso-8859-1").encode("latin-1")
    yield "latin1-declared.html", latin
    yield "latin1-declared-utf8.html", latin.replace(b"iso-8859-1", b"utf-8")
    yield "mixed-utf8-latin1.html", article(rng, title="Zürich").encode("utf-8") + "Genève é".encode("latin-1") * 50
    yield "mixed-utf16-chunk.html", base[:500] + "Überraschung".encode("utf-16-le") * 20 + base[500:]
    yield "utf16-bom.html", b"\xff\xfe" + article(rng).encode("utf-16-le")
    yield "utf16-bom-lies.html", b"\xff\xfe" + base
    yield "utf8-bom-then-latin1.html", b"\xef\xbb\xbf" + latin
    yield "bogus-charset.html", base.replace(b'charset="utf-8"', b'charset="x-no-such-\x00charset"')
    yield "shift-jis.html", article(rng, title="東京の市議会が住宅税を可決", charset="shift_jis").encode("shift_jis")
    yield "gb18030.html", article(rng, title="市议会通过住房税", charset="gb18030").encode("gb18030")
    yield "utf7-declared.html", base.replace(b'charset="utf-8"', b'charset="utf-7"') + b"+ADw-script+AD4-"
    yield "empty.html", b""
    yield "whitespace.html", b" \n\t\r\n" * 1000
    yield "binary-junk.html", bytes(rng.randrange(256) for _ in range(30000))
    yield "png-named-html.html", b"\x89PNG\r\n\x1a\n" + bytes(rng.randrange(256) for _ in range(5000))
    yield "only-comment.html", b"<!--" + b"-" * 10000
    yield "unterminated-comment.html", b"<html><body><!-- " + base
    yield "cdata-soup.html", b"<![CDATA[" * 2000 + base
    yield "control-chars.html", base.replace(b" ", b"\x01\x02\x1b[31m ", 200)
    yield "bidi-overrides.html", article(rng, title="\u202eelttit desrever\u202c").encode("utf-8")


def _structure(rng: random.Random) -> Iterator[Case]:
    paras = "".join(f"<p>{p}</p>" for p in _paragraphs(rng, 3))
    yield "deep-10000-div.html", ("<html><body>" + "<div>" * 10000 + paras + "</div>" * 10000).encode()
    yield "deep-10000-unclosed.html", ("<html><body>" + "<div><span>" * 10000 + paras).encode()
    yield "deep-100000-b.html", ("<html><body>" + "<b>" * 100000 + paras).encode()
    yield "deep-tables.html", ("<html><body>" + "<table><tr><td>" * 3000 + paras).encode()
    yield "deep-lists.html", ("<html><body>" + "<ul><li>" * 5000 + paras).encode()
    yield "no-html-tags.html", " ".join(_paragraphs(rng, 5)).encode()
    yield "many-tags-guarded.html", b"<html><body>" + b"<i>x</i>" * 250_000 + paras.encode()
    yield "huge-attribute-value.html", article(rng, head='<meta name="x" content="' + "A" * 2_000_000 + '">').encode()
    yield "unclosed-attribute.html", b'<html><body><div class="' + paras.encode() * 20
    yield "script-only.html", b"<html><head><script>" + b"var a=1;" * 20000 + b"</script></head></html>"
    yield "style-bomb.html", article(rng, head="<style>" + "a{b:c}" * 50000 + "</style>").encode()
    yield "frameset.html", b"<frameset><frame src='http://127.0.0.1/'></frameset>"
    yield "svg-entities.html", (b'<!DOCTYPE html [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>'
                                + article(rng, body_extra="<svg>&b;&b;&b;</svg>").encode())
    yield "xxe-in-html.html", (b'<!DOCTYPE html [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                               + article(rng, body_extra="<p>&x;</p>").encode())
    yield "jsonld-bomb.html", article(rng, head='<script type="application/ld+json">' + "[" * 50000
                                      + "]" * 50000 + "</script>").encode()
    yield "jsonld-garbage.html", article(rng, head='<script type="application/ld+json">{"@type":"NewsArticle",'
                                         '"datePublished":"99999-99-99","author":{"name":'
                                         + '"x",' * 1000 + '}}</script>').encode()
    yield "many-jsonld.html", article(rng, head='<script type="application/ld+json">{}</script>' * 5000).encode()
    yield "giant-title.html", article(rng, title="Breaking " * 100_000).encode()


def _dates(rng: random.Random) -> Iterator[Case]:
    for i, value in enumerate(["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "99999-01-01", "-0001-01-01",
                               "2025-02-30", "2025-13-01", "1970-01-01T00:00:00Z", "NaN", "2025-05-14T25:61:61",
                               "\x00", "2038-01-19T03:14:08Z", "2100-01-01", "1900-01-01", "Tue, 99 May 2025"]):
        yield f"date-{i}.html", article(rng, published=value).encode("utf-8")


def _big(rng: random.Random) -> Iterator[Case]:
    yield "single-line-5mb.html", (b"<html><body><p>" + b"word " * (5 * 1024 * 1024 // 5) + b"</p></body></html>")
    # One tag with 200,000 attributes: libxml2 never finishes it (measured: > 600 s), so it
    # exercises the extraction budget on any machine, fast or slow.
    yield "stuck-attributes.html", (b"<html><body><div " + b" ".join(b"a%d='x'" % i for i in range(200_000))
                                    + b"><p>text</p></div></body></html>")


def _gzip(rng: random.Random) -> Iterator[Case]:
    good = gzip.compress(article(rng).encode(), mtime=0)
    yield "ok.html.gz", good
    yield "truncated.html.gz", good[: len(good) // 2]
    yield "not-gzip.html.gz", article(rng).encode()
    yield "bomb.html.gz", gzip.compress(b"<p>" + b"a" * (40 * 1024 * 1024), mtime=0)


def _plain(rng: random.Random, count: int) -> Iterator[Case]:
    """Ordinary articles (some exact copies) so that rows, duplicates and dead letters all occur."""
    for i in range(count):
        r = random.Random(f"{SEED}-{i // 3 if i % 7 == 0 else i}")
        section = r.choice(["Politics", "World", "Sport", "Tech", "Business", "weird section ../"])
        yield f"plain-{i:03d}.html", article(r, title=f"Story {i // 3 if i % 7 == 0 else i}",
                                              section=section).encode()


FAMILIES: Dict[str, Callable[[random.Random], Iterator[Case]]] = {
    "path": _path_tricks, "bytes": _bytes_and_encodings, "structure": _structure, "dates": _dates,
    "big": _big, "gzip": _gzip,
}


def pages(count: int = 220, *, big: bool = True) -> List[Tuple[str, str, bytes]]:
    """(family, file name, bytes), at least ``count`` of them, always the same."""
    rng = random.Random(SEED)
    out = [(family, name, data) for family, make in FAMILIES.items() if big or family != "big"
           for name, data in make(rng)]
    out += [("plain", name, data) for name, data in _plain(rng, max(0, count - len(out)))]
    return out


# --------------------------------------------------------------------------- feeds

def feeds(page_base: str) -> List[Tuple[str, bytes]]:
    """Hostile feeds: entity expansion, external entities, DTD fetches (pointing at
    ``page_base``, which a test serves to see whether anything is requested)."""
    item = lambda link: f"<item><title>t</title><link>{link}</link></item>"  # noqa: E731
    laughs = "".join(f'<!ENTITY l{i} "' + f"&l{i - 1};" * 10 + '">' for i in range(1, 10))
    return [
        ("billion-laughs.xml", (f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY l0 "lol">{laughs}]>'
                                f'<rss version="2.0"><channel><title>&l9;</title>{item(page_base + "/a1")}'
                                "</channel></rss>").encode()),
        ("xxe-file.xml", ('<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                          f'<rss version="2.0"><channel><title>&x;</title>{item(page_base + "/a2?&x;")}'
                          "</channel></rss>").encode()),
        ("xxe-http.xml", (f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x SYSTEM "{page_base}/xxe-fetched">]>'
                          f'<rss version="2.0"><channel><title>&x;</title>{item(page_base + "/a3")}'
                          "</channel></rss>").encode()),
        ("dtd-external.xml", (f'<?xml version="1.0"?><!DOCTYPE rss SYSTEM "{page_base}/dtd-fetched.dtd">'
                              f'<rss version="2.0"><channel><title>t</title>{item(page_base + "/a4")}'
                              "</channel></rss>").encode()),
        ("parameter-entity.xml", (f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY % p SYSTEM "{page_base}/pe-fetched">'
                                  f'%p;]><rss version="2.0"><channel><title>t</title>{item(page_base + "/a5")}'
                                  "</channel></rss>").encode()),
        ("quadratic-blowup.xml", ('<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "' + "x" * 50000 + '">]>'
                                  '<rss version="2.0"><channel><title>' + "&a;" * 50000 + "</title>"
                                  + item(page_base + "/a6") + "</channel></rss>").encode()),
        ("xinclude.xml", ('<?xml version="1.0"?><rss version="2.0" xmlns:xi="http://www.w3.org/2001/XInclude">'
                          f'<channel><title>t</title><xi:include href="{page_base}/xinclude-fetched"/>'
                          f'{item(page_base + "/a7")}</channel></rss>').encode()),
        ("deep-feed.xml", ('<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
                           + "<x>" * 20000 + "</x>" * 20000 + item(page_base + "/a8") + "</channel></rss>").encode()),
    ]


FEED_LINKS = [f"/a{i}" for i in range(1, 9)]
FETCH_PROBES = ("/xxe-fetched", "/dtd-fetched.dtd", "/pe-fetched", "/xinclude-fetched")


def write(root: pathlib.Path, count: int = 220, page_base: str = "http://127.0.0.1:9",
          big: bool = True) -> Dict[str, int]:
    """Write the corpus under ``root``; returns files per family."""
    per_family: Dict[str, int] = {}
    (root / "pages").mkdir(parents=True, exist_ok=True)
    (root / "feeds").mkdir(parents=True, exist_ok=True)
    for family, name, data in pages(count, big=big):
        (root / "pages" / family).mkdir(exist_ok=True)
        (root / "pages" / family / name).write_bytes(data)
        per_family[family] = per_family.get(family, 0) + 1
    for name, data in feeds(page_base):
        (root / "feeds" / name).write_bytes(data)
        per_family["feeds"] = per_family.get("feeds", 0) + 1
    return per_family


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", type=pathlib.Path)
    parser.add_argument("--count", type=int, default=220)
    args = parser.parse_args(argv)
    for family, n in sorted(write(args.dir, args.count).items()):
        print(f"{family:10s} {n}")


if __name__ == "__main__":
    main()
