"""Medical compliance: transfers of value to healthcare professionals (HCP) and organisations
(HCO), the per-country rules the organisation configures, and the disclosure reports.

A rule applies to a benefit when its country matches and its nature and recipient kind are blank
(every kind) or equal. A `block` rule forbids the benefit (e.g. Russia, Federal Law 323-FZ
article 74: no gifts and no paid leisure travel to healthcare workers); a `disclose` rule puts it
in the yearly reports: the EFPIA Disclosure Code's one row per recipient and year, by category,
and the US Open Payments list, one row per payment with its nature-of-payment category.

Invariants:
- `compliance_check` is the one gate: `transfer_record` and the loyalty redemption of a reward
  to a healthcare recipient call it, and a blocked benefit raises `InvalidInput` (code
  `compliance_blocked`) whose message names the rule and its legal reference;
- a transfer of value is written with its audit entry in one transaction, never edited;
- the reports are built from the rows of one year only (`occurred_on` in that calendar year).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from tandem.core.audit import Actor, diff, record_change, snapshot
from tandem.core.errors import InvalidInput
from tandem.crm.models import Account, Contact
from tandem.programmes.models import (
    ComplianceRule,
    Nature,
    RecipientKind,
    Redemption,
    RuleEffect,
    TransferOfValue,
)

# EFPIA Disclosure Code (2019 template): the columns of the per-recipient report.
EFPIA_CATEGORIES: dict[str, str] = {
    Nature.GRANT: "Donations and grants",
    Nature.EDUCATION: "Contribution to costs of events: registration fees",
    Nature.TRAVEL: "Contribution to costs of events: travel and accommodation",
    Nature.LEISURE_TRAVEL: "Contribution to costs of events: travel and accommodation",
    Nature.MEAL: "Contribution to costs of events: travel and accommodation",
    Nature.FEE: "Fee for service and consultancy: fees",
}
EFPIA_COLUMNS = list(dict.fromkeys(EFPIA_CATEGORIES.values()))

# CMS Open Payments, general payments: the nature-of-payment categories.
OPEN_PAYMENTS_CATEGORIES: dict[str, str] = {
    Nature.GIFT: "Gift",
    Nature.MEAL: "Food and Beverage",
    Nature.TRAVEL: "Travel and Lodging",
    Nature.LEISURE_TRAVEL: "Travel and Lodging",
    Nature.FEE: "Consulting Fee",
    Nature.EDUCATION: "Education",
    Nature.GRANT: "Grant",
    Nature.SAMPLE: "Gift",
}


def _country(value: str) -> str:
    code = (value or "").strip().upper()
    if len(code) != 2 or not code.isalpha():
        raise InvalidInput({"country": [_("Enter a two-letter country code (ISO 3166).")]})
    return code


def rules_for(*, country: str, nature: str, recipient_kind: str) -> QuerySet[ComplianceRule]:
    """The active rules that apply to one benefit, blocking rules first."""
    return ComplianceRule.objects.filter(
        Q(nature="") | Q(nature=nature),
        Q(recipient_kind="") | Q(recipient_kind=recipient_kind),
        country=country.upper(),
        active=True,
    ).order_by("effect", "id")


def compliance_check(*, country: str, nature: str, recipient_kind: str) -> list[ComplianceRule]:
    """Refuse a benefit a blocking rule forbids (InvalidInput naming the rule); otherwise return
    the disclosure rules that will report it."""
    rules = list(rules_for(country=country, nature=nature, recipient_kind=recipient_kind))
    for rule in rules:
        if rule.effect == RuleEffect.BLOCK:
            reference = f" ({rule.reference})" if rule.reference else ""
            raise InvalidInput(
                _(
                    "Refused by the compliance rule “%(rule)s”%(reference)s: %(nature)s to a "
                    "%(recipient)s in %(country)s is not allowed."
                )
                % {
                    "rule": rule.name,
                    "reference": reference,
                    "nature": Nature(nature).label,
                    "recipient": RecipientKind(recipient_kind).label.lower(),
                    "country": country.upper(),
                },
                code="compliance_blocked",
            )
    return rules


@transaction.atomic
def rule_create(
    *,
    actor: Actor,
    name: str,
    country: str,
    effect: str,
    nature: str = "",
    recipient_kind: str = "",
    reference: str = "",
) -> ComplianceRule:
    if effect not in RuleEffect.values:
        raise InvalidInput({"effect": [_("Choose block or disclose.")]})
    if nature and nature not in Nature.values:
        raise InvalidInput({"nature": [_("Unknown nature of benefit.")]})
    if recipient_kind and recipient_kind not in RecipientKind.values:
        raise InvalidInput({"recipient_kind": [_("Choose HCP or HCO.")]})
    if not name.strip():
        raise InvalidInput({"name": [_("Name the rule.")]})
    rule = ComplianceRule.objects.create(
        name=name.strip(),
        country=_country(country),
        effect=effect,
        nature=nature,
        recipient_kind=recipient_kind,
        reference=reference.strip(),
    )
    record_change(actor=actor, action="create", instance=rule, changes=diff({}, snapshot(rule)))
    return rule


@transaction.atomic
def rule_set_active(*, actor: Actor, rule_id: int, active: bool) -> ComplianceRule:
    rule = ComplianceRule.objects.select_for_update().get(pk=rule_id)
    if rule.active != active:
        rule.active = active
        rule.save(update_fields=["active"])
        record_change(
            actor=actor, action="update", instance=rule, changes={"active": [not active, active]}
        )
    return rule


@transaction.atomic
def transfer_record(
    *,
    actor: Actor,
    account: Account,
    contact: Contact | None,
    country: str,
    nature: str,
    value: Decimal,
    currency: str,
    occurred_on: dt.date,
    description: str = "",
    redemption: Redemption | None = None,
) -> TransferOfValue:
    """Record one transfer of value to an HCP (`contact` given) or an HCO (the account), after
    the country's rules allowed it."""
    if nature not in Nature.values:
        raise InvalidInput({"nature": [_("Unknown nature of benefit.")]})
    if value < 0:
        raise InvalidInput({"value": [_("A value cannot be negative.")]})
    if contact is not None and contact.account_id not in (None, account.pk):
        raise InvalidInput({"contact": [_("The person does not belong to this organisation.")]})
    code = _country(country)
    kind = RecipientKind.HCP if contact is not None else RecipientKind.HCO
    compliance_check(country=code, nature=nature, recipient_kind=kind)
    transfer = TransferOfValue.objects.create(
        recipient_kind=kind,
        contact=contact,
        account=account,
        country=code,
        nature=nature,
        value=value,
        currency=currency.upper(),
        occurred_on=occurred_on,
        description=description[:300],
        redemption=redemption,
        recorded_by=actor.user,
    )
    record_change(
        actor=actor, action="create", instance=transfer, changes=diff({}, snapshot(transfer))
    )
    return transfer


