"""API operations of the tracking set-up, under /api/v1/tracking:

    GET  /sources                         sources with their event counts (never a key)
    POST /sources                         create; the answer holds the write key, once
    POST /sources/{id}/rotate             a new write key (the old one is refused from now on)
    POST /sources/{id}/disable            refuse the source's key
    GET  /forms, POST /forms, GET|PATCH /forms/{id}   website forms, with submission counts
    GET  /links, POST /links              tracked links with their short URL and clicks
    GET  /channel-rules                   the rules in force (version 0: the defaults)
    POST /channel-rules/preview           what edited rules would change (nothing written)
    POST /channel-rules                   publish them; reclassification runs in the background
    GET  /reclassify-runs/{id}            a run's progress
    GET  /contacts/{id}/consent           a contact's consent ledger and subscriptions

Invariants:
- sources, forms and links need `can(caller, "manage_tracking")`, the channel rules and runs
  `manage_settings` (`scopes.may_edit_channel_rules`): anyone else gets 403 before any input is
  looked at; a contact's consent follows the contact's scope (404 outside it);
- writes go through the same services as the pages (audited there); bad input is a 400 with the
  reason per field.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Router, Schema, Status
from pydantic import AfterValidator, ConfigDict, Field

from tandem.core.access import can, get_scoped
from tandem.core.api import no_nul
from tandem.core.api_auth import ApiCaller, caller
from tandem.core.api_errors import ApiError, Error
from tandem.core.api_fields import UNCHANGED, drop_null_defaults
from tandem.crm.models import Contact
from tandem.tracking import forms_service, links, selectors, services
from tandem.tracking.channels import RULE_FIELDS, default_rule_dicts
from tandem.tracking.models import (
    ChannelRule,
    ChannelRuleSet,
    Form,
    ReclassifyRun,
    Source,
    TrackedLink,
)
from tandem.tracking.reclassify import latest_version
from tandem.tracking.scopes import may_edit_channel_rules

router = Router(tags=["tracking"])

MAX_ID = 2**63 - 1
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
ERRORS: dict[int, Any] = {400: Error, 401: Error, 403: Error, 404: Error, 429: Error}
WRITE_ERRORS: dict[int, Any] = {**ERRORS, 413: Error, 415: Error}


Text40 = Annotated[str, Field(max_length=40), AfterValidator(no_nul)]
Text100 = Annotated[str, Field(max_length=100), AfterValidator(no_nul)]
Text200 = Annotated[str, Field(max_length=200), AfterValidator(no_nul)]
Text300 = Annotated[str, Field(max_length=300), AfterValidator(no_nul)]
Text2000 = Annotated[str, Field(max_length=2000), AfterValidator(no_nul)]
Text5000 = Annotated[str, Field(max_length=5000), AfterValidator(no_nul)]


def _manager(request: HttpRequest) -> ApiCaller:
    who = caller(request)
    if not can(who.user, "manage_tracking"):
        raise ApiError(403, "forbidden", _("You may not manage tracking."))
    return who


def _rules_editor(request: HttpRequest) -> ApiCaller:
    who = caller(request)
    if not may_edit_channel_rules(who.user):
        raise ApiError(403, "forbidden", _("You may not edit the channel rules."))
    return who


# --- sources ----------------------------------------------------------------------------------


class SourceOut(Schema):
    id: int
    name: str
    kind: str
    key_prefix: str
    created_at: dt.datetime
    disabled_at: dt.datetime | None
    events: int = Field(description="Touchpoints stored from this source's calls.")
    last_event_at: dt.datetime | None


class SourceWithKey(SourceOut):
    write_key: str = Field(description="Shown in this answer only; Tandem keeps its hash.")


class SourceIn(Schema):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=100), AfterValidator(no_nul)]
    kind: Source.Kind = Source.Kind.WEBSITE


def _source_out(
    source: Source, counts: selectors.SourceCounts | None = None, key: str | None = None
) -> dict[str, Any]:
    if counts is None:
        counts = selectors.source_event_counts([source.name]).get(source.name)
    counts = counts or selectors.SourceCounts()
    out = {
        "id": source.pk,
        "name": source.name,
        "kind": source.kind,
        "key_prefix": source.key_prefix,
        "created_at": source.created_at,
        "disabled_at": source.revoked_at,
        "events": counts.events,
        "last_event_at": counts.last_at,
    }
    if key is not None:
        out["write_key"] = key
    return out


def _source_or_404(source_id: int) -> Source:
    source = Source.objects.filter(pk=source_id).first()
    if source is None:
        raise ApiError(404, "not_found", _("No such source."))
    return source


@router.get("/sources", response={200: list[SourceOut], **ERRORS})
def list_sources(request: HttpRequest) -> list[dict[str, Any]]:
    """Every source (disabled ones too), by name, with how many events each has sent."""
    _manager(request)
    sources = list(Source.objects.all())
    counts = selectors.source_event_counts(s.name for s in sources)
    return [_source_out(s, counts.get(s.name, selectors.SourceCounts())) for s in sources]


@router.post("/sources", response={201: SourceWithKey, **WRITE_ERRORS})
def create_source(request: HttpRequest, payload: SourceIn) -> Status[dict[str, Any]]:
    """A new source; `write_key` is in this answer only."""
    who = _manager(request)
    source, key = services.source_create(actor=who.actor, name=payload.name, kind=payload.kind)
    return Status(201, _source_out(source, key=key))


@router.post("/sources/{source_id}/rotate", response={200: SourceWithKey, **WRITE_ERRORS})
def rotate_source_key(request: HttpRequest, source_id: Id) -> dict[str, Any]:
    """A new write key; the old one is refused from now on (400 for a disabled source)."""
    who = _manager(request)
    source, key = services.source_rotate(actor=who.actor, source=_source_or_404(source_id))
    return _source_out(source, key=key)


@router.post("/sources/{source_id}/disable", response={200: SourceOut, **WRITE_ERRORS})
def disable_source(request: HttpRequest, source_id: Id) -> dict[str, Any]:
    """Refuse the source's write key (again: no change)."""
    who = _manager(request)
    source = services.source_revoke(actor=who.actor, source=_source_or_404(source_id))
    return _source_out(source)


