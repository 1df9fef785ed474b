"""The scale-out load test (issue 17): SDRs, managers and partner systems working one company at once.

``bench/scaleout.py`` seeds the company (``manage.py seed_load``), starts the layout
(``Procfile.scale``), runs this file headless and afterwards counts in the database every write
recorded here. By hand, against a layout already running and seeded:

    LOAD_PLAN=plan.json LOAD_RECORD=out/ locust -f bench/locustfile.py --headless \\
        --host http://127.0.0.1:8010 --users 10 --spawn-rate 5 --run-time 1m

* ``LOAD_PLAN``: the JSON ``seed_load --plan`` wrote (logins, the partners' API keys, ids).
* ``LOAD_RECORD``: a folder; each locust process appends every write it sent to
  ``writes-<pid>.jsonl`` (kind, the unique token the write carries, outcome, HTTP status) and
  writes its response times and status counts to ``stats-<pid>.json`` when it stops.
* ``LOAD_RUN``: a short tag put in every token, so that one run's writes are told from another's.

The app runs with its production settings on loopback, as behind a TLS-terminating proxy, and the
load test plays the browser and that proxy together: every request carries ``X-Forwarded-Proto:
https`` as the proxy adds it (``SECURE_PROXY_SSL_HEADER``: no HTTPS redirect), the ``Secure``
session and CSRF cookies are sent back as a browser sends them over HTTPS, and POSTs carry
``Origin`` and ``Referer`` (Django checks them on HTTPS). Users log in through the login form;
pages are read as the browser reads them (forms, CSRF tokens, the transitions offered); htmx
requests carry ``HX-Request``.

Of ``--users``, about 12 % are managers and 6 % partners (at least one of each), the rest SDRs.

Request names: ``page …`` for pages and their htmx partials, ``api …`` for the REST API,
``login …`` for the login form. A refused write (422, a bulk job the app declined) is not a
failure: it is recorded as ``refused`` and must then be absent from the database.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
import random
import re
import time
import uuid
from collections import defaultdict
from html.parser import HTMLParser
from http.cookiejar import DefaultCookiePolicy
from pathlib import Path
from urllib.parse import urlsplit

from locust import between, events, task
from locust.contrib.fasthttp import FastHttpUser

PLAN = json.loads(Path(os.environ["LOAD_PLAN"]).read_text()) if os.environ.get("LOAD_PLAN") else None
RECORD = Path(os.environ.get("LOAD_RECORD", "."))
RUN = os.environ.get("LOAD_RUN") or uuid.uuid4().hex[:6]
IMPORT_ROWS = 10
POLL_SECONDS = 1.0  # the progress pages poll every second (hx-trigger="every 1s")
POLL_LIMIT = 60
LEADS_REMEMBERED = 200
ROW_LINK = re.compile(r'href="/c/[^/]+/leads/(\d+)/" data-row-link')
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
JOB_PATH = re.compile(r"/(?:bulk|import)/(\d+)/$")
DATA_STATUS = re.compile(r'data-status="([a-z]+)"')
FINISHED = {"succeeded", "failed", "checked", "reverted"}
MANAGER_SHARE, PARTNER_SHARE = 0.12, 0.06

_logins: dict[str, itertools.count] = defaultdict(itertools.count)  # the next login of each kind


def token(kind: str) -> str:
    """Unique text carried by one write: ``lt<run>-<kind>-<random>``."""
    return f"lt{RUN}-{kind}-{uuid.uuid4().hex[:10]}"


# --- what was sent and how it went -----------------------------------------------------------------


class Recorder:
    """Appends one JSON line per write; keeps response times and status codes per request group."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.writes = None
        self.times: dict[str, list[float]] = {"page": [], "api": [], "login": []}
        self.codes: dict[str, int] = {}
        self.failures: list[str] = []

    def write(self, kind: str, outcome: str, code: int, **details) -> None:
        if self.writes is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            self.writes = open(self.folder / f"writes-{os.getpid()}.jsonl", "a", encoding="utf-8")  # noqa: SIM115 — closed in dump()
        self.writes.write(json.dumps({"kind": kind, "outcome": outcome, "code": code, **details}) + "\n")
        self.writes.flush()

    def request(self, name: str, response_time: float, code: int, exception) -> None:
        group = name.split(" ", 1)[0]
        self.times.setdefault(group, []).append(response_time)
        self.codes[str(code)] = self.codes.get(str(code), 0) + 1
        if exception is not None:
            self.failures.append(f"{name}: {exception}")

    def dump(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        stats = {"pid": os.getpid(), "run": RUN, "times": self.times, "codes": self.codes, "failures": self.failures}
        (self.folder / f"stats-{os.getpid()}.json").write_text(json.dumps(stats))
        if self.writes is not None:
            self.writes.close()
            self.writes = None


recorder = Recorder(RECORD)


@events.request.add_listener
def _on_request(name, response_time, response=None, exception=None, **_kwargs):
    code = getattr(response, "status_code", 0) or 0
    recorder.request(name, response_time, code, exception)


@events.test_stop.add_listener
def _on_stop(**_kwargs):
    recorder.dump()


@events.init.add_listener
def _on_init(environment, **_kwargs):
    if PLAN is None:
        raise SystemExit("Set LOAD_PLAN to the plan file written by manage.py seed_load --plan.")
    users = getattr(environment.parsed_options, "num_users", None) or 0
    if users >= 3:  # at least one of each kind; SDRs take the rest
        Manager.fixed_count = max(1, round(users * MANAGER_SHARE))
        Partner.fixed_count = max(1, round(users * PARTNER_SHARE))


# --- reading pages -----------------------------------------------------------------------------------


class Forms(HTMLParser):
    """The forms of a page as a browser would submit them: each form's attributes and the values of
    its named inputs (checked boxes only), selects (the selected option, else the first) and
    textareas."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.forms: list[dict] = []
        self._select: tuple[str, list] | None = None
        self._textarea: str | None = None
        self.feed(html)

    def handle_starttag(self, tag_name, attrs):
        attrs = {k: v or "" for k, v in attrs}
        form = self.forms[-1] if self.forms and self.forms[-1]["open"] else None
        if tag_name == "form":
            self.forms.append({"attrs": attrs, "fields": {}, "open": True})
        elif form is None or "form" in attrs:
            return
        elif tag_name == "input" and attrs.get("name"):
            if attrs.get("type") in ("checkbox", "radio") and "checked" not in attrs:
                return
            if attrs.get("type") not in ("submit", "button", "file"):
                form["fields"][attrs["name"]] = attrs.get("value", "")
        elif tag_name == "select" and attrs.get("name"):
            self._select = (attrs["name"], [])
        elif tag_name == "option" and self._select is not None:
            self._select[1].append((attrs.get("value", ""), "selected" in attrs))
        elif tag_name == "textarea" and attrs.get("name"):
            self._textarea = attrs["name"]
            form["fields"][attrs["name"]] = ""

    def handle_data(self, data):
        if self._textarea and self.forms:
            self.forms[-1]["fields"][self._textarea] += data

    def handle_endtag(self, tag_name):
        if tag_name == "form" and self.forms:
            self.forms[-1]["open"] = False
        elif tag_name == "select" and self._select is not None and self.forms:
            name, options = self._select
            chosen = next((value for value, selected in options if selected), options[0][0] if options else "")
            self.forms[-1]["fields"][name] = chosen
            self._select = None
        elif tag_name == "textarea":
            self._textarea = None

    def find(self, **attrs) -> dict | None:
        for form in self.forms:
            if all(form["attrs"].get(k.replace("_", "-")) == v for k, v in attrs.items()):
                return form
        return None


# --- users -----------------------------------------------------------------------------------------


class BrowserOverTls(DefaultCookiePolicy):
    """A browser talks HTTPS to the proxy, so it sends its ``Secure`` cookies; the proxy passes them
    on to gunicorn over loopback HTTP. (The cookie jar would keep them back on an http:// URL.)"""

    def return_ok_secure(self, cookie, request):
        return True


class CrmUser(FastHttpUser):
    """Logs in through the login form with the next login of its kind in the plan."""

    abstract = True
    default_headers = {"X-Forwarded-Proto": "https"}
    people_key = ""

    def on_start(self):
        people = PLAN[self.people_key]
        self.person = people[next(_logins[self.people_key]) % len(people)]
        self.company = PLAN["company"]
        self.base = f"/c/{self.company['slug']}"
        self.origin = "https://" + urlsplit(self.host).netloc
        self.csrf = ""
        self.client.cookiejar.set_policy(BrowserOverTls())
        if self.people_key != "partners":
            self.login()

    def login(self):
        page = self.client.get("/accounts/login/", name="login page")
        self.remember_csrf(page.text)
        with self.client.post(
            "/accounts/login/",
            data={"username": self.person["email"], "password": PLAN["password"], "csrfmiddlewaretoken": self.csrf},
            headers=self.post_headers("/accounts/login/"),
            allow_redirects=False,
            name="login submit",
            catch_response=True,
        ) as response:
            if response.status_code != 302:
                response.failure(f"login of {self.person['email']} refused: HTTP {response.status_code}")
                return
        self.page(f"{self.base}/", "page dashboard")

    def remember_csrf(self, html: str | None) -> None:
        found = CSRF_INPUT.search(html or "")
        if found:
            self.csrf = found.group(1)

    def post_headers(self, path: str, *, htmx: bool = False) -> dict:
        headers = {"Origin": self.origin, "Referer": f"{self.origin}{path}", "X-CSRFToken": self.csrf}
        if htmx:
            headers["HX-Request"] = "true"
        return headers

    def page(self, path: str, name: str, *, htmx: bool = False):
        response = self.client.get(path, name=name, headers={"HX-Request": "true"} if htmx else None)
        self.remember_csrf(response.text)
        return response

    def post_write(self, path: str, data, *, name: str, kind: str, details: dict, htmx=False, ok=(200,), files=None):
        """POST one write; 422 (refused by the app) is not a failure. Records the outcome."""
        with self.client.post(
            path, data=data, files=files, headers=self.post_headers(path, htmx=htmx), allow_redirects=False,
            name=name, catch_response=True,
        ) as response:  # fmt: skip
            code = response.status_code
            if code in ok:
                outcome = "ok"
            elif code == 422:
                outcome = "refused"
                response.success()
            else:
                outcome = "error"
                response.failure(f"{name}: HTTP {code}")
            if kind:
                recorder.write(kind, outcome, code, **details)
            return response, outcome


class SDR(CrmUser):
    """Works leads in the browser: the list, filters, search, a lead's page, comments, statuses."""

    weight = 16
    people_key = "sdrs"
    wait_time = between(1, 4)

    def on_start(self):
        super().on_start()
        self.leads: list[int] = []
        self.open_list()

    def remember_leads(self, html: str | None) -> None:
        found = [int(i) for i in ROW_LINK.findall(html or "")]
        self.leads = (found + [i for i in self.leads if i not in found])[:LEADS_REMEMBERED]

    @task(4)
    def open_list(self):
        self.remember_leads(self.page(f"{self.base}/leads/", "page lead list").text)

    @task(3)
    def filter_list(self):
        status = random.choice(["new", "contacted", "qualified", "recycled"])
        query = f"status={PLAN['statuses'][status]}&country={random.choice(PLAN['countries'])}"
        htmx = random.random() < 0.5  # the filter panel swaps the table with htmx
        self.remember_leads(self.page(f"{self.base}/leads/?{query}", "page lead list filtered", htmx=htmx).text)

    @task(2)
    def search(self):
        query = f"q={random.choice(PLAN['surnames'])}"
        self.remember_leads(self.page(f"{self.base}/leads/?{query}", "page lead list search", htmx=True).text)

    @task(4)
    def open_lead(self):
        self.lead_page()

    @task(2)
    def comment(self):
        lead_id, _html = self.lead_page()
        if lead_id is None:
            return
        sent = token("c")
        path = f"{self.base}/leads/{lead_id}/comments/"
        data = {"body": f"Called, left a message. {sent}", "parent": ""}
        self.post_write(path, data, name="page comment post", kind="comment", details={"token": sent, "lead": lead_id},
                        htmx=True)  # fmt: skip

    @task(2)
    def change_status(self):
        lead_id, html = self.lead_page()
        if lead_id is None:
            return
        offered = [f for f in Forms(html).forms if f["attrs"].get("data-testid", "").startswith("transition-form-")]
        offered = [f for f in offered if f["attrs"]["data-testid"] != "transition-form-converted"]
        if not offered:
            return  # nothing this SDR may do from here (a final status, or a manager-only move)
        form = random.choice(offered)
        sent = token("s")
        data = {**form["fields"], "note": sent, "csrfmiddlewaretoken": self.csrf}
        self.post_write(form["attrs"]["action"], data, name="page status post", kind="status",
                        details={"token": sent, "lead": lead_id, "to": int(data["status"])}, htmx=True)  # fmt: skip

    def lead_page(self) -> tuple[int | None, str]:
        if not self.leads:
            self.open_list()
        if not self.leads:
            return None, ""
        lead_id = random.choice(self.leads)
        with self.client.get(f"{self.base}/leads/{lead_id}/", name="page lead detail", catch_response=True) as response:
            if response.status_code == 404:  # merged away or deleted meanwhile: not ours to see any more
                response.success()
                self.leads.remove(lead_id)
                return None, ""
            self.remember_csrf(response.text)
            return lead_id, response.text or ""


class Manager(CrmUser):
    """Runs bulk status changes on filtered sets of the team's leads and imports small CSV files."""

    weight = 3
    people_key = "managers"
    wait_time = between(3, 8)

    def on_start(self):
        super().on_start()
        self.import_csv()  # the morning's file, then a first pass over a team member's list
        self.bulk_status(narrow=False)

    @task(2)
    def look_around(self):
        self.page(f"{self.base}/", "page dashboard")
        self.page(f"{self.base}/leads/", "page lead list")

    @task(3)
    def bulk_status(self, narrow: bool | None = None):
        moves = {"contacted": "recycled", "recycled": "contacted"}
        source = random.choice(list(moves))
        owner = random.choice(self.person["team"] or [self.person["membership"]])
        query = f"status={PLAN['statuses'][source]}&owner={owner}"
        if narrow if narrow is not None else random.random() < 0.5:  # narrow sets run inline, wide ones in workers
            query += f"&country={random.choice(PLAN['countries'])}"
        listing = self.page(f"{self.base}/leads/?{query}", "page lead list filtered")
        form = Forms(listing.text or "").find(data_testid="bulk-form")
        if form is None or " data-lead-row" not in (listing.text or ""):
            return  # nothing matches: a manager would not start a job on an empty list
        sent = token("b")
        data = {**form["fields"], "all_matching": "1", "operation": "status", "status": PLAN["statuses"][moves[source]],
                "note": sent}  # fmt: skip
        response, outcome = self.post_write(f"{self.base}/leads/bulk/", data, name="page bulk post", kind="",
                                            details={}, ok=(302,))  # fmt: skip
        job = JOB_PATH.search(response.headers.get("Location", "") or "") if outcome == "ok" else None
        recorder.write("bulk", outcome if outcome != "ok" or job else "refused", response.status_code, token=sent,
                       job=int(job.group(1)) if job else None, query=query)  # fmt: skip
        if job:
            self.follow(f"{self.base}/leads/bulk/{job.group(1)}/", "page bulk job")

    @task(1)
    def import_csv(self):
        upload_path = f"{self.base}/leads/import/"
        self.page(upload_path, "page import")
        sent = token("i")
        emails = [f"{sent}-{n}@import.load.test" for n in range(IMPORT_ROWS)]
        body = io.StringIO()
        writer = csv.writer(body)
        writer.writerow(["First name", "Last name", "Email", "Company", "Country"])
        for n, email in enumerate(emails):
            writer.writerow([random.choice(PLAN["surnames"]), f"Imp{sent[-10:]}{n}", email, f"Loadimport {sent[-10:]}{n}",
                             random.choice(PLAN["countries"])])  # fmt: skip
        data = {"csrfmiddlewaretoken": self.csrf, "file_format": "", "campaign": str(PLAN["campaigns"][0]),
                "lead_source": "import"}  # fmt: skip
        files = {"file": (f"{sent}.csv", body.getvalue().encode(), "text/csv")}
        response, outcome = self.post_write(upload_path, data, name="page import upload", kind="", details={}, ok=(302,),
                                            files=files)  # fmt: skip
        job = JOB_PATH.search(response.headers.get("Location", "") or "") if outcome == "ok" else None
        if job is None:
            recorder.write("import", "error" if outcome == "error" else "refused", response.status_code, token=sent,
                           job=None, emails=emails)  # fmt: skip
            return
        job_path = f"{self.base}/leads/import/{job.group(1)}/"
        mapping = Forms(self.page(job_path, "page import mapping").text or "").find(id="mapping-form")
        fields = dict(mapping["fields"]) if mapping else {}
        unmapped = [name for name, value in fields.items() if name.startswith("col_") and not value]
        if mapping is None or unmapped:
            recorder.write(
                "import", "error", 0, token=sent, job=int(job.group(1)), emails=emails, why=f"unmapped {unmapped}"
            )
            return
        fields.update(action="start", csrfmiddlewaretoken=self.csrf)  # unticked: no dry run, no skipping
        response, outcome = self.post_write(job_path, fields, name="page import start", kind="", details={}, ok=(302,))
        recorder.write("import", outcome, response.status_code, token=sent, job=int(job.group(1)), emails=emails)
        if outcome == "ok":
            self.follow(f"{job_path}progress/", "page import progress")

    def follow(self, path: str, name: str) -> None:
        """Poll a job's progress partial as the page does, until it says the job has finished."""
        for _ in range(POLL_LIMIT):
            found = DATA_STATUS.search(self.page(path, name, htmx=True).text or "")
            if found is None or found.group(1) in FINISHED:
                return
            time.sleep(POLL_SECONDS)


class Partner(FastHttpUser):
    """A partner system posting leads through the API with its token, and reading them back."""

    weight = 2
    wait_time = between(1, 3)
    default_headers = {"X-Forwarded-Proto": "https"}

    def on_start(self):
        partners = PLAN["partners"]
        self.partner = partners[next(_logins["partners"]) % len(partners)]
        self.api = f"/api/companies/{PLAN['company']['id']}"
        self.auth = {"Authorization": f"Token {self.partner['token']}"}

    @task(5)
    def post_lead(self):
        sent = token("p")
        email = f"{sent}@partner.load.test"
        payload = {"first_name": random.choice(PLAN["surnames"]), "last_name": f"Api{sent[-10:]}", "email": email,
                   "company_name": f"Partnerco {sent[-10:]}", "country": random.choice(PLAN["countries"]),
                   "lead_source": "partner_api", "campaign": random.choice(PLAN["campaigns"])}  # fmt: skip
        with self.client.post(f"{self.api}/leads", json=payload, headers=self.auth, name="api lead post",
                              catch_response=True) as response:  # fmt: skip
            code = response.status_code
            outcome = "ok" if code == 201 else "refused" if code == 400 else "error"
            if outcome == "refused":
                response.failure(f"api lead post refused: {response.text[:300]}")  # our payload is valid: a bug
            recorder.write("api_lead", outcome, code, token=sent, email=email)

    @task(1)
    def list_leads(self):
        status = PLAN["statuses"][random.choice(["new", "contacted"])]
        self.client.get(f"{self.api}/leads?status={status}", headers=self.auth, name="api lead list")
