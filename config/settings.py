"""Tandem's one settings module. Every setting comes from the environment, with a safe default.

Environment variables (see docs/operations.md):
  DATABASE_URL      default sqlite:///<project>/var/tandem.sqlite3 (PostgreSQL: postgres://...)
  SECRET_KEY        default: a random key generated once and kept in var/secret_key
  PRIVACY_SUPPRESSION_SECRET  key of the erased people's hashes, default SECRET_KEY (keep it)
  DEBUG             default off
  ALLOWED_HOSTS     comma-separated, default "127.0.0.1,localhost"
  TANDEM_HTTPS      "1" behind HTTPS: secure cookies, HSTS, SSL redirect (production)
  SMTP_HOST, SMTP_PORT, SMTP_USER, SMTP_PASSWORD, SMTP_TLS | SMTP_SSL, SMTP_CA_FILE,
  DEFAULT_FROM_EMAIL
                    no SMTP_HOST: mail is written to the console
  TANDEM_BASE_URL   public https address; DKIM_DOMAIN, DKIM_SELECTOR, DKIM_PRIVATE_KEY[_FILE]
  TANDEM_TRUSTED_PROXIES  proxies in front whose X-Forwarded-For is believed, default 0
  TASKS_BACKEND     database (default) | immediate | redis
  REDIS_URL         default redis://127.0.0.1:6379/0
  CACHE_URL         redis://... for Redis caches; default: process memory, sessions in files
  TIME_ZONE         default UTC;  LANGUAGE_CODE  default en (en or ru)
  API_RATE_LIMIT    requests per minute per API token, default 600
  LOGIN_LOCKOUT_ATTEMPTS, LOGIN_LOCKOUT_MINUTES   sign-in lockout (django-axes), default 5, 15
  SESSION_HOURS, SESSION_IDLE_MINUTES    session lifetime and idle limit, default 12, 60
  API_TOKEN_DAYS    default lifetime of an API token, 90;  PASSWORD_RESET_HOURS  default 72
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import os
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("TANDEM_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def _secret_key() -> str:
    key = os.environ.get("SECRET_KEY")
    if key:
        return key
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    path = VAR_DIR / "secret_key"
    if not path.exists():
        # Written owner-only from the start, then linked into place: of several processes
        # starting at once (gunicorn workers), the first wins and all read the same key.
        draft = VAR_DIR / f".secret_key.{os.getpid()}"
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(64))
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip()


SECRET_KEY = _secret_key()
# The key of the salted hashes (HMAC-SHA256) that keep an erased person from coming back
# (crm.privacy, docs/privacy.md). Rotating SECRET_KEY? Set this to the old key first.
PRIVACY_SUPPRESSION_SECRET = os.environ.get("PRIVACY_SUPPRESSION_SECRET", "")
DEBUG = env_bool("DEBUG")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "django_tasks",
    "django_tasks_db",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "tandem.core",
    "tandem.crm",
    "tandem.tracking",
    "tandem.leads",
    "tandem.sales",
    "tandem.attribution",
    "tandem.marketing",
    "tandem.imports",
    "tandem.enablement",
    "tandem.field",
    "tandem.programmes",
    "tandem.automation",
    "tandem.demo",
    "tandem.insights",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "tandem.core.middleware.UserLanguageMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "tandem.core.sessions.SessionExpiryMiddleware",
    "tandem.core.middleware.TimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "tandem.core.two_factor.TwoFactorRequiredMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "csp.middleware.CSPMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "tandem" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "tandem.core.context_processors.navigation",
            ],
        },
    }
]

_default_db = f"sqlite:///{VAR_DIR / 'tandem.sqlite3'}"
try:
    DATABASES = {
        "default": dj_database_url.parse(
            os.environ.get("DATABASE_URL") or _default_db,
            conn_max_age=60,
            conn_health_checks=True,
        )
    }
except ValueError as exc:
    raise ImproperlyConfigured(
        "DATABASE_URL is not a database URL Tandem understands "
        f"(sqlite:///path or postgres://user@host:port/name): {exc}"
    ) from None
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000;"
        ),
        "transaction_mode": "IMMEDIATE",
    }
    # Tests use a file, not shared-cache memory: a live server thread and the test then share
    # the database through WAL and busy_timeout instead of failing with "table is locked".
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "core.User"
# Sign-in: Django's ModelBackend, behind django-axes' lockout check (tandem/core/lockout.py).
AUTHENTICATION_BACKENDS = [
    "tandem.core.lockout.LockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "core:login"
LOGIN_REDIRECT_URL = "insights:home"
LOGOUT_REDIRECT_URL = "core:login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_LOCKOUT_ATTEMPTS = int(os.environ.get("LOGIN_LOCKOUT_ATTEMPTS", "5"))
LOGIN_LOCKOUT_MINUTES = int(os.environ.get("LOGIN_LOCKOUT_MINUTES", "15"))
# django-axes counts failures per (username, client address); the address is Tandem's one
# reading of it (core.client_address, TANDEM_TRUSTED_PROXIES), never a header the client wrote
# itself (tandem/core/lockout.py, docs/security.md).
AXES_FAILURE_LIMIT = LOGIN_LOCKOUT_ATTEMPTS
AXES_COOLOFF_TIME = dt.timedelta(minutes=LOGIN_LOCKOUT_MINUTES)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_CLIENT_IP_CALLABLE = "tandem.core.client_address.client_address"
AXES_USERNAME_CALLABLE = "tandem.core.lockout.lockout_username"
AXES_LOCKOUT_CALLABLE = "tandem.core.lockout.lockout_response"
AXES_RESET_ON_SUCCESS = True
AXES_DISABLE_ACCESS_LOG = True  # successful sign-ins are on the user (last_login), not a log
AXES_VERBOSE = False
AXES_HTTP_RESPONSE_CODE = 429
# The two-factor code step posts `code` (an app's code or a recovery code): never kept in axes' log.
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "code"]
# Two-factor (django-otp TOTP): the issuer named in authenticator apps.
OTP_TOTP_ISSUER = os.environ.get("OTP_TOTP_ISSUER", "Tandem")
# Set-password links (invitations and password resets: Django's token) work this long.
PASSWORD_RESET_TIMEOUT = int(os.environ.get("PASSWORD_RESET_HOURS", "72")) * 3600

LANGUAGE_CODE = os.environ.get("LANGUAGE_CODE", "en")
LANGUAGES = [("en", _("English")), ("ru", _("Russian"))]
LOCALE_PATHS = [BASE_DIR / "tandem" / "locale"]
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", VAR_DIR / "static"))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns on every request without it
STATICFILES_DIRS = [BASE_DIR / "tandem" / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
MEDIA_ROOT = VAR_DIR / "media"

# Upload and request limits: bad input is refused, never half-stored.
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 2000

# Email: SMTP to any provider; the console when none is configured.
# SMTP_TLS is STARTTLS (usually port 587); SMTP_SSL is TLS from the first byte ("implicit TLS",
# usually port 465). They exclude each other. Either way the server's certificate is verified:
# against SMTP_CA_FILE when set (a private CA or a self-signed server), else the system store.
if os.environ.get("SMTP_HOST"):
    EMAIL_BACKEND = "tandem.core.mail.SmtpBackend"
    EMAIL_HOST = os.environ["SMTP_HOST"]
    EMAIL_USE_SSL = env_bool("SMTP_SSL", default=False)
    EMAIL_PORT = int(os.environ.get("SMTP_PORT", "465" if EMAIL_USE_SSL else "587"))
    EMAIL_HOST_USER = os.environ.get("SMTP_USER", "")
    EMAIL_HOST_PASSWORD = os.environ.get("SMTP_PASSWORD", "")
    EMAIL_USE_TLS = env_bool("SMTP_TLS", default=EMAIL_PORT == 587 and not EMAIL_USE_SSL)
    if EMAIL_USE_SSL and EMAIL_USE_TLS:
        raise ImproperlyConfigured(
            "SMTP_SSL (TLS on connect, usually port 465) and SMTP_TLS (STARTTLS, usually port"
            " 587) exclude each other: set only one of them."
        )
    EMAIL_TIMEOUT = 30
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "tandem@localhost")
SMTP_CA_FILE = os.environ.get("SMTP_CA_FILE", "")
# Tandem's public address (https://crm.example.com): links in messages; `check --deploy` refuses
# it unset or not https. Every message is DKIM-signed by the email backend (tandem/core/mail.py)
# when these are set; `tandem dkim-key` makes the key and prints the DNS records to publish.
TANDEM_BASE_URL = os.environ.get("TANDEM_BASE_URL", "").rstrip("/")
DKIM_DOMAIN = os.environ.get("DKIM_DOMAIN", "")
DKIM_SELECTOR = os.environ.get("DKIM_SELECTOR", "")
DKIM_PRIVATE_KEY = os.environ.get("DKIM_PRIVATE_KEY", "")
DKIM_PRIVATE_KEY_FILE = os.environ.get("DKIM_PRIVATE_KEY_FILE", "")
BOUNCE_DOMAIN = os.environ.get("BOUNCE_DOMAIN", "")

# Background work: Django's Tasks API (django-tasks backport).
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
_tasks_backend = os.environ.get("TASKS_BACKEND", "database")
_TASK_BACKENDS = {
    "database": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]},
    "immediate": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"},
    "redis": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]},
}
if _tasks_backend not in _TASK_BACKENDS:
    _choices = ", ".join(sorted(_TASK_BACKENDS))
    raise ImproperlyConfigured(f"TASKS_BACKEND must be one of {_choices}, not {_tasks_backend!r}")
TASKS = {"default": _TASK_BACKENDS[_tasks_backend]}
if _tasks_backend == "redis":
    if importlib.util.find_spec("django_tasks_rq") is None:
        raise ImproperlyConfigured(
            "TASKS_BACKEND=redis needs the redis extra: pip install 'tandem[redis]'"
        )
    INSTALLED_APPS += ["django_rq", "django_tasks_rq"]
    RQ_QUEUES = {"default": {"URL": REDIS_URL}}
# Failed tasks (database backend) are run again after TASKS_RETRY_DELAY_SECONDS, doubling each
# time, until TASKS_MAX_ATTEMPTS runs have failed; then they stay failed, shown on /settings/tasks/.
# A worker beats every TASKS_HEARTBEAT_SECONDS; one silent for TASKS_WORKER_STALE_SECONDS is dead
# and its running tasks are released. See tandem/core/task_recovery.py.
TASKS_MAX_ATTEMPTS = int(os.environ.get("TASKS_MAX_ATTEMPTS", "5"))
TASKS_RETRY_DELAY_SECONDS = int(os.environ.get("TASKS_RETRY_DELAY_SECONDS", "30"))
TASKS_HEARTBEAT_SECONDS = 5
TASKS_WORKER_STALE_SECONDS = int(os.environ.get("TASKS_WORKER_STALE_SECONDS", "60"))

# Periodic work, enqueued by `tandem scheduler` (or the worker's built-in scheduler): name ->
# (task taking no arguments, interval in seconds). See tandem/core/schedule.py.
PERIODIC_TASKS = {
    "core.prune_login_attempts": ("tandem.core.tasks.prune_login_attempts", 3600),
    "leads.handoff_check_sla": ("tandem.leads.tasks.handoff_check_sla", 60),
    "leads.score_all_groups": ("tandem.leads.tasks.score_all_groups", 900),
    "leads.retrain_all_predictive": ("tandem.leads.tasks.retrain_all_predictive", 86400),
    "marketing.segments_refresh_all": ("tandem.marketing.segments.tasks.segments_refresh_all", 900),
    "marketing.segment_reactions_run": (
        "tandem.marketing.segments.tasks.segment_reactions_run",
        60,
    ),
    "marketing.event_reminders_send": ("tandem.marketing.events.tasks.event_reminders_send", 300),
    "marketing.social_publish_due": ("tandem.marketing.social.tasks.social_publish_due", 300),
    "marketing.social_stats_pull": ("tandem.marketing.social.tasks.social_stats_pull", 3600),
    "imports.interrupted_detect": ("tandem.imports.tasks.imports_interrupted_detect", 60),
    "core.exports_expire": ("tandem.core.tasks.exports_expire", 3600),
    "automation.tick": ("tandem.automation.tasks.automation_tick", 60),
    "programmes.recertification_reminders_send": (
        "tandem.programmes.tasks.recertification_reminders_send",
        86400,
    ),
    "programmes.loyalty_earn_and_expire": ("tandem.programmes.tasks.loyalty_earn_and_expire", 3600),
}

# Exports of more rows than EXPORT_BACKGROUND_ROWS are written by a worker into
# TANDEM_VAR_DIR/exports (EXPORT_DIR) and kept for EXPORT_KEEP_HOURS; smaller ones are sent at
# once. See tandem/core/export_jobs.py.
EXPORT_BACKGROUND_ROWS = int(os.environ.get("EXPORT_BACKGROUND_ROWS", "5000"))
EXPORT_KEEP_HOURS = int(os.environ.get("EXPORT_KEEP_HOURS", "24"))
EXPORT_DIR = Path(os.environ.get("EXPORT_DIR", VAR_DIR / "exports"))

# Caches. With CACHE_URL=redis://... (the redis extra) both are Redis, shared by every process
# and machine. Without it, "default" is each process's memory (lookups that may be a little
# stale) and "sessions" is files under TANDEM_VAR_DIR, shared by the processes of one machine:
# sessions are read through it, so a sign-out in one gunicorn worker holds in all. Sessions get
# an alias of their own because Django's file cache lists its directory on every write, which
# the per-request writes of the rate limiters would pay for.
CACHE_URL = os.environ.get("CACHE_URL", "")
CACHES: dict[str, dict[str, object]]
if CACHE_URL.startswith(("redis://", "rediss://")):
    if importlib.util.find_spec("redis") is None:
        raise ImproperlyConfigured(
            "CACHE_URL=redis://... needs the redis extra: pip install 'tandem[redis]'"
        )
    _redis: dict[str, object] = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": CACHE_URL,
    }
    CACHES = {
        "default": _redis,
        "sessions": {**_redis, "KEY_PREFIX": "sessions"},
        "ratelimit": {**_redis, "KEY_PREFIX": "ratelimit"},
    }
else:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "sessions": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "sessions"),
            "OPTIONS": {"MAX_ENTRIES": 100_000},
        },
        # Rate limits are counted where every process (gunicorn workers, task workers) sees
        # them: files under TANDEM_VAR_DIR on one host, Redis (above) across hosts.
        "ratelimit": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "ratelimit"),
            "OPTIONS": {"MAX_ENTRIES": 100_000},
        },
    }
RATE_LIMIT_CACHE = "ratelimit"
# Messages Tandem may send to one address through public pages (registration, subscription,
# forms with double opt-in) per 10 minutes, whoever asks: nobody can mail-bomb an address.
PUBLIC_EMAIL_RATE_LIMIT = int(os.environ.get("PUBLIC_EMAIL_RATE_LIMIT", "3"))

API_RATE_LIMIT = int(os.environ.get("API_RATE_LIMIT", "600"))
# The reverse proxies in front of Tandem: the client's address is the one the Nth proxy from us
# saw (X-Forwarded-For read from the right, N entries deep); 0 = REMOTE_ADDR, the header ignored.
TANDEM_TRUSTED_PROXIES = int(os.environ.get("TANDEM_TRUSTED_PROXIES", "0"))

# Security defaults; TANDEM_HTTPS=1 turns on what needs HTTPS.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"  # on the shared cache
SESSION_CACHE_ALIAS = "sessions"
SESSION_COOKIE_HTTPONLY = True
# A session ends SESSION_HOURS after sign-in whatever happens, and after SESSION_IDLE_MINUTES
# without a request (tandem/core/sessions.py); the cookie lives no longer than the session.
SESSION_COOKIE_AGE = int(os.environ.get("SESSION_HOURS", "12")) * 3600
SESSION_IDLE_SECONDS = int(os.environ.get("SESSION_IDLE_MINUTES", "60")) * 60
# API tokens expire API_TOKEN_DAYS after creation unless their creator picks another date.
API_TOKEN_DAYS = int(os.environ.get("API_TOKEN_DAYS", "90"))
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Content Security Policy on every response (django-csp): scripts and styles only from Tandem
# itself, no inline script, no eval. Style attributes stay allowed (style-src-attr): ECharts
# writes its tooltips with them and a few templates size bars with them; an attribute cannot run
# script. The email preview pages widen img-src for their sandboxed frame only
# (marketing's views, @csp_update). See docs/security.md.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "style-src-attr": ["'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
    }
}
if env_bool("TANDEM_HTTPS"):
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}
