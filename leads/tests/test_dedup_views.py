"""Duplicates pages, partials, the find_duplicates command and the scheduled scan."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.template import Context, Template
from django.urls import reverse

from crm.permissions import permissions_for
from leads import dedup, services
from leads.dedup import merge
from leads.dedup.tasks import SCHEDULE_NAME, ensure_schedule, scan_all_companies, scan_company
from leads.forms import LeadForm
from leads.models import CandidateStatus, DuplicateCandidate, DuplicateRule, Lead, MergeRecord
from leads.testing.factories import make_duplicate_pair, make_lead


def url(name, company, **kwargs):
    return reverse(f"leads:dedup:{name}", kwargs={"company_slug": company.slug, **kwargs})


def detail(company, lead_id):
    return reverse("leads:detail", kwargs={"company_slug": company.slug, "lead_id": lead_id})


@pytest.fixture
def pairs(cast):
    """Two duplicate pairs in company a (one in sdr2's hands), one in company b to leak if we could."""
    a = cast.a
    first = make_duplicate_pair(a.company, first_name="Ana", last_name="Souza", email="ana@acme.example")
    hidden = make_duplicate_pair(a.company, first_name="Hidden", last_name="Pair", email="hp@acme.example",
                                 owner=a.sdr2)  # fmt: skip
    services.lead_update(actor=a.admin, lead=hidden[1], data={"owner": a.sdr2}, allow_duplicates=True)
    other = make_duplicate_pair(cast.b.company, first_name="Bravo", last_name="Secret", email="bs@bravo.example")
    return {"a": first, "hidden": hidden, "b": other}


# --- permissions ------------------------------------------------------------------------------------


PAGES = [("queue", "leads.merge"), ("merge_list", "leads.merge"), ("rules", "rules.manage"), ("merge", "leads.merge")]


@pytest.mark.parametrize(("page", "permission"), PAGES)
@pytest.mark.parametrize("role", ["admin", "manager", "sdr1"])
def test_each_page_answers_by_role(page, permission, role, cast, client_for):
    member = cast.a.member(role)
    response = client_for(member).get(url(page, cast.a.company))
    assert response.status_code == (200 if permission in permissions_for(member.role) else 403)


# --- the review queue ---------------------------------------------------------------------------------


def test_the_queue_shows_the_groups_the_member_can_see_with_reasons(cast, pairs, client_for):
    first, second, _ = pairs["a"]
    response = client_for(cast.a.manager).get(url("queue", cast.a.company))
    groups = list(response.context["page"])
    assert [[lead.pk for lead in group.leads] for group in groups] == [[first.pk, second.pk]]
    assert [pair.reason_text for pair in groups[0].pairs] == ["same email"]
    assert b"Bravo" not in response.content
    assert b"Hidden" not in response.content
    admin_view = client_for(cast.a.admin).get(url("queue", cast.a.company))
    assert len(admin_view.context["page"]) == 2


@pytest.mark.parametrize("group_count", [1, 3])
def test_the_queue_costs_a_fixed_number_of_queries(group_count, cast, client_for, django_assert_num_queries):
    for n in range(group_count):
        make_duplicate_pair(cast.a.company, email=f"dup{n}@acme.example")
    client = client_for(cast.a.admin)
    client.get(url("queue", cast.a.company))
    with django_assert_num_queries(9):
        response = client.get(url("queue", cast.a.company))
    assert len(response.context["page"]) == group_count


def test_marking_a_pair_not_a_duplicate_removes_it_from_the_queue_for_good(cast, pairs, client_for):
    candidate = pairs["a"][2]
    client = client_for(cast.a.manager)
    response = client.post(url("dismiss", cast.a.company, candidate_id=candidate.pk))
    assert response.status_code == 302
    candidate.refresh_from_db()
    assert (candidate.status, candidate.reviewed_by) == (CandidateStatus.NOT_DUPLICATE, cast.a.manager)
    dedup.duplicates_scan(company=cast.a.company)
    assert list(client.get(url("queue", cast.a.company)).context["page"]) == []


def test_dismissing_with_htmx_answers_with_a_line_in_place(cast, pairs, client_for):
    candidate = pairs["a"][2]
    response = client_for(cast.a.admin).post(url("dismiss", cast.a.company, candidate_id=candidate.pk),
                                             HTTP_HX_REQUEST="true")  # fmt: skip
    assert response.status_code == 200
    assert response.content.decode() == (
        f'<p class="dismissed" data-testid="dismissed">#{candidate.lead_a_id} and #{candidate.lead_b_id} marked not '
        "duplicates: they will not be proposed again.</p>"
    )


def test_a_manager_cannot_dismiss_a_pair_outside_their_team(cast, pairs, client_for):
    candidate = pairs["hidden"][2]
    assert client_for(cast.a.manager).post(url("dismiss", cast.a.company, candidate_id=candidate.pk)).status_code == 404
    assert DuplicateCandidate.objects.get(pk=candidate.pk).status == CandidateStatus.PENDING


def test_scan_now_fills_the_queue(cast, client_for):
    make_lead(
        cast.a.company, cast.a.admin, first_name="Ana", last_name="Souza", company_name="Acme", email="ana@gmail.com"
    )
    make_lead(
        cast.a.company,
        cast.a.admin,
        first_name="Ana",
        last_name="Suoza",
        company_name="ACME Ltd",
        email="ana.s@gmail.com",
    )
    DuplicateCandidate.objects.all().delete()
    response = client_for(cast.a.admin).post(url("scan", cast.a.company), follow=True)
    assert [pair.reason_text for group in response.context["page"] for pair in group.pairs] == [
        "name 89% + same company"
    ]


# --- merge page --------------------------------------------------------------------------------------


def test_the_merge_page_shows_the_leads_side_by_side_and_merges_with_the_chosen_values(cast, client_for):
    a = cast.a
    first = make_lead(a.company, a.admin, first_name="Ana", last_name="Souza", email="ana@acme.example", job_title="")
    second = make_lead(a.company, a.admin, first_name="Ana", last_name="Sousa", email="", job_title="CTO",
                       phone="+44 20 7946 0018")  # fmt: skip
    client = client_for(a.manager)
    page = merge_url = f"{url('merge', a.company)}?leads={first.pk}&leads={second.pk}"
    response = client.get(page)
    rows = {row["name"]: row for row in response.context["rows"]}
    assert [(c["pk"], c["value"], c["checked"]) for c in rows["job_title"]["cells"]] == [
        (first.pk, "", False), (second.pk, "CTO", True)]  # fmt: skip
    assert [c["lead"].pk for c in response.context["columns"]] == [first.pk, second.pk]
    data = {"leads": [first.pk, second.pk], "survivor": first.pk}
    data |= {row: next(c["pk"] for c in cells["cells"] if c["checked"]) for row, cells in rows.items()}
    data["last_name"] = second.pk
    response = client.post(merge_url, data)
    assert (response.status_code, response["Location"]) == (302, detail(a.company, first.pk))
    survivor = Lead.objects.get(pk=first.pk)
    assert (survivor.last_name, survivor.job_title, survivor.phone) == ("Sousa", "CTO", "+44 20 7946 0018")
    # The tombstone leaves the list, and its address leads to the survivor.
    listed = client.get(reverse("leads:list", kwargs={"company_slug": a.company.slug})).context["page"]
    assert [lead.pk for lead in listed] == [first.pk]
    response = client.get(detail(a.company, second.pk))
    assert (response.status_code, response["Location"]) == (302, detail(a.company, first.pk))


def test_keep_this_one_instead_switches_the_survivor(cast, client_for):
    first, second, _ = make_duplicate_pair(cast.a.company, first_name="Ana", email="ana@acme.example")
    response = client_for(cast.a.admin).get(f"{url('merge', cast.a.company)}?leads={first.pk}&leads={second.pk}"
                                            f"&survivor={second.pk}")  # fmt: skip
    assert [c["is_survivor"] for c in response.context["columns"]] == [True, False]
    assert response.context["preview"].survivor == second


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "Choose at least two leads to merge."),
        ("leads={a}", "Choose at least two leads to merge."),
        ("leads={a}&leads=x", "“x” is not a lead id."),
        ("leads={a}&leads={b}&survivor=999", "The survivor must be one of the leads being merged."),
        (
            "leads={a}&leads={other}",
            "Lead #{other} is not a lead of Alpha; leads of different companies cannot be merged.",
        ),
    ],
)
def test_bad_merge_requests_get_a_clear_message(query, message, cast, pairs, client_for):
    first, second, _ = pairs["a"]
    other = pairs["b"][0]
    fill = {"a": first.pk, "b": second.pk, "other": other.pk}
    response = client_for(cast.a.admin).get(f"{url('merge', cast.a.company)}?{query.format(**fill)}")
    assert (response.status_code, response.context["errors"]) == (400 if query else 200, [message.format(**fill)])
    assert MergeRecord.objects.count() == 0


