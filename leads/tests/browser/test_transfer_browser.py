import csv

import pytest
from playwright.sync_api import expect

from crm.tests.browser.test_journey import log_in
from leads.models import ImportJob, Lead
from leads.testing.factories import make_campaign

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def read_csv(path) -> list[list[str]]:
    with open(path, encoding="utf-8-sig") as handle:
        return list(csv.reader(handle))


def upload(page, name: str, content: str):
    page.get_by_label("File").set_input_files(
        files=[{"name": name, "mimeType": "text/csv", "buffer": content.encode()}]
    )
    page.get_by_label("Campaign").select_option(label="Autumn import")
    page.get_by_test_id("upload-submit").click()


def test_import_wizard_with_an_error_a_fix_a_successful_import_and_a_download(page, live_server, cast):
    make_campaign(cast.a.company, "Autumn import")
    log_in(page, live_server, "manager@alpha.test")
    page.goto(f"{live_server.url}/c/alpha/leads/import/")

    upload(page, "leads.csv", "E-mail,Name,Colour\nnot-an-email,Ann Lee,red\nbo@berg.example,Bo Berg,blue\n")
    expect(page.get_by_test_id("mapping-errors")).to_have_text(
        "Column 3 “Colour” matches no lead field: choose a field or ignore it."
    )
    expect(page.get_by_test_id("row-error")).to_have_text("E-mail: Enter a valid email address.")
    page.get_by_test_id("ignore-unmatched").click()
    expect(page.get_by_label("Colour")).to_have_value("__ignore__")
    page.get_by_test_id("import-submit").click()

    expect(page.get_by_test_id("job-status")).to_have_text("Failed (nothing imported)")
    expect(page.get_by_test_id("job-error-row")).to_have_text("2E-mailnot-an-emailEnter a valid email address.")
    with page.expect_download() as caught:
        page.get_by_test_id("errors-file").click()
    rows = read_csv(caught.value.path())
    assert rows == [["E-mail", "Name", "Colour", "Import errors", "Source row"],
                    ["not-an-email", "Ann Lee", "red", "E-mail: Enter a valid email address.", "2"]]  # fmt: skip
    assert Lead.objects.count() == 0

    page.get_by_test_id("new-import").click()
    upload(page, "fixed.csv", "E-mail,Name,Colour\nann@lee.example,Ann Lee,red\nbo@berg.example,Bo Berg,blue\n")
    page.get_by_test_id("ignore-unmatched").click()
    page.get_by_test_id("import-submit").click()
    expect(page.get_by_test_id("job-status")).to_have_text("Imported")
    expect(page.get_by_test_id("created-count")).to_have_text("2")
    assert sorted(Lead.objects.values_list("email", "first_name", "last_name")) == [
        ("ann@lee.example", "Ann", "Lee"), ("bo@berg.example", "Bo", "Berg"),
    ]  # fmt: skip
    assert ImportJob.objects.count() == 2

    page.get_by_test_id("nav-exports").click()
    with page.expect_download() as caught:
        page.get_by_test_id("export-all-csv").click()
    rows = read_csv(caught.value.path())
    assert sorted(row[3] for row in rows[1:]) == ["ann@lee.example", "bo@berg.example"]
    assert caught.value.suggested_filename.startswith("leads-alpha-")
