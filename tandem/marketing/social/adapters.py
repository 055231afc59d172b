"""The adapter of each network (one module per network, same interface: `base.Adapter`)."""

from __future__ import annotations

from tandem.marketing.social.base import Adapter
from tandem.marketing.social.facebook import FacebookAdapter
from tandem.marketing.social.linkedin import LinkedInAdapter
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
        TelegramAdapter(),
    )
}


def adapter_for(network: str) -> Adapter:
    return ADAPTERS[network]