def _disclosed(year: int, country: str = "") -> QuerySet[TransferOfValue]:
    rows = TransferOfValue.objects.filter(occurred_on__year=year).select_related(
        "contact", "account"
    )
    if country:
        rows = rows.filter(country=country.upper())
    return rows.order_by("country", "account__name", "contact_id", "occurred_on", "id")


def _recipient(transfer: TransferOfValue) -> str:
    if transfer.contact is not None:
        return f"{transfer.contact.first_name} {transfer.contact.last_name}".strip()
    return transfer.account.name


def efpia_rows(*, year: int, country: str = "") -> list[list[Any]]:
    """The EFPIA yearly report: one row per recipient (HCP or HCO) with the amount per category
    and the total; transfers whose nature EFPIA does not report (gifts, samples) are left out."""
    totals: dict[tuple[str, str, str, int | None, int], dict[str, Decimal]] = defaultdict(
        lambda: defaultdict(Decimal)
    )
    names: dict[tuple[str, str, str, int | None, int], str] = {}
    for transfer in _disclosed(year, country):
        category = EFPIA_CATEGORIES.get(transfer.nature)
        if category is None:
            continue
        key = (
            transfer.country,
            transfer.currency,
            transfer.recipient_kind,
            transfer.contact_id,
            transfer.account_id,
        )
        names[key] = _recipient(transfer)
        totals[key][category] += transfer.value
    header = ["year", "country", "recipient type", "recipient", "organisation id", "currency"]
    rows: list[list[Any]] = [header + EFPIA_COLUMNS + ["total"]]
    for key, amounts in totals.items():
        code, currency, kind, _contact, account_id = key
        values = [amounts.get(column, Decimal("0")) for column in EFPIA_COLUMNS]
        rows.append(
            [year, code, kind.upper(), names[key], account_id, currency, *values, sum(values)]
        )
    return rows


def open_payments_rows(*, year: int) -> list[list[Any]]:
    """US Open Payments, general payments: one row per transfer to a US recipient."""
    rows: list[list[Any]] = [
        [
            "Covered Recipient Type",
            "Recipient Name",
            "Teaching Hospital / Organisation",
            "Date of Payment",
            "Total Amount of Payment (USD)",
            "Form of Payment",
            "Nature of Payment",
            "Description",
        ]
    ]
    for transfer in _disclosed(year, "US"):
        rows.append(
            [
                "Covered Recipient Physician"
                if transfer.recipient_kind == RecipientKind.HCP
                else "Covered Recipient Teaching Hospital",
                _recipient(transfer),
                transfer.account.name,
                transfer.occurred_on,
                transfer.value,
                "In-kind items and services"
                if transfer.nature
                in (Nature.GIFT, Nature.TRAVEL, Nature.LEISURE_TRAVEL, Nature.MEAL)
                else "Cash or cash equivalent",
                OPEN_PAYMENTS_CATEGORIES[transfer.nature],
                transfer.description,
            ]
        )
    return rows
