"""Nurturing benchmark (issue 15): ``nurture_send`` — N due sequence steps sent to a local SMTP sink.

* ours: ``nurturing.sending.send_due`` (what the django-q2 schedule and ``run_nurturing`` run):
  batches of 500 due enrolments claimed in one transaction each (gates on the fresh lead, the step
  compiled and sanitised once and rendered per lead with tracked links, the message rows inserted
  ``ON CONFLICT DO NOTHING`` on the exactly-once key, the enrolments moved on by one conditional
  update per step), sent over three SMTP connections in threads, recorded as sent 25 at a time
  (never more than 50 sent and unrecorded).
* baseline: the data-flow guide's per-lead loop (step 4.2): for each lead, one query (its enrolment
  and lead), one ``send_mail`` of the step (its own SMTP connection, as the guide's ``send_email``),
  one message row and the enrolment moved on, one transaction per lead; timed on min(N, 2,000)
  leads. It renders nothing and checks no gate: it does less than ours.

Both send the same kind of leads (``leads.generate``, made emailable: open status, consent, no
do-not-disturb) in their own fresh companies, to the same aiosmtpd sink. The sink runs in its own
process, so that receiving does not compete with the sender for the benchmark process's GIL, and
counts what it accepts: a figure is reported only when the sink received exactly that many emails.

Through the harness only: ``python bench/run.py nurture_send [--size N] [--json]`` (default 10,000).
"""

from __future__ import annotations

import multiprocessing
import time
import uuid

BASELINE_SAMPLE = 2000
GUIDE_RUN = "guide-loop"  # the baseline's message rows carry it as their claim token
SLUG, BASELINE_SLUG = "bench-nurture", "bench-nurture-baseline"
STEP = {
    "subject": "{{ first_name|default:'Hello' }}, a guide for {{ company_name|default:'your team' }}",
    "body": '<p>Hi {{ first_name|default:"there" }},</p><p>Teams like {{ company_name|default:"yours" }} use '
    '<a href="https://example.com/guide?utm_source=crm">our guide</a> to answer leads within the hour.</p>'
    "<p>{{ owner_signature }}</p>",
    "delay_days": 0,
}


class _Counter:
    """aiosmtpd handler: accept every message, count it, keep nothing."""

    def __init__(self, received):
        self.received = received

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd hook)
        with self.received.get_lock():
            self.received.value += 1
        return "250 Message accepted for delivery"


