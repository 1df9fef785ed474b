"""The company admins' pipeline-stage page: list, create, edit, delete/retire, through the services."""

import pytest
from django.urls import reverse

from accounts import services
from accounts.models import Stage
from accounts.testing.factories import make_account, make_opportunity, stage


def page(company, name: str, **kwargs) -> str:
    return reverse(f"accounts:{name}", kwargs={"company_slug": company.slug, **kwargs})


def snapshot(company):
    return list(Stage.objects.filter(company=company).values_list("name", "order", "probability", "is_won",
                                                                  "is_lost", "is_active"))  # fmt: skip


def test_the_admin_sees_every_stage_in_order_with_its_opportunity_count(cast, client_for):
    make_opportunity(make_account(cast.a.company))
    make_opportunity(make_account(cast.b.company))  # another company's deal in its own Prospect stage
    response = client_for(cast.a.admin).get(page(cast.a.company, "stage_list"))
    assert response.status_code == 200
    assert [(s.name, s.probability, s.opportunity_count) for s in response.context["stages"]] == [
        ("Prospect", 10, 1), ("Qualified", 25, 0), ("Proposal sent", 50, 0), ("Negotiation", 75, 0),
        ("Closed won", 100, 0), ("Closed lost", 0, 0),
    ]  # fmt: skip


def test_the_admin_creates_a_stage_which_goes_last_with_history(cast, client_for):
    response = client_for(cast.a.admin).post(page(cast.a.company, "stage_create"),
                                             {"name": "Verbal yes", "probability": "90", "is_active": "on"})  # fmt: skip
    assert response["Location"] == page(cast.a.company, "stage_list")
    created = Stage.objects.get(company=cast.a.company, name="Verbal yes")
    assert (created.order, created.probability, created.is_won, created.is_lost, created.is_active) == (
        70,
        90,
        False,
        False,
        True,
    )
    history = created.history.get()
    assert (history.history_change_reason, history.history_user) == ("accounts.stage.created", cast.a.admin.user)


def test_the_admin_renames_reorders_and_reprices_a_stage(cast, client_for):
    qualified = stage(cast.a.company, "Qualified")
    response = client_for(cast.a.admin).post(
        page(cast.a.company, "stage_edit", stage_id=qualified.pk),
        {"name": "Discovery done", "order": "5", "probability": "30", "is_active": "on"},
    )
    assert response.status_code == 302
    qualified.refresh_from_db()
    assert (qualified.name, qualified.order, qualified.probability) == ("Discovery done", 5, 30)
    assert [s.name for s in Stage.objects.filter(company=cast.a.company)][:2] == ["Discovery done", "Prospect"]
    assert qualified.history.latest().history_change_reason == "accounts.stage.changed"


def test_the_edit_form_starts_from_the_stage_as_it_is(cast, client_for):
    won = stage(cast.a.company, "Closed won")
    form = client_for(cast.a.admin).get(page(cast.a.company, "stage_edit", stage_id=won.pk)).context["form"]
    assert {k: form.initial[k] for k in ("name", "order", "probability", "is_won", "is_lost", "is_active")} == {
        "name": "Closed won", "order": 50, "probability": 100, "is_won": True, "is_lost": False, "is_active": True,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"name": "Qualified", "probability": "150", "is_active": "on"}, "probability",
         "Enter a whole number from 0 to 100."),
        ({"name": "Qualified", "probability": "ten", "is_active": "on"}, "probability",
         "Enter a whole number from 0 to 100."),
        ({"name": "", "probability": "25", "is_active": "on"}, "name", "Give the stage a name."),
        ({"name": "prospect", "probability": "25", "is_active": "on"}, "name", "Another stage already has this name."),
        ({"name": "Qualified", "order": "-1", "probability": "25", "is_active": "on"}, "order",
         "Enter a whole number, 0 or more."),
        ({"name": "Qualified", "probability": "25", "is_won": "on", "is_lost": "on", "is_active": "on"}, "is_lost",
         "A stage is won or lost, not both."),
    ],
)  # fmt: skip
def test_bad_input_is_a_field_error_and_changes_nothing(cast, client_for, data, field, message):
    before = snapshot(cast.a.company)
    qualified = stage(cast.a.company, "Qualified")
    response = client_for(cast.a.admin).post(page(cast.a.company, "stage_edit", stage_id=qualified.pk), data)
    assert response.status_code == 200
    assert response.context["form"].errors[field] == [message]
    assert snapshot(cast.a.company) == before


