"""The set-based path keeps every invariant of the row-by-row path (SQLite and PostgreSQL).

The strongest check: the same file imported row by row (then undone) and in bulk leaves the same
records, report, counts, undo rows, audit entries, ContactEmail and ContactPhone rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from conftest import World
from tandem.core.audit import Actor
from tandem.core.models import AuditEntry, User
from tandem.crm import services as crm
from tandem.crm.models import Account, AccountDomain, Contact, ContactEmail, ContactPhone
from tandem.imports import bulk, services
from tandem.imports.models import ImportJob, ImportRow, ImportStatus

CONTACTS = (
    "Email,First Name,Last Name,Job Title,Phone Number,Company Name,Website URL,"
    "Lifecycle Stage,Contact Owner\n"
    # 2: new contact, new account by domain
    "ann@acme.io,Ann,Lee,CTO,+1 555 0100,Acme,https://www.acme.io/x,lead,\n"
    # 3: same domain: the account planned by row 2
    "bo@acme.io,Bo,,,,Acme Inc,acme.io,,\n"
    # 4: an existing contact (by email): title and stage change; the existing account by domain
    "BUYER@north-sales-rep.example.com,,,Head of Ops,,,north-sales-rep.example.com,sql,\n"
    # 5: repeated email (row 2's contact): only differing non-empty fields change
    "ann@acme.io,Ann,Lee-Smith,,,,,,\n"
    # 6: repeated again with the same values: nothing changes
    "ann@acme.io,Ann,Lee-Smith,,,,,,\n"
    # 7: a name only, matching an existing account case-insensitively
    "cy@globex.io,Cy,,,,NORTH SALES_REP ACCOUNT,,,\n"
    # 8: a new name only; 9 reuses it
    "di@initech.io,Di,,,,Initech,,,\n"
    "ed@initech.io,Ed,,,,initech,,,\n"
    # 10-14: rejected rows; 13's new account must not be stored
    "not-an-email,Bad,,,,,,,\n"
    "fi@x.io,Fi,,,,,,evangelistx,\n"
    "gu@x.io,Gu,,,,,http://bad_domain,,\n"
    "ha@hooli.io,Ha,," + "T" * 151 + ",,Hooli,hooli.io,,\n"
    "io@x.io,Io,,,,,,,nobody@nowhere.test\n"
    # 15: a valid owner
    "jo@x.io,Jo,,,,,,,marketer.south@tandem.test\n"
    # 16: no name, no email
    ",,,CEO,,,,,\n"
    # 17: the existing contact again (row 4 updated it): last name added
    "buyer@north-sales-rep.example.com,,Again,,,,,,\n"
)

ACCOUNTS = (
    "Account Name,Website,Industry,Billing City,Account Owner\n"
    "North again,http://north-sales-rep.example.com,Medical,Oslo,\n"
    "Globex,globex.com,Software,,\n"
    "Globex Two,www.globex.com,Electronics,Rome,\n"
    ",,Medical,Rome,\n"
    "Umbrella,,,Paris,marketer.north@tandem.test\n"
    "umbrella,,,Paris,\n"
    "Bad,http://bad_domain,,,\n"
    "Unknown owner,u.io,,,ghost@x.test\n"
)


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = str(tmp_path / "media")


def _job(actor: User, kind: str, body: str) -> ImportJob:
    upload = SimpleUploadedFile(f"{kind}.csv", body.encode())
    return services.import_job_create(actor=actor, kind=kind, upload=upload)


def _row_path(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Force the row-by-row path; returns a list that counts bulk attempts."""
    calls: list[int] = []

    def refuse(*args: Any, **kwargs: Any) -> bulk.Plan:
        calls.append(1)
        raise bulk.NeedsRowPath

    monkeypatch.setattr(bulk, "plan_chunk", refuse)
    return calls


def _bulk_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if a chunk falls back to the row-by-row path."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the chunk fell back to the row-by-row path")

    monkeypatch.setattr(services, "_rows_one_by_one", refuse)


def _key(model: str, pk: Any) -> str:
    if model in ("crm.Contact", "contact"):
        c = Contact.objects.filter(pk=pk).first()
        return f"contact:{c.email or c.first_name or c.title}" if c else f"contact:#{pk}"
    a = Account.objects.filter(pk=pk).first()
    return f"account:{a.name}" if a else f"account:#{pk}"


