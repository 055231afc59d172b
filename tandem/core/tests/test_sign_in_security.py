"""Sign-in security through the real pages: lockout per (username, client address) that a forged
X-Forwarded-For cannot reset, two-factor sign-in (set up, sign in, turn off, required for
admins), a password reset that answers the same for any address, and session expiry."""

from __future__ import annotations

import datetime as dt
import re
import time
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from conftest import IMMEDIATE_TASKS, PASSWORD, World
from tandem.core.audit import Actor
from tandem.core.models import ApiToken, AuditEntry, Organisation, User
from tandem.core.sessions import SEEN_AT, SIGNED_IN_AT
from tandem.core.tokens import token_create

pytestmark = pytest.mark.django_db

LOCKED = "this account is locked for 15 minutes"


def _login(client: Client, username: str, password: str = PASSWORD, **headers: Any) -> Any:
    return client.post("/login/", {"username": username, "password": password}, **headers)


@pytest.fixture
def three_strikes(settings: Any) -> None:
    settings.AXES_FAILURE_LIMIT = 3


# --- lockout ------------------------------------------------------------------------------------


def test_three_failures_lock_the_pair_even_with_the_right_password(
    client: Client, world: World, three_strikes: None
) -> None:
    for _ in range(2):
        assert _login(client, "sales_rep_south", "nope").status_code == 200
    third = _login(client, "sales_rep_south", "nope")
    assert third.status_code == 429
    assert LOCKED in third.content.decode()
    locked = _login(client, "sales_rep_south")
    assert locked.status_code == 429
    assert LOCKED in locked.content.decode()
    assert "_auth_user_id" not in client.session
    assert _login(client, "sales_rep_north").status_code == 302  # another account is free


def test_a_forged_forwarded_for_header_neither_resets_nor_escapes_the_count(
    client: Client, world: World, three_strikes: None
) -> None:
    for n in range(3):
        forged = {"HTTP_X_FORWARDED_FOR": f"203.0.113.{n}", "HTTP_X_REAL_IP": f"198.51.100.{n}"}
        _login(client, "head_south", "nope", **forged)
    fresh = {"HTTP_X_FORWARDED_FOR": "192.0.2.77", "HTTP_X_REAL_IP": "192.0.2.78"}
    answer = _login(client, "head_south", **fresh)
    assert answer.status_code == 429
    assert LOCKED in answer.content.decode()
    counted = set(AccessAttempt.objects.values_list("username", "ip_address"))
    assert counted == {("head_south", "127.0.0.1")}  # the connection's address, one count


def test_behind_one_proxy_the_count_is_the_real_clients_whatever_it_prepends(
    world: World, settings: Any, three_strikes: None
) -> None:
    settings.TANDEM_TRUSTED_PROXIES = 1
    proxy = Client(REMOTE_ADDR="10.0.0.9")
    for n in range(3):
        _login(proxy, "head_north", "nope", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}, 198.51.100.7")
    forged = _login(proxy, "head_north", HTTP_X_FORWARDED_FOR="192.0.2.1, 198.51.100.7")
    assert forged.status_code == 429
    assert _login(proxy, "head_north", HTTP_X_FORWARDED_FOR="198.51.100.8").status_code == 302


def test_the_count_is_per_username_and_address_and_ignores_case(
    world: World, three_strikes: None
) -> None:
    here, there = Client(REMOTE_ADDR="10.0.0.1"), Client(REMOTE_ADDR="10.0.0.2")
    for name in ("Marketer_North", "MARKETER_NORTH", "marketer_north"):
        _login(here, name, "nope")
    assert _login(here, "marketer_north").status_code == 429
    assert _login(there, "marketer_north").status_code == 302  # another address counts apart


def test_the_lock_ends_after_the_cool_off(
    client: Client, world: World, three_strikes: None
) -> None:
    for _ in range(3):
        _login(client, "field_rep_north", "x")
    assert _login(client, "field_rep_north").status_code == 429
    AccessAttempt.objects.update(attempt_time=timezone.now() - dt.timedelta(minutes=16))
    assert _login(client, "field_rep_north").status_code == 302


def test_a_success_clears_the_count(client: Client, world: World, three_strikes: None) -> None:
    _login(client, "admin_south", "x")
    _login(client, "admin_south", "x")
    assert _login(client, "admin_south").status_code == 302
    assert AccessAttempt.objects.count() == 0
    client.post("/logout/")
    _login(client, "admin_south", "x")
    _login(client, "admin_south", "x")
    assert _login(client, "admin_south").status_code == 302  # 2 failures, not 4


def test_django_admin_signs_in_through_tandem(client: Client, world: World) -> None:
    answer = client.get("/django-admin/login/?next=/django-admin/")
    assert answer.status_code == 302
    assert answer["Location"] == "/login/?next=/django-admin/"


