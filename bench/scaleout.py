"""The scale-out run (issue 17): the production layout on this machine, driven by locust, then every
write the load test sent counted in the database.

    python bench/scaleout.py                     # PostgreSQL + Redis + 2 qclusters: 50 users, 10 minutes
    python bench/scaleout.py --sqlite            # the recommended SQLite layout, same scenario
    python bench/scaleout.py --users 5 --run-time 30s --leads 2000 --drop   # the CI smoke

Steps: a fresh database (PostgreSQL: ``--database``, dropped and created; SQLite: a new file in the
run folder) and a flushed Redis database (``--redis-url``, PostgreSQL layout only); ``migrate``,
``collectstatic`` and ``seed_load`` (the company, its people, generated leads, the partners' API
keys) with the production settings; the layout of ``Procfile.scale`` started with honcho (``web``,
``worker1``, ``worker2``; SQLite: ``web`` and ``worker1``); ``/healthz`` awaited until it reports
every cluster; locust headless on ``bench/locustfile.py``; the queued imports and bulk jobs awaited;
the layout stopped; then the writes the locustfile recorded compared with the database, the server
log searched for 5xx answers, tracebacks, failed tasks and "database is locked", and a summary
printed (and written to ``summary.json`` in the run folder, ``bench/data/load/<stamp>-<layout>/``,
beside the server log, locust's CSV files and the plan).

The exit status is 0 only when there was no failed request, no 5xx, no traceback, no failed task,
no "database is locked", and no lost, duplicated, unfinished or wrongly applied write. Latency is
reported against the 300 ms target, never asserted (``--max-p95-ms`` makes it a condition).
Processes are stopped and, with ``--drop``, the database dropped and Redis flushed, even on failure.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import redis

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
VENV_BIN = Path(sys.executable).parent
PG_PREFIX = "crm_load"  # only databases named so are dropped and created
P95_TARGET_MS = 300
HEALTH_TIMEOUT_S = 120
PENDING = ("queued", "running")
KINDS = ("comment", "status", "api_lead", "import", "bulk")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = (args.out or HERE / "data" / "load" / f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{args.layout}").resolve()
    out.mkdir(parents=True, exist_ok=True)
    env = run_env(args, out)
    os.environ.update(env)  # the steps below, Django in this process included, read the same settings
    signal.signal(signal.SIGTERM, _terminate)
    layout = None
    try:
        check_port_free(args.port)
        fresh_database(args, out)
        manage(["migrate", "--noinput", "-v0"], out)
        if not static_collected():
            manage(["collectstatic", "--noinput", "-v0"], out)
        manage(seed_command(args, out), out)
        layout = Layout(args, out)
        layout.wait_healthy(clusters=1 if args.sqlite else 2)
        load = run_locust(args, out)
        drained = drain(args.drain_timeout)
        layout.stop()
        summary = summarise(args, out, load, drained)
    finally:
        if layout is not None:
            layout.stop()
        if args.drop:
            drop(args, out)
    print_summary(summary)
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    log(f"run folder: {out}")
    return 0 if summary["passed"] else 1


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--sqlite", action="store_true", help="Run the recommended SQLite layout instead.")
    parser.add_argument("--users", type=int, default=50, help="Concurrent locust users (default 50).")
    parser.add_argument("--spawn-rate", type=float, default=5, help="Users started per second (default 5).")
    parser.add_argument("--run-time", default="10m", help="Locust --run-time (default 10m).")
    parser.add_argument("--leads", type=int, default=50_000, help="Generated leads (default 50,000).")
    parser.add_argument("--sdrs", type=int, default=20, help="SDR logins (default 20).")
    parser.add_argument("--managers", type=int, default=3, help="Manager logins (default 3).")
    parser.add_argument("--partners", type=int, default=2, help="Partner API tokens (default 2).")
    parser.add_argument(
        "--database", default=PG_PREFIX, help=f"PostgreSQL database, named {PG_PREFIX}* (default {PG_PREFIX})."
    )
    parser.add_argument(
        "--pg-url", default="postgres://postgres@127.0.0.1:5432", help="PostgreSQL server (no database)."
    )
    parser.add_argument(
        "--redis-url",
        default="redis://127.0.0.1:6379/13",
        help="Redis database for the broker and the cache (flushed).",
    )
    parser.add_argument("--port", type=int, default=8010, help="gunicorn's port on 127.0.0.1 (default 8010).")
    parser.add_argument("--web-workers", type=int, default=4, help="gunicorn worker processes (default 4).")
    parser.add_argument("--web-threads", type=int, default=2, help="threads per gunicorn worker (default 2).")
    parser.add_argument("--bulk-inline-limit", type=int, default=100,
                        help="CRM_BULK_INLINE_LIMIT for the run (default 100: the wider bulk jobs go to the workers).")  # fmt: skip
    parser.add_argument("--drain-timeout", type=int, default=180, help="Seconds to wait for queued jobs (default 180).")
    parser.add_argument("--max-p95-ms", type=float, help="Also fail when a p95 (pages or API) is above this.")
    parser.add_argument("--out", type=Path, help="Run folder (default bench/data/load/<stamp>-<layout>).")
    parser.add_argument(
        "--drop", action="store_true", help="Drop the database (or delete the SQLite file) and flush Redis afterwards."
    )
    args = parser.parse_args(argv)
    args.layout = "sqlite" if args.sqlite else "postgres"
    if not args.database.startswith(PG_PREFIX) or not re.fullmatch(r"[a-z0-9_]+", args.database):
        parser.error(f"--database must be lower-case letters, digits and _, starting with {PG_PREFIX}.")
    return args


def run_env(args, out: Path) -> dict[str, str]:
    """The production settings on loopback. Nothing is weakened: the load test plays the TLS proxy's
    part (X-Forwarded-Proto), mail is discarded, media and cache stay in the run folder."""
    env = {
        "DJANGO_SETTINGS_MODULE": "crm.settings.production",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "SITE_URL": f"https://127.0.0.1:{args.port}",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
        "MEDIA_ROOT": str(out / "media"),
        "CACHE_DIR": str(out / "cache"),
        "CRM_BULK_INLINE_LIMIT": str(args.bulk_inline_limit),
        "WEB_WORKERS": str(args.web_workers),
        "WEB_THREADS": str(args.web_threads),
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONUNBUFFERED": "1",
    }
    if args.sqlite:
        env["DATABASE_URL"] = f"sqlite:///{out / 'crm_load.sqlite3'}"
        os.environ.pop("REDIS_URL", None)  # the ORM broker and the file cache
    else:
        env["DATABASE_URL"] = f"{args.pg_url.rstrip('/')}/{args.database}"
        env["REDIS_URL"] = args.redis_url
    lines = [f"{key}={value}" for key, value in env.items() if key != "PATH"]
    _write_private(out / "scale.env", "\n".join(lines) + "\n")
    return env


def check_port_free(port: int) -> None:
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            raise SystemExit(f"Port {port} on 127.0.0.1 is in use: stop what listens there or pass --port.")


def fresh_database(args, out: Path) -> None:
    if args.sqlite:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{out / 'crm_load.sqlite3'}{suffix}").unlink(missing_ok=True)
        return
    with psycopg.connect(f"{args.pg_url.rstrip('/')}/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{args.database}"')
    redis.Redis.from_url(args.redis_url).flushdb()
    log(f"fresh database {args.database}, Redis {args.redis_url} flushed")


def drop(args, out: Path) -> None:
    if args.sqlite:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{out / 'crm_load.sqlite3'}{suffix}").unlink(missing_ok=True)
        return
    if "django.apps" in sys.modules:  # this process counted: let go of its connection first
        from django.db import connections

        connections.close_all()
    try:
        with psycopg.connect(f"{args.pg_url.rstrip('/')}/postgres", autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
        redis.Redis.from_url(args.redis_url).flushdb()
        log(f"dropped {args.database}, flushed {args.redis_url}")
    except Exception as error:  # noqa: BLE001 — cleanup must not hide the run's own outcome
        log(f"cleanup failed: {error}")


def static_collected() -> bool:
    """Whether ``staticfiles/`` (git-ignored) already holds every file of ``static/``, hashed and
    compressed: collecting takes a minute on this machine, and the manifest says when it last ran."""
    manifest = ROOT / "staticfiles" / "staticfiles.json"
    if not manifest.exists():
        return False
    newest = max((path.stat().st_mtime for path in (ROOT / "static").rglob("*") if path.is_file()), default=0)
    return manifest.stat().st_mtime > newest


def seed_command(args, out: Path) -> list[str]:
    return [
        "seed_load", "--plan", str(out / "plan.json"), "--password", secrets.token_urlsafe(12),
        "--leads", str(args.leads), "--sdrs", str(args.sdrs), "--managers", str(args.managers),
        "--partners", str(args.partners),
    ]  # fmt: skip


def manage(arguments: list[str], out: Path) -> None:
    started = time.monotonic()
    with open(out / "setup.log", "a", encoding="utf-8") as output:
        done = subprocess.run(  # noqa: S603 — manage.py with our own arguments
            [sys.executable, "manage.py", *arguments], cwd=ROOT, stdout=output, stderr=subprocess.STDOUT
        )
    if done.returncode:
        raise SystemExit(f"manage.py {arguments[0]} failed (exit {done.returncode}); see {out / 'setup.log'}.")
    log(f"manage.py {arguments[0]}: {time.monotonic() - started:.1f} s")


class Layout:
    """``Procfile.scale`` under honcho, in its own process group (whose id is in ``layout.pgid``)."""

    def __init__(self, args, out: Path):
        self.port = args.port
        self.log_path = out / "server.log"
        processes = ["web", "worker1"] if args.sqlite else ["web", "worker1", "worker2"]
        command = [str(VENV_BIN / "honcho"), "-f", "Procfile.scale", "-e", str(out / "scale.env"), "--no-colour",
                   "start", "-p", str(args.port), *processes]  # fmt: skip
        (out / "commands.txt").write_text(" ".join(command) + "\n")
        self.log_file = open(self.log_path, "w", encoding="utf-8")  # noqa: SIM115 — closed in stop()
        self.process = subprocess.Popen(  # noqa: S603 — honcho with our own arguments
            command, cwd=ROOT, stdout=self.log_file, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.pgid_file = out / "layout.pgid"
        self.groups = [self.process.pid]
        self.pgid_file.write_text(f"{self.process.pid}\n")
        log(f"layout started ({', '.join(processes)}), log in {self.log_path}")

    def wait_healthy(self, *, clusters: int) -> None:
        deadline = time.monotonic() + HEALTH_TIMEOUT_S
        seen = "no answer"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"The layout stopped (exit {self.process.returncode}); see {self.log_path}.")
            try:
                seen = healthz(self.port)
                if seen.get("status") == "ok" and seen["worker"]["clusters"] >= clusters:
                    log(f"healthy: {seen}")
                    self.note_groups()
                    return
            except (OSError, ValueError, KeyError) as error:
                seen = str(error)
            time.sleep(1)
        raise SystemExit(f"/healthz did not report {clusters} cluster(s) in {HEALTH_TIMEOUT_S} s (last: {seen}).")

    def note_groups(self) -> None:
        """honcho starts each process in a session of its own: note their process groups, so that
        what a stop leaves behind (and ``.ci/run``'s cleanup, from ``layout.pgid``) can be killed."""
        groups = {self.process.pid}
        for pid in descendants(self.process.pid):
            with contextlib.suppress(ProcessLookupError):  # gone meanwhile
                groups.add(os.getpgid(pid))
        self.groups = sorted(groups)
        self.pgid_file.write_text("".join(f"{group}\n" for group in self.groups))

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)  # honcho stops its processes and waits for them
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                log("the layout did not stop in 30 s: killing it")
        for group in self.groups:  # whatever is left (a worker slow to exit)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)
        self.process.wait()
        self.log_file.close()
        self.pgid_file.unlink(missing_ok=True)


