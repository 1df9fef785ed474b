"""The benchmark harness (DESIGN.md §7): each benchmark prints our figure beside a baseline measured
in the same run, and the ratio.

    python bench/run.py --list
    python bench/run.py NAME [--size N] [--json] [--database URL]

It runs against its own SQLite file, ``bench/data/bench_<size>.sqlite3`` (created and migrated
when needed; ``bench/data/`` is git-ignored), with DEBUG off. With ``--database
postgres://USER@HOST:PORT/DB`` it runs on that PostgreSQL server instead, in a database
``bench_<size>`` it creates there when missing (DB itself is only used to create it, never
changed); ``--database sqlite:///FILE`` names another SQLite file. With ``--json`` stdout carries only
one JSON list of ``{"name", "size", "ours", "baseline", "unit", "ratio", …}``; progress and
everything else go to stderr.

Adding a benchmark: decorate ``fn(size) -> dict | list[dict]`` with ``@benchmark(...)`` here, or
put ``BENCHMARKS = {"name": fn(company, size) -> dict}`` in a ``bench/bench_<area>.py`` module (it
is found by name; ``DEFAULT_SIZE`` in the module overrides 1,000,000). Such functions get
``dataset(size)``: the company ``bench`` with ``size`` generated leads, 5 % of them planted
near-duplicates listed in ``bench/data/truth_<size>.csv``. A result needs ``name``, ``size``,
``ours``, ``baseline`` and ``unit``; ``ratio`` (how many times better ours is: ours / baseline for
a rate such as rows/s, baseline / ours for a time) is added when missing.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from django.core.exceptions import ImproperlyConfigured

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = HERE / "data"
DEFAULT_SIZE = 1_000_000
DATASET_SLUG = "bench"
# A data set made by an older generator is made again: the name says which generator made it.
DATASET_NAME = "Bench (generator 2)"
DATASET_DUPLICATES = 0.05
DATASET_SEED = 42
CORE_KEYS = ("name", "size", "ours", "baseline", "unit", "ratio")


@dataclass(frozen=True)
class Benchmark:
    name: str
    run: Callable[[int], dict | list[dict]]
    default_size: int
    description: str


REGISTRY: dict[str, Benchmark] = {}


def benchmark(name: str, *, default_size: int = DEFAULT_SIZE, description: str = ""):
    """Register ``fn(size)`` under ``name``."""

    def register(func):
        summary = description or (func.__doc__ or "").strip().split("\n")[0]
        REGISTRY[name] = Benchmark(name, func, default_size, summary)
        return func

    return register


def discover() -> None:
    """Register the ``BENCHMARKS`` of every ``bench/bench_*.py`` module; they run on ``dataset``."""
    for path in sorted(HERE.glob("bench_*.py")):
        try:
            module = importlib.import_module(path.stem)
        except Exception:  # noqa: BLE001 — one broken module must not hide the others
            log(f"bench/{path.name} could not be imported; its benchmarks are left out:\n{traceback.format_exc()}")
            continue
        size = getattr(module, "DEFAULT_SIZE", DEFAULT_SIZE)
        for name, func in getattr(module, "BENCHMARKS", {}).items():
            if name not in REGISTRY:
                summary = (func.__doc__ or module.__doc__ or "").strip().split("\n")[0]
                REGISTRY[name] = Benchmark(name, partial(_on_dataset, func), size, f"{summary} [{path.name}]")


def _on_dataset(func, size: int):
    return func(dataset(size), size)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- Django and data --------------------------------------------------------------------------


def setup_django(size: int, database: str | None = None) -> str:
    """Django on the benchmark database for ``size`` (see ``database_url``), migrated; DEBUG off (as
    in production, and so that no query log grows without end). Returns the database's URL."""
    url = database_url(size, database)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings.dev")
    os.environ["DATABASE_URL"] = url
    os.environ["DEBUG"] = "false"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    started = time.perf_counter()
    fresh = "leads_lead" not in connection.introspection.table_names()
    call_command("migrate", interactive=False, run_syncdb=True, verbosity=0)
    if fresh:
        log(f"created and migrated {_shown(url)} in {time.perf_counter() - started:.1f} s")
    return url


