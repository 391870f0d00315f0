"""A remote selector's base URL that nothing listens at fails at once, not after retries.

The provider SDK retries a refused connection like any lost one (with the default six retries
and their backoff, about 24 s), which suits a server that restarts but not a URL that was
never right. So before the first request to a base URL in this process, one TCP connection is
tried: refused, a host name that does not resolve, or no answer at all within the probe's
timeout (a host or firewall that drops the packets) is a setting to fix, said in one line.
Once the URL has accepted a connection, later failures are the SDK's to retry.
"""

from __future__ import annotations

import socket
import threading
from urllib.parse import urlsplit
from urllib.request import getproxies, proxy_bypass

# Far longer than any reachable host takes to accept a TCP connection.
PROBE_TIMEOUT_S = 5.0
DEFAULT_PORTS = {"http": 80, "https": 443}

_accepted: set[str] = set()
_accepted_lock = threading.Lock()


class EndpointRefused(ConnectionError):
    """Nothing accepts connections at a base URL (refused, unresolved, or no answer)."""


def check_listening(base_url: str, timeout_s: float) -> None:
    """Raise EndpointRefused unless the base URL's host and port accept a TCP connection.

    Checked once per URL and process, waiting at most `timeout_s` (and `PROBE_TIMEOUT_S`);
    URLs reached through a proxy pass (the proxy, not the probe, reaches them).
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
    except ValueError as err:
        raise EndpointRefused(f"the URL's port is not valid ({err})") from None
    wait_s = min(timeout_s, PROBE_TIMEOUT_S)
    try:
        with socket.create_connection((host, port), timeout=wait_s):
            pass
    except ConnectionRefusedError:
        raise EndpointRefused(f"connection refused at {host}:{port}") from None
    except socket.gaierror as err:
        raise EndpointRefused(f"host {host!r} does not resolve ({err.strerror})") from None
    except TimeoutError:
        raise EndpointRefused(
            f"no answer from {host}:{port} within {wait_s:g} s (a wrong address, or a "
            "firewall dropping the connection)"
        ) from None
    except OSError as err:
        raise EndpointRefused(f"cannot connect to {host}:{port} ({err.strerror or err})") from None
    with _accepted_lock:
        _accepted.add(base_url)


def _proxied(scheme: str, host: str) -> bool:
    proxies = getproxies()
    return bool(proxies.get(scheme) or proxies.get("all")) and not proxy_bypass(host)