def _state(job: ImportJob, audit_after: int) -> dict[str, Any]:
    """Everything the import did, with ids replaced by natural keys."""
    contacts = sorted(
        (
            c.email,
            c.first_name,
            c.last_name,
            c.title,
            c.phone,
            c.lifecycle_stage,
            c.account.name if c.account else None,
            c.owner_id,
            c.custom,
            sorted(c.emails.values_list("email", "is_primary")),
            sorted(c.phones.values_list("phone", flat=True)),
        )
        for c in Contact.objects.select_related("account")
    )
    accounts = sorted(
        (
            a.name,
            a.domains,
            a.industry,
            a.region,
            a.owner_id,
            sorted(AccountDomain.objects.filter(account=a).values_list("domain", flat=True)),
        )
        for a in Account.objects.all()
    )
    rows = [
        (r.row_number, r.model, r.action, _key(r.model, r.object_id), r.before)
        for r in job.rows.order_by("row_number", "pk")
    ]
    audit = []
    for e in AuditEntry.objects.filter(pk__gt=audit_after).order_by("pk"):
        changes = {
            k: v for k, v in e.changes.items() if k not in ("id", "created_at", "updated_at")
        }
        if "account" in changes:
            changes["account"] = [
                _key("account", v) if v is not None else None for v in changes["account"]
            ]
        audit.append((e.action, e.model, _key(e.model, e.object_id), e.object_repr, changes))
    audit.sort(key=repr)
    return {
        "counts": (job.status, job.created_count, job.updated_count, job.error_count),
        "report": job.report,
        "contacts": contacts,
        "accounts": accounts,
        "rows": rows,
        "audit": audit,
    }


def _last_audit() -> int:
    last = AuditEntry.objects.order_by("-pk").values_list("pk", flat=True).first()
    return last or 0


def _both_paths(
    world: World, monkeypatch: pytest.MonkeyPatch, kind: str, body: str, actor: User
) -> tuple[dict[str, Any], dict[str, Any]]:
    with monkeypatch.context() as m:
        attempts = _row_path(m)
        mark = _last_audit()
        job = services.import_run(actor=actor, job=_job(actor, kind, body))
        assert attempts == [1]
        by_row = _state(job, mark)
        assert by_row["audit"]
        assert by_row["rows"]
        services.import_undo(actor=actor, job=job)
    _bulk_only(monkeypatch)
    mark = _last_audit()
    job = services.import_run(actor=actor, job=_job(actor, kind, body))
    return by_row, _state(job, mark)


