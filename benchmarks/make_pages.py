"""Write the extraction benchmark pages: ``benchmarks/data/extraction/<site>/<id>.html`` + ``truth.json``.

    python -m benchmarks.make_pages [--out DIR]

The texts are in :mod:`benchmarks.page_texts`; this module wraps them in ten page templates
modelled on common news CMS layouts (a WordPress theme with Jetpack, an Arc-style metro daily,
a public broadcaster, a wire service, a small-town paper with a metered paywall, a newsletter
platform, a tech magazine with affiliate boxes, a German regional paper, a table-based legacy CMS
and a site whose body is split around a recirculation module). The chrome is what such pages
carry: navigation, cookie banners, captions, share bars, newsletter prompts, inline "Related"
links, advertising labels, author bios, tags, comments, footers. The truth is the article body
only (``page_texts`` blocks; for paywalled pages the visible part).

The output is committed; rerun only after changing the texts or templates.
"""
from __future__ import annotations

import argparse
import datetime as dt
import html
import json
import pathlib
import zlib
from typing import Callable, Dict, List

from benchmarks.page_texts import SITES

OUT = pathlib.Path(__file__).resolve().parent / "data" / "extraction"
E = html.escape


def blocks_html(blocks: List[str], p_attrs: str = "", wrap: Callable[[str], str] | None = None) -> List[str]:
    """Render body blocks (paragraph / ## subhead / - item / > quote) as HTML fragments, one per block
    except that consecutive list items form one list."""
    out: List[str] = []
    items: List[str] = []
    for block in blocks + [None]:
        if block is not None and block.startswith("- "):
            items.append(f"<li>{E(block[2:])}</li>")
            continue
        if items:
            out.append("<ul>" + "".join(items) + "</ul>")
            items = []
        if block is None:
            break
        if block.startswith("## "):
            out.append(f"<h2>{E(block[3:])}</h2>")
        elif block.startswith("> "):
            out.append(f"<blockquote><p>{E(block[2:])}</p></blockquote>")
        else:
            frag = f"<p{p_attrs}>{E(block)}</p>"
            out.append(wrap(frag) if wrap else frag)
    return out


def truth_text(blocks: List[str]) -> str:
    lines = []
    for block in blocks:
        for prefix in ("## ", "- ", "> "):
            if block.startswith(prefix):
                block = block[len(prefix):]
                break
        lines.append(block)
    return "\n".join(lines)


def when(article) -> dt.datetime:
    return dt.datetime.fromisoformat(article["published"])


def jsonld(obj) -> str:
    return '<script type="application/ld+json">' + json.dumps(obj, ensure_ascii=False) + "</script>"


def others(site_articles, article, n=2):
    rest = [a for a in site_articles if a["id"] != article["id"]]
    return rest[:n]


def insert_after(parts: List[str], index: int, fragment: str) -> List[str]:
    index = min(index, len(parts))
    return parts[:index] + [fragment] + parts[index:]


def visible_blocks(article) -> List[str]:
    return article["body"][: article.get("visible", len(article["body"]))]


# --------------------------------------------------------------------------- page weight

# Real article pages weigh 100-500 KB, most of it not text: inline scripts (analytics, ad
# configuration, the CMS's state with the article as JSON), CSS, SVG icon sprites, navigation
# drawers and footers full of links. Extraction speed depends on it, so the templates carry it.
_SECTIONS = ["News", "Local", "Politics", "Business", "Markets", "Technology", "Science", "Health",
             "Sports", "Entertainment", "Lifestyle", "Opinion", "Weather", "Obituaries", "Podcasts"]
_SUBSECTIONS = ["Latest", "Crime", "Courts", "Education", "Environment", "Transportation", "Housing",
                "Elections", "Columns", "Letters", "Video", "Photos", "Events", "Real estate", "Jobs"]


def nav_drawer(base: str, label: str = "All sections") -> str:
    """The hidden full-site navigation most templates ship on every page (~200 links)."""
    groups = []
    for section in _SECTIONS:
        slug = section.lower().replace(" ", "-")
        links = "".join(f'<li class="drawer__item"><a class="drawer__link" href="{base}/{slug}/{sub.lower().replace(" ", "-")}/">{sub}</a></li>'
                        for sub in _SUBSECTIONS)
        groups.append(f'<li class="drawer__group"><a class="drawer__heading" href="{base}/{slug}/">{section}</a>'
                      f'<ul class="drawer__list">{links}</ul></li>')
    return (f'<div class="nav-drawer" id="nav-drawer" aria-hidden="true" hidden><h2 class="visually-hidden">{label}</h2>'
            f'<ul class="drawer">{"".join(groups)}</ul></div>')


def footer_links(base: str) -> str:
    cols = []
    for title, items in (("Sections", _SECTIONS), ("Topics", _SUBSECTIONS),
                         ("Company", ["About us", "Careers", "Contact", "Advertise", "Corrections", "Ethics policy",
                                      "Newsroom directory", "Accessibility", "Terms of service", "Privacy policy",
                                      "Cookie settings", "Do not sell my information"])):
        links = "".join(f'<li><a href="{base}/{i.lower().replace(" ", "-")}/">{i}</a></li>' for i in items)
        cols.append(f'<div class="footer__col"><h3 class="footer__title">{title}</h3><ul>{links}</ul></div>')
    return f'<div class="footer__columns">{"".join(cols)}</div>'


def svg_sprite(n: int = 24) -> str:
    icons = []
    for i in range(n):
        path = " ".join(f"M{(i * 7 + j * 3) % 24} {(i * 5 + j * 11) % 24}l{j % 5}.{i % 9} {(j * 2) % 7}.{j % 10}"
                        for j in range(18))
        icons.append(f'<symbol id="icon-{i}" viewBox="0 0 24 24"><path d="{path}z"/></symbol>')
    return f'<svg xmlns="http://www.w3.org/2000/svg" style="display:none">{"".join(icons)}</svg>'


def inline_css(n: int = 180) -> str:
    rules = []
    for i in range(n):
        rules.append(f".c-{i:03d},.c-{i:03d}__inner{{margin:{i % 7}px {i % 5}px;padding:{i % 3}rem;"
                     f"color:#{(i * 2654435761) % 0xFFFFFF:06x};font:{12 + i % 6}px/1.{i % 9} var(--font-{i % 4})}}"
                     f"@media (min-width:{600 + i % 4 * 200}px){{.c-{i:03d}{{display:{'flex' if i % 2 else 'grid'}}}}}")
    return f"<style id=\"global-styles-inline-css\">{''.join(rules)}</style>"


