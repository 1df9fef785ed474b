"""One lead pipeline for every door: ``lead_prepare`` and its validators, the match keys, the
workflow's one transition check, and every field's error at once."""

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from rest_framework.test import APIClient

from leads import bulk, services
from leads.keys import MatchKeys, lead_keys, match_keys
from leads.models import BulkJobStatus, ImportStatus, Lead, StatusTransition
from leads.profiles import lead_create_from_profile
from leads.scoring import quality
from leads.testing.factories import make_campaign, make_custom_field, make_lead, status
from leads.transfer.jobs import import_job_create, import_job_start
from leads.transfer.mapping import ImportOptions
from leads.workflow import TransitionCheck, status_values

REFUSED = "We do not take leads called Refuse."


def refuse_the_refuse_family(lead, data):
    if lead.last_name == "Refuse":
        raise ValidationError({"last_name": REFUSED})


@pytest.fixture
def refuse_rule():
    """Call it to add the rule to the services; it is removed after the test, whatever happened."""
    added = []

    def register():
        added.append(services.register_lead_validator(refuse_the_refuse_family))

    yield register
    for validator in added:
        services.LEAD_VALIDATORS.remove(validator)


def api_for(membership) -> APIClient:
    client = APIClient()
    client.force_authenticate(membership.user)
    return client


def api_url(company, path: str = "leads") -> str:
    return f"/api/companies/{company.pk}/{path}"


def page_url(name, company, **kwargs):
    return reverse(f"leads:{name}", kwargs={"company_slug": company.slug, **kwargs})


def new_lead(company, **extra) -> dict:
    return {"first_name": "Rita", "last_name": "Refuse", "email": "rita@refuse.example", "lead_source": "Web",
            "campaign": make_campaign(company).pk, **extra}  # fmt: skip


# --- a rule added to the service reaches every door ------------------------------------------------


def test_a_new_rule_refuses_the_form(cast, client_for, refuse_rule):
    refuse_rule()
    response = client_for(cast.a.sdr1).post(page_url("create", cast.a.company), {**new_lead(cast.a.company),
                                                                                 "stage": "awareness"})  # fmt: skip
    assert (response.status_code, response.context["form"].errors) == (200, {"last_name": [REFUSED]})
    assert Lead.objects.count() == 0


def test_a_new_rule_refuses_the_api(cast, refuse_rule):
    refuse_rule()
    response = api_for(cast.a.sdr1).post(api_url(cast.a.company), new_lead(cast.a.company), format="json")
    assert (response.status_code, response.json()) == (400, {"last_name": [REFUSED]})
    assert Lead.objects.count() == 0


def test_a_new_rule_refuses_an_edit(cast, refuse_rule):
    lead = make_lead(cast.a.company, cast.a.sdr1, owner=cast.a.sdr1)
    refuse_rule()
    response = api_for(cast.a.sdr1).patch(api_url(cast.a.company, f"leads/{lead.pk}"), {"last_name": "Refuse"},
                                          format="json")  # fmt: skip
    assert (response.status_code, response.json()) == (400, {"last_name": [REFUSED]})
    assert Lead.objects.get(pk=lead.pk).last_name == lead.last_name


def test_a_new_rule_refuses_a_scraped_profile(cast, refuse_rule):
    refuse_rule()
    with pytest.raises(ValidationError) as refused:
        lead_create_from_profile(company=cast.a.company, actor=cast.a.sdr1, campaign=make_campaign(cast.a.company),
                                 profile={"name": "Rita Refuse", "email": "rita@refuse.example"})  # fmt: skip
    assert refused.value.message_dict == {"last_name": [REFUSED]}
    assert Lead.objects.count() == 0


def test_a_new_rule_refuses_the_admin(cast, client_for, refuse_rule):
    refuse_rule()
    data = {**new_lead(cast.a.company), "company": cast.a.company.pk, "stage": "awareness",
            "custom_fields": "{}", "profile_data": "{}"}  # fmt: skip
    response = client_for(cast.a.manager).post(reverse("admin:leads_lead_add"), data)
    assert (response.status_code, response.context["adminform"].form.errors) == (200, {"last_name": [REFUSED]})
    assert Lead.objects.count() == 0


