"""The per-transaction outbox of assignment notifications lives exactly as long as its on_commit
callback: a rolled-back transaction leaves nothing behind for the next one."""

import pytest
from django.db import transaction

from leads import assignment
from leads.testing.factories import make_lead


def test_a_rolled_back_transaction_leaves_nothing_for_the_next(cast, django_capture_on_commit_callbacks, mailoutbox):
    dropped, kept = make_lead(cast.a.company, cast.a.manager), make_lead(cast.a.company, cast.a.manager)

    def failing_operation():
        with transaction.atomic():
            assignment.lead_assign(actor=cast.a.admin, lead=dropped, owner=cast.a.sdr2)
            raise RuntimeError("the surrounding operation failed")

    with pytest.raises(RuntimeError):
        failing_operation()

    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        assignment.lead_assign(actor=cast.a.admin, lead=kept, owner=cast.a.sdr1)

    assert (len(callbacks), [m.to for m in mailoutbox]) == (1, [["sdr1@alpha.test"]])


def test_one_flush_serves_every_assignment_of_a_transaction(cast, django_capture_on_commit_callbacks, mailoutbox):
    leads = [make_lead(cast.a.company, cast.a.manager) for _ in range(2)]

    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        assignment.lead_assign(actor=cast.a.admin, lead=leads[0], owner=cast.a.sdr1)
        assignment.lead_assign(actor=cast.a.admin, lead=leads[1], owner=cast.a.sdr2)

    assert (len(callbacks), sorted(m.to for m in mailoutbox)) == (1, [["sdr1@alpha.test"], ["sdr2@alpha.test"]])
