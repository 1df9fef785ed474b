import re

import pytest
from playwright.sync_api import expect

from crm.tests.browser.test_journey import log_in
from leads import services
from leads.models import Lead, MergeRecord
from leads.testing.factories import make_duplicate_pair

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_review_queue_merge_page_merged_lead_and_unmerge(page, live_server, cast):
    first, second, _ = make_duplicate_pair(cast.a.company, first_name="Marta", last_name="Kowalska",
                                           email="marta@kowalska.example", owner=cast.a.sdr1)  # fmt: skip
    services.lead_update(actor=cast.a.admin, lead=second, data={"job_title": "Head of Growth", "owner": cast.a.sdr1},
                         allow_duplicates=True)  # fmt: skip
    base = f"{live_server.url}/c/alpha/leads"
    log_in(page, live_server, "manager@alpha.test")

    page.goto(f"{base}/duplicates/")
    group = page.get_by_test_id("dup-group")
    expect(group).to_have_count(1)
    expect(group.get_by_test_id("dup-reasons")).to_have_text("same email")
    group.get_by_test_id("review-merge").click()

    expect(page.get_by_role("heading", level=1)).to_have_text(f"Merge 2 leads into #{first.pk} Marta Kowalska")
    expect(page.get_by_test_id(f"choose-job_title-{second.pk}")).to_be_checked()  # the survivor has none
    # Giving the lead an owner through the edit is an assignment, logged like /assign: it moves too.
    expect(page.get_by_test_id("merge-moves")).to_contain_text(
        f"#{second.pk} Marta Kowalska: 1 lead assignment, 1 status change"
    )
    page.get_by_test_id("merge-submit").click()

    expect(page).to_have_url(f"{base}/{first.pk}/")
    expect(page.get_by_test_id("lead-name")).to_have_text("Marta Kowalska")
    expect(page.locator(".message-success")).to_contain_text(f"Merged #{second.pk} into Marta Kowalska.")
    assert Lead.objects.get(pk=first.pk).job_title == "Head of Growth"
    page.goto(f"{base}/{second.pk}/")  # the merged lead's address leads to the survivor
    expect(page).to_have_url(f"{base}/{first.pk}/")

    page.goto(f"{base}/duplicates/")
    expect(page.get_by_test_id("queue-empty")).to_be_visible()
    page.get_by_test_id("nav-merges").click()
    page.get_by_test_id("merge-link").first.click()
    page.get_by_test_id("undo-merge").click()
    expect(page.get_by_test_id("merge-state")).to_have_text(re.compile(r"^Undone by Alpha Manager on "))
    assert MergeRecord.objects.get().undone_at is not None

    page.get_by_test_id("merged-lead").click()
    expect(page).to_have_url(f"{base}/{second.pk}/")
    expect(page.get_by_test_id("lead-name")).to_have_text("Marta Kowalska")
    assert (Lead.objects.get(pk=first.pk).job_title, Lead.objects.get(pk=second.pk).merged_into_id) == ("", None)
