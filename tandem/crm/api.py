"""API endpoints of the customer record: accounts, contacts and the timeline (thin: parse, call
a service, render).

Invariants:
- every read starts from `scoped(caller, Model)`: an invisible record is a 404 on its own URL and
  absent from every list; a record referenced in a body that the caller cannot see is refused
  like a missing one;
- changing needs `scoped(..., "change")`, deleting `scoped(..., "delete")`: a visible record the
  caller may not change or delete is a 403;
- writes go through `tandem.crm.services` with the caller as Actor (user and token), so the audit
  log names the token;
- lists are keyset pages newest first ((created_at, id) or (occurred_at, id)), selecting only the
  serialized columns, with the page's tag names read in one query (`attach_tag_names`), and no
  COUNT.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponseBase
from django.utils.translation import gettext as _
from ninja import Query, Router, Status

from tandem.core.access import Action, can, get_scoped, scoped
from tandem.core.api_auth import ApiCaller, caller
from tandem.core.api_errors import ApiError, Error
from tandem.core.api_exports import ExportJobOut, export_job_out
from tandem.core.api_output import attach_tag_names
from tandem.core.api_pagination import keyset_page
from tandem.core.errors import InvalidInput
from tandem.core.export_jobs import export_respond
from tandem.core.exports import XLSX_CONTENT_TYPE, parse_format
from tandem.core.models import ExportJob
from tandem.crm import selectors, services
from tandem.crm.models import Account, Contact, Touchpoint
from tandem.crm.schemas import (
    AccountFilters,
    AccountIn,
    AccountOut,
    AccountPage,
    AccountPatch,
    ContactFilters,
    ContactIn,
    ContactOut,
    ContactPage,
    ContactPatch,
    EraseIn,
    PersonalDataOut,
    RecordId,
    TimelineFilters,
    TouchpointFilters,
    TouchpointIn,
    TouchpointOut,
    TouchpointPage,
)

router = Router(tags=["customer record"])

READ_ERRORS: dict[int, Any] = {400: Error, 401: Error, 404: Error, 429: Error}
WRITE_ERRORS: dict[int, Any] = {
    **READ_ERRORS,
    403: Error,
    413: Error,
    415: Error,
}

ACCOUNT_COLUMNS = (
    "id",
    "name",
    "domains",
    "industry",
    "industry_attributes",
    "region",
    "owner_id",
    "custom",
    "created_at",
    "updated_at",
)
CONTACT_COLUMNS = (
    "id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "title",
    "account_id",
    "owner_id",
    "lifecycle_stage",
    "consent",
    "custom",
    "erased_at",
    "created_at",
    "updated_at",
)
TOUCHPOINT_COLUMNS = (
    "id",
    "contact_id",
    "account_id",
    "occurred_at",
    "channel",
    "department",
    "kind",
    "campaign",
    "content",
    "actor_id",
    "properties",
    "is_bot",
    "source",
)


def _export(
    request: HttpRequest, kind: str, filters: AccountFilters | ContactFilters, fmt: str
) -> Any:
    """The file at once, or 202 with the export job for a long list (one selector with the
    page: the list's filters, newest first)."""
    asked = {
        k: v
        for k, v in filters.model_dump(exclude={"cursor", "limit"}).items()
        if v not in (None, "")
    }
    answer = export_respond(
        actor=caller(request).actor,
        kind=kind,
        filters={**asked, "sort": "created"},
        fmt=parse_format(fmt),
    )
    if isinstance(answer, ExportJob):
        return Status(202, export_job_out(answer))
    return answer


ExportFormat: Any = Query(
    "csv", alias="format", max_length=10, description="`csv` (the default) or `xlsx`"
)
EXPORT_OPENAPI: dict[str, Any] = {
    "responses": {
        "200": {
            "description": "The file, as an attachment.",
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                XLSX_CONTENT_TYPE: {"schema": {"type": "string", "format": "binary"}},
            },
        }
    }
}


