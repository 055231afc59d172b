"""Settings come from the environment with safe defaults; each case imports them in a fresh
process, as a server would at start-up."""

from __future__ import annotations

import json
import os
import secrets
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

# every case starts a Python process that reads settings (no database): engine-independent
pytestmark = [pytest.mark.slow, pytest.mark.sqlite_leg_only]

ROOT = Path(__file__).resolve().parents[3]
KEYS = [
    "DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "TIME_ZONE", "LANGUAGE_CODE", "EMAIL_BACKEND",
    "EMAIL_HOST", "EMAIL_PORT", "EMAIL_USE_TLS", "EMAIL_HOST_USER", "DEFAULT_FROM_EMAIL", "TASKS",
    "RQ_QUEUES", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS", "SECURE_PROXY_SSL_HEADER", "CSRF_TRUSTED_ORIGINS",
]  # fmt: skip
PROGRAM = (
    "import json; from django.conf import settings as s; "
    f"out = {{k: getattr(s, k, None) for k in {KEYS!r}}}; "
    "out['DATABASE'] = {k: s.DATABASES['default'].get(k) for k in ('ENGINE', 'NAME', 'HOST', "
    "'PORT', 'USER', 'OPTIONS')}; "
    "out['rq_installed'] = 'django_rq' in s.INSTALLED_APPS; "
    "print(json.dumps(out, default=str))"
)
ENV_NAMES = {
    "DATABASE_URL", "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS", "TANDEM_HTTPS", "SMTP_HOST",
    "SMTP_PORT", "SMTP_USER", "SMTP_PASSWORD", "SMTP_TLS", "SMTP_SSL", "SMTP_CA_FILE",
    "DEFAULT_FROM_EMAIL", "TASKS_BACKEND",
    "REDIS_URL", "TIME_ZONE", "LANGUAGE_CODE", "CSRF_TRUSTED_ORIGINS", "DJANGO_SETTINGS_MODULE",
    "SECURE_HSTS_SECONDS", "STATIC_ROOT", "DJANGO_ALLOW_ASYNC_UNSAFE",
}  # fmt: skip


def _env(var: Path, **overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ENV_NAMES}
    env["TANDEM_VAR_DIR"] = str(var)
    env["DJANGO_SETTINGS_MODULE"] = "config.settings"
    env.update(overrides)
    return env


def load(var: Path, **overrides: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM], cwd=ROOT, env=_env(var, **overrides),
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def test_defaults_are_safe_and_the_generated_secret_key_is_kept_private(tmp_path: Path) -> None:
    first = load(tmp_path)
    assert first["DEBUG"] is False
    assert first["ALLOWED_HOSTS"] == ["127.0.0.1", "localhost", "testserver"]
    assert first["TIME_ZONE"] == "UTC"
    assert first["LANGUAGE_CODE"] == "en"
    assert first["EMAIL_BACKEND"] == "django.core.mail.backends.console.EmailBackend"
    assert first["TASKS"] == {
        "default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}
    }
    assert first["rq_installed"] is False
    assert first["SESSION_COOKIE_SECURE"] is False  # Django's default until TANDEM_HTTPS=1
    assert first["DATABASE"]["ENGINE"] == "django.db.backends.sqlite3"
    assert first["DATABASE"]["NAME"] == str(tmp_path / "tandem.sqlite3")
    assert "PRAGMA journal_mode=WAL" in first["DATABASE"]["OPTIONS"]["init_command"]

    key_file = tmp_path / "secret_key"
    assert first["SECRET_KEY"] == key_file.read_text()
    assert len(first["SECRET_KEY"]) >= 50
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir() if "secret_key" in p.name] == ["secret_key"]
    assert load(tmp_path)["SECRET_KEY"] == first["SECRET_KEY"]  # kept across restarts
    assert load(tmp_path / "other")["SECRET_KEY"] != first["SECRET_KEY"]  # random per install