def tracking_scripts(site: str, n: int = 40) -> str:
    slots = ",".join(f'{{"id":"div-gpt-ad-{i}","sizes":[[300,250],[728,90],[970,250]],"targeting":'
                     f'{{"pos":"{i}","site":"{site}","kw":["news","local","{i % 7}"]}}}}' for i in range(n))
    return ("<script>window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push(arguments)}"
            f"gtag('js',new Date());gtag('config','G-{site.upper()[:6]}42');</script>"
            f"<script>window.adConfig={{\"site\":\"{site}\",\"slots\":[{slots}],\"lazy\":true,\"refresh\":30}};</script>"
            "<script async src=\"https://securepubads.g.doubleclick.example/tag/js/gpt.js\"></script>")


def state_blob(article, extra_items: int = 30) -> str:
    """A CMS's client-side state: the article as JSON (Arc, Next.js, Substack all ship one)."""
    elements = [{"type": "text", "_id": f"el{i:04d}", "content": b} for i, b in enumerate(article["body"])]
    related = [{"_id": f"rel{i}", "headline": {"basic": f"Story {i} from the archive"},
                "promo_items": {"basic": {"url": f"/img/{i}.jpg", "width": 1200, "height": 800}},
                "taxonomy": {"sections": [{"_id": f"/section{i % 5}", "name": _SECTIONS[i % len(_SECTIONS)]}]}}
               for i in range(extra_items)]
    state = {"globalContent": {"_id": article["id"], "headlines": {"basic": article["title"]},
                               "content_elements": elements, "related_content": related},
             "featureFlags": {f"flag_{i}": bool(i % 2) for i in range(60)}}
    return "<script id=\"__STATE__\" type=\"application/json\">" + json.dumps(state) + "</script>"


def weight(kind: str, base: str, site: str, article) -> str:
    """Non-text weight typical of a template family; appended before </body>."""
    parts = [tracking_scripts(site)]
    if kind in ("cms", "magazine", "broadcaster"):
        parts += [svg_sprite(), nav_drawer(base), state_blob(article)]
    if kind in ("cms", "magazine"):
        parts.append(inline_css())
    if kind == "blog":
        parts += [inline_css(120), state_blob(article, 10)]
    return "\n".join(parts)


# --------------------------------------------------------------------------- templates

def harborview(article, site) -> str:
    base = "https://harborviewgazette.example"
    stamp = when(article)
    url = f"{base}/{stamp:%Y/%m/%d}/{article['id']}/"
    author = article["authors"][0]
    rel = others(site, article, 1)[0]
    parts = blocks_html(article["body"])
    parts = insert_after(parts, 2, f'<p><strong>Related:</strong> <a href="{base}/{rel["id"]}/">{E(rel["title"])}</a></p>')
    parts = insert_after(parts, 5, """<div class="wp-block-group has-pale-blue-background-color has-background"><div class="wp-block-group__inner-container">
<h3 class="wp-block-heading">Get the Morning Brief</h3>
<p>The day's top stories from the harbour towns, free in your inbox every weekday at 6 a.m.</p>
<div class="wp-block-buttons"><div class="wp-block-button"><a class="wp-block-button__link" href="/morning-brief/">Sign up now</a></div></div>
</div></div>""")
    beats = {"Jane Doe": ("transport and the harbour", "her", "jdoe"), "Priya Raman": ("education and city hall", "her", "praman")}
    beat, pron, mail = beats.get(author, ("local news", "them", "news"))
    bio = f"<p><em>{E(author)} covers {beat} for the Gazette. Reach {pron} at {mail}@harborviewgazette.example.</em></p>"
    ld = {"@context": "https://schema.org", "@graph": [
        {"@type": "Article", "@id": url + "#article", "headline": article["title"], "datePublished": article["published"],
         "dateModified": article["published"], "wordCount": len(truth_text(article["body"]).split()),
         "author": {"@id": f"{base}/#/schema/person/{mail}"}, "articleSection": [article["section"]],
         "inLanguage": "en-US", "isPartOf": {"@id": url}},
        {"@type": "WebPage", "@id": url, "url": url, "name": f"{article['title']} – Harborview Gazette"},
        {"@type": "Person", "@id": f"{base}/#/schema/person/{mail}", "name": author}]}
    return f"""<!DOCTYPE html>
<html lang="en-US">
<head>
<meta charset="UTF-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{E(article['title'])} &#8211; Harborview Gazette</title>
<link rel="canonical" href="{url}">
<meta property="og:locale" content="en_US">
<meta property="og:type" content="article">
<meta property="og:title" content="{E(article['title'])}">
<meta property="og:description" content="{E(article['dek'])}">
<meta property="og:url" content="{url}">
<meta property="og:site_name" content="Harborview Gazette">
<meta property="article:published_time" content="{article['published']}">
<meta name="author" content="{E(author)}">
{jsonld(ld)}
<link rel="stylesheet" id="wp-block-library-css" href="/wp-includes/css/dist/block-library/style.min.css" media="all">
</head>
<body class="post-template-default single single-post postid-{zlib.crc32(article['id'].encode()) % 9000 + 1000} single-format-standard">
<div id="page" class="site">
<a class="skip-link screen-reader-text" href="#content">Skip to content</a>
<header id="masthead" class="site-header">
<div class="site-branding"><p class="site-title"><a href="{base}/" rel="home">Harborview Gazette</a></p>
<p class="site-description">Independent news for the harbour towns since 1894</p></div>
<nav id="site-navigation" class="main-navigation"><button class="menu-toggle" aria-controls="primary-menu" aria-expanded="false">Menu</button>
<ul id="primary-menu" class="menu"><li><a href="/category/local-news/">Local news</a></li><li><a href="/category/education/">Education</a></li>
<li><a href="/category/weather/">Weather</a></li><li><a href="/category/sports/">Sports</a></li><li><a href="/obituaries/">Obituaries</a></li>
<li><a href="/classifieds/">Classifieds</a></li><li><a href="/subscribe/">Subscribe</a></li></ul></nav>
</header>
<div id="content" class="site-content">
<div id="primary" class="content-area"><main id="main" class="site-main">
<article id="post-1" class="post type-post status-publish format-standard has-post-thumbnail hentry category-local-news tag-harbour">
<header class="entry-header">
<span class="cat-links"><a href="/category/local-news/" rel="category tag">{E(article['section'])}</a></span>
<h1 class="entry-title">{E(article['title'])}</h1>
<div class="entry-meta"><span class="byline"> by <span class="author vcard"><a class="url fn n" href="/author/{mail}/">{E(author)}</a></span></span>
<span class="posted-on">Posted on <a href="{url}" rel="bookmark"><time class="entry-date published" datetime="{article['published']}">{stamp:%B %-d, %Y}</time></a></span></div>
</header>
<div class="entry-content">
<figure class="wp-block-image size-large"><img src="/wp-content/uploads/2025/05/{article['id']}.jpg" alt="">
<figcaption class="wp-element-caption">{E(article['dek'])} (Harborview Gazette file photo)</figcaption></figure>
{chr(10).join(parts)}
{bio}
<div class="sharedaddy sd-sharing-enabled"><div class="robots-nocontent sd-block sd-social sd-social-icon-text sd-sharing">
<h3 class="sd-title">Share this:</h3><div class="sd-content"><ul>
<li class="share-facebook"><a class="share-facebook sd-button" href="?share=facebook"><span>Facebook</span></a></li>
<li class="share-x"><a class="share-x sd-button" href="?share=x"><span>X</span></a></li>
<li class="share-email"><a class="share-email sd-button" href="mailto:?subject={E(article['title'])}"><span>Email</span></a></li>
<li class="share-print"><a class="share-print sd-button" href="#print"><span>Print</span></a></li></ul></div></div></div>
<div class="sharedaddy sd-block sd-like jetpack-likes-widget-wrapper"><h3 class="sd-title">Like this:</h3>
<div class="likes-widget-placeholder post-likes-widget-placeholder"><span class="button"><span>Like</span></span> <span class="loading">Loading...</span></div></div>
<div id="jp-relatedposts" class="jp-relatedposts"><h3 class="jp-relatedposts-headline"><em>Related</em></h3></div>
</div>
<footer class="entry-footer"><span class="cat-links">Posted in <a href="/category/local-news/">{E(article['section'])}</a></span>
<span class="tags-links">Tagged <a href="/tag/harbour/">harbour</a>, <a href="/tag/city/">city</a></span></footer>
</article>
<nav class="navigation post-navigation" aria-label="Posts"><h2 class="screen-reader-text">Post navigation</h2><div class="nav-links">
<div class="nav-previous"><a href="{base}/{rel['id']}/" rel="prev"><span class="meta-nav">Previous:</span> {E(rel['title'])}</a></div></div></nav>
<div id="comments" class="comments-area">
<h2 class="comments-title">2 thoughts on &ldquo;{E(article['title'])}&rdquo;</h2>
<ol class="comment-list">
<li id="comment-1" class="comment even thread-even depth-1"><article class="comment-body"><footer class="comment-meta"><div class="comment-author vcard"><b class="fn">Harbourwatcher</b> <span class="says">says:</span></div>
<div class="comment-metadata"><time>{stamp:%B %-d, %Y} at 9:12 am</time></div></footer>
<div class="comment-content"><p>About time. I have lived here thirty years and every council has promised something and done nothing.</p></div></article></li>
<li id="comment-2" class="comment odd alt thread-odd depth-1"><article class="comment-body"><footer class="comment-meta"><div class="comment-author vcard"><b class="fn">M. Fraser</b> <span class="says">says:</span></div></footer>
<div class="comment-content"><p>Who is paying for this? Nobody ever says where the money comes from.</p></div></article></li>
</ol>
<div id="respond" class="comment-respond"><h3 id="reply-title" class="comment-reply-title">Leave a Reply</h3>
<form action="/wp-comments-post.php" method="post" id="commentform" class="comment-form"><p class="comment-notes">Your email address will not be published. Required fields are marked *</p>
<p class="comment-form-comment"><label for="comment">Comment *</label> <textarea id="comment" name="comment"></textarea></p>
<p class="form-submit"><input name="submit" type="submit" id="submit" class="submit" value="Post Comment"></p></form></div>
</div>
</main></div>
<aside id="secondary" class="widget-area">
<section id="recent-posts-2" class="widget widget_recent_entries"><h2 class="widget-title">Recent Posts</h2><ul>
{"".join(f'<li><a href="{base}/{a["id"]}/">{E(a["title"])}</a></li>' for a in site)}</ul></section>
<section id="archives-2" class="widget widget_archive"><h2 class="widget-title">Archives</h2><ul><li><a href="/2025/05/">May 2025</a></li><li><a href="/2025/04/">April 2025</a></li></ul></section>
</aside>
</div>
<footer id="colophon" class="site-footer"><div class="site-info">&copy; 2025 Harborview Gazette &middot; <a href="/privacy/">Privacy</a> &middot; Proudly powered by WordPress</div></footer>
</div>
{weight('blog', 'https://harborviewgazette.example', 'harborview', article)}
</body>
</html>
"""


