"""How the accounts app's actions and fields read on a timeline (found by ``leads.timeline``'s registry)."""

from collections.abc import Mapping

from accounts.models import Account, Opportunity
from leads.timeline import Label, register_field_labels, register_labels


# A conversion writes one event on the lead (its subject names the account) and one on the
# account (its data name the lead, and its notes say which lead, so no note repeats it).
def _converted_text(values: Mapping[str, str]) -> str:
    return "converted a lead into this account" if values["lead"] else "converted the lead"


def _converted_note(values: Mapping[str, str]) -> str:
    return "" if values["lead"] else values["subject"]


register_labels({
    "accounts.lead.converted": Label(_converted_text, note=_converted_note),
    "accounts.account.created": "created the account",
    "accounts.account.changed": "edited the account",
    "accounts.account.deleted": "deleted the account",
    "accounts.contact.created": "created the contact",
    "accounts.contact.changed": "edited the contact",
    "accounts.contact.deleted": "deleted the contact",
    "accounts.contact.primary_set": "made this the primary contact",
    "accounts.contact.primary_unset": "made this no longer the primary contact",
    "accounts.opportunity.created": "created the opportunity",
    "accounts.opportunity.changed": "edited the opportunity",
    "accounts.opportunity.deleted": "deleted the opportunity",
    "accounts.opportunity.stage_changed": "moved the opportunity to another stage",
    "accounts.opportunity.primary_contact_left": Label("Its primary contact moved to another account", alone=True),
    "accounts.stage.created": "added a pipeline stage",
    "accounts.stage.created_default": "added a default pipeline stage",
    "accounts.stage.changed": "edited a pipeline stage",
    "accounts.stage.retired": "retired a pipeline stage",
    "accounts.stage.deleted": "deleted a pipeline stage",
    "accounts.qualification.recorded": "recorded the qualification",
    "accounts.qualification_settings.changed": "changed the qualification settings",
})  # fmt: skip

# Where a field's verbose_name is not what the record's page calls it.
register_field_labels(Account, {"is_active": "Active", "parent": "Parent account"})
register_field_labels(Opportunity, {"lead": "From lead"})
