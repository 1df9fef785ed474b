"""Everything a user writes is rendered escaped; only sanitised comment HTML is rendered as HTML."""

from django.urls import reverse

from leads import services
from leads.models import Campaign, LeadStatus
from leads.testing.factories import make_custom_field, make_lead

PAYLOAD = '"><script>alert("xss")</script><img src=x onerror=alert(1)>'
RAW_MARKERS = (b"<script>alert(", b"<img src=x onerror", b'<img src="x" onerror')


def assert_escaped(content: bytes):
    for marker in RAW_MARKERS:
        assert marker not in content
    assert b"&lt;script&gt;alert(" in content


def xss_lead(cast):
    company, actor = cast.a.company, cast.a.admin
    campaign = Campaign.objects.create(company=company, name=f"Camp {PAYLOAD}", source="Web")
    make_custom_field(company, "notes_cf", label=f"Label {PAYLOAD}")
    cast.a.sdr1.user.full_name = f"Evil {PAYLOAD}"
    cast.a.sdr1.user.save()
    LeadStatus.objects.filter(company=company, key="contacted").update(name=("C" + PAYLOAD)[:60])
    lead = make_lead(
        company, actor,
        first_name=f"F{PAYLOAD}"[:100], last_name="L" + PAYLOAD, job_title="J" + PAYLOAD, company_name="C" + PAYLOAD,
        lead_source="S" + PAYLOAD, medium="M" + PAYLOAD[:40], term="T" + PAYLOAD, need="N" + PAYLOAD,
        interest_product="I" + PAYLOAD, budget_range="B" + PAYLOAD[:90], timeline="T" + PAYLOAD[:90],
        campaign=campaign, owner=cast.a.sdr1, custom_fields={"notes_cf": "V" + PAYLOAD},
        profile_data={"headline": "H" + PAYLOAD, "location": "L" + PAYLOAD, "skills": ["K" + PAYLOAD]},
    )  # fmt: skip
    services.comment_create(actor=actor, lead=lead, body="Comment " + PAYLOAD)
    services.activity_log(actor=actor, lead=lead, kind="call", subject="Sub" + PAYLOAD, notes="Not" + PAYLOAD,
                          outcome="neutral")  # fmt: skip
    return lead


def test_every_field_on_the_lead_page_is_escaped(cast, client_for):
    lead = xss_lead(cast)
    client = client_for(cast.a.admin)
    detail = client.get(reverse("leads:detail", kwargs={"company_slug": "alpha", "lead_id": lead.pk}))
    assert detail.status_code == 200
    assert_escaped(detail.content)
    assert b'<div class="rich">Comment "&gt;alert("xss")</div>' in detail.content  # sanitised: text only


def test_lists_dashboards_and_forms_escape_user_text(cast, client_for):
    lead = xss_lead(cast)
    client = client_for(cast.a.admin)
    kwargs = {"company_slug": "alpha"}
    pages = [
        reverse("leads:list", kwargs=kwargs),
        reverse("leads:activity", kwargs=kwargs),
        reverse("leads:edit", kwargs={**kwargs, "lead_id": lead.pk}),
        reverse("crm:members", kwargs=kwargs),
    ]
    for page in pages:
        response = client.get(page)
        assert response.status_code == 200
        for marker in RAW_MARKERS:
            assert marker not in response.content, page