def test_a_merge_post_naming_a_lead_outside_the_merge_changes_nothing(cast, pairs, client_for):
    first, second, _ = pairs["a"]
    third = make_lead(cast.a.company, cast.a.admin, email="third@acme.example")
    response = client_for(cast.a.admin).post(url("merge", cast.a.company),
                                             {"leads": [first.pk, second.pk], "survivor": first.pk,
                                              "email": third.pk})  # fmt: skip
    assert response.status_code == 200
    assert response.context["rows"][2]["errors"] == [
        f"Select a valid choice. {third.pk} is not one of the available choices."]  # fmt: skip
    assert (MergeRecord.objects.count(), Lead.objects.filter(merged_into__isnull=False).count()) == (0, 0)


# --- merge records and undo -----------------------------------------------------------------------


def test_a_merge_record_can_be_undone_once_from_its_page(cast, pairs, client_for):
    first, second, _ = pairs["a"]
    record = merge.leads_merge(actor=cast.a.admin, survivor=first, others=[second])
    client = client_for(cast.a.manager)
    listed = client.get(url("merge_list", cast.a.company)).context["page"]
    assert [r.pk for r in listed] == [record.pk]
    page = client.get(url("merge_detail", cast.a.company, merge_id=record.pk))
    assert b'data-testid="undo-merge"' in page.content
    response = client.post(url("merge_undo", cast.a.company, merge_id=record.pk), follow=True)
    assert [str(m) for m in response.context["messages"]] == [
        f"Merge #{record.pk} undone: the merged leads are back with their own records."]  # fmt: skip
    assert Lead.objects.get(pk=second.pk).merged_into_id is None
    again = client.post(url("merge_undo", cast.a.company, merge_id=record.pk), follow=True)
    record.refresh_from_db()
    assert [str(m) for m in again.context["messages"]] == [
        f"Merge #{record.pk} was already undone by Alpha Manager on {record.undone_at:%Y-%m-%d %H:%M}."]  # fmt: skip