def _serve(port: int, received, ready, stop) -> None:
    from aiosmtpd.controller import Controller

    controller = Controller(_Counter(received), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    stop.wait()
    controller.stop()


class Sink:
    """The SMTP sink in a forked process; ``received`` counts the messages it accepted."""

    def __enter__(self):
        from django.db import connections

        from nurturing.testing.smtp import free_port

        connections.close_all()  # the child must not share the parent's database connection
        context = multiprocessing.get_context("fork")
        self.port, self.received = free_port(), context.Value("l", 0)
        self._stop, ready = context.Event(), context.Event()
        self._process = context.Process(target=_serve, args=(self.port, self.received, ready, self._stop), daemon=True)
        self._process.start()
        if not ready.wait(10):
            raise RuntimeError("The SMTP sink did not start.")
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._process.join(10)

    def settings(self) -> dict:
        return {"EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend", "EMAIL_HOST": "127.0.0.1",
                "EMAIL_PORT": self.port, "EMAIL_USE_TLS": False, "EMAIL_HOST_USER": "", "EMAIL_HOST_PASSWORD": ""}  # fmt: skip

    def expect(self, count: int, seconds: float = 30) -> int:
        deadline = time.monotonic() + seconds
        while self.received.value < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.received.value


def _drop(harness, slug: str) -> None:
    """A previous run's company, its nurturing rows first (the harness drops leads with a raw DELETE)."""
    from crm.models import Company
    from nurturing.models import EmailSequence, Enrolment, LeadEmailActivity, NurturingSettings

    company = Company.objects.filter(slug=slug).first()
    if company is None:
        return
    for model in (LeadEmailActivity, Enrolment, NurturingSettings, EmailSequence):
        model.objects.filter(company=company).delete()
    harness.drop_company(company)


def _company_with_due_steps(harness, slug: str, name: str, count: int):
    """A fresh company of ``count`` generated leads, all emailable, each enrolled in one active
    one-step sequence whose step is due now."""
    from django.db.models import CharField, F, Value
    from django.db.models.functions import Cast, Concat

    from leads.models import Lead, LeadStatus
    from nurturing import services
    from nurturing.models import ConsentPolicy

    _drop(harness, slug)
    company = harness.fresh_company(slug, name)
    harness.generate_into(company, count)
    new = LeadStatus.objects.get(company=company, key="new")
    leads = Lead.objects.filter(company=company)
    leads.update(status=new, dnd=False, gdpr_consent=True, converted_at=None, is_deleted=False, merged_into=None)
    leads.filter(email="").update(email=Concat(Value("lead"), Cast(F("id"), CharField()), Value("@example.com")))
    services.nurturing_settings_update(actor=None, settings=services.settings_for(company), rate_per_minute=100_000,
                                       consent_policy=ConsentPolicy.CONSENT)  # fmt: skip
    sequence = services.sequence_create(actor=None, company=company, data={"name": "Welcome"})
    services.step_create(actor=None, sequence=sequence, data=dict(STEP))
    sequence = services.sequence_update(actor=None, sequence=sequence, data={"is_active": True})
    chosen = list(leads.select_related("status").order_by("pk"))
    for start in range(0, len(chosen), 1000):
        offenders = services.enrolments_create_many(actor=None, sequence=sequence, leads=chosen[start : start + 1000],
                                                    reason="benchmark")  # fmt: skip
        if offenders:
            raise RuntimeError(f"Could not enrol: {offenders[:3]}")
    return company, sequence


def _guide_loop(sequence) -> tuple[int, float]:
    """The guide's loop over the due enrolments: (emails sent, seconds)."""
    from django.conf import settings
    from django.core.mail import send_mail
    from django.db import transaction
    from django.utils import timezone

    from nurturing.models import Enrolment, EnrolmentState, LeadEmailActivity, MessageState

    step = sequence.steps.get()
    ids = list(Enrolment.objects.filter(sequence=sequence, state=EnrolmentState.ACTIVE).values_list("pk", flat=True))
    started = time.perf_counter()
    for enrolment_id in ids:
        with transaction.atomic():
            enrolment = Enrolment.objects.select_related("lead").get(pk=enrolment_id)
            send_mail(step.subject, step.body, settings.DEFAULT_FROM_EMAIL, [enrolment.lead.email])
            now = timezone.now()
            LeadEmailActivity.objects.create(
                company_id=enrolment.company_id, enrolment=enrolment, lead_id=enrolment.lead_id,
                sequence=sequence, step=step, uid=uuid.uuid4().hex, message_id="", to_email=enrolment.lead.email,
                subject=step.subject, state=MessageState.SENT, claim_token=GUIDE_RUN, claimed_at=now, sent_at=now,
            )  # fmt: skip
            Enrolment.objects.filter(pk=enrolment_id).update(
                last_step_number=step.step_number, state=EnrolmentState.COMPLETED, next_send_at=None, finished_at=now
            )
    return len(ids), time.perf_counter() - started


def nurture_send(size: int, harness) -> dict:
    from django.test.utils import override_settings
    from django.urls import reverse

    from nurturing.sending import send_due

    sample = min(size, BASELINE_SAMPLE)
    harness.log(f"setting up {size:,} due steps (ours) and {sample:,} (baseline)")
    company, _ = _company_with_due_steps(harness, SLUG, "Bench nurture", size)
    baseline_company, baseline_sequence = _company_with_due_steps(harness, BASELINE_SLUG, "Bench baseline", sample)

    reverse("nurturing_public:open", args=["warm-up"])  # a running worker has its URLconf loaded already
    with Sink() as sink, override_settings(**sink.settings()):
        harness.log(f"ours: send_due over {size:,} due steps")
        started = time.perf_counter()
        result = send_due(company_id=company.pk)
        seconds = time.perf_counter() - started
        received = sink.expect(size)
        if (result.sent, received) != (size, size):
            raise RuntimeError(f"ours sent {result.sent} and the sink received {received}, not {size}")
        harness.log(f"baseline: the guide's loop over {sample:,} due steps")
        sent, baseline_seconds = _guide_loop(baseline_sequence)
        received = sink.expect(size + sample) - size
        if (sent, received) != (sample, sample):
            raise RuntimeError(f"the guide's loop sent {sent} and the sink received {received}, not {sample}")
    for slug in (SLUG, BASELINE_SLUG):
        _drop(harness, slug)
    return {
        "name": "nurture_send",
        "size": size,
        "ours": round(size / seconds),
        "baseline": round(sample / baseline_seconds),
        "unit": "emails/s",
        "seconds": round(seconds, 2),
        "baseline_sample": sample,
        "baseline_seconds": round(baseline_seconds, 2),
        "target": "≥ 300 emails/s",
    }
