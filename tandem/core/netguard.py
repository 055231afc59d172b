"""One judge of whether an IP address is a public place Tandem may send requests or people to.

Used by outgoing webhooks (`tandem.core.webhooks.check_url`) and tracked links
(`tandem.tracking.links.public_url_problem`). An address is public when it is global and not
multicast. An IPv6 address that carries an IPv4 address inside it is judged by that IPv4
address, because a network that translates it delivers to the IPv4 host:

- IPv4-mapped `::ffff:a.b.c.d` and IPv4-compatible `::a.b.c.d` (deprecated, RFC 4291);
- NAT64 well-known prefix `64:ff9b::/96` (RFC 6052); the local-use NAT64 prefix
  `64:ff9b:1::/48` (RFC 8215) is never public;
- 6to4 `2002::/16` (RFC 3056), the IPv4 address in bits 16-48;
- Teredo `2001::/32` is refused outright (Python counts it as non-global already).

Without this, `http://[64:ff9b::7f00:1]/` or `http://[2002:7f00:1::]/` would reach 127.0.0.1
on a host behind a NAT64 gateway or a 6to4 relay although the IPv6 address looks global.
"""

from __future__ import annotations

import ipaddress

NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")
IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address delivers to through a transition mechanism, if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in NAT64 or address in IPV4_COMPATIBLE:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public_address(value: str | Address) -> bool:
    """True when `value` (text, a zone id allowed, or an address) is a public unicast host."""
    try:
        address: Address = (
            value
            if isinstance(value, ipaddress.IPv4Address | ipaddress.IPv6Address)
            else ipaddress.ip_address(str(value).split("%", 1)[0])
        )
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address):
        if address in NAT64_LOCAL:
            return False
        inner = embedded_ipv4(address)
        if inner is not None:
            address = inner
    return bool(address.is_global) and not address.is_multicast