def test_records_of_leads_a_manager_cannot_see_are_404(cast, pairs, client_for):
    first, second, _ = pairs["hidden"]
    record = merge.leads_merge(actor=cast.a.admin, survivor=first, others=[second])
    client = client_for(cast.a.manager)
    assert client.get(url("merge_detail", cast.a.company, merge_id=record.pk)).status_code == 404
    assert client.post(url("merge_undo", cast.a.company, merge_id=record.pk)).status_code == 404
    assert list(client.get(url("merge_list", cast.a.company)).context["page"]) == []


# --- rules -----------------------------------------------------------------------------------------


def test_an_admin_edits_the_rules(cast, client_for):
    from leads.testing.factories import make_custom_field

    make_custom_field(cast.a.company, "vat", label="VAT number")
    response = client_for(cast.a.admin).post(url("rules", cast.a.company), {
        "match_email": "on", "match_profile_url": "on", "match_name_company": "on", "name_threshold": "92",
        "company_threshold": "80", "custom_field_keys": ["vat"], "free_mail_domains": "Mail.Example\n\n isp.example ",
    })  # fmt: skip
    assert response.status_code == 302
    rule = DuplicateRule.objects.get(company=cast.a.company)
    assert (rule.match_phone, rule.match_company_domain, rule.name_threshold, rule.company_threshold) == (
        False, False, 92, 80)  # fmt: skip
    assert (rule.custom_field_keys, rule.free_mail_domains) == (["vat"], ["isp.example", "mail.example"])
    assert rule.history.get().history_change_reason == "leads.duplicate_rule.changed"


def test_a_bad_threshold_is_named_beside_its_field(cast, client_for):
    response = client_for(cast.a.admin).post(url("rules", cast.a.company), {"name_threshold": "20",
                                                                            "company_threshold": "85"})  # fmt: skip
    assert response.status_code == 200
    assert response.context["form"].errors == {"name_threshold": ["Ensure this value is greater than or equal to 50."]}
    assert not DuplicateRule.objects.exists()


# --- partials for the lead pages ----------------------------------------------------------------------


def render(template: str, **context) -> str:
    return Template("{% load dedup_tags %}" + template).render(Context(context))


def test_the_duplicates_panel_lists_pending_pairs_and_merges(cast, pairs):
    first, second, _ = pairs["a"]
    context = {"company": cast.a.company, "membership": cast.a.manager, "perms_crm": permissions_for("manager")}
    html = render("{% duplicates_panel lead %}", lead=first, **context)
    assert f"#{second.pk} {second.display_name}" in html
    assert f"?leads={first.pk}&amp;leads={second.pk}&amp;survivor={first.pk}" in html
    record = merge.leads_merge(actor=cast.a.admin, survivor=first, others=[second])
    html = render("{% duplicates_panel lead %}", lead=first, **context)
    assert "None found." in html
    assert f"merge #{record.pk} (undo)" in html


