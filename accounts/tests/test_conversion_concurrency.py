"""Two conversions of the same lead at the same moment make one account and one conversion.

Each conversion runs in its own thread with its own database connection. The conversion locks the
lead row (SELECT … FOR UPDATE on PostgreSQL; SQLite's IMMEDIATE write transactions serialise
writers) and re-reads it, so the second one finds the first's conversion and is refused. The test
database is a file on SQLite (``crm.settings.test``), so the threads share it; run it on
PostgreSQL with ``DATABASE_URL=postgres://…``.
"""

import threading

import pytest
from django.db import connection

from accounts.conversion import AlreadyConverted, lead_convert
from accounts.models import Account, Contact, LeadConversion
from accounts.qualification import lead_qualify
from crm.models import Activity
from leads import services as lead_services
from leads.models import Lead, StatusChange
from leads.testing.factories import make_lead, status

pytestmark = pytest.mark.django_db(transaction=True)

ATTEMPTS = 2


def _qualified_lead(cast) -> Lead:
    actor = cast.a.sdr1
    lead = make_lead(cast.a.company, actor, owner=actor, email="ana@racing.example", company_name="Racing Co")
    lead = lead_services.lead_transition(actor=actor, lead=lead, to_status=status(cast.a.company, "contacted"))
    bant = {"budget": "yes", "authority": "yes", "need": "yes", "timeline": "yes"}
    return lead_qualify(actor=actor, lead=lead, bant=bant).lead


def _race(lead_id: int, actors) -> list:
    """Run one conversion per actor at once; each thread's result or exception, in order."""
    start = threading.Barrier(len(actors))
    outcomes: list = [None] * len(actors)

    def convert(index, actor):
        try:
            start.wait()
            outcomes[index] = lead_convert(actor=actor, lead=Lead.objects.get(pk=lead_id))
        except Exception as error:  # noqa: BLE001 — inspected by the test
            outcomes[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=convert, args=(i, actor)) for i, actor in enumerate(actors)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def test_two_simultaneous_conversions_make_one_account(cast):
    lead = _qualified_lead(cast)
    outcomes = _race(lead.pk, [cast.a.sdr1, cast.a.manager])
    refused = [o for o in outcomes if isinstance(o, AlreadyConverted)]
    converted = [o for o in outcomes if not isinstance(o, Exception)]
    assert (len(converted), len(refused)) == (1, 1), outcomes
    conversion = LeadConversion.objects.get()
    assert refused[0].conversion == conversion == converted[0].conversion
    assert (Account.objects.count(), Contact.objects.count()) == (1, 1)
    assert Activity.objects.filter(event="accounts.lead.converted").count() == 2  # one on the account, one on the lead
    assert StatusChange.objects.filter(lead=lead, to_status__key="converted").count() == 1
