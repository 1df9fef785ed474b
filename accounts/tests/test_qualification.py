"""Qualification: the scoring table at every threshold edge, the company's editable settings, and the
qualify service moving the lead through the workflow."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from accounts.models import Qualification, QualificationSettings
from accounts.qualification import (
    bant_prefill,
    lead_qualify,
    qualification_settings_update,
    score_answers,
    settings_for,
)
from leads import services as lead_services
from leads.models import Lead, StatusChange
from leads.testing.factories import make_lead, status
from nurturing.models import Enrolment
from nurturing.testing.factories import make_sequence

FULL_BANT = {"budget": "50k", "authority": "CFO signs", "need": "Replace spreadsheets", "timeline": "Q3"}
MEDDICC_KEYS = ("metrics", "economic_buyer", "decision_criteria", "decision_process", "identify_pain", "champion",
                "competition")  # fmt: skip


def bant(*keys):
    return {key: FULL_BANT[key] for key in keys}


def meddicc(count):
    return dict.fromkeys(MEDDICC_KEYS[:count], "yes")


def errors_of(func, **kwargs):
    with pytest.raises(ValidationError) as error:
        func(**kwargs)
    return error.value.message_dict


def contacted_lead(cast, **data):
    lead = make_lead(cast.a.company, cast.a.sdr1, owner=cast.a.sdr1, **data)
    return lead_services.lead_transition(actor=cast.a.sdr1, lead=lead, to_status=status(cast.a.company, "contacted"))


# --- the scoring table ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bant_keys", "meddicc_count", "expected"),
    [
        ((), 0, (False, 0, ["Budget", "Authority", "Need", "Timeline"], "disqualify")),
        (("budget",), 0, (False, 25, ["Authority", "Need", "Timeline"], "disqualify")),
        (("budget",), 4, (False, 45, ["Authority", "Need", "Timeline"], "disqualify")),
        (("budget",), 7, (False, 45, ["Authority", "Need", "Timeline"], "disqualify")),  # MEDDICC capped at 20
        (("budget", "need"), 0, (False, 50, ["Authority", "Timeline"], "nurture_more")),  # 50: nurture more
        (("budget", "need"), 4, (False, 70, ["Authority", "Timeline"], "nurture_more")),
        (("budget", "need", "timeline"), 0, (True, 75, ["Authority"], "qualified")),  # 75: qualified
        (("budget", "authority", "need", "timeline"), 0, (True, 100, [], "qualified")),
        (("budget", "authority", "need", "timeline"), 7, (True, 100, [], "qualified")),  # capped at 100
        ((), 7, (False, 20, ["Budget", "Authority", "Need", "Timeline"], "disqualify")),
    ],
)  # fmt: skip
def test_the_guides_default_scoring_table(bant_keys, meddicc_count, expected):
    result = score_answers(bant(*bant_keys), meddicc(meddicc_count), QualificationSettings())
    assert (result.is_qualified, result.qualification_score, result.missing_criteria, result.recommendation) == expected


@pytest.mark.parametrize(
    ("bant_keys", "score", "recommendation"),
    [
        (("budget",), 49, "disqualify"),
        (("budget", "authority"), 50, "nurture_more"),
        (("budget", "authority", "need"), 74, "nurture_more"),
        (("budget", "authority", "need", "timeline"), 75, "qualified"),
    ],
)
def test_each_threshold_edge_with_company_weights(bant_keys, score, recommendation):
    settings = QualificationSettings(budget_weight=49, authority_weight=1, need_weight=24, timeline_weight=1)
    result = score_answers(bant(*bant_keys), {}, settings)
    assert (result.qualification_score, result.recommendation, result.is_qualified) == (
        score, recommendation, recommendation == "qualified"
    )  # fmt: skip


def test_company_thresholds_move_the_edges():
    settings = QualificationSettings(qualified_at=60, nurture_at=30, meddicc_weight=10, meddicc_cap=30)
    assert score_answers(bant("budget"), meddicc(0), settings).recommendation == "disqualify"  # 25 < 30
    assert score_answers(bant("budget"), meddicc(1), settings).recommendation == "nurture_more"  # 35
    assert score_answers(bant("budget", "need"), meddicc(1), settings).recommendation == "qualified"  # 60
    assert score_answers(bant("budget"), meddicc(7), settings).qualification_score == 55  # cap 30


def test_blank_answers_count_as_missing():
    result = score_answers({"budget": "  ", "authority": "CEO"}, {"champion": ""}, QualificationSettings())
    assert (result.qualification_score, result.missing_criteria) == (25, ["Budget", "Need", "Timeline"])


# --- settings ---------------------------------------------------------------------------------------------


def test_an_admin_edits_the_settings_and_new_scorecards_use_them(cast):
    assert settings_for(cast.a.company).pk is None  # defaults until edited
    saved = qualification_settings_update(actor=cast.a.admin, company=cast.a.company,
                                          data={"qualified_at": "60", "nurture_at": 40, "min_lead_score": 30})  # fmt: skip
    assert (saved.qualified_at, saved.nurture_at, saved.min_lead_score, saved.budget_weight) == (60, 40, 30, 25)
    assert saved.history.first().history_change_reason == "accounts.qualification_settings.changed"
    assert settings_for(cast.b.company).qualified_at == 75  # the other company keeps the defaults
    lead = contacted_lead(cast)
    outcome = lead_qualify(actor=cast.a.sdr1, lead=lead, bant=bant("budget", "need"), meddicc=meddicc(2))
    assert (outcome.result.qualification_score, outcome.result.recommendation) == (60, "qualified")
    assert outcome.qualification.weights["qualified_at"] == 60


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"qualified_at": 101}, {"qualified_at": ["Enter a whole number from 0 to 100."]}),
        ({"budget_weight": "ten"}, {"budget_weight": ["Enter a whole number from 0 to 100."]}),
        ({"need_weight": None}, {"need_weight": ["Enter a whole number from 0 to 100."]}),
        ({"nurture_at": 80}, {"nurture_at": ["Nurture more starts at or below the qualified score."]}),
        ({"budget_weight": 0, "authority_weight": 0, "meddicc_cap": 10},
         {"qualified_at": ["No lead could qualify: the weights add up to 60 at most."]}),
        ({"colour": "red"}, {"colour": ["Unknown field."]}),
    ],
)  # fmt: skip
def test_bad_settings_name_the_field_and_change_nothing(cast, data, expected):
    assert errors_of(qualification_settings_update, actor=cast.a.admin, company=cast.a.company, data=data) == expected
    assert QualificationSettings.objects.count() == 0


def test_only_admins_edit_the_settings(cast):
    with pytest.raises(PermissionDenied):
        qualification_settings_update(actor=cast.a.manager, company=cast.a.company, data={"qualified_at": 60})
    with pytest.raises(PermissionDenied):
        qualification_settings_update(actor=cast.b.admin, company=cast.a.company, data={"qualified_at": 60})
    assert QualificationSettings.objects.count() == 0


# --- the qualify service ----------------------------------------------------------------------------------


def test_a_qualified_scorecard_moves_a_contacted_lead_to_qualified_through_the_workflow(cast):
    lead = contacted_lead(cast)
    outcome = lead_qualify(actor=cast.a.sdr1, lead=lead, bant=FULL_BANT, meddicc=meddicc(2), risk_score="medium")
    assert outcome.result.as_dict() == {
        "is_qualified": True, "qualification_score": 100, "missing_criteria": [], "recommendation": "qualified",
    }  # fmt: skip
    assert (outcome.status_changed, outcome.status_error, outcome.lead.status.key) == (True, "", "qualified")
    assert StatusChange.objects.filter(lead=lead).latest("id").to_status.key == "qualified"
    qualification = Qualification.objects.get(lead=lead)
    assert (qualification.bant, qualification.risk_score, qualification.qualified_by) == (
        FULL_BANT, "medium", cast.a.sdr1
    )  # fmt: skip
    row = qualification.history.get()
    assert (row.history_change_reason, row.history_user) == ("accounts.qualification.recorded", cast.a.sdr1.user)


def test_a_refused_transition_keeps_the_scorecard_and_says_why(cast):
    lead = make_lead(cast.a.company, cast.a.sdr1, owner=cast.a.sdr1)  # New: the workflow has no New → Qualified
    outcome = lead_qualify(actor=cast.a.sdr1, lead=lead, bant=FULL_BANT)
    assert (outcome.status_changed, outcome.status_error) == (False, "A lead cannot move from New to Qualified.")
    assert Lead.objects.get(pk=lead.pk).status.key == "new"
    assert Qualification.objects.get(lead=lead).is_qualified is True


def test_disqualifying_needs_the_workflows_note(cast):
    lead = contacted_lead(cast)
    outcome = lead_qualify(actor=cast.a.sdr1, lead=lead, bant=bant("budget"))
    assert (outcome.result.recommendation, outcome.status_error) == (
        "disqualify", "A note is required to move from Contacted to Unqualified."
    )  # fmt: skip
    assert Lead.objects.get(pk=lead.pk).status.key == "contacted"
    outcome = lead_qualify(actor=cast.a.sdr1, lead=lead, bant=bant("budget"), note="No budget this year")
    assert (outcome.status_changed, outcome.lead.status.key) == (True, "unqualified")
    assert StatusChange.objects.filter(lead=lead).latest("id").note == "No budget this year"


def test_nurture_more_keeps_the_status_and_enrols_in_the_nurture_more_sequence(cast):
    sequence = make_sequence(cast.a.company, trigger="nurture_more")
    make_sequence(cast.a.company, trigger="manual")
    lead = contacted_lead(cast, gdpr_consent=True)
    outcome = lead_qualify(actor=cast.a.sdr1, lead=lead, bant=bant("budget", "need"))
    assert (outcome.result.recommendation, outcome.status_changed, outcome.lead.status.key) == (
        "nurture_more", False, "contacted"
    )  # fmt: skip
    assert [e.sequence_id for e in outcome.enrolments] == [sequence.pk]
    assert list(Enrolment.objects.filter(lead=lead).values_list("sequence_id", flat=True)) == [sequence.pk]


def test_qualifying_again_keeps_the_earlier_scorecards_in_history(cast):
    lead = contacted_lead(cast)
    lead_qualify(actor=cast.a.sdr1, lead=lead, bant=bant("budget", "need"))
    lead_qualify(actor=cast.a.manager, lead=lead, bant=FULL_BANT)
    qualification = Qualification.objects.get(lead=lead)
    assert (qualification.score, qualification.qualified_by) == (100, cast.a.manager)
    scores = list(qualification.history.order_by("history_id").values_list("score", "history_user__email"))
    assert scores == [(50, "sdr1@alpha.test"), (100, "manager@alpha.test")]


def test_bant_is_prefilled_from_the_leads_fields(cast):
    lead = contacted_lead(cast, budget_range="10-50k", authority_level="decision_maker", need="CRM", timeline="")
    assert bant_prefill(lead) == {"budget": "10-50k", "authority": "Decision maker", "need": "CRM", "timeline": ""}
    outcome = lead_qualify(actor=cast.a.sdr1, lead=lead)
    assert (outcome.result.qualification_score, outcome.result.missing_criteria) == (75, ["Timeline"])
    assert outcome.qualification.bant == {"budget": "10-50k", "authority": "Decision maker", "need": "CRM"}


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"bant": {"budgett": "x"}}, {"bant.budgett": ["Unknown criterion; use budget, authority, need, timeline."]}),
        ({"bant": ["budget"]}, {"bant": ["Give an object of answers with the keys budget, authority, need, timeline."]}),
        ({"meddicc": {"champion": 3}}, {"meddicc.champion": ["Give the answer as text."]}),
        ({"meddicc": {"champion": "x" * 1001}}, {"meddicc.champion": ["Keep answers under 1,000 characters."]}),
        ({"risk_score": "extreme"}, {"risk_score": ["Choose one of low, medium, high."]}),
    ],
)  # fmt: skip
def test_bad_answers_name_the_field_and_change_nothing(cast, kwargs, expected):
    lead = contacted_lead(cast)
    kwargs.setdefault("bant", FULL_BANT)
    assert errors_of(lead_qualify, actor=cast.a.sdr1, lead=lead, **kwargs) == expected
    assert Qualification.objects.count() == 0
    assert Lead.objects.get(pk=lead.pk).status.key == "contacted"


def test_another_companys_member_cannot_qualify(cast):
    lead = contacted_lead(cast)
    with pytest.raises(PermissionDenied):
        lead_qualify(actor=cast.b.admin, lead=lead, bant=FULL_BANT)
    assert Qualification.objects.count() == 0
