"""Exports: what the same filter shows and nothing the member cannot see, templates, formula
neutralisation with an export → import round trip, XLSX and JSON, scheduled exports and every door."""

import csv
import datetime as dt
import io
import json

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.http import QueryDict
from django.utils import timezone
from django_q.models import Schedule, Task
from openpyxl import load_workbook

from crm.models import Activity
from leads.listing import saved_filter_create
from leads.models import ExportRun, ExportRunStatus, Lead, SavedFilter, ScheduledExport
from leads.testing.factories import make_campaign, make_custom_field, make_export_template, make_lead
from leads.transfer.cells import READ_CACHE_KIB, RowReader, default_columns, neutralise, text_cell
from leads.transfer.exports import (
    export_queryset,
    export_run_start,
    export_template_create,
    stream_export,
    template_for,
)
from leads.transfer.jobs import import_job_create, import_job_start
from leads.transfer.mapping import ImportOptions
from leads.transfer.schedules import scheduled_export_delete, scheduled_export_run, scheduled_export_save


def csv_rows(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


def export_bytes(membership, query: str = "", *, file_format="csv", template=None, ids=None) -> bytes:
    run, queryset, columns = export_run_start(
        membership=membership,
        params=QueryDict(query),
        file_format=file_format,
        template=template,
        ids=ids,
        streamed=True,
    )
    return b"".join(stream_export(run, queryset, columns))


def download(client, company, query: str):
    response = client.get(f"/c/{company.slug}/leads/export/?{query}")
    return response, b"".join(response.streaming_content) if response.streaming else response.content


@pytest.fixture
def leads(cast):
    a = cast.a
    return {
        "pool": make_lead(a.company, email="pool@example.com", first_name="Pool", country="GB"),
        "sdr1": make_lead(a.company, a.manager, email="one@example.com", first_name="One", owner=a.sdr1, country="DE"),
        "sdr2": make_lead(a.company, a.admin, email="two@example.com", first_name="Two", owner=a.sdr2, country="GB"),
        "other": make_lead(cast.b.company, email="bravo@example.com", first_name="Bravo"),
    }


# --- which leads -----------------------------------------------------------------------------------------


def test_an_sdrs_export_holds_only_what_they_see(cast, leads):
    rows = csv_rows(export_bytes_as(cast.a.sdr1))
    assert sorted(row[3] for row in rows[1:]) == ["one@example.com", "pool@example.com"]
    assert Lead.objects.count() == 4  # leads they cannot see exist


def export_bytes_as(member):
    """Members without the export permission (SDRs) still only ever get their visible leads."""
    run = ExportRun.objects.create(company=member.company, created_by=member, format="csv")
    queryset = export_queryset(member, QueryDict(""))
    return b"".join(stream_export(run, queryset, default_columns(member.company)))


def test_the_export_holds_exactly_what_the_same_filter_shows(cast, leads, client_for):
    client = client_for(cast.a.manager)
    query = "country=GB&sort=-created"
    listed = client.get(f"/c/{cast.a.company.slug}/leads/?{query}").context["page"].rows
    _, content = download(client, cast.a.company, f"{query}&format=csv")
    assert [row[0] for row in csv_rows(content)[1:]] == [str(lead.pk) for lead in listed]
    assert [lead.email for lead in listed] == ["pool@example.com"]  # sdr2's GB lead is outside the manager's team


def test_a_selection_exports_only_the_chosen_visible_leads(cast, leads):
    chosen = f"{leads['pool'].pk},{leads['sdr1'].pk},{leads['other'].pk}"
    rows = csv_rows(export_bytes(cast.a.manager, ids=chosen))
    assert sorted(row[3] for row in rows[1:]) == ["one@example.com", "pool@example.com"]


def test_an_invalid_filter_is_refused_not_widened(cast, leads, client_for):
    client = client_for(cast.a.manager)
    response, _ = download(client, cast.a.company, "score_min=abc&format=csv")
    assert response.status_code == 302
    with pytest.raises(ValidationError) as caught:
        export_bytes(cast.a.manager, "score_min=abc")
    assert caught.value.message_dict == {"score_min": ["Enter a number."]}
    with pytest.raises(ValidationError) as caught:
        export_bytes(cast.a.manager, file_format="pdf")
    assert caught.value.message_dict == {"format": ["Choose one of csv, xlsx, json."]}


def test_the_default_columns_and_values(cast, leads):
    make_custom_field(cast.a.company, "industry")
    lead = make_lead(cast.a.company, cast.a.manager, email="full@example.com", first_name="Full", last_name="Row",
                     phone="+44 20 7946 0000", owner=cast.a.sdr1, gdpr_consent=True,
                     custom_fields={"industry": "Retail"})  # fmt: skip
    rows = csv_rows(export_bytes(cast.a.manager, "q=full"))
    assert rows[0] == [
        "ID", "First name", "Last name", "Email", "Phone", "Country", "Job title", "Company", "Profile URL",
        "Lead source", "Campaign", "Medium", "Term", "Owner", "Status", "Stage", "Score", "Priority",
        "Interest product", "Budget range", "Authority level", "Need", "Timeline", "GDPR consent", "Do not disturb",
        "Opt-in date", "Created", "Updated", "Industry",
    ]  # fmt: skip
    created = lead.created_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
    assert rows[1][:18] == [
        str(lead.pk), "Full", "Row", "full@example.com", "+44 20 7946 0000", "GB", "", "", "", "Website",
        "Test campaign", "", "", "Alpha SDR One", "New", "Awareness", str(lead.score), lead.get_priority_display(),
    ]  # fmt: skip
    assert (rows[1][23], rows[1][24], rows[1][26], rows[1][28]) == ("yes", "no", created, "Retail")


def test_a_template_chooses_orders_and_labels_columns_with_custom_fields_and_profile_attributes(cast, leads):
    make_custom_field(cast.a.company, "industry")
    make_lead(cast.a.company, email="t@example.com", custom_fields={"industry": "Banking"},
              profile_data={"headline": "CTO at Acme", "skills": ["SaaS"]})  # fmt: skip
    template = export_template_create(actor=cast.a.manager, data={"name": "Short", "columns": [
        {"field": "email", "label": "E-mail address"}, {"field": "custom:industry", "label": ""},
        {"field": "profile:headline", "label": "Headline"}, {"field": "profile:skills", "label": "Skills"},
        {"field": "status", "label": "Stage of work"},
    ]})  # fmt: skip
    rows = csv_rows(export_bytes(cast.a.manager, "q=t", template=template))
    assert rows == [
        ["E-mail address", "Industry", "Headline", "Skills", "Stage of work"],
        ["t@example.com", "Banking", "CTO at Acme", '["SaaS"]', "New"],
    ]


def test_template_columns_are_validated(cast):
    with pytest.raises(ValidationError) as caught:
        export_template_create(actor=cast.a.manager, data={"name": "", "columns": [
            {"field": "password", "label": "x"}, {"field": "email", "label": "A"}, {"field": "phone", "label": "a"},
        ]})  # fmt: skip
    assert caught.value.message_dict == {
        "name": ["Give the template a name."],
        "columns": ["Column 1: “password” is not a lead field.", "Column 3: the label “a” is used twice."],
    }


# --- formulas and round trip -----------------------------------------------------------------------------


def test_formula_cells_are_neutralised_in_csv_and_xlsx(cast, client_for):
    make_lead(cast.a.company, email="f@example.com", first_name="=HYPERLINK(\"http://evil\")", last_name="@SUM(1)",
              company_name="-2+3", phone="+44 20 7946 0000")  # fmt: skip
    rows = csv_rows(export_bytes(cast.a.manager, "q=f"))
    assert rows[1][1:5] == ['\'=HYPERLINK("http://evil")', "'@SUM(1)", "f@example.com", "+44 20 7946 0000"]
    assert rows[1][7] == "'-2+3"
    assert [neutralise(v) for v in ("\tx", "\rx", "'x", "x=1", "")] == ["'\tx", "'\rx", "''x", "x=1", ""]
    _, content = download(client_for(cast.a.manager), cast.a.company, "q=f&format=xlsx")
    sheet = load_workbook(io.BytesIO(content)).active
    row = list(next(sheet.iter_rows(min_row=2, max_row=2)))
    assert [row[1].value, row[4].value, row[7].value] == ['\'=HYPERLINK("http://evil")', "+44 20 7946 0000", "'-2+3"]
    assert {row[1].data_type, row[4].data_type} == {"s"}  # text, never a formula


def test_the_database_formats_every_csv_cell_as_text_cell_would(cast):
    """The CSV cells come formatted from SQL (``_csv_expression``); every kind of value, joined
    names and custom fields included, is written exactly as ``text_cell`` writes it in Python."""
    campaign = make_campaign(cast.a.company, "=Campaign")
    make_custom_field(cast.a.company, "note", "text")
    lead = make_lead(cast.a.company, cast.a.admin, campaign=campaign, email="cells@example.com",
                     last_name='Quote "me", twice\nplease', job_title="'Apostrophe", gdpr_consent=True,
                     custom_fields={"note": "@risk"})  # fmt: skip
    # Leading tabs and carriage returns do not survive the services' trimming; other doors may differ.
    Lead.objects.filter(pk=lead.pk).update(first_name="\tTab", company_name="\rCarriage",
                                           opt_in_date=dt.datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=dt.UTC))  # fmt: skip
    keys = ["id", "first_name", "last_name", "job_title", "company_name", "campaign", "owner", "gdpr_consent", "dnd",
            "opt_in_date", "score", "custom:note", "profile:headline"]  # fmt: skip
    template = make_export_template(cast.a.company, "Cells", [{"field": key, "label": key} for key in keys])
    rows = csv_rows(export_bytes(cast.a.admin, "q=cells", template=template))
    lead.refresh_from_db()
    values = [lead.pk, lead.first_name, lead.last_name, lead.job_title, lead.company_name, campaign.name, None,
              True, False, lead.opt_in_date, lead.score, "@risk", None]  # fmt: skip
    assert rows[1] == [text_cell(value) for value in values]
    assert rows[1][1:6] == ["'\tTab", 'Quote "me", twice\nplease', "''Apostrophe", "'\rCarriage", "'=Campaign"]
    assert rows[1][7:12] == ["yes", "no", "2026-03-04 05:06:07", str(lead.score), "'@risk"]


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_a_real_plus_number_survives_an_export_import_round_trip(cast, file_format, client_for):
    original = make_lead(cast.a.company, email="rt@example.com", first_name="'quoted", last_name="-dash",
                         phone="+44 20 7946 0000")  # fmt: skip
    _, content = download(client_for(cast.a.admin), cast.a.company, f"format={file_format}")
    original.delete()
    job = import_job_create(
        company=cast.a.company, actor=cast.a.admin, upload=SimpleUploadedFile(f"back.{file_format}", content),
        options=ImportOptions(campaign_id=make_campaign(cast.a.company).pk),
    )  # fmt: skip
    job = import_job_start(job=job, actor=cast.a.admin)
    back = Lead.objects.get(email="rt@example.com")
    assert (job.status, back.phone, back.phone_key, back.first_name, back.last_name) == (
        "succeeded", "+44 20 7946 0000", "+442079460000", "'quoted", "-dash",
    )  # fmt: skip


