"""Subscription types (seed, page, API) and subscribing by API with double opt-in by type, over a
real SMTP server: the email arrives, the link confirms, forged/expired/superseded links are
refused with a clear page, withdrawal is one click; tracking's forms follow the type."""

from __future__ import annotations

import importlib
import re
import time
from typing import Any

import pytest
from django.apps import apps as django_apps
from django.core import signing
from django.test import Client
from django.utils import translation

from conftest import PASSWORD, SmtpInbox
from tandem.core.audit import Actor
from tandem.core.models import AuditEntry, User
from tandem.core.tokens import token_create
from tandem.crm import services as crm
from tandem.crm.models import Contact
from tandem.marketing import consent
from tandem.marketing.email import sending
from tandem.marketing.models import (
    ConsentSource,
    EmailRecipient,
    EmailSend,
    Segment,
    SubscriptionType,
)
from tandem.marketing.subscriptions import services as subscriptions
from tandem.marketing.subscriptions.defaults import DEFAULTS
from tandem.tracking.models import ConsentRecord, Form

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system()
UA = "Mozilla/5.0 (X11; Linux x86_64; rv:130.0) Gecko/20100101 Firefox/130.0"


class Api:
    def __init__(self, user: User, scope: str = "write") -> None:
        secret = token_create(actor=Actor(user=user), user=user, name="t", scope=scope).secret
        self.client = Client(
            headers={"Authorization": f"Bearer {secret}"},
            HTTP_USER_AGENT=UA,
            REMOTE_ADDR="198.51.100.9",
        )

    def get(self, path: str) -> Any:
        return self.client.get(f"/api/v1/marketing{path}")

    def send(self, method: str, path: str, body: Any) -> Any:
        call = getattr(self.client, method)
        return call(f"/api/v1/marketing{path}", body, content_type="application/json")


def _login(user: User) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def _wait_for(inbox: SmtpInbox, n: int) -> None:
    for _ in range(100):
        if len(inbox.messages) >= n:
            return
        time.sleep(0.05)
    raise AssertionError(f"expected {n} message(s), got {len(inbox.messages)}")


def _ledger(contact: Contact, purpose: str) -> list[tuple[str, str]]:
    rows = ConsentRecord.objects.filter(contact=contact, purpose=purpose).order_by("id")
    sources = dict(ConsentSource.objects.values_list("record_id", "source"))
    return [(r.state, sources.get(r.pk, "")) for r in rows]


# --- defaults ---------------------------------------------------------------------------------


def test_migration_seeds_the_defaults_idempotently_with_russian_names() -> None:
    migration = importlib.import_module(
        "tandem.marketing.migrations.0007_subscription_types_reactions"
    )
    assert SubscriptionType.objects.count() == 0  # the conftest removed the seeded rows
    migration.seed_subscription_types(django_apps, None)
    migration.seed_subscription_types(django_apps, None)  # again: nothing more
    keys = sorted(SubscriptionType.objects.values_list("key", flat=True))
    assert (
        keys == sorted(row["key"] for row in DEFAULTS) == ["events", "newsletter", "product_news"]
    )
    news = SubscriptionType.objects.get(key="newsletter")
    assert (news.name, news.double_opt_in, news.active, news.wording_version) == (
        "Newsletter",
        True,
        True,
        "1",
    )
    with translation.override("ru"):
        assert news.display_name == "Рассылка"
        assert SubscriptionType.objects.get(key="events").display_name == "События и вебинары"
    # an edited default is left alone by a second run (the demo calls it too)
    SubscriptionType.objects.filter(key="newsletter").update(name="Our letter")
    migration.seed_subscription_types(django_apps, None)
    assert SubscriptionType.objects.get(key="newsletter").name == "Our letter"


@pytest.mark.slow
# one demo load on PostgreSQL is enough: test_demo_load's causal-order test (the bulk paths)
@pytest.mark.sqlite_leg_only
def test_the_demo_loader_ensures_the_default_types_idempotently() -> None:
    from tandem.demo.services import demo_load

    assert not SubscriptionType.objects.exists()  # as after a flush (the conftest removed them)
    demo_load()
    assert sorted(SubscriptionType.objects.values_list("key", flat=True)) == [
        "events",
        "newsletter",
        "product_news",
    ]
    demo_load()  # again, and with the migration's rows present: nothing more
    assert SubscriptionType.objects.count() == 3