def database_url(size: int, database: str | None) -> str:
    """``bench/data/bench_<size>.sqlite3`` by default; a ``sqlite:///FILE`` as given; for a
    ``postgres://…/DB`` URL, database ``bench_<size>`` on the same server (created when missing,
    connecting to DB to do so)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    DATA.mkdir(parents=True, exist_ok=True)  # truth files live there whatever the database
    if not database:
        return f"sqlite:///{DATA / f'bench_{size}.sqlite3'}"
    from crm.env import database_from_url

    settings = database_from_url(database, base_dir=ROOT)  # a ConfigError names what is wrong
    if "postgresql" not in settings["ENGINE"]:
        return database
    name = f"bench_{size}"
    _create_database(settings, name)
    return urlunsplit(urlsplit(database)._replace(path=f"/{name}"))


class BenchError(Exception):
    """A benchmark cannot run as asked (bad --database, unreachable server): one line for the user."""


def _create_database(settings: dict, name: str) -> None:
    import psycopg
    from psycopg import sql

    options = {"dbname": settings["NAME"], "user": settings["USER"], "password": settings["PASSWORD"],
               "host": settings["HOST"], "port": settings["PORT"], **settings["OPTIONS"]}  # fmt: skip
    try:
        with psycopg.connect(**{key: value for key, value in options.items() if value}, autocommit=True) as server:
            if server.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
                server.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                log(f"created database {name} on {settings['HOST'] or 'the local server'}")
    except psycopg.Error as error:
        reason = " ".join(str(error).split())
        raise BenchError(f"Cannot create database {name} through {settings['NAME']!r}: {reason}") from None


def _shown(url: str) -> str:
    """The URL without its password, for logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@")))


def fresh_company(slug: str, name: str, *, country: str = "GB"):
    """A new company ``slug`` (an old one of that slug is dropped first) with an admin, two
    managers and eight SDRs."""
    from crm import services
    from crm.models import Company, Role, User

    old = Company.objects.filter(slug=slug).first()
    if old is not None:
        drop_company(old)
    company = services.company_create(name=name, slug=slug, default_country=country)

    def member(local: str, role: str, manager=None):
        email = f"{local}@{slug}.bench.test"
        user = User.objects.filter(email=email).first() or User.objects.create_user(
            email=email, password=None, full_name=f"{local.title()} {name}", is_staff=role != Role.SDR
        )
        return services.membership_create(company=company, user=user, role=role, manager=manager)

    admin = member("admin", Role.ADMIN)
    managers = [member(f"manager{i}", Role.MANAGER, admin) for i in (1, 2)]
    for i in range(8):
        member(f"sdr{i + 1}", Role.SDR, managers[i % 2])
    return company


def drop_company(company) -> None:
    """Delete a benchmark company and its leads. Generated leads have no child rows, so they go in
    one DELETE; leads made by the services (a baseline's few thousand) go through the ORM."""
    from django.db import connection, transaction

    from leads.models import Lead, StatusChange

    started = time.perf_counter()
    count = Lead.objects.filter(company=company).count()
    with transaction.atomic():
        if StatusChange.objects.filter(lead__company=company).exists():
            Lead.objects.filter(company=company).delete()
            Lead.history.filter(company_id=company.pk).delete()
        else:
            with connection.cursor() as cursor:
                table = connection.ops.quote_name(Lead._meta.db_table)
                if connection.vendor == "sqlite":  # the DELETE touches every index page: cache them
                    cache = cursor.execute("PRAGMA cache_size").fetchone()[0]
                    cursor.execute(f"PRAGMA cache_size = -{min(max(count, 65536), 1048576)}")
                cursor.execute(f"DELETE FROM {table} WHERE company_id = %s", [company.pk])
                if connection.vendor == "sqlite":
                    cursor.execute(f"PRAGMA cache_size = {int(cache)}")
        company.delete()
    log(f"dropped company {company.slug} and its {count:,} leads in {time.perf_counter() - started:.1f} s")


