"""Users and teams from pages and the API: who may manage them, invitations by email with a
set-password link that works once, role and team changes, teams, and deactivation that hands
every registered kind of owned record to a successor, audited, all or nothing."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth import authenticate
from django.test import Client

from conftest import PASSWORD, SmtpInbox, World
from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.core.models import AuditEntry, Role, Team, User
from tandem.core.owned_records import owned_counts, owned_kinds
from tandem.core.services import user_deactivate
from tandem.crm.models import Account, Contact
from tandem.leads import services as leads
from tandem.leads.models import Handoff, HandoffStatus, Territory
from tandem.marketing.campaigns import services as campaigns
from tandem.marketing.campaigns.models import Campaign
from tandem.sales import services as sales
from tandem.sales.models import Deal, DealStatus, SalesTask, Sequence

NEW_PASSWORD = "a brand new passphrase 7"
IMMEDIATE = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _link(body: str) -> str:
    match = re.search(r"https?://\S+/set-password/\S+/", body)
    assert match, body
    return match.group(0)


# --- who may manage people ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "status"),
    [
        (Role.ADMIN, 200),
        (Role.HEAD, 403),
        (Role.MARKETER, 403),
        (Role.SALES_REP, 403),
        (Role.FIELD_REP, 403),
    ],
)
def test_only_the_admin_reaches_the_people_pages(world: World, role: str, status: int) -> None:
    client = _client(world.user(role))
    rep = world.user("sales_rep")
    team = Team.objects.first()
    assert team is not None
    for url in ("/settings/people/", f"/settings/people/{rep.pk}/", f"/settings/teams/{team.pk}/"):
        assert client.get(url).status_code == status, url
    home = client.get("/").content.decode()
    assert ('href="/settings/people/"' in home) is (status == 200)
    invited = client.post("/settings/people/invite/", {"email": "x@tandem.test", "role": "admin"})
    assert invited.status_code == (302 if status == 200 else 403)
    assert User.objects.filter(email="x@tandem.test").exists() is (status == 200)


def test_the_people_page_lists_users_with_role_team_activity_and_the_teams(world: World) -> None:
    page = _client(world.user("admin")).get("/settings/people/").content.decode()
    assert "marketer.north@tandem.test" in page
    assert "Sales rep" in page
    assert "North sales" in page
    assert "never" in page
    assert "North marketing" in page
    assert "Marketing" in page


# --- invitations ----------------------------------------------------------------------------


def test_an_invitation_emails_a_set_password_link_that_works_once(
    world: World,
    smtp_inbox: SmtpInbox,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.TASKS = IMMEDIATE
    settings.TANDEM_BASE_URL = "https://crm.example.com/"
    admin = _client(world.user("admin"))
    team = Team.objects.get(name="South sales")
    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post(
            "/settings/people/invite/",
            {
                "email": "Vera@Example.com",
                "first_name": "Vera",
                "last_name": "Orlova",
                "role": Role.SALES_REP,
                "team": team.pk,
            },
        )
    assert response.status_code == 302
    vera = User.objects.get(email="vera@example.com")
    assert (vera.username, vera.role, vera.team, vera.has_usable_password()) == (
        "vera@example.com", "sales_rep", team, False,
    )  # fmt: skip
    assert len(smtp_inbox.messages) == 1
    assert smtp_inbox.messages[0].rcpt_tos == ["vera@example.com"]
    mail = smtp_inbox.parsed(0)
    body = mail.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert "Hello Vera" in text
    assert "vera@example.com" in text
    link = _link(text)
    assert link.startswith("https://crm.example.com/set-password/")
    path = link.removeprefix("https://crm.example.com")

    visitor = Client()
    form_page = visitor.get(path, follow=True)
    assert form_page.status_code == 200
    assert 'name="new_password1"' in form_page.content.decode()
    set_url = form_page.redirect_chain[-1][0]
    done = visitor.post(set_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done.status_code == 302
    assert done["Location"] == "/login/"
    assert authenticate(username="vera@example.com", password=NEW_PASSWORD) == vera
    entry = AuditEntry.objects.filter(model="core.User", object_id=str(vera.pk)).first()
    assert entry is not None
    assert entry.changes == {"password": ["***", "***"]}

    again = Client().get(path, follow=True).content.decode()
    assert "does not work any more" in again
    assert 'name="new_password1"' not in again


def test_an_invitation_is_sent_again_until_a_password_is_set(
    world: World, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from django.core import mail

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.TASKS = IMMEDIATE
    admin = _client(world.user("admin"))
    with django_capture_on_commit_callbacks(execute=True):
        admin.post("/settings/people/invite/", {"email": "lev@example.com", "role": "marketer"})
    lev = User.objects.get(email="lev@example.com")
    page = admin.get(f"/settings/people/{lev.pk}/").content.decode()
    assert "Send the invitation again" in page
    with django_capture_on_commit_callbacks(execute=True):
        again = admin.post(f"/settings/people/{lev.pk}/resend/", follow=True)
    assert "Invitation sent to lev@example.com again." in again.content.decode()
    assert [m.to for m in mail.outbox] == [["lev@example.com"], ["lev@example.com"]]
    lev.set_password(NEW_PASSWORD)
    lev.save()
    with django_capture_on_commit_callbacks(execute=True):
        refused = admin.post(f"/settings/people/{lev.pk}/resend/", follow=True)
    assert "who has not set a password yet" in refused.content.decode()
    assert len(mail.outbox) == 2
    rep = world.user("sales_rep")
    assert _client(rep).post(f"/settings/people/{lev.pk}/resend/").status_code == 403


def test_the_link_uses_the_requests_host_without_a_public_base_url(
    world: World,
    smtp_inbox: SmtpInbox,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings.TASKS = IMMEDIATE
    settings.TANDEM_BASE_URL = ""
    monkeypatch.delenv("TANDEM_BASE_URL", raising=False)
    with django_capture_on_commit_callbacks(execute=True):
        _client(world.user("admin")).post(
            "/settings/people/invite/", {"email": "ivan@example.com", "role": Role.MARKETER}
        )
    body = smtp_inbox.parsed(0).get_body(("plain",))
    assert body is not None
    assert _link(body.get_content()).startswith("http://testserver/set-password/")


def test_a_deactivated_invitee_cannot_use_their_link(
    world: World, smtp_inbox: SmtpInbox, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.TASKS = IMMEDIATE
    with django_capture_on_commit_callbacks(execute=True):
        _client(world.user("admin")).post(
            "/settings/people/invite/", {"email": "gone@example.com", "role": Role.MARKETER}
        )
    gone = User.objects.get(email="gone@example.com")
    user_deactivate(actor=Actor(user=world.user("admin")), user_id=gone.pk, successor_id=None)
    body = smtp_inbox.parsed(0).get_body(("plain",))
    assert body is not None
    path = "/" + _link(body.get_content()).split("/", 3)[3]
    assert "does not work any more" in Client().get(path, follow=True).content.decode()


def test_an_invitation_with_a_taken_or_bad_address_is_refused_on_the_form(world: World) -> None:
    admin = _client(world.user("admin"))
    taken = admin.post(
        "/settings/people/invite/", {"email": "Head.North@tandem.test", "role": Role.HEAD}
    )
    assert taken.status_code == 400
    assert "someone with this email address is already a user" in taken.content.decode()
    bad = admin.post("/settings/people/invite/", {"email": "not-an-address", "role": "boss"})
    assert bad.status_code == 400
    assert User.objects.count() == 10


# --- changes and teams ----------------------------------------------------------------------


def test_role_and_team_change_from_the_page_and_are_audited(world: World) -> None:
    rep = world.user("field_rep")
    team = Team.objects.get(name="South field")
    response = _client(world.user("admin")).post(
        f"/settings/people/{rep.pk}/",
        {"first_name": "Fedor", "last_name": "", "role": Role.SALES_REP, "team": team.pk},
    )
    assert response.status_code == 302
    rep.refresh_from_db()
    assert (rep.role, rep.team, rep.first_name) == ("sales_rep", team, "Fedor")
    entry = AuditEntry.objects.get(model="core.User", object_id=str(rep.pk), action="update")
    assert entry.changes["role"] == ["field_rep", "sales_rep"]
    assert entry.actor == world.user("admin")


def test_the_last_active_admin_keeps_the_role_and_cannot_be_deactivated(world: World) -> None:
    north, south = world.user("admin"), world.user("admin", "south")
    user_deactivate(actor=Actor(user=north), user_id=south.pk, successor_id=None)
    response = _client(north).post(
        f"/settings/people/{north.pk}/", {"role": Role.HEAD, "first_name": "", "last_name": ""}
    )
    assert response.status_code == 400
    assert "the last active admin cannot lose the admin role" in response.content.decode()
    with pytest.raises(InvalidInput):
        user_deactivate(actor=Actor.system(), user_id=north.pk, successor_id=None)
    with pytest.raises(InvalidInput, match="yourself"):
        user_deactivate(actor=Actor(user=north), user_id=north.pk, successor_id=None)


def test_teams_are_created_and_renamed_from_the_pages_with_unique_names(world: World) -> None:
    admin = _client(world.user("admin"))
    created = admin.post(
        "/settings/teams/", {"name": "East sales", "department": "sales", "region": "east"}
    )
    assert created.status_code == 302
    team = Team.objects.get(name="East sales")
    renamed = admin.post(
        f"/settings/teams/{team.pk}/",
        {"name": "Far East sales", "department": "sales", "region": "far east"},
    )
    assert renamed.status_code == 302
    team.refresh_from_db()
    assert (team.name, team.region) == ("Far East sales", "far east")
    clash = admin.post(
        f"/settings/teams/{team.pk}/", {"name": "north SALES", "department": "sales"}
    )
    assert clash.status_code == 400
    assert "a team named &#x27;north SALES&#x27; already exists" in clash.content.decode()
    assert [e.action for e in AuditEntry.objects.filter(model="core.Team", object_id=team.pk)] == [
        "update",
        "create",
    ]


# --- deactivation with reassignment ---------------------------------------------------------


def _everything_owned_by(world: World, rep: User) -> dict[str, Any]:
    """One or more records of every registered kind, owned by `rep` (and some history that
    must stay theirs)."""
    admin = Actor(user=world.user("admin"))
    pipeline = sales.pipeline_create(
        actor=admin,
        name="New business",
        is_default=True,
        stages=[
            {"name": "Qualify", "probability": 10},
            {"name": "Won", "kind": "won"},
            {"name": "Lost", "kind": "lost"},
        ],
    )
    account = world.accounts[("sales_rep", "north")]
    open_deal = sales.deal_create(
        actor=admin, name="Open deal", pipeline_id=pipeline.pk, owner_id=rep.pk,
        account_id=account.pk, currency_code="EUR",
    )  # fmt: skip
    won_deal = sales.deal_create(
        actor=admin, name="Won deal", pipeline_id=pipeline.pk, owner_id=rep.pk,
        account_id=account.pk, currency_code="EUR",
    )  # fmt: skip
    Deal.objects.filter(pk=won_deal.pk).update(status=DealStatus.WON)
    sequence = Sequence.objects.create(name="Follow-up", owner=rep)
    todo = SalesTask.objects.create(owner=rep, kind="call", title="Call back", due_on="2026-01-05")
    SalesTask.objects.create(
        owner=rep, kind="call", title="Called", due_on="2026-01-01", done_at="2026-01-01T10:00Z"
    )
    handoff = leads.handoff_create(
        actor=admin, contact=world.contacts[("sales_rep", "north")], trigger="mql"
    )
    assert handoff.assigned_to == rep
    territory = Territory.objects.create(name="North", region="north", head=rep)
    territory.members.add(rep)
    return {
        "open_deal": open_deal,
        "won_deal": won_deal,
        "sequence": sequence,
        "task": todo,
        "handoff": handoff,
        "territory": territory,
    }


def test_every_kind_of_owned_record_is_registered() -> None:
    assert [kind.key for kind in owned_kinds()] == [
        "crm.account",
        "crm.contact",
        "leads.handoff",
        "leads.territory",
        "marketing.campaign",
        "sales.deal",
        "sales.sequence",
        "sales.task",
    ]


def test_deactivation_hands_every_kind_of_record_to_the_successor_with_audit(
    world: World,
) -> None:
    rep, successor = world.user("sales_rep"), world.user("sales_rep", "south")
    records = _everything_owned_by(world, rep)
    audit_before = AuditEntry.objects.count()
    response = _client(world.user("admin")).post(
        f"/settings/people/{rep.pk}/deactivate/", {"successor": successor.pk}
    )
    assert response.status_code == 302

    rep.refresh_from_db()
    assert not rep.is_active
    assert all(count == 0 for _kind, count in owned_counts(rep))
    assert Account.objects.get(pk=world.accounts[("sales_rep", "north")].pk).owner == successor
    assert Contact.objects.get(pk=world.contacts[("sales_rep", "north")].pk).owner == successor
    assert Deal.objects.get(pk=records["open_deal"].pk).owner == successor
    assert Deal.objects.get(pk=records["won_deal"].pk).owner == rep  # history stays
    assert Sequence.objects.get(pk=records["sequence"].pk).owner == successor
    assert SalesTask.objects.get(pk=records["task"].pk).owner == successor
    assert SalesTask.objects.filter(owner=rep, done_at__isnull=False).count() == 1
    handoff = Handoff.objects.get(pk=records["handoff"].pk)
    assert (handoff.assigned_to, handoff.status) == (successor, HandoffStatus.PENDING)
    territory = Territory.objects.get(pk=records["territory"].pk)
    assert territory.head == successor
    assert list(territory.members.all()) == [successor]

    entries = AuditEntry.objects.order_by("id")[audit_before:]
    moved = {(e.model, e.object_id) for e in entries if e.action == "update"}
    for model, obj in [
        ("crm.Account", world.accounts[("sales_rep", "north")]),
        ("crm.Contact", world.contacts[("sales_rep", "north")]),
        ("sales.Deal", records["open_deal"]),
        ("sales.Sequence", records["sequence"]),
        ("sales.SalesTask", records["task"]),
        ("leads.Handoff", records["handoff"]),
        ("leads.Territory", records["territory"]),
    ]:
        assert (model, str(obj.pk)) in moved, model
    contact_entry = next(e for e in entries if e.model == "crm.Contact")
    assert contact_entry.changes == {"owner": [rep.pk, successor.pk]}
    assert contact_entry.object_repr == "north sales_rep customer"
    user_entry = next(e for e in entries if e.model == "core.User")
    assert user_entry.changes["is_active"] == [True, False]
    assert user_entry.changes["records_moved"][1]["crm.contact"] == 1
    assert authenticate(username=rep.username, password=PASSWORD) is None


def test_a_marketers_campaigns_go_to_someone_in_marketing(world: World) -> None:
    marketer, rep = world.user("marketer"), world.user("sales_rep")
    admin = Actor(user=world.user("admin"))
    campaign = campaigns.campaign_create(
        actor=admin, name="Spring", utm_code="spring", owner_id=marketer.pk
    )
    with pytest.raises(InvalidInput, match="choose someone in marketing"):
        user_deactivate(actor=admin, user_id=marketer.pk, successor_id=rep.pk)
    successor = world.user("marketer", "south")
    moved = user_deactivate(actor=admin, user_id=marketer.pk, successor_id=successor.pk)
    assert moved == {"marketing.campaign": 1}
    assert Campaign.objects.get(pk=campaign.pk).owner == successor
    entry = AuditEntry.objects.get(model="marketing.Campaign", action="update")
    assert (entry.object_repr, entry.changes) == ("Spring", {"owner": [marketer.pk, successor.pk]})


def test_deactivation_without_a_fitting_successor_changes_nothing(world: World) -> None:
    rep = world.user("sales_rep")
    records = _everything_owned_by(world, rep)
    admin = _client(world.user("admin"))
    nobody = admin.post(f"/settings/people/{rep.pk}/deactivate/", {"successor": ""})
    assert nobody.status_code == 400
    assert "this user still owns records" in nobody.content.decode()
    # a marketer cannot take over open hand-offs: the whole hand-over is rolled back
    marketer = world.user("marketer")
    refused = admin.post(f"/settings/people/{rep.pk}/deactivate/", {"successor": marketer.pk})
    assert refused.status_code == 400
    assert "choose an active sales rep to take them over" in refused.content.decode()
    rep.refresh_from_db()
    assert rep.is_active
    assert Account.objects.get(pk=world.accounts[("sales_rep", "north")].pk).owner == rep
    assert Sequence.objects.get(pk=records["sequence"].pk).owner == rep
    assert not AuditEntry.objects.filter(model="crm.Account", action="update").exists()


# --- the API --------------------------------------------------------------------------------


def _api(client: Client, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    call = getattr(client, method)
    if body is None:
        return call(f"/api/v1{path}")
    return call(f"/api/v1{path}", body, content_type="application/json")


def test_the_api_lists_users_and_teams_for_the_admin_only(world: World) -> None:
    admin = _client(world.user("admin"))
    users = _api(admin, "get", "/users").json()
    assert len(users) == 10
    assert {"id", "email", "role", "team_id", "is_active", "last_login"} <= set(users[0])
    assert {t["name"] for t in _api(admin, "get", "/teams").json()} >= {"North sales"}
    for role in (Role.HEAD, Role.SALES_REP, Role.MARKETER):
        other = _client(world.user(role))
        for path in ("/users", "/teams"):
            refused = _api(other, "get", path)
            assert refused.status_code == 403
            assert refused.json()["code"] == "forbidden"
        invite = _api(other, "post", "/users/invite", {"email": "a@b.test", "role": "admin"})
        assert invite.status_code == 403
    assert not User.objects.filter(email="a@b.test").exists()


def test_the_api_invites_changes_and_deactivates(
    world: World, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.TASKS = IMMEDIATE
    admin = _client(world.user("admin"))
    team = Team.objects.get(name="North sales")
    with django_capture_on_commit_callbacks(execute=True):
        invited = _api(
            admin,
            "post",
            "/users/invite",
            {"email": "nina@example.com", "role": "sales_rep", "team_id": team.pk},
        )
    assert invited.status_code == 201, invited.content
    from django.core import mail

    assert [m.to for m in mail.outbox] == [["nina@example.com"]]
    nina = invited.json()
    assert (nina["username"], nina["team_id"], nina["is_active"]) == (
        "nina@example.com", team.pk, True,
    )  # fmt: skip

    changed = _api(admin, "patch", f"/users/{nina['id']}", {"role": "marketer", "team_id": None})
    assert changed.status_code == 200
    assert (changed.json()["role"], changed.json()["team_id"]) == ("marketer", None)
    kept = _api(admin, "patch", f"/users/{nina['id']}", {"first_name": "Nina"}).json()
    assert (kept["role"], kept["first_name"]) == ("marketer", "Nina")

    with django_capture_on_commit_callbacks(execute=True):
        resent = _api(admin, "post", f"/users/{nina['id']}/invite", {})
    assert resent.status_code == 202
    assert len(mail.outbox) == 2
    already = _api(admin, "post", f"/users/{world.user('head').pk}/invite", {})
    assert already.status_code == 400
    assert already.json()["code"] == "wrong_state"

    rep, successor = world.user("field_rep"), world.user("field_rep", "south")
    needs = _api(admin, "post", f"/users/{rep.pk}/deactivate", {})
    assert needs.status_code == 400
    assert "successor" in needs.json()["details"]
    done = _api(admin, "post", f"/users/{rep.pk}/deactivate", {"successor_id": successor.pk})
    assert done.status_code == 200
    assert done.json()["moved"] == {"crm.account": 1, "crm.contact": 1}
    assert done.json()["user"]["is_active"] is False
    again = _api(admin, "post", f"/users/{rep.pk}/deactivate", {"successor_id": successor.pk})
    assert again.status_code == 400
    assert again.json()["code"] == "wrong_state"


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "field"),
    [
        ("post", "/users/invite", {"email": "bad", "role": "sales_rep"}, 400, "email"),
        ("post", "/users/invite", {"email": "x@y.test", "role": "boss"}, 400, None),
        ("post", "/users/invite", {"email": "x@y.test", "role": "admin", "team_id": 999}, 400,
         "team"),
        ("post", "/users/invite", {"email": "x@y.test", "role": "admin", "extra": 1}, 400, None),
        ("patch", "/users/999999", {"role": "admin"}, 404, None),
        ("patch", "/users/{rep}", {"role": "boss"}, 400, None),
        ("patch", "/users/{rep}", {"team_id": 424242}, 400, "team"),
        ("post", "/users/{rep}/deactivate", {"successor_id": "{rep}"}, 400, "successor"),
        ("post", "/teams", {"name": "North sales", "department": "sales"}, 400, "name"),
        ("post", "/teams", {"name": "HQ", "department": "head_office"}, 400, None),
        ("patch", "/teams/999999", {"name": "X", "department": "sales"}, 404, None),
    ],
)  # fmt: skip
def test_the_api_answers_bad_input_with_a_reason(
    world: World,
    method: str,
    path: str,
    body: dict[str, Any],
    status: int,
    field: str | None,
) -> None:
    rep = world.user("sales_rep")
    path = path.replace("{rep}", str(rep.pk))
    body = {k: rep.pk if v == "{rep}" else v for k, v in body.items()}
    users_before = User.objects.count()
    response = _api(_client(world.user("admin")), method, path, body)
    assert response.status_code == status, response.content
    answer = response.json()
    assert answer["message"]
    if field is not None:
        assert field in answer["details"], answer
    assert User.objects.count() == users_before
    rep.refresh_from_db()
    assert rep.is_active
    assert rep.role == Role.SALES_REP


def test_the_pages_and_the_invitation_speak_russian(
    world: World, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from django.core import mail

    from tandem.core.models import Organisation

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.TASKS = IMMEDIATE
    Organisation.objects.filter(pk=Organisation.current().pk).update(language="ru")
    admin = world.user("admin")
    User.objects.filter(pk=admin.pk).update(language="ru")
    client = _client(admin)
    client.post("/language/", {"language": "ru"})
    page = client.get("/settings/people/").content.decode()
    assert "Пользователи и команды" in page
    assert "Пригласить пользователя" in page
    taken = client.post("/settings/people/invite/", {"email": admin.email, "role": "admin"})
    assert "пользователь с этим адресом электронной почты уже есть" in taken.content.decode()  # noqa: RUF001
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/settings/people/invite/", {"email": "olga@example.com", "role": "marketer"})
    (message,) = mail.outbox
    assert message.subject == "Приглашение в My company в Tandem"
    assert "Ссылка действует один раз и 3 дня." in message.body
