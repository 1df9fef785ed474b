"""The demo accounts (``seed_demo``'s accounts part) on the test cast."""

import datetime as dt

from django.utils import timezone

from accounts.demo import ACCOUNTS, seed_company_accounts
from accounts.models import Account, Contact, LeadConversion, Opportunity
from leads.models import Lead
from leads.testing.factories import make_lead


def test_converted_leads_become_accounts_with_their_conversion_rows(cast):
    converted_at = timezone.now() - dt.timedelta(days=12)
    lead = make_lead(cast.a.company, cast.a.sdr1, owner=cast.a.sdr1, first_name="Ines", last_name="Haddad",
                     email="ines@quartz-labs.example", company_name="Quartz Labs Ltd", phone="+44 20 7946 0123")  # fmt: skip
    Lead.objects.filter(pk=lead.pk).update(converted_at=converted_at)  # converted by the (separate) conversion flow
    same_company = make_lead(cast.a.company, cast.a.sdr1, owner=cast.a.sdr1, first_name="Omar", last_name="Ali",
                             email="omar@quartz-labs.example", company_name="Quartz Labs")  # fmt: skip
    Lead.objects.filter(pk=same_company.pk).update(converted_at=converted_at)
    make_lead(cast.a.company, cast.a.sdr1, company_name="Not Converted Ltd")

    summary = seed_company_accounts(cast.a.company)

    assert summary.startswith(f"{len(ACCOUNTS) + 1} demo accounts (1 from converted leads), ")
    conversions = list(LeadConversion.objects.order_by("lead_id").select_related("account", "contact", "opportunity"))
    assert [(c.lead_id, c.account.name, c.contact.email, c.converted_by) for c in conversions] == [
        (lead.pk, "Quartz Labs Ltd", "ines@quartz-labs.example", cast.a.sdr1),
        (same_company.pk, "Quartz Labs Ltd", "omar@quartz-labs.example", cast.a.sdr1),
    ]
    assert conversions[0].converted_at == converted_at
    assert [c.opportunity.lead_id for c in conversions] == [lead.pk, same_company.pk]
    quartz = Account.objects.get(name="Quartz Labs Ltd")
    assert list(quartz.contacts.values_list("email", "is_primary", "phone").order_by("id")) == [
        ("ines@quartz-labs.example", True, "+442079460123"),
        ("omar@quartz-labs.example", False, ""),
    ]
    assert not Account.objects.filter(name="Not Converted Ltd").exists()
    assert Account.objects.filter(company=cast.b.company).count() == 0


def test_a_second_run_changes_nothing(cast):
    seed_company_accounts(cast.a.company)
    counts = (Account.objects.count(), Contact.objects.count(), Opportunity.objects.count())
    assert seed_company_accounts(cast.a.company) == "demo accounts already present"
    assert (Account.objects.count(), Contact.objects.count(), Opportunity.objects.count()) == counts


def test_every_deal_is_backdated_consistently(cast):
    seed_company_accounts(cast.a.company)
    now = timezone.now()
    for deal in Opportunity.objects.filter(company=cast.a.company).prefetch_related("stage_changes"):
        stays = list(deal.stage_changes.all())
        history = list(deal.history.order_by("history_id"))
        assert [s.changed_at for s in stays] == [h.history_date for h in history]
        assert (deal.created_at, deal.stage_changed_at) == (stays[0].changed_at, stays[-1].changed_at)
        assert [s.left_at for s in stays[:-1]] == [s.changed_at for s in stays[1:]]
        assert [s.changed_at for s in stays] == sorted({s.changed_at for s in stays})
        assert stays[-1].left_at is None
        assert stays[-1].changed_at < now
        assert deal.account.created_at < deal.created_at
        assert (deal.closed_at is not None) == deal.stage.is_closed