# --- two-factor ---------------------------------------------------------------------------------


def _code(device: TOTPDevice, steps_ahead: int = 0) -> str:
    """The code the app shows now (or `steps_ahead` 30-second steps later: a code is good once)."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + steps_ahead * device.step
    return f"{totp.token():06d}"


def _wait_out_the_throttle(device: TOTPDevice) -> None:
    """As if the wait django-otp sets after a wrong code (1 s, doubling) had passed."""
    TOTPDevice.objects.filter(pk=device.pk).update(
        throttling_failure_timestamp=timezone.now() - dt.timedelta(hours=1)
    )


def _within_the_throttle(device: TOTPDevice) -> None:
    """As if more wrong codes had just been typed: the wait (2**(n-1) s) is minutes long, so
    the next try falls in it however slow the machine is."""
    TOTPDevice.objects.filter(pk=device.pk).update(
        throttling_failure_count=10, throttling_failure_timestamp=timezone.now()
    )


def _enrol(client: Client, user: User) -> TOTPDevice:
    assert client.post("/profile/two-factor/start/").status_code == 302
    page = client.get("/profile/").content.decode()
    assert "<svg" in page
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    secret = re.search(r'<code class="secret">([A-Z2-7 ]+)</code>', page)
    assert secret is not None
    assert len(secret.group(1).replace(" ", "")) == 32  # 20 bytes in base32
    wrong = client.post("/profile/two-factor/confirm/", {"code": "000000"})
    if _code(device) != "000000":
        assert wrong.status_code == 400
        assert "the code is not right" in wrong.content.decode()
        device.refresh_from_db()
        assert device.throttling_failure_count == 1  # kept though the change was refused
        _wait_out_the_throttle(device)
    device.refresh_from_db()
    shown = client.post("/profile/two-factor/confirm/", {"code": _code(device)})
    assert shown.status_code == 200  # the recovery codes, shown once
    assert (
        len(re.findall(r"<li><code>[a-z2-7]{5}-[a-z2-7]{5}</code></li>", shown.content.decode()))
        == 10
    )
    device.refresh_from_db()
    assert device.confirmed
    return device


def test_set_up_then_sign_in_asks_the_code(world: World) -> None:
    user = world.user("marketer", "south")
    client = Client()
    assert _login(client, user.username).status_code == 302
    device = _enrol(client, user)
    entry = AuditEntry.objects.filter(model="core.User", object_id=str(user.pk)).first()
    assert entry is not None
    assert entry.changes == {"recovery_codes_left": [0, 10]}  # issued with it, newest first
    entry = AuditEntry.objects.filter(model="core.User", object_id=str(user.pk))[1]
    assert entry.changes == {"two_factor": [False, True]}
    client.post("/logout/")

    first = _login(client, user.username)
    assert first["Location"] == "/login/code/"
    assert "_auth_user_id" not in client.session  # the password alone signs nobody in
    assert client.get("/").status_code == 302
    device.throttling_failure_count = 0
    wrong = client.post("/login/code/", {"code": "12345x"})
    assert wrong.status_code == 400
    answer = client.post("/login/code/", {"code": _code(device, steps_ahead=1)})
    assert answer.status_code == 302
    assert answer["Location"] == "/"
    assert client.session["_auth_user_id"] == str(user.pk)
    assert client.get("/").status_code == 200


def test_the_code_step_without_a_password_step_goes_back_to_sign_in(client: Client) -> None:
    assert client.get("/login/code/")["Location"] == "/login/"


def test_turning_two_factor_off_needs_a_code(world: World) -> None:
    user = world.user("sales_rep", "north")
    client = Client()
    _login(client, user.username)
    device = _enrol(client, user)
    assert client.post("/profile/two-factor/disable/", {"code": "abc"}).status_code == 400
    wrong = "000000" if _code(device, steps_ahead=1) != "000000" else "111111"
    assert client.post("/profile/two-factor/disable/", {"code": wrong}).status_code == 400
    device.refresh_from_db()
    assert device.throttling_failure_count == 1  # kept though the change was refused
    _within_the_throttle(device)
    too_soon = client.post("/profile/two-factor/disable/", {"code": _code(device, steps_ahead=1)})
    assert "too many wrong codes" in too_soon.content.decode()  # the wrong codes' wait holds
    assert TOTPDevice.objects.filter(user=user).exists()
    _wait_out_the_throttle(device)
    answer = client.post("/profile/two-factor/disable/", {"code": _code(device, steps_ahead=1)})
    assert answer.status_code == 302
    assert not TOTPDevice.objects.filter(user=user).exists()
    client.post("/logout/")
    assert _login(client, user.username)["Location"] == "/"


def test_an_admin_must_set_up_two_factor_when_the_organisation_says_so(world: World) -> None:
    admin = world.user("admin", "north")
    client = Client()
    _login(client, admin.username)
    answer = client.post(
        "/settings/",
        {
            "name": "Acme",
            "currency": "EUR",
            "time_zone": "UTC",
            "language": "en",
            "fiscal_year_start_month": "1",
            "require_admin_two_factor": "on",
        },
    )
    assert answer.status_code == 302
    assert Organisation.current().require_admin_two_factor
    assert client.get("/crm/contacts/")["Location"] == "/profile/"
    assert client.get("/profile/").status_code == 200
    refused = client.get("/api/v1/me")
    assert refused.status_code == 403
    assert refused.json()["code"] == "two_factor_required"
    token = token_create(actor=Actor(user=admin), user=admin, name="sync")
    by_token = Client().get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {token.secret}")
    assert by_token.status_code == 200  # tokens are their own credential

    device = _enrol(client, admin)
    assert client.get("/crm/contacts/").status_code == 200
    off = client.post("/profile/two-factor/disable/", {"code": _code(device, steps_ahead=1)})
    assert off.status_code == 400
    assert "requires two-factor sign-in for admins" in off.content.decode()
    # other roles are not held
    rep = Client()
    _login(rep, "sales_rep_north")
    assert rep.get("/crm/contacts/").status_code == 200


# --- password reset -----------------------------------------------------------------------------


def _reset(client: Client, email: str, captured: Any) -> tuple[int, str, str, int]:
    with CaptureQueriesContext(connection) as queries, captured(execute=False):
        answer = client.post("/password-reset/", {"email": email})
    page = client.get(answer["Location"]).content.decode()
    page = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", page)  # masked anew each time
    page = re.sub(r'"X-CSRFToken": "[^"]+"', "", page)
    return answer.status_code, answer["Location"], page, len(queries)


def test_the_reset_answer_is_the_same_for_known_and_unknown_addresses(
    client: Client, world: World, django_capture_on_commit_callbacks: Any
) -> None:
    known = _reset(client, "head.north@tandem.test", django_capture_on_commit_callbacks)
    unknown = _reset(client, "nobody@tandem.test", django_capture_on_commit_callbacks)
    assert known == unknown  # status, address, words, and the very same number of queries
    assert known[0] == 302

    durations: dict[str, list[float]] = {"known": [], "unknown": []}
    for _ in range(7):
        for kind, email in (("known", "head.north@tandem.test"), ("unknown", "no@tandem.test")):
            started = time.perf_counter()
            with django_capture_on_commit_callbacks(execute=False):
                client.post("/password-reset/", {"email": email})
            durations[kind].append(time.perf_counter() - started)
    median = {kind: sorted(values)[3] for kind, values in durations.items()}
    # the same work either way; the margin only absorbs a busy machine's noise
    margin = max(0.05, 0.5 * min(median.values()))
    assert abs(median["known"] - median["unknown"]) < margin, median


def test_a_reset_mails_a_working_link_to_the_account_only(
    client: Client, world: World, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.TASKS = IMMEDIATE_TASKS
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/password-reset/", {"email": "nobody@tandem.test"})
    assert mail.outbox == []
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/password-reset/", {"email": "HEAD.north@tandem.test"})
    assert [m.to for m in mail.outbox] == [["head.north@tandem.test"]]
    link = re.search(r"http://testserver(/set-password/\S+)", mail.outbox[0].body)
    assert link is not None
    form_page = client.get(link.group(1), follow=True)
    assert form_page.status_code == 200
    new = "a brand new pass phrase 7"
    done = client.post(
        form_page.redirect_chain[-1][0], {"new_password1": new, "new_password2": new}
    )
    assert done.status_code == 302
    assert _login(Client(), "head_north", new).status_code == 302


def test_a_malformed_address_is_a_400(client: Client) -> None:
    answer = client.post("/password-reset/", {"email": "not an address"})
    assert answer.status_code == 400
    assert "Enter a valid email address." in answer.content.decode()


# --- session expiry -----------------------------------------------------------------------------


def _age(client: Client, key: str, seconds: int) -> None:
    session = client.session
    session[key] = int(time.time()) - seconds
    session.save()


def test_an_idle_session_ends(client: Client, world: World, settings: Any) -> None:
    _login(client, "head_north")
    assert client.get("/").status_code == 200
    _age(client, SEEN_AT, settings.SESSION_IDLE_SECONDS + 5)
    assert client.get("/")["Location"].startswith("/login/")
    assert client.get("/api/v1/me").status_code == 401


def test_a_busy_session_still_ends_after_its_lifetime(
    client: Client, world: World, settings: Any
) -> None:
    _login(client, "head_north")
    _age(client, SIGNED_IN_AT, settings.SESSION_COOKIE_AGE + 5)
    assert client.get("/")["Location"].startswith("/login/")


def test_the_last_seen_mark_is_written_at_most_once_a_minute(client: Client, world: World) -> None:
    _login(client, "head_north")
    _age(client, SEEN_AT, 30)
    before = client.session[SEEN_AT]
    client.get("/profile/")
    assert client.session[SEEN_AT] == before
    _age(client, SEEN_AT, 90)
    client.get("/profile/")
    assert client.session[SEEN_AT] >= int(time.time()) - 2


def test_two_factor_through_the_api_from_a_session_only(world: World) -> None:
    user = world.user("head", "south")
    client = Client()
    _login(client, user.username)
    assert client.get("/api/v1/me/two-factor").json() == {
        "enabled": False,
        "required": False,
        "pending": False,
        "recovery_codes_left": 0,
    }
    started = client.post("/api/v1/me/two-factor")
    assert started.status_code == 201
    assert started.json()["otpauth_url"].startswith("otpauth://totp/Tandem%3Ahead_south?")
    device = TOTPDevice.objects.get(user=user)
    wrong = "111111" if _code(device) != "111111" else "222222"
    refused = client.post(
        "/api/v1/me/two-factor/confirm", {"code": wrong}, content_type="application/json"
    )
    assert refused.status_code == 400
    device.refresh_from_db()
    assert device.throttling_failure_count == 1
    _within_the_throttle(device)
    too_soon = client.post(
        "/api/v1/me/two-factor/confirm", {"code": _code(device)}, content_type="application/json"
    )
    assert too_soon.status_code in (400, 429)
    assert "too many wrong codes" in too_soon.text
    _wait_out_the_throttle(device)
    device.refresh_from_db()
    confirmed = client.post(
        "/api/v1/me/two-factor/confirm", {"code": _code(device)}, content_type="application/json"
    )
    assert confirmed.json() == {
        "enabled": True,
        "required": False,
        "pending": False,
        "recovery_codes_left": 0,  # recovery codes are made on My profile, never over the API
    }
    token = token_create(actor=Actor(user=user), user=user, name="t", scope="write")
    by_token = Client().post(
        "/api/v1/me/two-factor/disable",
        {"code": _code(device, steps_ahead=1)},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token.secret}",
    )
    assert by_token.status_code == 403
    assert by_token.json()["code"] == "session_required"


def test_a_token_without_a_chosen_expiry_expires_in_api_token_days(
    world: World, settings: Any
) -> None:
    user = world.user("marketer", "north")
    new = token_create(actor=Actor(user=user), user=user, name="feed")
    assert new.token.expires_at is not None
    left = new.token.expires_at - timezone.now()
    assert dt.timedelta(days=settings.API_TOKEN_DAYS, minutes=-1) < left
    assert left <= dt.timedelta(days=settings.API_TOKEN_DAYS)
    ApiToken.objects.filter(pk=new.token.pk).update(
        expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    answer = Client().get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {new.secret}")
    assert answer.status_code == 401
    assert answer.json()["code"] == "token_expired"
    assert answer.json()["message"] == "The API token has expired."


def test_the_tokens_page_sets_the_expiry_day(client: Client, world: World) -> None:
    _login(client, "marketer_north")
    page = client.get("/tokens/").content.decode()
    default = (timezone.localdate() + dt.timedelta(days=90)).isoformat()
    assert f'value="{default}"' in page
    answer = client.post("/tokens/", {"name": "site", "scope": "read", "expires_on": "2030-01-31"})
    assert answer.status_code == 200
    token = ApiToken.objects.get(user__username="marketer_north")
    assert token.expires_at == dt.datetime(2030, 2, 1, tzinfo=dt.UTC)
    past = client.post("/tokens/", {"name": "old", "scope": "read", "expires_on": "2020-01-01"})
    assert past.status_code == 400
    assert "must be in the future" in past.content.decode()


def test_the_organisation_requirement_through_the_api(world: World) -> None:
    admin, rep = world.user("admin", "south"), world.user("sales_rep", "south")
    admin_token = token_create(actor=Actor(user=admin), user=admin, name="a", scope="write")
    rep_token = token_create(actor=Actor(user=rep), user=rep, name="r", scope="write")

    def put(secret: str, body: object) -> Any:
        return Client().put(
            "/api/v1/organisation/two-factor",
            body,
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {secret}",
        )

    assert put(rep_token.secret, {"require_admin_two_factor": True}).status_code == 403
    assert put(admin_token.secret, {"require_admin_two_factor": "maybe"}).status_code == 400
    answer = put(admin_token.secret, {"require_admin_two_factor": True})
    assert answer.json() == {"require_admin_two_factor": True}
    assert Organisation.current().require_admin_two_factor
    entry = AuditEntry.objects.filter(model="core.Organisation").first()
    assert entry is not None
    assert entry.changes == {"require_admin_two_factor": [False, True]}