def metrowire(article, site) -> str:
    base = "https://www.metrowire.example"
    stamp = when(article)
    url = f"{base}/news/{article['section'].lower().replace(' ', '-')}/{stamp:%Y/%m/%d}/{article['id']}/"
    rels = others(site, article, 2)
    parts = blocks_html(article["body"], ' class="article-body__paragraph" data-el="text"')
    parts = insert_after(parts, 2, """<div class="ad-container" data-el="ad"><div class="ad-label">Advertisement</div><div id="arcad_inline_1" class="arcad"></div></div>
<div class="ad-continue">Story continues below advertisement</div>""")
    parts = insert_after(parts, 6, '<div class="inline-recirc" data-el="recirc"><h4>MORE FROM METRO WIRE</h4><ul>'
                         + "".join(f'<li><a href="{base}/{a["id"]}/">{E(a["title"])}</a></li>' for a in rels) + "</ul></div>")
    ld = {"@context": "https://schema.org", "@type": "NewsArticle", "headline": article["title"],
          "description": article["dek"], "datePublished": article["published"], "dateModified": article["published"],
          "author": [{"@type": "Person", "name": a} for a in article["authors"]],
          "publisher": {"@type": "NewsMediaOrganization", "name": "Metro Wire"},
          "articleSection": article["section"], "isAccessibleForFree": True,
          "articleBody": "\n\n".join(truth_text(article["body"]).split("\n")),
          "mainEntityOfPage": url}
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{E(article['title'])} | Metro Wire</title>
<meta name="description" content="{E(article['dek'])}">
<link rel="canonical" href="{url}">
<meta property="og:type" content="article">
<meta property="og:site_name" content="Metro Wire">
<meta property="og:title" content="{E(article['title'])}">
<meta property="article:published_time" content="{article['published']}">
<meta property="article:section" content="{E(article['section'])}">
{jsonld(ld)}
<script>window.Fusion=window.Fusion||{{}};Fusion.arcSite="metrowire";Fusion.deployment="3521";</script>
</head>
<body>
<div id="fusion-app" class="layout-section">
<header class="masthead"><div class="masthead__top"><button class="nav-toggle">Sections</button>
<a class="masthead__logo" href="/">Metro Wire</a><div class="masthead__account"><a href="/subscribe/">Subscribe for $1</a> <a href="/account/login/">Sign In</a></div></div>
<nav class="masthead__nav"><a href="/news/">News</a> <a href="/news/city-hall/">City Hall</a> <a href="/news/transportation/">Transportation</a>
<a href="/sports/">Sports</a> <a href="/weather/">Weather</a> <a href="/opinion/">Opinion</a> <a href="/obituaries/">Obituaries</a> <a href="/e-edition/">E-Edition</a></nav></header>
<div class="alert-banner" role="alert"><span class="alert-banner__label">Weather Alert</span> <a href="/weather/">Heat advisory in effect through Sunday evening</a></div>
<main id="main">
<article class="article">
<div class="article-header">
<div class="overline"><a href="/news/">{E(article['section'])}</a></div>
<h1 class="headline">{E(article['title'])}</h1>
<h2 class="subheadline">{E(article['dek'])}</h2>
<div class="byline-block"><span class="byline">By <a href="/people/{article['authors'][0].lower().replace(' ', '-')}/">{E(article['authors'][0])}</a></span>
<time class="timestamp" datetime="{article['published']}">Published {stamp:%B %-d, %Y} at {stamp:%-I:%M} {'a.m.' if stamp.hour < 12 else 'p.m.'} CDT</time></div>
<div class="share-bar"><button class="share-bar__button">Share</button><button class="share-bar__button">Gift Article</button><button class="share-bar__button">Save</button></div>
</div>
<div class="lead-art"><figure><img src="/resizer/{article['id']}.jpg" alt=""><figcaption class="caption">{E(article['dek'])} <span class="credit">(Metro Wire staff photo)</span></figcaption></figure></div>
<div class="article-body">
{chr(10).join(parts)}
<p class="article-body__paragraph article-body__tip">Have a news tip? Email us at tips@metrowire.example or call 555-0142.</p>
</div>
<div class="article-tags"><span class="article-tags__label">Topics:</span> <a href="/topics/{article['section'].lower()}/">{E(article['section'])}</a> <a href="/topics/local/">Local</a></div>
</article>
<section class="most-read"><h3>Most Read</h3><ol>{"".join(f'<li><a href="{base}/{a["id"]}/">{E(a["title"])}</a></li>' for a in site)}</ol></section>
</main>
<footer class="site-footer"><p>&copy; 2025 Metro Wire Media. All rights reserved. <a href="/terms/">Terms of Use</a> | <a href="/privacy/">Privacy Policy</a> | <a href="/privacy/choices/">Your Privacy Choices</a></p>{footer_links('https://www.metrowire.example')}</footer>
</div>
{weight('cms', 'https://www.metrowire.example', 'metrowire', article)}
</body>
</html>
"""


def northernpost(article, site) -> str:
    base = "https://www.northernpost.example"
    stamp = when(article)
    url = f"{base}/news/articles/{article['id']}"
    rel = others(site, article, 2)
    blocks = []
    for i, frag in enumerate(blocks_html(article["body"])):
        if frag.startswith("<h2>"):
            blocks.append(f'<div data-component="subheadline-block" class="sc-subheadline">{frag}</div>')
        elif i == 0:
            blocks.append(f'<div data-component="text-block" class="sc-text"><p><b>{frag[3:-4]}</b></p></div>')
        else:
            blocks.append(f'<div data-component="text-block" class="sc-text">{frag}</div>')
    blocks = insert_after(blocks, 3, '<div data-component="links-block" class="sc-links"><ul>'
                          + "".join(f'<li><a href="{base}/news/articles/{a["id"]}"><span>{E(a["title"])}</span></a></li>' for a in rel)
                          + "</ul></div>")
    ld = {"@context": "http://schema.org", "@type": "ReportageNewsArticle", "url": url,
          "headline": article["title"], "datePublished": article["published"], "dateModified": article["published"],
          "author": {"@type": "NewsMediaOrganization", "name": "Northern Post News"},
          "publisher": {"@type": "NewsMediaOrganization", "name": "Northern Post News"}}
    return f"""<!DOCTYPE html>
