"""What organisers did to a letter, and every export of its signer list."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .letters import Letter


class AuditEvent(models.Model):
    """What an organiser (or the site, when actor is empty) did to a letter. Shown to all of the
    letter's organisers, so `target` never holds a signer's identity: only a signature's id."""

    class Action(models.TextChoices):
        CREATE = "create", "created the letter"
        EDIT = "edit", "edited the text"
        NEW_VERSION = "version", "published a new version"
        SETTINGS = "settings", "changed the settings"
        PUBLISH = "publish", "published the letter"
        CLOSE = "close", "closed the letter"
        REOPEN = "reopen", "reopened the letter"
        HIDE = "hide", "hid a signature"
        RESTORE = "restore", "restored a signature"
        INVITE = "invite", "invited an organiser"
        REVOKE_INVITE = "uninvite", _("withdrew an invitation")
        JOIN = "join", "joined as organiser"
        ROLE = "role", "changed an organiser's role"
        REMOVE = "remove", "removed an organiser"
        UPDATE = "update", "sent an update"
        APPROVE_COSIGN = "cosign-approve", "approved a co-signature"
        REJECT_COSIGN = "cosign-reject", "rejected a co-signature"
        TRANSLATE = "translate", "added a translation"

    letter = models.ForeignKey(Letter, on_delete=models.CASCADE, related_name="audit_events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    action = models.CharField(max_length=20, choices=Action.choices)
    target = models.CharField(max_length=200, blank=True)
    reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            # Audit log page: a letter's events, newest first.
            models.Index(fields=["letter", "-created_at"], name="audit_letter_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.action} on {self.letter_id}"


class ExportRecord(models.Model):
    """One export of a letter's signer list: who, when, with which filters, how many rows."""

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        XLSX = "xlsx", "Excel (XLSX)"
        JSON = "json", "JSON"

    letter = models.ForeignKey(Letter, on_delete=models.CASCADE, related_name="exports")
    # Empty for an export made with the management command.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    what = models.CharField(max_length=20, default="signatures")
    format = models.CharField(max_length=10, choices=Format.choices)
    filters = models.JSONField(default=dict, blank=True)
    rows = models.IntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            # Exports page: a letter's exports, newest first.
            models.Index(fields=["letter", "-created_at"], name="export_letter_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.format} export of {self.letter_id}"
