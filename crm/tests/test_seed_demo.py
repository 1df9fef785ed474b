from io import StringIO

from django.core.management import call_command

from crm.models import Company, Membership, User


def snapshot():
    return (
        sorted(Company.objects.values_list("slug", "name", "default_country")),
        sorted(User.objects.values_list("email", "password", "is_staff", "is_superuser")),
        sorted(Membership.objects.values_list("company__slug", "user__email", "role", "manager__user__email")),
        Company.history.count() + Membership.history.count(),
    )


def test_seed_demo_creates_the_cast_and_prints_logins(db):
    out = StringIO()
    call_command("seed_demo", stdout=out)
    assert Company.objects.count() == 2
    assert Membership.objects.filter(user__email="sara@acme.test").count() == 2
    assert User.objects.get(email="ops@demo.test").is_superuser is True
    assert "admin@acme.test        Company admin at Acme Corp" in out.getvalue()
    assert "password for all: demo-pass-2026" in out.getvalue()


def demo_snapshot():
    """Every kind of row the demo writes, with the timestamps its clock moved."""
    from crm.models import Activity, Notification
    from leads.models import (
        AssignmentRule,
        DuplicateCandidate,
        ImportJob,
        Lead,
        LeadAssignment,
        LeadComment,
        SavedFilter,
        ScheduledExport,
        StatusChange,
    )
    from nurturing.models import EmailSequence, Enrolment, LeadEmailActivity

    return (
        snapshot(),
        accounts_snapshot(),
        sorted(Lead.objects.values_list("company__slug", "email", "owner__user__email", "status__key", "created_at")),
        Lead.history.count(), StatusChange.objects.count(), LeadComment.objects.count(), LeadAssignment.objects.count(),
        sorted(Activity.objects.values_list("company__slug", "kind", "subject", "occurred_at")),
        Notification.objects.count(),
        sorted(DuplicateCandidate.objects.values_list("lead_a__email", "lead_b__email", "status")),
        sorted(AssignmentRule.objects.values_list("company__slug", "name")),
        sorted(SavedFilter.objects.values_list("owner__user__email", "company__slug", "name")),
        sorted(ImportJob.objects.values_list("company__slug", "file_name", "status", "created_count")),
        sorted(ScheduledExport.objects.values_list("company__slug", "name", "schedule_id")),
        EmailSequence.objects.count(), Enrolment.objects.count(), LeadEmailActivity.objects.count(),
    )  # fmt: skip


def test_seed_demo_twice_changes_nothing(db):
    call_command("seed_demo", stdout=StringIO())
    first = demo_snapshot()
    call_command("seed_demo", stdout=StringIO())
    assert demo_snapshot() == first


def accounts_snapshot():
    from accounts.models import Account, Contact, Opportunity, OpportunityStageChange

    return (
        sorted(Account.objects.values_list("company__slug", "name", "owner__user__email")),
        sorted(Contact.objects.values_list("account__name", "email", "is_primary")),
        sorted(Opportunity.objects.values_list("company__slug", "name", "stage__name", "amount", "probability")),
        OpportunityStageChange.objects.count(),
    )


