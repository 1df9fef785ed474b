"""How nurturing's actions read on a lead's timeline (found by ``leads.timeline``'s registry). The
events' subjects are already sentences naming the sequence and email ("Sequence email sent: Hello")."""

from leads.timeline import Label, register_labels

register_labels({
    "nurturing.email.sent": Label("{subject}", alone=True),
    "nurturing.email.opened": Label("{subject}", alone=True),
    "nurturing.email.clicked": Label("{subject}", alone=True),
    "nurturing.unsubscribed": Label("{subject}", alone=True),
    "nurturing.lead.unsubscribed": Label("The lead unsubscribed: do not disturb is on", alone=True),
    "nurturing.enrolment.started": Label("{subject}", alone=True),
    "nurturing.enrolment.stopped": Label("{subject}", alone=True),
    "nurturing.enrolment.paused": Label("{subject}", alone=True),
    "nurturing.enrolment.resumed": Label("{subject}", alone=True),
    "nurturing.sequence.created": "created the sequence",
    "nurturing.sequence.changed": "edited the sequence",
    "nurturing.sequence.deactivated": "deactivated the sequence",
    "nurturing.sequence.deleted": "deleted the sequence",
    "nurturing.step.created": "added a step",
    "nurturing.step.changed": "edited a step",
    "nurturing.step.moved": "reordered the steps",
    "nurturing.step.renumbered": "renumbered the steps",
    "nurturing.step.deleted": "deleted a step",
    "nurturing.settings.changed": "changed the nurturing settings",
})  # fmt: skip