def test_a_new_rule_refuses_a_bulk_field_change_and_nothing_is_applied(cast, refuse_rule):
    refused, fine = make_lead(cast.a.company, last_name="Refuse"), make_lead(cast.a.company, last_name="Fine")
    before = refused.campaign_id
    refuse_rule()
    other = make_campaign(cast.a.company, "Spring")
    job = bulk.bulk_job_create(actor=cast.a.admin, operation="campaign", params={"campaign": other.pk},
                               lead_ids=[refused.pk, fine.pk])  # fmt: skip
    job = bulk.bulk_job_start(job)
    assert (job.status, job.error) == (
        BulkJobStatus.FAILED,
        f"1 lead(s) cannot make this change: #{refused.pk} Lena Refuse (last name: We do not take leads called "
        "Refuse). Nothing was changed.",
    )
    assert set(Lead.objects.values_list("campaign_id", flat=True)) == {before}


def test_a_new_rule_refuses_an_import(cast, refuse_rule):
    refuse_rule()
    upload = SimpleUploadedFile("leads.csv", b"email,first_name,last_name\nrita@refuse.example,Rita,Refuse\n")
    job = import_job_create(company=cast.a.company, actor=cast.a.manager, upload=upload,
                            options=ImportOptions(campaign_id=make_campaign(cast.a.company).pk))  # fmt: skip
    job = import_job_start(job=job, actor=cast.a.manager)
    assert (job.status, job.errors) == (
        ImportStatus.FAILED,
        [{"row": 2, "column": "last_name", "value": "Refuse", "message": REFUSED}],
    )
    assert Lead.objects.count() == 0


# --- every field's error at once -------------------------------------------------------------------


def test_the_api_answers_one_400_with_every_fields_error(cast):
    body = new_lead(cast.a.company, email="ana@", status=999_999, first_name="x" * 101, phone="12",
                    custom_fields={"budget": 10})  # fmt: skip
    response = api_for(cast.a.sdr1).post(api_url(cast.a.company), body, format="json")
    assert (response.status_code, response.json()) == (400, {
        "status": ["Choose a valid status of this company."],
        "email": ["Enter a valid email address."],
        "phone": ["Enter a valid phone number for GB or in +country format."],
        "first_name": ["Ensure this value has at most 100 characters (it has 101)."],
        "custom_fields.budget": ["Unknown custom field 'budget'."],
    })  # fmt: skip
    assert Lead.objects.count() == 0


def test_the_form_shows_every_fields_error_at_once(cast, client_for):
    make_custom_field(cast.a.company, "budget", "number")
    response = client_for(cast.a.sdr1).post(page_url("create", cast.a.company), {
        "first_name": "x" * 101, "email": "nope", "phone": "123", "lead_source": "Web", "stage": "awareness",
        "cf_budget": "lots",
    })  # fmt: skip
    assert (response.status_code, response.context["form"].errors) == (200, {
        "first_name": ["Ensure this value has at most 100 characters (it has 101)."],
        "cf_budget": ["Enter a number."],
        "email": ["Enter a valid email address."],
        "phone": ["Enter a valid phone number for GB or in +country format."],
        "campaign": ["Campaign is required."],
    })  # fmt: skip
    assert Lead.objects.count() == 0


def test_the_edit_form_shows_every_error_and_leaves_the_lead_unchanged(cast, client_for):
    lead = make_lead(cast.a.company, cast.a.sdr1, owner=cast.a.sdr1, first_name="Nia")
    client = client_for(cast.a.sdr1)
    form = client.get(page_url("edit", cast.a.company, lead_id=lead.pk)).context["form"]
    data = {**{k: v for k, v in form.initial.items() if v is not None}, "campaign": lead.campaign_id}
    response = client.post(page_url("edit", cast.a.company, lead_id=lead.pk),
                           {**data, "first_name": "x" * 101, "email": "nope"})  # fmt: skip
    assert response.context["form"].errors == {
        "first_name": ["Ensure this value has at most 100 characters (it has 101)."],
        "email": ["Enter a valid email address."],
    }
    assert Lead.objects.filter(pk=lead.pk).values_list("first_name", "email").get() == ("Nia", lead.email)


def test_lead_prepare_reports_every_rule_in_one_error(cast, refuse_rule):
    refuse_rule()
    with pytest.raises(ValidationError) as refused:
        services.lead_prepare(company=cast.a.company, actor=cast.a.sdr1, data={
            "last_name": "Refuse", "email": "nope", "country": "Atlantis", "owner": cast.a.sdr2.pk, "lead_source": "",
            "status": status(cast.a.company, "qualified").pk, "colour": "teal", "dnd": "maybe",
        })  # fmt: skip
    assert refused.value.message_dict == {
        "colour": ["Unknown field."],
        "campaign": ["Campaign is required."],
        "owner": ["Only managers and admins assign leads to someone else."],
        "email": ["Enter a valid email address."],
        "lead_source": ["Lead source is required."],
        "country": ["Ensure this value has at most 2 characters (it has 8)."],
        "dnd": ["“maybe” value must be either True or False."],
        "status": ["A lead cannot move from New to Qualified."],
        "last_name": [REFUSED],
    }