# --- formats and doors -------------------------------------------------------------------------------------


def test_xlsx_has_typed_cells_and_json_keeps_types(cast, leads, client_for):
    client = client_for(cast.a.admin)
    _, content = download(client, cast.a.company, "q=pool&format=xlsx")
    sheet = load_workbook(io.BytesIO(content)).active
    header, row = list(sheet.iter_rows(values_only=True))
    assert (header[0], row[0], row[16], type(row[26])) == ("ID", leads["pool"].pk, leads["pool"].score, dt.datetime)
    _, content = download(client, cast.a.company, "q=pool&format=json")
    data = json.loads(content)
    assert (len(data), data[0]["ID"], data[0]["Email"], data[0]["GDPR consent"], data[0]["Owner"]) == (
        1, leads["pool"].pk, "pool@example.com", False, None,
    )  # fmt: skip


def test_every_export_is_recorded_in_the_activity_log(cast, leads, client_for):
    _, content = download(client_for(cast.a.manager), cast.a.company, "format=csv")
    run = ExportRun.objects.get()
    entry = Activity.objects.get(event="leads.leads.exported")
    assert (run.status, run.row_count, run.created_by) == (ExportRunStatus.STREAMED, 2, cast.a.manager)
    assert (entry.subject, entry.owner, entry.data["format"], entry.object_id) == (
        "Export: 2 leads as CSV", cast.a.manager, "csv", run.pk,
    )  # fmt: skip


