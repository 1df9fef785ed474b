"""Import jobs: all-or-nothing, skip-invalid, duplicate policies, revert, history, the django-q2
task, and every door (wizard, API, admin resource, management command)."""

import io
from pathlib import Path

import pytest
import tablib
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django_q.models import Task

from leads import services
from leads.dedup import tasks as dedup_tasks
from leads.models import DuplicateCandidate, ImportJob, ImportStatus, Lead, StatusChange
from leads.testing.factories import make_campaign, make_custom_field, make_lead
from leads.transfer.admin import LeadResource
from leads.transfer.jobs import import_job_create, import_job_start
from leads.transfer.mapping import ImportOptions
from leads.transfer.revert import import_revert
from leads.transfer.rows import Row, existing_keys

DATA = Path(__file__).parent / "data" / "transfer"
HEADER = "email,first_name,last_name,phone\n"


def csv_upload(text: str, name: str = "leads.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode(), content_type="text/csv")


def do_import(cast, text: str, *, actor="manager", mapping=None, **options):
    campaign = make_campaign(cast.a.company, "Imports")
    member = cast.a.member(actor) if actor else None
    job = import_job_create(
        company=cast.a.company,
        actor=member,
        upload=csv_upload(text),
        options=ImportOptions(campaign_id=campaign.pk, **options),
    )
    return import_job_start(job=job, actor=member, mapping=mapping)


def counts():
    return (Lead.objects.count(), Lead.history.count(), StatusChange.objects.count())


def good_rows(n: int, start: int = 1) -> str:
    return "".join(f"lead{i}@batch.example,Lead{i},Batch,+44 20 7946 {1000 + i}\n" for i in range(start, start + n))


# --- all or nothing ------------------------------------------------------------------------------------


def test_a_bad_row_at_the_end_leaves_the_database_unchanged(cast):
    make_lead(cast.a.company, email="existing@example.com")
    before = counts()
    with open(DATA / "bad_last_row.csv", "rb") as handle:
        job = import_job_create(
            company=cast.a.company, actor=cast.a.manager, upload=handle,
            options=ImportOptions(campaign_id=make_campaign(cast.a.company).pk),
        )  # fmt: skip
    job = import_job_start(job=job, actor=cast.a.manager)
    assert counts() == before
    assert (job.status, job.total_rows, job.created_count, job.invalid_count) == (ImportStatus.FAILED, 11, 0, 1)
    assert job.errors == [
        {"row": 12, "column": "email", "value": "not-an-email", "message": "Enter a valid email address."},
        {
            "row": 12,
            "column": "phone",
            "value": "12",
            "message": "Enter a valid phone number for GB or in +country format.",
        },
    ]


@pytest.fixture
def failing_insert(db):
    """A real database error on inserting one particular lead (a trigger), after others were written."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                "CREATE TRIGGER test_boom BEFORE INSERT ON leads_lead WHEN NEW.email = 'boom@batch.example' "
                "BEGIN SELECT RAISE(ABORT, 'boom'); END"
            )
        else:
            cursor.execute(
                "CREATE FUNCTION test_boom() RETURNS trigger AS $$ BEGIN IF NEW.email = 'boom@batch.example' "
                "THEN RAISE EXCEPTION 'boom'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql"
            )
            cursor.execute(
                "CREATE TRIGGER test_boom BEFORE INSERT ON leads_lead FOR EACH ROW EXECUTE FUNCTION test_boom()"
            )
    return connection


def test_a_database_error_while_writing_rolls_everything_back(cast, failing_insert, monkeypatch):
    from leads.transfer import importer

    monkeypatch.setattr(importer, "CHUNK", 2)  # the failing row comes in a later write step
    before = counts()
    job = do_import(cast, HEADER + good_rows(3) + "boom@batch.example,Boom,Row,\n")
    assert (job.status, job.error) == (
        ImportStatus.FAILED,
        "The import stopped on an unexpected error; nothing was imported.",
    )
    assert counts() == before
    if failing_insert.vendor == "sqlite":  # the full-text trigger, dropped during the insert, is back
        with failing_insert.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM sqlite_master WHERE name = 'leads_lead_search_ai'")
            assert cursor.fetchone() == (1,)


def test_skip_invalid_imports_the_valid_rows_and_returns_the_invalid_ones_to_fix(cast):
    job = do_import(cast, HEADER + good_rows(2) + "nope,Bad,Row,\n", skip_invalid=True)
    assert (job.status, job.created_count, job.invalid_count) == (ImportStatus.SUCCEEDED, 2, 1)
    with job.errors_file.open("rb") as handle:
        rows = handle.read().decode("utf-8-sig").splitlines()
    assert rows == [
        "email,first_name,last_name,phone,Import errors,Source row",
        "nope,Bad,Row,,email: Enter a valid email address.,4",
    ]
    fixed = "\n".join(rows).replace("nope", "fixed@batch.example") + "\n"
    again = do_import(cast, fixed)
    assert (again.status, again.created_count, again.mapping) == (ImportStatus.SUCCEEDED, 1, ["email", "first_name",
                                                                  "last_name", "phone", "", ""])  # fmt: skip
    assert Lead.objects.filter(email="fixed@batch.example").count() == 1


def test_a_dry_run_checks_everything_and_writes_nothing(cast):
    make_lead(cast.a.company, email="lead1@batch.example")
    before = counts()
    job = do_import(cast, HEADER + good_rows(3), dry_run=True)
    assert (job.status, job.created_count, job.skipped_count, counts()) == (ImportStatus.CHECKED, 2, 1, before)


# --- same rules as a lead created by hand ---------------------------------------------------------------


def test_an_imported_lead_equals_one_created_by_hand_and_has_a_history_row_naming_the_import(cast):
    row = {"email": " Ana@Example.COM ", "first_name": "Ana", "last_name": "Souza", "phone": "020 7946 0123",
           "company_name": "ACME, Inc.", "lead_source": "Referral", "authority_level": "decision_maker"}  # fmt: skip
    text = ",".join(row) + "\n" + ",".join(f'"{v}"' for v in row.values()) + "\n"
    job = do_import(cast, text)
    imported = Lead.objects.get(company=cast.a.company)
    by_hand = services.lead_create(
        company=cast.b.company, actor=cast.b.manager, data={**row, "campaign": make_campaign(cast.b.company)}
    )
    compared = ("email", "email_key", "phone_key", "company_key", "name_key", "country", "score", "priority",
                "spam_score", "validation_status", "stage")  # fmt: skip
    assert {f: getattr(imported, f) for f in compared} == {f: getattr(by_hand, f) for f in compared}
    assert [e["rule"] for e in imported.score_breakdown] == [e["rule"] for e in by_hand.score_breakdown] == [
        "Referral source", "Decision maker",
    ]  # fmt: skip
    assert (imported.created_by, imported.status.key, imported.lead_source) == (cast.a.manager, "new", "Referral")
    history = list(imported.history.values_list("history_change_reason", "history_type", "history_user"))
    assert history[-1] == (f"leads.lead.imported:{job.pk}", "+", cast.a.manager.user_id)
    assert list(imported.status_changes.values_list("from_status", "to_status__key")) == [(None, "new")]


def test_a_status_column_goes_through_the_workflow(cast):
    text = "email,first_name,status\nok@wf.example,Ok,Contacted\nno@wf.example,No,Converted\n"
    job = do_import(cast, text)
    assert job.errors == [{"row": 3, "column": "status", "value": "Converted",
                           "message": "A lead cannot move from New to Converted."}]  # fmt: skip
    job = do_import(cast, "email,first_name,status\nok@wf.example,Ok,Contacted\n")
    lead = Lead.objects.get(email="ok@wf.example")
    assert lead.status.key == "contacted"
    assert list(lead.status_changes.values_list("from_status__key", "to_status__key")) == [
        (None, "new"), ("new", "contacted"),
    ]  # fmt: skip


def test_owner_custom_field_and_profile_columns(cast):
    make_custom_field(cast.a.company, "industry", "choice", choices=["Retail", "Banking"])
    text = "email,owner,industry,Profile: headline\nc1@cf.example,SDR1@alpha.test,Banking,Head of Data\n"
    do_import(cast, text)
    lead = Lead.objects.get(email="c1@cf.example")
    assert (lead.owner, lead.custom_fields, lead.profile_data) == (cast.a.sdr1, {"industry": "Banking"},
                                                                   {"headline": "Head of Data"})  # fmt: skip
    assert lead.assigned_at is not None
    job = do_import(cast, "email,industry\nc2@cf.example,Farming\n")
    assert job.errors == [{"row": 2, "column": "industry", "value": "Farming",
                           "message": "Industry: choose one of Retail, Banking."}]  # fmt: skip


def test_an_sdr_importing_cannot_give_leads_to_someone_else(cast):
    job = do_import(cast, "email,owner\ns1@own.example,sdr2@alpha.test\n", actor="sdr1")
    assert job.errors == [{"row": 2, "column": "owner", "value": "sdr2@alpha.test",
                           "message": "Only managers and admins assign leads to someone else."}]  # fmt: skip


def test_a_member_of_another_company_is_not_an_owner(cast):
    job = do_import(cast, "email,owner\nx@own.example,manager@bravo.test\n")
    assert job.errors[0]["message"] == "No active member of this company has the email “manager@bravo.test”."


# --- duplicates -----------------------------------------------------------------------------------------


def test_re_running_the_same_file_with_skip_creates_no_duplicates(cast):
    first = do_import(cast, HEADER + good_rows(5))
    second = do_import(cast, HEADER + good_rows(5))
    assert (first.created_count, second.created_count, second.skipped_count) == (5, 0, 5)
    assert Lead.objects.count() == 5
    assert second.notes[0] == {
        "row": 2,
        "action": "skipped",
        "note": f"same email as lead #{Lead.objects.get(email='lead1@batch.example').pk}",
    }


def test_existing_keys_name_the_oldest_live_lead_of_the_company_for_each_key(cast):
    company = cast.a.company
    oldest = make_lead(company, email="first@keys.example", phone="+44 20 7946 0001")
    newer = make_lead(company, email="newer@keys.example")
    merged = make_lead(company, email="merged@keys.example")
    deleted = make_lead(company, email="deleted@keys.example")
    own = make_lead(company, email="own@keys.example")
    make_lead(cast.b.company, email="elsewhere@keys.example")
    Lead.objects.filter(pk=newer.pk).update(email_key="first@keys.example")
    Lead.objects.filter(pk=merged.pk).update(merged_into=oldest)
    Lead.objects.filter(pk=deleted.pk).update(is_deleted=True)
    probes = ["first@keys.example", "merged@keys.example", "deleted@keys.example", "own@keys.example",
              "elsewhere@keys.example", "nobody@keys.example"]  # fmt: skip
    rows = [Row(n, [], lead=Lead(email_key=key)) for n, key in enumerate(probes)]
    rows.append(Row(len(rows), [], lead=Lead(phone_key=oldest.phone_key)))

    found = existing_keys(company, ["email_key", "phone_key"], rows, ignore={own.pk})

    assert oldest.phone_key == "+442079460001"
    assert found == {("email_key", "first@keys.example"): oldest.pk, ("phone_key", "+442079460001"): oldest.pk}


def test_a_row_repeating_an_earlier_row_of_the_file_is_skipped(cast):
    job = do_import(cast, HEADER + good_rows(1) + "LEAD1@batch.example,Again,Same,\n")
    assert (job.created_count, job.skipped_count, job.notes) == (1, 1, [{"row": 3, "action": "skipped",
                                                                          "note": "same email as row 2"}])  # fmt: skip


@pytest.mark.parametrize("policy", ["skip", "update"])
def test_a_row_repeating_a_row_of_an_earlier_write_step_is_skipped_as_a_repeat_of_that_row(cast, monkeypatch, policy):
    """The rows of a step are checked while the step before is being written: a repeat of an
    earlier row is named by its row, whichever step wrote that row, and never updates the lead the
    same file has just created."""
    from leads.transfer import importer

    monkeypatch.setattr(importer, "CHUNK", 2)
    text = HEADER + good_rows(4) + "LEAD1@batch.example,Again,Same,\nlead3@batch.example,Third,Again,\n"
    job = do_import(cast, text, on_duplicate=policy)
    assert (job.status, job.created_count, job.updated_count, job.skipped_count) == (ImportStatus.SUCCEEDED, 4, 0, 2)
    assert job.notes == [
        {"row": 6, "action": "skipped", "note": "same email as row 2"},
        {"row": 7, "action": "skipped", "note": "same email as row 4"},
    ]
    assert list(Lead.objects.order_by("pk").values_list("email", "first_name")) == [
        (f"lead{i}@batch.example", f"Lead{i}") for i in range(1, 5)
    ]
    first = Lead.objects.order_by("pk").first().pk
    assert list(Lead.objects.order_by("pk").values_list("pk", flat=True)) == list(range(first, first + 4))


def test_an_import_run_in_the_same_process_reads_the_file_once(cast):
    """The management command and the admin run the job where it was uploaded: the file as read at
    upload is used, not read again (here: the stored file is gone before the run)."""
    campaign = make_campaign(cast.a.company, "Imports")
    job = import_job_create(company=cast.a.company, actor=cast.a.manager, upload=csv_upload(HEADER + good_rows(3)),
                            options=ImportOptions(campaign_id=campaign.pk))  # fmt: skip
    job.file.storage.delete(job.file.name)
    job = import_job_start(job=job, actor=cast.a.manager, inline=True)
    assert (job.status, job.created_count) == (ImportStatus.SUCCEEDED, 3)
    queued = ImportJob.objects.get(pk=import_job_create(company=cast.a.company, actor=cast.a.manager,
                                   upload=csv_upload(HEADER + good_rows(1, start=9)),
                                   options=ImportOptions(campaign_id=campaign.pk)).pk)  # fmt: skip
    queued.file.storage.delete(queued.file.name)
    queued = import_job_start(job=queued, actor=cast.a.manager, inline=True)  # a job loaded afresh reads its file
    assert (queued.status, queued.created_count, queued.error) == (
        ImportStatus.FAILED, 0, "The import stopped on an unexpected error; nothing was imported."
    )  # fmt: skip


def test_update_changes_the_visible_match_and_revert_restores_it(cast):
    lead = make_lead(cast.a.company, cast.a.manager, email="lead1@batch.example", first_name="Old", phone="")
    job = do_import(cast, HEADER + good_rows(1), on_duplicate="update")
    lead.refresh_from_db()
    assert (job.updated_count, lead.first_name, lead.phone_key) == (1, "Lead1", "+442079461001")
    assert lead.history.first().history_change_reason == f"leads.lead.imported:{job.pk}"
    import_revert(job=job, actor=cast.a.manager)
    lead.refresh_from_db()
    assert (lead.first_name, lead.phone, lead.phone_key) == ("Old", "", "")
    assert lead.history.first().history_change_reason == f"leads.lead.import_reverted:{job.pk}"


def test_update_never_touches_a_lead_the_importer_cannot_see(cast):
    hidden = make_lead(cast.a.company, cast.a.sdr2, email="lead1@batch.example", first_name="Hidden", owner=cast.a.sdr2)
    job = do_import(cast, HEADER + good_rows(1), on_duplicate="update")
    hidden.refresh_from_db()
    assert (job.updated_count, job.skipped_count, hidden.first_name) == (0, 1, "Hidden")
    assert job.notes == [
        {"row": 2, "action": "skipped", "note": f"same email as lead #{hidden.pk} (a lead you cannot see)"}
    ]


def test_flag_creates_the_lead_and_queues_the_pair_for_review(cast):
    existing = make_lead(cast.a.company, email="lead1@batch.example")
    job = do_import(cast, HEADER + good_rows(1), on_duplicate="flag")
    new = Lead.objects.exclude(pk=existing.pk).get()
    pair = DuplicateCandidate.objects.get()
    assert (job.created_count, job.flagged_count) == (1, 1)
    assert ({pair.lead_a_id, pair.lead_b_id}, pair.source, pair.is_exact) == (
        {existing.pk, new.pk},
        "created_anyway",
        True,
    )


def test_a_near_duplicate_is_queued_for_review_at_import_as_the_form_would(cast, django_capture_on_commit_callbacks):
    """No key in common (a personal mailbox): the same person at the same company by name, first
    and last swapped. Once the import commits, a worker queues the pair (not only the next nightly
    scan); the other company's look-alike is never paired."""
    existing = make_lead(cast.a.company, first_name="Margaret", last_name="Hamilton", company_name="Apollo Labs",
                         email="margaret.hamilton@apollo-labs.com", phone="")  # fmt: skip
    make_lead(cast.b.company, first_name="Margaret", last_name="Hamilton", company_name="Apollo Labs",
              email="mh@apollo-labs.com", phone="")  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        job = do_import(cast, "email,first_name,last_name,company_name\n"
                              "mhamilton@gmail.com,Hamilton,Margaret,Apollo Labs Ltd\n"
                              "ada@engine.co.uk,Ada,Lovelace,Analytical Engines\n")  # fmt: skip
    new = Lead.objects.get(company=cast.a.company, email="mhamilton@gmail.com")
    pair = DuplicateCandidate.objects.get()
    assert (job.status, job.created_count) == (ImportStatus.SUCCEEDED, 2)
    assert ({pair.lead_a_id, pair.lead_b_id}, pair.source, pair.is_exact) == ({existing.pk, new.pk}, "saved", False)
    assert [r["label"] for r in pair.reasons] == ["name 100% (first and last swapped) + same company"]
    task = Task.objects.get(name=f"import-duplicates-{job.pk}")
    assert (task.func, task.success, task.result) == (
        "leads.dedup.tasks.check_new_leads", True, {"company": cast.a.company.pk, "leads": 2, "found": 1},
    )  # fmt: skip


def test_a_large_import_has_its_company_scanned_instead(cast, django_capture_on_commit_callbacks, monkeypatch):
    """Beyond ``NEW_LEADS_SCAN_ABOVE`` new leads one pass over the company is cheaper than looking up
    each new lead's neighbours: the worker runs the company's scan, which finds the same pair."""
    monkeypatch.setattr(dedup_tasks, "NEW_LEADS_SCAN_ABOVE", 1)
    existing = make_lead(cast.a.company, first_name="Margaret", last_name="Hamilton", company_name="Apollo Labs",
                         email="margaret.hamilton@apollo-labs.com", phone="")  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        job = do_import(cast, "email,first_name,last_name,company_name\n"
                              "mhamilton@gmail.com,Hamilton,Margaret,Apollo Labs Ltd\n"
                              "ada@engine.co.uk,Ada,Lovelace,Analytical Engines\n")  # fmt: skip
    result = Task.objects.get(name=f"import-duplicates-{job.pk}").result
    pair = DuplicateCandidate.objects.get()
    assert (result["leads"], result["found"], pair.source) == (3, 1, "scan")
    assert {pair.lead_a_id, pair.lead_b_id} == {existing.pk, Lead.objects.get(email="mhamilton@gmail.com").pk}


def test_create_anyway_makes_a_second_lead_and_an_sdr_may_not_ask_for_it(cast):
    make_lead(cast.a.company, email="lead1@batch.example")
    job = do_import(cast, HEADER + good_rows(1), on_duplicate="create")
    assert (job.created_count, Lead.objects.filter(email="lead1@batch.example").count()) == (1, 2)
    with pytest.raises(ValidationError) as caught:
        do_import(cast, HEADER + good_rows(1), actor="sdr1", on_duplicate="create")
    assert caught.value.message_dict == {
        "on_duplicate": ["Only managers and admins may import duplicates (create or flag)."]
    }


# --- revert and the job -----------------------------------------------------------------------------


def test_revert_removes_the_created_leads_but_keeps_one_worked_on_since(cast):
    job = do_import(cast, HEADER + good_rows(3))
    worked = Lead.objects.get(email="lead2@batch.example")
    services.comment_create(actor=cast.a.manager, lead=worked, body="Called")
    job = import_revert(job=job, actor=cast.a.manager)
    assert (job.status, job.revert_result) == (
        ImportStatus.REVERTED,
        {"deleted": 2, "kept": [worked.pk], "kept_count": 1, "restored": 0, "conflicts": 0},
    )
    assert list(Lead.objects.values_list("email", flat=True)) == ["lead2@batch.example"]
    deleted = Lead.history.filter(history_type="-").values_list("history_change_reason", flat=True)
    assert sorted(set(deleted)) == [f"leads.lead.import_reverted:{job.pk}"]
    with pytest.raises(ValidationError):
        import_revert(job=job, actor=cast.a.manager)


def test_an_import_runs_as_a_django_q2_task_and_is_claimed_once(cast):
    job = do_import(cast, HEADER + good_rows(2))
    task = Task.objects.get(name=f"import-{job.pk}")
    assert (task.func, task.success, task.result) == ("leads.transfer.tasks.run_import", True, "succeeded")
    from leads.transfer.tasks import run_import

    assert run_import(job.pk) == "succeeded"  # a retried task does nothing
    assert Lead.objects.count() == 2


def test_a_job_is_only_started_once(cast):
    job = do_import(cast, HEADER + good_rows(1))
    with pytest.raises(ValidationError) as caught:
        import_job_start(job=job, actor=cast.a.manager)
    assert caught.value.messages == ["This import has already been started."]


# --- doors ---------------------------------------------------------------------------------------------


def test_the_wizard_uploads_maps_previews_and_imports(cast, client_for):
    client = client_for(cast.a.manager)
    make_campaign(cast.a.company, "Imports")
    campaign = make_campaign(cast.a.company, "Imports")
    base = f"/c/{cast.a.company.slug}/leads/import/"
    response = client.post(base, {"file": csv_upload("E-mail,Name,Colour\nbad,Ann Lee,red\nok@w.example,Bo,blue\n"),
                                  "campaign": campaign.pk})  # fmt: skip
    job = ImportJob.objects.get()
    assert response["Location"] == f"{base}{job.pk}/"
    page = client.get(f"{base}{job.pk}/")
    assert [row.action for row in page.context["preview"]] == ["invalid", "create"]
    assert page.context["mapping_problems"] == ["Column 3 “Colour” matches no lead field: choose a field or ignore it."]
    mapping = {"col_0": "email", "col_1": "full_name", "col_2": "__ignore__", "on_duplicate": "skip"}
    response = client.post(f"{base}{job.pk}/", {**mapping, "action": "start"})
    job.refresh_from_db()
    assert (response.status_code, job.status, job.errors[0]["row"], Lead.objects.count()) == (302, "failed", 2, 0)
    page = client.get(f"{base}{job.pk}/")
    assert [e["message"] for e in page.context["errors"]] == ["Enter a valid email address."]
    errors = client.get(f"{base}{job.pk}/errors/")
    assert b"".join(errors.streaming_content).decode("utf-8-sig").splitlines()[1] == (
        "bad,Ann Lee,red,E-mail: Enter a valid email address.,2"
    )


def test_sdrs_cannot_open_the_import_wizard(cast, client_for):
    assert client_for(cast.a.sdr1).get(f"/c/{cast.a.company.slug}/leads/import/").status_code == 403


def test_a_manager_reverts_from_the_job_page(cast, client_for):
    job = do_import(cast, HEADER + good_rows(2))
    response = client_for(cast.a.manager).post(f"/c/{cast.a.company.slug}/leads/import/{job.pk}/revert/")
    job.refresh_from_db()
    assert (response.status_code, job.status, Lead.objects.count()) == (302, ImportStatus.REVERTED, 0)


def test_a_revert_claims_the_job_so_its_page_follows_it_and_offers_no_second_one(cast, client_for):
    job = do_import(cast, HEADER + good_rows(2))
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.REVERTING)  # a worker is on it
    client = client_for(cast.a.manager)
    page = client.get(f"/c/{cast.a.company.slug}/leads/import/{job.pk}/").content.decode()
    assert ("Removing the imported leads" in page, 'hx-trigger="every 1s"' in page, "Revert this import" in page) == (
        True, True, False,
    )  # fmt: skip
    again = client.post(f"/c/{cast.a.company.slug}/leads/import/{job.pk}/revert/", follow=True)
    assert [str(m) for m in again.context["messages"]] == ["Only a finished import that created or changed leads "
                                                            "can be reverted."]  # fmt: skip
    assert (Lead.objects.count(), Task.objects.filter(name=f"import-revert-{job.pk}").count()) == (2, 0)


