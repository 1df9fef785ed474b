"""The first hour of each role, in a real browser with a real worker (issue 16): log in through the
login page, read the dashboard's charts, import a CSV file while the Procfile's worker runs, follow
the import's progress on its page and revert it. Only admins and managers may import
(``crm.permissions``): an SDR's first hour ends at their dashboard, with no import page offered."""

import re

import pytest
from playwright.sync_api import expect

from crm.tests.browser.test_journey import log_in
from leads import assignment, services
from leads.models import ImportJob, ImportStatus, Lead
from leads.testing.factories import make_campaign, make_lead, status

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WARNING = "No background worker is running"
WORKER_TIMEOUT_MS = 30_000  # a cold worker: start, pick the task up, run it
HEADER = "First name,Last name,Email,Company,Job title"
GOOD = [
    ("Ada", "Lovelace", "ada@engines.example", "Analytical Engines", "Head of Research"),
    ("Alan", "Turing", "alan@bletchley.example", "Bletchley Labs", "CTO"),
    ("Grace", "Hopper", "grace@cobol.example", "Cobol Works", "VP Engineering"),
    ("Edsger", "Dijkstra", "edsger@paths.example", "Shortest Paths", "Architect"),
    ("Barbara", "Liskov", "barbara@clu.example", "CLU Systems", "CEO"),
    ("Donald", "Knuth", "don@tex.example", "TeX Press", "Founder"),
    ("Frances", "Allen", "fran@optim.example", "Optimising Compilers", "Fellow"),
    ("Ken", "Thompson", "ken@unix.example", "Unix Tools", "Engineer"),
    ("Radia", "Perlman", "radia@spanning.example", "Spanning Trees", "Network Lead"),
    ("John", "Backus", "john@fortran.example", "Fortran Inc", "Director"),
]
# (row number in the file, the row, the error the import reports for it)
BAD = [
    (4, ("Hedy", "Lamarr", "hedy-at-hollywood", "Frequency Hop", "Inventor"),
     "4Emailhedy-at-hollywoodEnter a valid email address."),
    (9, ("Linus", "Torvalds", "linus@@kernel.example", "Kernel Org", "Maintainer"),
     "9Emaillinus@@kernel.exampleEnter a valid email address."),
]  # fmt: skip

# What each role's dashboard draws from the planted leads (_plant): the funnel's value per status in
# workflow order ("count (share of the first step)") and the sources' marks, biggest first.
FUNNEL_ZEROS = ["0 (0%)"] * 5  # qualified, unqualified, converted, recycled, disqualified
DASHBOARDS = {
    "admin": {
        "funnel": ["3 (100%)", "2 (67%)", *FUNNEL_ZEROS],
        "sources": ["Event: 2", "Website: 2", "Referral: 1"],
        "leads": 5,
        "name": "Alpha Admin",
    },
    "manager": {  # the manager's team is sdr1: sdr2's leads (admin's report) exist and stay out
        "funnel": ["2 (100%)", "1 (50%)", *FUNNEL_ZEROS],
        "sources": ["Website: 2", "Referral: 1"],
        "leads": 3,
        "name": "Alpha Manager",
    },
}


def _plant(cast) -> None:
    """Alpha: three leads of sdr1 (one contacted) and two of sdr2 (one contacted); Bravo: four leads
    that no Alpha chart may count."""
    a = cast.a
    campaign = make_campaign(a.company, "Spring webinar")
    for owner, assigner, sources in ((a.sdr1, a.manager, ("Website", "Website", "Referral")),
                                     (a.sdr2, a.admin, ("Event", "Event"))):  # fmt: skip
        for index, source in enumerate(sources):
            lead = make_lead(a.company, assigner, lead_source=source, campaign=campaign)
            lead = assignment.lead_assign(actor=assigner, lead=lead, owner=owner)
            if index == 1:
                services.lead_transition(actor=owner, lead=lead, to_status=status(a.company, "contacted"))
    for _ in range(4):
        make_lead(cast.b.company, cast.b.manager, lead_source="Website", campaign=make_campaign(cast.b.company))


def _csv(tmp_path):
    rows = [",".join(row) for row in GOOD]
    for number, row, _ in BAD:
        rows.insert(number - 2, ",".join(row))  # row 1 is the header
    path = tmp_path / "trade-fair.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def _expect_dashboard(page, funnel_testid: str, funnel: list[str], sources: list[str] | None = None) -> None:
    expect(page.get_by_test_id(funnel_testid)).to_be_visible()
    expect(page.get_by_test_id(funnel_testid).locator("g.chart-mark text.chart-value")).to_have_text(funnel)
    if sources is not None:
        expect(page.get_by_test_id("chart-sources")).to_be_visible()
        expect(page.get_by_test_id("chart-sources").locator("g.chart-mark > title")).to_have_text(sources)


