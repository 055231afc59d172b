"""Activity logged on an account's page goes to the account's timeline, with no contact, through
crm's one touchpoint writer; only those who may change the account may log it."""

from __future__ import annotations

import pytest
from django.test import Client

from tandem.crm.models import Touchpoint

pytestmark = pytest.mark.django_db


def test_activity_logged_on_an_account_shows_on_its_timeline(world):  # type: ignore[no-untyped-def]
    rep = world.user("sales_rep", "north")
    account = world.accounts[("sales_rep", "north")]
    client = Client()
    client.force_login(rep)
    page = client.get(f"/crm/accounts/{account.pk}/").content.decode()
    assert f'action="/crm/accounts/{account.pk}/activity/"' in page
    response = client.post(
        f"/crm/accounts/{account.pk}/activity/",
        {"kind": "meeting", "occurred_at": "", "note": "Quarterly review with procurement"},
    )
    assert response.status_code == 302
    assert response["Location"] == f"/crm/accounts/{account.pk}/"
    touchpoint = Touchpoint.objects.get(account=account, kind="meeting")
    assert touchpoint.contact_id is None
    assert touchpoint.actor_id == rep.pk
    assert touchpoint.channel == "meeting"
    assert touchpoint.department == "sales"
    assert touchpoint.properties == {"note": "Quarterly review with procurement"}
    timeline = client.get(f"/crm/accounts/{account.pk}/timeline/").content.decode()
    assert "Quarterly review with procurement" in timeline


def test_bad_activity_is_a_form_error_and_others_may_not_log(world):  # type: ignore[no-untyped-def]
    account = world.accounts[("sales_rep", "north")]
    client = Client()
    client.force_login(world.user("sales_rep", "north"))
    bad = client.post(f"/crm/accounts/{account.pk}/activity/", {"kind": "telepathy"})
    assert bad.status_code == 400
    assert 'id="activity-form"' in bad.content.decode()
    outsider = Client()
    outsider.force_login(world.user("sales_rep", "south"))
    response = outsider.post(f"/crm/accounts/{account.pk}/activity/", {"kind": "note"})
    assert response.status_code == 404
    assert not Touchpoint.objects.filter(account=account, contact=None).exists()