# --- lead_prepare: in memory, no query per row with a batch -----------------------------------------


def test_lead_prepare_with_a_batch_checks_many_rows_without_a_query_per_row(cast, django_assert_num_queries):
    campaign, contacted = make_campaign(cast.a.company), status(cast.a.company, "contacted")
    batch = services.LeadBatch.of(cast.a.company, cast.a.manager)
    with django_assert_num_queries(1):  # the workflow rule of the one distinct move, asked once
        leads = [
            services.lead_prepare(
                company=cast.a.company,
                actor=cast.a.manager,
                batch=batch,
                data={
                    "email": f" Row{i}@Batch.example",
                    "last_name": "Row",
                    "lead_source": "File",
                    "campaign": campaign,
                    "owner": cast.a.sdr1,
                    "status": contacted,
                },
            )  # fmt: skip
            for i in range(3)
        ]
    assert [(lead.pk, lead.email, lead.email_key, lead.status.key, lead.requested_status) for lead in leads] == [
        (None, f"row{i}@batch.example", f"row{i}@batch.example", "new", contacted) for i in range(3)
    ]
    assert Lead.objects.count() == 0


def test_a_batch_still_refuses_a_campaign_of_another_company(cast):
    batch = services.LeadBatch.of(cast.a.company, cast.a.manager)
    with pytest.raises(ValidationError) as refused:
        services.lead_prepare(company=cast.a.company, actor=cast.a.manager, batch=batch, data={
            "email": "ana@acme.example", "lead_source": "File", "campaign": make_campaign(cast.b.company),
        })  # fmt: skip
    assert refused.value.message_dict == {"campaign": ["Choose a valid campaign of this company."]}


def test_a_new_lead_must_fill_a_required_custom_field_at_every_door(cast):
    make_custom_field(cast.a.company, "region", required=True)
    response = api_for(cast.a.sdr1).post(api_url(cast.a.company), new_lead(cast.a.company, last_name="Ok"),
                                         format="json")  # fmt: skip
    assert (response.status_code, response.json()) == (400, {"custom_fields.region": ["Region is required."]})


def test_create_moves_a_new_lead_to_the_status_asked_for_as_a_transition(cast):
    lead = services.lead_create(company=cast.a.company, actor=cast.a.sdr1, data={
        **new_lead(cast.a.company, last_name="Ok"), "status": status(cast.a.company, "contacted"),
    })  # fmt: skip
    moves = list(lead.status_changes.order_by("pk").values_list("from_status__key", "to_status__key"))
    assert (lead.status.key, moves) == ("contacted", [(None, "new"), ("new", "contacted")])


# --- match keys -----------------------------------------------------------------------------------


def test_match_keys_normalise_every_identifier():
    keys = match_keys(email=" Ana@Acme.Example ", phone="020 7946 0000", country="GB",
                      profile_url="http://www.linkedin.com/in/Ana-Souza/?utm_source=x", company_name="ACME, Inc.",
                      first_name="Ána", last_name="Souza")  # fmt: skip
    assert keys == MatchKeys("ana@acme.example", "+442079460000", "https://linkedin.com/in/ana-souza", "acme",
                             "ana souza")  # fmt: skip
    assert match_keys(phone="+44 20 7946 0000", phone_key="given").phone_key == "given"


def test_the_stored_keys_are_the_keys_of_the_leads_values(cast):
    lead = make_lead(
        cast.a.company, phone="020 7946 0000", company_name="Acme Ltd", profile_url="https://www.linkedin.com/in/x"
    )
    stored = Lead.objects.values_list("email_key", "phone_key", "profile_url_key", "company_key", "name_key").get()
    assert MatchKeys(*stored) == lead_keys(lead)


# --- the workflow's one check ----------------------------------------------------------------------


def test_the_transition_check_asks_the_workflow_once_per_distinct_move(cast, django_assert_num_queries):
    first, second = make_lead(cast.a.company), make_lead(cast.a.company)
    first.status, second.status = status(cast.a.company, "new"), status(cast.a.company, "new")
    check = TransitionCheck(cast.a.sdr1)
    contacted, unqualified = status(cast.a.company, "contacted"), status(cast.a.company, "unqualified")
    with django_assert_num_queries(2):
        verdicts = [check.problem(first, contacted), check.problem(second, contacted),
                    check.problem(first, unqualified), check.problem(second, unqualified)]  # fmt: skip
    assert [v and v.message_dict for v in verdicts] == [None, None, *[
        {"note": ["A note is required to move from New to Unqualified."]}] * 2]  # fmt: skip