def test_a_revert_that_fails_in_the_worker_leaves_the_import_revertible_and_says_why(cast):
    from leads.transfer.tasks import revert_import

    job = do_import(cast, HEADER + good_rows(2))
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.REVERTING)
    with pytest.raises(PermissionDenied):
        revert_import(job.pk, cast.a.sdr1.pk)  # an SDR's revert is refused by the service
    job.refresh_from_db()
    assert (job.status, job.error, Lead.objects.count()) == (
        ImportStatus.SUCCEEDED, "The revert failed and nothing was changed: the member who asked for it may not revert imports.", 2,
    )  # fmt: skip


def test_the_api_imports_a_file_and_reports_the_job(cast, client_for):
    client = client_for(cast.a.manager)
    campaign = make_campaign(cast.a.company)
    url = f"/api/companies/{cast.a.company.pk}/imports"
    response = client.post(url, {"file": csv_upload(HEADER + good_rows(2)), "campaign": campaign.pk})
    assert (response.status_code, response.json()["status"], response.json()["created_count"]) == (202, "succeeded", 2)
    detail = client.get(f"{url}/{response.json()['id']}").json()
    assert (detail["total_rows"], detail["errors"]) == (2, [])
    bad = client.post(url, {"file": csv_upload("email,Colour\na@b.example,red\n"), "campaign": campaign.pk})
    assert (bad.status_code, bad.json()) == (
        400,
        {"mapping": ["Column 2 “Colour” matches no lead field: choose a field or ignore it."]},
    )
    assert client_for(cast.a.sdr1).post(url, {"file": csv_upload(HEADER)}).status_code == 403


