"""Core pages through Django's test client: sign-in, sign-out, language, settings, holidays,
the audit log and API tokens. (Lockout, two-factor, password reset: test_sign_in_security.py.)"""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from conftest import PASSWORD, World
from tandem.core.models import ApiToken, AuditEntry, Holiday, LoginAttempt, Organisation, User
from tandem.core.templatetags.tandem import format_money, format_percent


def _login(client: Client, username: str, password: str = PASSWORD) -> object:
    return client.post("/login/", {"username": username, "password": password})


# --- sign-in and lockout --------------------------------------------------------------------


def test_sign_in_and_out(client: Client, world: World) -> None:
    page = client.get("/login/")
    assert page.status_code == 200
    assert b'name="csrfmiddlewaretoken"' in page.content
    response = _login(client, "marketer_north")
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client.get("/").status_code == 200
    assert client.get("/logout/").status_code == 405  # sign-out is a POST only
    assert client.post("/logout/").status_code == 302
    assert client.get("/").status_code == 302


def test_logout_needs_csrf(world: World) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.user("marketer", "north"))
    assert client.post("/logout/").status_code == 403
    assert client.get("/").status_code == 200


def test_next_is_followed_only_on_this_site(client: Client, world: World) -> None:
    response = client.post(
        "/login/?next=/crm/contacts/", {"username": "head_north", "password": PASSWORD}
    )
    assert response["Location"] == "/crm/contacts/"
    client.post("/logout/")
    response = client.post(
        "/login/", {"username": "head_north", "password": PASSWORD, "next": "https://evil.example/"}
    )
    assert response["Location"] == "/"


def test_wrong_password_is_refused_and_counted(client: Client, world: World) -> None:
    response = _login(client, "head_north", "wrong")
    assert response.status_code == 200
    assert "The username or password is not right." in response.content.decode()
    assert LoginAttempt.objects.filter(username="head_north").count() == 1


def test_empty_login_form_is_a_400_with_field_errors(client: Client, world: World) -> None:
    response = client.post("/login/", {"username": "", "password": ""})
    assert response.status_code == 400
    assert response.content.decode().count("This field is required.") == 2
    assert LoginAttempt.objects.count() == 0


# --- language -------------------------------------------------------------------------------


def test_language_switch_is_kept_in_session_and_user(client: Client, world: World) -> None:
    user = world.user("field_rep", "south")
    client.force_login(user)
    response = client.post("/language/", {"language": "ru", "next": "/crm/contacts/"})
    assert response.status_code == 302
    assert response["Location"] == "/crm/contacts/"
    assert client.session["tandem_language"] == "ru"
    user.refresh_from_db()
    assert user.language == "ru"
    page = client.get("/crm/contacts/").content.decode()
    assert '<html lang="ru">' in page
    assert "<h1>Контакты</h1>" in page
    assert ">Выйти<" in page


def test_language_switch_refuses_unknown_and_foreign_next(client: Client, world: World) -> None:
    client.force_login(world.user("head", "north"))
    assert client.post("/language/", {"language": "xx"}).status_code == 400
    response = client.post("/language/", {"language": "en", "next": "//evil.example/"})
    assert response["Location"] == "/"


def test_sign_in_uses_the_users_language(client: Client, world: World) -> None:
    User.objects.filter(username="marketer_south").update(language="ru")
    _login(client, "marketer_south")
    assert "Здравствуйте" in client.get("/").content.decode()


def test_sign_in_falls_back_to_the_organisation_language(client: Client, world: World) -> None:
    Organisation.current()
    Organisation.objects.filter(pk=1).update(language="ru")
    _login(client, "marketer_south")
    assert client.session["tandem_language"] == "ru"


def test_anonymous_language_switch_on_the_login_page(client: Client, world: World) -> None:
    client.post("/language/", {"language": "ru", "next": "/login/"})
    page = client.get("/login/").content.decode()
    assert "Вход в Tandem" in page
    assert "Имя пользователя" in page


# --- organisation settings and holidays -----------------------------------------------------


def _settings_data(**overrides: str) -> dict[str, str]:
    data = {
        "name": "Agro Tech GmbH",
        "currency": "rub",
        "time_zone": "Europe/Moscow",
        "language": "ru",
        "fiscal_year_start_month": "4",
        "hours_mon": "09:00-13:00, 14:00-18:00",
        "hours_tue": "09:00-18:00",
        "hours_wed": "09:00-18:00",
        "hours_thu": "09:00-18:00",
        "hours_fri": "09:00-16:00",
        "hours_sat": "",
        "hours_sun": "",
    }
    data.update(overrides)
    return data