# --- the page -----------------------------------------------------------------------------------


def test_page_lists_creates_edits_archives_and_keeps_used_types(
    world: Any, default_subscription_types: Any
) -> None:
    marketer = _login(world.user("marketer"))
    page = marketer.get("/marketing/subscriptions/")
    assert page.status_code == 200
    assert "Product news" in page.content.decode()
    with translation.override("ru"):
        ru = marketer.get("/marketing/subscriptions/", HTTP_ACCEPT_LANGUAGE="ru")
    assert "Рассылка" in ru.content.decode()
    assert "Новости продукта" in ru.content.decode()
    assert _login(world.user("sales_rep")).get("/marketing/subscriptions/").status_code == 404

    bad = marketer.post(
        "/marketing/subscriptions/new",
        {"key": "Bad Key", "name": "", "wording_version": "1"},
    )
    assert bad.status_code == 400
    assert "Lower-case letters" in bad.content.decode()
    assert not SubscriptionType.objects.filter(name="").exists()
    oversize = marketer.post(
        "/marketing/subscriptions/new",
        {"key": "long", "name": "n" * 101, "wording_version": "1"},
    )
    assert oversize.status_code == 400
    assert list(oversize.context["errors"]) == ["name"]
    assert not SubscriptionType.objects.filter(key="long").exists()

    made = marketer.post(
        "/marketing/subscriptions/new",
        {
            "key": "partners",
            "name": "Partner offers",
            "description": "Offers from partners",
            "wording": "Send me partner offers.",
            "wording_version": "2026-01",
            "double_opt_in": "on",
            "active": "on",
        },
    )
    assert made.status_code == 302
    partners = SubscriptionType.objects.get(key="partners")
    assert (partners.name, partners.double_opt_in, partners.wording_version) == (
        "Partner offers",
        True,
        "2026-01",
    )
    assert AuditEntry.objects.filter(action="create", object_id=str(partners.pk)).exists()
    # unused: the key may change, and it may be deleted
    marketer.post(
        f"/marketing/subscriptions/{partners.pk}/",
        {"key": "partner_offers", "name": "Partner offers", "wording_version": "2026-01"},
    )
    partners.refresh_from_db()
    assert (partners.key, partners.double_opt_in, partners.active) == (
        "partner_offers",
        False,
        False,
    )
    marketer.post(f"/marketing/subscriptions/{partners.pk}/delete")
    assert not SubscriptionType.objects.filter(pk=partners.pk).exists()

    # used by the ledger: the key is locked, delete is refused, archive works
    news = SubscriptionType.objects.get(key="newsletter")
    contact = world.contacts[("sales_rep", "north")]
    consent.subscribe(contact=contact, subscription=news, source="api", proven=True)
    marketer.post(
        f"/marketing/subscriptions/{news.pk}/",
        {"key": "renamed", "name": "Newsletter", "wording_version": "1", "active": "on"},
    )
    news.refresh_from_db()
    assert news.key == "newsletter"  # the page keeps a used key
    with pytest.raises(Exception, match="cannot change"):
        subscriptions.type_update(actor=SYSTEM, subscription=news, key="renamed")
    refused = marketer.post(f"/marketing/subscriptions/{news.pk}/delete", follow=True)
    assert "archive it instead" in refused.content.decode()
    assert SubscriptionType.objects.filter(pk=news.pk).exists()
    marketer.post(f"/marketing/subscriptions/{news.pk}/archive")
    news.refresh_from_db()
    assert news.active is False
    send_form = marketer.get("/marketing/email/sends/new").content.decode()
    assert f'<option value="{news.pk}"' not in send_form  # archived: not offered to sends
    marketer.post(f"/marketing/subscriptions/{news.pk}/restore")
    news.refresh_from_db()
    assert news.active is True


# --- the API ------------------------------------------------------------------------------------


