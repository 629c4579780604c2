"""Deliveries: a letter frozen as handed over, with the signed log checkpoint of that moment.

Related models are named as strings ("petition.Letter"), so this module imports nothing from the
other model modules.
"""

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

CODE_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"  # no 0/o or 1/l: read off paper, typed in


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(10))


class Delivery(models.Model):
    """What was handed over. Everything but the document's build state and the delivered mark is
    written once, when the organiser prepares it; preparing again makes a new delivery."""

    class Status(models.TextChoices):
        BUILDING = "building", _("Being prepared")
        READY = "ready", _("Ready")
        FAILED = "failed", _("Failed")

    letter = models.ForeignKey(
        "petition.Letter", on_delete=models.CASCADE, related_name="deliveries"
    )
    # The short URL printed under the QR code: /d/<code>.
    code = models.CharField(max_length=16, unique=True, default=new_code)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    # The text as published, and the language the document is written in.
    version = models.ForeignKey(
        "petition.LetterVersion", on_delete=models.PROTECT, null=True, related_name="+"
    )
    version_number = models.PositiveIntegerField(null=True)
    title = models.CharField(max_length=200)
    body = models.TextField()
    language = models.CharField(max_length=10)
    addressee = models.CharField(max_length=200)
    cover_note = models.TextField(max_length=2000, blank=True)
    include_names = models.BooleanField(default=True)
    include_organisations = models.BooleanField(default=True)
    include_counts = models.BooleanField(default=True)

    # The log at that moment: a signed C2SP checkpoint (note), its size and root (hex).
    checkpoint_size = models.BigIntegerField()
    checkpoint_root = models.CharField(max_length=64)
    checkpoint_note = models.TextField()
    # The counts the log replays to at checkpoint_size (equal to the tally, under its lock).
    verified = models.IntegerField()
    public = models.IntegerField()
    anonymous = models.IntegerField()
    private = models.IntegerField()
    employees = models.IntegerField()
    cosigners = models.IntegerField()
    # Listed co-signers, leads first in the pinned order: [{"name": ..., "lead": bool}].
    organisations = models.JSONField(default=list, blank=True)
    names_count = models.IntegerField(default=0)

    # The document's build, by a Celery task.
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.BUILDING)
    progress = models.PositiveSmallIntegerField(default=0)
    pdf_a4 = models.FileField(upload_to="deliveries/", blank=True)
    pdf_letter = models.FileField(upload_to="deliveries/", blank=True)
    html = models.FileField(upload_to="deliveries/", blank=True)
    csv = models.FileField(upload_to="deliveries/", blank=True)

    # Set once, when an organiser marks it handed over: then the public page exists.
    delivered_at = models.DateTimeField(null=True, blank=True)
    delivered_to = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(names_count__gte=0) & Q(names_count__lte=models.F("public")),
                name="delivery_names_within_public",
            ),
            models.CheckConstraint(
                condition=Q(delivered_at__isnull=True) | Q(status="ready"),
                name="delivery_delivered_when_ready",
            ),
        ]
        indexes = [
            # Workspace and letter page: a letter's deliveries, newest first.
            models.Index(fields=["letter", "-created_at"], name="delivery_letter_idx"),
        ]

    def __str__(self) -> str:
        return f"delivery {self.code} of letter {self.letter_id}"

    def get_absolute_url(self) -> str:
        return reverse("delivery", kwargs={"code": self.code})

    @property
    def short_url(self) -> str:
        return settings.SITE_URL.rstrip("/") + self.get_absolute_url()


class DeliveryName(models.Model):
    """One public signer as listed in a delivery, copied when it was prepared: a later
    withdrawal or change of level does not take them out of a document already handed over."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="names")
    position = models.IntegerField()
    name = models.CharField(max_length=200)
    details = models.CharField(max_length=900, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["delivery", "position"], name="delivery_name_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.name} in delivery {self.delivery_id}"