<html lang="en-GB" class="no-js">
<head>
<meta charset="utf-8">
<title>{E(article['title'])} - Northern Post News</title>
<link rel="canonical" href="{url}">
<meta property="og:title" content="{E(article['title'])}">
<meta property="og:type" content="article">
<meta property="og:site_name" content="Northern Post News">
<meta name="article:author" content="Northern Post News">
{jsonld(ld)}
</head>
<body>
<div id="consent-banner" class="consent-banner" role="dialog"><h2>Let us know you agree to cookies</h2>
<p>We use cookies to give you the best online experience. Please let us know if you agree to all of these cookies.</p>
<button>Yes, I agree</button> <a href="/usingthenp/cookies/how-can-i-change-my-cookie-settings/">No, take me to settings</a></div>
<header class="global-header"><a class="skip" href="#main-content">Skip to content</a>
<nav aria-label="Northern Post"><ul><li><a href="/">Home</a></li><li><a href="/news">News</a></li><li><a href="/sport">Sport</a></li>
<li><a href="/weather">Weather</a></li><li><a href="/iplayer">Watch</a></li><li><a href="/sounds">Sounds</a></li></ul></nav>
<nav aria-label="News"><ul><li><a href="/news/uk">UK</a></li><li><a href="/news/world">World</a></li><li><a href="/news/business">Business</a></li>
<li><a href="/news/politics">Politics</a></li><li><a href="/news/health">Health</a></li><li><a href="/news/science">Science</a></li></ul></nav></header>
<main id="main-content" role="main">
<article>
<header><h1 id="main-heading" tabindex="-1">{E(article['title'])}</h1></header>
<div data-component="byline-block" class="sc-byline"><time datetime="{stamp.astimezone(dt.timezone.utc):%Y-%m-%dT%H:%M:%S.000Z}">{stamp:%-d %B %Y}</time>
<div class="sc-contributors"><span class="sc-author">{E(article['authors'][0])}</span><span class="sc-role">{E(article['section'])} correspondent</span></div></div>
<div data-component="image-block" class="sc-image"><figure><img src="/images/{article['id']}.jpg" alt="">
<p class="visually-hidden">Image source, Getty Images</p><figcaption><span class="visually-hidden">Image caption, </span>{E(article['title'].split(' ')[0])} file picture</figcaption></figure></div>
{chr(10).join(blocks)}
<div data-component="tags" class="sc-tags"><div><h2>Related topics</h2><ul><li><a href="/news/topics/{article['section'].lower()}">{E(article['section'])}</a></li></ul></div></div>
</article>
<section data-component="more-on-this-story" aria-labelledby="more"><h2 id="more">More on this story</h2><ul>
{"".join(f'<li><a href="{base}/news/articles/{a["id"]}">{E(a["title"])}</a></li>' for a in rel)}</ul></section>
<section aria-labelledby="top"><h2 id="top">Top stories</h2><ul>{"".join(f'<li><a href="{base}/news/articles/{a["id"]}">{E(a["title"])}</a></li>' for a in site)}</ul></section>
</main>
<footer class="global-footer"><ul><li><a href="/terms">Terms of Use</a></li><li><a href="/aboutthenp">About the Northern Post</a></li>
<li><a href="/privacy">Privacy Policy</a></li><li><a href="/cookies">Cookies</a></li></ul>
<p>Copyright 2025 Northern Post. The Northern Post is not responsible for the content of external sites. <a href="/linking">Read about our approach to external linking.</a></p>{footer_links('https://www.northernpost.example')}</footer>
{weight('broadcaster', 'https://www.northernpost.example', 'northernpost', article)}
</body>
</html>
"""


def capitalledger(article, site) -> str:
    base = "https://www.capitalledger.example"
    stamp = when(article)
    url = f"{base}/{article['section'].lower()}/{article['id']}-{stamp:%Y-%m-%d}/"
    authors = article["authors"]
    byline = " and ".join(f'<a href="/authors/{a.lower().replace(" ", "-")}/">{E(a)}</a>' for a in authors)
    paras = [f'<div data-testid="paragraph-{i}" class="text__text article-body__paragraph">{E(b)}</div>'
             for i, b in enumerate(article["body"])]
    paras = insert_after(paras, 1, '<div data-testid="promo-box" class="article-body__promo"><p>The Morning Ledger newsletter brings you '
                         'the top stories of the day before the markets open. <a href="/newsletters/">Sign up here.</a></p></div>')
    ld = {"@context": "http://schema.org", "@type": "NewsArticle", "headline": article["title"],
          "dateCreated": article["published"], "datePublished": article["published"], "dateModified": article["published"],
          "author": [{"@type": "Person", "name": a} for a in authors], "articleSection": article["section"],
          "publisher": {"@type": "Organization", "name": "Capital Ledger"}}
    rel = others(site, article, 3)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{E(article['title'])} | Capital Ledger</title>
<link rel="canonical" href="{url}">
<meta property="og:type" content="article">
<meta property="og:site_name" content="Capital Ledger">
<meta property="og:title" content="{E(article['title'])}">
<meta name="article:published_time" content="{article['published']}">
{jsonld(ld)}
</head>
<body>
<div id="root">
<header class="site-header"><a class="logo" href="/">Capital Ledger</a>
<nav><a href="/world/">World</a> <a href="/business/">Business</a> <a href="/markets/">Markets</a> <a href="/commodities/">Commodities</a>
<a href="/technology/">Technology</a> <a href="/sustainability/">Sustainability</a> <a href="/legal/">Legal</a></nav>
<div class="header-actions"><a href="/account/register/">Register</a> <a href="/search/">Search</a></div></header>
<main id="main-content">
<article class="article">
<div class="article-header">
<nav class="breadcrumb" aria-label="Tags"><a href="/{article['section'].lower()}/">{E(article['section'])}</a></nav>
<h1 data-testid="Heading">{E(article['title'])}</h1>
<div class="info-content"><div data-testid="AuthorByline" class="author-name">By {byline}</div>
<time data-testid="DateLineText" datetime="{article['published']}">{stamp.astimezone(dt.timezone.utc):%B %-d, %Y %-I:%M %p} UTC</time>
<span class="updated">Updated 2 hours ago</span></div>
<div class="share-controls"><button aria-label="Share">Share</button><button aria-label="Save">Save</button></div>
</div>
<figure class="primary-image"><img src="/pictures/{article['id']}.jpg" alt="">
<figcaption><span>A trader works on the floor. CAPITAL LEDGER/Staff Photographer/File Photo</span> <a href="/licensing/">Purchase Licensing Rights, opens new tab</a></figcaption></figure>
<div class="article-body__content">
{chr(10).join(paras)}
<p data-testid="SignOff" class="sign-off">Reporting by {E(authors[0])}; Editing by Peter Grant and Susan Fenwick</p>
<div class="trust-badge"><p><a href="/trust-principles/">Our Standards: The Capital Ledger Trust Principles.</a></p></div>
</div>
</article>
<section class="read-next"><h3>Read Next</h3><ul>{"".join(f'<li><a href="{base}/{a["id"]}/"><span class="kicker">{E(a["section"])}</span> {E(a["title"])}</a></li>' for a in rel)}</ul></section>
</main>
<footer><p>All quotes delayed a minimum of 15 minutes. See here for a complete list of exchanges and delays.</p>
<p>&copy; 2025 Capital Ledger. All rights reserved</p>{footer_links('https://www.capitalledger.example')}</footer>
</div>
{weight('cms', 'https://www.capitalledger.example', 'capitalledger', article)}
</body>
</html>
"""


