"""``manage.py generate_accounts`` / ``accounts.generate`` at a small size."""

from collections import Counter
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count
from django.utils import timezone

from accounts.generate import accounts_generate
from accounts.models import Account, Contact, ForecastCategory, Opportunity, OpportunityStageChange, Stage
from accounts.pipeline import board_totals
from leads import normalize


@pytest.fixture
def generated(cast):
    return accounts_generate(company=cast.a.company, accounts=60, opportunities=400, seed=7, batch_size=25)


def test_it_writes_the_counts_asked_for_into_the_company_only(cast, generated):
    assert (generated.accounts, generated.opportunities) == (60, 400)
    assert Account.objects.filter(company=cast.a.company).count() == 60
    assert Contact.objects.filter(company=cast.a.company).count() == generated.contacts
    assert Opportunity.objects.filter(company=cast.a.company).count() == 400
    assert OpportunityStageChange.objects.filter(company=cast.a.company).count() == generated.stage_changes
    assert Account.objects.filter(company=cast.b.company).count() == 0
    assert Opportunity.objects.exclude(account__company=cast.a.company).count() == 0
    assert Opportunity.objects.exclude(owner__isnull=True).exclude(owner__company=cast.a.company).count() == 0


def test_accounts_are_keyed_like_the_services_key_them_with_one_primary_contact_each(cast, generated):
    accounts = list(Account.objects.filter(company=cast.a.company))
    assert len({a.name for a in accounts}) == 60
    for account in accounts:
        assert account.company_key == normalize.company_key(account.name)
        assert (account.domain_key, account.website) == (account.domain, f"https://www.{account.domain}")
    primaries = Counter(Contact.objects.filter(is_primary=True).values_list("account_id", flat=True))
    assert sorted(primaries) == sorted(a.pk for a in accounts)
    assert set(primaries.values()) == {1}
    for contact in Contact.objects.all():
        assert contact.email_key == normalize.email_key(contact.email)
        assert contact.email.endswith("@" + contact.account.domain)


def test_every_stage_holds_deals_with_its_probability_and_category(cast, generated):
    per_stage = dict(Stage.objects.filter(company=cast.a.company).annotate(n=Count("opportunities"))
                     .values_list("name", "n"))  # fmt: skip
    assert min(per_stage.values()) > 0, per_stage
    assert per_stage["Prospect"] > per_stage["Negotiation"]  # skewed to the early stages
    for deal in Opportunity.objects.select_related("stage", "primary_contact"):
        assert deal.probability == deal.stage.probability
        assert (deal.forecast_category == ForecastCategory.OMITTED) == deal.stage.is_lost
        assert bool(deal.lost_reason) == deal.stage.is_lost
        assert (deal.closed_at is not None) == deal.stage.is_closed
        assert (deal.primary_contact.account_id, deal.primary_contact.is_primary) == (deal.account_id, True)
        assert isinstance(deal.amount, Decimal)
        assert deal.amount > 0
    currencies = Counter(Opportunity.objects.values_list("currency", flat=True))
    assert currencies.most_common(1)[0][0] == "GBP"  # the company's currency


def test_each_deal_has_the_chained_stage_history_of_its_path(cast, generated):
    now = timezone.now()
    order = {s.pk: s.order for s in Stage.objects.filter(company=cast.a.company)}
    for deal in Opportunity.objects.prefetch_related("stage_changes"):
        stays = list(deal.stage_changes.all())
        assert (stays[0].from_stage_id, stays[-1].to_stage_id) == (None, deal.stage_id)
        assert [s.from_stage_id for s in stays[1:]] == [s.to_stage_id for s in stays[:-1]]
        assert [order[s.to_stage_id] for s in stays] == sorted(order[s.to_stage_id] for s in stays)
        assert [s.left_at for s in stays[:-1]] == [s.changed_at for s in stays[1:]]
        assert stays[-1].left_at is None
        assert stays[-1].changed_at <= now
        assert (deal.created_at, deal.stage_changed_at) == (stays[0].changed_at, stays[-1].changed_at)


def test_the_board_reads_generated_data(cast, generated):
    stages = list(Stage.objects.filter(company=cast.a.company))
    columns = board_totals(Opportunity.objects.filter(company=cast.a.company), stages)
    assert sum(c.count for c in columns) == 400
    expected = sum(Opportunity.objects.filter(currency="GBP").values_list("amount", flat=True), Decimal(0))
    assert sum(c.amounts.get("GBP", Decimal(0)) for c in columns) == expected


def test_the_same_seed_gives_the_same_rows(cast):
    accounts_generate(company=cast.a.company, accounts=5, opportunities=12, seed=3)
    accounts_generate(company=cast.b.company, accounts=5, opportunities=12, seed=3)

    def rows(company):
        return sorted(Opportunity.objects.filter(company=company).values_list("name", "amount", "stage__name"))

    assert rows(cast.a.company) == rows(cast.b.company)


def test_the_command_reports_what_it_made_and_refuses_bad_input(cast):
    out = StringIO()
    call_command("generate_accounts", "--company", "alpha", "--accounts", "4", "--opportunities", "9",
                 "--seed", "1", stdout=out)  # fmt: skip
    assert out.getvalue().startswith("created 4 accounts, ")
    assert " contacts, 9 opportunities and " in out.getvalue()
    with pytest.raises(CommandError, match="No company with slug 'nope'."):
        call_command("generate_accounts", "--company", "nope", "--accounts", "1")
    with pytest.raises(CommandError, match="Counts cannot be negative."):
        call_command("generate_accounts", "--company", "alpha", "--accounts", "-1")
    with pytest.raises(CommandError, match="Opportunities need accounts"):
        call_command("generate_accounts", "--company", "alpha", "--accounts", "0", "--opportunities", "3")
    assert Account.objects.count() == 4
