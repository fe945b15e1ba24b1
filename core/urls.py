"""URL canonicalisation and article ids.

``normalize_url`` is what we store as ``canonical_url`` (a real, fetchable URL:
lowercase host, no default port, tracking parameters and fragment removed,
query sorted). ``url_key`` is coarser and only used for identity: it also
folds ``www.`` and AMP variants, so those map to the same ``article_id``.
"""
from __future__ import annotations

import hashlib
import re
import urllib.parse
from typing import Optional

_TRACKING = re.compile(
    r"^(utm_[a-z_]+|fbclid|gclid|dclid|gbraid|wbraid|msclkid|mc_cid|mc_eid|_ga|_gl|igshid|"
    r"yclid|ocid|cmpid|cmp|ncid|ito|at_medium|at_campaign|at_custom\d*|smid|sr_share|"
    r"ref_src|ref_url|s_cid|spm|share|__twitter_impression|rss|taid|xtor)$", re.I)
_AMP_PATH = re.compile(r"(^|/)amp(/|$)|\.amp(\.html?)?$|/amp\.html?$", re.I)


def normalize_url(url: str) -> str:
    """Normalise a URL for storage; returns the input stripped if unparseable."""
    url = (url or "").strip()
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return url
    if parts.scheme not in ("http", "https"):
        return url
    try:
        host = (parts.hostname or "").lower().rstrip(".")
        port = parts.port
    except ValueError:
        return url
    if host.startswith("xn--") or not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            pass
    netloc = host
    if ":" in host:  # IPv6 literal
        netloc = f"[{host}]"
    if port and not ((parts.scheme == "http" and port == 80) or (parts.scheme == "https" and port == 443)):
        netloc = f"{netloc}:{port}"
    query = [(k, v) for k, v in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
             if not _TRACKING.match(k)]
    query.sort()
    path = urllib.parse.quote(urllib.parse.unquote(parts.path or "/"), safe="/%:@!$&'()*+,;=-._~")
    path = re.sub(r"/{2,}", "/", path)
    return urllib.parse.urlunsplit((parts.scheme.lower(), netloc, path,
                                    urllib.parse.urlencode(query), ""))


def url_key(url: str) -> str:
    """Identity key: the normalised URL without scheme, ``www.``, AMP markers
    and a trailing slash."""
    normalized = normalize_url(url)
    try:
        parts = urllib.parse.urlsplit(normalized)
    except ValueError:
        return normalized
    host = parts.netloc
    if host.startswith("www."):
        host = host[4:]
    if host.startswith("amp."):
        host = host[4:]
    path = _AMP_PATH.sub(lambda m: "/" if m.group(0).startswith("/") or m.group(1) else "", parts.path)
    path = re.sub(r"/{2,}", "/", path).rstrip("/") or "/"
    query = "&".join(p for p in parts.query.split("&") if p and not p.lower().startswith(("amp=", "outputtype=amp")))
    return f"{host}{path}" + (f"?{query}" if query else "")


def article_id(canonical_url: str) -> str:
    """Stable id: a hash of the canonical URL's identity key."""
    return hashlib.sha256(url_key(canonical_url).encode("utf-8")).hexdigest()[:32]


def domain_of(url: str) -> str:
    """Registrable-ish domain for ``source_domain``: host without ``www.``."""
    try:
        host = (urllib.parse.urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""
    return host[4:] if host.startswith("www.") else host


def same_site(a: str, b: str) -> bool:
    """True when two URLs share a host (ignoring ``www.``) - canonical links
    pointing elsewhere are not trusted."""
    da, db = domain_of(a), domain_of(b)
    if not da or not db:
        return False
    return da == db or da.endswith("." + db) or db.endswith("." + da)


def safe_http_url(url: Optional[str]) -> Optional[str]:
    if not url or not isinstance(url, str):
        return None
    try:
        parts = urllib.parse.urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme in ("http", "https") and parts.netloc:
        return url.strip()
    return None
