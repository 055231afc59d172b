"""Two-factor recovery codes through the real pages and API: ten codes shown once when two-factor
is turned on, each signing in once instead of the app's code; new codes replace the old; wrong
codes are refused and count toward the sign-in lockout; an admin's reset removes them; only
an HMAC of each code is stored; the pages in Russian."""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import unquote

import pytest
from axes.models import AccessAttempt
from django.db import connection
from django.test import Client
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from conftest import PASSWORD, World
from tandem.core.audit import Actor
from tandem.core.models import AuditEntry, LoginAttempt, RecoveryCode, User
from tandem.core.recovery_codes import recovery_code_digest
from tandem.core.tokens import token_create

pytestmark = pytest.mark.django_db

CODE = re.compile(r"<li><code>([a-z2-7]{5}-[a-z2-7]{5})</code></li>")


def _login(client: Client, username: str, password: str = PASSWORD) -> Any:
    return client.post("/login/", {"username": username, "password": password})


def _app_code(device: TOTPDevice, steps_ahead: int = 0) -> str:
    """The code the app shows now (or `steps_ahead` 30-second steps later: a code is good once)."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + steps_ahead * device.step
    return f"{totp.token():06d}"


def _turn_on(client: Client, user: User) -> tuple[TOTPDevice, list[str]]:
    """Two-factor on from My profile; the device and the recovery codes the page showed."""
    assert client.post("/profile/two-factor/start/").status_code == 302
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    shown = client.post("/profile/two-factor/confirm/", {"code": _app_code(device)})
    assert shown.status_code == 200
    assert "no-store" in shown["Cache-Control"]
    codes = CODE.findall(shown.content.decode())
    assert len(codes) == len(set(codes)) == 10
    device.refresh_from_db()
    return device, codes


def _signed_in_with(client: Client, user: User, code: str) -> Any:
    """Password, then `code` at the code step; the code step's answer."""
    client.post("/logout/")
    assert _login(client, user.username)["Location"] == "/login/code/"
    return client.post("/login/code/", {"code": code})


def _user_entries(user: User) -> list[dict[str, Any]]:
    return list(
        AuditEntry.objects.filter(model="core.User", object_id=str(user.pk)).values_list(
            "changes", flat=True
        )
    )


@pytest.fixture
def user(world: World) -> User:
    return world.user("marketer", "south")


@pytest.fixture
def enrolled(user: User) -> tuple[Client, TOTPDevice, list[str]]:
    client = Client()
    assert _login(client, user.username).status_code == 302
    device, codes = _turn_on(client, user)
    return client, device, codes


def test_turning_two_factor_on_shows_ten_codes_once_with_a_text_to_download(
    user: User, enrolled: tuple[Client, TOTPDevice, list[str]]
) -> None:
    client, _device, codes = enrolled
    profile = client.get("/profile/").content.decode()
    assert "10 recovery codes left." in profile
    assert not any(code in profile for code in codes)  # shown once, never again
    status = client.get("/api/v1/me/two-factor").json()
    assert status["recovery_codes_left"] == 10
    assert not any(code in str(status) for code in codes)
    assert _user_entries(user)[:2] == [
        {"recovery_codes_left": [0, 10]},
        {"two_factor": [False, True]},
    ]


def test_the_download_holds_the_same_codes(user: User) -> None:
    client = Client()
    _login(client, user.username)
    client.post("/profile/two-factor/start/")
    device = TOTPDevice.objects.get(user=user)
    page = client.post("/profile/two-factor/confirm/", {"code": _app_code(device)})
    text = page.content.decode()
    link = re.search(r'href="data:text/plain;charset=utf-8,([^"]+)" download="([^"]+)"', text)
    assert link is not None
    assert link.group(2) == "tandem-recovery-codes.txt"
    download = unquote(link.group(1).replace("&amp;", "&"))
    assert download.splitlines()[0] == "Tandem recovery codes for marketer_south"
    assert [
        line for line in download.splitlines() if CODE.fullmatch(f"<li><code>{line}</code></li>")
    ] == CODE.findall(text)


