"""The plain status change to converted is closed on every door — service, lead page, API, admin, bulk,
import and create — even where a company's workflow allows the move: converting runs the conversion."""

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.qualification import lead_qualify
from leads import bulk
from leads import services as lead_services
from leads.models import Lead, StatusChange, StatusTransition
from leads.queries import transitions_available
from leads.testing.factories import make_campaign, make_lead, status
from leads.transfer.jobs import import_job_create, import_job_start
from leads.transfer.mapping import ImportOptions

REFUSED = "Converted is reached by converting the lead: use Convert (on its page, in bulk or in the API)."


@pytest.fixture
def lead(cast):
    lead = make_lead(cast.a.company, cast.a.sdr1, owner=cast.a.sdr1, email="door@closed.example")
    lead = lead_services.lead_transition(actor=cast.a.sdr1, lead=lead, to_status=status(cast.a.company, "contacted"))
    bant = {"budget": "y", "authority": "y", "need": "y", "timeline": "y"}
    return lead_qualify(actor=cast.a.sdr1, lead=lead, bant=bant).lead


def unchanged(lead) -> bool:
    fresh = Lead.objects.get(pk=lead.pk)
    changes = list(StatusChange.objects.filter(lead=lead).values_list("to_status__key", flat=True))
    return (fresh.status.key, fresh.converted_at, changes) == ("qualified", None, ["new", "contacted", "qualified"])


def test_the_service_refuses_the_plain_change(cast, lead):
    with pytest.raises(ValidationError) as error:
        lead_services.lead_transition(actor=cast.a.admin, lead=lead, to_status=status(cast.a.company, "converted"))
    assert error.value.message_dict == {"status": [REFUSED]}
    assert unchanged(lead)


def test_the_lead_page_offers_no_converted_button_and_refuses_the_post(cast, lead, client_for):
    assert [t.to_status.key for t in transitions_available(lead, cast.a.admin)] == ["unqualified", "recycled"]
    client = client_for(cast.a.sdr1)
    page = client.get(reverse("leads:detail", kwargs={"company_slug": "alpha", "lead_id": lead.pk}))
    assert b'data-testid="transition-converted"' not in page.content
    assert b'data-testid="transition-recycled"' in page.content
    url = reverse("leads:transition", kwargs={"company_slug": "alpha", "lead_id": lead.pk})
    response = client.post(url, {"status": status(cast.a.company, "converted").pk}, HTTP_HX_REQUEST="true")
    assert response.status_code == 422
    assert REFUSED.encode() in response.content
    assert unchanged(lead)


def test_the_api_refuses_the_transition_and_the_update(cast, lead):
    api = APIClient()
    api.force_authenticate(cast.a.manager.user)
    converted = status(cast.a.company, "converted").pk
    base = f"/api/companies/{cast.a.company.pk}/leads/{lead.pk}"
    for response in (
        api.post(f"{base}/transition", {"status": converted}, format="json"),
        api.patch(base, {"status": converted}, format="json"),
    ):
        assert (response.status_code, response.json()) == (400, {"status": [REFUSED]})
    assert unchanged(lead)


def test_the_admin_refuses_it_as_a_form_error(cast, lead, client_for):
    client = client_for(cast.a.admin)
    url = reverse("admin:leads_lead_change", args=[lead.pk])
    form = client.get(url).context["adminform"].form
    data = {name: form[name].value() for name, field in form.fields.items()
            if not field.disabled and form[name].value() not in (None, False)}  # fmt: skip
    data = {name: "on" if value is True else value for name, value in data.items()}
    response = client.post(url, {**data, "status": status(cast.a.company, "converted").pk})
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {"status": [REFUSED]}
    assert unchanged(lead)


def test_bulk_status_refuses_it_before_the_job_starts(cast, lead):
    with pytest.raises(bulk.BulkError) as error:
        bulk.bulk_job_create(actor=cast.a.manager, operation="status", lead_ids=[lead.pk],
                             params={"status": status(cast.a.company, "converted").pk})  # fmt: skip
    assert error.value.message_dict == {"status": [REFUSED]}
    assert unchanged(lead)


def test_an_import_refuses_it_per_row(cast, lead):
    upload = SimpleUploadedFile("leads.csv", b"email,status\ndoor@closed.example,Converted\n", content_type="text/csv")
    options = ImportOptions(campaign_id=make_campaign(cast.a.company).pk, on_duplicate="update")
    job = import_job_create(company=cast.a.company, actor=cast.a.admin, upload=upload, options=options)
    job = import_job_start(job=job, actor=cast.a.admin)
    assert job.errors == [{"row": 2, "column": "status", "value": "Converted", "message": REFUSED}]
    assert unchanged(lead)


def test_even_a_workflow_that_allows_the_move_cannot_create_a_converted_lead(cast):
    company = cast.a.company
    StatusTransition.objects.create(company=company, from_status=status(company, "new"),
                                    to_status=status(company, "converted"))  # fmt: skip
    with pytest.raises(ValidationError) as error:
        make_lead(company, cast.a.admin, status=status(company, "converted"))
    assert error.value.message_dict == {"status": [REFUSED]}
    assert Lead.objects.count() == 0
