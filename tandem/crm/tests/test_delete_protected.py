"""An account or contact that records which must be kept refer to (a transfer of value to a
healthcare professional, PROTECT) is not deleted: the API answers 400 `protected` naming them,
the page says why, and nothing changes, the audit log included. Found by schemathesis (it was a
500)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.test import Client

from conftest import World
from tandem.core.audit import Actor
from tandem.core.models import AuditEntry, Role
from tandem.core.tokens import token_create
from tandem.crm.models import Account, Contact
from tandem.programmes import compliance


def _kept(world: World) -> tuple[Account, Contact]:
    account = world.accounts[("sales_rep", "north")]
    contact = world.contacts[("sales_rep", "north")]
    compliance.transfer_record(
        actor=Actor.system(),
        account=account,
        contact=contact,
        country="DE",
        nature="meal",
        value=Decimal("25.00"),
        currency="EUR",
        occurred_on=dt.date(2026, 11, 2),
    )
    return account, contact


def test_the_api_refuses_to_delete_what_kept_records_need(world: World) -> None:
    account, contact = _kept(world)
    head = world.user(Role.HEAD)
    secret = token_create(actor=Actor(user=head), user=head, name="t", scope="write").secret
    client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    for path in (f"/api/v1/accounts/{account.pk}", f"/api/v1/contacts/{contact.pk}"):
        response = client.delete(path)
        assert response.status_code == 400, path
        assert response.json()["code"] == "protected"
        assert "transfers of value" in response.json()["message"].lower()
    assert Account.objects.filter(pk=account.pk).exists()
    assert Contact.objects.filter(pk=contact.pk).exists()
    assert not AuditEntry.objects.filter(action="delete").exists()


def test_the_page_says_why_it_cannot_delete(world: World) -> None:
    account, _contact = _kept(world)
    client = Client()
    client.force_login(world.user(Role.HEAD))
    response = client.post(f"/crm/accounts/{account.pk}/delete/", follow=True)
    assert response.status_code == 200
    assert "records that must be kept refer to it" in response.content.decode()
    assert Account.objects.filter(pk=account.pk).exists()
