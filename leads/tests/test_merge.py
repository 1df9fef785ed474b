"""Merging leads and undoing merges: what moves, what stays, what is refused, and exact undo."""

import pytest
from django.apps import apps
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection

from crm.models import Activity, Membership
from leads import services, timeline
from leads.assignment import lead_assign
from leads.dedup import merge, undo
from leads.models import (
    CandidateStatus,
    DuplicateCandidate,
    EngagementEvent,
    Lead,
    LeadAssignment,
    LeadComment,
    MergeRecord,
    StatusChange,
)
from leads.queries import leads_visible_to
from leads.scoring.services import engagement_record
from leads.testing.factories import make_comment, make_lead, status

# --- helpers ----------------------------------------------------------------------------------------


def database_rows() -> dict[str, list[tuple]]:
    """Every row of every table except history (audit grows), merge records and leads' updated_at."""
    rows = {}
    for model in apps.get_models():
        if merge._is_historical(model) or model is MergeRecord or model._meta.app_label == "sessions":
            continue
        columns = [f.attname for f in model._meta.concrete_fields if not (model is Lead and f.name == "updated_at")]
        rows[model._meta.label] = list(model._base_manager.order_by("pk").values_list(*columns))
    return rows


def history_rows() -> dict[str, list[tuple]]:
    return {
        model._meta.label: list(model.objects.order_by("history_id").values_list("history_id", "history_change_reason"))
        for model in apps.get_models()
        if merge._is_historical(model)
    }


def new_history_reasons(before: dict, after: dict) -> set[str]:
    reasons = set()
    for label, rows in after.items():
        known = set(before.get(label, []))
        reasons |= {reason for row_id, reason in rows if (row_id, reason) not in known}
    return reasons


def tombstone_ids(company) -> list[int]:
    return sorted(Lead.objects.filter(company=company, merged_into__isnull=False).values_list("pk", flat=True))


@pytest.fixture
def trio(cast):
    """Three records of one person in company a, each with its own comments, activities, statuses,
    assignments and engagement; plus a lead in company b."""
    a = cast.a
    survivor = make_lead(a.company, a.admin, first_name="Ana", last_name="Souza", email="ana@acme.example",
                         company_name="Acme", job_title="")  # fmt: skip
    copy = make_lead(a.company, a.admin, first_name="Ana", last_name="Sousa", email="", phone="+44 20 7946 0018",
                     company_name="Acme Ltd", job_title="CTO", custom_fields={})  # fmt: skip
    third = make_lead(a.company, a.admin, first_name="Anna", last_name="Souza", email="", company_name="ACME",
                      profile_url="https://linkedin.com/in/ana-souza", job_title="Chief Technology Officer")  # fmt: skip
    for lead in (survivor, copy, third):
        make_comment(lead, a.manager, f"About {lead.pk}")
        services.activity_log(actor=a.manager, lead=lead, kind="call", subject=f"Call {lead.pk}")
    engagement_record(lead=third, kind="email_open", key="msg-1")
    reply = make_comment(copy, a.admin, "A reply", parent=LeadComment.objects.get(lead=copy))
    services.lead_transition(actor=a.admin, lead=copy, to_status=status(a.company, "contacted"))
    lead_assign(actor=a.admin, lead=copy, owner=a.sdr1)
    other = make_lead(cast.b.company, cast.b.admin, first_name="Bravo", last_name="Lead")
    return {"survivor": survivor, "copy": copy, "third": third, "reply": reply, "other": other}


# --- merging ------------------------------------------------------------------------------------------


