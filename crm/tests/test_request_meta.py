"""Who and from where, on every write: history rows and audit records keep the IP address and the
user agent of the request — or, for work a worker does later, of the request that asked for it."""

from contextlib import contextmanager

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import RequestFactory
from django.urls import reverse
from simple_history.models import HistoricalRecords

from crm.models import Activity
from leads import bulk, services
from leads.assignment import leads_assign_many
from leads.config import services as settings_services
from leads.dedup import merge
from leads.models import BulkJob, Lead, LeadComment, LeadStatus
from leads.testing.factories import make_campaign, make_lead, status
from leads.transfer.exports import export_run_start
from leads.transfer.jobs import import_job_create, import_job_start
from leads.transfer.mapping import ImportOptions

IP, AGENT = "203.0.113.7", "Mozilla/5.0 (X11; Linux) MetaTest/1.0"
WHERE = (IP, AGENT)


@contextmanager
def serving(user, ip: str = IP, agent: str = AGENT):
    """What ``HistoryRequestMiddleware`` does for a request from ``ip`` with ``agent``."""
    request = RequestFactory().post("/", REMOTE_ADDR=ip, HTTP_USER_AGENT=agent)
    request.user = user
    HistoricalRecords.context.request = request
    try:
        yield request
    finally:
        del HistoricalRecords.context.request


def where(row) -> tuple:
    return (row.ip_address, row.user_agent)


def latest_lead_rows(lead_ids, reason_prefix: str) -> list:
    return list(Lead.history.filter(id__in=lead_ids, history_change_reason__startswith=reason_prefix))


def test_a_comment_posted_in_the_browser_keeps_where_it_came_from(cast, client_for):
    lead = make_lead(cast.a.company, cast.a.sdr1, owner=cast.a.sdr1)
    url = reverse("leads:comment_create", kwargs={"company_slug": cast.a.company.slug, "lead_id": lead.pk})

    client_for(cast.a.sdr1).post(url, {"body": "Called back"}, REMOTE_ADDR=IP, HTTP_USER_AGENT=AGENT)

    row = LeadComment.history.get()
    assert (row.history_change_reason, row.history_user, *where(row)) == (
        "leads.comment.created",
        cast.a.sdr1.user,
        *WHERE,
    )


def test_activities_status_changes_and_settings_keep_where_they_came_from(cast):
    lead = make_lead(cast.a.company, cast.a.sdr1, owner=cast.a.sdr1)
    with serving(cast.a.admin.user):
        activity = services.activity_log(actor=cast.a.sdr1, lead=lead, kind="call", subject="Intro call")
        services.lead_transition(actor=cast.a.sdr1, lead=lead, to_status=status(cast.a.company, "contacted"))
        created = settings_services.status_create(
            company=cast.a.company, actor=cast.a.admin, data={"name": "Waiting", "key": "waiting", "category": "open"}
        )

    assert where(Activity.objects.get(pk=activity.pk)) == WHERE
    assert [where(r) for r in latest_lead_rows([lead.pk], "leads.lead.status_changed")] == [WHERE]
    assert where(LeadStatus.history.get(id=created.pk)) == WHERE


def test_a_bulk_job_run_by_a_worker_records_where_it_was_asked_for(cast):
    leads = [make_lead(cast.a.company, cast.a.admin, owner=cast.a.sdr1) for _ in range(2)]
    with serving(cast.a.manager.user):
        job = bulk.bulk_job_create(actor=cast.a.manager, operation="campaign",
                                   params={"campaign": make_campaign(cast.a.company, "Retarget").pk},
                                   lead_ids=[lead.pk for lead in leads])  # fmt: skip

    bulk.bulk_job_run(job_id=job.pk)  # later, in a worker: no request

    assert where(BulkJob.objects.get(pk=job.pk)) == WHERE
    rows = latest_lead_rows([lead.pk for lead in leads], f"leads.lead.bulk_campaign:{job.pk}")
    assert [(r.history_user, *where(r)) for r in rows] == [(cast.a.manager.user, *WHERE)] * 2
    summary = Activity.objects.get(content_type=ContentType.objects.get_for_model(BulkJob), object_id=job.pk)
    assert where(summary) == WHERE


def test_bulk_reassignment_and_merges_keep_where_they_came_from(cast):
    leads = [make_lead(cast.a.company, cast.a.admin, owner=cast.a.sdr1, last_name=n) for n in ("One", "Two")]
    with serving(cast.a.admin.user):
        leads_assign_many(actor=cast.a.admin, leads=leads, owner=cast.a.sdr2)
        record = merge.leads_merge(actor=cast.a.admin, survivor=leads[0], others=[leads[1]])

    assert [where(r) for r in latest_lead_rows([lead.pk for lead in leads], "leads.lead.assigned")] == [WHERE] * 2
    assert where(record) == WHERE
    assert {where(r) for r in latest_lead_rows([lead.pk for lead in leads], "leads.lead.merged")} == {WHERE}


def test_imports_and_exports_keep_where_they_came_from(cast):
    upload = SimpleUploadedFile(
        "people.csv", b"first_name,last_name,email,lead_source\nIda,Ivers,ida@ivers.example,Web\n"
    )
    with serving(cast.a.admin.user):
        job = import_job_create(company=cast.a.company, actor=cast.a.admin, upload=upload)
        run, _, _ = export_run_start(membership=cast.a.manager, params={}, file_format="csv", streamed=True)
    campaign = make_campaign(cast.a.company, "Imports")
    import_job_start(job=job, actor=cast.a.admin, options=ImportOptions(campaign_id=campaign.pk))  # later

    lead = Lead.objects.get(email="ida@ivers.example")
    assert (where(job), where(run)) == (WHERE, WHERE)
    assert [where(r) for r in lead.history.all()] == [WHERE]


@pytest.mark.parametrize("actor_role", [None, "admin"])
def test_no_actor_means_the_requests_user(cast, actor_role):
    """A superuser's admin edit has no membership: the history row still names them."""
    ops = type(cast.a.admin.user).objects.create_superuser(email="ops@crm.test", password="x" * 12)
    actor = cast.a.admin if actor_role else None
    contacted = status(cast.a.company, "contacted")
    with serving(ops):
        settings_services.status_update(actor=actor, status=contacted, data={"name": "Reached"})

    row = LeadStatus.history.filter(id=contacted.pk).first()
    assert (row.name, row.history_user, *where(row)) == ("Reached", cast.a.admin.user if actor else ops, *WHERE)
