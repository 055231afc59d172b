"""Real exports imported unchanged: HubSpot's contacts export, Salesforce's lead and contact
reports ("Details only", with their footer), and files saved by Excel in a Russian locale
(semicolons; Windows-1251 or UTF-16 with a byte-order mark). Columns that map to no field are
reported, and kept as custom attributes on request — on the page, through the API and in the
service. Fixtures follow each vendor's column layout (tests/fixtures)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from conftest import PASSWORD, World
from tandem.core.audit import Actor
from tandem.core.models import AuditEntry, User
from tandem.core.tokens import token_create
from tandem.crm import services as crm
from tandem.crm.models import Contact, CustomAttribute
from tandem.imports import services
from tandem.imports.models import ImportJob, ImportStatus
from tandem.imports.readers import read_rows, sniff

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def owners(db: None) -> dict[str, User]:
    return {
        "maria": User.objects.create_user(
            username="mowner", email="maria@tandem.example", first_name="Maria", last_name="Owner"
        ),
        "sam": User.objects.create_user(
            username="sseller", email="sam@tandem.example", first_name="Sam", last_name="Seller"
        ),
    }


def _job(world: World, name: str, data: bytes, **kw: Any) -> ImportJob:
    upload = SimpleUploadedFile(name, data)
    return services.import_job_create(
        actor=world.user("marketer"), kind="contacts", upload=upload, **kw
    )


def _run(world: World, job: ImportJob, dry_run: bool = False) -> ImportJob:
    return services.import_run(actor=world.user("marketer"), job=job, dry_run=dry_run)


def test_a_hubspot_contacts_export_imports_with_owners_by_name_and_other_stage(
    world: World, owners: dict[str, User]
) -> None:
    data = (FIXTURES / "hubspot_contacts.csv").read_bytes()
    job = _job(world, "hubspot-crm-exports-all-contacts-2026-12-07.csv", data)
    columns = {c.header: c.target for c in services.import_columns(job)}
    assert columns == {
        "Record ID": "",
        "First Name": "first_name",
        "Last Name": "last_name",
        "Email": "email",
        "Phone Number": "phone",
        "Contact owner": "owner",
        "Lead Status": "",
        "Create Date": "",
        "Lifecycle Stage": "lifecycle_stage",
        "Country/Region": "",
        "Job Title": "title",
        "Associated Company": "account_name",
    }
    job = _run(world, job)
    assert (job.status, job.total_rows, job.created_count, job.error_count) == (
        ImportStatus.DONE,
        4,
        4,
        0,
    ), job.report
    ann = Contact.objects.get(email="ann.lee@acme-robotics.example")
    assert (ann.owner_id, ann.lifecycle_stage, ann.phone) == (
        owners["maria"].pk,
        "lead",
        "+1 617 555 0101",
    )
    assert ann.account is not None
    assert ann.account.name == "Acme Robotics"
    assert Contact.objects.get(email="bo.berg@fjord.example").lifecycle_stage == "mql"
    chen = Contact.objects.get(email="chen.wu@lotus.example")
    assert (chen.lifecycle_stage, chen.owner_id) == ("lead", None)  # "Other": no stage stated
    dana = Contact.objects.get(email="dana@acme-robotics.example")
    assert (dana.owner_id, dana.lifecycle_stage) == (owners["sam"].pk, "opportunity")
    assert dana.account_id == ann.account_id
    assert not CustomAttribute.objects.exists()  # not asked to keep the other columns


def test_other_keeps_an_existing_contacts_stage(world: World, owners: dict[str, User]) -> None:
    chen = crm.contact_create(
        actor=Actor.system(), email="chen.wu@lotus.example", lifecycle_stage="customer"
    )
    job = _run(world, _job(world, "hs.csv", (FIXTURES / "hubspot_contacts.csv").read_bytes()))
    assert job.error_count == 0, job.report
    chen.refresh_from_db()
    assert (chen.lifecycle_stage, chen.first_name) == ("customer", "Chen")


def test_unmapped_columns_are_kept_as_custom_attributes_on_request(
    world: World, owners: dict[str, User]
) -> None:
    data = (FIXTURES / "hubspot_contacts.csv").read_bytes()
    job = _job(world, "hs.csv", data, keep_unmapped=True)
    kept = {c.header: c.custom_key for c in services.import_columns(job) if c.custom_key}
    assert kept == {
        "Record ID": "record_id",
        "Lead Status": "lead_status",
        "Create Date": "create_date",
        "Country/Region": "country_region",
    }
    checked = _run(world, job, dry_run=True)
    assert (checked.created_count, checked.error_count) == (4, 0), checked.report
    assert not CustomAttribute.objects.exists()  # a dry run defines nothing
    job.refresh_from_db()
    job.status = ImportStatus.UPLOADED
    job.save(update_fields=["status"])
    job = _run(world, job)
    assert (job.created_count, job.error_count) == (4, 0), job.report
    attributes = {a.key: (a.label, a.type, a.required) for a in CustomAttribute.objects.all()}
    assert attributes == {
        "record_id": ("Record ID", "text", False),
        "lead_status": ("Lead Status", "text", False),
        "create_date": ("Create Date", "text", False),
        "country_region": ("Country/Region", "text", False),
    }
    assert AuditEntry.objects.filter(action="create", model="crm.CustomAttribute").count() == 4
    ann = Contact.objects.get(email="ann.lee@acme-robotics.example")
    assert ann.custom == {
        "record_id": "51",
        "lead_status": "NEW",
        "create_date": "2026-03-14 09:32",
        "country_region": "United States",
    }
    assert "lead_status" not in Contact.objects.get(email="chen.wu@lotus.example").custom
    # a second file updates the kept values of existing contacts (row by row, audited)
    again = data.replace(b'"NEW"', b'"CONNECTED"')
    job = _run(world, _job(world, "hs2.csv", again, keep_unmapped=True))
    assert (job.created_count, job.updated_count, job.error_count) == (0, 1, 0), job.report
    ann.refresh_from_db()
    assert ann.custom["lead_status"] == "CONNECTED"
    assert CustomAttribute.objects.count() == 4


@pytest.mark.parametrize(
    ("fixture", "owner_header", "account_header"),
    [
        ("salesforce_leads_report.csv", "Lead Owner", "Company / Account"),
        ("salesforce_contacts_report.csv", "Contact Owner", "Account Name"),
    ],
)
def test_a_salesforce_details_only_report_imports_without_its_footer(
    world: World, owners: dict[str, User], fixture: str, owner_header: str, account_header: str
) -> None:
    data = (FIXTURES / fixture).read_bytes()
    rows = list(read_rows(FIXTURES / fixture))
    assert all("Copyright" not in " ".join(cells) for _n, cells in rows)
    job = _job(world, fixture, data, keep_unmapped=True)
    columns = {c.header: c.target for c in services.import_columns(job)}
    assert (columns[owner_header], columns[account_header]) == ("owner", "account_name")
    job = _run(world, job)
    expected_rows = len(rows) - 1
    assert (job.total_rows, job.created_count, job.error_count) == (
        expected_rows,
        expected_rows,
        0,
    ), job.report
    if fixture.startswith("salesforce_leads"):
        farid = Contact.objects.get(email="farid@haddad.example")
        assert farid.owner_id == owners["sam"].pk
        assert farid.account is not None
        assert farid.account.name == "Haddad Trading"
        statuses = dict(
            Contact.objects.filter(custom__has_key="lead_status").values_list(
                "email", "custom__lead_status"
            )
        )
        assert statuses == {
            "eva.klein@klein.example": "Open - Not Contacted",
            "farid@haddad.example": "Closed - Converted",
            "gina@russo.example": "Closed - Not Converted",
        }
        assert Contact.objects.get(email="gina@russo.example").custom["lead_source"] == (
            "Trade Show"
        )
    else:
        ivan = Contact.objects.get(email="ivan@petrov.example")
        assert (ivan.owner_id, ivan.custom["created_date"]) == (owners["maria"].pk, "9/3/2026")


def test_a_full_row_after_the_report_footer_is_an_error(tmp_path: Path) -> None:
    body = (FIXTURES / "salesforce_leads_report.csv").read_text() + '"A","B","C","D","E",\r\n'
    path = tmp_path / "tampered.csv"
    path.write_text(body)
    with pytest.raises(services.InvalidInput, match="follows the report footer"):
        list(read_rows(path))


def test_short_lines_after_a_blank_line_without_a_report_footer_are_an_error(
    tmp_path: Path,
) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text("Email,First Name\r\na@x.example,Ann\r\n\r\nb@x.example\r\n")
    with pytest.raises(services.InvalidInput, match="Line 4 has 1 columns; the header has 2"):
        list(read_rows(path))


def _russian_excel(encoding: str, separator: str) -> bytes:
    text = (FIXTURES / "excel_ru.txt").read_text(encoding="utf-8")
    if separator != ";":
        text = text.replace(";", separator).replace('"Клиент\t VIP"', '"Клиент; VIP"')
    if encoding == "utf-16":
        return text.encode("utf-16")  # with its byte-order mark, as Excel writes it
    return text.encode(encoding)


@pytest.mark.parametrize(
    ("encoding", "separator"),
    [("cp1251", ";"), ("utf-16", ";"), ("utf-16", "\t")],
    ids=["windows-1251-semicolons", "utf-16-semicolons", "utf-16-unicode-text"],
)
def test_files_saved_by_excel_in_a_russian_locale_import_unchanged(
    world: World, owners: dict[str, User], tmp_path: Path, encoding: str, separator: str
) -> None:
    data = _russian_excel(encoding, separator)
    path = tmp_path / "contacts.csv"
    path.write_bytes(data)
    dialect = sniff(path)
    assert (dialect.encoding, dialect.delimiter) == (encoding, separator)
    job = _job(world, "contacts.csv", data, keep_unmapped=True)
    kept = {c.header: c.custom_key for c in services.import_columns(job) if c.custom_key}
    assert kept == {
        "Record ID": "record_id",
        "Country/Region": "country_region",
        "Примечание": "column_8",  # nothing Latin in the header: its position
    }
    job = _run(world, job)
    assert (job.created_count, job.error_count) == (2, 0), job.report
    olga = Contact.objects.get(email="olga@rostok.example")
    assert (olga.first_name, olga.last_name, olga.owner_id) == (
        "Ольга",
        "Смирнова",
        owners["maria"].pk,
    )
    assert olga.custom == {
        "record_id": "71",
        "country_region": "Россия",
        "column_8": "Звонить после обеда",
    }
    petr = Contact.objects.get(email="petr@rostok.example")
    assert (petr.first_name, petr.lifecycle_stage, petr.custom["column_8"]) == (
        "Пётр",
        "customer",
        "Клиент; VIP",
    )


def test_a_latin_1_file_is_still_refused_rather_than_guessed(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("Email;Name\na@x.io;José\n".encode("latin-1"))
    with pytest.raises(services.InvalidInput, match="not UTF-8"):
        list(read_rows(path))


def test_an_owner_name_two_users_share_is_refused_with_the_reason(
    world: World, owners: dict[str, User]
) -> None:
    User.objects.create_user(username="m2", first_name="Maria", last_name="Owner")
    job = _run(world, _job(world, "hs.csv", (FIXTURES / "hubspot_contacts.csv").read_bytes()))
    assert [2, "owner", "Several active Tandem users have this name; use their email."] in [
        list(e) for e in job.report
    ]


def _client(world: World, role: str) -> Client:
    client = Client()
    assert client.login(username=world.user(role).username, password=PASSWORD)
    return client


def test_the_page_offers_keeping_unmapped_columns_and_lists_them(
    world: World, owners: dict[str, User], settings: Any
) -> None:
    client = _client(world, "marketer")
    data = (FIXTURES / "salesforce_leads_report.csv").read_bytes()
    form = client.get("/imports/").content.decode()
    assert 'name="keep_unmapped"' in form
    response = client.post(
        "/imports/",
        {"kind": "contacts", "file": SimpleUploadedFile("leads.csv", data), "keep_unmapped": "on"},
    )
    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert job.keep_unmapped is True
    page = client.get(f"/imports/{job.pk}/").content.decode()
    assert "Kept as custom attributes: Lead Source, Lead Status, Created Date" in page
    # unticked on the mapping form: the columns are reported as not imported
    header = [c.header for c in services.import_columns(job)]
    choices = {f"column_{i}": job.mapping.get(str(i), "") for i in range(len(header))}
    choices = {k: ("" if v.startswith("custom.") else v) for k, v in choices.items()}
    client.post(f"/imports/{job.pk}/mapping/", choices)
    job.refresh_from_db()
    assert job.keep_unmapped is False
    page = client.get(f"/imports/{job.pk}/").content.decode()
    assert "Not imported (no field): Lead Source, Lead Status, Created Date" in page
    # one column chosen as a custom attribute on the form
    client.post(f"/imports/{job.pk}/mapping/", {**choices, "column_8": "custom"})
    job.refresh_from_db()
    assert job.mapping["8"] == "custom.lead_status"
    client.cookies["django_language"] = "ru"
    page = client.get(f"/imports/{job.pk}/", HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    assert "Сохраняются как дополнительные атрибуты: Lead Status" in page


def test_the_api_uploads_with_the_option_maps_and_starts(
    world: World, owners: dict[str, User], run_background: Any
) -> None:
    marketer = world.user("marketer")
    token = token_create(actor=Actor(user=marketer), user=marketer, name="t", scope="write")
    api = Client(headers={"Authorization": f"Bearer {token.secret}"})
    data = (FIXTURES / "hubspot_contacts.csv").read_bytes()
    made = api.post(
        "/api/v1/imports",
        {"kind": "contacts", "file": SimpleUploadedFile("hs.csv", data), "keep_unmapped": "true"},
    )
    assert made.status_code == 201, made.content
    body = made.json()
    assert body["keep_unmapped"] is True
    assert body["custom_columns"] == ["Record ID", "Lead Status", "Create Date", "Country/Region"]
    assert body["unmapped_columns"] == []
    job_id = body["id"]
    changed = api.put(
        f"/api/v1/imports/{job_id}/mapping",
        {"columns": {"Record ID": ""}, "keep_unmapped": True},
        content_type="application/json",
    )
    assert changed.status_code == 200, changed.content
    assert changed.json()["unmapped_columns"] == ["Record ID"]
    bad = api.put(
        f"/api/v1/imports/{job_id}/mapping",
        {"columns": {"Email": "shoe"}},
        content_type="application/json",
    )
    assert bad.status_code == 400
    started = run_background(
        api.post, f"/api/v1/imports/{job_id}/start", {}, content_type="application/json"
    )
    assert started.status_code == 400  # asked again once the first start ran: already done
    done = api.get(f"/api/v1/imports/{job_id}").json()
    assert (done["status"], done["created"], done["errors"]) == ("done", 4, 0)
    ann = Contact.objects.get(email="ann.lee@acme-robotics.example")
    assert ann.custom == {
        "lead_status": "NEW",
        "create_date": "2026-03-14 09:32",
        "country_region": "United States",
    }
    no_boundary = api.post("/api/v1/imports", b"", content_type="multipart/form-data")
    assert no_boundary.status_code == 400  # never a 500 (schemathesis found one)
    rep = world.user("sales_rep")
    rep_token = token_create(actor=Actor(user=rep), user=rep, name="t", scope="write")
    rep_api = Client(headers={"Authorization": f"Bearer {rep_token.secret}"})
    assert rep_api.get(f"/api/v1/imports/{job_id}").status_code == 403


def test_an_accounts_import_cannot_keep_custom_attributes(world: World) -> None:
    upload = SimpleUploadedFile("accounts.csv", b"Company Name,Region\r\nAcme,EMEA\r\n")
    with pytest.raises(services.InvalidInput, match="Only contacts keep custom attributes"):
        services.import_job_create(
            actor=world.user("marketer"), kind="accounts", upload=upload, keep_unmapped=True
        )
    upload.seek(0)
    job = services.import_job_create(actor=world.user("marketer"), kind="accounts", upload=upload)
    assert [c.header for c in services.import_columns(job) if not c.target] == ["Region"]
    with pytest.raises(services.InvalidInput, match="is not one of"):
        services.import_job_set_mapping(
            actor=world.user("marketer"), job=job, override={"Region": "custom"}
        )
    page = _client(world, "marketer").get(f"/imports/{job.pk}/").content.decode()
    assert 'name="keep_unmapped"' not in page
    assert "Not imported (no field): Region" in page
