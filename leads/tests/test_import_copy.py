"""Imports on PostgreSQL write leads and status changes through ``COPY``, their historical rows by
``INSERT … SELECT`` (``leads.transfer.copy``); elsewhere through multi-row INSERTs. One real file gives exactly the same
leads, historical rows and status changes on every engine (this module runs on both: the expected
values below are the same literals), and a failure while writing leaves nothing behind."""

from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from leads.models import ImportStatus, Lead, StatusChange
from leads.testing.factories import make_campaign, make_lead
from leads.tests.test_import_jobs import failing_insert  # noqa: F401 — the fixture: a trigger refuses one lead
from leads.transfer.jobs import import_job_create, import_job_start
from leads.transfer.mapping import ImportOptions

FILE = Path(__file__).parent / "data" / "transfer" / "engines_mix.csv"
BOOM = FILE.with_name("engines_boom.csv")  # its last row is refused by ``failing_insert``
COPIES = [
    'COPY "leads_lead" ',
    'COPY "leads_statuschange" ',
]
HISTORY_EXTRA = {"history_id", "history_date", "history_change_reason", "history_type", "history_user_id",
                 "ip_address", "user_agent"}  # fmt: skip


def import_file(cast, path: Path = FILE):
    campaign = make_campaign(cast.a.company, "Imports")
    with open(path, "rb") as handle:
        job = import_job_create(
            company=cast.a.company, actor=cast.a.manager, upload=handle,
            options=ImportOptions(campaign_id=campaign.pk),
        )  # fmt: skip
    return import_job_start(job=job, actor=cast.a.manager)


def copy_statements(captured) -> list[str]:
    """The COPY statements run, each as its start and the rows it carried."""
    found = []
    for query in captured.captured_queries:
        if query["sql"].startswith("COPY "):
            found.append(query["sql"].split("(", 1)[0] + query["sql"].rsplit(" -- ", 1)[1])
    return found


def expected_copies(leads: int, changes: int) -> list[str]:
    if connection.vendor != "postgresql":
        return []
    return [COPIES[0] + f"{leads} rows", COPIES[1] + f"{changes} rows"]


def test_a_file_gives_the_same_leads_history_and_status_changes_on_every_engine(cast):
    make_lead(cast.a.company, email="existing@mix.example")
    with CaptureQueriesContext(connection) as captured:
        job = import_file(cast)
    assert (job.status, job.created_count, job.skipped_count, job.invalid_count) == (ImportStatus.SUCCEEDED, 4, 1, 0)
    assert copy_statements(captured) == expected_copies(4, 6)

    leads = list(
        Lead.objects.filter(email__endswith="@mix.example").exclude(email="existing@mix.example").order_by("id")
    )
    first = leads[0].pk
    assert [lead.pk - first for lead in leads] == [0, 1, 2, 3]
    assert job.created_ranges == [[first, first + 3]]
    shown = [
        (lead.email, lead.first_name, lead.last_name, lead.phone, lead.phone_key, lead.country, lead.company_name,
         lead.job_title, lead.status.key, lead.owner_id == cast.a.sdr1.pk, lead.profile_data, lead.gdpr_consent,
         str(lead.opt_in_date), lead.lead_source, lead.score, lead.email_key, lead.created_by_id == cast.a.manager.pk)
        for lead in leads
    ]  # fmt: skip
    assert shown == [
        ('ana@mix.example', 'Ana', 'Souza', '020 7946 0123', '+442079460123', 'GB', 'ACME, Inc.', 'Head of Data', 'new', False, {'headline': 'Data lead, "ACME"'}, True, '2024-03-05 00:00:00+00:00', 'Referral', 25, 'ana@mix.example', True),
        ('bruno@mix.example', 'Bruno', 'Weiß', '+49 30 901820', '+4930901820', 'DE', 'Bäckerei Weiß GmbH', 'Inhaber', 'contacted', True, {}, False, 'None', 'Webinar', 5, 'bruno@mix.example', True),
        ('chloe@mix.example', 'Chloé', 'Dupré', '', '', 'FR', 'Société Générale', 'CFO', 'new', False, {}, False, '2024-01-02 09:30:00+00:00', 'Webinar', 5, 'chloe@mix.example', True),
        ('dmitri@mix.example', 'Дмитрий', 'Иванов', '+7 495 123-45-67', '+74951234567', 'RU', 'Яндекс', 'CTO', 'contacted', False, {}, True, 'None', 'Webinar', 5, 'dmitri@mix.example', True),
    ]  # fmt: skip

    now = leads[0].created_at
    assert {(lead.created_at, lead.updated_at, lead.status_changed_at) for lead in leads} == {(now, now, now)}
    fields = [f.attname for f in Lead.history.model._meta.concrete_fields if f.attname not in HISTORY_EXTRA]
    assert len(fields) == 47
    assert set(fields) <= {f.attname for f in Lead._meta.concrete_fields}
    history = list(Lead.history.filter(id__in=[lead.pk for lead in leads]).order_by("history_id").values())
    assert [row["id"] - first for row in history] == [0, 1, 2, 3]
    assert [row["history_id"] - history[0]["history_id"] for row in history] == [0, 1, 2, 3]
    assert [{name: row[name] for name in fields} for row in history] == [
        {name: getattr(lead, name) for name in fields} for lead in leads
    ]
    assert {(row["history_type"], row["history_change_reason"], row["history_user_id"], row["history_date"])
            for row in history} == {("+", f"leads.lead.imported:{job.pk}", cast.a.manager.user_id, now)}  # fmt: skip

    changes = StatusChange.objects.filter(lead__in=leads).order_by("id")
    assert [
        (c.lead_id - first, c.from_status and c.from_status.key, c.to_status.key, c.changed_by_id, c.note, c.changed_at)
        for c in changes
    ] == [
        (0, None, "new", cast.a.manager.pk, "", now),
        (1, None, "new", cast.a.manager.pk, "", now),
        (1, "new", "contacted", cast.a.manager.pk, "Called twice", now),
        (2, None, "new", cast.a.manager.pk, "", now),
        (3, None, "new", cast.a.manager.pk, "", now),
        (3, "new", "contacted", cast.a.manager.pk, "", now),
    ]
    assert [c.pk - changes[0].pk for c in changes] == [0, 1, 2, 3, 4, 5]


@pytest.mark.usefixtures("failing_insert")
def test_a_row_failing_while_written_leaves_nothing_after_earlier_steps_were_copied(cast, monkeypatch):
    from leads.transfer import importer

    monkeypatch.setattr(importer, "CHUNK", 2)  # two write steps succeed before the failing row's
    make_lead(cast.a.company, email="existing@mix.example")
    before = (Lead.objects.count(), Lead.history.count(), StatusChange.objects.count())
    with CaptureQueriesContext(connection) as captured:
        job = import_file(cast, BOOM)
    assert (job.status, job.error, job.created_count) == (
        ImportStatus.FAILED,
        "The import stopped on an unexpected error; nothing was imported.",
        0,
    )
    assert (Lead.objects.count(), Lead.history.count(), StatusChange.objects.count()) == before
    # Rows 2–3 were written through COPY; of rows 4–5 (4 skipped) the lead of row 5 failed inside
    # its COPY into leads_lead (a failed statement is not logged).
    assert copy_statements(captured) == expected_copies(2, 3)