def test_admin_saves_settings_with_audit(client: Client, world: World) -> None:
    admin = world.user("admin", "north")
    client.force_login(admin)
    response = client.post("/settings/", _settings_data())
    assert response.status_code == 302
    org = Organisation.current()
    assert (org.name, org.currency, org.time_zone, org.language, org.fiscal_year_start_month) == (
        "Agro Tech GmbH",
        "RUB",
        "Europe/Moscow",
        "ru",
        4,
    )
    assert org.business_hours["mon"] == [["09:00", "13:00"], ["14:00", "18:00"]]
    assert org.business_hours["sat"] == []
    entry = AuditEntry.objects.get(model="core.Organisation")
    assert entry.actor == admin
    assert entry.changes["currency"] == ["EUR", "RUB"]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("time_zone", "Mars/Olympus", "unknown time zone"),
        ("currency", "E1", "Ensure this value has at least 3 characters (it has 2)."),
        ("currency", "€UR", "a three-letter ISO 4217 code, such as EUR"),
        ("hours_mon", "18:00-09:00", "a range must end after it starts"),
        ("hours_tue", "09:00-12:00, 11:00-13:00", "ranges overlap"),
        ("hours_wed", "9 to 5", "write ranges as 09:00-18:00, separated by commas"),
        ("hours_thu", "25:00-26:00", "25:00 is not a time HH:MM"),
        ("fiscal_year_start_month", "13", "Select a valid choice. 13 is not one of the"),
        ("name", "", "This field is required."),
        ("name", "x" * 201, "Ensure this value has at most 200 characters (it has 201)."),
    ],
)
def test_bad_settings_are_refused_and_change_nothing(
    client: Client, world: World, field: str, value: str, message: str
) -> None:
    client.force_login(world.user("admin", "south"))
    before = Organisation.current()
    response = client.post("/settings/", _settings_data(**{field: value}))
    assert response.status_code == 400
    assert message in response.content.decode()
    after = Organisation.current()
    assert (after.name, after.currency, after.time_zone, after.business_hours) == (
        before.name,
        before.currency,
        before.time_zone,
        before.business_hours,
    )
    assert AuditEntry.objects.filter(model="core.Organisation").count() == 0


def test_holidays_add_and_remove(client: Client, world: World) -> None:
    client.force_login(world.user("admin", "north"))
    assert (
        client.post(
            "/settings/holidays/", {"date": "2026-12-31", "name": "New Year's Eve"}
        ).status_code
        == 302
    )
    holiday = Holiday.objects.get()
    assert (holiday.date, holiday.name) == (dt.date(2026, 12, 31), "New Year's Eve")
    duplicate = client.post("/settings/holidays/", {"date": "2026-12-31", "name": "Again"})
    assert duplicate.status_code == 400
    assert "this date is already a holiday" in duplicate.content.decode()
    bad = client.post("/settings/holidays/", {"date": "31.12.2026x", "name": "Bad"})
    assert bad.status_code == 400
    assert "Enter a valid date." in bad.content.decode()
    assert client.post(f"/settings/holidays/{holiday.pk}/remove/").status_code == 302
    assert Holiday.objects.count() == 0
    assert list(
        AuditEntry.objects.filter(model="core.Holiday")
        .values_list("action", flat=True)
        .order_by("id")
    ) == ["create", "delete"]


def test_non_admins_cannot_change_settings(client: Client, world: World) -> None:
    client.force_login(world.user("sales_rep", "north"))
    assert client.post("/settings/", _settings_data()).status_code == 403
    assert (
        client.post("/settings/holidays/", {"date": "2026-12-31", "name": "x"}).status_code == 403
    )
    assert Organisation.current().name == "My company"
    assert Holiday.objects.count() == 0


# --- audit log ------------------------------------------------------------------------------


def test_audit_log_lists_and_filters(client: Client, world: World) -> None:
    head = world.user("head", "south")
    client.force_login(head)
    page = client.get("/audit/").content.decode()
    # the world created 4 accounts and 4 contacts through services
    assert page.count('data-model="crm.Contact"') == 4
    assert page.count('data-model="crm.Account"') == 4
    filtered = client.get("/audit/", {"model": "account"}).content.decode()
    assert filtered.count('data-model="crm.Account"') == 4
    assert 'data-model="crm.Contact"' not in filtered
    none = client.get("/audit/", {"actor": "nobody"}).content.decode()
    assert "No entries match." in none
    future = client.get("/audit/", {"date_from": "2999-01-01"}).content.decode()
    assert "No entries match." in future


