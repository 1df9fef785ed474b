"""Where an import's time goes: the ``import_csv`` benchmark's import (100,000 new rows into the
data set of ``--size`` leads), timed once, with the CPU each part of the work used.

    python bench/import_cpu.py [--size 1000000] [--database postgres://…] [--drop-index NAME …]

Prints the wall time and rows/s; the CPU seconds of the importing process (both its threads), of
the helper process that reads, validates and scores the rows (``leads.transfer.forked``), and of
the PostgreSQL server process serving the import's connection; the CPU of the importing process's
main steps (each thread's own, ``time.thread_time``); the server's CPU during each ``COPY``; and
the cycle collector's time per generation. On PostgreSQL also what the run made the server read
and write (``server_counters``): index blocks of leads_lead read from outside shared buffers,
buffers the server process had to write out itself to make room, WAL bytes and full-page
images, checkpoints; and the ``shared_buffers`` it ran with. ``--drop-index`` drops indexes of leads_lead first, inside the run
that is undone afterwards (PostgreSQL: the rolled-back transaction; SQLite: the file put back), to
see what writing them costs. Not a benchmark of its own (no baseline): it explains
``import_csv``'s figure. Steps are timed by wrapping them, which costs little beside them.
"""

from __future__ import annotations

import argparse
import collections
import functools
import gc
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run  # noqa: E402  (the harness: settings, the data set's database)

TICK = os.sysconf("SC_CLK_TCK")
CPU: dict[str, float] = collections.defaultdict(float)
SERVER: dict[str, int | None] = {"pid": None}


def server_cpu() -> float:
    """CPU seconds of the PostgreSQL process serving this connection (0 on SQLite)."""
    if SERVER["pid"] is None:
        return 0.0
    fields = Path(f"/proc/{SERVER['pid']}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def process_cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def timed(owner, name: str, label, *, server: bool = False) -> None:
    """Count the CPU of ``owner.name`` under ``label`` (a text, or a function of the call's
    arguments), and with ``server`` the database server's CPU meanwhile."""
    step = getattr(owner, name)

    @functools.wraps(step)
    def wrapper(*args, **kwargs):
        started, on_server = time.thread_time(), server_cpu() if server else 0.0
        try:
            return step(*args, **kwargs)
        finally:
            named = label(*args) if callable(label) else label
            CPU[f"{named}, this process" if server else named] += time.thread_time() - started
            if server:
                CPU[f"{named}, database server"] += server_cpu() - on_server

    setattr(owner, name, wrapper)


SERVER_COUNTERS = {
    "index blocks of leads_lead read from outside shared buffers": (
        "SELECT coalesce(sum(idx_blks_read), 0) FROM pg_statio_user_indexes WHERE relname = 'leads_lead'"
    ),
    "buffers written out by server processes (not the background writer)": (
        "SELECT buffers_backend FROM pg_stat_bgwriter"
    ),
    "WAL bytes": "SELECT wal_bytes FROM pg_stat_wal",
    "WAL full-page images": "SELECT wal_fpi FROM pg_stat_wal",
    "checkpoints": "SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter",
}


def server_counters(connection) -> dict[str, int]:
    """The cumulative statistics of ``SERVER_COUNTERS``, read on a connection of their own (the
    import's server process reports its own when its connection closes)."""
    from django.db import connections

    other = connections.create_connection(connection.alias)
    try:
        with other.cursor() as cursor:
            found = {}
            for label, sql in SERVER_COUNTERS.items():
                cursor.execute(sql)
                found[label] = int(cursor.fetchone()[0])
            return found
    finally:
        other.close()


def collector_timer() -> dict:
    """Seconds and collections of the cycle collector, in all and per generation."""
    spent = {"seconds": 0.0, "collections": 0, "started": 0.0, "by_generation": collections.Counter()}

    def callback(phase, info):
        if phase == "start":
            spent["started"] = time.perf_counter()
        else:
            seconds = time.perf_counter() - spent["started"]
            spent["seconds"] += seconds
            spent["collections"] += 1
            spent["by_generation"][info["generation"]] += seconds

    gc.callbacks.append(callback)
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=run.DEFAULT_SIZE)
    parser.add_argument("--database", help="as bench/run.py's --database")
    parser.add_argument("--drop-index", action="append", default=[], metavar="NAME")
    args = parser.parse_args()
    run.setup_django(args.size, args.database)

    import multiprocessing.connection

    import bench_transfer
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.db import connection

    from leads.transfer import copy, importer
    from leads.transfer.jobs import import_job_create, import_job_start
    from leads.transfer.mapping import ImportOptions

    company = run.dataset(args.size)
    data, _ = bench_transfer.import_file(company, args.size // 10)
    for name, label in (("resolve", "resolve duplicates"), ("stage", "stage (values, ids, status rows)"),
                        ("lookup", "look up match keys"), ("after_insert", "after insert (assignment)")):  # fmt: skip
        timed(importer.Importer, name, label)
    timed(importer, "row_from_transfer", "rebuild leads from the helper")
    timed(multiprocessing.connection.Connection, "recv", "receive and unpickle")
    if connection.vendor == "postgresql":
        timed(copy, "_copy", lambda cursor, sql, *rest: " ".join(sql.split()[:2]), server=True)
    collected = collector_timer()

    with bench_transfer.import_restored():
        admin = bench_transfer._admin(company)
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SELECT pg_backend_pid()")
                SERVER["pid"] = cursor.fetchone()[0]
            for name in args.drop_index:
                cursor.execute(f"DROP INDEX {connection.ops.quote_name(name)}")
        counters = server_counters(connection) if SERVER["pid"] else {}
        before = (time.perf_counter(), process_cpu(resource.RUSAGE_SELF), process_cpu(resource.RUSAGE_CHILDREN),
                  server_cpu())  # fmt: skip
        job = import_job_create(company=company, actor=admin, upload=SimpleUploadedFile("bench.csv", data),
                                options=ImportOptions())  # fmt: skip
        job = import_job_start(job=job, actor=admin, inline=True)
        wall = time.perf_counter() - before[0]
        rows = args.size // 10
        print(f"{connection.vendor}: {job.status}, {job.created_count:,} created, {rows:,} rows in {wall:.1f} s "
              f"({rows / wall:,.0f} rows/s); dropped indexes: {', '.join(args.drop_index) or 'none'}")  # fmt: skip
        server = (
            f"database server {server_cpu() - before[3]:.1f}"
            if SERVER["pid"]
            else "SQLite runs inside the importing process"
        )
        print(f"  CPU s: importing process {process_cpu(resource.RUSAGE_SELF) - before[1]:.1f}, "
              f"helper {process_cpu(resource.RUSAGE_CHILDREN) - before[2]:.1f}, {server}")  # fmt: skip
    if counters:
        with connection.cursor() as cursor:
            cursor.execute("SHOW shared_buffers")
            print(f"  server (shared_buffers {cursor.fetchone()[0]}):")
        connection.close()  # its server process reports its statistics as it ends
        time.sleep(1)
        after = server_counters(connection)
        for label, value in counters.items():
            print(f"    {label}: {after[label] - value:,}")
    for label, seconds in sorted(CPU.items(), key=lambda item: -item[1]):
        print(f"  {label}: {seconds:.2f} s")
    generations = ", ".join(f"generation {g} {s:.2f} s" for g, s in sorted(collected["by_generation"].items()))
    print(
        f"  cycle collector (importing process): {collected['seconds']:.2f} s in {collected['collections']} "
        f"collections ({generations})"
    )


if __name__ == "__main__":
    main()
