"""Marketing's API: each sub-app's router, mounted under `/api/v1/marketing`.

Every sub-app owns its endpoints (`segments.api`, `campaigns.api`, `content.api`,
`subscriptions.api`, `social.api`); their paths and operation ids are the ones the single
module had.
"""

from __future__ import annotations

from ninja import Router

from tandem.marketing.campaigns.api import router as campaigns_router
from tandem.marketing.content.api import router as content_router
from tandem.marketing.segments.api import router as segments_router
from tandem.marketing.social.api import router as social_router
from tandem.marketing.subscriptions.api import router as subscriptions_router

router = Router()
router.add_router("", segments_router)
router.add_router("", campaigns_router)
router.add_router("", content_router)
router.add_router("", subscriptions_router)
router.add_router("", social_router)
