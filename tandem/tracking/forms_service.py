"""Embeddable forms: submissions create or update contacts, record consent, double opt-in.

Invariants:
- a submission is stored completely (contact, consent record, touchpoint) or not at all;
- a filled honeypot is answered like a success and stores nothing;
- consent is evidenced by append-only `ConsentRecord` rows (purpose, wording and its version,
  time, IP, user agent) appended by the ledger's one service (`consent.consent_record`, which
  also derives `Contact.consent`); marketing consent with double opt-in stays "pending" until
  the signed link in the confirmation email is opened, which appends a "confirmed" row;
- double opt-in applies when the form asks for it OR the subscription type the form's purpose
  names does; the email and the link come from the registered double opt-in provider
  (`consent.double_opt_in()`, marketing's: one confirm path), so tracking never imports
  marketing;
- the confirmation email is sent after commit, never for a submission that rolled back.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.crm import services as crm
from tandem.crm.models import Contact, Identity
from tandem.crm.validation import clean_email
from tandem.tracking.consent import consent_record, double_opt_in
from tandem.tracking.models import ConsentRecord, Form
from tandem.tracking.services import _lock, identity_link

log = logging.getLogger("tandem.tracking")
HONEYPOT = "website_url"
CONTACT_FIELDS = {"first_name": 100, "last_name": 100, "phone": 40, "title": 150}
FIELD_TYPES = {"text", "email", "textarea", "checkbox", "tel"}


def form_fields(form: Form) -> list[dict[str, Any]]:
    """The form's fields, email first and always required."""
    fields = [{"name": "email", "label": _("Email"), "type": "email", "required": True}]
    for raw in form.fields or []:
        if not isinstance(raw, dict) or not raw.get("name") or raw.get("name") == "email":
            continue
        fields.append(
            {
                "name": str(raw["name"])[:50],
                "label": str(raw.get("label") or raw["name"])[:200],
                "type": raw.get("type") if raw.get("type") in FIELD_TYPES else "text",
                "required": bool(raw.get("required")),
            }
        )
    return fields


def form_definition(form: Form) -> dict[str, Any]:
    return {
        "key": form.key,
        "name": form.name,
        "fields": form_fields(form),
        "consent": {
            "purpose": form.consent_purpose,
            "wording": form.consent_wording,
            "version": form.consent_version,
        }
        if form.consent_purpose
        else None,
        "honeypot": HONEYPOT,
        "submit": f"/f/{form.key}/submit",
    }


@dataclass
class SubmitResult:
    errors: dict[str, list[str]] = field(default_factory=dict)
    confirmation_sent: bool = False
    contact_id: int | None = None


def _truthy(value: Any) -> bool:
    return value is True or str(value).strip().lower() in {"1", "true", "on", "yes"}


def _validate(form: Form, data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    values: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for spec in form_fields(form):
        name = spec["name"]
        raw = data.get(name)
        if spec["type"] == "checkbox":
            values[name] = _truthy(raw)
            if spec["required"] and not values[name]:
                errors[name] = [_("This box must be ticked.")]
            continue
        text = "" if raw is None else str(raw).strip()
        if not text:
            if spec["required"]:
                errors[name] = [_("This field is required.")]
            continue
        if len(text) > CONTACT_FIELDS.get(name, 2000):
            errors[name] = [_("At most %(n)d characters.") % {"n": CONTACT_FIELDS.get(name, 2000)}]
            continue
        if spec["type"] == "email":
            try:
                text = clean_email(text)
            except ValueError:
                errors[name] = [_("Enter a valid email address.")]
                continue
        values[name] = text
    if form.consent_purpose:
        values["consent"] = _truthy(data.get("consent"))
    return values, errors


def form_submit(
    *,
    form: Form,
    data: dict[str, Any],
    ip: str,
    user_agent: str,
    anonymous_id: str,
    confirm_base: str,
) -> SubmitResult:
    if str(data.get(HONEYPOT) or "").strip():
        log.info("form %s: honeypot filled, submission dropped", form.key)
        return SubmitResult()
    values, errors = _validate(form, data)
    if errors:
        return SubmitResult(errors=errors)
    try:
        return _store(
            form=form,
            values=values,
            ip=ip,
            user_agent=user_agent,
            anonymous_id=anonymous_id,
            confirm_base=confirm_base,
        )
    except InvalidInput as exc:
        return SubmitResult(errors=exc.errors)


@transaction.atomic
def _store(
    *,
    form: Form,
    values: dict[str, Any],
    ip: str,
    user_agent: str,
    anonymous_id: str,
    confirm_base: str,
) -> SubmitResult:
    email = values["email"]
    details = {k: values[k] for k in CONTACT_FIELDS if values.get(k)}
    _lock(f"email:{email}")
    existing = crm.contact_duplicates_of(email=email)
    system = Actor.system()
    if existing:
        contact = Contact.objects.get(pk=existing[0])
        fill = {k: v for k, v in details.items() if not getattr(contact, k)}
        if fill:
            contact = crm.contact_update(actor=system, contact=contact, **fill)
    else:
        contact = crm.contact_create(actor=system, email=email, **details)
    result = SubmitResult(contact_id=contact.pk)
    record: ConsentRecord | None = None
    optin = double_opt_in()
    if form.consent_purpose and values.get("consent"):
        confirm = form.double_opt_in or optin.requires_confirmation(form.consent_purpose)
        record = consent_record(
            contact=contact,
            form=form,
            purpose=form.consent_purpose,
            wording=form.consent_wording,
            wording_version=form.consent_version,
            state=ConsentRecord.State.PENDING if confirm else ConsentRecord.State.GRANTED,
            ip=ip,
            user_agent=user_agent,
            actor=system,
        )
    if anonymous_id:
        identity_link(kind=Identity.Kind.ANONYMOUS_ID, value=anonymous_id, contact_id=contact.pk)
        crm.touchpoints_adopt(contact_id=contact.pk, anonymous_ids=[anonymous_id])
    extra = {k: v for k, v in values.items() if k not in CONTACT_FIELDS and k != "email"}
    crm.touchpoint_record(
        channel="website",
        kind="form_submitted",
        department="marketing",
        contact=contact,
        campaign=form.campaign,
        content=form.name[:200],
        source="form",
        anonymous_id=anonymous_id,
        properties={
            "type": "form",
            "form": form.key,
            "fields": extra,
            "ip": ip,
            "user_agent": user_agent[:500],
        },
    )
    if record is not None and record.state == ConsentRecord.State.PENDING:
        optin.request_confirmation(
            record_id=record.pk,
            email=email,
            name=optin.purpose_name(form.consent_purpose) or form.name,
            confirm_base=confirm_base,
        )
        result.confirmation_sent = True
    return result


def consent_confirm(*, signed: str, ip: str, user_agent: str) -> bool:
    """Open the signed confirmation link: the registered provider's one implementation (appends
    a confirmed record once and grants consent; refuses forged, expired and superseded links)."""
    return double_opt_in().confirm(signed=signed, ip=ip, user_agent=user_agent)
