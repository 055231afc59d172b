"""The adapter of each network (one module per network, same interface: `base.Adapter`)."""

from __future__ import annotations

from tandem.marketing.social.base import Adapter, StatsSource
from tandem.marketing.social.facebook import FacebookAdapter
from tandem.marketing.social.linkedin import LinkedInAdapter
from tandem.marketing.social.ok import OkAdapter
from tandem.marketing.social.telegram import TelegramAdapter
from tandem.marketing.social.vk import VkAdapter
from tandem.marketing.social.youtube import YouTubeAdapter

ADAPTERS: dict[str, Adapter] = {
    a.network: a
    for a in (
        LinkedInAdapter(),
        FacebookAdapter(),
        YouTubeAdapter(),
        VkAdapter(),
        OkAdapter(),
        TelegramAdapter(),
    )
}


def adapter_for(network: str) -> Adapter:
    return ADAPTERS[network]


def stats_sources() -> dict[str, StatsSource]:
    """The adapters that read their posts' numbers from the network's API."""
    return {n: a for n, a in ADAPTERS.items() if isinstance(a, StatsSource)}
