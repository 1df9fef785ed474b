"""Lead factories. ``LeadFactory`` builds valid leads through the real service, so keys, status and
history are exactly as in production."""

from __future__ import annotations

import itertools

from crm.testing.urlwalk import register_object_maker
from leads import services
from leads.models import Campaign, CustomField, Lead, LeadComment, LeadStatus

_counter = itertools.count(1)


def make_campaign(company, name: str = "Test campaign", **extra) -> Campaign:
    campaign, _ = Campaign.objects.get_or_create(
        company=company, name=name, defaults={"source": "Webinar", "medium": "email", **extra}
    )
    return campaign


def make_lead(company, actor=None, **data) -> Lead:
    n = next(_counter)
    defaults = {
        "first_name": "Lena",
        "last_name": f"Lead{n}",
        "email": f"lena{n}@example.com",
        "lead_source": "Website",
        "campaign": make_campaign(company),
    }
    defaults.update(data)
    return services.lead_create(company=company, actor=actor, data=defaults)


def make_comment(lead, author, body: str = "Called, left a voicemail.", parent=None) -> LeadComment:
    return services.comment_create(actor=author, lead=lead, body=body, parent=parent)


def make_custom_field(company, key: str, field_type: str = "text", **extra) -> CustomField:
    extra.setdefault("label", key.replace("_", " ").title())
    return CustomField.objects.create(company=company, key=key, field_type=field_type, **extra)


def status(company, key: str) -> LeadStatus:
    return LeadStatus.objects.get(company=company, key=key)


# Object makers for the URL-walking isolation test (crm/tests/test_isolation.py).
@register_object_maker("lead_id")
def _lead_of(company):
    return make_lead(company).pk


@register_object_maker("comment_id")
def _comment_of(company):
    from crm.models import Membership

    author = Membership.objects.filter(company=company).first()
    return make_comment(make_lead(company), author).pk


@register_object_maker("status_id")
def _status_of(company):
    return LeadStatus.objects.filter(company=company).first().pk


@register_object_maker("transition_id")
def _transition_of(company):
    from leads.models import StatusTransition

    return StatusTransition.objects.filter(company=company).first().pk


@register_object_maker("campaign_id")
def _campaign_of(company):
    return make_campaign(company).pk


@register_object_maker("field_id")
def _custom_field_of(company):
    field = CustomField.objects.filter(company=company).first()
    return (field or make_custom_field(company, "industry")).pk


@register_object_maker("bulk_job_id")
def _bulk_job_of(company):
    from crm.models import Membership
    from leads.models import BulkJob

    member = Membership.objects.filter(company=company).first()
    return BulkJob.objects.create(company=company, created_by=member, operation="delete", total=0).pk


@register_object_maker("view_id")
def _saved_view_of(company):
    from crm.models import Membership
    from leads.models import SavedFilter

    member = Membership.objects.filter(company=company).first()
    return SavedFilter.objects.create(company=company, owner=member, name=f"View {member.pk}", visibility="company").pk


# --- assignment & prioritisation (URL-walk object makers) ----------------------------------------------


def make_assignment_rule(company, name: str = "Everyone", members=None, **data):
    from crm.models import Membership
    from leads.assignment import assignment_rule_create

    if members is None:
        members = list(Membership.objects.filter(company=company, role="sdr"))
    data.setdefault("strategy", "round_robin")
    data["members"] = [{"membership": m.pk, "weight": 1} for m in members]
    return assignment_rule_create(actor=None, company=company, data={"name": name, **data})


@register_object_maker("rule_id")
def _assignment_rule_of(company):
    from leads.models import AssignmentRule

    rule = AssignmentRule.objects.filter(company=company).first()
    return (rule or make_assignment_rule(company)).pk


@register_object_maker("scoring_rule_id")
def _scoring_rule_of(company):
    from leads.scoring import settings_for

    settings_for(company)
    return company.scoring_rules.first().pk


@register_object_maker("member_id")
def _member_of(company):
    from crm.models import Membership

    return Membership.objects.filter(company=company).order_by("pk").first().pk


# --- duplicates & merge ---------------------------------------------------------------------------


def make_duplicate_pair(company, **data):
    """Two leads of ``company`` that share an e-mail address (the second created anyway) and the
    review-queue pair that flags them."""
    from leads.models import DuplicateCandidate

    first = make_lead(company, **data)
    second = services.lead_create(
        company=company,
        actor=None,
        allow_duplicates=True,
        data={"first_name": first.first_name, "last_name": first.last_name, "email": first.email,
              "lead_source": "Website", "campaign": make_campaign(company)},
    )  # fmt: skip
    return first, second, DuplicateCandidate.objects.get(lead_a=first, lead_b=second)


@register_object_maker("candidate_id")
def _duplicate_candidate_of(company):
    return make_duplicate_pair(company)[2].pk


@register_object_maker("merge_id")
def _merge_record_of(company):
    from crm.models import Membership
    from leads.dedup.merge import leads_merge

    admin = Membership.objects.filter(company=company, role="admin").order_by("pk").first()
    first, second, _ = make_duplicate_pair(company)
    return leads_merge(actor=admin, survivor=first, others=[second]).pk


# --- import & export (leads.transfer.jobs, leads.transfer.exports) --------------------------------------


def make_import_job(company, actor=None, content: bytes = b"email,first_name\nann@example.com,Ann\n", **options):
    """An uploaded (not yet started) import job of ``company`` for a small CSV."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from leads.transfer.jobs import import_job_create
    from leads.transfer.mapping import ImportOptions

    campaign = make_campaign(company)
    upload = SimpleUploadedFile("leads.csv", content, content_type="text/csv")
    return import_job_create(
        company=company, actor=actor, upload=upload, options=ImportOptions(campaign_id=campaign.pk, **options)
    )


def make_export_template(company, name: str = "Basic", columns=None):
    from leads.models import ExportTemplate

    columns = columns or [{"field": "email", "label": "Email"}, {"field": "first_name", "label": "First name"}]
    return ExportTemplate.objects.get_or_create(company=company, name=name, defaults={"columns": columns})[0]


def make_scheduled_export(company, owner=None, name: str = "Daily export"):
    from crm.models import Membership, Role
    from leads.models import ScheduledExport

    owner = owner or Membership.objects.filter(company=company, role=Role.ADMIN).first()
    return ScheduledExport.objects.get_or_create(company=company, name=name, defaults={"owner": owner})[0]


def make_export_run(company, membership=None, file_format: str = "csv"):
    from django.core.files.base import ContentFile

    from crm.models import Membership, Role
    from leads.models import ExportRun, ExportRunStatus

    membership = membership or Membership.objects.filter(company=company, role=Role.ADMIN).first()
    run = ExportRun(company=company, created_by=membership, format=file_format, status=ExportRunStatus.SUCCEEDED,
                    file_name=f"leads.{file_format}")  # fmt: skip
    run.file.save(run.file_name, ContentFile(b"Email\r\nann@example.com\r\n"), save=False)
    run.save()
    return run


@register_object_maker("job_id")
def _import_job_of(company):
    return make_import_job(company).pk


@register_object_maker("run_id")
def _export_run_of(company):
    return make_export_run(company).pk


@register_object_maker("template_id")
def _export_template_of(company):
    return make_export_template(company).pk


@register_object_maker("schedule_id")
def _scheduled_export_of(company):
    return make_scheduled_export(company).pk