def _require(who: ApiCaller, model: type[Account] | type[Contact], pk: int, action: Action) -> Any:
    """The record if visible (else 404) and open to `action` (else 403)."""
    record = get_scoped(who.user, model, pk)
    if action != "view" and not scoped(who.user, model, action).filter(pk=pk).exists():
        message = (
            _("You may not delete this record.")
            if action == "delete"
            else _("You may not change this record.")
        )
        raise ApiError(403, "forbidden", message)
    return record


def _check_visible_account(who: ApiCaller, data: dict[str, Any]) -> None:
    account_id = data.get("account_id")
    if account_id is not None and not scoped(who.user, Account).filter(pk=account_id).exists():
        raise InvalidInput({"account_id": ["no such account"]})


def _page(rows: list[Any], cursor: str | None) -> dict[str, Any]:
    return {"items": rows, "next_cursor": cursor}


# --- accounts -------------------------------------------------------------------------------


def _accounts(who: ApiCaller, f: AccountFilters) -> QuerySet[Account]:
    """The account list's one selector (the page's too), with the serialized columns."""
    query = selectors.ListQuery(
        q=f.q or "",
        industry=f.industry or "",
        owner_id=f.owner_id,
        tag=f.tag or "",
        domain=f.domain or "",
    )
    return selectors.accounts_filtered(who.user, query).only(*ACCOUNT_COLUMNS)


@router.get("/accounts", response={200: AccountPage, **READ_ERRORS})
def list_accounts(request: HttpRequest, filters: Query[AccountFilters]) -> dict[str, Any]:
    """Accounts the caller can see, newest first."""
    rows, cursor = keyset_page(
        _accounts(caller(request), filters),
        kind="accounts",
        time_field="created_at",
        cursor=filters.cursor,
        limit=filters.limit,
    )
    attach_tag_names(rows, Account.tags)
    return _page(rows, cursor)


@router.get(
    "/accounts/export",
    response={200: None, 202: ExportJobOut, **READ_ERRORS},
    openapi_extra=EXPORT_OPENAPI,
)
def export_accounts(
    request: HttpRequest,
    filters: Query[AccountFilters],
    fmt: str = ExportFormat,
) -> HttpResponseBase:
    """Every account the list would give (same filters; `cursor` and `limit` are ignored), newest
    first, as CSV (streamed, UTF-8 with BOM) or XLSX; formula-like text is neutralised. More
    than EXPORT_BACKGROUND_ROWS rows: 202 with the export job, whose file a worker writes
    (follow `url`, then fetch `download_url`)."""
    return _export(request, "crm.accounts", filters, fmt)


@router.post("/accounts", response={201: AccountOut, **WRITE_ERRORS})
def create_account(request: HttpRequest, payload: AccountIn) -> Status[Account]:
    who = caller(request)
    data = payload.model_dump(exclude_unset=True)
    data.setdefault("owner_id", who.user.pk)
    return Status(201, services.account_create(actor=who.actor, **data))


@router.get("/accounts/{account_id}", response={200: AccountOut, **READ_ERRORS})
def get_account(request: HttpRequest, account_id: RecordId) -> Account:
    return _require(caller(request), Account, account_id, "view")


@router.patch("/accounts/{account_id}", response={200: AccountOut, **WRITE_ERRORS})
def update_account(request: HttpRequest, account_id: RecordId, payload: AccountPatch) -> Account:
    who = caller(request)
    account = _require(who, Account, account_id, "change")
    return services.account_update(
        actor=who.actor, account=account, **payload.model_dump(exclude_unset=True)
    )


@router.delete("/accounts/{account_id}", response={204: None, **WRITE_ERRORS})
def delete_account(request: HttpRequest, account_id: RecordId) -> Status[None]:
    who = caller(request)
    services.account_delete(actor=who.actor, account=_require(who, Account, account_id, "delete"))
    return Status(204, None)


