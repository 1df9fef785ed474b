"""The helper process that validates a long import's rows beside the writing process
(``leads.transfer.forked``): same results, another process, no database, errors brought home."""

import gc
import os
import re
import threading

import pytest
from django.core.exceptions import ValidationError

from leads import bulkwrite, scoring, services
from leads.models import ImportStatus, Lead
from leads.testing.factories import make_lead
from leads.tests.test_import_jobs import counts, do_import
from leads.transfer import forked, importer


def pid_and_doubles(batch):
    return os.getpid(), [value * 2 for value in batch]


def test_the_helper_returns_each_batch_worked_in_another_process_in_order_and_is_reaped():
    helper = forked.ForkedMap(pid_and_doubles, [[1, 2], [3], [], [4, 5, 6]])
    with helper as results:
        results = list(results)
    assert [values for _, values in results] == [[2, 4], [6], [], [8, 10, 12]]
    assert {pid for pid, _ in results} == {helper.pid}
    assert helper.pid != os.getpid()
    with pytest.raises(ChildProcessError):
        os.waitpid(helper.pid, os.WNOHANG)  # already reaped: no zombie left behind
    assert gc.get_freeze_count() == 0  # what was frozen for the fork is collectable again


def fails_on_seven(batch):
    if 7 in batch:
        raise ValueError("row 7 is odd")
    return batch


def test_an_error_in_the_helper_is_raised_here_with_its_traceback():
    with forked.ForkedMap(fails_on_seven, [[1], [7], [9]]) as results:
        assert next(results) == [1]
        with pytest.raises(forked.HelperFailed) as failure:
            next(results)
    assert "ValueError: row 7 is odd" in str(failure.value)
    assert "fails_on_seven" in str(failure.value)  # the traceback names where it failed


def exits(batch):
    raise SystemExit(3)


def test_a_helper_that_dies_is_reported_and_only_this_process_goes_on():
    here = os.getpid()
    with pytest.raises(forked.HelperFailed) as failure, forked.ForkedMap(exits, [[1]]) as results:
        next(results)
    assert str(failure.value) == "The helper process stopped without an answer."
    assert os.getpid() == here  # the child never came back into this code


def count_leads(batch):
    return Lead.objects.count()


def test_the_helper_may_not_query_the_database_it_shares(cast):
    make_lead(cast.a.company)
    with forked.ForkedMap(count_leads, [[1]]) as results, pytest.raises(forked.HelperFailed) as failure:
        next(results)
    assert "QueryInHelper: The helper process may not query the database: SELECT" in str(failure.value)
    assert Lead.objects.count() == 1  # this process's connection (and its transaction) is untouched


def stamp_the_process(lead, data):
    if lead.last_name == "Pid":
        raise ValidationError({"last_name": f"checked in process {os.getpid()}"})


@pytest.fixture
def process_rule():
    services.register_lead_validator(stamp_the_process)
    yield
    services.LEAD_VALIDATORS.remove(stamp_the_process)


def test_a_long_import_is_validated_in_a_helper_process_with_the_results_of_one(cast, process_rule, monkeypatch):
    monkeypatch.setattr(importer, "CHUNK", 2)  # three chunks: the file is validated in the helper
    text = (
        "email,first_name,last_name,status\n"
        "r1@helper.example,One,Batch,Contacted\n"  # row 2
        "r2@helper.example,Two,Pid,\n"  # row 3: refused by the rule, in the helper
        "r3@helper.example,Three,Batch,Converted\n"  # row 4: the workflow refuses the move
        "R1@helper.example,Again,Batch,\n"  # row 5: the same email as row 2
        "r5@helper.example,Five,Pid,\n"  # row 6
        "r6@helper.example,Six,Batch,Contacted\n"  # row 7
    )
    job = do_import(cast, text, skip_invalid=True)
    assert (job.status, job.created_count, job.invalid_count, job.skipped_count) == (
        ImportStatus.SUCCEEDED, 2, 3, 1
    )  # fmt: skip
    messages = {(error["row"], error["column"]): error["message"] for error in job.errors}
    assert messages[(4, "status")] == "A lead cannot move from New to Converted."
    pids = {int(re.fullmatch(r"checked in process (\d+)", messages[(row, "last_name")])[1]) for row in (3, 6)}
    assert len(pids) == 1
    assert pids != {os.getpid()}
    assert job.notes == [{"row": 5, "action": "skipped", "note": "same email as row 2"}]
    assert dict(Lead.objects.filter(email__endswith="@helper.example").values_list("email", "status__key")) == {
        "r1@helper.example": "contacted",
        "r6@helper.example": "contacted",
    }
    scorer = scoring.scorer_for(cast.a.company)
    for lead in Lead.objects.filter(email__endswith="@helper.example"):  # scored in the helper, as here
        stored = (lead.score, lead.priority, lead.score_breakdown, lead.spam_score, lead.validation_status)
        scorer(lead)
        assert (lead.score, lead.priority, lead.score_breakdown, lead.spam_score, lead.validation_status) == stored
        assert stored[2] != []