def test_a_recovery_code_signs_in_once(
    user: User, enrolled: tuple[Client, TOTPDevice, list[str]]
) -> None:
    client, _device, codes = enrolled
    typed = " " + codes[3].upper().replace("-", " ") + " "  # case, spaces and dashes do not matter
    answer = _signed_in_with(client, user, typed)
    assert answer.status_code == 302
    assert answer["Location"] == "/"
    assert client.session["_auth_user_id"] == str(user.pk)
    assert client.get("/").status_code == 200
    assert _user_entries(user)[0] == {"recovery_codes_left": [10, 9]}
    assert "9 recovery codes left." in client.get("/profile/").content.decode()

    again = _signed_in_with(client, user, codes[3])
    assert again.status_code == 400
    assert "The code is not right." in again.content.decode()
    assert "_auth_user_id" not in client.session
    assert RecoveryCode.objects.filter(device__user=user, used_at__isnull=True).count() == 9


def test_codes_are_stored_only_as_a_keyed_hash(
    user: User, enrolled: tuple[Client, TOTPDevice, list[str]]
) -> None:
    _client, _device, codes = enrolled
    table = RecoveryCode._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table}")
        rows = cursor.fetchall()
    assert len(rows) == 10
    stored = " ".join(str(value) for row in rows for value in row)
    for code in codes:
        assert code not in stored
        assert code.replace("-", "") not in stored
    digests = {row.digest for row in RecoveryCode.objects.all()}
    assert digests == {recovery_code_digest(code) for code in codes}
    assert all(re.fullmatch(r"[0-9a-f]{64}", digest) for digest in digests)
    assert not StaticToken.objects.exists()  # django-otp's clear-text tokens are not used


def test_new_codes_need_the_password_or_a_code_and_replace_the_old(
    user: User, enrolled: tuple[Client, TOTPDevice, list[str]], settings: Any
) -> None:
    settings.OTP_STATIC_THROTTLE_FACTOR = 0  # refused old codes, tried one after another
    client, device, old = enrolled
    nothing = client.post("/profile/two-factor/recovery-codes/", {"password": "", "code": ""})
    assert nothing.status_code == 400
    assert "Type your password or a code from your authenticator app." in nothing.content.decode()
    wrong = client.post("/profile/two-factor/recovery-codes/", {"password": "nope"})
    assert wrong.status_code == 400
    assert "the password is not right" in wrong.content.decode()
    assert RecoveryCode.objects.filter(device__user=user).count() == 10

    by_password = client.post("/profile/two-factor/recovery-codes/", {"password": PASSWORD})
    assert by_password.status_code == 200
    new = CODE.findall(by_password.content.decode())
    assert len(new) == 10
    assert not set(new) & set(old)
    assert _user_entries(user)[0] == {"recovery_codes_left": [10, 10]}

    by_code = client.post(
        "/profile/two-factor/recovery-codes/", {"code": _app_code(device, steps_ahead=1)}
    )
    assert by_code.status_code == 200
    newest = CODE.findall(by_code.content.decode())
    assert RecoveryCode.objects.filter(device__user=user).count() == 10

    assert _signed_in_with(client, user, old[0]).status_code == 400
    assert _signed_in_with(client, user, new[0]).status_code == 400
    assert _signed_in_with(client, user, newest[0]).status_code == 302


def test_two_or_fewer_codes_left_bring_a_warning(
    user: User, enrolled: tuple[Client, TOTPDevice, list[str]]
) -> None:
    client, _device, codes = enrolled
    for code in codes[:7]:
        assert _signed_in_with(client, user, code).status_code == 302
    assert "Make new ones before you run out" not in client.get("/profile/").content.decode()
    answer = _signed_in_with(client, user, codes[7])
    assert answer.status_code == 302
    page = client.get("/profile/").content.decode()
    assert "You signed in with a recovery code: 2 are left. Make new ones on My profile." in page
    assert "2 recovery codes left." in page
    assert "Make new ones before you run out" in page