def valleycourier(article, site) -> str:
    base = "https://www.valleycourier.example"
    stamp = when(article)
    url = f"{base}/news/local/article_{zlib.crc32(article['id'].encode()) % 10**8:08d}.html"
    locked = "visible" in article
    parts = blocks_html(visible_blocks(article))
    if locked:
        parts.append("""<div class="subscription-required"><div class="subscriber-only-message">
<h3>Subscribe to continue reading.</h3>
<p>Thank you for reading! Please purchase a subscription to continue reading. If you have a subscription, please log in.</p>
<a class="btn btn-primary" href="/subscribe/">Subscribe</a> <a class="btn btn-default" href="/users/login/">Log In</a></div></div>""")
    else:
        parts = insert_after(parts, 2, """<div class="tnt-ads-container inline-promo"><p><strong>Support local journalism</strong></p>
<p>Your subscription makes our reporting possible. <a href="/subscribe/">Subscribe today</a> for unlimited access to valleycourier.example.</p></div>""")
    ld = {"@context": "http://schema.org", "@type": "NewsArticle", "headline": article["title"],
          "datePublished": article["published"], "author": [{"@type": "Person", "name": a} for a in article["authors"]],
          "isAccessibleForFree": not locked, "url": url}
    if locked:
        ld["hasPart"] = {"@type": "WebPageElement", "isAccessibleForFree": False, "cssSelector": ".subscriber-only"}
    tier = "locked" if locked else "metered"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{E(article['title'])} | Local News | valleycourier.example</title>