def count_leads_rule(lead, data):
    Lead.objects.exists()


def test_a_rule_that_queries_fails_a_long_import_and_writes_nothing(cast, monkeypatch, caplog):
    monkeypatch.setattr(importer, "CHUNK", 2)
    before = counts()
    services.register_lead_validator(count_leads_rule)
    try:
        job = do_import(cast, "email,first_name\na@q.example,A\nb@q.example,B\nc@q.example,C\n")
    finally:
        services.LEAD_VALIDATORS.remove(count_leads_rule)
    assert (job.status, job.error) == (
        ImportStatus.FAILED, "The import stopped on an unexpected error; nothing was imported."
    )  # fmt: skip
    assert counts() == before
    assert "QueryInHelper: The helper process may not query the database: SELECT" in caplog.text


def test_what_a_server_froze_before_stays_frozen():
    gc.freeze()  # as a preforking server may, to share its memory with its workers
    try:
        frozen = gc.get_freeze_count()
        with forked.ForkedMap(pid_and_doubles, [[1]]) as results:
            assert next(results)[1] == [2]
        assert gc.get_freeze_count() >= frozen > 0
    finally:
        gc.unfreeze()


# --- the cycle collector while an import runs ---------------------------------------------------------

RARELY = (50_000, 20, 100)


def test_the_collector_runs_rarely_until_the_last_of_nested_and_concurrent_blocks_ends():
    usual = gc.get_threshold()
    assert usual != RARELY
    entered, leave = threading.Event(), threading.Event()

    def other_thread():
        with bulkwrite.collecting_rarely():
            entered.set()
            leave.wait(10)

    with bulkwrite.collecting_rarely():
        assert gc.get_threshold() == RARELY
        with bulkwrite.collecting_rarely():
            assert gc.get_threshold() == RARELY
        assert gc.get_threshold() == RARELY  # the inner block's end leaves the outer one's setting
        thread = threading.Thread(target=other_thread)
        thread.start()
        assert entered.wait(10)
    assert gc.get_threshold() == RARELY  # the other thread's block is still open
    leave.set()
    thread.join(10)
    assert gc.get_threshold() == usual


def test_a_collector_switched_off_stays_off():
    usual = gc.get_threshold()
    gc.set_threshold(0)
    try:
        with bulkwrite.collecting_rarely():
            assert gc.get_threshold()[0] == 0
        assert gc.get_threshold()[0] == 0
    finally:
        gc.set_threshold(*usual)


def report_thresholds(lead, data):
    if lead.last_name == "Thresholds":
        raise ValidationError({"last_name": f"collector thresholds {gc.get_threshold()} in {os.getpid()}"})


@pytest.mark.parametrize("chunk", [2, 100])
def test_an_import_checks_its_rows_with_the_collector_running_rarely_in_either_process(cast, monkeypatch, chunk):
    monkeypatch.setattr(importer, "CHUNK", chunk)  # 2: three chunks, checked in the helper; 100: here
    usual = gc.get_threshold()
    services.register_lead_validator(report_thresholds)
    try:
        job = do_import(cast, "email,last_name\na@gc.example,Thresholds\nb@gc.example,B\nc@gc.example,C\n"
                              "d@gc.example,D\ne@gc.example,E\nf@gc.example,Thresholds\n")  # fmt: skip
    finally:
        services.LEAD_VALIDATORS.remove(report_thresholds)
    assert (job.status, job.invalid_count) == (ImportStatus.FAILED, 2)
    found = {re.fullmatch(r"collector thresholds (\(.*\)) in (\d+)", e["message"]).groups() for e in job.errors}
    assert {thresholds for thresholds, _ in found} == {str(RARELY)}
    assert ({int(pid) for _, pid in found} == {os.getpid()}) == (chunk == 100)
    assert gc.get_threshold() == usual
