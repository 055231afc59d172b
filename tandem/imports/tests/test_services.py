"""Import runs on real files: HubSpot CSV, Salesforce XLSX, dedupe, dry run, undo, cancel."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import Workbook

from conftest import World
from tandem.core.access import scoped
from tandem.core.models import AuditEntry
from tandem.crm.models import Account, Contact
from tandem.imports import services
from tandem.imports.models import ImportJob, ImportRow, ImportStatus

HUBSPOT = (
    "\ufeffFirst Name,Last Name,Email,Job Title,Company Name,Website URL,Lifecycle Stage,"
    "Favourite colour\r\n"
    "Ann,Lee,Ann@Acme.io,CTO,Acme,https://www.acme.io/about,marketingqualifiedlead,red\r\n"
    "North,Buyer,buyer@north-sales-rep.example.com,Head of Ops,,,,blue\r\n"
    "Bad,Row,not-an-email,,,,,green\r\n"
    "Cy,,cy@acme.io,,,,evangelistx,\r\n"
)


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = str(tmp_path / "media")


def _job(world: World, kind: str, name: str, data: bytes, **kw: Any) -> ImportJob:
    upload = SimpleUploadedFile(name, data)
    return services.import_job_create(actor=world.user("marketer"), kind=kind, upload=upload, **kw)


def _counts() -> tuple[int, int, int, int]:
    return (
        Contact.objects.count(),
        Account.objects.count(),
        AuditEntry.objects.count(),
        ImportRow.objects.count(),
    )


EXPECTED_REPORT = [
    [4, "email", "'not-an-email' is not a valid email address"],
    [
        5,
        "lifecycle_stage",
        "'evangelistx' is not one of subscriber, lead, mql, sal, sql, opportunity, customer, "
        "recycled, disqualified",
    ],
]


def test_hubspot_csv_creates_updates_and_reports_bad_rows(world: World) -> None:
    job = _job(world, "contacts", "hubspot.csv", HUBSPOT.encode())
    assert job.mapping == {
        "0": "first_name",
        "1": "last_name",
        "2": "email",
        "3": "title",
        "4": "account_name",
        "5": "website",
        "6": "lifecycle_stage",
    }
    existing = world.contacts[("sales_rep", "north")]
    job = services.import_run(actor=world.user("marketer"), job=job)
    assert (job.status, job.total_rows, job.processed_rows) == (ImportStatus.DONE, 4, 4)
    assert (job.created_count, job.updated_count, job.error_count) == (1, 1, 2)
    assert job.report == EXPECTED_REPORT
    ann = Contact.objects.get(email="ann@acme.io")
    assert (ann.first_name, ann.title, ann.lifecycle_stage) == ("Ann", "CTO", "mql")
    assert ann.account is not None
    assert (ann.account.name, ann.account.domains) == ("Acme", ["acme.io"])
    existing.refresh_from_db()
    assert (existing.first_name, existing.title) == ("North", "Head of Ops")
    assert not Contact.objects.filter(email__in=["not-an-email", "cy@acme.io"]).exists()
    assert sorted(ImportRow.objects.values_list("row_number", "model", "action")) == [
        (2, "account", "created"),
        (2, "contact", "created"),
        (3, "contact", "updated"),
    ]


def test_dry_run_reports_the_same_and_stores_nothing(world: World) -> None:
    job = _job(world, "contacts", "hubspot.csv", HUBSPOT.encode())
    before = _counts()
    job = services.import_run(actor=world.user("marketer"), job=job, dry_run=True)
    assert _counts() == before
    assert (job.status, job.dry_run) == (ImportStatus.CHECKED, True)
    assert (job.created_count, job.updated_count, job.error_count) == (1, 1, 2)
    assert job.report == EXPECTED_REPORT
    with pytest.raises(services.InvalidInput):
        services.import_undo(actor=world.user("marketer"), job=job)


def test_undo_deletes_created_and_restores_updated(world: World) -> None:
    existing = world.contacts[("sales_rep", "north")]
    old_title = existing.title
    before = _counts()[:2]
    job = _job(world, "contacts", "hubspot.csv", HUBSPOT.encode())
    job = services.import_run(actor=world.user("marketer"), job=job)
    assert _counts()[:2] == (before[0] + 1, before[1] + 1)
    job = services.import_undo(actor=world.user("marketer"), job=job)
    assert job.status == ImportStatus.UNDONE
    assert _counts()[:2] == before
    existing.refresh_from_db()
    assert existing.title == old_title
    deleted = AuditEntry.objects.filter(action="delete").values_list("model", flat=True)
    assert sorted(deleted) == ["crm.Account", "crm.Contact"]


def test_duplicate_emails_in_one_file_update_the_first(world: World) -> None:
    body = b"email,firstname,jobtitle\nx@dup.io,Xa,\nX@DUP.io,,Boss\n"
    job = _job(world, "contacts", "dup.csv", body)
    job = services.import_run(actor=world.user("marketer"), job=job)
    assert (job.created_count, job.updated_count, job.report) == (1, 1, [])
    contact = Contact.objects.get(email="x@dup.io")
    assert (contact.first_name, contact.title) == ("Xa", "Boss")


def test_salesforce_xlsx_accounts_dedupe_by_domain(world: World, tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Account Name", "Website", "Industry", "Billing City", "AnnualRevenue"])
    sheet.append(["North again", "http://north-sales-rep.example.com", "Medical", "Oslo", 5])
    sheet.append(["Globex", "globex.com", "Software", None, None])
    sheet.append([None, None, "Medical", "Rome", 1])
    path = tmp_path / "sf.xlsx"
    book.save(path)
    job = _job(world, "accounts", "sf.xlsx", path.read_bytes())
    assert job.mapping == {"0": "account_name", "1": "website", "2": "industry", "3": "city"}
    job = services.import_run(actor=world.user("marketer"), job=job)
    assert (job.created_count, job.updated_count) == (1, 1)
    assert job.report == [[4, "account_name", "An account needs a name or a website."]]
    north = world.accounts[("sales_rep", "north")]
    north.refresh_from_db()
    assert (north.name, north.industry, north.region) == (
        "north sales_rep account",
        "medical",
        "Oslo",
    )
    globex = Account.objects.get(domains=["globex.com"])
    assert (globex.name, globex.industry) == ("Globex", "other")
    services.import_undo(actor=world.user("marketer"), job=job)
    north.refresh_from_db()
    assert (north.industry, north.region) == (world.accounts[("sales_rep", "north")].industry, "")
    assert not Account.objects.filter(name="Globex").exists()


def test_undecodable_file_fails_and_stores_nothing(world: World) -> None:
    body = "Email,First Name\na@x.io,Ann\nb@x.io,Jos\xe9\n".encode("latin-1")
    job = _job(world, "contacts", "latin1.csv", body)
    before = _counts()
    job = services.import_run(actor=world.user("marketer"), job=job)
    assert _counts() == before
    assert job.status == ImportStatus.FAILED
    message = "Line 3 is not UTF-8 text (byte 11). Save the file as UTF-8."
    assert job.report == [[0, "file", message]]


def test_cancel_stops_between_chunks(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(services, "CHUNK", 2)
    body = b"Email\n" + b"".join(f"p{i}@c.io\n".encode() for i in range(6))
    job = _job(world, "contacts", "many.csv", body)
    seen: list[int] = []

    def progress(current: ImportJob) -> None:
        seen.append(current.processed_rows)
        services.import_cancel(actor=world.user("marketer"), job=current)

    job = services.import_run(actor=world.user("marketer"), job=job, progress=progress)
    assert (job.status, job.processed_rows, job.total_rows, seen) == (
        ImportStatus.CANCELLED,
        2,
        6,
        [2],
    )
    assert Contact.objects.filter(email__endswith="@c.io").count() == 2


def test_mapping_override_and_reps_see_no_jobs(world: World) -> None:
    job = _job(world, "contacts", "x.csv", b"Mail,Name\na@o.io,Ann\n", mapping={"Mail": "email"})
    assert job.mapping == {"0": "email"}
    assert list(scoped(world.user("sales_rep"), ImportJob)) == []
    assert list(scoped(world.user("marketer", "south"), ImportJob)) == []
    assert list(scoped(world.user("head", "south"), ImportJob)) == [job]