def test_api_types_cursor_pages_writes_and_errors(world: Any) -> None:
    api = Api(world.user("marketer"))
    for i in range(5):
        created = api.send(
            "post",
            "/subscription-types",
            {"key": f"t{i}", "name": f"Type {i}", "double_opt_in": i % 2 == 0},
        )
        assert created.status_code == 201, created.content
    first = api.get("/subscription-types?limit=2").json()
    assert [t["key"] for t in first["items"]] == ["t4", "t3"]
    second = api.get(f"/subscription-types?limit=2&cursor={first['next_cursor']}").json()
    assert [t["key"] for t in second["items"]] == ["t2", "t1"]
    assert api.get("/subscription-types?cursor=forged").status_code == 400

    assert api.send("post", "/subscription-types", {"key": "t1", "name": "Dup"}).json()[
        "details"
    ] == {"key": ["Another subscription type has this key."]}
    assert (
        api.send("post", "/subscription-types", {"key": "x", "name": "X", "extra": 1}).status_code
        == 400
    )
    patched = api.send("patch", "/subscription-types/t1", {"active": False, "description": "d"})
    assert (patched.status_code, patched.json()["active"], patched.json()["description"]) == (
        200,
        False,
        "d",
    )
    assert "t1" not in [t["key"] for t in api.get("/subscription-types").json()["items"]]
    archived = api.get("/subscription-types?include_archived=true&limit=200").json()["items"]
    assert "t1" in [t["key"] for t in archived]
    assert api.send("patch", "/subscription-types/t1", {"name": None}).status_code == 400
    assert api.get("/subscription-types/nope").status_code == 404

    rep = Api(world.user("sales_rep"))
    assert rep.get("/subscription-types").json()["items"] == []
    assert rep.send("post", "/subscription-types", {"key": "r", "name": "R"}).status_code == 403
    assert (
        Api(world.user("marketer"), scope="read")
        .send("post", "/subscription-types", {"key": "r", "name": "R"})
        .status_code
        == 403
    )