def dataset(size: int):
    """The shared data set at ``size``: company ``bench`` with ``size`` generated leads (seed 42, 5 %
    planted duplicates listed in ``truth_path(size)``), generated on first use, and again when an
    older generator made it."""
    from crm.models import Company
    from leads.models import Lead

    company = Company.objects.filter(slug=DATASET_SLUG).first()
    if company is not None and company.name == DATASET_NAME and Lead.objects.filter(company=company).exists():
        return company
    if company is not None and company.name != DATASET_NAME:
        log(f"the data set was made by an older generator ({company.name!r}): making it again")
    company = fresh_company(DATASET_SLUG, DATASET_NAME)
    result = generate_into(company, size)
    log(f"generated the {size:,}-lead data set in {result.seconds:.1f} s")
    return company


def truth_path(size: int) -> Path:
    """The planted pairs of the shared data set at ``size`` in the current database: ids differ
    from one database to another, so each has its own file."""
    from django.db import connection

    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        path = Path(settings["NAME"])
        return DATA / (f"truth_{size}.csv" if path == DATA / f"bench_{size}.sqlite3" else f"truth_{path.stem}.csv")
    server = f"{settings['HOST'] or 'local'}_{settings['PORT'] or 'default'}"
    return DATA / f"truth_{connection.vendor}_{server}_{settings['NAME']}.csv"