def test_the_admin_resource_imports_through_the_same_checks(cast):
    campaign = make_campaign(cast.a.company, "Admin")
    dataset = tablib.Dataset(headers=["Email", "First name", "Campaign"])
    dataset.append(["ok@admin.example", "Ok", "Admin"])
    dataset.append(["broken", "Bad", "Admin"])
    resource = LeadResource(company=cast.a.company, actor=cast.a.admin)
    result = resource.import_data(dataset, dry_run=True)
    assert [(row.number, row.error_dict) for row in result.invalid_rows] == [
        (3, {"Email": ["Enter a valid email address."]})
    ]
    dataset = tablib.Dataset(headers=["Email", "First name", "Campaign"])
    dataset.append(["ok@admin.example", "Ok", campaign.name])
    result = resource.import_data(dataset, dry_run=False)
    assert (result.has_errors(), result.totals["new"], resource.last_job.status) == (False, 1, ImportStatus.SUCCEEDED)
    assert Lead.objects.get().history.first().history_change_reason == f"leads.lead.imported:{resource.last_job.pk}"


def test_the_admin_resource_exports_what_it_is_given_neutralised(cast):
    make_lead(cast.a.company, phone="+44 20 7946 0000", first_name="=cmd")
    data = LeadResource().export(Lead.objects.all())
    assert (data.dict[0]["Phone"], data.dict[0]["First name"]) == ("+44 20 7946 0000", "'=cmd")


