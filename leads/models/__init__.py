"""The leads app's models, one module per area:

* ``core``       — Lead, Campaign, CustomField, LeadStatus, StatusTransition, StatusChange, LeadComment
* ``listing``    — saved filters, list preferences, bulk jobs (the lead list at scale)
* ``assignment`` — assignment rules and log, scoring rules, lead settings (assignment & prioritisation)
* ``transfer``   — import jobs, export templates, scheduled exports (import & export)
* ``dedup``      — duplicate rules, candidate pairs, merge records (duplicates & merge)
"""

from leads.models.assignment import *  # noqa: F403
from leads.models.core import (
    AuthorityLevel,
    Campaign,
    CustomField,
    CustomFieldType,
    Lead,
    LeadComment,
    LeadStatus,
    Priority,
    Stage,
    StatusCategory,
    StatusChange,
    StatusTransition,
    ValidationStatus,
)
from leads.models.dedup import *  # noqa: F403
from leads.models.listing import *  # noqa: F403
from leads.models.transfer import *  # noqa: F403

__all__ = [
    "AuthorityLevel",
    "Campaign",
    "CustomField",
    "CustomFieldType",
    "Lead",
    "LeadComment",
    "LeadStatus",
    "Priority",
    "Stage",
    "StatusCategory",
    "StatusChange",
    "StatusTransition",
    "ValidationStatus",
]