def test_api_subscribe_with_double_opt_in_over_smtp(
    world: Any, smtp_inbox: SmtpInbox, django_capture_on_commit_callbacks: Any
) -> None:
    news = subscriptions.type_create(
        actor=SYSTEM, key="newsletter", name="Newsletter", wording="Send me news.",
        wording_version="3",
    )  # fmt: skip
    contact = world.contacts[("sales_rep", "north")]
    api = Api(world.user("marketer"))
    body = {"email": contact.email.upper(), "wording_version": "3"}

    stale = api.send(
        "post", "/subscriptions/newsletter/subscribe", {**body, "wording_version": "2"}
    )
    assert stale.status_code == 400
    assert "version 3" in stale.json()["details"]["wording_version"][0]
    assert not ConsentRecord.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        answer = api.send("post", "/subscriptions/newsletter/subscribe", body)
    assert answer.status_code == 200, answer.content
    assert answer.json() | {"record_id": 0} == {
        "contact_id": contact.pk,
        "subscription": "newsletter",
        "state": "pending",
        "changed": True,
        "confirmation_sent": True,
        "record_id": 0,
    }
    pending = ConsentRecord.objects.get()
    assert (pending.ip, pending.user_agent, pending.wording, pending.wording_version) == (
        "198.51.100.9",
        UA,
        "Send me news.",
        "3",
    )
    assert not consent.is_subscribed(contact_id=contact.pk, purpose="newsletter")

    _wait_for(smtp_inbox, 1)
    mail = smtp_inbox.parsed(0)
    assert mail["To"] == contact.email
    text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Newsletter" in text
    link = re.search(r"http://testserver(/e/confirm/\S+)", text)
    assert link is not None

    # a link scanner's GET confirms nothing: the page asks for a click
    scanner = Client(HTTP_USER_AGENT="Scanner/1")
    page = scanner.get(link.group(1))
    assert page.status_code == 200
    assert 'id="confirm-form"' in page.content.decode()
    assert scanner.head(link.group(1)).status_code in {200, 405}
    assert _ledger(contact, "newsletter") == [("pending", "api")]

    opener = Client(HTTP_USER_AGENT="Opener/1", REMOTE_ADDR="203.0.113.4", enforce_csrf_checks=True)
    page = opener.get(link.group(1))
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())
    assert token is not None
    assert opener.post(link.group(1)).status_code == 403  # no CSRF token: refused
    done = opener.post(link.group(1), {"csrfmiddlewaretoken": token.group(1)})
    assert done.status_code == 200
    assert "confirmed" in done.content.decode()
    again = opener.post(link.group(1), {"csrfmiddlewaretoken": token.group(1)})
    assert again.status_code == 200  # twice: nothing more
    assert "is confirmed" in opener.get(link.group(1)).content.decode()
    assert _ledger(contact, "newsletter") == [("pending", "api"), ("confirmed", "double_opt_in")]
    confirmed = ConsentRecord.objects.get(state="confirmed")
    assert (confirmed.ip, confirmed.user_agent, confirmed.wording_version) == (
        "203.0.113.4",
        "Opener/1",
        "3",
    )
    contact.refresh_from_db()
    assert contact.consent == "granted"

    again = api.send("post", "/subscriptions/newsletter/subscribe", body)
    assert (again.json()["state"], again.json()["changed"]) == ("confirmed", False)
    assert len(smtp_inbox.messages) == 1

    # forged and expired links: a clear page, nothing written
    forged = Client().get("/e/confirm/" + link.group(1).rsplit("/", 1)[1][:-3] + "abc")
    assert forged.status_code == 400
    assert "not valid or has expired" in forged.content.decode()

    class OldSigner(signing.TimestampSigner):
        def timestamp(self) -> str:
            return signing.b62_encode(int(time.time()) - consent.CONFIRM_MAX_AGE - 60)

    old = OldSigner(salt=consent.CONFIRM_SALT).sign_object({"r": pending.pk})
    assert consent.confirm_link(signed=old) == "expired"
    assert Client().get(f"/e/confirm/{old}").status_code == 400

    # withdrawal is one click: the RFC 8058 POST of the unsubscribe link in any send
    recipient = _recipient_for(contact, news)
    one_click = Client().post(f"/e/u/{recipient.token}", {"List-Unsubscribe": "One-Click"})
    assert one_click.status_code == 200
    assert not consent.is_subscribed(contact_id=contact.pk, purpose="newsletter")
    assert _ledger(contact, "newsletter")[-1] == ("withdrawn", "one_click")
    # the old confirmation link can no longer re-subscribe (superseded)
    assert consent.confirm_link(signed=link.group(1).rsplit("/", 1)[1]) == "superseded"
    rows = ConsentRecord.objects.count()
    assert Client().get(link.group(1)).status_code == 400
    assert ConsentRecord.objects.count() == rows


def _recipient_for(contact: Contact, subscription: SubscriptionType) -> EmailRecipient:
    template = sending.template_save(
        actor=SYSTEM, template=None, name="T", subject="S", html="<p>x</p>"
    )
    segment = Segment.objects.create(name="All", kind="static")
    send = EmailSend.objects.create(
        name="S",
        template=template,
        segment=segment,
        subscription_type=subscription,
        from_email="news@tandem.test",
    )
    return EmailRecipient.objects.create(send=send, contact=contact, email=contact.email)