def generate_into(company, size: int):
    """Our generator, with progress on stderr; keeps the truth file of the shared data set."""
    from leads.generate import leads_generate, write_truth

    step = max(size // 10, 1)
    started = time.perf_counter()

    def progress(done: int) -> None:
        if done % step < 5000 or done == size:
            log(f"  … {done:,} leads, {time.perf_counter() - started:.0f} s")

    result = leads_generate(
        company=company, count=size, duplicates_ratio=DATASET_DUPLICATES, seed=DATASET_SEED, progress=progress
    )
    if company.slug == DATASET_SLUG:
        with truth_path(size).open("w", encoding="utf-8", newline="") as out:
            write_truth(result.pairs, out)
    return result


# --- benchmarks -------------------------------------------------------------------------------

BASELINE_SAMPLE = 2000


@benchmark("generate", description="Create N leads: generate_leads vs a loop of leads.services.lead_create")
def generate(size: int) -> dict:
    """Ours: ``leads_generate`` (what ``manage.py generate_leads`` runs) writes ``size`` leads into a
    fresh company. Baseline: the naive way, one ``leads.services.lead_create`` per lead (validation,
    normalisation, duplicate check, scoring, history, status change) on the same kind of data, timed
    on min(size, 2000) leads. The first run at a size keeps its company as the shared data set."""
    from crm.models import Company

    sample = min(size, BASELINE_SAMPLE)
    baseline_seconds = _baseline_lead_create(sample)
    keep = not Company.objects.filter(slug=DATASET_SLUG, name=DATASET_NAME).exists()
    company = fresh_company(DATASET_SLUG if keep else "bench-generate", DATASET_NAME if keep else "Bench generate")
    log(f"ours: generating {size:,} leads into {company.slug}")
    result = generate_into(company, size)
    if not keep:
        drop_company(company)
    return {
        "name": "generate",
        "size": size,
        "ours": round(result.rate),
        "baseline": round(sample / baseline_seconds),
        "unit": "rows/s",
        "seconds": round(result.seconds, 1),
        "baseline_sample": sample,
        "baseline_seconds": round(baseline_seconds, 2),
        "duplicates": result.duplicates,
    }


def _baseline_lead_create(sample: int) -> float:
    """Seconds for ``sample`` calls of ``lead_create``, each its own transaction, as a naive import
    loop would run them."""
    import random

    from django.utils import timezone

    from leads.generate import FIELDS, LeadFaker, campaigns_ensure
    from leads.services import lead_create

    company = fresh_company("bench-baseline", "Bench baseline")
    campaigns = campaigns_ensure(company)
    faker = LeadFaker(
        rng=random.Random(DATASET_SEED), company_id=company.pk, home_country=company.default_country,
        campaigns=campaigns, statuses=[(0, "new", 1.0)], owners=[], now=timezone.now(), count=sample,
    )  # fmt: skip
    keys = ("first_name", "last_name", "email", "phone", "country", "job_title", "company_name", "profile_url",
            "profile_data", "lead_source", "medium", "term", "campaign_id")  # fmt: skip
    rows = [dict(zip(FIELDS, faker.original(position)[0], strict=True)) for position in range(sample)]
    data = [{("campaign" if key == "campaign_id" else key): row[key] for key in keys} for row in rows]
    log(f"baseline: {sample:,} × leads.services.lead_create")
    started = time.perf_counter()
    for item in data:
        lead_create(company=company, actor=None, data=item)
    seconds = time.perf_counter() - started
    drop_company(company)
    return seconds


@benchmark(
    "nurture_send",
    default_size=10_000,
    description="N due sequence steps to a local SMTP sink: send_due vs the guide's per-lead loop",
)
def nurture_send(size: int) -> dict:
    """See ``bench/bench_nurture.py``; it uses its own companies, not the shared data set."""
    import bench_nurture

    return bench_nurture.nurture_send(size, sys.modules[__name__])


# --- output -----------------------------------------------------------------------------------


def normalise(result: dict) -> dict:
    """The result with ``ratio`` (how many times better ours is) and the core keys first."""
    ours, baseline, unit = result.get("ours"), result.get("baseline"), str(result.get("unit", ""))
    if result.get("ratio") is None and ours and baseline:
        higher_is_better = unit.endswith("/s")
        result["ratio"] = round(ours / baseline if higher_is_better else baseline / ours, 2)
    return {**{key: result.get(key) for key in CORE_KEYS}, **result}


def _figure(value) -> str:
    if isinstance(value, int | float) and abs(value) >= 1000:
        return f"{value:,.0f}"
    return "–" if value is None else str(value)


def table_line(result: dict) -> str:
    unit = result["unit"]
    line = (
        f"{result['name']}  size={result['size']}  ours={_figure(result['ours'])} {unit}  "
        f"baseline={_figure(result['baseline'])} {unit}  ratio={_figure(result['ratio'])}x"
    )
    extra = "  ".join(f"{key}={value}" for key, value in result.items() if key not in CORE_KEYS)
    return f"{line}\n    {extra}" if extra else line


def _size(text: str) -> int:
    """1000000, 1_000_000, 1e6, 100k or 1M."""
    text = text.strip().lower().replace("_", "").replace(",", "")
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    try:
        value = float(text[:-1] if scale > 1 else text) * scale
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size: {text!r}") from None
    if value < 1 or value != int(value):
        raise argparse.ArgumentTypeError(f"a size is a whole number of rows ≥ 1, got {text!r}")
    return int(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run one benchmark beside its baseline (DESIGN.md §7).")
    parser.add_argument("name", nargs="?", help="The benchmark to run (see --list).")
    parser.add_argument("--list", action="store_true", help="Name the benchmarks and exit.")
    parser.add_argument("--size", type=_size, help="Rows of data (default: the benchmark's own).")
    parser.add_argument("--json", action="store_true", help="Print only a JSON list of results on stdout.")
    parser.add_argument(
        "--database",
        metavar="URL",
        help="postgres://USER@HOST:PORT/DB: run on that server, in database bench_<size> (created when missing); "
        "sqlite:///FILE: that file. Default: bench/data/bench_<size>.sqlite3.",
    )
    args = parser.parse_args(argv)
    discover()
    if args.list:
        for item in sorted(REGISTRY.values(), key=lambda b: b.name):
            print(f"{item.name:<16} default size {item.default_size:>9,}  {item.description}")
        return 0
    if args.name not in REGISTRY:
        parser.error(f"unknown benchmark {args.name!r}; choose from: {', '.join(sorted(REGISTRY))}")
    chosen = REGISTRY[args.name]
    size = args.size or chosen.default_size
    stdout = sys.stdout
    with contextlib.redirect_stdout(sys.stderr):
        try:
            setup_django(size, args.database)
        except (BenchError, ImproperlyConfigured) as error:
            parser.error(str(error).replace("DATABASE_URL", "--database", 1))
        outcome = chosen.run(size)
    results = [normalise(item) for item in (outcome if isinstance(outcome, list) else [outcome])]
    if args.json:
        print(json.dumps(results), file=stdout)
    else:
        for result in results:
            print(table_line(result), file=stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