def test_audit_log_pages_by_cursor(client: Client, world: World) -> None:
    client.force_login(world.user("admin", "north"))
    for i in range(60):
        AuditEntry.objects.create(action="update", model="crm.Tag", object_id=str(i))
    first = client.get("/audit/", {"model": "crm.Tag"})
    html = first.content.decode()
    assert html.count('data-model="crm.Tag"') == 50
    assert 'data-model="crm.Tag">Tag #59<' in html
    cursor = first.context["page"].next_cursor
    second = client.get("/audit/", {"model": "crm.Tag", "cursor": cursor}).content.decode()
    assert second.count('data-model="crm.Tag"') == 10
    assert 'data-model="crm.Tag">Tag #0<' in second
    forged = client.get("/audit/", {"model": "crm.Tag", "cursor": "forged"})
    assert forged.status_code == 200
    assert forged.content.decode().count('data-model="crm.Tag"') == 50


# --- API tokens -----------------------------------------------------------------------------


def test_tokens_create_shows_secret_once_and_revoke(client: Client, world: World) -> None:
    user = world.user("sales_rep", "north")
    client.force_login(user)
    response = client.post("/tokens/", {"name": "CRM import", "scope": "write"})
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    token = ApiToken.objects.get(user=user)
    secret = response.context["secret"]
    assert secret.startswith("tdm_")
    assert secret in response.content.decode()
    assert token.scope == "write"
    listing = client.get("/tokens/").content.decode()
    assert "CRM import" in listing
    assert secret not in listing
    assert client.post(f"/tokens/{token.pk}/revoke/").status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_tokens_of_others_are_invisible(client: Client, world: World) -> None:
    client.force_login(world.user("sales_rep", "north"))
    client.post("/tokens/", {"name": "mine", "scope": "read"})
    token = ApiToken.objects.get()
    other = Client()
    other.force_login(world.user("head", "north"))
    assert "mine" not in other.get("/tokens/").content.decode()
    assert other.post(f"/tokens/{token.pk}/revoke/").status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_token_form_errors(client: Client, world: World) -> None:
    client.force_login(world.user("marketer", "north"))
    response = client.post("/tokens/", {"name": "", "scope": "admin"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "This field is required." in html
    assert "Select a valid choice. admin is not one of the available choices." in html
    assert ApiToken.objects.count() == 0


# --- money ----------------------------------------------------------------------------------


def test_money_is_formatted_for_the_language(db: None) -> None:
    assert format_money(1234567.5, "EUR", "en") == "€1,234,567.50"
    assert format_money("-42", "USD", "en") == "-$42.00"
    assert format_money(1234567.5, "RUB", "ru") == "1\xa0234\xa0567,50\xa0₽"
    assert format_money(10, "SEK", "en") == "SEK\xa010.00"
    assert format_money(None, "EUR", "en") == ""
    assert format_money("abc", "EUR", "en") == ""
    assert format_money(5) == "€5.00"  # the organisation's currency, EUR by default


def test_percentages_are_formatted_for_the_language() -> None:
    assert format_percent(0.1234, 1, "en") == "12.3%"
    assert format_percent("2.0000", 0, "en") == "200%"
    assert format_percent(-0.5, 0, "ru") == "-50\xa0%"
    assert format_percent(12.345, 1, "ru") == "1\xa0234,5\xa0%"
    assert format_percent(None) == ""
    assert format_percent("nan") == ""


# --- Django admin ---------------------------------------------------------------------------


def test_django_admin_is_for_superusers_only(client: Client, world: World) -> None:
    staff = world.user("admin", "north")
    User.objects.filter(pk=staff.pk).update(is_staff=True)
    client.force_login(User.objects.get(pk=staff.pk))
    index = client.get("/django-admin/")
    assert index.status_code == 200
    assert "/django-admin/crm/contact/" not in index.content.decode()
    assert client.get("/django-admin/crm/contact/").status_code == 403
    root = User.objects.create_superuser("root", "root@tandem.test", PASSWORD)
    client.force_login(root)
    page = client.get("/django-admin/crm/contact/")
    assert page.status_code == 200
    assert "north sales_rep customer" in page.content.decode()
    assert client.get("/django-admin/core/auditentry/").status_code == 200
    assert client.get("/django-admin/core/auditentry/add/").status_code == 403
