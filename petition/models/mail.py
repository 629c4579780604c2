"""Mail: the outbox every mail goes through, and the organisers' updates to their signers, with
their translations and the record of which signer each update was queued for."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from .letters import Letter
from .markdown_html import render_markdown
from .signatures import Signature


class Mail(models.Model):
    """The outbox: every mail is written here in the transaction that decides to send it.

    A relay task drains it in batches over one SMTP session (petition/outbox.py); the periodic
    sweep runs the relay too, so a Redis, worker or mail-server blip loses nothing. A sent row is
    deleted: the outbox keeps no addresses. A row the server refused for good (a 5xx answer) is
    kept as a bounce for the organisers, with its address and text erased.
    """

    kind = models.CharField(max_length=50)
    to = models.EmailField(max_length=254, blank=True)
    subject = models.CharField(max_length=300)
    text = models.TextField(blank=True)
    html = models.TextField(blank=True)
    # A mail rendered by the relay instead of on the request path: its template trio's prefix and
    # a plain JSON context (subject, text and html stay empty until then).
    template = models.CharField(max_length=100, blank=True)
    context = models.JSONField(null=True, blank=True)
    # Whose organisers see it if it bounces, and which update it belongs to (for its progress).
    letter = models.ForeignKey(
        "Letter", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    update = models.ForeignKey(
        "Update", on_delete=models.SET_NULL, null=True, blank=True, related_name="mails"
    )
    created_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveIntegerField(default=0)
    # A relay holds the row until then (so no other relay sends it), and a mail the server put
    # off is not tried again before then (its backoff).
    claimed_until = models.DateTimeField(null=True, blank=True)
    # The class of the last error and the server's reply code, never its text (it may hold the
    # address).
    last_error = models.CharField(max_length=200, blank=True)
    # Refused for good (or given up on): a bounce.
    failed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # Relay: unsent mail in id order, skipping claimed rows.
            models.Index(
                fields=["id"], name="mail_unsent_idx", condition=Q(failed_at__isnull=True)
            ),
            # Organiser's bounces: a letter's failed mail, newest first.
            models.Index(
                fields=["letter", "-failed_at"],
                name="mail_bounce_idx",
                condition=Q(failed_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} mail {self.pk}"


class Update(models.Model):
    """A message from the organisers to the verified signers who asked for updates."""

    class Status(models.TextChoices):
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"

    letter = models.ForeignKey(Letter, on_delete=models.CASCADE, related_name="updates")
    subject = models.CharField(max_length=200)
    body = models.TextField(help_text="In Markdown.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SENDING)
    # The form's idempotency key: a form submitted again finds this update instead of making one.
    key = models.UUIDField(null=True, blank=True)
    # Recipients when sending began (an upper bound: some may unsubscribe or withdraw meanwhile).
    total = models.IntegerField(default=0)
    # Mails written to the outbox, handed to the mail server, and refused by it for good.
    queued = models.IntegerField(default=0)
    delivered = models.IntegerField(default=0)
    failed = models.IntegerField(default=0)
    # The highest signature id handled so far: batches walk the signers in id order.
    cursor = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    # When the last batch committed: the resume job re-queues an update idle for too long.
    touched_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Set while an organiser has paused it: no batch is queued and the relay holds its mail back.
    paused_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["letter", "key"], name="one_update_per_form_key"),
        ]
        indexes = [
            # Resume job: updates still sending, by when they last moved.
            models.Index(
                fields=["touched_at"], name="update_sending_idx", condition=Q(status="sending")
            ),
        ]

    def __str__(self) -> str:
        return f"update {self.pk} on {self.letter_id}"

    @property
    def body_html(self) -> str:
        return render_markdown(self.body)

    def text_in(self, language: str) -> "Update | UpdateTranslation":
        """What a signer who read the letter in `language` is sent: its translation when there
        is one, else the update as written. Reads `translations`, prefetched by the sender."""
        for translation in self.translations.all():
            if translation.language == language:
                return translation
        return self

    @property
    def left(self) -> int:
        """Mails not yet handed over nor refused: queued ones, and signers not reached yet."""
        outstanding = self.queued if self.status == self.Status.SENT else self.total
        return max(0, outstanding - self.delivered - self.failed)

    @property
    def percent(self) -> int:
        if not self.total:
            return 100
        return min(100, (self.delivered + self.failed) * 100 // self.total)


class UpdateTranslation(models.Model):
    """An update's subject and message in one of the languages its letter is offered in, sent to
    the signers who read the letter in that language (the others get the update as written)."""

    update = models.ForeignKey(Update, on_delete=models.CASCADE, related_name="translations")
    language = models.CharField(max_length=10)
    subject = models.CharField(max_length=200)
    body = models.TextField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["update", "language"], name="update_translation_per_language"
            ),
            models.CheckConstraint(
                condition=~Q(language=""), name="update_translation_has_language"
            ),
        ]

    def __str__(self) -> str:
        return f"update {self.update_id} in {self.language}"

    @property
    def body_html(self) -> str:
        return render_markdown(self.body)


class UpdateDelivery(models.Model):
    """That an update's mail to one signature was queued. The unique pair is the exactly-once
    guard: it is written in the transaction that writes the mail to the outbox."""

    update = models.ForeignKey(Update, on_delete=models.CASCADE, related_name="deliveries")
    signature = models.ForeignKey(Signature, on_delete=models.CASCADE, related_name="+")
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["update", "signature"], name="update_delivery_once"),
        ]

    def __str__(self) -> str:
        return f"update {self.update_id} to signature {self.signature_id}"