def test_wrong_codes_are_refused_and_count_toward_the_lockout(
    user: User, enrolled: tuple[Client, TOTPDevice, list[str]], settings: Any
) -> None:
    settings.AXES_FAILURE_LIMIT = 3
    settings.OTP_STATIC_THROTTLE_FACTOR = 0  # the device's own wait is tested apart
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    client, device, _codes = enrolled
    first = _signed_in_with(client, user, "aaaaa-aaaaa")
    assert first.status_code == 400
    assert "The code is not right." in first.content.decode()
    wrong_app_code = "000000" if _app_code(device) != "000000" else "111111"
    assert client.post("/login/code/", {"code": wrong_app_code}).status_code == 400
    assert LoginAttempt.objects.filter(username="marketer_south").count() == 2  # kept too
    attempt = AccessAttempt.objects.get()
    assert (attempt.username, attempt.failures_since_start) == ("marketer_south", 2)
    assert "aaaaa-aaaaa" not in attempt.post_data  # the codes tried are not kept
    assert wrong_app_code not in attempt.post_data

    third = client.post("/login/code/", {"code": "bbbbb-bbbbb"})
    assert third.status_code == 429
    assert "this account is locked for 15 minutes" in third.content.decode()
    assert client.get("/login/code/")["Location"] == "/login/"  # the half-done sign-in is gone
    assert _login(client, user.username).status_code == 429  # so is the password step
    # no code was spent on the way
    assert RecoveryCode.objects.filter(device__user=user, used_at__isnull=True).count() == 10


def test_quick_wrong_codes_are_throttled_by_the_device(
    user: User, enrolled: tuple[Client, TOTPDevice, list[str]]
) -> None:
    client, _device, codes = enrolled
    assert _signed_in_with(client, user, "aaaaa-aaaaa").status_code == 400
    device = StaticDevice.objects.get(user=user)
    assert device.throttling_failure_count == 1
    # as if more wrong codes had just come: a wait minutes long, however slow the machine
    StaticDevice.objects.filter(pk=device.pk).update(
        throttling_failure_count=10, throttling_failure_timestamp=timezone.now()
    )
    throttled = client.post("/login/code/", {"code": codes[0]})
    assert throttled.status_code == 429
    assert "too many wrong codes" in throttled.content.decode()
    assert RecoveryCode.objects.filter(device__user=user, used_at__isnull=True).count() == 10
    StaticDevice.objects.filter(user=user).update(
        throttling_failure_timestamp=None, throttling_failure_count=0
    )  # the wait is over
    assert client.post("/login/code/", {"code": codes[0]}).status_code == 302


def test_turning_two_factor_off_removes_the_recovery_codes(
    user: User, enrolled: tuple[Client, TOTPDevice, list[str]]
) -> None:
    client, device, _codes = enrolled
    off = client.post("/profile/two-factor/disable/", {"code": _app_code(device, steps_ahead=1)})
    assert off.status_code == 302
    assert not StaticDevice.objects.filter(user=user).exists()
    assert not RecoveryCode.objects.exists()