def test_seed_demo_fills_every_pipeline_stage_with_six_months_of_history(db):
    import datetime as dt

    from django.db.models import Count, Max, Min
    from django.utils import timezone

    from accounts.models import Account, Contact, LeadConversion, Opportunity, OpportunityStageChange, Stage

    call_command("seed_demo", stdout=StringIO())
    now = timezone.now()
    for company in Company.objects.all():
        per_stage = dict(
            Stage.objects.filter(company=company).annotate(n=Count("opportunities")).values_list("name", "n")
        )
        assert set(per_stage) == {"Prospect", "Qualified", "Proposal sent", "Negotiation", "Closed won", "Closed lost"}
        assert min(per_stage.values()) > 0, per_stage
        accounts = Account.objects.filter(company=company)
        assert accounts.count() >= 20
        primaries = Contact.objects.filter(account__company=company, is_primary=True)
        assert primaries.count() == accounts.count()  # exactly one primary per account
        deals = Opportunity.objects.filter(company=company)
        assert set(deals.values_list("currency", flat=True)) == {"GBP" if company.default_country == "GB" else "USD"}
        lost = deals.filter(stage__is_lost=True)
        assert lost.filter(lost_reason="").count() == 0
        assert lost.count() > 0
        changes = OpportunityStageChange.objects.filter(company=company)
        span = changes.aggregate(first=Min("changed_at"), last=Max("changed_at"))
        assert now - dt.timedelta(days=181) <= span["first"] < now - dt.timedelta(days=60)
        assert span["last"] < now
        # Each stay ends when the next one starts; only the current stage is open-ended.
        assert changes.filter(left_at__isnull=True).count() == deals.count()
        for deal in deals.filter(stage__name="Closed won")[:3]:
            stays = list(deal.stage_changes.order_by("changed_at"))
            assert [s.to_stage.name for s in stays] == ["Prospect", "Qualified", "Proposal sent", "Negotiation",
                                                        "Closed won"]  # fmt: skip
            assert [s.left_at for s in stays[:-1]] == [s.changed_at for s in stays[1:]]
            assert deal.closed_at == stays[-1].changed_at
    assert LeadConversion.objects.filter(opportunity__isnull=True).count() == 0


# --- every feature has something to show ---------------------------------------------------------------


def test_seed_demo_queues_the_planted_duplicates_pools_a_few_leads_and_sets_up_rules_views_and_exports(db):
    from django_q.models import Schedule

    from leads.assignment.services import pool_leads
    from leads.dedup import candidates_visible_to
    from leads.demo import DUPLICATE_PAIRS
    from leads.models import AssignmentRule, DuplicateCandidate, SavedFilter, ScheduledExport

    call_command("seed_demo", stdout=StringIO())
    planted = sorted(tuple(sorted((a[2], b[2]))) for a, b in DUPLICATE_PAIRS)
    for company in Company.objects.all():
        pending = DuplicateCandidate.objects.filter(company=company, status="pending")
        assert sorted(tuple(sorted(pair)) for pair in pending.values_list("lead_a__email", "lead_b__email")) == planted
        # The per-save check names the swapped-name pairs too, so only "create anyway" and "saved" remain.
        assert sorted(pending.values_list("source", flat=True)) == ["created_anyway"] * 2 + ["saved"] * 4
        manager = Membership.objects.get(company=company, role="manager")
        assert candidates_visible_to(manager).count() == 6  # the manager's team owns both sides: mergeable
        rule = AssignmentRule.objects.get(company=company)
        sdrs = Membership.objects.filter(company=company, role="sdr").order_by("id")
        assert (rule.name, rule.strategy, rule.is_active) == ("Round-robin over SDRs", "round_robin", True)
        assert list(rule.members.order_by("position").values_list("membership", flat=True)) == list(
            sdrs.values_list("pk", flat=True)
        )
        assert pool_leads(company).count() == 7
        views = SavedFilter.objects.filter(company=company)
        assert sorted(views.values_list("owner__role", "name", "visibility")) == [
            ("admin", "Unassigned pool", "company"),
            ("manager", "Team – uncontacted this week", "team"),
            ("sdr", "My hot leads", "private"),
            ("sdr", "My hot leads", "private"),
        ]
        export = ScheduledExport.objects.get(company=company)
        assert (export.owner.role, export.frequency, export.format, export.weekday, export.recipients) == (
            "manager", "weekly", "csv", 0, [export.owner.user.email]
        )  # fmt: skip
        assert Schedule.objects.get(pk=export.schedule_id).func == "leads.transfer.tasks.run_scheduled_export"


