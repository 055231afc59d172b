"""API of the content library: the list and recording a view or download of an asset.
Mounted by `tandem.marketing.api`; operation ids are kept from when one module held them all."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Router, Schema, Status
from pydantic import Field

from tandem.core.access import get_scoped
from tandem.core.api_auth import caller
from tandem.core.api_errors import ApiError, Error
from tandem.core.errors import InvalidInput
from tandem.crm.models import Contact
from tandem.marketing.content import services as content_services
from tandem.marketing.content.models import ContentAsset
from tandem.marketing.scopes import api_marketer

router = Router(tags=["marketing"])
ERRORS: dict[int, Any] = {400: Error, 401: Error, 403: Error, 404: Error, 429: Error}


class AssetOut(Schema):
    id: int
    kind: str
    title: str
    key: str
    url: str
    campaign_id: int | None


class EngagementIn(Schema):
    action: str = Field(max_length=20)
    contact_id: int | None = None
    anonymous_id: str = Field("", max_length=200)


class EngagementOut(Schema):
    touchpoint_id: int


@router.get(
    "/content",
    response={200: list[AssetOut], **ERRORS},
    operation_id="tandem_marketing_api_list_content",
)
def list_content(request: HttpRequest) -> list[ContentAsset]:
    return list(content_services.library(caller(request).user)[:500])


@router.post(
    "/content/{asset_id}/engagement",
    response={201: EngagementOut, **ERRORS},
    operation_id="tandem_marketing_api_record_content_engagement",
)
def record_content_engagement(
    request: HttpRequest, asset_id: int, payload: EngagementIn
) -> Status[dict[str, int]]:
    """A view or download of an asset (by a known contact or an anonymous visitor)."""
    who = api_marketer(request, write=True)
    asset = get_scoped(who.user, ContentAsset, asset_id)
    contact = (
        get_scoped(who.user, Contact, payload.contact_id)
        if payload.contact_id is not None
        else None
    )
    if contact is None and not payload.anonymous_id:
        raise ApiError(400, "invalid", _("Give a contact_id or an anonymous_id."))
    try:
        touch = content_services.engagement_record(
            asset=asset,
            action=payload.action,
            contact=contact,
            anonymous_id=payload.anonymous_id,
            actor=who.user,
        )
    except InvalidInput as exc:
        raise ApiError(400, "invalid", exc.message) from None
    return Status(201, {"touchpoint_id": touch.pk})
