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
- the confirmation email is sent after commit, never for a submission that rolled back;
- forms are created and changed only by `form_create` / `form_update` (pages, API), audited in
  the same transaction; a change of the consent wording always comes with a new wording
  version (a numeric version is raised by one when the caller keeps the old one), so every
  ledger row names the words the person saw.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from tandem.core.audit import Actor, diff, record_change, snapshot
from tandem.core.errors import InvalidInput
from tandem.crm import services as crm
from tandem.crm.models import Contact, Identity
from tandem.crm.validation import clean_email
from tandem.tracking.consent import consent_record, double_opt_in
from tandem.tracking.links import public_url_problem
from tandem.tracking.models import ConsentRecord, Form, Source
from tandem.tracking.services import _lock, identity_link

log = logging.getLogger("tandem.tracking")
HONEYPOT = "website_url"
CONTACT_FIELDS = {"first_name": 100, "last_name": 100, "phone": 40, "title": 150}
FIELD_TYPES = {"text", "email", "textarea", "checkbox", "tel"}
RESERVED_NAMES = {"email", "consent", HONEYPOT, "anonymous_id"}
FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,49}$")
MAX_FIELDS = 30
EDITABLE = (
    "name",
    "fields",
    "consent_purpose",
    "consent_wording",
    "consent_version",
    "double_opt_in",
    "campaign",
    "success_message",
    "source",
    "redirect_url",
)
AUDITED = list(EDITABLE)


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


# --- creating and changing forms -------------------------------------------------------------


def _clean_fields(raw: Any) -> list[dict[str, Any]]:
    if not isinstance(raw, list) or not all(isinstance(f, dict) for f in raw):
        raise InvalidInput({"fields": [_("A list of fields is expected.")]})
    if len(raw) > MAX_FIELDS:
        raise InvalidInput({"fields": [_("At most %(n)d fields.") % {"n": MAX_FIELDS}]})
    cleaned: list[dict[str, Any]] = []
    errors: dict[str, list[str]] = {}
    seen: set[str] = set()
    for number, spec in enumerate(raw, start=1):
        name = str(spec.get("name") or "").strip()
        label = str(spec.get("label") or "").strip() or name
        kind = str(spec.get("type") or "text")
        where = f"fields.{number}"
        if not FIELD_NAME.match(name):
            errors.setdefault(where, []).append(
                _("A field name is lower-case letters, digits and _, starting with a letter.")
            )
        elif name in RESERVED_NAMES:
            errors.setdefault(where, []).append(
                _("“%(name)s” is reserved (the email and consent are always asked).")
                % {"name": name}
            )
        elif name in seen:
            errors.setdefault(where, []).append(_("“%(name)s” appears twice.") % {"name": name})
        if kind not in FIELD_TYPES:
            errors.setdefault(where, []).append(_("Unknown field type."))
        if len(label) > 200:
            errors.setdefault(where, []).append(_("At most %(n)d characters.") % {"n": 200})
        seen.add(name)
        cleaned.append(
            {"name": name, "label": label, "type": kind, "required": bool(spec.get("required"))}
        )
    if errors:
        raise InvalidInput(errors)
    return cleaned


def _clean_form(data: dict[str, Any], before: Form | None) -> dict[str, Any]:
    unknown = set(data) - set(EDITABLE)
    if unknown:
        raise InvalidInput({k: [_("Unknown field.")] for k in sorted(unknown)})
    out: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    limits = {
        "name": 200,
        "consent_purpose": 100,
        "consent_version": 40,
        "campaign": 200,
        "success_message": 300,
        "consent_wording": 5000,
    }
    for key, limit in limits.items():
        if key in data:
            value = str(data[key] or "").strip()
            if len(value) > limit:
                errors.setdefault(key, []).append(_("At most %(n)d characters.") % {"n": limit})
            out[key] = value
    if "name" in out and not out["name"]:
        errors.setdefault("name", []).append(_("This field is required."))
    if out.get("consent_purpose") and not re.match(r"^[-a-zA-Z0-9_]+$", out["consent_purpose"]):
        errors.setdefault("consent_purpose", []).append(
            _("A purpose is the key of a subscription type: letters, digits, - and _.")
        )
    if "double_opt_in" in data:
        out["double_opt_in"] = bool(data["double_opt_in"])
    if "redirect_url" in data:
        url = str(data["redirect_url"] or "").strip()
        problem = public_url_problem(url) if url else ""
        if problem:
            errors.setdefault("redirect_url", []).append(problem)
        out["redirect_url"] = url
    if "source" in data:
        source = data["source"]
        if source is not None and not isinstance(source, Source):
            source = Source.objects.filter(pk=source).first() if str(source).isdigit() else None
            if source is None:
                errors.setdefault("source", []).append(_("No such source."))
        newly_chosen = before is None or (
            isinstance(source, Source) and before.source_id != source.pk
        )
        if isinstance(source, Source) and source.revoked_at is not None and newly_chosen:
            errors.setdefault("source", []).append(_("This source is disabled."))
        out["source"] = source if isinstance(source, Source) else None
    if "fields" in data:
        try:
            out["fields"] = _clean_fields(data["fields"])
        except InvalidInput as exc:
            for key, messages in exc.errors.items():
                errors.setdefault(key, []).extend(messages)
    purpose = out.get("consent_purpose", before.consent_purpose if before else "")
    wording = out.get("consent_wording", before.consent_wording if before else "")
    version = out.get("consent_version", before.consent_version if before else "")
    if purpose and not wording:
        errors.setdefault("consent_wording", []).append(
            _("Give the words people agree to when the form asks for consent.")
        )
    if purpose and not version:
        out["consent_version"] = version = "1"
    reworded = before is not None and before.consent_wording and wording != before.consent_wording
    if reworded and before is not None and version == before.consent_version:
        if version.isdigit():
            out["consent_version"] = str(int(version) + 1)
        else:
            errors.setdefault("consent_version", []).append(
                _("The wording changed: give it a new version.")
            )
    if errors:
        raise InvalidInput(errors)
    return out


@transaction.atomic
def form_create(*, actor: Actor, name: str, **data: Any) -> Form:
    """A new website form (its key is random); see `EDITABLE` for the fields."""
    cleaned = _clean_form({"name": name, **data}, None)
    form = Form.objects.create(**cleaned)
    record_change(
        actor=actor, action="create", instance=form, changes=diff({}, snapshot(form, AUDITED))
    )
    return form


@transaction.atomic
def form_update(*, actor: Actor, form: Form, **data: Any) -> Form:
    """Change the given fields of a form (the others stay)."""
    form = Form.objects.select_for_update().get(pk=form.pk)
    cleaned = _clean_form(data, form)
    before = snapshot(form, AUDITED)
    for key, value in cleaned.items():
        setattr(form, key, value)
    form.save(update_fields=list(cleaned))
    changes = diff(before, snapshot(form, AUDITED))
    if changes:
        record_change(actor=actor, action="update", instance=form, changes=changes)
    return form


# --- the public side --------------------------------------------------------------------------


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
        "redirect": form.redirect_url or None,
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
    if crm.suppressed(email=values["email"]):
        log.info("form %s: the address of an erased person, submission dropped", form.key)
        return SubmitResult()
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
    placed_on = (
        Source.objects.filter(pk=form.source_id).values_list("name", flat=True).first()
        if form.source_id
        else None
    )
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
            **({"source": placed_on} if placed_on else {}),
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
