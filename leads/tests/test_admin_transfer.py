"""Import and export of leads in the Django admin: the confirmation step accepts only the caller's
own upload for the same company, and exports are real files of the visible leads, neutralised."""

import csv
import io

import openpyxl
import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from import_export.formats import base_formats

from crm.services import membership_create
from leads.models import ImportJob, Lead
from leads.testing.factories import make_campaign, make_lead
from leads.transfer.admin import NOT_YOUR_UPLOAD

IMPORT_URL = reverse("admin:leads_lead_import")
CONFIRM_URL = reverse("admin:leads_lead_process_import")
EXPORT_URL = reverse("admin:leads_lead_export")


def messages_of(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def format_index(response, title: str) -> str:
    return next(value for value, label in response.context["form"].fields["format"].choices if label == title)


def dry_run(client, company, *, email="ann@example.com"):
    """Upload a one-row CSV for ``company``; returns the confirmation the admin hands back."""
    make_campaign(company, "Admin import")
    page = client.get(IMPORT_URL)
    content = f"Email,First name,Campaign\n{email},Ann,Admin import\n".encode()
    data = {
        "resource": "0",
        "format": format_index(page, "csv"),
        "company": company.pk,
        "on_duplicate": "skip",
        "import_file": SimpleUploadedFile("leads.csv", content, content_type="text/csv"),
    }
    response = client.post(IMPORT_URL, data)
    assert response.status_code == 200
    confirm = response.context["confirm_form"]
    return {name: confirm[name].value() for name in confirm.fields}


def test_an_admin_import_is_confirmed_by_its_uploader(cast, client_for):
    client = client_for(cast.a.manager)
    confirmation = dry_run(client, cast.a.company)
    assert Lead.objects.filter(email="ann@example.com").count() == 0  # the dry run wrote nothing

    response = client.post(CONFIRM_URL, confirmation)

    assert response.status_code == 302
    lead = Lead.objects.get(email="ann@example.com")
    assert (lead.company, lead.first_name, lead.created_by) == (cast.a.company, "Ann", cast.a.manager)
    jobs = ImportJob.objects.filter(company=cast.a.company).order_by("pk")
    assert [(job.options["dry_run"], job.created_count, job.created_by) for job in jobs] == [
        (True, 1, cast.a.manager),
        (False, 1, cast.a.manager),
    ]
    assert messages_of(response) == ["Import finished: 1 new, 0 updated, 0 deleted and 0 skipped leads."]
    client.get(reverse("admin:leads_lead_changelist"))  # shows (and so clears) the message
    # the same confirmation cannot be replayed
    response = client.post(CONFIRM_URL, confirmation)
    assert (response.status_code, messages_of(response)) == (302, [NOT_YOUR_UPLOAD])
    assert Lead.objects.filter(email="ann@example.com").count() == 1


def test_another_users_upload_cannot_be_confirmed(cast, client_for, client):
    confirmation = dry_run(client_for(cast.a.admin), cast.a.company)
    thief = client.__class__()
    thief.force_login(cast.a.manager.user)

    response = thief.post(CONFIRM_URL, confirmation)

    assert (response.status_code, response["Location"]) == (302, IMPORT_URL)
    assert messages_of(response) == [NOT_YOUR_UPLOAD]
    assert not Lead.objects.filter(email="ann@example.com").exists()
    # the uploader still can
    assert client_for(cast.a.admin).post(CONFIRM_URL, confirmation).status_code == 302
    assert Lead.objects.filter(email="ann@example.com", company=cast.a.company).count() == 1


def test_an_upload_cannot_be_confirmed_into_another_company(cast, client_for):
    membership_create(company=cast.b.company, user=cast.a.manager.user, role="manager", manager=cast.b.admin)
    client = client_for(cast.a.manager)
    confirmation = dry_run(client, cast.a.company)

    response = client.post(CONFIRM_URL, {**confirmation, "company": cast.b.company.pk})

    assert messages_of(response) == [NOT_YOUR_UPLOAD]
    assert not Lead.objects.filter(email="ann@example.com").exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"import_file_name": None}, "This import cannot be confirmed: the confirmation is incomplete "
                                     "(import_file_name). Upload the file again."),
        ({"import_file_name": "/etc/passwd"}, NOT_YOUR_UPLOAD),
        ({"import_file_name": "../../etc/passwd"}, NOT_YOUR_UPLOAD),
        ({"import_file_name": "%00garbled\u202e"}, NOT_YOUR_UPLOAD),
        ({"company": "nope"}, "This import cannot be confirmed: the confirmation is incomplete (company). "
                              "Upload the file again."),
    ],
)  # fmt: skip
def test_a_missing_or_garbled_confirmation_is_a_message_not_an_error(cast, client_for, change, message):
    client = client_for(cast.a.manager)
    confirmation = {**dry_run(client, cast.a.company), **change}
    confirmation = {name: value for name, value in confirmation.items() if value is not None}

    response = client.post(CONFIRM_URL, confirmation)

    assert (response.status_code, response["Location"], messages_of(response)) == (302, IMPORT_URL, [message])
    assert not Lead.objects.filter(email="ann@example.com").exists()


def test_the_import_offers_only_companies_where_the_user_imports(cast, client_for):
    response = client_for(cast.a.manager).get(IMPORT_URL)
    assert list(response.context["form"].fields["company"].queryset) == [cast.a.company]


# --- export -------------------------------------------------------------------------------------------


@pytest.fixture
def exportable(cast):
    """A formula-looking lead in the manager's team, and one outside it that must not leak."""
    mine = make_lead(cast.a.company, cast.a.admin, owner=cast.a.sdr1, first_name="=HYPERLINK(1)",
                     last_name="Doe", phone="+44 20 7946 0000", email="mine@example.com")  # fmt: skip
    make_lead(cast.a.company, cast.a.admin, owner=cast.a.sdr2, email="hidden@example.com")
    make_lead(cast.b.company, cast.b.admin, email="bravo@example.com")
    return mine


def export(client, title: str):
    page = client.get(EXPORT_URL)
    assert page.status_code == 200
    form = page.context["form"]
    data = {name: "on" for name, field in form.fields.items() if getattr(field, "is_selectable_field", False)}
    return client.post(EXPORT_URL, {**data, "resource": "0", "format": format_index(page, title)})


def test_the_admin_exports_the_visible_leads_as_csv(cast, client_for, exportable):
    response = export(client_for(cast.a.manager), "csv")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith('attachment; filename="Lead-')
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [row["Email"] for row in rows] == ["mine@example.com"]
    row = rows[0]
    assert (row["ID"], row["First name"], row["Last name"], row["Phone"], row["Owner"], row["Status"]) == (
        str(exportable.pk),
        "'=HYPERLINK(1)",
        "Doe",
        "+44 20 7946 0000",
        "sdr1@alpha.test",
        "New",
    )


def test_the_admin_exports_the_visible_leads_as_xlsx(cast, client_for, exportable):
    response = export(client_for(cast.a.manager), "xlsx")

    assert response.status_code == 200
    assert response["Content-Type"] == base_formats.XLSX().get_content_type()
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    header, *rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert len(rows) == 1
    row = dict(zip(header, rows[0], strict=True))
    assert (row["Email"], row["First name"], row["Phone"], row["Owner"]) == (
        "mine@example.com",
        "'=HYPERLINK(1)",
        "+44 20 7946 0000",
        "sdr1@alpha.test",
    )
    assert all(cell.data_type != "f" for line in sheet.iter_rows() for cell in line)  # no formula cells