def test_a_merge_moves_every_relation_to_the_survivor_and_leaves_tombstones(cast, trio):
    survivor, copy, third = trio["survivor"], trio["copy"], trio["third"]
    record = merge.leads_merge(actor=cast.a.manager, survivor=survivor, others=[copy, third])
    ids = [survivor.pk, copy.pk, third.pk]
    assert LeadComment.objects.filter(lead_id__in=ids).values_list("lead_id", flat=True).distinct().get() == survivor.pk
    assert sorted(LeadComment.objects.filter(lead=survivor).values_list("body", flat=True)) == sorted(
        [f"About {survivor.pk}", f"About {copy.pk}", f"About {third.pk}", "A reply"]
    )
    assert Activity.objects.filter(object_id__in=[copy.pk, third.pk]).count() == 0
    assert Activity.objects.filter(object_id=survivor.pk, kind="call").count() == 3
    assert StatusChange.objects.filter(lead__in=[copy, third]).count() == 0
    assert LeadAssignment.objects.filter(lead=copy).count() == 0
    assert list(EngagementEvent.objects.values_list("lead_id", flat=True)) == [survivor.pk]
    assert tombstone_ids(cast.a.company) == sorted([copy.pk, third.pk])
    assert set(Lead.objects.filter(pk__in=[copy.pk, third.pk]).values_list("merged_into_id", flat=True)) == {
        survivor.pk
    }
    assert list(leads_visible_to(cast.a.admin).filter(pk__in=ids).values_list("pk", flat=True)) == [survivor.pk]
    assert (record.survivor_id, record.lead_ids, record.merged_by) == (survivor.pk, [copy.pk, third.pk], cast.a.manager)


def test_every_relation_of_the_model_graph_is_moved_including_ones_no_list_names(cast, trio):
    labels = {relation.label for relation in merge.lead_relations()}
    assert {"crm.activity", "leads.leadcomment", "leads.statuschange", "leads.leadassignment",
            "leads.engagementevent"} <= labels  # fmt: skip
    reverse = {
        rel.related_model._meta.label_lower
        for rel in Lead._meta.get_fields(include_hidden=True)
        if rel.auto_created and not rel.concrete and (rel.one_to_many or rel.one_to_one)
    }
    own_or_history = {
        label for label in reverse if label in merge.OWN_MODELS or label.split(".")[1].startswith("historical")
    }
    assert reverse - own_or_history - {"leads.lead"} <= labels
    record = merge.leads_merge(actor=cast.a.admin, survivor=trio["survivor"], others=[trio["copy"], trio["third"]])
    for relation in merge.lead_relations():
        assert relation.rows(trio["copy"].pk).count() == relation.rows(trio["third"].pk).count() == 0, relation.label
    assert {move["model"] for move in record.moves} == {
        "crm.activity", "leads.leadcomment", "leads.statuschange", "leads.leadassignment", "leads.engagementevent"
    }  # fmt: skip


def test_field_values_default_to_the_survivors_else_the_most_recent_non_empty(cast, trio):
    survivor, copy, third = trio["survivor"], trio["copy"], trio["third"]  # copy was updated last
    merge.leads_merge(actor=cast.a.admin, survivor=survivor, others=[copy, third])
    survivor.refresh_from_db()
    assert (survivor.first_name, survivor.last_name, survivor.email, survivor.phone, survivor.job_title) == (
        "Ana", "Souza", "ana@acme.example", "+44 20 7946 0018", "CTO"
    )  # fmt: skip
    assert (survivor.profile_url, survivor.company_name, survivor.owner) == (
        "https://linkedin.com/in/ana-souza", "Acme", cast.a.sdr1
    )  # fmt: skip
    assert (survivor.phone_key, survivor.profile_url_key) == ("+442079460018", "https://linkedin.com/in/ana-souza")


def test_chosen_values_win_and_the_survivor_history_says_it_was_a_merge(cast, trio):
    survivor, copy, third = trio["survivor"], trio["copy"], trio["third"]
    merge.leads_merge(actor=cast.a.admin, survivor=survivor, others=[copy, third],
                      choices={"last_name": copy.pk, "job_title": copy.pk, "email": survivor.pk})  # fmt: skip
    survivor.refresh_from_db()
    assert (survivor.last_name, survivor.job_title, survivor.name_key) == ("Sousa", "CTO", "ana sousa")
    latest = survivor.history.order_by("-history_id").first()
    assert (latest.history_change_reason, latest.history_user) == ("leads.lead.merged", cast.a.admin.user)
    assert copy.history.order_by("-history_id").first().history_change_reason == "leads.lead.merged"


