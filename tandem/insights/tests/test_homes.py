"""Each role's home page and `GET /api/v1/insights/home`: a rep sees only their own hand-offs,
tasks and deals; the quota counts the rep's won revenue; the marketer sees MQLs against the
goal and the reasons sales gave; the field rep the accounts not touched lately; the admin the
people and the health of background work. Page and API give the same numbers."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from tandem.core.audit import Actor
from tandem.core.models import User
from tandem.crm import services as crm
from tandem.insights import homes, services
from tandem.insights.tests.conftest import Company
from tandem.leads.models import Handoff
from tandem.marketing.campaigns import services as campaigns
from tandem.sales.models import SalesTask


def _api(client: Client) -> dict[str, Any]:
    response = client.get("/api/v1/insights/home")
    assert response.status_code == 200, response.content
    data: dict[str, Any] = response.json()
    return data


def _quota(company: Company, side: str, target: str) -> None:
    services.goal_set(
        actor=Actor(user=company.user("head")),
        kind="revenue",
        period="quarter",
        day=company.today,
        team_id=None,
        user_id=company.user("sales_rep", side).pk,
        target=target,
    )


def _task(owner: User, title: str, due: dt.date, done: bool = False) -> SalesTask:
    return SalesTask.objects.create(
        owner=owner,
        kind="call",
        title=title,
        due_on=due,
        done_at=timezone.now() if done else None,
    )


# --- sales rep --------------------------------------------------------------------------------


def test_a_rep_sees_only_their_own_handoffs_tasks_deals_and_quota(company: Company) -> None:
    north, south = company.user("sales_rep", "north"), company.user("sales_rep", "south")
    mine = Handoff.objects.filter(assigned_to=north, status__in=["pending", "accepted"])
    _task(north, "Call back today", company.today)
    _task(north, "Overdue call", company.today - dt.timedelta(days=2))
    _task(north, "Next week", company.today + dt.timedelta(days=7))
    _task(north, "Done", company.today, done=True)
    _task(south, "South's call", company.today)
    _quota(company, "north", "4000")
    _quota(company, "south", "9000")

    home = homes.home_for(north)
    assert isinstance(home, homes.RepHome)
    assert sorted(c.handoff.pk for c in home.clocks) == sorted(mine.values_list("pk", flat=True))
    assert [t.title for t in home.tasks] == ["Overdue call", "Call back today"]
    assert home.tasks_overdue == 1
    # north's open deals: 2000 EUR in Propose, 700 EUR in Qualify (the south deal is not here)
    assert sorted((s.name, s.deals, s.amount) for s in home.stages) == [
        ("Propose", 1, Decimal("2000.00")),
        ("Qualify", 1, Decimal("700.00")),
    ]
    # the quota: north's own won revenue this quarter, in EUR (the RUB win is not added)
    assert home.quota is not None
    assert home.quota.goal.user_id == north.pk
    assert home.quota.actual == Decimal("1000.00")
    assert home.quota.goal.target == Decimal("4000.00")

    page = company.client("sales_rep").get("/").content.decode()
    assert "Your open hand-offs" in page
    assert "South&#x27;s call" not in page
    assert "South's call" not in page
    assert "Overdue call" in page
    assert "Next week" not in page
    assert f"/sales/deals/?status=won&amp;owner={north.pk}" in page  # the quota opens the deals
    assert "Your quota" in page
    assert "25 %" in page
    data = _api(company.client("sales_rep"))
    assert data["role"] == "sales_rep"
    assert data["tasks_due"] == 2
    assert data["tasks_overdue"] == 1
    assert data["quota"]["actual"] == "1000.00"
    assert data["quota"]["target"] == "4000.00"
    assert {h["id"] for h in data["handoffs"]} == set(mine.values_list("pk", flat=True))
    assert [(s["stage"], s["deals"]) for s in data["deals_by_stage"]] == [
        ("Qualify", 1),
        ("Propose", 1),
    ]
    # only the rep's own quota among the goals; the south rep's is not north's business here
    assert [g["user"] for g in data["goals"]] == [north.pk]


def test_an_open_handoff_shows_its_clock_and_an_overdue_one_says_so(company: Company) -> None:
    north = company.user("sales_rep", "north")
    handoff = company.handoffs[1]
    Handoff.objects.filter(pk=handoff.pk).update(
        assigned_to=north,
        status="pending",
        accept_due_at=timezone.now() - dt.timedelta(days=3),
    )
    home = homes.home_for(north)
    assert isinstance(home, homes.RepHome)
    clock = next(c for c in home.clocks if c.handoff.pk == handoff.pk)
    assert clock.overdue
    assert clock.step == "accept"
    page = company.client("sales_rep").get("/").content.decode()
    row = page.split(f'data-handoff="{handoff.pk}"')[1].split("</tr>")[0]
    assert "overdue by" in row
    assert 'class="countdown' in row
    assert f"/leads/handoffs/{handoff.pk}/" in row


def test_quota_progress_counts_only_the_reps_won_deals_in_the_period(company: Company) -> None:
    _quota(company, "north", "2000")
    north = company.user("sales_rep", "north")
    progress = homes.home_for(north).goals
    quota = next(p for p in progress if p.goal.user_id == north.pk)
    assert quota.actual == Decimal("1000.00")  # not the 4000 won 400 days ago, not the RUB win
    assert quota.share == 0.5
    # the head sees every quota on the goals page
    page = company.client("head").get("/insights/goals/").content.decode()
    assert "(quota)" in page


# --- goals page and API: a rep's quota --------------------------------------------------------


def test_the_head_sets_a_quota_on_the_goals_page_and_through_the_api(company: Company) -> None:
    rep = company.user("sales_rep", "south")
    head = company.client("head")
    form = {
        "kind": "revenue",
        "period": "quarter",
        "day": company.today.isoformat(),
        "user": rep.pk,
        "target": "5000",
    }
    assert head.post("/insights/goals/", form).status_code == 302
    answer = head.post(
        "/api/v1/insights/goals",
        {**form, "target": "6000"},
        content_type="application/json",
    )
    assert answer.status_code == 200, answer.content
    assert answer.json()["user"] == rep.pk
    assert answer.json()["target"] == "6000.00"
    listed = head.get(f"/api/v1/insights/goals?running_on={company.today}").json()
    assert [(g["user"], g["target"]) for g in listed] == [(rep.pk, "6000.00")]
    # a quota is a revenue goal of a rep, never a team's too
    bad = head.post("/insights/goals/", {**form, "kind": "mql"})
    assert bad.status_code == 400
    assert "quota is a revenue goal" in bad.content.decode()
    marketer = company.user("marketer")
    refused = head.post(
        "/api/v1/insights/goals", {**form, "user": marketer.pk}, content_type="application/json"
    )
    assert refused.status_code == 400
    assert "user" in refused.json()["details"]
    # only head and admin set goals
    rep_client = company.client("sales_rep", "south")
    assert (
        rep_client.post("/api/v1/insights/goals", form, content_type="application/json").status_code
        == 403
    )
    goal_id = listed[0]["id"]
    assert rep_client.delete(f"/api/v1/insights/goals/{goal_id}").status_code == 403
    assert head.delete(f"/api/v1/insights/goals/{goal_id}").status_code == 204
    assert head.delete(f"/api/v1/insights/goals/{goal_id}").status_code == 404


def test_a_quota_does_not_count_in_the_joint_goal(company: Company) -> None:
    from tandem.insights import selectors
    from tandem.insights.periods import quarter_window, zone_of

    _quota(company, "north", "4000")
    head = company.user("head")
    window = quarter_window(company.today, zone_of(head))
    assert selectors.goal_totals(window, None)["revenue"] is None


# --- marketer ---------------------------------------------------------------------------------


def test_the_marketer_sees_mqls_against_the_goal_reasons_and_their_campaigns(
    company: Company,
) -> None:
    marketer = company.user("marketer")
    services.goal_set(
        actor=Actor(user=company.user("head")),
        kind="mql",
        period="quarter",
        day=company.today,
        team_id=None,
        target="6",
    )
    own = campaigns.campaign_create(
        actor=Actor(user=marketer),
        name="Spring fair",
        utm_code="spring-fair",
        owner_id=marketer.pk,
        budget="1000",
        starts_on=company.today - dt.timedelta(days=5),
        ends_on=company.today + dt.timedelta(days=5),
    )
    campaigns.cost_add(
        actor=Actor(user=marketer),
        campaign=own,
        channel="conference",
        amount="250",
        incurred_on=company.today,
    )
    campaigns.campaign_create(
        actor=Actor(user=company.user("marketer", "south")), name="Theirs", utm_code="theirs"
    )
    home = homes.home_for(marketer)
    assert isinstance(home, homes.MarketerHome)
    assert home.sla.mqls_delivered == 3
    assert home.sla.mql_goal == Decimal("6.00")
    assert (home.sla.accepted, home.sla.rejected) == (1, 1)
    assert [(code, n) for code, _label, n in home.reasons] == [("no_budget", 1)]
    assert home.own_campaigns
    assert [(r.campaign.name, r.status, r.cost) for r in home.campaigns] == [
        ("Spring fair", "running", Decimal("250.00"))
    ]
    page = company.client("marketer").get("/").content.decode()
    assert "Spring fair" in page
    assert "Theirs" not in page
    assert f"/marketing/campaigns/{own.pk}/" in page
    assert 'data-reason="no_budget"' in page
    assert "50 %" in page  # MQLs: 3 of 6; acceptance: 1 of 2
    data = _api(company.client("marketer"))
    assert (data["mqls_delivered"], data["mql_goal"], data["acceptance_rate"]) == (3, 6, 0.5)
    assert data["rejection_reasons"] == {"no_budget": 1}
    assert [c["cost"] for c in data["campaigns"]] == ["250.00"]


# --- field rep --------------------------------------------------------------------------------


def test_the_field_rep_sees_todays_plan_and_the_accounts_not_touched_lately(
    company: Company,
) -> None:
    world = company.world
    rep = company.user("field_rep")
    fresh = world.accounts[("field_rep", "north")]  # touched at setup: today
    quiet = crm.account_create(actor=Actor.system(), name="Quiet farm", owner_id=rep.pk)
    old = crm.account_create(actor=Actor.system(), name="Old farm", owner_id=rep.pk)
    contact = crm.contact_create(
        actor=Actor.system(), first_name="Ivan", last_name="Old", account_id=old.pk
    )
    crm.touchpoint_record(
        channel="visit",
        kind="visit",
        department="field",
        contact=contact,
        occurred_at=timezone.now() - dt.timedelta(days=45),
    )
    crm.account_create(actor=Actor.system(), name="Not mine", owner_id=company.user("head").pk)
    _task(rep, "Visit the dairy", company.today)
    _task(rep, "Visit next week", company.today + dt.timedelta(days=7))

    home = homes.home_for(rep)
    assert isinstance(home, homes.FieldHome)
    assert [t.title for t in home.tasks] == ["Visit the dairy"]
    assert [a.name for a in home.quiet] == ["Quiet farm", "Old farm"]  # never touched first
    assert fresh.pk not in {a.pk for a in home.quiet}
    assert home.quiet_count == 2
    page = company.client("field_rep").get("/").content.decode()
    assert "Today&#x27;s plan" in page or "Today's plan" in page
    assert f"/crm/accounts/{quiet.pk}/" in page
    assert "Not mine" not in page
    data = _api(company.client("field_rep"))
    assert data["quiet_accounts"] == 2
    assert data["quiet_days"] == homes.QUIET_DAYS
    assert [a["name"] for a in data["accounts"]] == ["Quiet farm", "Old farm"]


# --- admin ------------------------------------------------------------------------------------


def test_the_admin_sees_people_invitations_and_settings(company: Company) -> None:
    User.objects.create_user(username="invited", email="new@tandem.test", role="marketer")
    home = homes.home_for(company.user("admin"))
    assert isinstance(home, homes.AdminHome)
    assert home.users_active == User.objects.filter(is_active=True).count()
    assert home.invitations_pending == 1
    page = company.client("admin").get("/").content.decode()
    for url in ("/settings/people/", "/settings/", "/audit/"):
        assert f'href="{url}"' in page
    data = _api(company.client("admin"))
    assert data["invitations_pending"] == 1
    assert sum(data["users_by_role"].values()) == data["users_active"]


# --- every home -------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["marketer", "sales_rep", "field_rep", "admin"])
def test_every_home_shows_the_shared_goals_and_its_chart_data(company: Company, role: str) -> None:
    services.goal_set(
        actor=Actor(user=company.user("head")),
        kind="revenue",
        period="quarter",
        day=company.today,
        team_id=None,
        target="3000",
    )
    client = company.client(role)
    page = client.get("/").content.decode()
    assert "Shared goals" in page
    assert 'id="chart-goals"' in page
    assert 'id="home-data"' in page
    data = _api(client)
    assert [(g["kind"], g["target"]) for g in data["goals"]] == [("revenue", "3000.00")]


def test_a_home_page_speaks_russian(company: Company) -> None:
    client = company.client("sales_rep")
    client.post("/language/", {"language": "ru"})
    page = client.get("/").content.decode()
    assert "Ваши открытые передачи" in page
    assert "Ваша квота" in page