def descendants(root: int) -> list[int]:
    """Every process below ``root`` (Linux: read from /proc)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid, rest = stat.read_text().split(" (", 1)
            children.setdefault(int(rest.rsplit(") ", 1)[1].split()[1]), []).append(int(pid))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def healthz(port: int) -> dict:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/healthz", headers={"X-Forwarded-Proto": "https"})
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 — a fixed loopback URL
        return json.loads(response.read())


def run_locust(args, out: Path) -> dict:
    records = out / "records"
    command = [
        str(VENV_BIN / "locust"), "-f", str(HERE / "locustfile.py"), "--headless", "--host", f"http://127.0.0.1:{args.port}",
        "--users", str(args.users), "--spawn-rate", str(args.spawn_rate), "--run-time", args.run_time,
        "--stop-timeout", "60", "--csv", str(out / "locust"), "--only-summary", "--loglevel", "WARNING",
    ]  # fmt: skip
    run = secrets.token_hex(3)
    env = {**os.environ, "LOAD_PLAN": str(out / "plan.json"), "LOAD_RECORD": str(records), "LOAD_RUN": run}
    with open(out / "commands.txt", "a", encoding="utf-8") as commands:
        commands.write(f"LOAD_PLAN={env['LOAD_PLAN']} LOAD_RECORD={records} LOAD_RUN={run} {' '.join(command)}\n")
    log(f"locust: {args.users} users, spawn rate {args.spawn_rate}/s, {args.run_time}")
    loads, started = [], time.monotonic()
    with open(out / "locust.log", "w", encoding="utf-8") as output:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)  # noqa: S603 — locust with our own arguments
        try:
            while process.poll() is None:
                loads.append(os.getloadavg()[0])
                time.sleep(5)
        finally:
            if process.poll() is None:  # this run was cut short
                process.kill()
                process.wait()
    return {"run": run, "exit": process.returncode, "records": records, "load_average": loads,
            "seconds": time.monotonic() - started}  # fmt: skip


def setup_django() -> None:
    # Django is set up only now: its settings read the environment this run has just written.
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def drain(timeout: int) -> dict:
    """Wait until no import or bulk job is queued or running; returns how many still were."""
    setup_django()
    from leads.models import BulkJob, ImportJob

    deadline = time.monotonic() + timeout
    while True:
        pending = {
            "imports": ImportJob.objects.filter(status__in=PENDING).count(),
            "bulk": BulkJob.objects.filter(status__in=PENDING).count(),
        }
        if not any(pending.values()) or time.monotonic() > deadline:
            return pending
        time.sleep(1)


# --- counting -----------------------------------------------------------------------------------------


def read_records(folder: Path) -> list[dict]:
    return [
        json.loads(line) for path in sorted(folder.glob("writes-*.jsonl")) for line in path.read_text().splitlines()
    ]


def tally(kind: str, records: list[dict], found: Counter, **extra) -> dict:
    """Compare the writes of one kind the load test recorded (by token) with what the database
    holds (``found``: token → rows)."""
    by_outcome = {outcome: [r for r in records if r["outcome"] == outcome] for outcome in ("ok", "refused", "error")}
    recorded = {r["token"] for r in records}
    return {
        "sent": len(records),
        **{outcome: len(rows) for outcome, rows in by_outcome.items()},
        "in_db": sum(found.values()),
        "lost": sum(1 for r in by_outcome["ok"] if found[r["token"]] == 0),
        "duplicated": sum(found[r["token"]] - 1 for r in by_outcome["ok"] if found[r["token"]] > 1),
        "refused_but_written": sum(1 for r in by_outcome["refused"] if found[r["token"]]),
        "errored_but_written": sum(1 for r in by_outcome["error"] if found[r["token"]]),
        "unrecorded": sum(1 for t in found if t not in recorded),
        **extra,
    }


def count_writes(run: str, records: list[dict]) -> dict[str, dict]:
    from leads.models import BulkJob, ImportJob, Lead, LeadComment, StatusChange

    of = {kind: [r for r in records if r["kind"] == kind] for kind in KINDS}

    def tokens(texts, kind: str) -> Counter:
        pattern = re.compile(rf"lt{run}-{kind}-[0-9a-f]{{10}}")
        return Counter(match for text in texts for match in pattern.findall(text))

    tag = f"lt{run}-"
    counts = {
        "comment": tally("comment", of["comment"], tokens(LeadComment.objects.filter(body__contains=f"{tag}c-").values_list("body", flat=True), "c")),
        "status": tally("status", of["status"], tokens(StatusChange.objects.filter(note__contains=f"{tag}s-").values_list("note", flat=True), "s")),
        "api_lead": tally("api_lead", of["api_lead"], tokens(Lead.objects.filter(email__startswith=f"{tag}p-").values_list("email", flat=True), "p")),
    }  # fmt: skip
    counts["import"] = count_imports(of["import"], ImportJob, Lead, tag)
    counts["bulk"] = count_bulk(of["bulk"], BulkJob, StatusChange, tag)
    return counts


def count_imports(records: list[dict], ImportJob, Lead, tag: str) -> dict:  # noqa: N803 — models passed in
    """An import is one write per file: it is lost when its job says it created rows the database does
    not hold (or never finished), duplicated when a row is there twice."""
    jobs = ImportJob.objects.in_bulk([r["job"] for r in records if r.get("job")])
    emails = Counter(Lead.objects.filter(email__startswith=f"{tag}i-").values_list("email", flat=True))
    found, lost, duplicated, unfinished, failed, rows_created = Counter(), 0, 0, 0, 0, 0
    for record in records:
        job = jobs.get(record.get("job"))
        present = [emails[e.lower()] for e in record["emails"]]
        found[record["token"]] = 1 if any(present) else 0
        duplicated += sum(n - 1 for n in present if n > 1)
        if record["outcome"] != "ok" or job is None:
            continue
        if job.status in PENDING:
            unfinished += 1
        elif job.status == "failed":
            failed += 1
        created = job.created_count if job.status == "succeeded" else 0
        rows_created += created
        lost += max(0, created - sum(1 for n in present if n))
    summary = tally("import", records, found, jobs_failed=failed, unfinished=unfinished, rows_created=rows_created)
    summary.update(lost=lost, duplicated=duplicated)
    summary["unrecorded"] = len({e.split("-")[2] for e in emails} - {r["token"].split("-")[2] for r in records})
    return summary


def count_bulk(records: list[dict], BulkJob, StatusChange, tag: str) -> dict:  # noqa: N803 — models passed in
    """A bulk job is all or nothing: a succeeded job has one status change per lead it names, a
    failed one none, and a refused request no job at all."""
    jobs = {job.params.get("note"): job for job in BulkJob.objects.filter(params__note__startswith=f"{tag}b-")}
    changes = Counter(StatusChange.objects.filter(note__startswith=f"{tag}b-").values_list("note", flat=True))
    per_lead = Counter(
        StatusChange.objects.filter(note__startswith=f"{tag}b-").values_list("note", "lead_id").distinct().order_by()
    )
    distinct = Counter(note for note, _lead in per_lead)
    found = Counter(dict.fromkeys(changes, 1))
    lost = duplicated = unfinished = failed_written = leads_changed = 0
    for record in records:
        job = jobs.get(record["token"])
        if record["outcome"] != "ok" or job is None:
            continue
        if job.status in PENDING:
            unfinished += 1
        elif job.status == "succeeded":
            lost += job.total - distinct[record["token"]]
            leads_changed += job.total
        elif changes[record["token"]]:
            failed_written += 1
        duplicated += changes[record["token"]] - distinct[record["token"]]
    summary = tally("bulk", records, found, unfinished=unfinished, leads_changed=leads_changed,
                    jobs_failed=sum(1 for j in jobs.values() if j.status == "failed"))  # fmt: skip
    summary.update(lost=lost, duplicated=duplicated)
    summary["refused_but_written"] += failed_written + sum(
        1 for r in records if r["outcome"] == "refused" and r["token"] in jobs
    )
    return summary


# --- the summary ----------------------------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float | None:
    """Nearest-rank percentile."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def client_stats(folder: Path) -> dict:
    times: dict[str, list[float]] = {}
    codes: Counter = Counter()
    failures: list[str] = []
    for path in folder.glob("stats-*.json"):
        stats = json.loads(path.read_text())
        for group, values in stats["times"].items():
            times.setdefault(group, []).extend(values)
        codes.update({int(code): n for code, n in stats["codes"].items()})
        failures += stats["failures"]
    return {
        "requests": sum(codes.values()),
        "failures": len(failures),
        "failure_examples": sorted(Counter(failures).items(), key=lambda item: -item[1])[:20],
        "p95_ms": {group: percentile(values, 0.95) for group, values in times.items()},
        "median_ms": {group: percentile(values, 0.5) for group, values in times.items()},
        "requests_by_group": {group: len(values) for group, values in times.items()},
        "codes": dict(sorted(codes.items())),
    }