<link rel="canonical" href="{url}">
<meta property="og:type" content="article">
<meta property="og:title" content="{E(article['title'])}">
<meta property="og:site_name" content="Valley Courier">
<meta property="article:content_tier" content="{tier}">
<meta name="author" content="{E(article['authors'][0])}">
{jsonld(ld)}
</head>
<body class="fixed-nav">
<div id="site-navbar-container"><nav id="site-navbar" class="navbar"><ul class="nav"><li><a href="/news/">News</a></li><li><a href="/sports/">Sports</a></li>
<li><a href="/obituaries/">Obituaries</a></li><li><a href="/opinion/">Opinion</a></li><li><a href="/e-edition/">e-Edition</a></li>
<li><a href="/weather/">Weather</a></li><li class="subscribe"><a href="/subscribe/">Subscribe</a></li><li><a href="/users/login/">Log In</a></li></ul></nav></div>
<div id="main-page-container" class="container">
<div class="asset-masthead"><div class="meta"><span class="label label-flag-section">{E(article['section'])}</span></div>
<h1 class="headline"><span class="tnt-headline">{E(article['title'])}</span></h1>
<ul class="list-inline"><li><span class="asset-author">By {E(article['authors'][0])} Staff Writer</span></li>
<li><time datetime="{article['published']}">{stamp:%b %-d, %Y}</time></li></ul></div>
<div class="asset-share"><ul class="list-inline"><li><a href="#">Facebook</a></li><li><a href="#">Twitter</a></li><li><a href="#">WhatsApp</a></li>
<li><a href="#">SMS</a></li><li><a href="#">Email</a></li><li><a href="#">Print</a></li><li><a href="#">Save</a></li></ul></div>
<div id="article-body" class="asset-content subscriber-premium" itemprop="articleBody">
{chr(10).join(parts)}
</div>
<div class="asset-tags"><h3>Tags</h3><ul><li><a href="/search/?t=local">Local</a></li><li><a href="/search/?t=valley-city">Valley City</a></li></ul></div>
<div class="card-panel most-popular"><h3>Most Popular</h3><ol>{"".join(f'<li><a href="{base}/{a["id"]}/">{E(a["title"])}</a></li>' for a in site)}</ol></div>
</div>
<footer id="site-footer"><p>&copy; Copyright 2025 Valley Courier, 118 Main St. Valley City | Terms of Use | Privacy Policy | Powered by BLOX Content Management System</p>{footer_links('https://www.valleycourier.example')}</footer>
{weight('cms', 'https://www.valleycourier.example', 'valleycourier', article)}
</body>
</html>
"""


def signal(article, site) -> str:
    base = "https://thesignal.newsletter.example"
    stamp = when(article)
    url = f"{base}/p/{article['id']}"
    parts = blocks_html(article["body"])
    parts = insert_after(parts, 2, """<div class="subscription-widget-wrap-editor" data-attrs="{&quot;url&quot;:&quot;/subscribe&quot;}"><div class="subscription-widget show-subscribe">
<div class="preamble"><p class="cta-caption">The Signal is a reader-supported publication. To receive new posts and support my work, consider becoming a free or paid subscriber.</p></div>
<form class="subscription-widget-subscribe"><input type="email" class="email-input" name="email" placeholder="Type your email…"><input type="submit" class="button primary" value="Subscribe"></form></div></div>""")
    parts = insert_after(parts, len(parts) - 1, '<p class="button-wrapper" data-attrs="{}"><a class="button primary" href="/subscribe"><span>Subscribe now</span></a></p>')
    parts.append('<p class="button-wrapper" data-attrs="{}"><a class="button primary" href="?action=share"><span>Share</span></a></p>')
    ld = {"@context": "https://schema.org", "@type": "NewsArticle", "url": url, "headline": article["title"],
          "description": article["dek"], "datePublished": article["published"], "dateModified": article["published"],
          "isAccessibleForFree": True, "author": [{"@type": "Person", "name": article["authors"][0], "url": base}],
          "publisher": {"@type": "Organization", "name": "The Signal"}}
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{E(article['title'])} - by {E(article['authors'][0])}</title>
<meta property="og:type" content="article">
<meta property="og:title" content="{E(article['title'])}">
<meta property="og:description" content="{E(article['dek'])}">
<link rel="canonical" href="{url}">
{jsonld(ld)}
</head>
<body>
<div id="entry"><div class="main-menu"><div class="topbar"><a class="navbar-title-link" href="/">The Signal</a>
<div class="navbar-buttons"><button class="button primary">Subscribe</button> <button class="button">Sign in</button></div></div></div>
<div class="container"><div class="single-post-container"><article class="typography newsletter-post post">
<div class="post-header"><h1 class="post-title published">{E(article['title'])}</h1>
<h3 class="subtitle">{E(article['dek'])}</h3>
<div class="post-meta"><div class="profile-hover-card-target"><a href="/">{E(article['authors'][0])}</a></div>
<div class="pencraft pc-reset">{stamp:%b %d, %Y}</div></div>
<div class="post-ufi"><a class="post-ufi-button like-button"><span class="label">214</span></a> <a class="post-ufi-button comment"><span class="label">31</span></a>
<a class="post-ufi-button restack"><span class="label">12</span></a> <a class="post-ufi-button share"><span class="label">Share</span></a></div></div>
<div class="available-content"><div dir="auto" class="body markup">
{chr(10).join(parts)}
</div></div>
<div class="post-footer"><div class="post-ufi"><a class="like-button"><span class="label">214 Likes</span></a> <a class="restack-button"><span>12 Restacks</span></a></div></div>
</article>
<div class="comments-section"><h4 class="section-title">Discussion about this post</h4>
<div class="tabs"><a class="tab">Comments</a> <a class="tab">Restacks</a></div>
<div class="comment"><div class="comment-meta"><a>Eric T.</a> <span>{stamp:%b %d}</span></div>
<div class="comment-body"><p>Great piece. The interconnection queue is the story nobody outside the industry has heard of.</p></div></div></div>
</div></div>
<div class="footer-wrap"><div class="footer"><p>&copy; 2025 Nora Castellanos · <a href="/privacy">Privacy</a> ∙ <a href="/tos">Terms</a> ∙ <a href="/collection">Collection notice</a></p>
<p><a href="/publish">Start writing</a> <a href="/app">Get the app</a></p></div></div></div>
{weight('blog', 'https://thesignal.newsletter.example', 'signal', article)}
</body>
</html>
"""