def _expect_lead_list(page, live_server, count: int) -> None:
    page.goto(f"{live_server.url}/c/alpha/leads/")
    expect(page.get_by_test_id("result-count")).to_have_text(f"{count} leads · showing 1–{count}")


def _upload_and_start(page, tmp_path) -> None:
    """The wizard: upload the file, check the matched columns and the preview, start the import."""
    page.get_by_label("File").set_input_files(_csv(tmp_path))
    page.get_by_label("Campaign").select_option(label="Trade fair 2026")
    page.get_by_test_id("upload-submit").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(r"^Import #\d+: match the columns$"))
    expect(page.get_by_test_id("mapping-errors")).to_have_count(0)  # every column matched a lead field
    expect(page.get_by_test_id("preview-row")).to_have_count(12)
    expect(page.get_by_test_id("row-error")).to_have_text(["Email: Enter a valid email address."] * 2)
    page.get_by_label("Skip invalid rows").check()
    page.get_by_test_id("import-submit").click()


@pytest.mark.parametrize("role", ["admin", "manager"])
def test_the_first_hour_of_a_member_who_imports(role, page, live_server, cast, procfile_worker, tmp_path):
    _plant(cast)
    make_campaign(cast.a.company, "Trade fair 2026", source="Trade fair")
    board, imported = DASHBOARDS[role], sorted(row[2] for row in GOOD)
    warning = page.get_by_role("alert").filter(has_text=WARNING)

    log_in(page, live_server, f"{role}@alpha.test")
    expect(page).to_have_url(f"{live_server.url}/c/alpha/")
    _expect_dashboard(page, "chart-funnel", board["funnel"], board["sources"])

    page.get_by_role("link", name="Import", exact=True).click()
    expect(warning).to_be_visible()  # no worker yet
    _upload_and_start(page, tmp_path)
    expect(page.get_by_test_id("job-status")).to_have_text("Queued")
    expect(page.get_by_test_id("import-status")).to_contain_text("Queued: 0 of 12 rows")
    expect(warning).to_be_visible()

    procfile_worker.start()  # the page follows the job by itself: nobody reloads it
    expect(page.get_by_test_id("job-status")).to_have_text("Imported", timeout=WORKER_TIMEOUT_MS)
    expect(page.get_by_test_id("created-count")).to_have_text("10")
    expect(page.get_by_test_id("invalid-count")).to_have_text("2")
    expect(page.get_by_test_id("job-error-row")).to_have_text([error for _, _, error in BAD])
    expect(warning).to_have_count(0)
    job, job_url = ImportJob.objects.get(), page.url
    assert (job.status, job.created_count, job.invalid_count) == (ImportStatus.SUCCEEDED, 10, 2)
    assert sorted(Lead.objects.filter(company=cast.a.company, campaign__name="Trade fair 2026")
                  .values_list("email", flat=True)) == imported  # fmt: skip
    _expect_lead_list(page, live_server, board["leads"] + 10)

    page.goto(job_url)
    page.once("dialog", lambda dialog: dialog.accept())  # "Remove the leads this import created …?"
    page.get_by_test_id("revert").click()
    # The job is "Reverting" at once, and its page follows the worker with nobody reloading it.
    expect(page.get_by_test_id("revert-result")).to_be_visible(timeout=WORKER_TIMEOUT_MS)
    expect(page.get_by_test_id("job-status")).to_have_text("Reverted")
    expect(page.get_by_test_id("revert-result")).to_have_text(
        re.compile(rf"^Reverted on \d{{4}}-\d\d-\d\d \d\d:\d\d by {board['name']}:\s+10 leads removed, 0 restored\.$")
    )
    assert not Lead.objects.filter(email__in=imported).exists()
    assert Lead.objects.filter(company=cast.a.company).count() == 5
    _expect_lead_list(page, live_server, board["leads"])


def test_the_first_hour_of_an_sdr_who_may_not_import(page, live_server, cast):
    _plant(cast)

    log_in(page, live_server, "sdr1@alpha.test")
    expect(page).to_have_url(f"{live_server.url}/c/alpha/")
    _expect_dashboard(page, "chart-my-funnel", ["2 (100%)", "1 (50%)", *FUNNEL_ZEROS])
    expect(page.get_by_role("link", name="Leads", exact=True)).to_be_visible()  # the menu is there …
    expect(page.get_by_role("link", name="Import", exact=True)).to_have_count(0)  # … without "Import"

    response = page.goto(f"{live_server.url}/c/alpha/leads/import/")
    assert response.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text("You are not allowed to do this")
    assert ImportJob.objects.count() == 0