def test_sdrs_may_not_export(cast, client_for):
    assert client_for(cast.a.sdr1).get(f"/c/{cast.a.company.slug}/leads/export/?format=csv").status_code == 403


def test_the_api_writes_the_export_in_the_background_and_serves_the_file(cast, leads, client_for):
    client = client_for(cast.a.manager)
    url = f"/api/companies/{cast.a.company.pk}/exports"
    response = client.post(url, {"format": "csv", "filter": "country=DE"}, content_type="application/json")
    body = response.json()
    assert (response.status_code, body["status"], body["row_count"]) == (202, "succeeded", 1)
    file = client.get(body["download"])
    assert [row[3] for row in csv_rows(b"".join(file.streaming_content))[1:]] == ["one@example.com"]
    assert Task.objects.get(name=f"export-{body['id']}").success is True
    other = client_for(cast.b.admin).get(f"/api/companies/{cast.a.company.pk}/exports/{body['id']}")
    assert other.status_code == 404


def test_the_command_exports_a_filter_with_a_template(cast, leads, tmp_path):
    make_export_template(cast.a.company, "Emails", [{"field": "email", "label": "Email"}])
    out = io.StringIO()
    target = tmp_path / "out.csv"
    call_command("export_leads", "--company", "alpha", "--format", "csv", "--filter", "country=GB&sort=-created",
                 "--template", "emails", "-o", str(target), stdout=out)  # fmt: skip
    assert csv_rows(target.read_bytes()) == [["Email"], ["two@example.com"], ["pool@example.com"]]
    assert out.getvalue() == f"exported 2 leads of Alpha as csv to {target}\n"
    with pytest.raises(CommandError, match="template: No export template “nope” in this company."):
        call_command("export_leads", "--company", "alpha", "--template", "nope", "-o", str(target))
    with pytest.raises(CommandError, match="score_min: Enter a number."):
        call_command("export_leads", "--company", "alpha", "--filter", "score_min=x", "-o", str(target))
    with pytest.raises(CommandError, match="No company with slug 'zz'."):
        call_command("export_leads", "--company", "zz", "-o", str(target))