def test_api_subscribe_without_double_opt_in_and_unsubscribe(
    world: Any, smtp_inbox: SmtpInbox, django_capture_on_commit_callbacks: Any
) -> None:
    subscriptions.type_create(
        actor=SYSTEM, key="product_news", name="Product news", double_opt_in=False
    )
    contact = world.contacts[("field_rep", "south")]
    api = Api(world.user("marketer"))
    with django_capture_on_commit_callbacks(execute=True):
        granted = api.send(
            "post",
            "/subscriptions/product_news/subscribe",
            {"contact_id": contact.pk, "wording_version": "1"},
        ).json()
    assert (granted["state"], granted["confirmation_sent"]) == ("granted", False)
    assert consent.is_subscribed(contact_id=contact.pk, purpose="product_news")
    time.sleep(0.2)
    assert smtp_inbox.messages == []

    gone = api.send("post", "/subscriptions/product_news/unsubscribe", {"contact_id": contact.pk})
    assert (gone.status_code, gone.json()["state"], gone.json()["changed"]) == (
        200,
        "withdrawn",
        True,
    )
    twice = api.send("post", "/subscriptions/product_news/unsubscribe", {"contact_id": contact.pk})
    assert twice.json()["changed"] is False
    assert _ledger(contact, "product_news") == [("granted", "api"), ("withdrawn", "api")]
    assert AuditEntry.objects.filter(object_id=str(contact.pk), action="update").exists()

    # errors: JSON, nothing written
    before = ConsentRecord.objects.count()
    both = api.send(
        "post",
        "/subscriptions/product_news/subscribe",
        {"contact_id": contact.pk, "email": contact.email, "wording_version": "1"},
    )
    assert both.status_code == 400
    unknown = api.send(
        "post",
        "/subscriptions/product_news/subscribe",
        {"email": "nobody@x.example", "wording_version": "1"},
    )
    assert unknown.status_code == 404
    assert (
        api.send(
            "post",
            "/subscriptions/nope/subscribe",
            {"contact_id": contact.pk, "wording_version": "1"},
        ).status_code
        == 404
    )
    assert (
        api.send(
            "post",
            "/subscriptions/product_news/subscribe",
            {"contact_id": 10**9, "wording_version": "1"},
        ).status_code
        == 404
    )
    assert (
        api.send(
            "post", "/subscriptions/product_news/subscribe", {"contact_id": contact.pk}
        ).status_code
        == 400
    )
    SubscriptionType.objects.filter(key="product_news").update(active=False)
    archived = api.send(
        "post",
        "/subscriptions/product_news/subscribe",
        {"contact_id": contact.pk, "wording_version": "1"},
    )
    assert archived.status_code == 400
    assert "archived" in archived.json()["message"]
    assert ConsentRecord.objects.count() == before
    rep = Api(world.user("sales_rep"))
    assert (
        rep.send(
            "post", "/subscriptions/product_news/unsubscribe", {"contact_id": contact.pk}
        ).status_code
        == 403
    )


# --- tracking's forms follow the type's double opt-in -------------------------------------------


def test_form_subscribing_to_a_double_opt_in_type_requires_confirmation(
    smtp_inbox: SmtpInbox, django_capture_on_commit_callbacks: Any
) -> None:
    subscriptions.type_create(actor=SYSTEM, key="newsletter", name="Newsletter")
    form = Form.objects.create(
        name="Footer signup",
        consent_purpose="newsletter",
        consent_wording="Send me the newsletter.",
        consent_version="7",
        double_opt_in=False,  # the form says no, the type says yes: the type wins
    )
    with django_capture_on_commit_callbacks(execute=True):
        answer = Client().post(
            f"/f/{form.key}/submit",
            data='{"email": "ada@lab.example", "consent": true}',
            content_type="application/json",
            HTTP_USER_AGENT=UA,
        )
    assert answer.status_code == 200
    assert answer.json()["confirmation_sent"] is True
    contact = Contact.objects.get(email="ada@lab.example")
    assert consent.consent_state(contact_id=contact.pk, purpose="newsletter") == "pending"
    _wait_for(smtp_inbox, 1)
    text = smtp_inbox.parsed(0).get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Newsletter" in text
    link = re.search(r"http://testserver(/f/confirm/\S+)", text)
    assert link is not None
    assert Client().get(link.group(1)).status_code == 200
    assert _ledger(contact, "newsletter") == [("pending", ""), ("confirmed", "double_opt_in")]
    confirmed = ConsentRecord.objects.get(state="confirmed")
    assert (confirmed.form_id, confirmed.wording_version) == (form.pk, "7")

    # a form whose purpose is a type without double opt-in, and no form flag: granted at once
    SubscriptionType.objects.create(key="events", name="Events", double_opt_in=False)
    quick = Form.objects.create(name="Events", consent_purpose="events", double_opt_in=False)
    Client().post(f"/f/{quick.key}/submit", {"email": "bob@lab.example", "consent": "on"})
    bob = Contact.objects.get(email="bob@lab.example")
    assert consent.consent_state(contact_id=bob.pk, purpose="events") == "granted"


