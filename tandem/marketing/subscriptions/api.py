"""API of subscription types (list, create, read, change) and of subscribing or unsubscribing a
contact. Thin; reads go through `scoped`. Mounted by `tandem.marketing.api`; operation ids are
kept from when one module held them all."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema, Status
from pydantic import ConfigDict, Field

from tandem.core.access import get_scoped, scoped
from tandem.core.api_auth import ApiCaller, caller, check_email_rate_limit
from tandem.core.api_errors import ApiError, Error
from tandem.core.api_fields import UNCHANGED, drop_null_defaults
from tandem.core.api_pagination import keyset_page
from tandem.core.client_address import client_address
from tandem.core.errors import InvalidInput
from tandem.crm.models import Contact
from tandem.crm.validation import clean_email
from tandem.marketing.email import message as email_message
from tandem.marketing.scopes import api_marketer
from tandem.marketing.subscriptions import services as subscriptions
from tandem.marketing.subscriptions.models import SubscriptionType

router = Router(tags=["marketing"])
ERRORS: dict[int, Any] = {400: Error, 401: Error, 403: Error, 404: Error, 429: Error}


class _Strict(Schema):
    model_config = ConfigDict(extra="forbid")


class SubscriptionTypeOut(Schema):
    id: int
    key: str
    name: str
    description: str
    wording: str
    wording_version: str
    double_opt_in: bool
    active: bool
    created_at: dt.datetime


class SubscriptionTypePage(Schema):
    items: list[SubscriptionTypeOut]
    next_cursor: str | None


class SubscriptionTypeFilters(Schema):
    include_archived: bool = False
    cursor: str | None = Field(None, max_length=500)
    limit: int = Field(50, ge=1, le=200)


class SubscriptionTypeIn(_Strict):
    key: str = Field(max_length=50)
    name: str = Field(max_length=100)
    description: str = Field("", max_length=300)
    wording: str = Field("", max_length=5000)
    wording_version: str = Field("1", max_length=40)
    double_opt_in: bool = True
    active: bool = True


class SubscriptionTypePatch(_Strict):
    """Only the fields sent change; none takes null."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=drop_null_defaults)

    key: Annotated[str, Field(max_length=50)] = UNCHANGED
    name: Annotated[str, Field(max_length=100)] = UNCHANGED
    description: Annotated[str, Field(max_length=300)] = UNCHANGED
    wording: Annotated[str, Field(max_length=5000)] = UNCHANGED
    wording_version: Annotated[str, Field(max_length=40)] = UNCHANGED
    double_opt_in: bool = UNCHANGED
    active: bool = UNCHANGED


class SubscribeIn(_Strict):
    contact_id: int | None = Field(None, ge=1)
    email: str | None = Field(None, max_length=254)
    wording_version: str = Field(max_length=40)


class UnsubscribeIn(_Strict):
    contact_id: int | None = Field(None, ge=1)
    email: str | None = Field(None, max_length=254)


class SubscriptionOut(Schema):
    contact_id: int
    subscription: str
    state: str
    changed: bool
    confirmation_sent: bool
    record_id: int | None


def _type_by_key(user: Any, key: str) -> SubscriptionType:
    found = scoped(user, SubscriptionType).filter(key=key).first()
    if found is None:
        raise ApiError(404, "not_found", _("No such subscription type."))
    return found


@router.get(
    "/subscription-types",
    response={200: SubscriptionTypePage, **ERRORS},
    operation_id="tandem_marketing_api_list_subscription_types",
)
def list_subscription_types(
    request: HttpRequest, filters: Query[SubscriptionTypeFilters]
) -> dict[str, Any]:
    """Subscription types, newest first (archived ones with `include_archived=true`)."""
    qs = scoped(caller(request).user, SubscriptionType)
    if not filters.include_archived:
        qs = qs.filter(active=True)
    rows, cursor = keyset_page(
        qs,
        kind="subscription_types",
        time_field="created_at",
        cursor=filters.cursor,
        limit=filters.limit,
    )
    return {"items": rows, "next_cursor": cursor}


