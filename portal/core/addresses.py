"""The address a request came from. Behind a proxy every connection comes from the proxy; the address it was
forwarded for is taken from X-Forwarded-For only when the peer is one of the trusted proxies (TRUSTED_PROXIES), and
then it is the right-most address there that is not a trusted proxy: each proxy appends the peer it saw, and anything
left of that the client may have written itself. A request from any other peer keeps the peer's address whatever its
headers say.

gunicorn does not do this: its `forwarded_allow_ips` decides whom it believes for the scheme headers
(X-Forwarded-Proto) but never sets REMOTE_ADDR from X-Forwarded-For (only the PROXY protocol does). gunicorn.conf.py
gives it the same TRUSTED_PROXIES, so scheme and address trust the same peers.

Every consumer of the client address asks `client_address`: django-axes' lockout by address
(AXES_CLIENT_IP_CALLABLE), the audit's "from" addresses of logins, the SMA handler's rate limit. This module imports
no more of Django than its lazy settings, so gunicorn.conf.py and the settings read TRUSTED_PROXIES with it too."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import TYPE_CHECKING

from django.conf import settings

if TYPE_CHECKING:
    from django.http import HttpRequest

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def proxies_parse(value: str) -> tuple[Network, ...]:
    """TRUSTED_PROXIES: comma-separated addresses and CIDR networks, read as gunicorn reads forwarded_allow_ips
    (a network with host bits set, such as 10.0.0.1/24, is a mistake). ValueError names an entry that is neither."""
    networks: list[Network] = []
    for entry in (part.strip() for part in value.split(",")):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry))
        except ValueError:
            raise ValueError(f"{entry!r} is not an IP address or a CIDR network (such as 10.0.0.0/8)") from None
    return tuple(networks)


def _address(text: str) -> Address | None:
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # a dual-stack socket's ::ffff:10.0.0.5 is 10.0.0.5
    return address


def _trusted(address: Address | None, proxies: Sequence[Network]) -> bool:
    return address is not None and any(address in network for network in proxies)


def forwarded_client(peer: str, forwarded_for: str, proxies: Sequence[Network]) -> str:
    """The client's address: the peer's unless the peer is a trusted proxy; then the right-most address of
    X-Forwarded-For that is not a trusted proxy (the left-most, when all of them are). An entry that is not an
    address where the client's should be leaves the peer's: the chain cannot be read past it."""
    if not _trusted(_address(peer), proxies):
        return peer
    hops = [hop for hop in forwarded_for.split(",") if hop.strip()]
    found: Address | None = None
    for hop in reversed(hops):
        found = _address(hop)
        if found is None:
            return peer
        if not _trusted(found, proxies):
            return str(found)
    return str(found) if found is not None else peer


def client_address(request: HttpRequest) -> str:
    """The address the request came from, as TRUSTED_PROXIES lets it be told ("" when the server gave none)."""
    return forwarded_client(
        request.META.get("REMOTE_ADDR", ""), request.META.get("HTTP_X_FORWARDED_FOR", ""), settings.TRUSTED_PROXIES
    )
