"""crm is the one writer of the timeline: the bulk services store, resolve and skip exactly as
their docstrings say, on SQLite and PostgreSQL, and no other app's code writes touchpoints or
names their table."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest

from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.core.models import User
from tandem.crm import services as crm
from tandem.crm.models import Identity, Touchpoint

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system()
AT = dt.datetime(2026, 6, 1, 10, 0, tzinfo=dt.UTC)


def _row(message_id: str, **values: Any) -> dict[str, Any]:
    return {
        "occurred_at": AT,
        "channel": "website",
        "department": "marketing",
        "kind": "page_view",
        "message_id": message_id,
        **values,
    }


def _stored() -> list[tuple[Any, ...]]:
    return list(
        Touchpoint.objects.order_by("id").values_list(
            "message_id", "contact_id", "account_id", "source", "kind"
        )
    )


def test_bulk_rows_resolve_contacts_by_user_id_then_anonymous_id_and_accounts_by_contact() -> None:
    acme = crm.account_create(actor=SYSTEM, name="Acme")
    ann = crm.contact_create(actor=SYSTEM, email="ann@acme.example", account_id=acme.pk)
    bob = crm.contact_create(actor=SYSTEM, email="bob@example.com")
    Identity.objects.create(kind=Identity.Kind.USER_ID, value="u-ann", contact=ann)
    Identity.objects.create(kind=Identity.Kind.ANONYMOUS_ID, value="a-bob", contact=bob)
    Identity.objects.create(kind=Identity.Kind.ANONYMOUS_ID, value="a-ann", contact=ann)
    other = crm.account_create(actor=SYSTEM, name="Other")

    stored = crm.touchpoints_record_bulk(
        rows=[
            _row("m1", user_id="u-ann", anonymous_id="a-bob"),  # the userId wins
            _row("m2", anonymous_id="a-bob"),
            _row("m3", anonymous_id="a-stranger"),
            _row("m4", contact_id=bob.pk),  # given contact, its account (none)
            _row("m5", contact_id=ann.pk),  # given contact, its account
            _row("m6", contact_id=ann.pk, account_id=other.pk),  # a given account wins
            _row("m7", anonymous_id="a-ann", account_id=other.pk),
        ],
        source="Website",
    )

    assert stored == 7
    assert _stored() == [
        ("m1", ann.pk, acme.pk, "Website", "page_view"),
        ("m2", bob.pk, None, "Website", "page_view"),
        ("m3", None, None, "Website", "page_view"),
        ("m4", bob.pk, None, "Website", "page_view"),
        ("m5", ann.pk, acme.pk, "Website", "page_view"),
        ("m6", ann.pk, other.pk, "Website", "page_view"),
        ("m7", ann.pk, other.pk, "Website", "page_view"),
    ]


def test_bulk_rows_keep_every_value_given() -> None:
    user = User.objects.create_user(username="rep", password="x" * 12)
    contact = crm.contact_create(actor=SYSTEM, email="c@example.com")
    crm.touchpoints_record_bulk(
        rows=[
            _row(
                "dict",
                contact_id=contact.pk,
                actor_id=user.pk,
                user_id="u1",
                anonymous_id="a1",
                campaign="june",
                content="ad",
                properties={"send": 3, "text": "Привет <b>"},
                is_bot=True,
                kind="email_sent",
                channel="email",
                department="sales",
            ),
            _row("bytes", anonymous_id="a2", properties=b'{"type":"track"}'),
            _row("none", anonymous_id="a3"),
        ],
        source="x" * 70,
        recorded_at=AT + dt.timedelta(minutes=1),
    )
    first, second, third = Touchpoint.objects.order_by("id")
    assert (
        first.contact_id, first.actor_id, first.user_id, first.anonymous_id, first.campaign,
        first.content, first.properties, first.is_bot, first.kind, first.channel,
        first.department, first.source, first.occurred_at, first.recorded_at,
    ) == (
        contact.pk, user.pk, "u1", "a1", "june", "ad", {"send": 3, "text": "Привет <b>"}, True,
        "email_sent", "email", "sales", "x" * 60, AT, AT + dt.timedelta(minutes=1),
    )  # fmt: skip
    assert second.properties == {"type": "track"}
    assert (third.properties, third.is_bot, third.campaign, third.actor_id) == ({}, False, "", None)


def test_a_stored_message_id_is_skipped_and_not_counted() -> None:
    assert crm.touchpoints_record_bulk(rows=[_row("m1", anonymous_id="a")], source="s") == 1
    again = [
        _row("m1", anonymous_id="b"),
        _row("m2", anonymous_id="b"),
        _row("m2", anonymous_id="c"),
    ]
    assert crm.touchpoints_record_bulk(rows=again, source="s") == 1
    assert list(Touchpoint.objects.order_by("id").values_list("message_id", "anonymous_id")) == [
        ("m1", "a"),
        ("m2", "b"),
    ]
    assert crm.touchpoints_record_bulk(rows=[], source="s") == 0


def test_many_rows_are_stored_in_order_across_statement_chunks() -> None:
    rows = [_row(f"m{n:05}", anonymous_id=f"a{n % 7}") for n in range(2500)]
    assert crm.touchpoints_record_bulk(rows=rows, source="s") == 2500
    assert list(Touchpoint.objects.order_by("id").values_list("message_id", flat=True)) == [
        f"m{n:05}" for n in range(2500)
    ]


def test_an_unknown_department_refuses_the_whole_batch() -> None:
    rows = [_row("ok", anonymous_id="a"), _row("bad", anonymous_id="a", department="nobody")]
    with pytest.raises(InvalidInput):
        crm.touchpoints_record_bulk(rows=rows, source="s")
    assert Touchpoint.objects.count() == 0


def test_adopt_repoints_only_touchpoints_without_a_contact_and_fill_only_missing_accounts() -> None:
    acme = crm.account_create(actor=SYSTEM, name="Acme")
    ann = crm.contact_create(actor=SYSTEM, email="ann@acme.example", account_id=acme.pk)
    bob = crm.contact_create(actor=SYSTEM, email="bob@example.com")
    other = crm.account_create(actor=SYSTEM, name="Other")
    crm.touchpoints_record_bulk(
        rows=[
            _row("anon", anonymous_id="v1"),
            _row("user", user_id="u1"),
            _row("owned", anonymous_id="v1", contact_id=bob.pk),
            _row("with-account", anonymous_id="v1", account_id=other.pk),
            _row("elsewhere", anonymous_id="v2"),
        ],
        source="s",
    )
    assert crm.touchpoints_adopt(contact_id=ann.pk, anonymous_ids=["v1", ""], user_ids=["u1"]) == 3
    assert crm.touchpoints_adopt(contact_id=ann.pk) == 0
    assert _stored() == [
        ("anon", ann.pk, acme.pk, "s", "page_view"),
        ("user", ann.pk, acme.pk, "s", "page_view"),
        ("owned", bob.pk, None, "s", "page_view"),
        ("with-account", ann.pk, other.pk, "s", "page_view"),
        ("elsewhere", None, None, "s", "page_view"),
    ]
    assert crm.touchpoints_account_fill(contact_id=bob.pk, account_id=other.pk) == 1
    assert crm.touchpoints_account_fill(contact_id=ann.pk, account_id=other.pk) == 0
    assert Touchpoint.objects.get(message_id="owned").account_id == other.pk


def test_channel_update_changes_channel_and_department_alone() -> None:
    crm.touchpoints_record_bulk(
        rows=[_row("a", anonymous_id="v", campaign="c"), _row("b", anonymous_id="v")], source="s"
    )
    a, b = Touchpoint.objects.order_by("id")
    assert crm.touchpoints_channel_update(changes=[(a.pk, "linkedin", "sales")]) == 1
    assert list(
        Touchpoint.objects.order_by("id").values_list("channel", "department", "campaign", "kind")
    ) == [("linkedin", "sales", "c", "page_view"), ("website", "marketing", "", "page_view")]
    with pytest.raises(InvalidInput):
        crm.touchpoints_channel_update(changes=[(b.pk, "x", "nobody")])
    assert crm.touchpoints_channel_update(changes=[]) == 0


# --- the guard: crm is the only writer ------------------------------------------------------

ROOT = Path(__file__).resolve().parents[3]
WRITES = re.compile(
    r"crm_touchpoint\b"
    r"|Touchpoint\._meta\b"
    r"|Touchpoint\.objects\.(create|bulk_create|bulk_update|get_or_create|update_or_create)\b"
    r"|Touchpoint\(\s*[a-z_]+\s*="  # an instance built to be saved
    r"|\.touchpoints\.(create|bulk_create|add)\("
    r"|Touchpoint\.objects\.filter\([^)]*\)\s*\.update\("
)


def test_no_code_outside_crm_writes_touchpoints_or_names_their_table() -> None:
    offenders = []
    for path in sorted((ROOT / "tandem").rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if (
            relative.startswith("tandem/crm/")
            or "/tests/" in relative
            or "/migrations/" in relative
        ):
            continue
        text = path.read_text(encoding="utf-8")
        offenders += [f"{relative}: {m.group(0)}" for m in WRITES.finditer(text)]
    assert offenders == []


def test_the_guard_sees_each_kind_of_write() -> None:
    samples = [
        'cursor.execute("INSERT INTO crm_touchpoint (kind) VALUES (%s)")',
        "table = Touchpoint._meta.db_table",
        "Touchpoint.objects.create(kind='x')",
        "Touchpoint.objects.bulk_create(rows)",
        "Touchpoint(contact_id=1, kind='x')",
        "Touchpoint.objects.filter(contact_id=1).update(account_id=2)",
    ]
    assert [bool(WRITES.search(sample)) for sample in samples] == [True] * len(samples)
    assert not WRITES.search("scoped(user, Touchpoint).filter(kind='x').count()")