def test_contacts_bulk_equals_row_by_row(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    by_row, by_bulk = _both_paths(world, monkeypatch, "contacts", CONTACTS, world.user("marketer"))
    assert by_bulk == by_row
    assert by_bulk["counts"] == (ImportStatus.DONE, 6, 3, 6)
    assert [e[0] for e in by_bulk["report"]] == [10, 11, 12, 13, 14, 16]
    assert not Account.objects.filter(name="Hooli").exists()
    assert Account.objects.filter(name__in=["Acme", "Initech"]).count() == 2
    ann = Contact.objects.get(email="ann@acme.io")
    assert (ann.last_name, ann.phone, ann.account.name if ann.account else None) == (
        "Lee-Smith",
        "+1 555 0100",
        "Acme",
    )
    assert crm.contact_duplicates_of(email="ANN@acme.io") == [ann.pk]
    assert list(ann.emails.values_list("email", "is_primary")) == [("ann@acme.io", True)]


def test_accounts_bulk_equals_row_by_row(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    by_row, by_bulk = _both_paths(world, monkeypatch, "accounts", ACCOUNTS, world.user("marketer"))
    assert by_bulk == by_row
    assert by_bulk["counts"] == (ImportStatus.DONE, 2, 2, 3)


def test_audit_entries_match_contact_create(world: World) -> None:
    actor = world.user("marketer")
    job = services.import_run(
        actor=actor, job=_job(actor, "contacts", "Email,First Name,Phone\nx@y.io,Xa,+1 2\n")
    )
    imported = Contact.objects.get(email="x@y.io")
    single = crm.contact_create(
        actor=Actor(user=actor), email="z@y.io", first_name="Xa", phone="+1 2"
    )
    entries = {
        e.object_id: e for e in AuditEntry.objects.filter(model="crm.Contact", action="create")
    }
    a, b = entries[str(imported.pk)].changes, entries[str(single.pk)].changes
    assert set(a) == set(b)
    assert a["email"] == [None, "x@y.io"]
    assert a["id"] == [None, imported.pk]
    assert {k: v for k, v in a.items() if k not in ("id", "email", "created_at", "updated_at")} == {
        k: v for k, v in b.items() if k not in ("id", "email", "created_at", "updated_at")
    }
    assert entries[str(imported.pk)].actor == actor
    assert ContactPhone.objects.filter(contact=imported, phone="+1 2").count() == 1
    assert job.rows.get().action == "created"


def test_repeats_across_chunks_update_what_an_earlier_chunk_created(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    _bulk_only(monkeypatch)
    monkeypatch.setattr(services, "CHUNK", 2)
    body = (
        "Email,First Name,Job Title,Website URL\n"
        "a@k.io,A,,k.io\nb@k.io,B,,k.io\na@k.io,,Boss,k.io\nc@k.io,C,,www.k.io\n"
    )
    actor = world.user("marketer")
    job = services.import_run(actor=actor, job=_job(actor, "contacts", body))
    assert (job.created_count, job.updated_count, job.report) == (3, 1, [])
    assert Account.objects.filter(domains=["k.io"]).count() == 1
    assert Contact.objects.get(email="a@k.io").title == "Boss"
    assert set(
        Contact.objects.filter(email__endswith="@k.io").values_list("account__name", flat=True)
    ) == {"k.io"}


def test_dry_run_in_bulk_stores_nothing(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    _bulk_only(monkeypatch)
    actor = world.user("marketer")
    before = (
        Contact.objects.count(),
        Account.objects.count(),
        AuditEntry.objects.count(),
        ContactEmail.objects.count(),
        ImportRow.objects.count(),
    )
    job = services.import_run(actor=actor, job=_job(actor, "contacts", CONTACTS), dry_run=True)
    assert (job.status, job.created_count, job.updated_count, job.error_count) == (
        ImportStatus.CHECKED,
        6,
        3,
        6,
    )
    assert before == (
        Contact.objects.count(),
        Account.objects.count(),
        AuditEntry.objects.count(),
        ContactEmail.objects.count(),
        ImportRow.objects.count(),
    )


def test_scoping_a_rep_may_not_change_another_teams_contact(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    _bulk_only(monkeypatch)
    rep = world.user("sales_rep")
    south = world.contacts[("sales_rep", "south")]
    body = f"Email,Job Title\n{south.email},Spy\nnew@rep.io,Rep\n"
    job = services.import_run(actor=rep, job=_job(rep, "contacts", body))
    assert (job.created_count, job.updated_count) == (1, 0)
    assert job.report == [[2, "email", "A contact with this email exists; you may not change it."]]
    south.refresh_from_db()
    assert south.title != "Spy"


def test_restricted_scope_with_repeats_runs_the_chunk_row_by_row(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    fallbacks: list[int] = []
    original = services._rows_one_by_one

    def counted(*args: Any) -> None:
        fallbacks.append(1)
        original(*args)

    monkeypatch.setattr(services, "_rows_one_by_one", counted)
    rep = world.user("sales_rep")
    body = "Email,First Name,Job Title\nr@rep.io,R,\nr@rep.io,,Boss\n"
    job = services.import_run(actor=rep, job=_job(rep, "contacts", body))
    assert fallbacks == [1]
    # the rep may not change a contact nobody owns, even one the same file created
    assert (job.created_count, job.updated_count) == (1, 0)
    assert job.report == [[3, "email", "A contact with this email exists; you may not change it."]]


def test_cancel_between_bulk_chunks_and_undo(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    _bulk_only(monkeypatch)
    monkeypatch.setattr(services, "CHUNK", 3)
    actor = world.user("marketer")
    body = "Email,Website\n" + "".join(f"p{i}@c.io,c{i % 2}.io\n" for i in range(9))
    job = _job(actor, "contacts", body)

    def progress(current: ImportJob) -> None:
        if current.processed_rows >= 6:
            services.import_cancel(actor=actor, job=current)

    job = services.import_run(actor=actor, job=job, progress=progress)
    assert (job.status, job.processed_rows, job.created_count) == (ImportStatus.CANCELLED, 6, 6)
    assert Contact.objects.filter(email__endswith="@c.io").count() == 6
    assert Account.objects.filter(name__in=["c0.io", "c1.io"]).count() == 2
    assert ImportRow.objects.filter(job=job).count() == 8
    services.import_undo(actor=actor, job=job)
    assert not Contact.objects.filter(email__endswith="@c.io").exists()
    assert not Account.objects.filter(name__in=["c0.io", "c1.io"]).exists()
    assert not ContactEmail.objects.filter(email__endswith="@c.io").exists()


@pytest.mark.skipif(
    "postgresql" not in __import__("django.conf").conf.settings.DATABASES["default"]["ENGINE"],
    reason="SQLite does not enforce column lengths",
)
def test_a_row_the_database_refuses_keeps_the_good_rows(world: World) -> None:
    actor = world.user("marketer")
    long_email = "a" * 64 + "@" + "b" * 190 + ".io"  # a valid address, longer than the column
    body = f"Email,First Name\nok1@d.io,A\n{long_email},B\nok2@d.io,C\n"
    job = services.import_run(actor=actor, job=_job(actor, "contacts", body))
    assert connection.vendor == "postgresql"
    assert (job.created_count, job.report) == (
        2,
        [[3, "__all__", "The database refused this row."]],
    )
    assert Contact.objects.filter(email__in=["ok1@d.io", "ok2@d.io"]).count() == 2


@pytest.mark.parametrize(
    "data",
    [
        {"first_name": "A" * 101, "email": "bad"},
        {"first_name": "A" * 101, "lifecycle_stage": "nope"},
        {"title": "x", "email": "bad", "phone": "1" * 41},
        {"title": "x"},
        {"email": "ok@x.io", "consent": "maybe"},
        {"email": " OK@X.io ", "first_name": "  Ann "},
    ],
)
def test_contact_check_says_what_contact_create_says(world: World, data: dict[str, Any]) -> None:
    try:
        expected: Any = crm._clean_contact(data, None)
    except crm.InvalidInput as exc:
        expected = exc.errors
    try:
        got: Any = crm.contact_check(
            data, creating=True, custom=crm.custom_defaults("contact"), active_user_ids=set()
        )
    except crm.InvalidInput as exc:
        got = exc.errors
    assert got == expected


_ON_POSTGRES = (
    "postgresql" in __import__("django.conf").conf.settings.DATABASES["default"]["ENGINE"]
)


@pytest.mark.skipif(not _ON_POSTGRES, reason="the writer thread runs on PostgreSQL only")
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("dry_run", [False, True])
def test_pipelined_chunks_see_what_earlier_chunks_stored(
    monkeypatch: pytest.MonkeyPatch, dry_run: bool
) -> None:
    """Outside a transaction on PostgreSQL, chunk N is written by a second thread while N+1 is
    planned; chunks sharing an email/domain or a record wait, so the result is the same."""
    from tandem.core.models import Role

    admin = User.objects.create_user(username="boss", password="x", role=Role.ADMIN)
    two = crm.contact_create(
        actor=Actor.system(), first_name="Two", email="x1@z.io", emails=["x2@z.io"]
    )
    used: list[int] = []
    pipelined = services._Run.pipelined

    def counted(self: services._Run, chunks: Any) -> bool:
        used.append(1)
        return pipelined(self, chunks)

    monkeypatch.setattr(services._Run, "pipelined", counted)
    monkeypatch.setattr(services, "CHUNK", 3)
    body = (
        "Email,First Name,Last Name,Job Title,Website URL\n"
        "a@p.io,A,,,p.io\nb@p.io,B,,,p.io\nx1@z.io,,,Chief,\n"  # chunk 1
        "a@p.io,,,Boss,p.io\nc@r.io,C,,,r.io\nx2@z.io,,Second,,\n"  # 2: shares a@p.io and `two`
        "d@r.io,D,,,www.r.io\ne@s.io,E,,,s.io\nbad,,,,\n"  # 3: shares r.io
    )
    before = (Contact.objects.count(), Account.objects.count(), AuditEntry.objects.count())
    job = services.import_run(actor=admin, job=_job(admin, "contacts", body), dry_run=dry_run)
    assert used == [1]
    assert job.report == [[10, "email", "'bad' is not a valid email address"]]
    if dry_run:  # each chunk is checked against the database alone, as in turn
        assert (job.status, job.created_count, job.updated_count) == (ImportStatus.CHECKED, 6, 2)
        assert before == (
            Contact.objects.count(),
            Account.objects.count(),
            AuditEntry.objects.count(),
        )
        return
    assert (job.status, job.created_count, job.updated_count) == (ImportStatus.DONE, 5, 3)
    assert Contact.objects.get(email="a@p.io").title == "Boss"
    assert Account.objects.filter(name__in=["p.io", "r.io", "s.io"]).count() == 3
    two.refresh_from_db()
    assert (two.title, two.last_name, two.email) == ("Chief", "Second", "x2@z.io")
    assert list(two.emails.filter(is_primary=True).values_list("email", flat=True)) == ["x2@z.io"]
    assert ImportRow.objects.filter(job=job).count() == 5 + 3 + 3
    assert AuditEntry.objects.count() == before[2] + 5 + 3 + 3
    services.import_undo(actor=admin, job=job)
    two.refresh_from_db()
    assert (two.title, two.last_name, two.email) == ("", "", "x1@z.io")
    assert Contact.objects.count() == before[0]


def test_look_up_by_many_keys_one_of_them_with_a_line_break(world: World) -> None:
    actor = Actor(user=world.user("marketer"))
    a = crm.contact_create(actor=actor, email="a@look.io", first_name="A")
    b = crm.contact_create(actor=actor, email="b@look.io", first_name="B")
    keys = {"a@look.io", "b@look.io", "nobody@look.io"}
    found = bulk._pairs(ContactEmail, "email", "contact_id", keys)
    assert found == [("a@look.io", a.pk), ("b@look.io", b.pk)]
    # a key with a line break (a CSV cell may hold one) is a key, not two
    found = bulk._pairs(ContactEmail, "email", "contact_id", {"a@look.io\nb@look.io", "b@look.io"})
    assert found == [("b@look.io", b.pk)]


def test_the_cyclic_gc_is_off_during_a_run_and_back_on_after(world: World) -> None:
    import gc

    actor = world.user("marketer")
    seen: list[bool] = []
    body = "Email,First Name\nx@gc.io,X\n"
    services.import_run(
        actor=actor,
        job=_job(actor, "contacts", body),
        progress=lambda job: seen.append(gc.isenabled()),
    )
    assert seen == [False]
    assert gc.isenabled()
    gc.disable()
    try:
        services.import_run(actor=actor, job=_job(actor, "contacts", body))
        assert not gc.isenabled()  # a run that found it off leaves it off
    finally:
        gc.enable()


@pytest.mark.skipif(not _ON_POSTGRES, reason="the writer threads run on PostgreSQL only")
@pytest.mark.django_db(transaction=True)
def test_pipelined_cancel_keeps_the_chunks_being_written(monkeypatch: pytest.MonkeyPatch) -> None:
    """With two writers, a cancel read after chunk 1 lets chunk 2 (already being written) finish
    and be counted; chunk 3 is not written; undo removes both."""
    from tandem.core.models import Role

    admin = User.objects.create_user(username="boss", password="x", role=Role.ADMIN)
    monkeypatch.setattr(services, "CHUNK", 2)
    monkeypatch.setattr(services, "WRITERS", 2)
    body = "Email,Website\n" + "".join(f"q{i}@w{i}.io,w{i}.io\n" for i in range(8))
    job = _job(admin, "contacts", body)

    def progress(current: ImportJob) -> None:
        services.import_cancel(actor=admin, job=current)

    job = services.import_run(actor=admin, job=job, progress=progress)
    assert (job.status, job.processed_rows, job.created_count) == (ImportStatus.CANCELLED, 4, 4)
    assert Contact.objects.filter(email__endswith=".io").count() == 4
    assert ImportRow.objects.filter(job=job).count() == 8
    services.import_undo(actor=admin, job=job)
    assert not Contact.objects.exists()
    assert not Account.objects.exists()
