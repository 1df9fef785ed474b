"""Every write on accounts, contacts, opportunities and pipeline stages. Views, the API, the admin,
commands and the demo call these; each is atomic, checks every foreign key against the record's
company and leaves a history row whose change reason names the action."""

from accounts.services.activities import activity_log
from accounts.services.opportunities import (
    opportunity_change_stage,
    opportunity_create,
    opportunity_delete,
    opportunity_update,
)
from accounts.services.records import (
    account_create,
    account_delete,
    account_update,
    contact_create,
    contact_delete,
    contact_make_primary,
    contact_update,
)
from accounts.services.stages import stage_create, stage_delete, stage_update, stages_create_defaults

__all__ = [
    "account_create",
    "activity_log",
    "account_delete",
    "account_update",
    "contact_create",
    "contact_delete",
    "contact_make_primary",
    "contact_update",
    "opportunity_change_stage",
    "opportunity_create",
    "opportunity_delete",
    "opportunity_update",
    "stage_create",
    "stage_delete",
    "stage_update",
    "stages_create_defaults",
]
