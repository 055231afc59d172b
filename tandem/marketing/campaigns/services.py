"""Every write to campaigns and their costs: one keyword-only, transactional function each.

Invariants:
- every create/update writes an audit entry in the same transaction;
- a campaign's UTM code is a lowercase slug, unique (the database constraint decides races);
- a cost import stores each valid row and reports each invalid one (row number and reason); an
  unreadable file (encoding, missing columns) stores nothing.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils.text import slugify
from django.utils.translation import gettext as _

from tandem.core.access import CAPABILITIES
from tandem.core.audit import Actor, diff, record_change, snapshot
from tandem.core.errors import InvalidInput
from tandem.core.models import User
from tandem.marketing.campaigns.models import Campaign, CampaignChannel, CampaignCost
from tandem.marketing.csv_rows import RowReport, read_rows
from tandem.marketing.validation import clean_text, visible_ref

CAMPAIGN_FIELDS = {
    "name",
    "goal",
    "channels",
    "budget",
    "starts_on",
    "ends_on",
    "owner_id",
    "utm_code",
}
MAX_AMOUNT = Decimal("999999999999.99")


def parse_amount(field: str, value: Any) -> Decimal:
    text = str(value if value is not None else "").strip().replace(" ", "").replace(",", ".")
    try:
        amount = Decimal(text or "0").quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        raise InvalidInput({field: [_("Not a number: %(v)s") % {"v": str(value)[:40]}]}) from None
    if not amount.is_finite() or amount < 0 or amount > MAX_AMOUNT:
        raise InvalidInput({field: [_("Must be between 0 and 999,999,999,999.99.")]})
    return amount


def parse_date(field: str, value: Any) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        raise InvalidInput(
            {field: [_("Not a date (YYYY-MM-DD): %(v)s") % {"v": str(value)[:40]}]}
        ) from None


def _clean(data: dict[str, Any], current: Campaign | None, actor: Actor) -> dict[str, Any]:
    unknown = set(data) - CAMPAIGN_FIELDS
    if unknown:
        raise InvalidInput({k: [_("Unknown field.")] for k in sorted(unknown)})
    out: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}

    def take(key: str, fn: Any) -> None:
        try:
            out[key] = fn(data.get(key))
        except InvalidInput as exc:
            errors.update(exc.errors)

    if "name" in data or current is None:
        take(
            "name",
            lambda v: clean_text(
                v, field="name", limit=200, required=_("A campaign needs a name.")
            ),
        )
    if "goal" in data:
        take("goal", lambda v: clean_text(v, field="goal", limit=500))
    if "channels" in data:
        raw = data["channels"] or []
        if isinstance(raw, str):
            raw = [raw]
        if not isinstance(raw, list | tuple) or not all(isinstance(c, str) for c in raw):
            errors["channels"] = [_("Choose channels from the list.")]
            raw = []
        channels = [c.strip() for c in raw if c.strip()]
        bad = [c for c in channels if c not in CampaignChannel.values]
        if bad:
            errors["channels"] = [_("Unknown channel: %(c)s") % {"c": ", ".join(bad)[:100]}]
        out["channels"] = list(dict.fromkeys(channels))
    if "budget" in data:
        take("budget", lambda v: parse_amount("budget", v))
    for key in ("starts_on", "ends_on"):
        if key in data:
            take(key, lambda v, key=key: parse_date(key, v))
    starts = out.get("starts_on", current.starts_on if current else None)
    ends = out.get("ends_on", current.ends_on if current else None)
    if starts and ends and ends < starts and "ends_on" not in errors:
        errors["ends_on"] = [_("The campaign cannot end before it starts.")]
    if "owner_id" in data:
        owner = data["owner_id"]
        unchanged = current is not None and str(owner) == str(current.owner_id)
        try:
            out["owner_id"] = visible_ref(
                actor,
                User,
                owner,
                field="owner_id",
                missing=_("No such user among the marketing team."),
                queryset=User.objects.all() if unchanged else campaign_owners(),
                scope=False,
            )
        except InvalidInput as exc:
            errors.update(exc.errors)
    if "utm_code" in data or current is None:
        try:
            typed = clean_text(data.get("utm_code"), field="utm_code", limit=100)
        except InvalidInput as exc:
            errors.update(exc.errors)
            typed = ""
        code = normalise_code(typed or out.get("name") or "")
        if not code and "utm_code" not in errors:
            errors["utm_code"] = [_("A campaign needs a UTM code (letters, digits, hyphens).")]
        out["utm_code"] = code
    if errors:
        raise InvalidInput(errors)
    return out


def campaign_owners() -> QuerySet[User]:
    """Who may own a campaign: active people who `can(user, "use_marketing")` (the form's list)."""
    return User.objects.filter(is_active=True, role__in=CAPABILITIES["use_marketing"])


def normalise_code(text: str) -> str:
    """A UTM code as stored: a lowercase slug (reports match touchpoints case-insensitively)."""
    return slugify(text)[:100].lower()


def code_in_use(code: str) -> bool:
    """Whether anything refers to the UTM code: touchpoints, tracked links, email sends or tracking
    forms (any case: tracking stores `utm_campaign` as typed). Not scoped: the lock is about
    history the actor may not see."""
    from tandem.crm.models import Touchpoint
    from tandem.marketing.models import EmailSend
    from tandem.tracking.models import Form, TrackedLink

    return (
        Touchpoint.objects.filter(campaign__iexact=code).exists()
        or TrackedLink.objects.filter(utm_campaign__iexact=code).exists()
        or EmailSend.objects.filter(campaign__iexact=code).exists()
        or Form.objects.filter(campaign__iexact=code).exists()
    )


def _unique_code(exc: IntegrityError, code: str) -> InvalidInput:
    return InvalidInput({"utm_code": [_("The UTM code %(c)s is already used.") % {"c": code}]})


def campaign_create(*, actor: Actor, **data: Any) -> Campaign:
    cleaned = _clean(data, None, actor)
    try:
        with transaction.atomic():
            campaign = Campaign.objects.create(**cleaned)
            record_change(
                actor=actor,
                action="create",
                instance=campaign,
                changes=diff({}, snapshot(campaign)),
            )
    except IntegrityError as exc:
        raise _unique_code(exc, cleaned["utm_code"]) from None
    return campaign


def campaign_update(*, actor: Actor, campaign: Campaign, **data: Any) -> Campaign:
    cleaned = _clean(data, campaign, actor)
    try:
        with transaction.atomic():
            locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
            new_code = cleaned.get("utm_code", locked.utm_code)
            if new_code != locked.utm_code and code_in_use(locked.utm_code):
                raise InvalidInput(
                    {
                        "utm_code": [
                            _(
                                "The UTM code %(c)s is in use (touchpoints or tracked links "
                                "carry it), so it cannot change: past activity would drop out "
                                "of the report."
                            )
                            % {"c": locked.utm_code}
                        ]
                    },
                    code="locked",
                )
            before = snapshot(locked)
            for key, value in cleaned.items():
                setattr(locked, key, value)
            locked.save(
                update_fields=[k.removesuffix("_id") if k == "owner_id" else k for k in cleaned]
            )
            changes = diff(before, snapshot(locked))
            if changes:
                record_change(actor=actor, action="update", instance=locked, changes=changes)
    except IntegrityError as exc:
        raise _unique_code(exc, cleaned.get("utm_code", "")) from None
    return locked


def _cost_values(data: dict[str, Any]) -> dict[str, Any]:
    """A cost line's values; every field is required but the note (a blank amount is an error,
    never 0.00)."""
    errors: dict[str, list[str]] = {}
    out: dict[str, Any] = {}
    channel = str(data.get("channel") or "").strip().lower()
    if channel not in CampaignChannel.values:
        errors["channel"] = [_("Unknown channel: %(c)s") % {"c": channel[:40] or "—"}]
    out["channel"] = channel
    if not str(data.get("amount") if data.get("amount") is not None else "").strip():
        errors["amount"] = [_("A cost needs an amount.")]
    else:
        try:
            out["amount"] = parse_amount("amount", data.get("amount"))
        except InvalidInput as exc:
            errors.update(exc.errors)
    try:
        out["incurred_on"] = parse_date("incurred_on", data.get("incurred_on"))
    except InvalidInput as exc:
        errors.update(exc.errors)
    if "incurred_on" not in errors and out.get("incurred_on") is None:
        errors["incurred_on"] = [_("A cost needs a date.")]
    try:
        out["note"] = clean_text(data.get("note"), field="note", limit=300)
    except InvalidInput as exc:
        errors.update(exc.errors)
    if errors:
        raise InvalidInput(errors)
    return out


@transaction.atomic
def cost_add(
    *,
    actor: Actor,
    campaign: Campaign,
    channel: str,
    amount: Any,
    incurred_on: Any,
    note: str = "",
    source: str = CampaignCost.Source.TYPED,
) -> CampaignCost:
    values = _cost_values(
        {"channel": channel, "amount": amount, "incurred_on": incurred_on, "note": note}
    )
    cost = CampaignCost.objects.create(
        campaign=campaign, source=source, created_by=actor.user, **values
    )
    record_change(actor=actor, action="create", instance=cost, changes=diff({}, snapshot(cost)))
    return cost


@transaction.atomic
def cost_update(
    *,
    actor: Actor,
    cost: CampaignCost,
    channel: str,
    amount: Any,
    incurred_on: Any,
    note: str = "",
) -> CampaignCost:
    """Correct a cost line (typed or imported); audited with the before/after values."""
    values = _cost_values(
        {"channel": channel, "amount": amount, "incurred_on": incurred_on, "note": note}
    )
    locked = CampaignCost.objects.select_for_update().get(pk=cost.pk)
    before = snapshot(locked)
    for key, value in values.items():
        setattr(locked, key, value)
    locked.save(update_fields=list(values))
    changes = diff(before, snapshot(locked))
    if changes:
        record_change(actor=actor, action="update", instance=locked, changes=changes)
    return locked


@transaction.atomic
def cost_delete(*, actor: Actor, cost: CampaignCost) -> None:
    """Delete a cost line; the audit entry keeps what it was."""
    locked = CampaignCost.objects.select_for_update().filter(pk=cost.pk).first()
    if locked is None:
        return  # deleted meanwhile: nothing to do
    before = snapshot(locked)
    record_change(actor=actor, action="delete", instance=locked, changes=diff(before, {}))
    locked.delete()


COST_COLUMNS = {
    "channel": ("channel", "канал"),
    "amount": ("amount", "cost", "spend", "сумма"),
    "incurred_on": ("date", "incurred_on", "day", "дата"),
    "note": ("note", "description", "комментарий"),
}


def costs_import(*, actor: Actor, campaign: Campaign, data: bytes) -> RowReport:
    """Cost lines from CSV (columns channel, amount, date[, note]); a row report."""
    rows = list(
        read_rows(data, columns=COST_COLUMNS, required=("channel", "amount", "incurred_on"))
    )
    report = RowReport()
    with transaction.atomic():
        for number, row in rows:
            try:
                values = _cost_values(row)
            except InvalidInput as exc:
                report.fail(number, "; ".join(f"{k}: {m[0]}" for k, m in exc.errors.items()))
                continue
            cost = CampaignCost.objects.create(
                campaign=campaign,
                source=CampaignCost.Source.IMPORTED,
                created_by=actor.user,
                **values,
            )
            record_change(
                actor=actor, action="create", instance=cost, changes=diff({}, snapshot(cost))
            )
            report.imported += 1
    return report