@pytest.mark.usefixtures("enrolled")
def test_an_admin_resets_someones_two_factor_and_their_recovery_codes(
    user: User, world: World
) -> None:
    admin = world.user("admin", "north")
    admin_client = Client()
    _login(admin_client, admin.username)
    page = admin_client.get(f"/settings/people/{user.pk}/").content.decode()
    assert "Reset two-factor sign-in" in page
    url = f"/settings/people/{user.pk}/two-factor/reset/"
    unticked = admin_client.post(url, {})
    assert unticked.status_code == 400
    assert "Tick the box to confirm." in unticked.content.decode()
    assert TOTPDevice.objects.filter(user=user).exists()

    rep = Client()
    _login(rep, "sales_rep_north")
    assert rep.post(url, {"confirm": "on"}).status_code == 403
    own = admin_client.post(f"/settings/people/{admin.pk}/two-factor/reset/", {"confirm": "on"})
    assert own.status_code == 400

    done = admin_client.post(url, {"confirm": "on"})
    assert done.status_code == 302
    assert not TOTPDevice.objects.filter(user=user).exists()
    assert not StaticDevice.objects.filter(user=user).exists()
    assert not RecoveryCode.objects.exists()
    entry = AuditEntry.objects.filter(model="core.User", object_id=str(user.pk)).first()
    assert entry is not None
    assert entry.actor_id == admin.pk
    assert entry.changes == {
        "two_factor": [True, False],
        "two_factor_reset_by_admin": [False, True],
    }
    fresh = Client()
    assert _login(fresh, user.username)["Location"] == "/"  # the password alone, as before
    assert (
        "Reset two-factor sign-in"
        not in admin_client.get(f"/settings/people/{user.pk}/").content.decode()
    )


def test_an_admin_resets_two_factor_through_the_api(
    user: User, world: World, enrolled: tuple[Client, TOTPDevice, list[str]]
) -> None:
    admin, rep = world.user("admin", "south"), world.user("sales_rep", "south")
    admin_token = token_create(actor=Actor(user=admin), user=admin, name="a", scope="write")
    rep_token = token_create(actor=Actor(user=rep), user=rep, name="r", scope="write")

    def reset(secret: str, user_id: int) -> Any:
        return Client().post(
            f"/api/v1/users/{user_id}/two-factor/reset", HTTP_AUTHORIZATION=f"Bearer {secret}"
        )

    assert reset(rep_token.secret, user.pk).status_code == 403
    assert reset(admin_token.secret, 999999).status_code == 404
    assert reset(admin_token.secret, admin.pk).status_code == 400
    answer = reset(admin_token.secret, user.pk)
    assert answer.status_code == 200
    assert answer.json()["id"] == user.pk
    assert not TOTPDevice.objects.filter(user=user).exists()
    assert not RecoveryCode.objects.exists()
    entry = AuditEntry.objects.filter(model="core.User", object_id=str(user.pk)).first()
    assert entry is not None
    assert entry.token_id == admin_token.token.pk


def test_the_pages_in_russian(user: User) -> None:
    User.objects.filter(pk=user.pk).update(language="ru")
    client = Client()
    _login(client, user.username)
    _device, codes = _turn_on(client, user)
    shown = client.post("/profile/two-factor/recovery-codes/", {"password": PASSWORD})
    assert "Коды восстановления" in shown.content.decode()
    assert "Скачать текстом" in shown.content.decode()
    profile = client.get("/profile/").content.decode()
    assert "Осталось 10 кодов восстановления." in profile
    assert "Новые коды восстановления" in profile
    client.post("/logout/")
    _login(client, user.username)
    step = client.get("/login/code/").content.decode()
    assert "Потеряли телефон?" in step
    refused = client.post("/login/code/", {"code": codes[0]})  # replaced above
    assert refused.status_code == 400
    assert "Код неверный." in refused.content.decode()


def test_two_factor_turned_on_through_the_api_has_no_codes_until_made_on_my_profile(
    user: User,
) -> None:
    client = Client()
    _login(client, user.username)
    assert client.post("/api/v1/me/two-factor").status_code == 201
    device = TOTPDevice.objects.get(user=user)
    confirmed = client.post(
        "/api/v1/me/two-factor/confirm",
        {"code": _app_code(device)},
        content_type="application/json",
    )
    assert confirmed.status_code == 200
    assert confirmed.json()["recovery_codes_left"] == 0
    assert "You have no recovery codes: make them now." in client.get("/profile/").content.decode()
    made = client.post("/profile/two-factor/recovery-codes/", {"password": PASSWORD})
    assert len(CODE.findall(made.content.decode())) == 10
    assert client.get("/api/v1/me/two-factor").json()["recovery_codes_left"] == 10