def test_the_merge_resolves_the_queue_pairs_of_the_merged_leads(cast, trio):
    from leads import dedup

    dedup.duplicates_scan(company=cast.a.company)
    # survivor ~ copy and survivor ~ third; "Ana Sousa" and "Anna Souza" are too far apart.
    assert DuplicateCandidate.objects.filter(company=cast.a.company, status=CandidateStatus.PENDING).count() == 2
    record = merge.leads_merge(actor=cast.a.admin, survivor=trio["survivor"], others=[trio["copy"], trio["third"]])
    assert set(DuplicateCandidate.objects.filter(company=cast.a.company).values_list("status", flat=True)) == {
        CandidateStatus.MERGED
    }
    undo.merge_undo(actor=cast.a.admin, record=record)
    assert set(DuplicateCandidate.objects.filter(company=cast.a.company).values_list("status", flat=True)) == {
        CandidateStatus.PENDING
    }


def test_the_preview_shows_values_side_by_side_and_what_will_move(cast, trio):
    survivor, copy, third = trio["survivor"], trio["copy"], trio["third"]
    preview = merge.merge_preview(actor=cast.a.admin, survivor=survivor, others=[copy, third])
    rows = {row.name: row for row in preview.rows}
    assert rows["job_title"].values == [(survivor.pk, ""), (copy.pk, "CTO"), (third.pk, "Chief Technology Officer")]
    assert (rows["job_title"].chosen, rows["job_title"].differs) == (copy.pk, True)  # updated last
    assert (rows["email"].chosen, rows["lead_source"].differs) == (survivor.pk, False)
    assert [words for _, _, words in preview.moves[0][1]] == [
        "1 activity", "1 lead assignment", "2 lead comments", "2 status changes"]  # fmt: skip
    assert [words for _, _, words in preview.moves[1][1]] == [
        "1 activity", "1 engagement event", "1 lead comment", "1 status change"]  # fmt: skip
    assert preview.warnings == []


# --- undo -------------------------------------------------------------------------------------------


def test_merge_then_unmerge_leaves_the_database_exactly_as_before(cast, trio):
    before, history_before = database_rows(), history_rows()
    record = merge.leads_merge(actor=cast.a.admin, survivor=trio["survivor"], others=[trio["copy"], trio["third"]],
                               choices={"last_name": trio["copy"].pk})  # fmt: skip
    assert database_rows() != before
    undo.merge_undo(actor=cast.a.manager, record=record)
    assert database_rows() == before
    assert new_history_reasons(history_before, history_rows()) == {"leads.lead.merged", "leads.lead.unmerged"}
    record.refresh_from_db()
    assert (record.undone_by, record.undo_report) == (cast.a.manager, [])


def test_a_merge_cannot_be_undone_twice(cast, trio):
    record = merge.leads_merge(actor=cast.a.admin, survivor=trio["survivor"], others=[trio["copy"]])
    undo.merge_undo(actor=cast.a.admin, record=record)
    before = database_rows()
    with pytest.raises(ValidationError) as error:
        undo.merge_undo(actor=cast.a.admin, record=record.pk)
    record.refresh_from_db()
    assert error.value.message_dict == {
        "record": [f"Merge #{record.pk} was already undone by Alpha Admin on {record.undone_at:%Y-%m-%d %H:%M}."]
    }
    assert database_rows() == before


def test_an_unmerge_after_later_edits_keeps_them_and_says_what_it_could_not_restore(cast, trio):
    survivor, copy = trio["survivor"], trio["copy"]
    record = merge.leads_merge(actor=cast.a.admin, survivor=survivor, others=[copy],
                               choices={"job_title": copy.pk, "last_name": copy.pk})  # fmt: skip
    services.lead_update(actor=cast.a.admin, lead=survivor, data={"job_title": "VP Engineering"})
    later = make_comment(survivor, cast.a.admin, "Written after the merge")
    moved_away = LeadComment.objects.get(body=f"About {copy.pk}")
    LeadComment.objects.filter(parent=moved_away).delete()
    moved_away.delete()
    record = undo.merge_undo(actor=cast.a.admin, record=record)
    survivor.refresh_from_db()
    copy.refresh_from_db()
    assert (survivor.job_title, survivor.last_name, survivor.name_key) == ("VP Engineering", "Souza", "ana souza")
    assert copy.merged_into_id is None
    assert LeadComment.objects.get(pk=later.pk).lead_id == survivor.pk
    assert record.undo_report == [
        f"2 of the 2 lead comments moved from lead #{copy.pk} no longer exist or no longer belong to the survivor, "
        "so they were not moved back.",
        "Kept the change of job title made after the merge (now “VP Engineering”).",
    ]


