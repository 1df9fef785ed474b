from django import template

from crm import worker as crm_worker

register = template.Library()


@register.filter
def duration(seconds) -> str:
    """3725 → '1 h 2 min'; under a minute → '< 1 min'."""
    try:
        total = int(seconds)
    except (TypeError, ValueError):
        return ""
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = [f"{days} d" if days else "", f"{hours} h" if hours else "", f"{minutes} min" if minutes else ""]
    text = " ".join(p for p in parts if p)
    return text or "< 1 min"


@register.simple_tag
def worker_status():
    """Whether a background worker is up (see ``crm.worker``), for pages that queue work."""
    return crm_worker.worker_status()