@router.get("/accounts/{account_id}/timeline", response={200: TouchpointPage, **READ_ERRORS})
def account_timeline(
    request: HttpRequest, account_id: RecordId, filters: Query[TimelineFilters]
) -> dict[str, Any]:
    """The account's touchpoints (its contacts' included), newest first."""
    who = caller(request)
    account = _require(who, Account, account_id, "view")
    return _touchpoint_page(who, filters, Q(account_id=account.pk))


# --- contacts -------------------------------------------------------------------------------


def _contacts(who: ApiCaller, f: ContactFilters) -> QuerySet[Contact]:
    """The contact list's one selector (the page's too), with the serialized columns."""
    query = selectors.ListQuery(
        q=f.q or "",
        lifecycle_stage=f.lifecycle_stage or "",
        owner_id=f.owner_id,
        account_id=f.account_id,
        consent=f.consent or "",
        tag=f.tag or "",
        email=f.email or "",
    )
    return selectors.contacts_filtered(who.user, query).only(*CONTACT_COLUMNS)


@router.get("/contacts", response={200: ContactPage, **READ_ERRORS})
def list_contacts(request: HttpRequest, filters: Query[ContactFilters]) -> dict[str, Any]:
    """Contacts the caller can see, newest first."""
    rows, cursor = keyset_page(
        _contacts(caller(request), filters),
        kind="contacts",
        time_field="created_at",
        cursor=filters.cursor,
        limit=filters.limit,
    )
    attach_tag_names(rows, Contact.tags)
    return _page(rows, cursor)


@router.get(
    "/contacts/export",
    response={200: None, 202: ExportJobOut, **READ_ERRORS},
    openapi_extra=EXPORT_OPENAPI,
)
def export_contacts(
    request: HttpRequest,
    filters: Query[ContactFilters],
    fmt: str = ExportFormat,
) -> HttpResponseBase:
    """Every contact the list would give (same filters; `cursor` and `limit` are ignored), newest
    first, as CSV (streamed, UTF-8 with BOM) or XLSX; formula-like text is neutralised. More
    than EXPORT_BACKGROUND_ROWS rows: 202 with the export job, whose file a worker writes
    (follow `url`, then fetch `download_url`)."""
    return _export(request, "crm.contacts", filters, fmt)


@router.post("/contacts", response={201: ContactOut, **WRITE_ERRORS})
def create_contact(request: HttpRequest, payload: ContactIn) -> Status[Contact]:
    who = caller(request)
    data = payload.model_dump(exclude_unset=True)
    data.setdefault("owner_id", who.user.pk)
    _check_visible_account(who, data)
    return Status(201, services.contact_create(actor=who.actor, **data))


@router.get("/contacts/{contact_id}", response={200: ContactOut, **READ_ERRORS})
def get_contact(request: HttpRequest, contact_id: RecordId) -> Contact:
    return _require(caller(request), Contact, contact_id, "view")


@router.patch("/contacts/{contact_id}", response={200: ContactOut, **WRITE_ERRORS})
def update_contact(request: HttpRequest, contact_id: RecordId, payload: ContactPatch) -> Contact:
    who = caller(request)
    contact = _require(who, Contact, contact_id, "change")
    data = payload.model_dump(exclude_unset=True)
    _check_visible_account(who, data)
    return services.contact_update(actor=who.actor, contact=contact, **data)


@router.delete("/contacts/{contact_id}", response={204: None, **WRITE_ERRORS})
def delete_contact(request: HttpRequest, contact_id: RecordId) -> Status[None]:
    who = caller(request)
    services.contact_delete(actor=who.actor, contact=_require(who, Contact, contact_id, "delete"))
    return Status(204, None)


def _privacy_request(who: ApiCaller, contact_id: int) -> Contact:
    contact = get_scoped(who.user, Contact, contact_id)
    if not can(who.user, "handle_privacy_requests"):
        raise ApiError(
            403, "forbidden", _("Only the head and administrators handle privacy requests.")
        )
    return contact


