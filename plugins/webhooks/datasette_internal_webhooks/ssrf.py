"""Refuse to send webhooks to addresses inside the operator's network (SSRF).

Checked at two depths:

- When an endpoint is saved (``check_url``, then ``check_hostname`` for names): the URL is parsed
  by yarl exactly as aiohttp will parse it, so a host that yarl turns into an IP literal (Unicode
  or fullwidth digits, ideographic full stops) is judged as that literal; a name must resolve to
  at least one allowed address, unless the operator lists it in ``allow_hosts``.
- On every connection (``guarded_socket``, the connector's socket factory): the exact address a
  socket is about to connect to is checked before it connects, so nothing at all is sent to a
  refused address. This is the check that cannot be bypassed: aiohttp never calls a resolver for
  IP literals, and whatever the URL stack normalizes, the address connected to is what counts.

A name whose DNS answer mixes public and refused addresses is reached on a public one: the
refused ones fail in the socket factory without a packet sent, and the next address is tried.
"""

import errno
import ipaddress
import re
import socket

import yarl
from aiohttp.resolver import DefaultResolver

# Networks that embed an IPv4 address: judged by the address inside, never trusted as such.
NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
SIX_TO_FOUR = ipaddress.ip_network("2002::/16")
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated ::a.b.c.d form
CGNAT = ipaddress.ip_network("100.64.0.0/10")
LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")

# The plugin's name is spelled out: settings.py, which holds it, imports this module.
ALLOW_NETWORKS_HINT = (
    "an operator can allow it with allow_networks in the datasette-internal-webhooks block of"
    ' datasette.yaml, for example allow_networks: ["127.0.0.1/32"]'
)
ALLOW_HOSTS_HINT = (
    "an operator can allow a name that does not resolve yet with allow_hosts in the"
    " datasette-internal-webhooks block of datasette.yaml, for example allow_hosts:"
    ' ["hooks.example.com"]'
)


class UnsafeURL(ValueError):
    pass


class RefusedAddress(OSError):
    """Raised by the socket factory; aiohttp reports it as a connection error (whose text shows
    ``strerror``, so it is set)."""

    def __init__(self, address):
        super().__init__(errno.EACCES, f"{address} is a non-public address, not in allow_networks")


def parse_networks(values):
    """The operator's ``allow_networks`` list as ip_network objects (ValueError when malformed)."""
    return [ipaddress.ip_network(value, strict=False) for value in values or []]


def parse_hosts(values):
    """The operator's ``allow_hosts`` list as host names (ValueError when malformed)."""
    if not isinstance(values, list) or not all(isinstance(value, str) for value in values):
        raise ValueError("must be a list of host names")
    hosts = set()
    for value in values:
        try:
            host = yarl.URL.build(scheme="http", host=value.lower()).raw_host
        except ValueError:
            host = None
        if not host or not is_hostname(host):
            raise ValueError(f"{value!r} is not a host name")
        if literal_address(host) is not None:
            raise ValueError(f"{value!r} is an IP address: list its network in allow_networks")
        hosts.add(host.rstrip("."))
    return frozenset(hosts)


def literal_address(host):
    """The IP address a host names literally, in any form a resolver would accept, else None.

    ``inet_aton`` takes the legacy forms too (``2130706433``, ``0177.0.0.1``, ``0x7f.1``,
    ``127.1``), which getaddrinfo would happily turn into 127.0.0.1. One trailing dot is
    ignored (``127.0.0.1.``).
    """
    host = host.strip("[]").split("%")[0]
    if host.endswith("."):
        host = host[:-1]
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if not re.fullmatch(r"[0-9a-fA-FxX.]+", host):
        return None  # inet_aton ignores anything after a space: "127.0.0.1 x" is not an address
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except (OSError, ValueError):
        return None


def is_public(address):
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return is_public(address.ipv4_mapped)
        if any(address in network for network in NAT64) or address in IPV4_COMPATIBLE:
            return False
        if address in SIX_TO_FOUR:
            return is_public(address.sixtofour)
        if address.teredo is not None:
            return False
    if address in CGNAT:
        return False
    return address.is_global and not address.is_multicast and not address.is_unspecified


def is_allowed(address, allow_networks):
    if isinstance(address, str):
        address = ipaddress.ip_address(address.split("%")[0])
    if any(address.version == net.version and address in net for net in allow_networks):
        return True
    return is_public(address)


def is_hostname(host):
    """A DNS name of ASCII labels (yarl has already IDNA-encoded any Unicode), at most one
    trailing dot."""
    if host.endswith("."):
        host = host[:-1]
    return 0 < len(host) <= 253 and all(LABEL.fullmatch(label) for label in host.split("."))


def check_url(url, allow_networks=(), https_only=False):
    """The URL as aiohttp will see it (a yarl.URL), or UnsafeURL.

    Refuses what is not http(s), carries credentials, or names an IP literal that is not allowed
    or not written the way aiohttp accepts (a dotted quad for IPv4).
    """
    if not isinstance(url, str) or len(url) > 2000:
        raise UnsafeURL("url must be a string of at most 2000 characters")
    try:
        parsed = yarl.URL(url)
    except (TypeError, ValueError) as error:
        raise UnsafeURL(f"url is not valid: {error}") from None
    allowed_schemes = ("https",) if https_only else ("http", "https")
    if parsed.scheme not in allowed_schemes:
        raise UnsafeURL(f"url must start with {' or '.join(s + '://' for s in allowed_schemes)}")
    host = parsed.raw_host
    if not host:
        raise UnsafeURL("url has no host")
    if parsed.raw_user or parsed.raw_password:
        raise UnsafeURL("url must not contain credentials")
    address = literal_address(host)
    if address is None:
        if not is_hostname(host):
            raise UnsafeURL("url host is not a valid hostname")
        return parsed
    if not is_allowed(address, allow_networks):
        raise UnsafeURL(f"url points at a non-public address ({address}); {ALLOW_NETWORKS_HINT}")
    if address.version == 4 and host != str(address):
        raise UnsafeURL(f"url host {host} is an unusual spelling of {address}: write {address}")
    return parsed


async def check_hostname(host, allow_networks, allow_hosts=(), must_resolve=True):
    """Save-time check of a host name: it must resolve now, to at least one allowed address.

    A name that does not resolve passes only with ``must_resolve=False`` or when listed in
    ``allow_hosts``; every connection is still checked.
    """
    resolver = DefaultResolver()
    try:
        answers = await resolver.resolve(host, 0, socket.AF_UNSPEC)
    except OSError:
        if must_resolve and host.rstrip(".") not in allow_hosts:
            raise UnsafeURL(f"url host {host} does not resolve; {ALLOW_HOSTS_HINT}") from None
        return
    finally:
        await resolver.close()
    addresses = sorted({answer["host"] for answer in answers})
    if not any(is_allowed(address, allow_networks) for address in addresses):
        raise UnsafeURL(
            f"url host {host} resolves only to non-public addresses ({', '.join(addresses)});"
            f" {ALLOW_NETWORKS_HINT}"
        )


def guarded_socket(allow_networks):
    """An aiohttp ``socket_factory``: called with the address of every connection it opens."""

    def open_socket(addr_info):
        family, kind, proto, _, sockaddr = addr_info
        if not is_allowed(sockaddr[0], allow_networks):
            raise RefusedAddress(sockaddr[0])
        return socket.socket(family, kind, proto)

    return open_socket
