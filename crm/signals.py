"""Project-wide hooks that let later apps extend tenancy without the core importing them."""

from django.dispatch import Signal

# Sent by ``seed_demo`` for each demo company; receivers add their demo rows idempotently and may
# return a one-line summary.
demo_seeded = Signal()

# Sent inside the transaction that creates a company, so apps add their per-company defaults
# (statuses, scoring rules, …) atomically with it.
company_created = Signal()