def test_links_signed_by_trackings_former_implementation_still_confirm() -> None:
    contact = crm.contact_create(actor=SYSTEM, email="old@link.example")
    pending = ConsentRecord.objects.create(contact=contact, purpose="legacy", state="pending")
    legacy = signing.dumps({"r": pending.pk}, salt="tandem.tracking.consent")
    assert Client().get(f"/f/confirm/{legacy}").status_code == 200
    assert consent.consent_state(contact_id=contact.pk, purpose="legacy") == "confirmed"
    assert consent.confirm_link(signed=signing.dumps({"r": pending.pk}, salt="other")) == "invalid"


def test_preference_centre_offers_archived_types_only_to_their_subscribers(world: Any) -> None:
    contact = world.contacts[("sales_rep", "north")]
    kept = subscriptions.type_create(actor=SYSTEM, key="old_news", name="Old news")
    hidden = subscriptions.type_create(actor=SYSTEM, key="old_offers", name="Old offers")
    live = subscriptions.type_create(actor=SYSTEM, key="newsletter", name="Newsletter")
    consent.subscribe(contact=contact, subscription=kept, source="api", proven=True)
    for subscription in (kept, hidden):
        subscriptions.type_archive(actor=SYSTEM, subscription=subscription, active=False)
    recipient = _recipient_for(contact, live)
    page = Client().get(f"/e/p/{recipient.token}").content.decode()
    assert "Old news" in page
    assert "Newsletter" in page
    assert "Old offers" not in page
    with translation.override("ru"):
        assert (
            "Рассылка"
            in Client().get(f"/e/p/{recipient.token}", HTTP_ACCEPT_LANGUAGE="ru").content.decode()
        )


def test_django_admin_keeps_used_types(world: Any) -> None:
    root = User.objects.create_superuser(username="root", password=PASSWORD, email="r@x.example")
    client = _login(root)
    used = subscriptions.type_create(actor=SYSTEM, key="newsletter", name="Newsletter")
    unused = subscriptions.type_create(actor=SYSTEM, key="spare", name="Spare")
    consent.subscribe(
        contact=world.contacts[("sales_rep", "north")],
        subscription=used,
        source="api",
        proven=True,
    )
    base = "/django-admin/marketing/subscriptiontype"
    assert client.get(f"{base}/").status_code == 200
    assert 'name="key"' not in client.get(f"{base}/{used.pk}/change/").content.decode()
    assert 'name="key"' in client.get(f"{base}/{unused.pk}/change/").content.decode()
    assert client.post(f"{base}/{used.pk}/delete/", {"post": "yes"}).status_code == 403
    assert SubscriptionType.objects.filter(pk=used.pk).exists()
    assert client.get("/django-admin/marketing/segmentreaction/").status_code == 200


@pytest.mark.django_db
def test_leaving_the_only_subscription_withdraws_marketing_consent() -> None:
    """A website form's consent (another purpose) once kept the record saying "granted" after
    the person left their only subscription; leaving one of two keeps the other."""
    from tandem.tracking.consent import consent_record

    news = SubscriptionType.objects.create(key="plain-news", name="News", double_opt_in=False)
    offers = SubscriptionType.objects.create(key="plain-offers", name="Offers", double_opt_in=False)
    only = crm.contact_create(actor=Actor.system(), email="only@example.com")
    consent_record(contact=only, purpose="website_marketing", state="granted")
    consent.subscribe(contact=only, subscription=news, source="api", confirm_base="")
    only.refresh_from_db()
    assert only.consent == "granted"
    consent.unsubscribe(contact=only, subscriptions=[news], source="preference_centre")
    only.refresh_from_db()
    assert only.consent == "withdrawn"
    assert _ledger(only, "website_marketing")[-1][0] == "withdrawn"

    both = crm.contact_create(actor=Actor.system(), email="both@example.com")
    consent.subscribe(contact=both, subscription=news, source="api", confirm_base="")
    consent.subscribe(contact=both, subscription=offers, source="api", confirm_base="")
    consent.unsubscribe(contact=both, subscriptions=[news], source="preference_centre")
    both.refresh_from_db()
    assert both.consent == "granted"
    assert consent.subscriptions_of(both.pk) == {
        **dict.fromkeys(consent.subscriptions_of(both.pk), False),
        "plain-offers": True,
    }