# --- website forms ----------------------------------------------------------------------------


class FormField(Schema):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=50), AfterValidator(no_nul)]
    label: Text200 = ""
    type: str = Field(default="text", pattern="^(text|email|textarea|checkbox|tel)$")
    required: bool = False


class FormOut(Schema):
    id: int
    key: str
    name: str
    fields: list[dict[str, Any]]
    consent_purpose: str
    consent_wording: str
    consent_version: str
    double_opt_in: bool
    campaign: str
    success_message: str
    source_id: int | None
    redirect_url: str
    created_at: dt.datetime
    submissions: int
    embed_url: str
    submit_url: str


class FormIn(Schema):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=200), AfterValidator(no_nul)]
    fields: list[FormField] = Field(default_factory=list, max_length=30)
    consent_purpose: Text100 = ""
    consent_wording: Text5000 = ""
    consent_version: Text40 = ""
    double_opt_in: bool = True
    campaign: Text200 = ""
    success_message: Text300 = ""
    source_id: Id | None = None
    redirect_url: Text2000 = ""


class FormChangeIn(Schema):
    """Only the fields sent change; `source_id: null` detaches the source, no other field takes
    null."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=drop_null_defaults)

    name: Annotated[str, Field(min_length=1, max_length=200), AfterValidator(no_nul)] = UNCHANGED
    fields: Annotated[list[FormField], Field(max_length=30)] = UNCHANGED
    consent_purpose: Text100 = UNCHANGED
    consent_wording: Text5000 = UNCHANGED
    consent_version: Text40 = UNCHANGED
    double_opt_in: bool = UNCHANGED
    campaign: Text200 = UNCHANGED
    success_message: Text300 = UNCHANGED
    source_id: Id | None = None
    redirect_url: Text2000 = UNCHANGED


def _form_out(request: HttpRequest, form: Form, submissions: int | None = None) -> dict[str, Any]:
    if submissions is None:
        submissions = selectors.form_submission_counts([form.key]).get(form.key, 0)
    return {
        **{f: getattr(form, f) for f in forms_service.EDITABLE if f not in ("source", "fields")},
        "id": form.pk,
        "key": form.key,
        "fields": forms_service.form_fields(form)[1:],  # email is always first: not stored
        "source_id": form.source_id,
        "created_at": form.created_at,
        "submissions": submissions,
        "embed_url": request.build_absolute_uri(f"/f/{form.key}/embed"),
        "submit_url": request.build_absolute_uri(f"/f/{form.key}/submit"),
    }


def _form_data(payload: Schema, *, partial: bool) -> dict[str, Any]:
    data = payload.model_dump(exclude_unset=partial)
    if "source_id" in data:
        data["source"] = data.pop("source_id")
    return data


def _form_or_404(form_id: int) -> Form:
    form = Form.objects.filter(pk=form_id).first()
    if form is None:
        raise ApiError(404, "not_found", _("No such form."))
    return form


@router.get("/forms", response={200: list[FormOut], **ERRORS})
def list_forms(request: HttpRequest) -> list[dict[str, Any]]:
    """Every website form, by name, with its submission count."""
    _manager(request)
    forms_ = list(Form.objects.all())
    counts = selectors.form_submission_counts(f.key for f in forms_)
    return [_form_out(request, f, counts.get(f.key, 0)) for f in forms_]


@router.post("/forms", response={201: FormOut, **WRITE_ERRORS})
def create_form(request: HttpRequest, payload: FormIn) -> Status[dict[str, Any]]:
    who = _manager(request)
    data = _form_data(payload, partial=False)
    form = forms_service.form_create(actor=who.actor, name=data.pop("name"), **data)
    return Status(201, _form_out(request, form, 0))


@router.get("/forms/{form_id}", response={200: FormOut, **ERRORS})
def get_form(request: HttpRequest, form_id: Id) -> dict[str, Any]:
    _manager(request)
    return _form_out(request, _form_or_404(form_id))


@router.patch("/forms/{form_id}", response={200: FormOut, **WRITE_ERRORS})
def change_form(request: HttpRequest, form_id: Id, payload: FormChangeIn) -> dict[str, Any]:
    """Change the fields sent; a new consent wording gets a new version."""
    who = _manager(request)
    data = _form_data(payload, partial=True)
    form = forms_service.form_update(actor=who.actor, form=_form_or_404(form_id), **data)
    return _form_out(request, form)


# --- tracked links ----------------------------------------------------------------------------


class LinkOut(Schema):
    id: int
    token: str
    short_url: str
    destination: str
    target_url: str = Field(description="The destination with its utm_* parameters.")
    utm_source: str
    utm_medium: str
    utm_campaign: str
    utm_content: str
    utm_term: str
    created_at: dt.datetime
    disabled_at: dt.datetime | None
    clicks: int
    bot_clicks: int


class LinkIn(Schema):
    model_config = ConfigDict(extra="forbid")

    destination: Annotated[str, Field(min_length=1, max_length=2000), AfterValidator(no_nul)]
    utm_source: Text100 = ""
    utm_medium: Text100 = ""
    utm_campaign: Text100 = ""
    utm_content: Text100 = ""
    utm_term: Text100 = ""


def _link_out(
    request: HttpRequest, link: TrackedLink, counts: selectors.ClickCounts
) -> dict[str, Any]:
    return {
        **{f: getattr(link, f) for f in ("destination", *links.UTM_FIELDS)},
        "id": link.pk,
        "token": link.token,
        "short_url": request.build_absolute_uri(links.link_path(link)),
        "target_url": links.link_target(link),
        "created_at": link.created_at,
        "disabled_at": link.disabled_at,
        "clicks": counts.clicks,
        "bot_clicks": counts.bots,
    }


@router.get("/links", response={200: list[LinkOut], **ERRORS})
def list_links(request: HttpRequest) -> list[dict[str, Any]]:
    """The newest 1,000 tracked links with their clicks."""
    _manager(request)
    shown = list(TrackedLink.objects.all()[:1000])
    counts = selectors.link_click_counts(link.token for link in shown)
    return [
        _link_out(request, link, counts.get(link.token, selectors.ClickCounts())) for link in shown
    ]


@router.post("/links", response={201: LinkOut, **WRITE_ERRORS})
def create_link(request: HttpRequest, payload: LinkIn) -> Status[dict[str, Any]]:
    """A tracked link to a public http(s) address (private hosts and other schemes: 400)."""
    who = _manager(request)
    link = links.link_create(actor=who.actor, **payload.model_dump())
    return Status(201, _link_out(request, link, selectors.ClickCounts()))


# --- channel rules ----------------------------------------------------------------------------


class Rule(Schema):
    model_config = ConfigDict(extra="forbid")

    source_kind: Text100 = ""
    utm_source: Text300 = ""
    utm_medium: Text300 = ""
    utm_campaign: Text300 = ""
    referrer: Text300 = ""
    event: Text300 = ""
    channel: Annotated[str, Field(min_length=1, max_length=40)]
    department: Annotated[str, Field(min_length=1, max_length=20)]


class RulesOut(Schema):
    version: int = Field(description="0: the defaults (nothing published yet).")
    rules: list[Rule]


class RulesIn(Schema):
    model_config = ConfigDict(extra="forbid")

    rules: list[Rule] = Field(min_length=1, max_length=500)
    note: Text200 = ""


class MoveOut(Schema):
    from_channel: str
    from_department: str
    to_channel: str
    to_department: str
    count: int


class PreviewOut(Schema):
    checked: int
    changed: int
    since: dt.datetime
    sampled: bool = Field(description="True when only the newest `limit` touchpoints were read.")
    limit: int
    moves: list[MoveOut]


class RunOut(Schema):
    id: int
    version: int
    status: str
    total: int
    processed: int
    changed: int
    percent: int
    error: str
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None


class PublishedOut(Schema):
    version: int
    run: RunOut


@router.get("/channel-rules", response={200: RulesOut, **ERRORS})
def get_channel_rules(request: HttpRequest) -> dict[str, Any]:
    _rules_editor(request)
    version = latest_version()
    if version == 0:
        return {"version": 0, "rules": default_rule_dicts()}
    rows = (
        ChannelRule.objects.filter(ruleset__version=version)
        .order_by("position")
        .values(*RULE_FIELDS, "channel", "department")
    )
    return {"version": version, "rules": list(rows)}


@router.post("/channel-rules/preview", response={200: PreviewOut, **WRITE_ERRORS})
def preview_channel_rules(request: HttpRequest, payload: RulesIn) -> Any:
    """How many of the last 30 days' touchpoints (the newest 5,000) these rules would move,
    from -> to. Nothing is written."""
    _rules_editor(request)
    return services.channel_rules_preview(rules=[r.model_dump() for r in payload.rules])


@router.post("/channel-rules", response={201: PublishedOut, **WRITE_ERRORS})
def publish_channel_rules(request: HttpRequest, payload: RulesIn) -> Status[dict[str, Any]]:
    """Publish a new version; past touchpoints are reclassified in the background (follow the
    run with GET /reclassify-runs/{id})."""
    who = _rules_editor(request)
    ruleset: ChannelRuleSet = services.channel_rules_publish(
        actor=who.actor, rules=[r.model_dump() for r in payload.rules], note=payload.note
    )
    run = ReclassifyRun.objects.filter(version=ruleset.version).order_by("-id").first()
    return Status(201, {"version": ruleset.version, "run": run})


@router.get("/reclassify-runs/{run_id}", response={200: RunOut, **ERRORS})
def get_reclassify_run(request: HttpRequest, run_id: Id) -> ReclassifyRun:
    who = _rules_editor(request)
    return get_scoped(who.user, ReclassifyRun, run_id)


# --- a contact's consent ----------------------------------------------------------------------


class ConsentRowOut(Schema):
    id: int
    purpose: str
    purpose_name: str
    state: str
    at: dt.datetime
    origin: str
    form_id: int | None
    wording: str
    wording_version: str
    ip: str | None
    user_agent: str


class ConsentOut(Schema):
    contact_id: int
    consent: str = Field(description="The overall marketing consent the ledger gives.")
    subscriptions: list[ConsentRowOut] = Field(description="The latest row of each purpose.")
    history: list[ConsentRowOut] = Field(description="Every row, newest first (at most 500).")
    more: bool


def _consent_row(row: selectors.ConsentRow) -> dict[str, Any]:
    record = row.record
    return {
        "id": record.pk,
        "purpose": record.purpose,
        "purpose_name": row.purpose_name,
        "state": record.state,
        "at": record.at,
        "origin": row.origin,
        "form_id": record.form_id,
        "wording": record.wording,
        "wording_version": record.wording_version,
        "ip": record.ip,
        "user_agent": record.user_agent,
    }


@router.get("/contacts/{contact_id}/consent", response={200: ConsentOut, **ERRORS})
def contact_consent(request: HttpRequest, contact_id: Id) -> dict[str, Any]:
    """The contact's consent ledger and current subscriptions (404 outside the caller's
    scope, as for the contact itself)."""
    who = caller(request)
    contact = get_scoped(who.user, Contact, contact_id)
    history = selectors.consent_history(contact.pk)
    return {
        "contact_id": contact.pk,
        "consent": contact.consent,
        "subscriptions": [_consent_row(r) for r in history.current],
        "history": [_consent_row(r) for r in history.rows],
        "more": history.more,
    }
