"""Input and output shapes of the customer-record API (pydantic v2 via django-ninja).

Invariants:
- inputs refuse unknown fields (a typo is an error, not silently ignored);
- every text field is bounded by its column's length, every id by the 64-bit range, so what
  passes here can always be stored; business rules (choices, email syntax, custom attributes)
  stay in `tandem.crm.services`, which raise InvalidInput;
- in update shapes, a field left out is unchanged (PATCH); `null` is accepted only where the
  record may hold no value (owner, account).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from ninja import Schema
from pydantic import AfterValidator, ConfigDict, Field

from tandem.core.api_fields import IsoMoment
from tandem.core.api_output import Output, TagNames
from tandem.core.models import Department
from tandem.crm.models import ConsentState, Industry, LifecycleStage

MAX_ID = 2**63 - 1
UNCHANGED: Any = None  # default of an update field: left out means "keep the value"
DEFAULT_LIMIT = 50


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("may not contain NUL characters")
    return value


NoNul = AfterValidator(_no_nul)
RecordId = Annotated[int, Field(ge=1, le=MAX_ID)]
Moment = IsoMoment
AccountName = Annotated[str, Field(min_length=1, max_length=200), NoNul]
DomainText = Annotated[str, Field(min_length=1, max_length=253), NoNul]
SearchText = Annotated[str, Field(max_length=200), NoNul]
Region = Annotated[str, Field(max_length=100), NoNul]
PersonName = Annotated[str, Field(max_length=100), NoNul]
EmailText = Annotated[str, Field(max_length=254), NoNul]
Phone = Annotated[str, Field(max_length=40), NoNul]
JobTitle = Annotated[str, Field(max_length=150), NoNul]
Channel = Annotated[str, Field(min_length=1, max_length=40), NoNul]
Kind = Annotated[str, Field(min_length=1, max_length=60), NoNul]
Label = Annotated[str, Field(max_length=200), NoNul]
TagName = Annotated[str, Field(min_length=1, max_length=60), NoNul]
TagList = Annotated[list[TagName], Field(max_length=50)]
DomainList = Annotated[list[DomainText], Field(max_length=50)]
EmailList = Annotated[list[EmailText], Field(max_length=20)]
Limit = Annotated[int, Field(ge=1, le=200)]
FilterText = Annotated[str, Field(max_length=254), NoNul]
Cursor = Annotated[str, Field(max_length=500), NoNul]
JsonObject = Annotated[dict[str, Any], Field(max_length=100)]


def _drop_null_defaults(schema: dict[str, Any]) -> None:
    """In update shapes, 'default: null' on a non-nullable field would be a lie: drop it."""
    for prop in schema.get("properties", {}).values():
        if "default" in prop and prop["default"] is None and "anyOf" not in prop:
            del prop["default"]


class Input(Schema):
    model_config = ConfigDict(extra="forbid")


class Patch(Schema):
    """Update shape: every field optional, and only the fields sent are changed."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_drop_null_defaults)


# --- accounts -------------------------------------------------------------------------------


class AccountIn(Input):
    name: AccountName
    domains: DomainList = []
    industry: Industry = Industry.OTHER
    industry_attributes: JsonObject = {}
    region: Region = ""
    owner_id: RecordId | None = Field(
        default=None, description="Defaults to the caller; send null for no owner."
    )
    custom: JsonObject = {}
    tags: TagList = []


class AccountPatch(Patch):
    name: AccountName = UNCHANGED
    domains: DomainList = UNCHANGED
    industry: Industry = UNCHANGED
    industry_attributes: JsonObject = UNCHANGED
    region: Region = UNCHANGED
    owner_id: RecordId | None = None
    custom: JsonObject = UNCHANGED
    tags: TagList = UNCHANGED


class AccountOut(Output):
    id: int
    name: str
    domains: list[str]
    industry: str
    industry_attributes: dict[str, Any]
    region: str
    owner_id: int | None
    tags: TagNames
    custom: dict[str, Any]
    created_at: dt.datetime
    updated_at: dt.datetime


class AccountPage(Output):
    items: list[AccountOut]
    next_cursor: str | None


class AccountFilters(Schema):
    q: SearchText | None = Field(None, description="Name or domain contains")
    industry: Industry | None = None
    owner_id: RecordId | None = None
    tag: FilterText | None = None
    domain: FilterText | None = None
    cursor: Cursor | None = None
    limit: Limit = DEFAULT_LIMIT


# --- contacts -------------------------------------------------------------------------------