def test_values_from_the_environment(tmp_path: Path) -> None:
    key = secrets.token_urlsafe(50)
    got = load(
        tmp_path,
        SECRET_KEY=key,
        DEBUG="yes",
        ALLOWED_HOSTS=" crm.example.com, .example.org ,",
        CSRF_TRUSTED_ORIGINS="https://crm.example.com",
        TIME_ZONE="Europe/Moscow",
        LANGUAGE_CODE="ru",
        DATABASE_URL="postgres://tandem:pw@db.internal:5433/tandem_prod",
        SMTP_HOST="smtp.example.com",
        SMTP_USER="mailer",
        SMTP_PASSWORD="pw",
        DEFAULT_FROM_EMAIL="crm@example.com",
    )
    assert got["SECRET_KEY"] == key
    assert not (tmp_path / "secret_key").exists()
    assert got["DEBUG"] is True
    assert got["ALLOWED_HOSTS"] == ["crm.example.com", ".example.org"]
    assert got["CSRF_TRUSTED_ORIGINS"] == ["https://crm.example.com"]
    assert (got["TIME_ZONE"], got["LANGUAGE_CODE"]) == ("Europe/Moscow", "ru")
    assert got["DATABASE"] == {
        "ENGINE": "django.db.backends.postgresql", "NAME": "tandem_prod", "HOST": "db.internal",
        "PORT": 5433, "USER": "tandem", "OPTIONS": None,
    }  # fmt: skip
    # Django's SMTP backend, verifying TLS against SMTP_CA_FILE or the system store
    assert got["EMAIL_BACKEND"] == "tandem.core.mail.SmtpBackend"
    assert (got["EMAIL_HOST"], got["EMAIL_PORT"], got["EMAIL_USE_TLS"]) == (
        "smtp.example.com", 587, True,
    )  # fmt: skip
    assert (got["EMAIL_HOST_USER"], got["DEFAULT_FROM_EMAIL"]) == ("mailer", "crm@example.com")


def test_redis_tasks_backend(tmp_path: Path) -> None:
    got = load(tmp_path, TASKS_BACKEND="redis", REDIS_URL="redis://cache.internal:6380/2")
    assert got["TASKS"] == {
        "default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}
    }
    assert got["rq_installed"] is True
    assert got["RQ_QUEUES"] == {"default": {"URL": "redis://cache.internal:6380/2"}}


def test_https_turns_on_secure_cookies_hsts_and_redirects(tmp_path: Path) -> None:
    got = load(tmp_path, TANDEM_HTTPS="1")
    assert got["SESSION_COOKIE_SECURE"] is True
    assert got["CSRF_COOKIE_SECURE"] is True
    assert got["SECURE_SSL_REDIRECT"] is True
    assert got["SECURE_HSTS_SECONDS"] == 31536000
    assert got["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"TASKS_BACKEND": "celery"},
            "ImproperlyConfigured: TASKS_BACKEND must be one of database, immediate, redis, "
            "not 'celery'",
        ),
        (
            {"DATABASE_URL": "mongodb://localhost/tandem"},
            "ImproperlyConfigured: DATABASE_URL is not a database URL Tandem understands",
        ),
    ],
)
def test_bad_settings_fail_with_a_clear_error(
    overrides: dict[str, str], message: str, tmp_path: Path
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", "import config.settings"], cwd=ROOT,
        env=_env(tmp_path, **overrides), capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert message in done.stderr


def test_the_deploy_check_passes_with_production_settings(tmp_path: Path) -> None:
    env = _env(
        tmp_path,
        TANDEM_HTTPS="1",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="tandem.example.com",
        TANDEM_BASE_URL="https://tandem.example.com",
    )
    done = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == "System check identified no issues (0 silenced)."


def test_the_deploy_check_fails_with_debug_on(tmp_path: Path) -> None:
    env = _env(tmp_path, TANDEM_HTTPS="1", SECRET_KEY=secrets.token_urlsafe(50), DEBUG="1",
               ALLOWED_HOSTS="tandem.example.com")  # fmt: skip
    done = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert "security.W018" in done.stderr
