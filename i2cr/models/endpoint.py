"""A remote selector's base URL that nothing listens at fails at once, not after retries.

The provider SDK retries a refused connection like any lost one (with the default six retries
and their backoff, about 24 s), which suits a server that restarts but not a URL that was
never right. So before the first request to a base URL in this process, one TCP connection is
tried: refused, or a host name that does not resolve, is a setting to fix, said in one line.
Once the URL has accepted a connection, later failures are the SDK's to retry.
"""

from __future__ import annotations

import socket
import threading
from urllib.parse import urlsplit
from urllib.request import getproxies, proxy_bypass

# Long enough for a far host to accept; a probe that times out leaves the URL to the SDK.
PROBE_TIMEOUT_S = 5.0
DEFAULT_PORTS = {"http": 80, "https": 443}

_accepted: set[str] = set()
_accepted_lock = threading.Lock()


class EndpointRefused(ConnectionError):
    """Nothing accepts connections at a base URL (refused, or its host does not resolve)."""


def check_listening(base_url: str, timeout_s: float) -> None:
    """Raise EndpointRefused unless the base URL's host and port accept a TCP connection.

    Checked once per URL and process; URLs reached through a proxy and probes that time out
    pass (the request itself then times out and is retried as configured).
    """
    with _accepted_lock:
        if base_url in _accepted:
            return
    parts = urlsplit(base_url)
    host = parts.hostname
    if not host or _proxied(parts.scheme, host):
        return
    try:
        port = parts.port or DEFAULT_PORTS.get(parts.scheme, 80)
        with socket.create_connection((host, port), timeout=min(timeout_s, PROBE_TIMEOUT_S)):
            pass
    except ConnectionRefusedError:
        raise EndpointRefused(f"connection refused at {host}:{port}") from None
    except socket.gaierror as err:
        raise EndpointRefused(f"host {host!r} does not resolve ({err.strerror})") from None
    except (OSError, ValueError):
        return
    with _accepted_lock:
        _accepted.add(base_url)


def _proxied(scheme: str, host: str) -> bool:
    proxies = getproxies()
    return bool(proxies.get(scheme) or proxies.get("all")) and not proxy_bypass(host)
