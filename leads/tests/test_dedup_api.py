"""The duplicates and merge API: queue, a lead's matches, merge with preview and undo, rules."""

import pytest
from rest_framework.test import APIClient

from leads.dedup import merge
from leads.models import CandidateStatus, DuplicateCandidate, DuplicateRule, Lead, MergeRecord
from leads.testing.factories import make_campaign, make_duplicate_pair, make_lead

FORBIDDEN = {"detail": "You do not have permission to perform this action."}
NOT_FOUND = {"detail": "Not found."}


def api_for(membership) -> APIClient:
    client = APIClient()
    client.force_authenticate(membership.user)
    return client


def url(company, path: str) -> str:
    return f"/api/companies/{company.pk}/{path}"


@pytest.fixture
def pair(cast):
    return make_duplicate_pair(cast.a.company, first_name="Ana", last_name="Souza", email="ana@acme.example")


def test_creating_an_exact_duplicate_is_a_400_naming_the_leads_beside_the_field(cast, pair):
    first, second, _ = pair
    response = api_for(cast.a.sdr1).post(url(cast.a.company, "leads"), {
        "first_name": "Ana", "email": "ANA@acme.example", "lead_source": "Partner",
        "campaign": make_campaign(cast.a.company).pk}, format="json")  # fmt: skip
    assert (response.status_code, response.json()) == (
        400,
        {"email": [f"Same email as Ana Souza (#{first.pk}) and Ana Souza (#{second.pk})."]},
    )


def test_the_queue_lists_pairs_with_reasons_best_first(cast, pair):
    first, second, candidate = pair
    response = api_for(cast.a.manager).get(url(cast.a.company, "duplicates"))
    assert response.status_code == 200
    [row] = response.json()["results"]
    assert (row["id"], row["lead_a"], row["lead_b"], row["score"], row["status"], row["source"]) == (
        candidate.pk, first.pk, second.pk, 100, "pending", "created_anyway")  # fmt: skip
    assert row["reasons"] == [{"code": "email", "label": "same email", "score": 100}]


def test_sdrs_have_no_queue(cast, pair):
    response = api_for(cast.a.sdr1).get(url(cast.a.company, "duplicates"))
    assert (response.status_code, response.json()) == (403, FORBIDDEN)


def test_a_leads_possible_duplicates_with_reasons(cast, pair):
    first, second, _ = pair
    response = api_for(cast.a.sdr1).get(url(cast.a.company, f"leads/{first.pk}/duplicates"))
    assert response.json() == [{"lead": second.pk, "name": "Ana Souza", "owner_name": "", "score": 100,
                                "exact": True, "reasons": [{"code": "email", "label": "same email", "score": 100}]}]  # fmt: skip


def test_dismiss_through_the_api(cast, pair):
    candidate = pair[2]
    response = api_for(cast.a.admin).post(url(cast.a.company, f"duplicates/{candidate.pk}/dismiss"))
    assert (response.status_code, response.json()["status"]) == (200, "not_duplicate")
    again = api_for(cast.a.admin).post(url(cast.a.company, f"duplicates/{candidate.pk}/dismiss"))
    assert (again.status_code, again.json()) == (404, NOT_FOUND)  # it left the queue


