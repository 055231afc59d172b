"""API endpoints of sales under /api/v1/sales: deals (CRUD, move, win, lose), pipelines, forecast,
and the public self-service price request; the catalogue (products, price lists, prices, deal
lines) is `catalogue_api` and sequences `sequences_api`, both mounted here. Thin: parse, call a
service, render.

Invariants:
- every read starts from `scoped(caller, Deal)`: an invisible deal is a 404 and absent from lists;
  a visible deal the caller may not change is a 403;
- lists are keyset pages newest first by (created_at, id), with no COUNT;
- `POST /sales/price-request` is the only endpoint without authentication (rate limited per
  address): it creates a contact (deduplicated by email), a self-service deal and its quote.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, Literal

from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema, Status
from pydantic import AfterValidator, ConfigDict, Field

from tandem.core.access import can, get_scoped, scoped
from tandem.core.api_auth import ApiCaller, caller, check_email_rate_limit, check_rate_limit
from tandem.core.api_errors import ApiError, Error
from tandem.core.api_fields import UNCHANGED, IsoDate, drop_null_defaults
from tandem.core.api_pagination import keyset_page
from tandem.core.client_address import client_address
from tandem.core.models import Organisation
from tandem.sales import forecast as fc
from tandem.sales import quotes, selfservice, services
from tandem.sales.catalogue_api import router as catalogue_router
from tandem.sales.models import Deal, DealContact, DealLine, Pipeline, Stage
from tandem.sales.public_views import PUBLIC_RATE_PER_MINUTE
from tandem.sales.sequences_api import router as sequences_router

router = Router(tags=["sales"])

READ_ERRORS: dict[int, Any] = {400: Error, 401: Error, 404: Error, 429: Error}
WRITE_ERRORS: dict[int, Any] = {**READ_ERRORS, 403: Error, 413: Error, 415: Error}
MAX_ID = 2**63 - 1


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("may not contain NUL characters")
    return value


NoNul = AfterValidator(_no_nul)
RecordId = Annotated[int, Field(ge=1, le=MAX_ID)]
Money = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)]
Percent = Annotated[Decimal, Field(ge=0, le=100, max_digits=5, decimal_places=2)]
Quantity = Annotated[Decimal, Field(gt=0, max_digits=12, decimal_places=2)]
Name = Annotated[str, Field(min_length=1, max_length=200), NoNul]
Note = Annotated[str, Field(max_length=5000), NoNul]
Currency = Annotated[str, Field(min_length=3, max_length=3, pattern=r"^[A-Za-z]{3}$")]
Role = Literal[
    "decision_maker",
    "economic_buyer",
    "champion",
    "influencer",
    "user",
    "technical_buyer",
    "blocker",
    "other",
]


class Input(Schema):
    model_config = ConfigDict(extra="forbid")


class DealContactIn(Input):
    contact_id: RecordId
    role: Role = "other"


class DealLineIn(Input):
    product_id: RecordId
    quantity: Quantity = Decimal("1")
    unit_price: Money | None = None
    discount_percent: Percent = Decimal("0")


class DealIn(Input):
    name: Name
    pipeline_id: RecordId | None = None
    stage_id: RecordId | None = None
    account_id: RecordId | None = None
    owner_id: RecordId | None = None
    amount: Money = Decimal("0")
    currency: Currency | None = None
    close_date: dt.date | None = None
    price_list_id: RecordId | None = None
    contacts: Annotated[list[DealContactIn], Field(max_length=50)] = []
    lines: Annotated[list[DealLineIn], Field(max_length=200)] = []


class DealPatch(Input):
    model_config = ConfigDict(extra="forbid", json_schema_extra=drop_null_defaults)

    name: Name = UNCHANGED
    amount: Money = UNCHANGED
    currency: Currency = UNCHANGED
    close_date: dt.date | None = None
    owner_id: RecordId | None = None
    account_id: RecordId | None = None
    forecast_category: Literal["", "pipeline", "best_case", "commit", "omitted"] | None = None


class MoveIn(Input):
    stage_id: RecordId


class LoseIn(Input):
    loss_reason_id: RecordId
    note: Note = ""


class DealContactOut(Schema):
    contact_id: int
    role: str


class DealLineOut(Schema):
    product_id: int
    quantity: Decimal
    unit_price: Decimal
    discount_percent: Decimal
    total: Decimal


class DealOut(Schema):
    id: int
    name: str
    pipeline_id: int
    stage_id: int
    account_id: int | None
    owner_id: int | None
    amount: Decimal
    currency: str
    close_date: dt.date | None
    status: str
    forecast_category: str
    loss_reason_id: int | None
    loss_note: str
    closed_at: dt.datetime | None
    source: str
    stage_entered_at: dt.datetime
    created_at: dt.datetime
    updated_at: dt.datetime
    contacts: list[DealContactOut] = Field(validation_alias="deal_contacts")
    lines: list[DealLineOut]

    @staticmethod
    def resolve_contacts(obj: Deal) -> list[DealContact]:
        return list(obj.deal_contacts.all())

    @staticmethod
    def resolve_lines(obj: Deal) -> list[DealLine]:
        return list(obj.lines.all())


class DealPage(Schema):
    items: list[DealOut]
    next_cursor: str | None


class DealFilters(Schema):
    model_config = ConfigDict(extra="forbid")

    pipeline_id: RecordId | None = None
    stage_id: RecordId | None = None
    owner_id: RecordId | None = None
    status: Literal["open", "won", "lost"] | None = None
    q: Annotated[str, Field(max_length=200), NoNul] | None = None
    cursor: Annotated[str, Field(max_length=500), NoNul] | None = None
    limit: Annotated[int, Field(ge=1, le=200)] = 50


class StageOut(Schema):
    id: int
    name: str
    position: int
    probability: int
    kind: str
    forecast_category: str


class PipelineOut(Schema):
    id: int
    name: str
    is_default: bool
    stages: list[StageOut]

    @staticmethod
    def resolve_stages(obj: Pipeline) -> list[Stage]:
        return list(obj.stages.all())


class ForecastFilters(Schema):
    model_config = ConfigDict(extra="forbid")

    period: Literal["month", "quarter", "year"] = "quarter"
    date: IsoDate | None = Field(default=None, description="YYYY-MM-DD, 1900-01-01 to 2999-12-31")
    group_by: Literal["owner", "team"] = "owner"
    currency: Currency | None = None


class ForecastRow(Schema):
    key: int | None
    name: str | None
    pipeline: Decimal
    best_case: Decimal
    commit: Decimal
    closed: Decimal
    weighted: Decimal
    deals: int


class ForecastTotals(Schema):
    pipeline: Decimal
    best_case: Decimal
    commit: Decimal
    closed: Decimal
    weighted: Decimal
    deals: int


class ForecastOut(Schema):
    period: str
    start: dt.date
    end: dt.date
    currency: str
    group_by: str
    rows: list[ForecastRow]
    totals: ForecastTotals


class PriceRequestIn(Input):
    email: Annotated[str, Field(min_length=3, max_length=254), NoNul]
    first_name: Annotated[str, Field(max_length=100), NoNul] = ""
    last_name: Annotated[str, Field(max_length=100), NoNul] = ""
    company: Annotated[str, Field(max_length=200), NoNul] = ""
    product_id: RecordId
    quantity: Quantity = Decimal("1")
    currency: Currency | None = None
    message: Annotated[str, Field(max_length=2000), NoNul] = ""
    talk_to_sales: bool = False


class PriceRequestOut(Schema):
    deal_id: int
    amount: Decimal
    currency: str
    handed_to_sales: bool
    quote_url: str


# --- helpers --------------------------------------------------------------------------------


def _deals(user: object) -> QuerySet[Deal]:
    return scoped(user, Deal).prefetch_related(
        Prefetch("deal_contacts", queryset=DealContact.objects.order_by("id")),
        Prefetch("lines", queryset=DealLine.objects.order_by("id")),
    )


def _changeable(who: ApiCaller, deal_id: int) -> Deal:
    deal = get_scoped(who.user, Deal, deal_id)
    if not scoped(who.user, Deal, "change").filter(pk=deal.pk).exists():
        raise ApiError(403, "forbidden", _("You may not change this deal."))
    return deal


def _out(deal_id: int, who: ApiCaller) -> Deal:
    return _deals(who.user).get(pk=deal_id)


# --- deals ----------------------------------------------------------------------------------


@router.get("/deals", response={200: DealPage, **READ_ERRORS})
def list_deals(request: HttpRequest, filters: Query[DealFilters]) -> dict[str, Any]:
    """Deals the caller can see, newest first."""
    qs = _deals(caller(request).user)
    for field in ("pipeline_id", "stage_id", "owner_id", "status"):
        value = getattr(filters, field)
        if value is not None:
            qs = qs.filter(**{field: value})
    if filters.q and filters.q.strip():
        qs = qs.filter(name__icontains=filters.q.strip())
    rows, cursor = keyset_page(
        qs, kind="deals", time_field="created_at", cursor=filters.cursor, limit=filters.limit
    )
    return {"items": rows, "next_cursor": cursor}


@router.post("/deals", response={201: DealOut, **WRITE_ERRORS})
def create_deal(request: HttpRequest, payload: DealIn) -> Status[Deal]:
    who = caller(request)
    if not scoped(who.user, Pipeline).exists():
        raise ApiError(403, "forbidden", _("You may not create deals."))
    if not can(who.user, "sell"):
        raise ApiError(403, "forbidden", _("Marketers see deals but do not create them."))
    data = payload.model_dump(exclude_unset=True)
    data["currency_code"] = data.pop("currency", None)
    data.setdefault("owner_id", who.user.pk)
    deal = services.deal_create(actor=who.actor, **data)
    return Status(201, _out(deal.pk, who))


@router.get("/deals/{deal_id}", response={200: DealOut, **READ_ERRORS})
def get_deal(request: HttpRequest, deal_id: RecordId) -> Deal:
    who = caller(request)
    get_scoped(who.user, Deal, deal_id)
    return _out(deal_id, who)


@router.patch("/deals/{deal_id}", response={200: DealOut, **WRITE_ERRORS})
def update_deal(request: HttpRequest, deal_id: RecordId, payload: DealPatch) -> Deal:
    who = caller(request)
    deal = _changeable(who, deal_id)
    data = payload.model_dump(exclude_unset=True)
    for key in ("name", "amount", "currency"):
        if key in data and data[key] is None:
            raise ApiError(
                400, "invalid", _("Some fields are not valid."), {key: [_("may not be null")]}
            )
    services.deal_update(actor=who.actor, deal=deal, **data)
    return _out(deal_id, who)


@router.delete("/deals/{deal_id}", response={204: None, **WRITE_ERRORS})
def delete_deal(request: HttpRequest, deal_id: RecordId) -> Status[None]:
    who = caller(request)
    deal = get_scoped(who.user, Deal, deal_id)
    if not scoped(who.user, Deal, "delete").filter(pk=deal.pk).exists():
        raise ApiError(403, "forbidden", _("You may not delete this deal."))
    services.deal_delete(actor=who.actor, deal=deal)
    return Status(204, None)


@router.post("/deals/{deal_id}/move", response={200: DealOut, **WRITE_ERRORS})
def move_deal(request: HttpRequest, deal_id: RecordId, payload: MoveIn) -> Deal:
    who = caller(request)
    services.deal_move(actor=who.actor, deal=_changeable(who, deal_id), stage_id=payload.stage_id)
    return _out(deal_id, who)


@router.post("/deals/{deal_id}/win", response={200: DealOut, **WRITE_ERRORS})
def win_deal(request: HttpRequest, deal_id: RecordId) -> Deal:
    who = caller(request)
    services.deal_win(actor=who.actor, deal=_changeable(who, deal_id))
    return _out(deal_id, who)


@router.post("/deals/{deal_id}/lose", response={200: DealOut, **WRITE_ERRORS})
def lose_deal(request: HttpRequest, deal_id: RecordId, payload: LoseIn) -> Deal:
    who = caller(request)
    services.deal_lose(
        actor=who.actor,
        deal=_changeable(who, deal_id),
        loss_reason_id=payload.loss_reason_id,
        note=payload.note,
    )
    return _out(deal_id, who)


@router.get("/pipelines", response={200: list[PipelineOut], **READ_ERRORS})
def list_pipelines(request: HttpRequest) -> list[Pipeline]:
    return list(scoped(caller(request).user, Pipeline).prefetch_related("stages"))


class StageIn(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=120)
    kind: Literal["open", "won", "lost"] = "open"
    probability: int | None = Field(default=None, ge=0, le=100)
    forecast_category: Literal["pipeline", "best_case", "commit", "closed", "omitted"] | None = None


class PipelineIn(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=120)
    is_default: bool = False
    stages: list[StageIn] = Field(max_length=30)


@router.post("/pipelines", response={201: PipelineOut, **WRITE_ERRORS})
def create_pipeline(request: HttpRequest, payload: PipelineIn) -> Status[Pipeline]:
    """A pipeline with its stages in order (open stages with their win probability, one won
    stage, a lost stage); the first pipeline is the default. Needs `manage_catalogue`."""
    who = caller(request)
    if not can(who.user, "manage_catalogue"):
        raise ApiError(403, "forbidden", _("You may not change pipelines."))
    stages = [
        {
            "name": stage.name,
            "kind": stage.kind,
            **({"probability": stage.probability} if stage.probability is not None else {}),
            **({"forecast_category": stage.forecast_category} if stage.forecast_category else {}),
        }
        for stage in payload.stages
    ]
    pipeline = services.pipeline_create(
        actor=who.actor, name=payload.name, is_default=payload.is_default, stages=stages
    )
    return Status(201, Pipeline.objects.prefetch_related("stages").get(pk=pipeline.pk))


@router.get("/forecast", response={200: ForecastOut, **READ_ERRORS})
def get_forecast(request: HttpRequest, filters: Query[ForecastFilters]) -> dict[str, Any]:
    """Weighted and category totals of the deals the caller sees, for one fiscal period."""
    who = caller(request)
    day = filters.date or timezone.localdate()
    period = fc.period_containing(
        day, filters.period, Organisation.current().fiscal_year_start_month
    )
    result = fc.forecast(
        who.user, period=period, group_by=filters.group_by, currency=filters.currency
    )
    return {**result, "period": period.label, "start": period.start, "end": period.end}


@router.post(
    "/price-request",
    auth=None,
    response={201: PriceRequestOut, 400: Error, 413: Error, 415: Error, 429: Error},
)
def price_request(request: HttpRequest, payload: PriceRequestIn) -> Status[dict[str, Any]]:
    """Public: a buyer asks for a price. Creates (or finds) the contact, a self-service deal and
    a quote the buyer can accept at `quote_url`."""
    ip = client_address(request) or None
    check_rate_limit(f"sales-public:{ip}", limit=PUBLIC_RATE_PER_MINUTE)
    check_email_rate_limit(payload.email)  # the buyer's address is mailed: limited per address
    deal, quote, handed = selfservice.price_request_with_quote(**payload.model_dump(), ip=ip)
    url = request.build_absolute_uri(
        reverse("sales_public:quote", args=[quotes.public_token(quote)])
    )
    return Status(
        201,
        {
            "deal_id": deal.pk,
            "amount": deal.amount,
            "currency": deal.currency,
            "handed_to_sales": handed,
            "quote_url": url,
        },
    )


router.add_router("", catalogue_router)
router.add_router("", sequences_router)