def test_a_merge_into_a_lead_merged_again_is_undone_last(cast, trio):
    first = merge.leads_merge(actor=cast.a.admin, survivor=trio["copy"], others=[trio["third"]])
    second = merge.leads_merge(actor=cast.a.admin, survivor=trio["survivor"], others=[trio["copy"]])
    with pytest.raises(ValidationError) as error:
        undo.merge_undo(actor=cast.a.admin, record=first)
    assert error.value.message_dict == {"record": [
        f"Lead #{trio['copy'].pk} was merged again, into lead #{trio['survivor'].pk} (merge #{second.pk}): "
        "undo that merge first."]}  # fmt: skip
    undo.merge_undo(actor=cast.a.admin, record=second)
    undo.merge_undo(actor=cast.a.admin, record=first)
    assert tombstone_ids(cast.a.company) == []


# --- failure half-way ---------------------------------------------------------------------------------


def _fail_on_merge_record_insert():
    """A database trigger that rejects the merge record — the merge's last write — so the merge
    fails after it moved rows, tombstoned leads and updated the survivor."""
    table = MergeRecord._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(f"CREATE TRIGGER reject_merge BEFORE INSERT ON {table} "
                           "BEGIN SELECT RAISE(ABORT, 'injected failure'); END")  # fmt: skip
        else:
            cursor.execute("CREATE FUNCTION reject_merge() RETURNS trigger AS $$ BEGIN "
                           "RAISE EXCEPTION 'injected failure'; END $$ LANGUAGE plpgsql")  # fmt: skip
            cursor.execute(f"CREATE TRIGGER reject_merge BEFORE INSERT ON {table} "
                           "FOR EACH ROW EXECUTE FUNCTION reject_merge()")  # fmt: skip


def test_a_merge_that_fails_half_way_changes_nothing(cast, trio):
    _fail_on_merge_record_insert()
    before, history_before = database_rows(), history_rows()
    with pytest.raises(ValidationError) as error:
        merge.leads_merge(actor=cast.a.admin, survivor=trio["survivor"], others=[trio["copy"], trio["third"]],
                          choices={"job_title": trio["copy"].pk})  # fmt: skip
    assert error.value.messages[0].startswith("The merge could not be completed and nothing was changed (")
    assert "injected failure" in error.value.messages[0]
    assert database_rows() == before
    assert history_rows() == history_before
    assert MergeRecord.objects.count() == 0


def test_a_merge_whose_chosen_owner_left_fails_late_and_changes_nothing(cast, trio):
    copy = trio["copy"]  # owned by sdr1, who leaves the company before the merge is confirmed
    Membership.objects.filter(pk=cast.a.sdr1.pk).update(is_active=False)
    before, history_before = database_rows(), history_rows()
    with pytest.raises(ValidationError) as error:
        merge.leads_merge(actor=cast.a.admin, survivor=trio["survivor"], others=[copy], choices={"owner": copy.pk})
    assert error.value.message_dict == {"owner": ["Choose a valid owner of this company."]}
    assert (database_rows(), history_rows()) == (before, history_before)


# --- permissions and bad input ---------------------------------------------------------------------


def test_sdrs_cannot_merge_or_unmerge(cast, trio):
    with pytest.raises(PermissionDenied):
        merge.leads_merge(actor=cast.a.sdr1, survivor=trio["survivor"], others=[trio["copy"]])
    record = merge.leads_merge(actor=cast.a.admin, survivor=trio["survivor"], others=[trio["copy"]])
    with pytest.raises(PermissionDenied):
        undo.merge_undo(actor=cast.a.sdr1, record=record)


