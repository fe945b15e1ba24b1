"""The address guard and the guarded HTTP session.

Connections resolve the host, check every address and connect to exactly the
checked address (no second DNS lookup an attacker could rebind), on every
redirect hop; private, loopback and link-local addresses are refused unless allowed.
"""
from __future__ import annotations

import ipaddress
import socket
import threading
import urllib.parse
from typing import Dict, Iterable, List, Optional, Tuple, Union

from core.fetch_config import FetchConfig, FetchError
from schemas import reasons


def is_public_address(ip: Union[ipaddress.IPv4Address, ipaddress.IPv6Address]) -> bool:
    """True for globally routable unicast addresses only.

    ``is_global`` already excludes RFC 1918, loopback, link-local (incl. the
    169.254.169.254 metadata address), CGNAT 100.64/10, documentation and
    reserved ranges; multicast is excluded explicitly. IPv4-mapped (and
    NAT64/6to4-embedded) IPv6 addresses are judged by their IPv4 part.
    """
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        elif ip in _NAT64:
            ip = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        elif ip.sixtofour is not None:
            ip = ip.sixtofour
    return bool(ip.is_global) and not ip.is_multicast


_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _getaddrinfo(host: str, port: Optional[int]):
    """The one DNS lookup of a connection (a seam so tests can play a rebinding DNS)."""
    return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)


def resolve(host: str, port: Optional[int] = None) -> List[str]:
    try:
        infos = _getaddrinfo(host, port)
    except socket.gaierror as exc:
        raise FetchError(reasons.DNS_ERROR, f"{host}: {exc}") from None
    except UnicodeError as exc:
        raise FetchError(reasons.BAD_URL, f"{host!r}: {exc}") from None
    return sorted({info[4][0] for info in infos})


def _check_addresses(host: str, addresses: Iterable[str], allow_networks: Iterable[str] = ()) -> None:
    networks = [ipaddress.ip_network(n, strict=False) for n in allow_networks]
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        if not is_public_address(ip) and not any(ip in net for net in networks
                                                 if net.version == ip.version):
            raise FetchError(reasons.BLOCKED_ADDRESS, f"{host} resolves to {ip}")


def validate_url(url: str) -> None:
    """Only absolute http(s) URLs with a host are fetched."""
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as exc:
        raise FetchError(reasons.BAD_URL, str(exc)) from None
    if parts.scheme not in ("http", "https"):
        raise FetchError(reasons.UNSUPPORTED_SCHEME, f"scheme {parts.scheme!r} not fetched")
    if not parts.hostname:
        raise FetchError(reasons.BAD_URL, "no host")


def check_url_allowed(url: str, allow_private_hosts: bool, allow_networks: Iterable[str] = ()) -> None:
    """Refuse non-http(s) URLs and hosts that resolve to non-public addresses.

    A pre-flight check for callers that want an answer without traffic; the
    fetch itself re-checks at connect time on the address it connects to."""
    validate_url(url)
    if allow_private_hosts:
        return
    host = urllib.parse.urlsplit(url).hostname or ""
    _check_addresses(host, resolve(host), allow_networks)


def _guarded_connect(conn, allow_private_hosts: bool, allow_networks: Tuple[str, ...]) -> socket.socket:
    """Resolve once, refuse non-public addresses, connect to a checked one.

    Replaces urllib3's ``_new_conn``: urllib3 would resolve the name again
    when connecting, letting a DNS-rebinding server answer with a public
    address for the check and a private one for the connection."""
    from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
    from urllib3.util import connection as u3conn
    host = conn._dns_host
    try:
        infos = _getaddrinfo(host, conn.port)
    except socket.gaierror as exc:
        raise FetchError(reasons.DNS_ERROR, f"{conn.host}: {exc}") from None
    except UnicodeError as exc:
        raise FetchError(reasons.BAD_URL, f"{conn.host!r}: {exc}") from None
    addresses: List[str] = []
    for info in infos:
        if info[4][0] not in addresses:
            addresses.append(info[4][0])
    if not allow_private_hosts:
        _check_addresses(conn.host, addresses, allow_networks)
    last: Optional[Exception] = None
    for address in addresses:
        try:
            sock = u3conn.create_connection((address, conn.port), conn.timeout,
                                            source_address=conn.source_address,
                                            socket_options=conn.socket_options)
        except socket.timeout as exc:
            last = ConnectTimeoutError(conn, f"Connection to {conn.host} ({address}) timed out")
            last.__cause__ = exc
            continue
        except OSError as exc:
            last = NewConnectionError(conn, f"Failed to establish a new connection: {exc}")
            continue
        conn._newsbeam_address = address  # the address actually connected to (tests read it)
        return sock
    raise last or NewConnectionError(conn, f"{conn.host}: no address")


_POOL_CLASSES: Dict[Tuple[bool, Tuple[str, ...]], Dict[str, type]] = {}
_POOL_LOCK = threading.Lock()


def _pool_classes(allow_private_hosts: bool, allow_networks: Tuple[str, ...] = ()) -> Dict[str, type]:
    policy = (allow_private_hosts, tuple(allow_networks))
    with _POOL_LOCK:
        if policy not in _POOL_CLASSES:
            from urllib3.connection import HTTPConnection, HTTPSConnection
            from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

            def new_conn(self):
                return _guarded_connect(self, *policy)
            http_conn = type("GuardedHTTPConnection", (HTTPConnection,), {"_new_conn": new_conn})
            https_conn = type("GuardedHTTPSConnection", (HTTPSConnection,), {"_new_conn": new_conn})
            _POOL_CLASSES[policy] = {
                "http": type("GuardedHTTPConnectionPool", (HTTPConnectionPool,),
                             {"ConnectionCls": http_conn}),
                "https": type("GuardedHTTPSConnectionPool", (HTTPSConnectionPool,),
                              {"ConnectionCls": https_conn}),
            }
        return _POOL_CLASSES[policy]


def supported_encodings() -> Tuple[str, ...]:
    """Content-Encodings urllib3 can decode here (``br`` needs the brotli package)."""
    from urllib3.response import HTTPResponse
    return tuple(HTTPResponse.CONTENT_DECODERS)


def make_session(config: FetchConfig):
    """A requests session whose connections pass the address guard.

    ``trust_env`` is off: a proxy from the environment would resolve names
    itself and so bypass the guard."""
    import requests  # imported here: workers only pay for it when fetching

    policy = (config.allow_private_hosts, tuple(config.allow_networks))

    class GuardedAdapter(requests.adapters.HTTPAdapter):
        def init_poolmanager(self, *args, **kwargs):
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = dict(_pool_classes(*policy))

    session = requests.Session()
    session.trust_env = False
    encodings = [e for e in supported_encodings() if e != "x-gzip"]
    session.headers.update({
        "User-Agent": config.user_agent,
        "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        "Accept-Encoding": ", ".join(encodings),
    })
    adapter = GuardedAdapter(pool_connections=32, pool_maxsize=32, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