REFUSED_CONSENT: Any = Field(
    default=UNCHANGED,
    description="Refused (400 `owned_elsewhere`): consent is derived from the consent ledger "
    "and read here; it changes by the subscription endpoints under `/api/v1/marketing` and by "
    "website forms, each of which appends a ledger row.",
    json_schema_extra={"deprecated": True},
)


class ContactIn(Input):
    first_name: PersonName = ""
    last_name: PersonName = ""
    email: EmailText = ""
    emails: EmailList = Field(
        default=[], description="Further addresses besides the primary `email`."
    )
    phone: Phone = ""
    title: JobTitle = ""
    account_id: RecordId | None = None
    owner_id: RecordId | None = Field(
        default=None, description="Defaults to the caller; send null for no owner."
    )
    lifecycle_stage: LifecycleStage = Field(
        default=LifecycleStage.LEAD,
        description="The stage the contact starts in. Later changes are lifecycle moves: "
        "`POST /api/v1/leads/contacts/{id}/lifecycle`.",
    )
    consent: ConsentState = REFUSED_CONSENT
    custom: JsonObject = {}
    tags: TagList = []


class ContactPatch(Patch):
    first_name: PersonName = UNCHANGED
    last_name: PersonName = UNCHANGED
    email: EmailText = UNCHANGED
    emails: EmailList = UNCHANGED
    phone: Phone = UNCHANGED
    title: JobTitle = UNCHANGED
    account_id: RecordId | None = None
    owner_id: RecordId | None = None
    lifecycle_stage: LifecycleStage = Field(
        default=UNCHANGED,
        description="Refused (400 `owned_elsewhere`): a stage changes only by a lifecycle move, "
        "which records its history: `POST /api/v1/leads/contacts/{id}/lifecycle`.",
        json_schema_extra={"deprecated": True},
    )
    consent: ConsentState = REFUSED_CONSENT
    custom: JsonObject = UNCHANGED
    tags: TagList = UNCHANGED


class ContactOut(Output):
    id: int
    first_name: str
    last_name: str
    email: str
    phone: str
    title: str
    account_id: int | None
    owner_id: int | None
    lifecycle_stage: str
    consent: str = Field(description="Derived from the consent ledger (read-only).")
    tags: TagNames
    custom: dict[str, Any]
    erased_at: dt.datetime | None = Field(
        None, description="When the person's data was erased at their request (else null)."
    )
    created_at: dt.datetime
    updated_at: dt.datetime


class ContactPage(Output):
    items: list[ContactOut]
    next_cursor: str | None


class ContactFilters(Schema):
    q: SearchText | None = Field(None, description="Name, email or title contains")
    lifecycle_stage: LifecycleStage | None = None
    owner_id: RecordId | None = None
    account_id: RecordId | None = None
    consent: ConsentState | None = None
    tag: FilterText | None = None
    email: FilterText | None = Field(None, description="Any of the contact's addresses")
    cursor: Cursor | None = None
    limit: Limit = DEFAULT_LIMIT


# --- the timeline ---------------------------------------------------------------------------


class TouchpointIn(Input):
    contact_id: RecordId | None = None
    account_id: RecordId | None = Field(
        default=None, description="Defaults to the contact's account."
    )
    channel: Channel = Field(description="e.g. phone, meeting, email")
    kind: Kind = Field(description="e.g. sales_call")
    department: Department
    occurred_at: Moment | None = Field(default=None, description="Defaults to now.")
    campaign: Label = ""
    content: Label = ""
    properties: JsonObject = {}


class TouchpointOut(Output):
    id: int
    contact_id: int | None
    account_id: int | None
    occurred_at: dt.datetime
    channel: str
    department: str
    kind: str
    campaign: str
    content: str
    actor_id: int | None
    properties: dict[str, Any]
    is_bot: bool
    source: str


class TouchpointPage(Output):
    items: list[TouchpointOut]
    next_cursor: str | None


class TimelineFilters(Schema):
    department: Department | None = None
    channel: FilterText | None = None
    include_bots: bool = False
    cursor: Cursor | None = None
    limit: Limit = DEFAULT_LIMIT


class TouchpointFilters(TimelineFilters):
    contact_id: RecordId | None = None
    account_id: RecordId | None = None


class PersonalDataOut(Schema):
    """A person's full export: `contact` (its columns, tags and shares) and `rows`, every row
    of every model that refers to them (by model label, each row its columns)."""

    generated_at: str
    contact: dict[str, Any]
    rows: dict[str, list[dict[str, Any]]]


class EraseIn(Schema):
    confirm: int = Field(description="the contact's id, repeated to confirm the erasure")