def test_the_command_imports_and_reports(cast, tmp_path):
    make_campaign(cast.a.company, "Imports")
    path = tmp_path / "leads.csv"
    path.write_text(HEADER + good_rows(2))
    out = io.StringIO()
    call_command("import_leads", str(path), "--company", "alpha", "--campaign", "imports", stdout=out)
    job = ImportJob.objects.get()
    assert out.getvalue() == (
        f"import #{job.pk} leads.csv: 2 rows; created 2, updated 0, skipped 0, flagged 0, invalid 0\n"
    )


def test_the_command_refuses_bad_input_with_a_clear_message(cast, tmp_path):
    make_campaign(cast.a.company, "Imports")
    path = tmp_path / "bad.csv"
    path.write_text(HEADER + good_rows(1) + "broken,Bad,Row,\n")
    errors_out = tmp_path / "errors.csv"
    err = io.StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("import_leads", str(path), "--company", "alpha", "--campaign", "Imports",
                     "--errors-out", str(errors_out), stdout=io.StringIO(), stderr=err)  # fmt: skip
    assert (
        str(caught.value)
        == "1 row with errors: nothing was imported. Fix them (or skip invalid rows) and import again."
    )
    assert err.getvalue() == "row 3, column email: 'broken': Enter a valid email address.\n"
    assert (
        errors_out.read_text(encoding="utf-8-sig").splitlines()[1]
        == "broken,Bad,Row,,email: Enter a valid email address.,3"
    )
    with pytest.raises(CommandError, match="No company with slug 'nope'."):
        call_command("import_leads", str(path), "--company", "nope")
    with pytest.raises(CommandError, match="No campaign named 'Nope' in Alpha."):
        call_command("import_leads", str(path), "--company", "alpha", "--campaign", "Nope")
    with pytest.raises(CommandError, match=r"empty.csv: The file is empty\."):
        call_command("import_leads", str(DATA / "empty.csv"), "--company", "alpha")
    assert Lead.objects.count() == 0


