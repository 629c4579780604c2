"""Letters and what hangs off a letter's text: who organises it, its published versions and
their translations, and the invitations to organise it."""

import hashlib
import json

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone

from .markdown_html import render_markdown


class Level(models.TextChoices):
    PUBLIC = "public", "Public"
    ANONYMOUS = "anonymous", "Anonymous"
    PRIVATE = "private", "Private"


# Ordered from most to least visible: a signer may only move to the right of where they are.
LEVEL_ORDER = [Level.PUBLIC, Level.ANONYMOUS, Level.PRIVATE]


class LetterQuerySet(models.QuerySet):
    def open(self):
        return self.filter(status=Letter.Status.OPEN)

    def listed(self):
        """Letters a visitor may read: open and closed ones, never drafts."""
        return self.exclude(status=Letter.Status.DRAFT)


class Letter(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        OPEN = "open", "Open for signatures"
        CLOSED = "closed", "Closed"

    slug = models.SlugField(max_length=80, unique=True)
    title = models.CharField(max_length=200)
    addressee = models.CharField(max_length=200, help_text="Who the letter is addressed to.")
    body = models.TextField(help_text="The letter's text, in Markdown.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    deadline = models.DateTimeField(
        null=True, blank=True, help_text="The letter closes itself at this time."
    )
    goal = models.PositiveIntegerField(null=True, blank=True)
    # The language the letter is written in (a code of settings.LANGUAGES); its translations
    # are LetterTranslation rows.
    original_language = models.CharField(max_length=10, default=settings.LANGUAGE_CODE)
    # Moved by every new translation, so the cached pages (keyed by the letter's row) change.
    translations_changed_at = models.DateTimeField(null=True, blank=True)

    # Who may sign, and how.
    allow_public = models.BooleanField(default=True)
    allow_anonymous = models.BooleanField(default=True)
    allow_private = models.BooleanField(default=True)
    # The level the sign form starts on, or "" so each signer must choose one: a workers' letter
    # whose signers fear their employer should not start them on "Public".
    default_level = models.CharField(max_length=10, choices=Level.choices, blank=True, default="")
    employer_domains = models.TextField(
        blank=True,
        help_text="Employer email domains, one per line (example.com). Subdomains count.",
    )
    employees_only = models.BooleanField(
        default=False, help_text="Only addresses on the employer domains may sign."
    )
    block_disposable = models.BooleanField(
        default=True, help_text="Refuse addresses at known disposable-mail domains."
    )
    # Who may sign: people, organisations, or both.
    accepts_individuals = models.BooleanField(default=True, help_text="People may sign the letter.")
    accepts_organisations = models.BooleanField(
        default=False, help_text="Organisations may co-sign the letter, once approved."
    )
    auto_approve_verified_orgs = models.BooleanField(
        default=False, help_text="Co-signatures of verified organisations are approved at once."
    )
    # A work address proven once is not proven for ever: people change jobs.
    employee_verification_months = models.PositiveSmallIntegerField(
        default=12,
        validators=[MinValueValidator(1), MaxValueValidator(120)],
        help_text=(
            "A verified employee is shown as one for this many months; then they count as any "
            "signer until they confirm their work address again."
        ),
    )

    objects = LetterQuerySet.as_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(allow_public=True) | Q(allow_anonymous=True) | Q(allow_private=True),
                name="letter_offers_a_level",
            ),
            models.CheckConstraint(
                condition=Q(accepts_individuals=True) | Q(accepts_organisations=True),
                name="letter_accepts_someone",
            ),
            models.CheckConstraint(
                condition=Q(employee_verification_months__gte=1),
                name="letter_employee_period_positive",
            ),
            # The default level is one the letter offers.
            models.CheckConstraint(
                condition=Q(default_level="")
                | Q(default_level="public", allow_public=True)
                | Q(default_level="anonymous", allow_anonymous=True)
                | Q(default_level="private", allow_private=True),
                name="letter_default_level_offered",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("letter", kwargs={"slug": self.slug})

    @property
    def is_open(self) -> bool:
        if self.status != self.Status.OPEN:
            return False
        return self.deadline is None or self.deadline > timezone.now()

    @property
    def takes_signatures(self) -> bool:
        """Open, and open to people (not only to organisations)."""
        return self.is_open and self.accepts_individuals

    @property
    def takes_cosignatures(self) -> bool:
        return self.is_open and self.accepts_organisations

    @property
    def domains(self) -> list[str]:
        return [d.strip().lower().lstrip("@") for d in self.employer_domains.split() if d.strip()]

    @property
    def levels(self) -> list[str]:
        allowed = {
            Level.PUBLIC: self.allow_public,
            Level.ANONYMOUS: self.allow_anonymous,
            Level.PRIVATE: self.allow_private,
        }
        return [level for level in LEVEL_ORDER if allowed[level]]

    @property
    def body_html(self) -> str:
        return render_markdown(self.body)

    def employer_domain_for(self, email: str) -> str:
        """The employer domain an address is on, or "" (subdomains count, look-alikes do not)."""
        host = email.rpartition("@")[2].lower().rstrip(".")
        for domain in self.domains:
            if host == domain or host.endswith("." + domain):
                return domain
        return ""


class Organiser(models.Model):
    """An account that may manage a letter. Owners do everything, editors edit, moderate and
    export, viewers see the figures only. The letter's creator is made its owner."""

    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        EDITOR = "editor", "Editor"
        VIEWER = "viewer", "Viewer"

    letter = models.ForeignKey(Letter, on_delete=models.CASCADE, related_name="organisers")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="organising"
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.EDITOR)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["letter", "user"], name="organiser_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.role}) on {self.letter}"