def test_bulk_status_uses_the_workflows_messages(cast):
    lead = make_lead(cast.a.company)
    StatusTransition.objects.filter(company=cast.a.company, to_status__key="contacted").update(allowed_roles=["admin"])
    job = bulk.bulk_job_create(actor=cast.a.manager, operation="status", lead_ids=[lead.pk],
                               params={"status": status(cast.a.company, "contacted").pk})  # fmt: skip
    job = bulk.bulk_job_start(job)
    assert (job.status, job.error) == (
        BulkJobStatus.FAILED,
        f"1 lead(s) cannot make this change: #{lead.pk} {lead.display_name} (Your role (Manager) may not move a "
        "lead from New to Contacted). Nothing was changed.",
    )


def test_entering_a_conversion_target_stamps_the_conversion(cast):
    converted, contacted = status(cast.a.company, "converted"), status(cast.a.company, "contacted")
    assert status_values(converted, "now") == {"status": converted, "status_changed_at": "now",
                                               "converted_at": "now", "stage": "converted"}  # fmt: skip
    assert status_values(contacted, "now") == {"status": contacted, "status_changed_at": "now"}


def test_the_form_takes_a_country_by_name(cast, client_for):
    response = client_for(cast.a.sdr1).post(page_url("create", cast.a.company), {**new_lead(cast.a.company),
                                            "last_name": "Kraus", "country": "Deutschland", "stage": "awareness"})  # fmt: skip
    assert response.status_code == 302
    assert Lead.objects.get(last_name="Kraus").country == "DE"


# --- a possible phone number outside the numbering plan is kept, with a warning ---------------------

PLACEHOLDER_PHONE = "07700 900123"  # UK "drama" range: the right length, never allocated
KEPT_AS = "+44 7700 900123"
WARNING = "The phone number is not in use in GB: check it."


def test_the_form_keeps_a_possible_phone_with_a_quality_warning(cast, client_for):
    data = new_lead(cast.a.company, last_name="Kept", email="rita@northwind.co.uk", phone=PLACEHOLDER_PHONE)
    response = client_for(cast.a.sdr1).post(page_url("create", cast.a.company), {**data, "stage": "awareness"})
    lead = Lead.objects.get()
    assert (response.status_code, lead.phone, lead.phone_key) == (302, KEPT_AS, "")
    assert (lead.validation_status, quality.check(lead).reasons) == ("suspect", [WARNING])


def test_the_api_keeps_a_possible_phone_and_refuses_an_impossible_one(cast):
    client = api_for(cast.a.sdr1)
    kept = client.post(api_url(cast.a.company), new_lead(cast.a.company, last_name="Kept", phone=PLACEHOLDER_PHONE),
                       format="json")  # fmt: skip
    refused = client.post(api_url(cast.a.company),
                          new_lead(cast.a.company, last_name="Short", email="s@refuse.example", phone="12"),
                          format="json")  # fmt: skip
    assert (kept.status_code, kept.json()["phone"]) == (201, KEPT_AS)
    assert (refused.status_code, refused.json()) == (
        400, {"phone": ["Enter a valid phone number for GB or in +country format."]},
    )  # fmt: skip


def test_an_import_keeps_a_possible_phone_instead_of_refusing_the_file(cast):
    upload = SimpleUploadedFile(
        "leads.csv",
        b"email,first_name,last_name,phone\nkim@northwind.co.uk,Kim,Kept,07700 900123\n"
        b"lee@northwind.co.uk,Lee,Fine,020 7946 0958\n",
    )
    job = import_job_create(company=cast.a.company, actor=cast.a.manager, upload=upload,
                            options=ImportOptions(campaign_id=make_campaign(cast.a.company).pk))  # fmt: skip
    job = import_job_start(job=job, actor=cast.a.manager)
    assert (job.status, job.created_count, job.errors) == (ImportStatus.SUCCEEDED, 2, [])
    rows = dict(Lead.objects.values_list("last_name", "phone"))
    keys = dict(Lead.objects.values_list("last_name", "phone_key"))
    assert (rows, keys) == ({"Kept": KEPT_AS, "Fine": "020 7946 0958"}, {"Kept": "", "Fine": "+442079460958"})
    assert dict(Lead.objects.values_list("last_name", "validation_status")) == {"Kept": "suspect", "Fine": "valid"}