def test_the_won_flag_of_a_stage_in_use_cannot_change(cast, client_for):
    make_opportunity(make_account(cast.a.company), stage=stage(cast.a.company, "Negotiation"))
    before = snapshot(cast.a.company)
    negotiation = stage(cast.a.company, "Negotiation")
    response = client_for(cast.a.admin).post(page(cast.a.company, "stage_edit", stage_id=negotiation.pk),
                                             {"name": "Negotiation", "probability": "75", "is_won": "on",
                                              "is_active": "on"})  # fmt: skip
    assert response.context["form"].errors["is_won"] == [
        "Opportunities are in this stage: its won/lost flags cannot change."
    ]
    assert snapshot(cast.a.company) == before


def test_a_bad_new_stage_is_refused_and_nothing_is_created(cast, client_for):
    response = client_for(cast.a.admin).post(page(cast.a.company, "stage_create"), {"name": "Pilot"})
    assert response.context["form"].errors["probability"] == ["Enter a whole number from 0 to 100."]
    assert not Stage.objects.filter(name="Pilot").exists()


def test_an_unused_stage_is_deleted_and_a_used_one_retired(cast, client_for):
    client = client_for(cast.a.admin)
    proposal, qualified = stage(cast.a.company, "Proposal sent"), stage(cast.a.company, "Qualified")
    deal = make_opportunity(make_account(cast.a.company), stage=qualified)
    services.opportunity_change_stage(actor=cast.a.admin, opportunity=deal, stage=stage(cast.a.company, "Negotiation"))
    assert client.post(page(cast.a.company, "stage_delete", stage_id=proposal.pk)).status_code == 302
    client.post(page(cast.a.company, "stage_delete", stage_id=qualified.pk))
    assert not Stage.objects.filter(pk=proposal.pk).exists()
    assert Stage.objects.get(pk=qualified.pk).is_active is False
    listed = client.get(page(cast.a.company, "stage_list"))
    assert [str(m) for m in listed.context["messages"]] == [
        "Stage “Proposal sent” deleted.",
        "Stage “Qualified” retired.",
    ]


def test_a_stage_holding_opportunities_is_not_deleted(cast, client_for):
    negotiation = stage(cast.a.company, "Negotiation")
    make_opportunity(make_account(cast.a.company), stage=negotiation)
    response = client_for(cast.a.admin).post(page(cast.a.company, "stage_delete", stage_id=negotiation.pk),
                                             follow=True)  # fmt: skip
    assert [str(m) for m in response.context["messages"]] == [
        "Negotiation: Move this stage's opportunities to another stage first."
    ]
    assert Stage.objects.get(pk=negotiation.pk).is_active is True


@pytest.mark.parametrize("role", ["manager", "sdr1"])
@pytest.mark.parametrize(
    ("name", "method", "with_stage"),
    [("stage_list", "get", False), ("stage_create", "post", False), ("stage_edit", "post", True),
     ("stage_delete", "post", True)],
)  # fmt: skip
def test_managers_and_sdrs_get_403_and_change_nothing(cast, client_for, role, name, method, with_stage):
    before = snapshot(cast.a.company)
    kwargs = {"stage_id": stage(cast.a.company, "Qualified").pk} if with_stage else {}
    client = client_for(getattr(cast.a, role))
    response = getattr(client, method)(page(cast.a.company, name, **kwargs),
                                       {"name": "Hijacked", "probability": "1", "is_active": "on"})  # fmt: skip
    assert response.status_code == 403
    assert snapshot(cast.a.company) == before


@pytest.mark.parametrize("name", ["stage_edit", "stage_delete"])
def test_another_companys_stage_is_404_and_unchanged(cast, client_for, name):
    foreign = stage(cast.b.company, "Qualified")
    before = snapshot(cast.b.company)
    response = client_for(cast.a.admin).post(page(cast.a.company, name, stage_id=foreign.pk),
                                             {"name": "Hijacked", "probability": "1", "is_active": "on"})  # fmt: skip
    assert response.status_code == 404
    assert client_for(cast.a.admin).get(page(cast.b.company, "stage_list")).status_code == 404
    assert snapshot(cast.b.company) == before


def test_the_board_links_to_the_stage_page_for_admins_only(cast, client_for):
    link = b'data-testid="edit-stages"'
    assert link in client_for(cast.a.admin).get(page(cast.a.company, "pipeline")).content
    assert link not in client_for(cast.a.manager).get(page(cast.a.company, "pipeline")).content