def test_an_sdr_sees_the_panel_without_merge_links(cast, pairs):
    first, second, _ = pairs["a"]
    context = {"company": cast.a.company, "membership": cast.a.sdr1, "perms_crm": permissions_for("sdr")}
    html = render("{% duplicates_panel lead %}", lead=first, **context)
    assert f"#{second.pk}" in html
    assert "Review &amp; merge" not in html


def _lead_form(member, data):
    return LeadForm(data, membership=member, can_assign=False)


@pytest.mark.parametrize(("role", "checkbox"), [("manager", True), ("sdr1", False)])
def test_the_form_partial_lists_matches_and_offers_create_anyway_to_managers(role, checkbox, cast, pairs):
    first = pairs["a"][0]
    member = cast.a.member(role)
    form = _lead_form(member, {"first_name": "Ana", "last_name": "Souza", "email": "ANA@acme.example"})
    context = {"company": cast.a.company, "membership": member, "perms_crm": permissions_for(member.role)}
    html = render("{% possible_duplicates form %}", form=form, **context)
    assert f"Ana Souza (#{first.pk})</a> — same email" in " ".join(html.split())  # indentation is not content
    assert ('name="allow_duplicates"' in html) is checkbox


def test_the_form_partial_shows_nothing_before_a_post(cast, pairs):
    form = LeadForm(membership=cast.a.admin, can_assign=True)
    assert render("{% possible_duplicates form %}", form=form, company=cast.a.company).strip() == ""


# --- command and tasks ---------------------------------------------------------------------------


def test_find_duplicates_prints_one_json_object_per_pair(cast):
    first = make_lead(
        cast.a.company, cast.a.admin, first_name="Ana", last_name="Souza", company_name="Acme", email="ana@gmail.com"
    )
    second = make_lead(
        cast.a.company,
        cast.a.admin,
        first_name="Ana",
        last_name="Suoza",
        company_name="ACME Ltd",
        email="ana.s@gmail.com",
    )
    DuplicateCandidate.objects.all().delete()
    out = StringIO()
    call_command("find_duplicates", "--company", "alpha", "--json", stdout=out)
    assert json.loads(out.getvalue()) == [{"lead_a": first.pk, "lead_b": second.pk, "score": 94, "reasons": [
        {"code": "name_company", "label": "name 89% + same company", "score": 94}]}]  # fmt: skip
    assert DuplicateCandidate.objects.filter(status=CandidateStatus.PENDING).count() == 1


def test_find_duplicates_dry_run_leaves_the_queue_alone_and_summarises(cast):
    make_lead(
        cast.a.company, cast.a.admin, first_name="Ana", last_name="Souza", company_name="Acme", email="ana@gmail.com"
    )
    make_lead(
        cast.a.company,
        cast.a.admin,
        first_name="Ana",
        last_name="Suoza",
        company_name="ACME Ltd",
        email="ana.s@gmail.com",
    )
    DuplicateCandidate.objects.all().delete()
    out = StringIO()
    call_command("find_duplicates", "--company", "alpha", "--dry-run", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("scanned 2 leads of Alpha in ")
    assert lines[0].endswith(": 1 candidate pairs")
    assert lines[1].endswith("94  name 89% + same company")
    assert not DuplicateCandidate.objects.exists()


def test_find_duplicates_refuses_bad_input(cast):
    with pytest.raises(CommandError, match="No company with slug 'nope'."):
        call_command("find_duplicates", "--company", "nope")
    with pytest.raises(CommandError, match="Give --company SLUG"):
        call_command("find_duplicates")


def test_the_nightly_schedule_scans_every_company(cast, pairs):
    DuplicateCandidate.objects.all().delete()
    schedule = ensure_schedule()
    again = ensure_schedule()
    assert (schedule.pk, schedule.name, schedule.func) == (
        again.pk,
        SCHEDULE_NAME,
        "leads.dedup.tasks.scan_all_companies",
    )
    assert scan_all_companies() == 2
    assert DuplicateCandidate.objects.filter(company=cast.a.company).count() == 2
    assert DuplicateCandidate.objects.filter(company=cast.b.company).count() == 1
    assert scan_company(999999) == {"company": 999999, "found": 0}
