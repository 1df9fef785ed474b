"""The accounts admin: company-scoped, and every write through the services."""

from decimal import Decimal

from django.urls import reverse

from accounts.models import Opportunity
from accounts.testing.factories import make_account, make_opportunity, stage


def change_url(obj) -> str:
    return reverse(f"admin:accounts_{obj._meta.model_name}_change", args=[obj.pk])


def test_a_manager_sees_their_companys_visible_opportunities_only(cast, client_for):
    ours = make_opportunity(make_account(cast.a.company), owner=cast.a.sdr1, name="Ours")
    make_opportunity(make_account(cast.a.company), owner=cast.a.sdr2, name="Not my team")
    foreign = make_opportunity(make_account(cast.b.company), name="Foreign")
    client = client_for(cast.a.manager)
    listing = client.get(reverse("admin:accounts_opportunity_changelist"))
    assert [o.name for o in listing.context["cl"].result_list] == ["Ours"]
    assert client.get(change_url(ours)).status_code == 200
    assert client.get(change_url(foreign)).status_code == 404


def test_an_admin_edit_goes_through_the_service(cast, client_for):
    deal = make_opportunity(make_account(cast.a.company), owner=cast.a.sdr1)
    client = client_for(cast.a.admin)
    form = client.get(change_url(deal)).context["adminform"].form
    data = {name: form[name].value() for name in form.fields if form[name].value() not in (None, False)}
    refused = client.post(change_url(deal), {**data, "amount": "-5"})
    assert refused.status_code == 200
    assert refused.context["adminform"].form.errors["amount"] == ["Ensure this value is greater than or equal to 0."]
    assert Opportunity.objects.get(pk=deal.pk).amount == Decimal("1000.00")
    response = client.post(
        change_url(deal), {**data, "amount": "750.00", "stage": stage(cast.a.company, "Qualified").pk}
    )
    assert response.status_code == 302
    deal = Opportunity.objects.get(pk=deal.pk)
    assert (deal.amount, deal.stage.name, deal.probability) == (Decimal("750.00"), "Qualified", 25)
    reasons = list(deal.history.values_list("history_change_reason", flat=True))
    assert reasons[:2] == ["accounts.opportunity.stage_changed", "accounts.opportunity.changed"]
    assert deal.history.first().history_user == cast.a.admin.user


def test_only_company_admins_edit_stages(cast, client_for):
    prospect = stage(cast.a.company, "Prospect")
    assert (
        client_for(cast.a.manager).post(change_url(prospect), {"name": "P", "probability": 5, "order": 1}).status_code
        == 403
    )
    client = client_for(cast.a.admin)
    response = client.post(
        change_url(prospect), {"name": "Prospecting", "probability": 5, "order": 1, "is_active": "on"}
    )
    assert response.status_code == 302
    prospect.refresh_from_db()
    assert (prospect.name, prospect.probability) == ("Prospecting", 5)