def test_nobody_merges_a_lead_they_cannot_see(cast, trio):
    hidden = make_lead(cast.a.company, cast.a.sdr2, owner=cast.a.sdr2, first_name="Ana", last_name="Souza")
    before = database_rows()
    with pytest.raises(ValidationError) as error:
        merge.leads_merge(actor=cast.a.manager, survivor=trio["survivor"], others=[hidden])
    assert error.value.message_dict == {"leads": [f"You cannot see or edit lead #{hidden.pk}, so you cannot merge it."]}
    assert database_rows() == before


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("one lead", "Choose at least two leads to merge."),
        ("itself", "A lead cannot be merged with itself: each lead may appear only once."),
        ("twice", "A lead cannot be merged with itself: each lead may appear only once."),
        ("two companies", "Lead #{other} is not a lead of Alpha; leads of different companies cannot be merged."),
        ("unknown", "Lead #999999 is not a lead of Alpha; leads of different companies cannot be merged."),
        ("tombstone", "Ana Sousa (#{copy}) was already merged into lead #{third}."),
        ("deleted", "Ana Sousa (#{copy}) is deleted; restore it first."),
        ("not an id", "“abc” is not a lead id."),
    ],
)
def test_bad_merge_input_gets_a_clear_message_and_changes_nothing(case, message, cast, trio):
    survivor, copy, third, other = trio["survivor"], trio["copy"], trio["third"], trio["other"]
    if case == "tombstone":
        merge.leads_merge(actor=cast.a.admin, survivor=third, others=[copy])
    if case == "deleted":
        services.lead_delete(actor=cast.a.admin, lead=copy)
    others = {
        "one lead": [], "itself": [survivor], "twice": [copy, copy], "two companies": [other],
        "unknown": [999999], "tombstone": [copy], "deleted": [copy], "not an id": ["abc"],
    }[case]  # fmt: skip
    before = database_rows()
    with pytest.raises(ValidationError) as error:
        merge.leads_merge(actor=cast.a.admin, survivor=survivor, others=others)
    assert error.value.messages == [message.format(other=other.pk, copy=copy.pk, third=third.pk)]
    assert database_rows() == before


def test_a_choice_naming_a_lead_outside_the_merge_or_an_unknown_field_is_refused(cast, trio):
    before = database_rows()
    with pytest.raises(ValidationError) as error:
        merge.leads_merge(actor=cast.a.admin, survivor=trio["survivor"], others=[trio["copy"]],
                          choices={"email": trio["third"].pk, "status": trio["copy"].pk})  # fmt: skip
    assert error.value.message_dict == {"choices": [
        f"The value of email must come from one of the merged leads; #{trio['third'].pk} is not one of them.",
        "“status” is not a field a merge can choose."]}  # fmt: skip
    assert database_rows() == before


def test_an_unmerge_of_an_unknown_or_foreign_record_is_refused(cast, trio):
    other = make_lead(cast.b.company, cast.b.admin, first_name="Bravo", last_name="Copy")
    foreign = merge.leads_merge(actor=cast.b.admin, survivor=trio["other"], others=[other])
    before = database_rows()
    for record in (foreign.pk, 999999, "x"):
        with pytest.raises(ValidationError) as error:
            undo.merge_undo(actor=cast.a.admin, record=record)
        assert error.value.message_dict == {"record": [f"There is no merge #{record} in Alpha."]}
    assert database_rows() == before


def _convert(lead, actor):
    for key in ("qualified", "converted"):  # the lead is contacted already; converted as the conversion does
        lead = services.lead_transition(actor=actor, lead=lead, to_status=status(lead.company, key),
                                        conversion=key == "converted")  # fmt: skip
    return lead


def test_a_converted_lead_merges_only_into_a_lead_that_is_not_converted(cast, trio):
    converted = _convert(trio["copy"], cast.a.admin)
    with pytest.raises(ValidationError) as error:
        merge.leads_merge(actor=cast.a.admin, survivor=converted, others=[trio["survivor"]])
    assert error.value.message_dict == {"survivor": [
        f"Ana Sousa (#{converted.pk}) is converted: keep a lead that is not converted and merge the converted one "
        "into it."]}  # fmt: skip
    preview = merge.merge_preview(actor=cast.a.admin, survivor=trio["survivor"], others=[converted])
    warning = (f"Ana Sousa (#{converted.pk}) was converted on {converted.converted_at:%Y-%m-%d}: it becomes a "
               "tombstone of the survivor, which stays open, and what it was converted into keeps pointing at the "
               "tombstone.")  # fmt: skip
    assert preview.warnings == [warning]
    record = merge.leads_merge(actor=cast.a.admin, survivor=trio["survivor"], others=[converted])
    assert record.warnings == [warning]
    survivor = Lead.objects.get(pk=trio["survivor"].pk)
    assert (survivor.converted_at, survivor.status.key) == (None, "new")


