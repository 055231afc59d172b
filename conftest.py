"""Shared fixtures: personas for every role on two sides (north, south), and their records.

Teams are per department and side; the head and the admin sit in their side's sales team (their
access does not depend on it). Every rep owns one account with one contact and one touchpoint.
"""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import pytest

from tandem.core.audit import Actor
from tandem.core.models import Role, Team, User
from tandem.crm import services as crm
from tandem.crm.models import Account, Contact

ROLES = [Role.HEAD, Role.MARKETER, Role.SALES_REP, Role.FIELD_REP, Role.ADMIN]
SIDES = ["north", "south"]
InboxT = TypeVar("InboxT", bound="SmtpInbox")
PASSWORD = "correct-horse-battery-staple-42"  # noqa: S105


@dataclass
class World:
    users: dict[tuple[str, str], User] = field(default_factory=dict)
    accounts: dict[tuple[str, str], Account] = field(default_factory=dict)
    contacts: dict[tuple[str, str], Contact] = field(default_factory=dict)

    def user(self, role: str, side: str = "north") -> User:
        return self.users[(role, side)]


def _team_for(role: str, side: str) -> Team:
    department = {"marketer": "marketing", "field_rep": "field"}.get(role, "sales")
    team, _ = Team.objects.get_or_create(
        name=f"{side.title()} {department}", defaults={"department": department, "region": side}
    )
    return team


@pytest.fixture
def world(db: None) -> World:
    w = World()
    for side in SIDES:
        for role in ROLES:
            w.users[(role, side)] = User.objects.create_user(
                username=f"{role}_{side}",
                password=PASSWORD,
                email=f"{role}.{side}@tandem.test",
                role=role,
                team=_team_for(role, side),
            )
    system = Actor.system()
    for side in SIDES:
        for role in (Role.SALES_REP, Role.FIELD_REP):
            owner = w.users[(role, side)]
            account = crm.account_create(
                actor=system,
                name=f"{side} {role} account",
                owner_id=owner.pk,
                domains=[f"{side}-{role.replace('_', '-')}.example.com"],
            )
            contact = crm.contact_create(
                actor=system,
                first_name=f"{side}",
                last_name=f"{role} customer",
                email=f"buyer@{side}-{role.replace('_', '-')}.example.com",
                account_id=account.pk,
                owner_id=owner.pk,
            )
            crm.touchpoint_record(
                channel="website", kind="page_view", department="marketing", contact=contact
            )
            w.accounts[(role, side)] = account
            w.contacts[(role, side)] = contact
    return w


def pytest_configure(config: pytest.Config) -> None:
    from django.conf import settings

    # Real hashing is tested where it matters (tokens, login); elsewhere it only costs time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Each test process its own caches: the shared session file cache would carry sessions from
    # one run (or one xdist worker) into another.
    memory = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    settings.CACHES = {
        "default": memory,
        "sessions": {**memory, "LOCATION": "sessions"},
        "ratelimit": memory,  # the default's store, so each test starts with no counts
    }


# Tests that start processes or servers, load the demo or fuzz are `slow`: the inner loop is
# `pytest -m "not slow and not browser"` (docs/operations.md, "Tests"). Modules that start
# processes mark themselves with `pytestmark = pytest.mark.slow`; these are recognised here.
SLOW_FIXTURES = frozenset({"live_server", "live", "transactional_db"})
# Tests on the console-script fixtures (tandem/core/tests/test_cli.py) run Tandem's processes on
# a SQLite file of their own, whatever the test database: the PostgreSQL leg would only repeat
# them, so they are `sqlite_leg_only`.
OWN_SQLITE_FIXTURES = frozenset({"migrated_db"})
# A test that touches no database (pure functions, parsers, the attribution engine's
# properties) gives the same answer on either leg: it runs on the SQLite leg only.
DATABASE_FIXTURES = frozenset({"db", "transactional_db", "django_db_setup", "live_server", "live"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    slow = pytest.mark.slow
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        function = getattr(item, "function", None)
        fuzzed = getattr(function, "is_hypothesis_test", False)
        if fixtures & SLOW_FIXTURES or fuzzed or item.get_closest_marker("browser"):
            item.add_marker(slow)
        if fixtures & OWN_SQLITE_FIXTURES or (
            not fixtures & DATABASE_FIXTURES
            and item.get_closest_marker("django_db") is None
            and item.get_closest_marker("postgres_only") is None
        ):
            item.add_marker(pytest.mark.sqlite_leg_only)


IMMEDIATE_TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


@pytest.fixture
def run_background(settings: Any, django_capture_on_commit_callbacks: Any) -> Any:
    """``run_background(client.get, url, data)``: make the request, do the background work it
    asked for at once (the immediate task backend runs what its transaction enqueued after
    commit), then make the same request again and return that answer: what a page or API
    client sees once the worker has finished."""
    settings.TASKS = IMMEDIATE_TASKS

    def ask(method: Any, *args: Any, **kwargs: Any) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            method(*args, **kwargs)
        return method(*args, **kwargs)

    return ask


@pytest.fixture
def finished_client(run_background: Any) -> Any:
    """A test client whose GETs are answered as after the background work they ask for is
    done (`run_background`): for tests about results, not about the waiting."""
    from django.test import Client

    class FinishedClient(Client):
        def get(self, *args: Any, **kwargs: Any) -> Any:
            return run_background(super().get, *args, **kwargs)

    return FinishedClient()


@pytest.fixture(autouse=True)
def _default_language() -> Iterator[None]:
    """A request in Russian leaves Russian active in the thread; each test starts in English."""
    from django.utils import translation

    translation.activate("en")
    yield
    translation.activate("en")


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    """Each test starts with an empty default cache: values cached from the organisation's
    settings (its currency, its time zone) must not carry over from a test that changed them."""
    from django.core.cache import cache

    cache.clear()


class Received(NamedTuple):
    mail_from: str
    rcpt_tos: list[str]
    content: bytes


class SmtpInbox:
    """What a real SMTP server (aiosmtpd, in a thread) accepted during a test. Subclass it to
    change the server's answers (handle_EHLO, handle_RCPT...)."""

    def __init__(self) -> None:
        self.messages: list[Received] = []

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        self.messages.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content))
        )
        return "250 OK"

    @property
    def contents(self) -> list[bytes]:
        return [m.content for m in self.messages]

    def parsed(self, index: int) -> EmailMessage:
        msg = email.message_from_bytes(self.messages[index].content, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        return msg


@contextmanager
def smtp_server(inbox: InboxT, settings: Any) -> Iterator[InboxT]:
    """Serve `inbox` on a free 127.0.0.1 port, with Django's SMTP backend pointed at it."""
    import socket

    from aiosmtpd.controller import Controller

    with socket.socket() as probe:  # aiosmtpd cannot take port 0 (see FACTS)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "tandem.core.mail.SmtpBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    try:
        yield inbox
    finally:
        controller.stop()


@pytest.fixture
def smtp_inbox(settings: Any) -> Iterator[SmtpInbox]:
    """A real SMTP server for the test; what it accepted is in `.messages`."""
    with smtp_server(SmtpInbox(), settings) as inbox:
        yield inbox


def self_signed_cert(tmp_path: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (IP SAN, valid for a day) and its key, as PEM files: for
    real TLS servers on the loopback in tests (SMTP with TLS on connect, HTTPS webhooks)."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file