def server_log(path: Path) -> dict:
    text = path.read_text(errors="replace") if path.exists() else ""
    return {
        "http_5xx": len(re.findall(r'^\S+ web\.1\s+\|.*" (5\d\d) ', text, re.MULTILINE)),
        "tracebacks": text.count("Traceback (most recent call last)"),
        "task_failures": len(re.findall(r"\bFailed \[", text)),
        "database_is_locked": text.count("database is locked"),
    }


def summarise(args, out: Path, load: dict, pending: dict) -> dict:
    records = read_records(load["records"])
    writes = count_writes(load["run"], records)
    client = client_stats(load["records"])
    seconds = load["seconds"]
    server = server_log(out / "server.log")
    client_5xx = sum(n for code, n in client["codes"].items() if code >= 500)
    connection_errors = client["codes"].get(0, 0)
    problems = []
    if client["failures"]:
        problems.append(f"{client['failures']} failed requests, e.g. {client['failure_examples'][:3]}")
    if client_5xx or server["http_5xx"]:
        problems.append(f"5xx answers: {client_5xx} seen by locust, {server['http_5xx']} in the access log")
    for key in ("tracebacks", "task_failures", "database_is_locked"):
        if server[key]:
            problems.append(f"{server[key]} {key.replace('_', ' ')} in the server log")
    if any(pending.values()):
        problems.append(f"jobs still pending after {args.drain_timeout} s: {pending}")
    for kind, counted in writes.items():
        for key in ("error", "lost", "duplicated", "refused_but_written", "unfinished"):
            if counted.get(key):
                problems.append(f"{kind}: {counted[key]} {key.replace('_', ' ')}")
        if not counted["ok"]:
            problems.append(f"{kind}: no write of this kind went through")
    if client["requests"] == 0:
        problems.append("locust made no request")
    if args.max_p95_ms is not None:
        for group in ("page", "api"):
            p95 = client["p95_ms"].get(group)
            if p95 is not None and p95 > args.max_p95_ms:
                problems.append(f"p95 {group} {p95:.0f} ms > {args.max_p95_ms:.0f} ms")
    loads = load["load_average"] or [os.getloadavg()[0]]
    return {
        "layout": args.layout, "users": args.users, "run_time": args.run_time, "leads": args.leads,
        "web": f"{args.web_workers} workers x {args.web_threads} threads", "clusters": 1 if args.sqlite else 2,
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"), "locust_exit": load["exit"],
        "requests": client["requests"], "failures": client["failures"],
        "requests_per_s": round(client["requests"] / seconds, 1) if seconds else None, "client": client, "connection_errors": connection_errors, "server": server,
        "writes": writes, "pending_after_drain": pending,
        "load_average_1m": {"mean": round(sum(loads) / len(loads), 2), "max": round(max(loads), 2)},
        "problems": problems, "passed": not problems, "folder": str(out),
    }  # fmt: skip


