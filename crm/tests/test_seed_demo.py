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


def test_seed_demo_twice_changes_nothing(db):
    call_command("seed_demo", stdout=StringIO())
    first = snapshot()
    call_command("seed_demo", stdout=StringIO())
    assert snapshot() == first


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


def test_seed_demo_twice_adds_no_accounts_contacts_or_opportunities(db):
    call_command("seed_demo", stdout=StringIO())
    first = accounts_snapshot()
    call_command("seed_demo", stdout=StringIO())
    assert accounts_snapshot() == first