def techpulse(article, site) -> str:
    base = "https://www.techpulse.example"
    stamp = when(article)
    url = f"{base}/{article['section'].lower()}/{article['id']}"
    rel = others(site, article, 1)[0]
    parts = blocks_html(article["body"])
    quote = next((b for b in article["body"] if b.startswith('"') or b.startswith('\u201c')), None)
    if quote:
        parts = insert_after(parts, 3, f'<aside class="pullquote" aria-hidden="true"><blockquote>{E(quote.split(",")[0].strip(chr(34)))}</blockquote></aside>')
    parts = insert_after(parts, 2, f'<p class="read-more-link"><strong>Read more:</strong> <a href="{base}/{rel["id"]}">{E(rel["title"])}</a></p>')
    if article["section"] == "Reviews":
        parts = insert_after(parts, 1, """<div class="product-widget" data-widget="price"><div class="product-widget__name">Aurora X2</div>
<div class="product-widget__offer"><span class="price">$449</span> at <span class="retailer">BestMart</span> <a class="product-widget__cta" href="/go/bestmart">View Deal</a></div>
<div class="product-widget__offer"><span class="price">$429</span> at <span class="retailer">ShopCity</span> <a class="product-widget__cta" href="/go/shopcity">View Deal</a></div></div>""")
    bio = {"Devin Cho": "Devin Cho is a senior writer at TechPulse covering phones, wearables and security. He has reviewed more than 200 phones.",
           "Jess Okonkwo": "Jess Okonkwo is TechPulse's news editor. She covers games, software and the business of technology."}[article["authors"][0]]
    ld = {"@context": "https://schema.org", "@type": "NewsArticle" if article["section"] != "Reviews" else "Review",
          "headline": article["title"], "datePublished": article["published"],
          "author": {"@type": "Person", "name": article["authors"][0]}, "publisher": {"@type": "Organization", "name": "TechPulse"}}
    if ld["@type"] == "Review":
        ld["@type"] = ["Article", "Review"]
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{E(article['title'])} | TechPulse</title>
<link rel="canonical" href="{url}">
<meta property="og:type" content="article">
<meta property="og:site_name" content="TechPulse">
<meta property="og:title" content="{E(article['title'])}">
<meta property="article:published_time" content="{article['published']}">
{jsonld(ld)}
</head>
<body class="article-page">
<header class="site-header"><a class="brand" href="/">TechPulse</a>
<nav class="site-nav"><a href="/news">News</a> <a href="/reviews">Reviews</a> <a href="/best-picks">Best Picks</a> <a href="/how-to">How To</a>
<a href="/deals">Deals</a> <a href="/gaming">Gaming</a> <a href="/newsletter">Newsletter</a></nav>
<form class="search" action="/search"><input type="search" placeholder="Search TechPulse"></form></header>
<div class="trending-bar"><span>Trending</span> <a href="/deals/memorial-day">Memorial Day sales</a> <a href="/best-picks/phones">Best phones 2025</a> <a href="/how-to/vpn">Best VPN</a></div>
<main>
<article class="article">
<header class="article__header"><nav class="breadcrumb"><a href="/">Home</a> › <a href="/{article['section'].lower()}">{E(article['section'])}</a></nav>
<h1 class="article__title">{E(article['title'])}</h1>
<p class="strapline">{E(article['dek'])}</p>
<div class="article__byline"><a rel="author" href="/author/{article['authors'][0].lower().replace(' ', '-')}">{E(article['authors'][0])}</a>
<time datetime="{article['published']}">{stamp:%B %-d, %Y}</time> <span class="reading-time">4 min read</span></div></header>
<figure class="hero"><img src="/img/{article['id']}.jpg" alt=""><figcaption>(Image credit: TechPulse)</figcaption></figure>
<div id="article-body" class="article__body">
<p class="disclosure"><em>TechPulse is supported by its audience. When you purchase through links on our site, we may earn an affiliate commission. Here's how it works.</em></p>
{chr(10).join(parts)}
</div>
<div class="author-bio"><img src="/authors/{article['authors'][0].lower().replace(' ', '-')}.jpg" alt=""><p>{E(bio)}</p></div>
</article>
<aside class="sidebar"><div class="most-popular"><h3>Most Popular</h3><ol>{"".join(f'<li><a href="{base}/{a["id"]}">{E(a["title"])}</a></li>' for a in site)}</ol></div></aside>
</main>
<footer class="site-footer"><p>TechPulse is part of Pulse Media Group. &copy; Pulse Media Group Ltd, 2025. All rights reserved.</p>{footer_links('https://www.techpulse.example')}</footer>
{weight('magazine', 'https://www.techpulse.example', 'techpulse', article)}
</body>
</html>
"""


def kuriernord(article, site) -> str:
    base = "https://www.kurier-nord.example"
    stamp = when(article)
    url = f"{base}/{article['section'].lower()}/{article['id']}.html"
    rel = others(site, article, 2)
    parts = blocks_html(article["body"])
    parts = insert_after(parts, 1, f'<p class="lesetipp"><strong>Lesen Sie auch:</strong> <a href="{base}/{rel[0]["id"]}.html">{E(rel[0]["title"])}</a></p>')
    parts = insert_after(parts, 3, '<div class="ad-label">Anzeige</div><div id="ad-medium-rectangle"></div>')
    parts.append('<div class="infobox"><p><strong>Newsletter:</strong> Jeden Morgen die wichtigsten Nachrichten aus der Region – jetzt kostenlos abonnieren.</p></div>')
    ld = {"@context": "https://schema.org", "@type": "NewsArticle", "headline": article["title"],
          "datePublished": article["published"], "inLanguage": "de-DE",
          "author": {"@type": "Person", "name": article["authors"][0]}, "publisher": {"@type": "Organization", "name": "Kurier Nord"}}
    return f"""<!DOCTYPE html>
