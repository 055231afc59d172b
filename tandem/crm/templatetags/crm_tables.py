"""The rows of the contact and account lists, written in Python (`tandem.core.html`).

A list page shows 25 rows of six cells; through the template language they cost more than the
page's queries. The markup is the same as a template would write, cell for cell; the table's
head, the empty row and everything around stay in the templates.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django import template
from django.utils.safestring import SafeString

from tandem.core.html import date_formatter, escape, id_url, markup
from tandem.core.templatetags.tandem import person_name
from tandem.crm.models import contact_label

register = template.Library()


@register.simple_tag
def contact_rows(contacts: Iterable[Any], stage_labels: Mapping[str, Any]) -> SafeString:
    """One <tr> per contact row (`selectors.CONTACT_ROW`): name (linked) and title, email,
    account, stage, owner, created."""
    detail = id_url("crm:contact_detail")
    created = date_formatter("SHORT_DATE_FORMAT")
    rows = []
    for c in contacts:
        name = contact_label(c.first_name, c.last_name, c.email, c.id)
        title = f'<br><span class="muted small">{escape(c.title)}</span>' if c.title else ""
        account = escape(c.account__name) if c.account__name is not None else ""
        owner = person_name(c.owner__first_name, c.owner__last_name, c.owner__username)
        stage = escape(c.lifecycle_stage)
        rows.append(
            "\n  <tr>"
            f'\n    <td><a href="{detail(c.id)}">{escape(name)}</a>{title}</td>'
            f"\n    <td>{escape(c.email)}</td>"
            f'\n    <td class="hide-sm">{account}</td>'
            f'\n    <td class="hide-sm"><span class="badge stage-{stage}">'
            f"{escape(stage_labels.get(c.lifecycle_stage, ''))}</span></td>"
            f'\n    <td class="hide-sm">{escape(owner)}</td>'
            f'\n    <td class="hide-sm nowrap">{created(c.created_at)}</td>'
            "\n  </tr>"
        )
    return markup(rows)


@register.simple_tag
def account_rows(accounts: Iterable[Any], industry_labels: Mapping[str, Any]) -> SafeString:
    """One <tr> per account row (`selectors.ACCOUNT_ROW`): name (linked), industry, domains,
    region, owner, created."""
    detail = id_url("crm:account_detail")
    created = date_formatter("SHORT_DATE_FORMAT")
    rows = []
    for a in accounts:
        domains = ", ".join(escape(d) for d in a.domains) if a.domains else ""
        owner = person_name(a.owner__first_name, a.owner__last_name, a.owner__username)
        rows.append(
            "\n  <tr>"
            f'\n    <td><a href="{detail(a.id)}">{escape(a.name)}</a></td>'
            f"\n    <td>{escape(industry_labels.get(a.industry, ''))}</td>"
            f'\n    <td class="hide-sm">{domains}</td>'
            f'\n    <td class="hide-sm">{escape(a.region)}</td>'
            f'\n    <td class="hide-sm">{escape(owner)}</td>'
            f'\n    <td class="hide-sm nowrap">{created(a.created_at)}</td>'
            "\n  </tr>"
        )
    return markup(rows)