def test_the_command_writes_xlsx(cast, leads, tmp_path):
    target = tmp_path / "out.xlsx"
    call_command("export_leads", "--company", "alpha", "--format", "xlsx", "-o", str(target), stdout=io.StringIO())
    assert load_workbook(target).active.max_row == 4


# --- scheduled exports ---------------------------------------------------------------------------------


def schedule(cast, **data):
    view = SavedFilter.objects.filter(owner=cast.a.manager, name="Germany").first() or saved_filter_create(
        actor=cast.a.manager, name="Germany", params=QueryDict("country=DE"), sort="-created", visibility="private"
    )
    defaults = {"name": "Weekly DE", "saved_filter": view.pk, "format": "csv", "frequency": "weekly",
                "time_of_day": "07:30", "weekday": 2, "recipients": "boss@example.com, ops@example.com"}  # fmt: skip
    return scheduled_export_save(actor=cast.a.manager, data={**defaults, **data})


def test_a_scheduled_export_gets_a_django_q2_schedule_row(cast):
    saved = schedule(cast)
    row = Schedule.objects.get(pk=saved.schedule_id)
    assert (row.func, row.args, row.schedule_type, row.intended_date_kwarg) == (
        "leads.transfer.tasks.run_scheduled_export", repr(saved.pk), Schedule.WEEKLY, "due_at",
    )  # fmt: skip
    assert (row.next_run.weekday(), row.next_run.hour, row.next_run.minute) == (2, 7, 30)
    daily = scheduled_export_save(actor=cast.a.manager, schedule=saved, data={"frequency": "daily"})
    assert Schedule.objects.get(pk=daily.schedule_id).schedule_type == Schedule.DAILY
    scheduled_export_delete(actor=cast.a.manager, schedule=daily)
    export_schedules = Schedule.objects.filter(func="leads.transfer.tasks.run_scheduled_export")
    assert (export_schedules.count(), ScheduledExport.objects.count()) == (0, 0)


def test_cron_schedules_are_validated(cast):
    with pytest.raises(ValidationError) as caught:
        schedule(cast, frequency="cron", cron="every day")
    assert caught.value.message_dict["cron"] == [
        "Give five fields: minute hour day-of-month month day-of-week (e.g. “0 7 * * 1-5”)."
    ]
    for wrong in ("61 7 * * *", "0 7 * * mon-xyz", "0 25 * * *"):
        with pytest.raises(ValidationError) as caught:
            schedule(cast, frequency="cron", cron=wrong)
        assert caught.value.message_dict["cron"] == [f"“{wrong}” is not a valid cron expression."]
    saved = schedule(cast, frequency="cron", cron="0 7 * * 1-5")
    row = Schedule.objects.get(pk=saved.schedule_id)
    assert (row.schedule_type, row.cron) == (Schedule.CRON, "0 7 * * 1-5")
    # django-q2 runs it at the next weekday 07:00 (UTC) after now.
    assert (row.next_run.weekday() < 5, row.next_run.hour, row.next_run.minute) == (True, 7, 0)
    assert row.next_run > timezone.now()