@router.get("/contacts/{contact_id}/personal-data", response={200: PersonalDataOut, **READ_ERRORS})
def export_personal_data(request: HttpRequest, contact_id: RecordId) -> dict[str, Any]:
    """Everything Tandem holds about the person (a subject access request): the contact, then
    every row of every model that refers to them, by model label. Audited; head and admin."""
    who = caller(request)
    return services.contact_export(actor=who.actor, contact=_privacy_request(who, contact_id))


@router.post("/contacts/{contact_id}/erase", response={200: ContactOut, **WRITE_ERRORS})
def erase_contact(request: HttpRequest, contact_id: RecordId, payload: EraseIn) -> Contact:
    """Erase the person's data (right to erasure): the contact stays as "#id" with its
    touchpoints (campaign totals and attribution credit unchanged), without names, addresses,
    phones, IP addresses or ids; a salted hash of each address keeps them from being created
    again. `confirm` must repeat the contact's id. Audited; head and admin; idempotent."""
    who = caller(request)
    contact = _privacy_request(who, contact_id)
    if payload.confirm != contact.pk:
        raise InvalidInput({"confirm": [_("Repeat the contact's number to confirm the erasure.")]})
    return services.contact_erase(actor=who.actor, contact=contact)


@router.get("/contacts/{contact_id}/timeline", response={200: TouchpointPage, **READ_ERRORS})
def contact_timeline(
    request: HttpRequest, contact_id: RecordId, filters: Query[TimelineFilters]
) -> dict[str, Any]:
    """The contact's touchpoints, newest first."""
    who = caller(request)
    contact = _require(who, Contact, contact_id, "view")
    return _touchpoint_page(who, filters, Q(contact_id=contact.pk))


# --- the timeline ---------------------------------------------------------------------------


def _touchpoint_page(who: ApiCaller, f: TimelineFilters, where: Q) -> dict[str, Any]:
    qs = scoped(who.user, Touchpoint).filter(where).only(*TOUCHPOINT_COLUMNS)
    if not f.include_bots:
        qs = qs.filter(is_bot=False)
    if f.department:
        qs = qs.filter(department=f.department)
    if f.channel:
        qs = qs.filter(channel=f.channel)
    rows, cursor = keyset_page(
        qs, kind="touchpoints", time_field="occurred_at", cursor=f.cursor, limit=f.limit
    )
    return _page(rows, cursor)


@router.get("/touchpoints", response={200: TouchpointPage, **READ_ERRORS})
def list_touchpoints(request: HttpRequest, filters: Query[TouchpointFilters]) -> dict[str, Any]:
    """Touchpoints the caller can see, newest first; bots are left out unless asked for."""
    where = Q()
    if filters.contact_id:
        where &= Q(contact_id=filters.contact_id)
    if filters.account_id:
        where &= Q(account_id=filters.account_id)
    return _touchpoint_page(caller(request), filters, where)


@router.post("/touchpoints", response={201: TouchpointOut, **WRITE_ERRORS})
def record_touchpoint(request: HttpRequest, payload: TouchpointIn) -> Status[Touchpoint]:
    """Log an activity (a sales call, a meeting…) with a contact or account the caller sees."""
    who = caller(request)
    contact = account = None
    errors: dict[str, list[str]] = {}
    if payload.contact_id is not None:
        contact = scoped(who.user, Contact).filter(pk=payload.contact_id).first()
        if contact is None:
            errors["contact_id"] = ["no such contact"]
    if payload.account_id is not None:
        account = scoped(who.user, Account).filter(pk=payload.account_id).first()
        if account is None:
            errors["account_id"] = ["no such account"]
    if errors:
        raise InvalidInput(errors)
    touchpoint = services.touchpoint_record(
        channel=payload.channel,
        kind=payload.kind,
        department=payload.department,
        contact=contact,
        account=account,
        occurred_at=payload.occurred_at,
        campaign=payload.campaign,
        content=payload.content,
        actor=who.user,
        properties=payload.properties,
        source="api",
    )
    return Status(201, touchpoint)
