"""Fixed vocabularies for dead letters: stages and reason codes.

Reasons are short stable codes so that users can group and alert on them;
free text belongs in ``DeadLetter.detail``.
"""

# Stages
STAGE_SOURCES = "sources"
STAGE_PARSE_FEED = "parse_feed"
STAGE_FETCH = "fetch"
STAGE_EXTRACT = "extract"
STAGE_ENTITIES = "entities"
STAGE_WRITE = "write"

STAGES = frozenset({STAGE_SOURCES, STAGE_PARSE_FEED, STAGE_FETCH, STAGE_EXTRACT,
                    STAGE_ENTITIES, STAGE_WRITE})

# Reasons
BAD_URL = "bad_url"
UNSUPPORTED_SCHEME = "unsupported_scheme"
FEED_UNPARSEABLE = "feed_unparseable"
ENTRY_WITHOUT_LINK = "entry_without_link"
TIMEOUT = "timeout"
CONNECTION_ERROR = "connection_error"
DNS_ERROR = "dns_error"
TLS_ERROR = "tls_error"
HTTP_4XX = "http_4xx"
HTTP_5XX = "http_5xx"
TOO_LARGE = "too_large"
NOT_HTML = "not_html"
BLOCKED_ADDRESS = "blocked_address"
ROBOTS_DISALLOWED = "robots_disallowed"
REDIRECT_LOOP = "redirect_loop"
TOO_MANY_REDIRECTS = "too_many_redirects"
FILE_ERROR = "file_error"
BAD_ENCODING = "bad_encoding"
EMPTY_EXTRACTION = "empty_extraction"
NOT_AN_ARTICLE = "not_an_article"
EXTRACT_ERROR = "extract_error"
EXTRACT_TIMEOUT = "extract_timeout"  # the page took longer than the per-document budget (worker killed)
NER_ERROR = "ner_error"
WRITE_ERROR = "write_error"
HOST_NOT_ALLOWED = "host_not_allowed"  # the sources file's allow/deny host lists
ARCHIVED_REDIRECT = "archived_redirect"  # a WARC response record holding a 3xx (the target is its own record)
RATE_LIMITED = "rate_limited"  # HTTP 429 still after retries (Retry-After honoured)
ROBOTS_UNAVAILABLE = "robots_unavailable"  # robots.txt 5xx/unreachable: RFC 9309 says disallow all
TDM_RESERVED = "tdm_reserved"  # --tdm skip: the publisher reserves text-and-data mining (W3C TDMRep)

REASONS = frozenset({
    BAD_URL, UNSUPPORTED_SCHEME, FEED_UNPARSEABLE, ENTRY_WITHOUT_LINK, TIMEOUT,
    CONNECTION_ERROR, DNS_ERROR, TLS_ERROR, HTTP_4XX, HTTP_5XX, TOO_LARGE, NOT_HTML,
    BLOCKED_ADDRESS, ROBOTS_DISALLOWED, REDIRECT_LOOP, TOO_MANY_REDIRECTS, FILE_ERROR,
    BAD_ENCODING, EMPTY_EXTRACTION, NOT_AN_ARTICLE, EXTRACT_ERROR, EXTRACT_TIMEOUT, NER_ERROR, WRITE_ERROR,
    HOST_NOT_ALLOWED, ARCHIVED_REDIRECT, RATE_LIMITED, ROBOTS_UNAVAILABLE, TDM_RESERVED,
})