@router.post(
    "/subscription-types",
    response={201: SubscriptionTypeOut, **ERRORS},
    operation_id="tandem_marketing_api_create_subscription_type",
)
def create_subscription_type(
    request: HttpRequest, payload: SubscriptionTypeIn
) -> Status[SubscriptionType]:
    who = api_marketer(request, write=True)
    return Status(201, subscriptions.type_create(actor=who.actor, **payload.model_dump()))


@router.get(
    "/subscription-types/{key}",
    response={200: SubscriptionTypeOut, **ERRORS},
    operation_id="tandem_marketing_api_get_subscription_type",
)
def get_subscription_type(request: HttpRequest, key: str) -> SubscriptionType:
    return _type_by_key(caller(request).user, key)


@router.patch(
    "/subscription-types/{key}",
    response={200: SubscriptionTypeOut, **ERRORS},
    operation_id="tandem_marketing_api_update_subscription_type",
)
def update_subscription_type(
    request: HttpRequest, key: str, payload: SubscriptionTypePatch
) -> SubscriptionType:
    """Fields sent are changed, others kept; the key is fixed once consent records use it."""
    who = api_marketer(request, write=True)
    data = payload.model_dump(exclude_unset=True)
    subscription = _type_by_key(who.user, key)
    return subscriptions.type_update(actor=who.actor, subscription=subscription, **data)


def _contact_for(who: ApiCaller, contact_id: int | None, email: str | None) -> Contact:
    if (contact_id is None) == (email is None):
        raise InvalidInput({"contact_id": [_("Give either contact_id or email.")]})
    if contact_id is not None:
        return get_scoped(who.user, Contact, contact_id)
    try:
        address = clean_email(email or "")
    except ValueError:
        raise InvalidInput({"email": [_("Enter a valid email address.")]}) from None
    found = scoped(who.user, Contact).filter(email=address).order_by("pk").first()
    if found is None:
        raise ApiError(404, "not_found", _("No contact has this email address."))
    return found


def _client_of(request: HttpRequest) -> dict[str, str]:
    return {
        "ip": client_address(request),
        "user_agent": request.META.get("HTTP_USER_AGENT", "")[:500],
    }


def _confirm_base(request: HttpRequest) -> str:
    if getattr(settings, "TANDEM_BASE_URL", None) or email_message.setting("TANDEM_BASE_URL"):
        return email_message.base_url() + "/e/confirm/"
    return request.build_absolute_uri("/e/confirm/")


@router.post(
    "/subscriptions/{key}/subscribe",
    response={200: SubscriptionOut, **ERRORS},
    operation_id="tandem_marketing_api_subscribe",
)
def subscribe(request: HttpRequest, key: str, payload: SubscribeIn) -> dict[str, Any]:
    """Subscribe a contact (source "api"). With the type's double opt-in the state is "pending"
    and the confirmation email is sent; already subscribed: nothing is appended."""
    who = api_marketer(request, write=True)
    subscription = _type_by_key(who.user, key)
    contact = _contact_for(who, payload.contact_id, payload.email)
    if subscription.double_opt_in and contact.email:  # a confirmation may go to this address
        check_email_rate_limit(contact.email)
    change = subscriptions.subscribe_contact(
        actor=who.actor,
        subscription=subscription,
        contact=contact,
        wording_version=payload.wording_version,
        confirm_base=_confirm_base(request),
        **_client_of(request),
    )
    return {"contact_id": contact.pk, "subscription": subscription.key, **change.__dict__}


@router.post(
    "/subscriptions/{key}/unsubscribe",
    response={200: SubscriptionOut, **ERRORS},
    operation_id="tandem_marketing_api_unsubscribe",
)
def unsubscribe(request: HttpRequest, key: str, payload: UnsubscribeIn) -> dict[str, Any]:
    """Withdraw a contact's consent for the type (source "api"); idempotent."""
    who = api_marketer(request, write=True)
    subscription = _type_by_key(who.user, key)
    contact = _contact_for(who, payload.contact_id, payload.email)
    change = subscriptions.unsubscribe_contact(
        actor=who.actor, subscription=subscription, contact=contact, **_client_of(request)
    )
    return {"contact_id": contact.pk, "subscription": subscription.key, **change.__dict__}
