"""Is a background worker (``python manage.py qcluster``) running?

django-q2 clusters save a short-lived statistic to the cache every few seconds while they run
(``django_q.status.Stat``); the cache is shared by every process on the machine (file cache) or of
the deployment (Redis). A live statistic means a worker is up; the last time one was seen is kept
for a week so that ``/healthz`` can say since when nothing has run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.core.cache import cache
from django.utils import timezone
from django_q.conf import Conf
from django_q.status import Stat

LAST_SEEN_KEY = "crm:worker:last_seen"
LAST_SEEN_TTL = 7 * 24 * 3600
START_COMMAND = "python manage.py qcluster"


@dataclass(frozen=True)
class WorkerStatus:
    alive: bool
    clusters: int
    last_seen: datetime | None
    inline: bool = False  # tasks run in the request itself (django-q2's sync mode: tests)

    @property
    def missing(self) -> bool:
        return not (self.alive or self.inline)

    def as_dict(self) -> dict:
        return {
            "alive": self.alive or self.inline,
            "clusters": self.clusters,
            "last_heartbeat": self.last_seen.isoformat() if self.last_seen else None,
            "mode": "inline" if self.inline else "cluster",
        }


def worker_status() -> WorkerStatus:
    if Conf.SYNC:
        return WorkerStatus(alive=False, clusters=0, last_seen=None, inline=True)
    stats = Stat.get_all() or []
    if stats:
        seen = max(stat.timestamp for stat in stats)
        cache.set(LAST_SEEN_KEY, seen, LAST_SEEN_TTL)
        return WorkerStatus(alive=True, clusters=len(stats), last_seen=seen)
    return WorkerStatus(alive=False, clusters=0, last_seen=cache.get(LAST_SEEN_KEY))


def seconds_since(moment: datetime | None) -> int | None:
    return None if moment is None else int((timezone.now() - moment).total_seconds())
