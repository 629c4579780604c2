"""Co-signatures: organisations sign letters, listed once an organiser approves them."""

import unicodedata

from django.conf import settings
from django.db import connection, models
from django.db.models import F, Q
from django.db.models.functions import Collate
from django.utils import timezone

from .letters import Letter


def reading_key(name: str) -> str:
    """The key a co-signer is filed under, as a reader of a signature block expects:
    case and accents ignored, punctuation dropped, word by word (so "New York ..." comes before
    "Newark ..."), digits before letters, and a leading "The" ignored ("The Sierra Club" is
    filed under S). Compared byte by byte (see CoSignatureQuerySet.in_reading_order)."""
    text = unicodedata.normalize("NFKD", name.casefold())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = "".join(ch if ch.isalnum() else " " for ch in text)
    words = text.split()
    if len(words) > 1 and words[0] == "the":
        words = words[1:]
    return " ".join(words)[:200]


class CoSignatureQuerySet(models.QuerySet):
    def listed(self):
        """What a reader sees under the letter: approved co-signatures only."""
        return self.filter(status=CoSignature.Status.APPROVED)

    def in_reading_order(self):
        """Pinned first, in the organisers' order, then by reading_key byte by byte: the "C"
        collation on PostgreSQL (a locale collation would skip spaces); SQLite compares bytes."""
        key = Collate("sort_key", "C") if connection.vendor == "postgresql" else F("sort_key")
        return self.order_by(F("pinned_position").asc(nulls_last=True), key, "pk")


class CoSignature(models.Model):
    """An organisation's signature on a letter, asked for by one of its admins and listed once an
    organiser approves it. One row per organisation and letter, ever: a withdrawn co-signature
    that asks again goes back to pending on the same row, a rejected one cannot ask again."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for the organisers"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        WITHDRAWN = "withdrawn", "Withdrawn"

    letter = models.ForeignKey(Letter, on_delete=models.PROTECT, related_name="cosignatures")
    organisation = models.ForeignKey(
        "accounts.Organisation", on_delete=models.PROTECT, related_name="cosignatures"
    )
    # The name as listed, fixed when the co-signature is made ("ACLU of Washington").
    display_name = models.CharField(max_length=200)
    statement = models.TextField(max_length=1000, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Organisers pin the lead organisations to the top: 1 first. Empty: filed alphabetically.
    pinned_position = models.PositiveSmallIntegerField(null=True, blank=True)
    sort_key = models.CharField(max_length=200)
    # The public log's ref, made when it is approved; the entry that takes it off the list carries
    # it too, so the log ties the two together.
    log_ref = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    requested_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    # When the organisers' digest mentioned this request; empty until then.
    notified_at = models.DateTimeField(null=True, blank=True)

    objects = CoSignatureQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["letter", "organisation"], name="one_cosign_per_org"),
            models.CheckConstraint(
                condition=Q(pinned_position__isnull=True) | Q(pinned_position__gte=1),
                name="cosign_pin_from_one",
            ),
        ]
        indexes = [
            # Digest sweep: requests no digest has mentioned yet, oldest first.
            models.Index(
                fields=["requested_at"],
                name="cosign_unnotified_idx",
                condition=Q(notified_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.display_name} on {self.letter_id} ({self.status})"

    @property
    def is_counted(self) -> bool:
        return self.status == self.Status.APPROVED
