"""The tracking set-up pages, through the real endpoints they configure: a source created on the
page sends events with its key, a rotated key is refused, a form made on the page takes a
submission, a link made on the page redirects and counts its click, the channel rules editor
previews exactly what publishing then changes; reps are refused everywhere."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest
from django.test import Client

from conftest import World
from tandem.core.audit import Actor
from tandem.core.models import AuditEntry
from tandem.crm.models import Touchpoint
from tandem.tracking import reclassify, selectors, services
from tandem.tracking.channels import RULE_FIELDS, default_rule_dicts
from tandem.tracking.models import ConsentRecord, Form, ReclassifyRun, Source, TrackedLink
from tandem.tracking.tests.forms_post import form_post, rules_post

SOURCES = "/settings/tracking/sources/"
FORMS = "/settings/tracking/forms/"
NEW_FORM = "/settings/tracking/forms/new/"
LINKS = "/settings/tracking/links/"
RULES = "/settings/channel-rules/"
KEY = re.compile(r"tdw_[A-Za-z0-9_-]{20,}")


def _client(world: World, role: str) -> Client:
    client = Client()
    client.force_login(world.user(role))
    return client


def _track(key: str, message_id: str) -> Any:
    auth = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
    body = {"event": "Signed Up", "anonymousId": "visitor-1", "messageId": message_id}
    return Client().post(
        "/v1/track", json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=auth
    )


# --- sources and write keys ---------------------------------------------------------------------


def test_a_source_created_on_the_page_shows_its_key_once_and_the_key_is_accepted(
    world: World,
) -> None:
    client = _client(world, "marketer")
    created = client.post(SOURCES, {"name": "Shop site", "kind": "website"})
    assert created.status_code == 200
    assert created["Cache-Control"] == "no-store"
    keys = KEY.findall(created.content.decode())
    assert len(set(keys)) == 1
    key = keys[0]
    source = Source.objects.get(name="Shop site")
    assert key not in source.key_hash
    assert source.key_prefix == key[:10]
    assert AuditEntry.objects.filter(action="create", object_id=str(source.pk)).exists()
    assert _track(key, "m1").status_code == 200
    assert Touchpoint.objects.filter(source="Shop site").count() == 1
    listing = client.get(SOURCES).content.decode()
    assert key not in listing  # shown once, never again
    assert "Shop site" in listing
    row = listing[listing.index("Shop site") :]
    assert '<td class="num">1</td>' in row[: row.index("</tr>")]


def test_rotating_refuses_the_old_key_and_disabling_refuses_every_key(world: World) -> None:
    client = _client(world, "admin")
    old = KEY.findall(client.post(SOURCES, {"name": "App", "kind": "app"}).content.decode())[0]
    source = Source.objects.get(name="App")
    assert _track(old, "a1").status_code == 200
    rotated = client.post(f"/settings/tracking/sources/{source.pk}/rotate/")
    assert rotated.status_code == 200
    assert rotated["Cache-Control"] == "no-store"
    new = KEY.findall(rotated.content.decode())[0]
    assert new != old
    assert _track(old, "a2").status_code == 401
    assert _track(new, "a3").status_code == 200
    assert client.post(f"/settings/tracking/sources/{source.pk}/disable/").status_code == 302
    assert _track(new, "a4").status_code == 401
    again = client.post(f"/settings/tracking/sources/{source.pk}/rotate/", follow=True)
    assert "This source is disabled" in again.content.decode()
    assert _track(new, "a5").status_code == 401
    changes = AuditEntry.objects.filter(object_id=str(source.pk), action="update")
    assert changes.count() == 2  # the rotation and the disabling


def test_bad_source_input_is_a_form_error(world: World) -> None:
    client = _client(world, "head")
    assert client.post(SOURCES, {"name": "", "kind": "website"}).status_code == 400
    assert client.post(SOURCES, {"name": "X", "kind": "fax"}).status_code == 400
    services.source_create(actor=Actor.system(), name="Blog")
    taken = client.post(SOURCES, {"name": "Blog", "kind": "blog"})
    assert taken.status_code == 400
    assert "a source with this name exists" in taken.content.decode()
    assert Source.objects.count() == 1


# --- website forms ------------------------------------------------------------------------------


def test_a_form_made_on_the_page_takes_a_submission_and_counts_it(world: World) -> None:
    source, _key = services.source_create(actor=Actor.system(), name="Website")
    client = _client(world, "marketer")
    data = form_post(
        name="Demo request",
        source=source.pk,
        consent_purpose="newsletter",
        consent_wording="Send me the newsletter.",
        redirect_url="https://shop.example/thanks",
        fields=[
            {"name": "first_name", "label": "First name", "type": "text", "required": "on"},
            {"name": "company", "label": "Company", "type": "text"},
        ],
    )
    saved = client.post(NEW_FORM, data)
    assert saved.status_code == 302
    form = Form.objects.get()
    assert saved["Location"] == f"/settings/tracking/forms/{form.pk}/"
    assert [f["name"] for f in form.fields] == ["first_name", "company"]
    assert (form.consent_version, form.source_id) == ("1", source.pk)
    page = client.get(saved["Location"]).content.decode()
    assert f"/f/{form.key}/embed" in page
    assert "0 submissions." in page

    missing = Client().post(f"/f/{form.key}/submit", {"email": "ann@shop.example"})
    assert missing.status_code == 400  # first_name is required
    sent = Client().post(
        f"/f/{form.key}/submit",
        {"email": "ann@shop.example", "first_name": "Ann", "company": "Shop", "consent": "1"},
    )
    assert sent.status_code == 303
    assert sent["Location"] == "https://shop.example/thanks"
    record = ConsentRecord.objects.get()
    assert (record.form_id, record.wording, record.wording_version) == (
        form.pk,
        "Send me the newsletter.",
        "1",
    )
    touchpoint = Touchpoint.objects.get(kind="form_submitted")
    assert touchpoint.properties["source"] == "Website"
    assert touchpoint.properties["fields"] == {"company": "Shop", "consent": True}
    assert "1 submission." in client.get(saved["Location"]).content.decode()
    listing = client.get(FORMS).content.decode()
    assert "Demo request" in listing
    assert '<td class="num">1</td>' in listing


def test_changing_the_wording_gives_it_a_new_version(world: World) -> None:
    client = _client(world, "marketer")
    base = {"name": "Newsletter", "consent_purpose": "newsletter", "consent_wording": "Yes."}
    client.post(NEW_FORM, form_post(**base))
    form = Form.objects.get()
    url = f"/settings/tracking/forms/{form.pk}/"
    assert client.post(url, form_post(**base, consent_version="1")).status_code == 302
    form.refresh_from_db()
    assert form.consent_version == "1"  # same words: same version
    changed = form_post(**{**base, "consent_wording": "Yes, weekly."}, consent_version="1")
    assert client.post(url, changed).status_code == 302
    form.refresh_from_db()
    assert (form.consent_wording, form.consent_version) == ("Yes, weekly.", "2")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": ""}, "This field is required."),
        ({"redirect_url": "javascript:alert(1)"}, "Only http:// and https:// addresses"),
        ({"redirect_url": "http://127.0.0.1/admin"}, "private, loopback or reserved"),
        ({"consent_purpose": "newsletter"}, "Give the words people agree to"),
        ({"fields": [{"name": "email", "type": "text"}]}, "is reserved"),
        ({"fields": [{"name": "Bad Name", "type": "text"}]}, "A field name is lower-case"),
        (
            {"fields": [{"name": "a", "type": "text"}, {"name": "a", "type": "tel"}]},
            "appears twice",
        ),
    ],
)
def test_bad_form_input_is_a_form_error(world: World, change: dict[str, Any], message: str) -> None:
    client = _client(world, "marketer")
    answer = client.post(NEW_FORM, form_post(**{"name": "Contact us", **change}))
    assert answer.status_code == 400
    assert message in answer.content.decode()
    assert not Form.objects.exists()


# --- tracked links ------------------------------------------------------------------------------


def test_a_link_made_on_the_page_redirects_and_counts_its_click(world: World) -> None:
    client = _client(world, "marketer")
    answer = client.post(
        LINKS,
        {"destination": "https://shop.example/spring?ref=1", "utm_source": "linkedin",
         "utm_medium": "social", "utm_campaign": "spring"},
    )  # fmt: skip
    assert answer.status_code == 302
    link = TrackedLink.objects.get()
    assert link.created_by == world.user("marketer")
    listing = client.get(LINKS).content.decode()
    assert f"http://testserver/l/{link.token}" in listing
    visit = Client().get(f"/l/{link.token}", HTTP_USER_AGENT="Mozilla/5.0 (X11; Linux) Firefox/120")
    assert visit.status_code == 302
    assert visit["Location"] == (
        "https://shop.example/spring?ref=1&utm_source=linkedin&utm_medium=social"
        "&utm_campaign=spring"
    )
    counts = selectors.link_click_counts([link.token])[link.token]
    assert (counts.clicks, counts.bots) == (1, 0)
    listing = client.get(LINKS).content.decode()
    row = listing[listing.index(f"/l/{link.token}") :]
    assert '<td class="num">1</td>' in row[: row.index("</tr>")]


@pytest.mark.parametrize(
    "destination",
    [
        "javascript:alert(1)",
        "data:text/html,hi",
        "//evil.example/x",
        "http://127.0.0.1/admin",
        "http://10.1.2.3/",
        "http://192.168.0.1/router",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]:8000/",
        "http://localhost:8000/",
        "http://printer.local/",
        "http://intranet/",
        "http://2130706433/",
        "https://user:pass@shop.example/",
    ],
)
def test_refused_destinations_are_form_errors(world: World, destination: str) -> None:
    answer = _client(world, "marketer").post(LINKS, {"destination": destination})
    assert answer.status_code == 400
    assert 'class="error"' in answer.content.decode()
    assert not TrackedLink.objects.exists()


# --- channel rules ------------------------------------------------------------------------------


def _touchpoints() -> None:
    def row(i: int, ci: dict[str, str]) -> Touchpoint:
        return Touchpoint(
            anonymous_id=f"v{i}", channel="referral", department="marketing", kind="page_view",
            properties={"ci": ci},
        )  # fmt: skip

    Touchpoint.objects.bulk_create(
        [row(i, {"source_kind": "website", "utm_source": "partnerx"}) for i in range(4)]
        + [row(i, {"utm_source": "google", "utm_medium": "cpc"}) for i in range(4, 7)]
        + [row(i, {"source_kind": "website", "referrer": "news.example"}) for i in range(7, 9)]
    )


def _partner_rules() -> list[dict[str, str]]:
    return [{"utm_source": "^partnerx$", "channel": "conference", "department": "sales"}] + [
        {**dict.fromkeys(RULE_FIELDS, ""), **r} for r in default_rule_dicts()
    ]


def test_the_preview_counts_what_publishing_then_changes(world: World) -> None:
    _touchpoints()
    client = _client(world, "head")
    preview = client.post(RULES, rules_post(_partner_rules(), action="preview"))
    assert preview.status_code == 200
    html = preview.content.decode()
    found = re.search(r"Of (\d+) touchpoints since [^,]+, (\d+) would change", html)
    assert found is not None
    assert (int(found[1]), int(found[2])) == (9, 7)
    assert "conference" in html
    assert "paid_search" in html
    assert not ReclassifyRun.objects.exists()  # nothing written
    assert Touchpoint.objects.filter(channel="referral").count() == 9
    expected = services.channel_rules_preview(rules=_partner_rules())
    moves = {(m.from_channel, m.to_channel): m.count for m in expected.moves}
    assert moves == {("referral", "conference"): 4, ("referral", "paid_search"): 3}

    published = client.post(RULES, rules_post(_partner_rules(), action="publish", note="partner"))
    assert published.status_code == 302
    run = ReclassifyRun.objects.get()
    run = reclassify.run_reclassification(run.pk)
    assert (run.status, run.changed) == ("done", 7)
    after = {
        c: Touchpoint.objects.filter(channel=c).count()
        for c in ("conference", "paid_search", "referral")
    }
    assert after == {"conference": 4, "paid_search": 3, "referral": 2}


def test_rows_move_up_and_down_and_bad_rows_are_form_errors(world: World) -> None:
    client = _client(world, "admin")
    rules = [
        {"utm_source": "^a$", "channel": "email", "department": "marketing"},
        {"utm_source": "^b$", "channel": "sms", "department": "marketing"},
        {"channel": "direct", "department": "marketing"},
    ]
    moved = client.post(RULES, rules_post(rules, move="up-1")).content.decode()
    assert moved.index('value="^b$"') < moved.index('value="^a$"')
    moved = client.post(RULES, rules_post(rules, move="down-0")).content.decode()
    assert moved.index('value="^b$"') < moved.index('value="^a$"')
    broken = [{"utm_source": "(", "channel": "sms", "department": "marketing"}]
    bad = client.post(RULES, rules_post(broken, action="publish"))
    assert bad.status_code == 400
    assert "Not a valid pattern" in bad.content.decode()
    unknown = client.post(RULES, rules_post([{"channel": "fax", "department": "marketing"}]))
    assert unknown.status_code == 400
    assert "Select a valid choice" in unknown.content.decode()
    deleted = rules_post(rules, action="publish")
    deleted["rules-0-DELETE"] = "on"
    assert client.post(RULES, deleted).status_code == 302
    from tandem.tracking.models import ChannelRule

    assert list(ChannelRule.objects.values_list("channel", flat=True)) == ["sms", "direct"]


# --- a contact's consent ------------------------------------------------------------------------


def test_a_contacts_consent_history_is_newest_first_within_the_contacts_scope(
    world: World,
) -> None:
    from tandem.tracking.consent import consent_record

    contact = world.contacts[("sales_rep", "north")]
    consent_record(contact=contact, purpose="newsletter", state="granted", ip="203.0.113.9")
    consent_record(contact=contact, purpose="newsletter", state="withdrawn")
    url = f"/tracking/contacts/{contact.pk}/consent/"
    page = _client(world, "sales_rep").get(url)
    assert page.status_code == 200
    html = page.content.decode()
    ledger = html[html.index('id="ledger"') :]
    assert ledger.index("Withdrawn") < ledger.index("Granted")
    assert "203.0.113.9" in ledger
    subscriptions = html[html.index('id="subscriptions"') : html.index('id="ledger"')]
    assert "Withdrawn" in subscriptions
    assert "Granted" not in subscriptions
    assert (
        _client(world, "sales_rep")
        .get(f"/tracking/contacts/{world.contacts[('sales_rep', 'south')].pk}/consent/")
        .status_code
        == 404
    )
    detail = _client(world, "head").get(f"/crm/contacts/{contact.pk}/").content.decode()
    assert url in detail


# --- who may ------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["sales_rep", "field_rep"])
def test_reps_are_refused_on_every_tracking_page(world: World, role: str) -> None:
    source, _key = services.source_create(actor=Actor.system(), name="Site")
    form = Form.objects.create(name="F")
    client = _client(world, role)
    for url in ("/settings/tracking/", SOURCES, FORMS, NEW_FORM, LINKS, RULES,
                f"/settings/tracking/forms/{form.pk}/"):  # fmt: skip
        assert client.get(url).status_code == 403, url
    for url, data in [
        (SOURCES, {"name": "Mine", "kind": "website"}),
        (f"/settings/tracking/sources/{source.pk}/rotate/", {}),
        (f"/settings/tracking/sources/{source.pk}/disable/", {}),
        (NEW_FORM, form_post(name="Mine")),
        (f"/settings/tracking/forms/{form.pk}/", form_post(name="Mine")),
        (LINKS, {"destination": "https://shop.example/"}),
        (RULES, rules_post(_partner_rules(), action="publish")),
    ]:
        assert client.post(url, data).status_code == 403, url
    source.refresh_from_db()
    assert source.revoked_at is None
    assert Source.objects.count() == 1
    assert not TrackedLink.objects.exists()
    assert Form.objects.get().name == "F"
    nav = client.get("/").content.decode()
    assert "/settings/tracking/" not in nav


def test_the_navigation_leads_managers_to_the_tracking_pages(world: World) -> None:
    client = _client(world, "marketer")
    assert 'href="/settings/tracking/"' in client.get(SOURCES).content.decode()
    hub = client.get("/settings/tracking/").content.decode()
    assert SOURCES in hub
    assert FORMS in hub
    assert LINKS in hub
    assert RULES not in hub  # channel rules are an organisation setting: head and admin
    assert RULES in _client(world, "head").get("/settings/tracking/").content.decode()
    hub = _client(world, "head").get("/settings/").content.decode()  # the settings hub
    assert 'href="/settings/tracking/"' in hub
