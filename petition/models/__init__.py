"""The petition app's models, one concern a module. Every name is re-exported here, so
`from petition.models import Letter` works, and importing this package registers every model
with Django.

- letters: letters, their organisers and invitations, versions and translations
- signatures: people's signatures, and a pending private signer's identity kept apart
- cosignatures: organisations' co-signatures
- tallies: a letter's counts, per domain, per day, and the milestones passed
- mail: the outbox, and the organisers' updates to signers and their translations
- public_log: the public log's entries, Merkle nodes and signed checkpoints
- audit: what organisers did, and the exports of signer lists
- deliveries: a letter frozen as handed over
- markdown_html: Markdown to clean HTML, for the letter's text and updates
"""

from .audit import AuditEvent, ExportRecord
from .cosignatures import CoSignature, CoSignatureQuerySet, reading_key
from .deliveries import Delivery, DeliveryName
from .letters import (
    LEVEL_ORDER,
    SETTINGS_FIELDS,
    Letter,
    LetterQuerySet,
    LetterTranslation,
    LetterVersion,
    Level,
    Organiser,
    OrganiserInvite,
    text_hash,
)
from .mail import Mail, Update, UpdateDelivery, UpdateTranslation
from .markdown_html import (
    MARKDOWN_ATTRIBUTES,
    MARKDOWN_LINK_REL,
    MARKDOWN_TAGS,
    MARKDOWN_URL_SCHEMES,
    render_markdown,
)
from .public_log import Checkpoint, LogNode, PublicLogEntry
from .signatures import PendingIdentity, Signature, SignatureQuerySet
from .tallies import DailyTally, DomainTally, Milestone, Tally

__all__ = [
    "LEVEL_ORDER",
    "MARKDOWN_ATTRIBUTES",
    "MARKDOWN_LINK_REL",
    "MARKDOWN_TAGS",
    "MARKDOWN_URL_SCHEMES",
    "SETTINGS_FIELDS",
    "AuditEvent",
    "Checkpoint",
    "CoSignature",
    "CoSignatureQuerySet",
    "DailyTally",
    "Delivery",
    "DeliveryName",
    "DomainTally",
    "ExportRecord",
    "Letter",
    "LetterQuerySet",
    "LetterTranslation",
    "LetterVersion",
    "Level",
    "PublicLogEntry",
    "LogNode",
    "Mail",
    "Milestone",
    "Organiser",
    "OrganiserInvite",
    "PendingIdentity",
    "Signature",
    "SignatureQuerySet",
    "Tally",
    "Update",
    "UpdateDelivery",
    "UpdateTranslation",
    "reading_key",
    "render_markdown",
    "text_hash",
]