<html lang="de">
<head>
<meta charset="utf-8">
<title>{E(article['title'])} | Kurier Nord</title>
<link rel="canonical" href="{url}">
<meta property="og:type" content="article">
<meta property="og:site_name" content="Kurier Nord">
<meta property="og:title" content="{E(article['title'])}">
{jsonld(ld)}
</head>
<body>
<div id="cmp-banner" class="cmp"><p>Wir verwenden Cookies und ähnliche Technologien, um Inhalte zu personalisieren und Zugriffe zu analysieren.
Mit Klick auf „Alle akzeptieren“ stimmen Sie der Verarbeitung zu.</p><button>Alle akzeptieren</button> <button>Einstellungen</button></div>
<header class="kopf"><a class="logo" href="/">Kurier Nord</a>
<nav><a href="/region/">Region</a> <a href="/politik/">Politik</a> <a href="/wirtschaft/">Wirtschaft</a> <a href="/sport/">Sport</a>
<a href="/kultur/">Kultur</a> <a href="/abo/">Abo</a> <a href="/epaper/">E-Paper</a> <a href="/login/">Anmelden</a></nav></header>
<main>
<article class="artikel">
<header class="artikel-kopf"><span class="kicker">{E(article['section'])}</span>
<h1>{E(article['title'])}</h1>
<p class="intro">{E(article['dek'])}</p>
<p class="autor">Von {E(article['authors'][0])}</p>
<time datetime="{article['published']}">{stamp:%d.%m.%Y, %H:%M} Uhr</time></header>
<figure><img src="/bilder/{article['id']}.jpg" alt=""><figcaption>Foto: Kurier Nord / Archiv</figcaption></figure>
<div class="artikel-text">
{chr(10).join(parts)}
</div>
<div class="mehr-zum-thema"><h3>Mehr zum Thema</h3><ul>{"".join(f'<li><a href="{base}/{a["id"]}.html">{E(a["title"])}</a></li>' for a in rel)}</ul></div>
<div class="teilen">Artikel teilen: <a href="#">Facebook</a> <a href="#">WhatsApp</a> <a href="#">E-Mail</a></div>
</article>
</main>
<footer><p>© Kurier Nord 2025 – Alle Rechte vorbehalten | <a href="/impressum/">Impressum</a> | <a href="/datenschutz/">Datenschutz</a> | <a href="/agb/">AGB</a></p>{footer_links('https://www.kurier-nord.example')}</footer>
{weight('magazine', 'https://www.kurier-nord.example', 'kuriernord', article)}
</body>
</html>
"""


def islandtimes(article, site) -> str:
    stamp = when(article)
    text = "<br><br>\n".join(E(b) for b in truth_text(article["body"]).split("\n"))
    return f"""<html>
<head>
<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1">
<title>Island Times Online - {E(article['title'])}</title>
</head>
<body bgcolor="#ffffff" leftmargin="0" topmargin="0">
<table width="100%" border="0" cellpadding="0" cellspacing="0">
<tr><td colspan="2"><img src="/images/masthead.gif" alt="Island Times" width="760" height="90"></td></tr>
<tr>
<td class="leftnav" width="150" valign="top" bgcolor="#e8eef4"><font face="Arial" size="-1">
<a href="/">Home</a><br><a href="/news.html">News</a><br><a href="/fisheries.html">Fisheries</a><br><a href="/community.html">Community</a><br>
<a href="/sports.html">Sports</a><br><a href="/classifieds.html">Classifieds</a><br><a href="/contact.html">Contact Us</a></font></td>
<td class="story" valign="top"><font face="Arial">
<font size="+2"><b>{E(article['title'])}</b></font><br>
<font size="-1">By {E(article['authors'][0])}<br>Island Times Staff<br>{stamp:%A, %B %-d, %Y}</font><br><br>
{text}
<br><br>
<font size="-1"><a href="/print.cgi?id={article['id']}">Printer-friendly version</a> | <a href="/email.cgi?id={article['id']}">E-mail this story to a friend</a></font>
<hr>
<font size="-2">Copyright &copy; 2025 Island Times Publishing Ltd. All rights reserved. No part of this site may be reproduced without permission.</font>
</font></td></tr>
</table>
</body>
</html>
"""


def dailyorbit(article, site) -> str:
    base = "https://dailyorbit.example"
    stamp = when(article)
    url = f"{base}/{stamp:%Y/%m}/{article['id']}"
    frags = blocks_html(article["body"])
    first, rest = frags[:3], frags[3:]
    rel = others(site, article, 1)
    ld = {"@context": "https://schema.org", "@type": "NewsArticle", "headline": article["title"],
          "datePublished": article["published"], "author": [{"@type": "Person", "name": a} for a in article["authors"]],
          "articleBody": " ".join(truth_text(article["body"]).split("\n")),
          "wordCount": len(truth_text(article["body"]).split()),
          "publisher": {"@type": "Organization", "name": "Daily Orbit"}}
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{E(article['title'])} | Daily Orbit</title>
<link rel="canonical" href="{url}">
<meta property="og:type" content="article">
<meta property="og:title" content="{E(article['title'])}">
<meta property="og:site_name" content="Daily Orbit">
{jsonld(ld)}
</head>
<body>
<header><a href="/">Daily Orbit</a> <nav><a href="/space">Space</a> <a href="/earth">Earth</a> <a href="/physics">Physics</a> <a href="/newsletter">Newsletter</a></nav></header>
<div class="story">
<h1 class="story-title">{E(article['title'])}</h1>
<p class="story-dek">{E(article['dek'])}</p>
<div class="story-meta">By {E(article['authors'][0])} · {stamp:%B %-d, %Y}</div>
<figure><img src="/img/{article['id']}.jpg" alt=""><figcaption>An artist's impression. (Illustration: Daily Orbit)</figcaption></figure>
<div class="story-body">
{chr(10).join(first)}
</div>
<div class="recirc-module"><h3>Don't miss</h3><ul>
<li><a href="{base}/2025/05/{rel[0]['id']}">{E(rel[0]['title'])}</a></li>
<li><a href="{base}/2025/04/sky-this-month">What to see in the night sky this month</a></li>
<li><a href="{base}/2025/04/best-telescopes">The best telescopes for beginners, tested</a></li></ul></div>
<div class="story-body story-body--continued">
{chr(10).join(rest)}
</div>
</div>
<footer><p>Daily Orbit &copy; 2025. <a href="/about">About</a> <a href="/privacy">Privacy</a></p></footer>
{weight('blog', 'https://dailyorbit.example', 'dailyorbit', article)}
</body>
</html>
"""


TEMPLATES: Dict[str, Callable] = {
    "harborview": harborview, "metrowire": metrowire, "northernpost": northernpost,
    "capitalledger": capitalledger, "valleycourier": valleycourier, "signal": signal,
    "techpulse": techpulse, "kuriernord": kuriernord, "islandtimes": islandtimes,
    "dailyorbit": dailyorbit,
}
ENCODINGS = {"islandtimes": "iso-8859-1"}


def build(out: pathlib.Path = OUT) -> int:
    truth = {}
    for site, articles in SITES.items():
        folder = out / site
        folder.mkdir(parents=True, exist_ok=True)
        for article in articles:
            page = TEMPLATES[site](article, articles)
            (folder / f"{article['id']}.html").write_bytes(page.encode(ENCODINGS.get(site, "utf-8")))
            truth[article["id"]] = {"articleBody": truth_text(visible_blocks(article)), "site": site}
    (out / "truth.json").write_text(json.dumps(truth, indent=1, ensure_ascii=False, sort_keys=True) + "\n",
                                    encoding="utf-8")
    return len(truth)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=pathlib.Path, default=OUT)
    args = parser.parse_args(argv)
    print(f"wrote {build(args.out)} pages to {args.out}")


if __name__ == "__main__":
    main()
