"""The one address guard of webhooks and tracked links: IPv6 transition prefixes are judged by
the IPv4 address inside them (NAT64, 6to4, IPv4-compatible and IPv4-mapped)."""

from __future__ import annotations

import pytest

from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.core.netguard import is_public_address
from tandem.tracking import links
from tandem.tracking.models import TrackedLink

REFUSED = [
    "64:ff9b::7f00:1",
    "64:ff9b::10.0.0.1",
    "64:ff9b::a9fe:a9fe",
    "64:ff9b:1::808:808",
    "2002:7f00:1::",
    "2002:a00:1::1",
    "2002:c0a8:101::",
    "::7f00:1",
    "::192.168.1.1",
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "::1",
    "::",
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
    "fe80::1%eth0",
    "not an address",
]
ALLOWED = ["64:ff9b::808:808", "2002:808:808::1", "::ffff:8.8.8.8", "2606:4700::1111", "8.8.8.8"]


@pytest.mark.parametrize("address", REFUSED)
def test_private_ipv4_inside_ipv6_is_refused(address: str) -> None:
    assert not is_public_address(address)


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_pass(address: str) -> None:
    assert is_public_address(address)


@pytest.mark.parametrize("host", ["[64:ff9b::7f00:1]", "[2002:a00:1::]", "[::7f00:1]"])
def test_tracked_links_use_the_same_guard(db: None, host: str) -> None:
    with pytest.raises(InvalidInput, match="private, loopback or reserved"):
        links.link_create(actor=Actor.system(), destination=f"http://{host}/x")
    assert not TrackedLink.objects.exists()
    link = links.link_create(actor=Actor.system(), destination="http://[64:ff9b::808:808]/ok")
    assert link.pk