def test_the_command_skips_invalid_rows_when_asked(cast, tmp_path):
    make_campaign(cast.a.company, "Imports")
    path = tmp_path / "bad.csv"
    path.write_text(HEADER + good_rows(1) + "broken,Bad,Row,\n")
    out = io.StringIO()
    call_command("import_leads", str(path), "--company", "alpha", "--campaign", "Imports", "--skip-invalid",
                 stdout=out, stderr=io.StringIO())  # fmt: skip
    assert Lead.objects.count() == 1
    assert "created 1, updated 0, skipped 0, flagged 0, invalid 1" in out.getvalue()


def test_an_import_without_a_campaign_is_refused_before_it_starts(cast):
    job = import_job_create(company=cast.a.company, actor=cast.a.manager, upload=csv_upload(HEADER + good_rows(1)))
    with pytest.raises(ValidationError) as caught:
        import_job_start(job=job, actor=cast.a.manager)
    assert caught.value.message_dict == {
        "mapping": ["Every lead needs a campaign: choose one for the import or map a Campaign column."]
    }
    make_campaign(cast.a.company, "Spring")
    job = import_job_start(job=job, actor=cast.a.manager, mapping=["email", "first_name", "last_name", "campaign"])
    assert job.errors[0] == {"row": 2, "column": "phone", "value": "+44 20 7946 1001",
                             "message": "“+44 20 7946 1001” is not a campaign of this company."}  # fmt: skip