def print_summary(s: dict) -> None:
    layout = "SQLite (WAL) + ORM broker" if s["layout"] == "sqlite" else "PostgreSQL + Redis"
    p95, n = s["client"]["p95_ms"], s["client"]["requests_by_group"]

    def ms(group):
        return "—" if p95.get(group) is None else f"{p95[group]:,.0f} ms (n={n[group]:,})"

    print(f"\nScale-out run: {layout}, gunicorn {s['web']}, {s['clusters']} qcluster(s); "
          f"{s['users']} users for {s['run_time']} on {s['leads']:,} leads")  # fmt: skip
    print(f"requests {s['requests']:,} ({s['requests_per_s']}/s), failures {s['failures']}, "
          f"connection errors {s['connection_errors']}, status codes {s['client']['codes']}")  # fmt: skip
    print(f"server log: {s['server']}")
    print(f"p95: pages {ms('page')}, API {ms('api')} (target < {P95_TARGET_MS} ms); login {ms('login')}")
    print(
        f"load average (1 min) during the run: mean {s['load_average_1m']['mean']}, max {s['load_average_1m']['max']}"
    )
    columns = ("sent", "ok", "refused", "error", "in_db", "lost", "duplicated", "refused_but_written", "unrecorded")
    widths = [max(8, len(c) + 2) for c in columns]
    print(f"\n{'writes':<10}" + "".join(f"{c:>{w}}" for c, w in zip(columns, widths, strict=True)))
    for kind, counted in s["writes"].items():
        extra = {k: v for k, v in counted.items() if k not in columns}
        cells = "".join(f"{counted.get(c, 0):>{w}}" for c, w in zip(columns, widths, strict=True))
        print(f"{kind:<10}{cells}" + (f"   {extra}" if extra else ""))
    print("\nPASSED" if s["passed"] else "\nFAILED: " + "; ".join(s["problems"]))


def log(message: str) -> None:
    print(f"[scaleout {datetime.now(UTC):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def _terminate(signum, _frame):
    raise SystemExit(128 + signum)  # run the finally blocks: stop the layout, drop the database


def _write_private(path: Path, text: str) -> None:
    path.unlink(missing_ok=True)
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w", encoding="utf-8") as handle:
        handle.write(text)


if __name__ == "__main__":
    sys.exit(main())