def test_the_demo_import_has_errors_and_its_manager_can_revert_it(db):
    from leads.models import ImportJob, Lead
    from leads.transfer.importer import ids_of_ranges
    from leads.transfer.revert import import_revert

    call_command("seed_demo", stdout=StringIO())
    job = ImportJob.objects.get(company__slug="acme")
    assert (job.status, job.created_count, job.invalid_count, job.can_revert) == ("succeeded", 7, 3, True)
    assert sorted(error["row"] for error in job.errors) == [5, 7, 9]
    created = list(ids_of_ranges(job.created_ranges))
    assert Lead.objects.filter(pk__in=created).count() == 7

    reverted = import_revert(job=job, actor=job.created_by)

    assert (reverted.status, reverted.revert_result["deleted"], reverted.revert_result["kept_count"]) == (
        "reverted", 7, 0
    )  # fmt: skip
    assert Lead.objects.filter(pk__in=created).count() == 0


def test_demo_activity_is_spread_over_the_last_90_days(db):
    import datetime as dt

    from django.contrib.contenttypes.models import ContentType
    from django.db.models import Max, Min
    from django.utils import timezone

    from crm.models import Activity
    from leads.models import Lead, LeadAssignment, StatusChange

    call_command("seed_demo", stdout=StringIO())
    now = timezone.now()
    on_leads = Activity.objects.filter(content_type=ContentType.objects.get_for_model(Lead)).exclude(kind="system")
    for rows, field in (
        (Lead.objects.all(), "created_at"),
        (on_leads, "occurred_at"),
        (StatusChange.objects.all(), "changed_at"),
        (LeadAssignment.objects.all(), "created_at"),
        (Lead.history.all(), "history_date"),
    ):
        span = rows.aggregate(first=Min(field), last=Max(field))
        assert span["last"] - span["first"] >= dt.timedelta(days=60), field
        assert now - dt.timedelta(days=91) <= span["first"], field
        assert span["last"] <= now, field
    created = list(Lead.objects.values_list("created_at", flat=True))
    assert sum(1 for at in created if at.weekday() < 5) / len(created) > 0.85
    recent = sum(1 for at in created if at > now - dt.timedelta(days=30))
    assert recent > sum(1 for at in created if at < now - dt.timedelta(days=60))


def test_seed_demo_converts_some_qualified_leads_and_nurtures_a_few(db):
    from django.utils import timezone

    from accounts.models import LeadConversion
    from nurturing.models import EmailSequence, Enrolment, LeadEmailActivity

    call_command("seed_demo", stdout=StringIO())
    for company in Company.objects.all():
        conversions = LeadConversion.objects.filter(company=company, opportunity__isnull=False)
        assert conversions.count() == 4
        assert conversions.filter(lead__status__key="converted", lead__qualification__is_qualified=True).count() == 4
        sequence = EmailSequence.objects.get(company=company)
        assert (sequence.name, sequence.is_active, sequence.steps.count()) == ("Welcome series", True, 2)
        assert Enrolment.objects.filter(sequence=sequence).count() == 6
        messages = LeadEmailActivity.objects.filter(sequence=sequence)
        assert (messages.filter(state="sent").count(), messages.filter(opened_at__isnull=False).count(),
                messages.filter(clicked_at__isnull=False).count()) == (9, 4, 2)  # fmt: skip
        assert messages.filter(sent_at__gt=timezone.now()).count() == 0


def test_demo_moments_stay_inside_their_window_whatever_weekday_it_starts_on():
    import datetime as dt
    import random

    from crm.demo import recent_moment

    friday = dt.datetime(2026, 12, 4, 12, 54, tzinfo=dt.UTC)  # its window opens on a Saturday
    for offset in range(7):  # today on every weekday, so the window opens on every weekday once
        now = friday + dt.timedelta(days=offset)
        rng = random.Random(offset)
        for days in (90, 30):
            moments = [recent_moment(rng, now, days=days) for _ in range(5000)]
            assert min(moments) >= now - dt.timedelta(days=days), (now, days)
            assert max(moments) <= now - dt.timedelta(minutes=5), (now, days)
