"""Shared goals: set by the head on a page (a Django form), audited, aligned to the period, shown
with their progress on every role's home page."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.test import Client

from conftest import World
from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.core.models import AuditEntry, Organisation
from tandem.insights import services
from tandem.insights.models import Goal
from tandem.insights.tests.conftest import Company


def _client(world: World, role: str, side: str = "north") -> Client:
    client = Client()
    client.force_login(world.user(role, side))
    return client


def test_the_head_sets_a_goal_on_the_page_and_setting_it_again_changes_it(world: World) -> None:
    client = _client(world, "head")
    assert client.get("/insights/goals/").status_code == 200
    form = {"kind": "revenue", "period": "quarter", "day": "2026-11-17", "target": "250000"}
    response = client.post("/insights/goals/", form)
    assert response.status_code == 302
    goal = Goal.objects.get()
    assert (goal.starts_on, goal.ends_on, goal.team_id) == (
        dt.date(2026, 10, 1),
        dt.date(2026, 12, 31),
        None,
    )
    assert goal.target == Decimal("250000.00")
    assert goal.set_by == world.user("head")
    client.post("/insights/goals/", {**form, "day": "2026-10-01", "target": "300000"})
    goal = Goal.objects.get()
    assert goal.target == Decimal("300000.00")
    entries = AuditEntry.objects.filter(model="insights.Goal", object_id=str(goal.pk))
    assert sorted(entries.values_list("action", flat=True)) == ["create", "update"]
    assert entries.get(action="update").changes == {"target": ["250000.00", "300000.00"]}


def test_a_team_goal_and_a_joint_goal_of_one_period_are_two_goals(world: World) -> None:
    team = world.user("sales_rep").team
    assert team is not None
    client = _client(world, "head")
    form = {"kind": "mql", "period": "month", "day": "2026-11-17", "target": "40"}
    assert client.post("/insights/goals/", form).status_code == 302
    assert client.post("/insights/goals/", {**form, "team": team.pk}).status_code == 302
    assert sorted((g.team_id or 0, g.starts_on, g.ends_on) for g in Goal.objects.all()) == [
        (0, dt.date(2026, 11, 1), dt.date(2026, 11, 30)),
        (team.pk, dt.date(2026, 11, 1), dt.date(2026, 11, 30)),
    ]


def test_quarters_follow_the_fiscal_year(world: World) -> None:
    Organisation.current()
    Organisation.objects.filter(pk=1).update(fiscal_year_start_month=4)
    goal = services.goal_set(
        actor=Actor(user=world.user("head")),
        kind="pipeline",
        period="quarter",
        day=dt.date(2027, 3, 5),
        team_id=None,
        target=Decimal("1"),
    )
    assert (goal.starts_on, goal.ends_on) == (dt.date(2027, 1, 1), dt.date(2027, 3, 31))


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"target": "-5"}, "target", "greater than or equal to 0"),
        ({"target": "many"}, "target", "Enter a number"),
        ({"target": "12.5", "kind": "mql"}, "target", "An MQL goal is a whole number."),
        ({"kind": "profit"}, "kind", "Select a valid choice"),
        ({"day": "2026-02-30"}, "day", "Enter a valid date"),
        ({"day": ""}, "day", "This field is required"),
        ({"team": "999999"}, "team", "Select a valid choice"),
        ({"target": "1" + "0" * 20}, "target", "Ensure that there are no more than"),
    ],
)
def test_bad_goal_input_is_a_form_error(
    world: World, form: dict[str, str], field: str, message: str
) -> None:
    base = {"kind": "revenue", "period": "quarter", "day": "2026-11-17", "target": "10"}
    response = _client(world, "head").post("/insights/goals/", {**base, **form})
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert any(message in e for e in errors[field]), errors
    assert not Goal.objects.exists()


def test_goal_errors_speak_russian(world: World) -> None:
    client = _client(world, "head")
    client.post("/language/", {"language": "ru"})
    base = {"kind": "mql", "period": "month", "day": "2026-11-17", "target": "1.5"}
    response = client.post("/insights/goals/", base)
    assert response.status_code == 400
    assert "Цель по MQL — целое число." in response.content.decode()


@pytest.mark.parametrize("role", ["marketer", "sales_rep", "field_rep"])
def test_only_the_head_and_admin_set_goals(world: World, role: str) -> None:
    client = _client(world, role)
    assert client.get("/insights/goals/").status_code == 403
    form = {"kind": "revenue", "period": "quarter", "day": "2026-11-17", "target": "1"}
    assert client.post("/insights/goals/", form).status_code == 403
    with pytest.raises(InvalidInput) as refused:
        services.goal_set(
            actor=Actor(user=world.user(role)),
            kind="revenue",
            period="quarter",
            day=dt.date(2026, 11, 17),
            team_id=None,
            target=1,
        )
    assert refused.value.code == "forbidden"
    assert not Goal.objects.exists()
    assert _client(world, "admin").post("/insights/goals/", form).status_code == 302


def test_removing_a_goal_is_audited(world: World) -> None:
    goal = services.goal_set(
        actor=Actor(user=world.user("head")),
        kind="revenue",
        period="month",
        day=dt.date(2026, 11, 17),
        team_id=None,
        target=1,
    )
    assert _client(world, "sales_rep").post(f"/insights/goals/{goal.pk}/remove/").status_code == 403
    response = _client(world, "head").post(f"/insights/goals/{goal.pk}/remove/")
    assert response.status_code == 302
    assert not Goal.objects.exists()
    assert AuditEntry.objects.filter(model="insights.Goal", action="delete").count() == 1
    again = _client(world, "head").post(f"/insights/goals/{goal.pk}/remove/", follow=True)
    assert "That goal no longer exists." in again.content.decode()


def test_every_role_sees_the_shared_goal_with_what_it_sees_achieved(company: Company) -> None:
    services.goal_set(
        actor=Actor(user=company.user("head")),
        kind="revenue",
        period="month",
        day=company.today,
        team_id=None,
        target="3000",
    )
    for role, side, achieved in [
        ("marketer", "north", "1,500"),  # marketers see every deal
        ("admin", "north", "1,500"),
        ("sales_rep", "north", "1,000"),  # a rep: their team's deals only
        ("sales_rep", "south", "500"),
        ("field_rep", "north", "0"),
    ]:
        page = company.client(role, side).get("/").content.decode()
        assert 'data-goal="revenue"' in page, role
        row = page.split('data-goal="revenue"')[1].split("</tr>")[0]
        assert f'<td class="num">{achieved}</td>' in row, (role, row)
        assert ("counted over the records you can see" in page) == (role != "admin")
