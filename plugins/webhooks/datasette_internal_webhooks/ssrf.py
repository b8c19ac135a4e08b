"""Refuse to send webhooks to addresses inside the operator's network (SSRF).

Checked twice: when an endpoint is saved (``check_url``) and when connecting
(``GuardedResolver`` drops every resolved address that is not allowed, and aiohttp then connects
to exactly the checked address, so DNS rebinding cannot slip a private address in between).
aiohttp does not call the resolver for IP-literal hosts, so ``check_url`` runs before every send.
"""

import ipaddress
import socket
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver
from aiohttp.resolver import DefaultResolver

# Networks that embed an IPv4 address: judged by the address inside, never trusted as such.
NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
SIX_TO_FOUR = ipaddress.ip_network("2002::/16")
CGNAT = ipaddress.ip_network("100.64.0.0/10")


class UnsafeURL(ValueError):
    pass


class RefusedAddress(OSError):
    """Raised by the resolver; aiohttp reports it as a connection error."""


def parse_networks(values):
    """The operator's ``allow_networks`` list as ip_network objects (ValueError when malformed)."""
    return [ipaddress.ip_network(value, strict=False) for value in values or []]


def literal_address(host):
    """The IP address a host names literally, in any form a resolver would accept, else None.

    ``inet_aton`` takes the legacy forms too (``2130706433``, ``0177.0.0.1``, ``0x7f.1``,
    ``127.1``), which getaddrinfo would happily turn into 127.0.0.1.
    """
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except (OSError, ValueError):
        return None


def is_public(address):
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return is_public(address.ipv4_mapped)
        if any(address in network for network in NAT64):
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


def check_url(url, allow_networks=(), https_only=False):
    """Raise UnsafeURL unless ``url`` is an http(s) URL whose literal host (if any) is allowed."""
    if not isinstance(url, str) or len(url) > 2000:
        raise UnsafeURL("url must be a string of at most 2000 characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError as error:
        raise UnsafeURL(f"url is not valid: {error}") from None
    allowed_schemes = ("https",) if https_only else ("http", "https")
    if parts.scheme not in allowed_schemes:
        raise UnsafeURL(f"url must start with {' or '.join(s + '://' for s in allowed_schemes)}")
    if not parts.hostname:
        raise UnsafeURL("url has no host")
    if parts.username or parts.password:
        raise UnsafeURL("url must not contain credentials")
    address = literal_address(parts.hostname)
    if address is not None and not is_allowed(address, allow_networks):
        raise UnsafeURL(f"url points at a non-public address ({address})")
    if address is None and not is_hostname(parts.hostname):
        raise UnsafeURL("url host is not a valid hostname")
    return parts


def is_hostname(host):
    labels = host.rstrip(".").split(".")
    return all(
        0 < len(label) <= 63 and all(c.isalnum() or c == "-" for c in label) for label in labels
    )


async def check_hostname(host, allow_networks):
    """Save-time check of a hostname: it must resolve to at least one allowed address now.

    A name that does not resolve at all is accepted: the connect-time check still applies.
    """
    resolver = GuardedResolver(allow_networks)
    try:
        await resolver.resolve(host, 0, socket.AF_UNSPEC)
    except RefusedAddress as error:
        raise UnsafeURL(str(error)) from None
    except OSError:
        pass
    finally:
        await resolver.close()


class GuardedResolver(AbstractResolver):
    """Resolve with the default resolver, then drop every address that is not allowed."""

    def __init__(self, allow_networks=()):
        self._resolver = DefaultResolver()
        self._allow_networks = list(allow_networks)

    async def resolve(self, host, port=0, family=socket.AF_INET):
        results = await self._resolver.resolve(host, port, family)
        allowed = [r for r in results if is_allowed(r["host"], self._allow_networks)]
        if not allowed:
            raise RefusedAddress(f"{host} resolves only to non-public addresses")
        return allowed

    async def close(self):
        await self._resolver.close()
