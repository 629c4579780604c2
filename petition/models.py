import functools
import uuid

import markdown
import nh3

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone


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

    # Who may sign, and how.
    allow_public = models.BooleanField(default=True)
    allow_anonymous = models.BooleanField(default=True)
    allow_private = models.BooleanField(default=True)
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

    objects = LetterQuerySet.as_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(allow_public=True) | Q(allow_anonymous=True) | Q(allow_private=True),
                name="letter_offers_a_level",
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
        """The employer domain an address belongs to, or "" (subdomains count, look-alikes do not)."""
        host = email.rpartition("@")[2].lower().rstrip(".")
        for domain in self.domains:
            if host == domain or host.endswith("." + domain):
                return domain
        return ""


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


class Tally(models.Model):
    """A letter's counts, kept exact by the write paths (never by counting rows on a request).

    Only verified, non-withdrawn, non-hidden signatures and approved co-signatures count.
    """

    letter = models.OneToOneField(Letter, on_delete=models.CASCADE, primary_key=True)
    verified = models.IntegerField(default=0)
    public = models.IntegerField(default=0)
    anonymous = models.IntegerField(default=0)
    private = models.IntegerField(default=0)
    employees = models.IntegerField(default=0)
    cosigners = models.IntegerField(default=0)
    # The next sequence number of the letter's public log; incremented under the row lock.
    log_size = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "tallies"
        constraints = [
            models.CheckConstraint(condition=Q(verified__gte=0), name="tally_not_negative"),
        ]


class DomainTally(models.Model):
    """Verified employees per employer domain, for the breakdown."""

    letter = models.ForeignKey(Letter, on_delete=models.CASCADE, related_name="domain_tallies")
    domain = models.CharField(max_length=253)
    count = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["letter", "domain"], name="domain_tally_unique"),
        ]


class DailyTally(models.Model):
    """Net change of the count per day, for the signatures-over-time chart."""

    letter = models.ForeignKey(Letter, on_delete=models.CASCADE, related_name="daily_tallies")
    day = models.DateField()
    change = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["letter", "day"], name="daily_tally_unique"),
        ]
        ordering = ["day"]


class SignatureQuerySet(models.QuerySet):
    def counted(self):
        return self.filter(status=Signature.Status.VERIFIED, is_hidden=False)

    def listed(self):
        """Entries a reader sees by name or as "Anonymous": private ones only count."""
        return self.counted().exclude(visibility=Level.PRIVATE)

    def active(self):
        return self.exclude(status=Signature.Status.WITHDRAWN)


class Signature(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for email confirmation"
        VERIFIED = "verified", "Verified"
        WITHDRAWN = "withdrawn", "Withdrawn"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    letter = models.ForeignKey(Letter, on_delete=models.PROTECT, related_name="signatures")
    version = models.ForeignKey(
        LetterVersion, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # Set only for a signature made while signed in; erased with the identity of a private one.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="signatures",
    )
    name = models.CharField(max_length=200, blank=True)
    # Stored normalised (trimmed, lower case); blank once a private signature is verified.
    email = models.EmailField(max_length=254, blank=True)
    # HMAC of the normalised email with a server secret: refuses a second signature and honours
    # the withdrawal link after a private signer's address is erased.
    email_hash = models.CharField(max_length=64)
    affiliation = models.CharField(max_length=200, blank=True)
    job_title = models.CharField(max_length=200, blank=True)
    team = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    show_affiliation = models.BooleanField(default=False)
    show_job_title = models.BooleanField(default=False)
    show_team = models.BooleanField(default=False)
    show_city = models.BooleanField(default=False)
    visibility = models.CharField(max_length=10, choices=Level.choices, default=Level.PUBLIC)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    is_hidden = models.BooleanField(default=False)
    hidden_reason = models.CharField(max_length=200, blank=True)
    is_verified_employee = models.BooleanField(default=False)
    employer_domain = models.CharField(max_length=253, blank=True)
    wants_updates = models.BooleanField(default=False)
    # hex SHA-256(salt || public_id) of the log entry; the salt is only ever in the signer's receipt.
    log_ref = models.CharField(max_length=64, blank=True)
    # When a verification mail was last queued: a repeated submission re-sends at most this often.
    mail_requested_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)

    objects = SignatureQuerySet.as_manager()

    class Meta:
        constraints = [
            # One active signature per address and letter, whatever the level: the hash survives
            # the erasure of a private signer's address.
            models.UniqueConstraint(
                fields=["letter", "email_hash"],
                condition=~Q(status="withdrawn"),
                name="one_active_signature_per_email",
            ),
            models.CheckConstraint(
                condition=~Q(status="verified", visibility="private")
                | (Q(name="") & Q(email="") & Q(user__isnull=True)),
                name="verified_private_holds_no_identity",
            ),
        ]
        indexes = [
            # Letter page: the latest listed signers of a letter, newest first.
            models.Index(
                fields=["letter", "-verified_at"],
                name="sig_listed_idx",
                condition=Q(status="verified", is_hidden=False) & ~Q(visibility="private"),
            ),
            # Purge job: pending signatures older than N days.
            models.Index(
                fields=["created_at"], name="sig_pending_idx", condition=Q(status="pending")
            ),
        ]

    def __str__(self) -> str:
        return f"signature {self.pk} on {self.letter_id}"

    @property
    def is_counted(self) -> bool:
        return self.status == self.Status.VERIFIED and not self.is_hidden

    @property
    def display_name(self) -> str:
        return self.name if self.visibility == Level.PUBLIC else "Anonymous"

    @property
    def shown_details(self) -> list[str]:
        """The details the signer ticked to show with their entry."""
        pairs = [
            (self.show_job_title, self.job_title),
            (self.show_team, self.team),
            (self.show_affiliation, self.affiliation),
            (self.show_city, self.city),
        ]
        return [value for shown, value in pairs if shown and value]


class Mail(models.Model):
    """The outbox: every mail is written here in the transaction that decides to send it.

    A task sends it by id; the re-queue job picks up any row a lost task left unsent, so a Redis,
    worker or mail-server blip loses nothing. A sent row is deleted: the outbox keeps no addresses.
    """

    kind = models.CharField(max_length=50)
    to = models.EmailField(max_length=254)
    subject = models.CharField(max_length=300)
    text = models.TextField()
    html = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveIntegerField(default=0)
    # A sending task holds the row until then, so a re-queued copy never sends it a second time.
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=200, blank=True)

    class Meta:
        indexes = [
            # Re-queue job: unsent mail older than a minute.
            models.Index(fields=["created_at"], name="mail_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} mail {self.pk}"


@functools.lru_cache(maxsize=256)
def render_markdown(text: str) -> str:
    """Markdown to HTML with only safe tags and attributes left (nh3 / ammonia)."""
    html = markdown.markdown(text, extensions=["extra", "sane_lists"], output_format="html")
    return nh3.clean(
        html,
        tags={
            "a", "abbr", "blockquote", "br", "code", "em", "h2", "h3", "h4", "hr", "li", "ol",
            "p", "pre", "strong", "table", "tbody", "td", "th", "thead", "tr", "ul", "del",
        },
        attributes={"a": {"href", "title"}, "abbr": {"title"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="nofollow noopener noreferrer",
    )
