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
from django.utils.text import slugify
from django.utils.translation import gettext as _

from tandem.core.audit import Actor, diff, record_change, snapshot
from tandem.core.errors import InvalidInput
from tandem.core.models import User
from tandem.marketing.csv_rows import RowReport, read_rows
from tandem.marketing.models_campaigns import Campaign, CampaignChannel, CampaignCost

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


def _clean(data: dict[str, Any], current: Campaign | None) -> dict[str, Any]:
    unknown = set(data) - CAMPAIGN_FIELDS
    if unknown:
        raise InvalidInput({k: [_("Unknown field.")] for k in sorted(unknown)})
    out: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    if "name" in data or current is None:
        name = str(data.get("name") or "").strip()
        if not name:
            errors["name"] = [_("A campaign needs a name.")]
        out["name"] = name[:200]
    if "goal" in data:
        out["goal"] = str(data["goal"] or "").strip()[:500]
    if "channels" in data:
        channels = [str(c).strip() for c in (data["channels"] or []) if str(c).strip()]
        bad = [c for c in channels if c not in CampaignChannel.values]
        if bad:
            errors["channels"] = [_("Unknown channel: %(c)s") % {"c": ", ".join(bad)[:100]}]
        out["channels"] = list(dict.fromkeys(channels))
    for key in ("budget",):
        if key in data:
            try:
                out[key] = parse_amount(key, data[key])
            except InvalidInput as exc:
                errors.update(exc.errors)
    for key in ("starts_on", "ends_on"):
        if key in data:
            try:
                out[key] = parse_date(key, data[key])
            except InvalidInput as exc:
                errors.update(exc.errors)
    starts = out.get("starts_on", current.starts_on if current else None)
    ends = out.get("ends_on", current.ends_on if current else None)
    if starts and ends and ends < starts and "ends_on" not in errors:
        errors["ends_on"] = [_("The campaign cannot end before it starts.")]
    if "owner_id" in data:
        owner = data["owner_id"]
        if owner in (None, ""):
            out["owner_id"] = None
        elif not User.objects.filter(pk=owner, is_active=True).exists():
            errors["owner_id"] = [_("No such user.")]
        else:
            out["owner_id"] = int(owner)
    if "utm_code" in data or current is None:
        code = slugify(str(data.get("utm_code") or out.get("name") or ""))[:100]
        if not code:
            errors["utm_code"] = [_("A campaign needs a UTM code (letters, digits, hyphens).")]
        out["utm_code"] = code
    if errors:
        raise InvalidInput(errors)
    return out


def _unique_code(exc: IntegrityError, code: str) -> InvalidInput:
    return InvalidInput({"utm_code": [_("The UTM code %(c)s is already used.") % {"c": code}]})


def campaign_create(*, actor: Actor, **data: Any) -> Campaign:
    cleaned = _clean(data, None)
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
    cleaned = _clean(data, campaign)
    try:
        with transaction.atomic():
            locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
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
    errors: dict[str, list[str]] = {}
    out: dict[str, Any] = {}
    channel = str(data.get("channel") or "").strip().lower()
    if channel not in CampaignChannel.values:
        errors["channel"] = [_("Unknown channel: %(c)s") % {"c": channel[:40] or "—"}]
    out["channel"] = channel
    for key, parse in (("amount", parse_amount), ("incurred_on", parse_date)):
        try:
            out[key] = parse(key, data.get(key))
        except InvalidInput as exc:
            errors.update(exc.errors)
    if "incurred_on" not in errors and out.get("incurred_on") is None:
        errors["incurred_on"] = [_("A cost needs a date.")]
    out["note"] = str(data.get("note") or "").strip()[:300]
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