def test_a_scheduled_run_stores_its_file_mails_a_link_once_per_slot(cast, leads, client_for):
    saved = schedule(cast)
    slot = "2026-11-25T07:30:00+00:00"
    from leads.transfer.tasks import run_scheduled_export

    assert run_scheduled_export(saved.pk, due_at=slot) == "succeeded"
    assert run_scheduled_export(saved.pk, due_at=slot) == "succeeded"  # a retry: no second run, no second mail
    run = ExportRun.objects.get()
    assert (run.row_count, run.scheduled_export, run.created_by) == (1, saved, cast.a.manager)
    assert [(m.subject, m.to) for m in mail.outbox] == [
        ("Export ready: Weekly DE", ["boss@example.com", "ops@example.com"])
    ]
    assert f"/c/alpha/leads/exports/{run.pk}/download/" in mail.outbox[0].body
    response = client_for(cast.a.manager).get(f"/c/alpha/leads/exports/{run.pk}/download/")
    assert [row[3] for row in csv_rows(b"".join(response.streaming_content))[1:]] == ["one@example.com"]
    assert client_for(cast.a.sdr2).get(f"/c/alpha/leads/exports/{run.pk}/download/").status_code == 403


def test_a_run_made_with_a_managers_visibility_is_not_downloadable_by_another_team(cast, leads, client_for):
    saved = schedule(cast)
    run = scheduled_export_run(schedule_id=saved.pk, due_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    outsider = client_for(cast.b.admin).get(f"/c/alpha/leads/exports/{run.pk}/download/")
    assert outsider.status_code == 404


def test_a_failed_scheduled_run_is_visible_on_the_exports_page(cast, leads, client_for):
    saved = schedule(cast)
    view = saved.saved_filter
    view.query = {"score_min": ["abc"]}
    view.save()
    run = scheduled_export_run(schedule_id=saved.pk, due_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    assert (run.status, run.error) == (ExportRunStatus.FAILED, "Enter a number.")
    page = client_for(cast.a.manager).get("/c/alpha/leads/exports/")
    assert b'data-testid="run-error">Failed: Enter a number.' in page.content
    assert mail.outbox[0].subject == "Export failed: Weekly DE"


def test_run_now_queues_an_extra_run(cast, leads, client_for):
    saved = schedule(cast)
    response = client_for(cast.a.manager).post(f"/c/alpha/leads/exports/schedules/{saved.pk}/run/")
    run = ExportRun.objects.get()
    assert (response.status_code, run.status, run.row_count) == (302, ExportRunStatus.SUCCEEDED, 1)


def test_the_exports_page_lists_schedules_templates_and_runs(cast, leads, client_for, django_assert_max_num_queries):
    schedule(cast)
    make_export_template(cast.a.company)
    client = client_for(cast.a.manager)
    with django_assert_max_num_queries(20):
        page = client.get("/c/alpha/leads/exports/")
    assert ([s.name for s in page.context["schedules"]], [t.name for t in page.context["templates"]]) == (
        ["Weekly DE"], ["Basic"],
    )  # fmt: skip


def test_schedule_and_template_forms_save_through_the_services(cast, client_for):
    client = client_for(cast.a.manager)
    response = client.post("/c/alpha/leads/exports/templates/new/", {"name": "Mine", "columns": "email = Mail\nphone"})
    assert response.status_code == 302
    assert template_for(cast.a.company, "Mine").columns == [
        {"field": "email", "label": "Mail"}, {"field": "phone", "label": "Phone"},
    ]  # fmt: skip
    response = client.post("/c/alpha/leads/exports/schedules/new/", {
        "name": "Daily", "format": "xlsx", "frequency": "daily", "time_of_day": "06:00", "recipients": "not-an-email",
    })  # fmt: skip
    assert response.context["form"].errors == {"recipients": ["“not-an-email” is not a valid email address."]}


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the page cache is SQLite's")
def test_an_export_reads_with_a_small_page_cache_and_puts_the_configured_one_back(cast, leads):
    def cache_size():
        with connection.cursor() as cursor:
            return cursor.execute("PRAGMA cache_size").fetchone()[0]

    configured = cache_size()
    queryset = export_queryset(cast.a.admin, QueryDict(""))
    batches = RowReader(default_columns(cast.a.company)).text_batches(queryset)
    first = next(batches)
    during = cache_size()
    assert (len(first), during, list(batches), cache_size()) == (3, -READ_CACHE_KIB, [], configured)
    assert configured != during
