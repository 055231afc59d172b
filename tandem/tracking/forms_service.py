"""Embeddable forms: submissions create or update contacts, record consent, double opt-in.

Invariants:
- a submission is stored completely (contact, consent record, touchpoint) or not at all;
- a filled honeypot is answered like a success and stores nothing;
- consent is evidenced by append-only `ConsentRecord` rows (purpose, wording and its version,
  time, IP, user agent); marketing consent with double opt-in stays "pending" until the signed
  link in the confirmation email is opened, which appends a "confirmed" row;
- the confirmation email is sent after commit, never for a submission that rolled back.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.crm import services as crm
from tandem.crm.models import ConsentState, Contact, Identity
from tandem.crm.validation import clean_email
from tandem.tracking.models import ConsentRecord, Form
from tandem.tracking.services import _lock, identity_link, touchpoints_adopt

log = logging.getLogger("tandem.tracking")
HONEYPOT = "website_url"
CONTACT_FIELDS = {"first_name": 100, "last_name": 100, "phone": 40, "title": 150}
FIELD_TYPES = {"text", "email", "textarea", "checkbox", "tel"}
CONFIRM_SALT = "tandem.tracking.consent"
CONFIRM_MAX_AGE = 14 * 86400


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
    if form.consent_purpose and values.get("consent"):
        state = ConsentRecord.State.PENDING if form.double_opt_in else ConsentRecord.State.GRANTED
        record = ConsentRecord.objects.create(
            contact=contact,
            form=form,
            purpose=form.consent_purpose,
            wording=form.consent_wording,
            wording_version=form.consent_version,
            state=state,
            ip=ip or None,
            user_agent=user_agent[:500],
        )
        wanted = ConsentState.PENDING if form.double_opt_in else ConsentState.GRANTED
        if contact.consent != ConsentState.GRANTED and contact.consent != wanted:
            crm.contact_update(actor=system, contact=contact, consent=wanted)
    if anonymous_id:
        identity_link(kind=Identity.Kind.ANONYMOUS_ID, value=anonymous_id, contact_id=contact.pk)
        touchpoints_adopt(contact_id=contact.pk, anonymous_ids=[anonymous_id])
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
        token = signing.dumps({"r": record.pk}, salt=CONFIRM_SALT)
        link = confirm_base + token
        transaction.on_commit(lambda: _send_confirmation(email, form.name, link))
        result.confirmation_sent = True
    return result


def _send_confirmation(email: str, form_name: str, link: str) -> None:
    try:
        send_mail(
            subject=_("Please confirm your subscription"),
            message=_(
                "You asked to hear from us (%(form)s). Confirm by opening this link:\n\n"
                "%(link)s\n\nIf it was not you, ignore this email."
            )
            % {"form": form_name, "link": link},
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=[email],
        )
    except OSError:
        log.exception("confirmation email to %s not sent", email)


@transaction.atomic
def consent_confirm(*, signed: str, ip: str, user_agent: str) -> bool:
    """Open the signed confirmation link: append a confirmed record (once) and grant consent."""
    try:
        data = signing.loads(signed, salt=CONFIRM_SALT, max_age=CONFIRM_MAX_AGE)
    except signing.BadSignature:
        return False
    record_id = data.get("r") if isinstance(data, dict) else None
    if not isinstance(record_id, int):
        return False
    pending = ConsentRecord.objects.select_for_update().filter(pk=record_id).first()
    if pending is None:
        return False
    already = ConsentRecord.objects.filter(
        contact_id=pending.contact_id,
        purpose=pending.purpose,
        wording_version=pending.wording_version,
        state=ConsentRecord.State.CONFIRMED,
        at__gte=pending.at,
    ).exists()
    if not already:
        ConsentRecord.objects.create(
            contact_id=pending.contact_id,
            form_id=pending.form_id,
            purpose=pending.purpose,
            wording=pending.wording,
            wording_version=pending.wording_version,
            state=ConsentRecord.State.CONFIRMED,
            at=timezone.now(),
            ip=ip or None,
            user_agent=user_agent[:500],
        )
        contact = Contact.objects.get(pk=pending.contact_id)
        if contact.consent != ConsentState.GRANTED:
            crm.contact_update(actor=Actor.system(), contact=contact, consent=ConsentState.GRANTED)
    return True
