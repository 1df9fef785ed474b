"""How the accounts app's actions read on a timeline (found by ``leads.timeline``'s registry)."""

from leads.timeline import Label, register_labels

register_labels({
    "accounts.lead.converted": Label("converted the lead", note="{subject}"),
    "accounts.account.created": "created the account",
    "accounts.account.changed": "edited the account",
    "accounts.account.deleted": "deleted the account",
    "accounts.contact.created": "added a contact",
    "accounts.contact.changed": "edited the contact",
    "accounts.contact.deleted": "deleted the contact",
    "accounts.contact.primary_set": "made this the primary contact",
    "accounts.contact.primary_unset": "made this no longer the primary contact",
    "accounts.opportunity.created": "created the opportunity",
    "accounts.opportunity.changed": "edited the opportunity",
    "accounts.opportunity.deleted": "deleted the opportunity",
    "accounts.opportunity.stage_changed": "moved the opportunity to another stage",
    "accounts.opportunity.primary_contact_left": "lost its primary contact (the contact was deleted)",
    "accounts.stage.created": "added a pipeline stage",
    "accounts.stage.created_default": "added a default pipeline stage",
    "accounts.stage.changed": "edited a pipeline stage",
    "accounts.stage.retired": "retired a pipeline stage",
    "accounts.stage.deleted": "deleted a pipeline stage",
    "accounts.qualification.recorded": "recorded the qualification",
    "accounts.qualification_settings.changed": "changed the qualification settings",
})  # fmt: skip