def test_import_jobs_in_the_admin_are_scoped_to_the_staff_members_companies(cast, rf):
    from django.contrib import admin

    from leads.transfer.admin import ImportJobAdmin

    job = do_import(cast, HEADER + good_rows(1))
    model_admin = ImportJobAdmin(ImportJob, admin.site)

    def visible_to(membership):
        request = rf.get("/admin/leads/importjob/")
        request.user = membership.user
        return list(model_admin.get_queryset(request))

    assert (visible_to(cast.a.admin), visible_to(cast.b.admin)) == ([job], [])
    request = rf.get("/")
    request.user = cast.a.admin.user
    assert (model_admin.has_view_permission(request, job), model_admin.has_change_permission(request, job)) == (
        True,
        False,
    )


def test_the_wizard_shows_why_a_file_is_refused(cast, client_for):
    with open(DATA / "zip_bomb.xlsx", "rb") as handle:
        response = client_for(cast.a.manager).post(
            f"/c/{cast.a.company.slug}/leads/import/", {"file": SimpleUploadedFile("big.xlsx", handle.read())}
        )
    assert response.context["form"].errors == {
        "file": ["The workbook is compressed 1,029 to 1, which only a zip bomb is; it was not opened."]
    }
    assert ImportJob.objects.count() == 0