# The letter settings an organiser may change on the settings page.
SETTINGS_FIELDS = (
    "deadline",
    "goal",
    "allow_public",
    "allow_anonymous",
    "allow_private",
    "default_level",
    "employer_domains",
    "employees_only",
    "block_disposable",
    "accepts_individuals",
    "accepts_organisations",
    "auto_approve_verified_orgs",
    "employee_verification_months",
)


class LetterVersion(models.Model):
    """The text as published; an edit after publication makes a new version."""

    letter = models.ForeignKey(Letter, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    signature_count = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["letter", "number"], name="version_number_unique"),
        ]
        ordering = ["letter", "number"]

    def __str__(self) -> str:
        return f"{self.letter.slug} v{self.number}"

    @property
    def text_hash(self) -> str:
        return text_hash(self.title, self.body)


def text_hash(title: str, body: str) -> str:
    """What the public log commits to for the text a signer read: hex SHA-256 of the canonical
    JSON {"body": ..., "title": ...} (UTF-8, keys sorted, no spaces), as docs/public-log.md
    says, so anyone holding the text can recompute it."""
    canonical = json.dumps(
        {"title": title, "body": body}, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


class LetterTranslation(models.Model):
    """A letter version's text in another language than the letter's original. Rows are never
    edited: a correction is a new row, so every text a signer was shown stays, with the hash
    the public log holds. A translation of an older version is out of date."""

    version = models.ForeignKey(
        LetterVersion, on_delete=models.CASCADE, related_name="translations"
    )
    language = models.CharField(max_length=10)
    title = models.CharField(max_length=200)
    addressee = models.CharField(max_length=200)
    body = models.TextField()
    text_hash = models.CharField(max_length=64)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=~Q(language=""), name="translation_has_language"),
            models.CheckConstraint(
                condition=Q(text_hash__regex=r"^[0-9a-f]{64}$"), name="translation_text_hash_hex"
            ),
        ]
        indexes = [
            # Letter page and sign form: a version's newest translation into one language.
            models.Index(fields=["version", "language", "-id"], name="translation_latest_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.version} in {self.language}"

    @property
    def body_html(self) -> str:
        return render_markdown(self.body)


class OrganiserInvite(models.Model):
    """An invitation to organise a letter, mailed to an address; accepted by the account that
    signs in with that address."""

    letter = models.ForeignKey(Letter, on_delete=models.CASCADE, related_name="invites")
    email = models.EmailField(max_length=254)
    role = models.CharField(
        max_length=10, choices=Organiser.Role.choices, default=Organiser.Role.EDITOR
    )
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    accepted_at = models.DateTimeField(null=True, blank=True)
    # An owner took the invitation back before anyone accepted it: its link stops working.
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints = [
            # One open invitation per address and letter: inviting again re-sends it.
            models.UniqueConstraint(
                "letter",
                Lower("email"),
                condition=Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="one_open_invite_per_email",
            ),
        ]

    def __str__(self) -> str:
        return f"invite to {self.letter_id} ({self.role})"