# --- the survivor's timeline ----------------------------------------------------------------------------


def test_the_survivors_timeline_shows_the_merged_leads_history_marked_with_its_origin(cast, trio):
    survivor, copy = trio["survivor"], trio["copy"]
    services.lead_update(actor=cast.a.admin, lead=copy, data={"job_title": "Chief Tech"})
    record = merge.leads_merge(actor=cast.a.admin, survivor=survivor, others=[copy])
    entries = timeline.merged_history_entries(survivor)
    origin = f"From merged lead Ana Sousa (#{copy.pk})"
    shown = sorted((e.kind, e.title, e.note) for e in entries)
    assert ("change", "edited the lead", origin) in shown
    assert ("system", "created the lead", origin) in shown
    assert ("system", f"merged lead(s) #{copy.pk} into this lead", "") in shown
    assert all(e.lead == copy for e in entries if e.note.startswith(origin))
    assert set(timeline.moved_origins(survivor).values()) == {copy.pk}
    undo.merge_undo(actor=cast.a.admin, record=record)
    titles = [e.title for e in timeline.merged_history_entries(survivor)]
    assert titles == [f"merged lead(s) #{copy.pk} into this lead", f"undid the merge of lead(s) #{copy.pk}"]


def test_merges_of_merges_show_the_first_leads_history_and_origin(cast, trio):
    survivor, copy, third = trio["survivor"], trio["copy"], trio["third"]
    merge.leads_merge(actor=cast.a.admin, survivor=copy, others=[third])
    merge.leads_merge(actor=cast.a.admin, survivor=survivor, others=[copy])
    created = sorted(e.note for e in timeline.merged_history_entries(survivor) if e.title == "created the lead")
    assert created == [
        f"From merged lead Ana Sousa (#{copy.pk})",
        f"From merged lead Anna Souza (#{third.pk})",
    ]
    engagement = EngagementEvent.objects.get()
    assert timeline.moved_origins(survivor)[("leads.engagementevent", engagement.pk)] == third.pk


def test_unmerge_takes_back_the_pair_the_merge_queued_with_a_third_lead(cast, trio):
    """The survivor takes the merged lead's phone, which a lead outside the merge shares: the merge
    queues that new pair for review, and undoing the merge takes exactly that pair back."""
    outsider = services.lead_create(company=cast.a.company, actor=cast.a.admin, allow_duplicates=True,
                                    data={"first_name": "Otto", "last_name": "Other", "phone": "+44 20 7946 0018",
                                          "lead_source": "Website", "campaign": trio["survivor"].campaign_id})  # fmt: skip
    before = database_rows()

    record = merge.leads_merge(actor=cast.a.admin, survivor=trio["survivor"], others=[trio["copy"]])

    new_pair = DuplicateCandidate.objects.get(pk__in=record.queue_created)
    assert (new_pair.lead_a_id, new_pair.lead_b_id, new_pair.status) == (
        trio["survivor"].pk, outsider.pk, CandidateStatus.PENDING,
    )  # fmt: skip
    undo.merge_undo(actor=cast.a.admin, record=record)
    assert database_rows() == before


def test_a_merge_rescores_the_survivor_with_the_engagement_it_received(cast, trio):
    survivor, third = trio["survivor"], trio["third"]

    def engagement(lead) -> dict[str, int]:
        breakdown = Lead.objects.get(pk=lead.pk).score_breakdown
        return {e["event"]: e["count"] for e in breakdown if e.get("kind") == "engagement"}

    assert (engagement(survivor), engagement(third)) == ({"call": 1}, {"call": 1, "email_open": 1})
    record = merge.leads_merge(actor=cast.a.admin, survivor=survivor, others=[third])

    assert engagement(survivor) == {"call": 2, "email_open": 1}
    assert Lead.objects.get(pk=survivor.pk).history.first().history_change_reason == "leads.lead.merged"
    undo.merge_undo(actor=cast.a.admin, record=record)
    assert (engagement(survivor), engagement(third)) == ({"call": 1}, {"call": 1, "email_open": 1})