def test_preview_merge_and_undo_through_the_api(cast, pair):
    first, second, _ = pair
    client = api_for(cast.a.manager)
    body = {"survivor": first.pk, "leads": [second.pk], "choices": {"last_name": second.pk}}
    preview = client.post(url(cast.a.company, "merges/preview"), body, format="json").json()
    fields = {row["name"]: row for row in preview["fields"]}
    assert (preview["survivor"], preview["leads"], fields["last_name"]["chosen"]) == (first.pk, [second.pk], second.pk)
    assert preview["moves"] == {str(second.pk): {"status changes": 1}}
    assert not Lead.objects.filter(merged_into__isnull=False).exists()
    response = client.post(url(cast.a.company, "merges"), body, format="json")
    assert response.status_code == 201
    record = response.json()
    assert (record["survivor"], record["leads"], record["undone_at"]) == (first.pk, [second.pk], None)
    assert [(m["model"], m["lead"]) for m in record["moves"]] == [("leads.statuschange", second.pk)]
    assert Lead.objects.get(pk=second.pk).merged_into_id == first.pk
    undone = client.post(url(cast.a.company, f"merges/{record['id']}/undo")).json()
    assert (undone["undo_report"], undone["undone_by"]) == ([], cast.a.manager.pk)
    twice = client.post(url(cast.a.company, f"merges/{record['id']}/undo"))
    assert twice.status_code == 400
    assert list(twice.json()) == ["record"]


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"survivor": 1, "leads": []}, {"leads": ["Choose at least two leads to merge."]}),
        ({"survivor": "{a}", "leads": ["{a}"]}, {"leads": ["A lead cannot be merged with itself: each lead may appear only once."]}),
        ({"survivor": "{a}", "leads": ["{other}"]}, {"leads": ["Lead #{other} is not a lead of Alpha; leads of different companies cannot be merged."]}),
        ({"survivor": "{a}", "leads": ["{b}"], "choices": {"email": "{other}"}}, {"choices": ["The value of email must come from one of the merged leads; #{other} is not one of them."]}),
        ({"survivor": "{a}", "leads": ["{b}"], "colour": 1}, {"colour": ["Unknown field."]}),
    ],
)  # fmt: skip
def test_bad_merge_requests_are_400_with_field_messages_and_change_nothing(body, errors, cast, pair):
    first, second, _ = pair
    other = make_lead(cast.b.company, cast.b.admin)
    fill = {"a": first.pk, "b": second.pk, "other": other.pk}

    def filled(value):
        if isinstance(value, str):
            return int(value.format(**fill)) if value.startswith("{") else value.format(**fill)
        if isinstance(value, list):
            return [filled(v) for v in value]
        if isinstance(value, dict):
            return {k: filled(v) for k, v in value.items()}
        return value

    response = api_for(cast.a.admin).post(url(cast.a.company, "merges"), filled(body), format="json")
    assert (response.status_code, response.json()) == (400, filled(errors))
    assert MergeRecord.objects.count() == 0


def test_another_companys_merge_is_404(cast, pair):
    other = make_duplicate_pair(cast.b.company, email="b@bravo.example")
    record = merge.leads_merge(actor=cast.b.admin, survivor=other[0], others=[other[1]])
    client = api_for(cast.a.admin)
    assert client.get(url(cast.a.company, f"merges/{record.pk}")).status_code == 404
    assert client.post(url(cast.a.company, f"merges/{record.pk}/undo")).status_code == 404
    assert Lead.objects.get(pk=other[1].pk).merged_into_id == other[0].pk


def test_admins_read_and_change_the_rule_managers_only_read_it(cast):
    manager, admin = api_for(cast.a.manager), api_for(cast.a.admin)
    assert manager.get(url(cast.a.company, "duplicate-rule")).json() == {
        "match_email": True, "match_phone": True, "match_profile_url": True, "match_name_company": True,
        "match_company_domain": True, "name_threshold": 88, "company_threshold": 85, "custom_field_keys": [],
        "free_mail_domains": []}  # fmt: skip
    denied = manager.patch(url(cast.a.company, "duplicate-rule"), {"name_threshold": 90}, format="json")
    assert (denied.status_code, denied.json()) == (403, FORBIDDEN)
    response = admin.patch(url(cast.a.company, "duplicate-rule"), {"name_threshold": 90, "match_phone": False},
                           format="json")  # fmt: skip
    assert (response.status_code, response.json()["name_threshold"], response.json()["match_phone"]) == (200, 90, False)
    bad = admin.patch(url(cast.a.company, "duplicate-rule"), {"company_threshold": 101}, format="json")
    assert (bad.status_code, bad.json()) == (
        400,
        {"company_threshold": ["Give a whole percentage between 50 and 100."]},
    )
    assert DuplicateRule.objects.get().company_threshold == 85


def test_scan_now_through_the_api(cast, pair):
    DuplicateCandidate.objects.all().delete()
    response = api_for(cast.a.admin).post(url(cast.a.company, "duplicates/scan"))
    assert (response.status_code, response.json()) == (202, {"queued": True})
    assert DuplicateCandidate.objects.get().status == CandidateStatus.PENDING
