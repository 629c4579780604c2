import functools
import hashlib
import json
import uuid

import markdown
import nh3
from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .delivery_models import Delivery, DeliveryName  # noqa: F401 - registered with the app here


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
    # Who may sign (issue 4): people, organisations, or both.
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

    def __str__(self) -> str:
        return f"tally of letter {self.letter_id}"


class DomainTally(models.Model):
    """Verified employees per employer domain, for the breakdown."""

    letter = models.ForeignKey(Letter, on_delete=models.CASCADE, related_name="domain_tallies")
    domain = models.CharField(max_length=253)
    count = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["letter", "domain"], name="domain_tally_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.domain}: {self.count}"


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

    def __str__(self) -> str:
        return f"{self.day}: {self.change:+d}"


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
    # Both blank for a private signature: a pending one's are kept in PendingIdentity.
    name = models.CharField(max_length=200, blank=True)
    # As typed (trimmed, lower case: the mail goes there); blank for a private signature, and
    # once any signature is withdrawn.
    email = models.EmailField(max_length=254, blank=True)
    # HMAC of the canonical email (lib.addresses.canonical_email: no +tag, no Gmail dots) with a
    # server secret: refuses a second signature from one inbox and honours the manage link after
    # a private signer's address is erased. Blank once withdrawn: a withdrawn signer may sign
    # again, and nothing ties the withdrawn row to an address.
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
    # When the work address was last proven; the letter's employee_verification_months later the
    # mark lapses (services.expire_employee_verifications) until it is proven again.
    employee_verified_at = models.DateTimeField(null=True, blank=True)
    # Part of every manage link; moved on each change of state, so a used link stops working.
    link_generation = models.PositiveIntegerField(default=0)
    wants_updates = models.BooleanField(default=False)
    # The language of the text the signer read (the letter's original or a translation of the
    # version), and that text's hash (models.text_hash), which its log entries carry.
    language = models.CharField(max_length=10, default=settings.LANGUAGE_CODE)
    text_hash = models.CharField(max_length=64, blank=True)
    # hex SHA-256(salt || public_id) of its current log entries. Each level change starts a new
    # ref with a fresh salt, so the public log cannot tie the new level to the old one.
    log_ref = models.CharField(max_length=64, blank=True)
    # Every salt it has had, oldest first, with the level its entries show: [{"salt", "level"}].
    # Never public: they rebuild the signer's receipt for the whole history (manage page).
    log_salts = models.JSONField(default=list, blank=True)
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
            # Not even while pending: every image of a row stays readable in the table's files
            # until its page is rewritten, and this table is never rewritten (see PendingIdentity).
            models.CheckConstraint(
                condition=~Q(visibility="private")
                | (Q(name="") & Q(email="") & Q(user__isnull=True)),
                name="private_holds_no_identity",
            ),
        ]
        indexes = [
            # Letter page, tally and API: the latest listed signers of a letter, newest first
            # (the id breaks ties, so a page is read straight off the index, never sorted).
            models.Index(
                fields=["letter", "-verified_at", "-id"],
                name="sig_listed_idx",
                condition=Q(status="verified", is_hidden=False) & ~Q(visibility="private"),
            ),
            # Purge job: pending signatures older than N days.
            models.Index(
                fields=["created_at"], name="sig_pending_idx", condition=Q(status="pending")
            ),
            # Expiry job: a letter's verified employees whose proof is older than its period.
            models.Index(
                fields=["letter", "employee_verified_at"],
                name="sig_employee_expiry_idx",
                condition=Q(status="verified", is_verified_employee=True),
            ),
            # Updates to signers (issue 5): a letter's opted-in verified signers, in id order.
            models.Index(
                fields=["letter", "id"],
                name="sig_updates_idx",
                condition=Q(status="verified", wants_updates=True),
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

    def identity(self) -> tuple[str, str]:
        """The signer's name and address, wherever they are kept; blank once erased."""
        if self.visibility != Level.PRIVATE:
            return self.name, self.email
        kept = PendingIdentity.objects.filter(signature=self).values_list("name", "email")
        return kept.first() or ("", "")

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


class PendingIdentity(models.Model):
    """A pending private signature's name and address, until it is verified or withdrawn.

    Deleting a row leaves its image readable in the table's data file (and a changed row its
    old image) until the page is rewritten. The signature table is far too large to rewrite
    often; this one holds only the private signatures still waiting for their link, so the
    scheduled rewrite (petition/erasure.py) makes a new file of it in a moment, and the old
    file, with every erased identity in it, is gone.
    """

    signature = models.OneToOneField(
        Signature, on_delete=models.CASCADE, primary_key=True, related_name="pending_identity"
    )
    name = models.CharField(max_length=200, blank=True)
    email = models.EmailField(max_length=254)

    def __str__(self) -> str:
        return f"pending identity of signature {self.signature_id}"


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


# What a letter's rendered text may hold; the versions page's word diff cleans with the same.
MARKDOWN_TAGS = frozenset(
    {"a", "abbr", "blockquote", "br", "code", "em", "h2", "h3", "h4", "hr", "li", "ol", "p"}
    | {"pre", "strong", "table", "tbody", "td", "th", "thead", "tr", "ul", "del"}
)
MARKDOWN_ATTRIBUTES = {"a": {"href", "title"}, "abbr": {"title"}}
MARKDOWN_URL_SCHEMES = frozenset({"http", "https", "mailto"})
MARKDOWN_LINK_REL = "nofollow noopener noreferrer"


@functools.lru_cache(maxsize=256)
def render_markdown(text: str) -> str:
    """Markdown to HTML with only safe tags and attributes left (nh3 / ammonia)."""
    html = markdown.markdown(text, extensions=["extra", "sane_lists"], output_format="html")
    return nh3.clean(
        html,
        tags=set(MARKDOWN_TAGS),
        attributes=MARKDOWN_ATTRIBUTES,
        url_schemes=set(MARKDOWN_URL_SCHEMES),
        link_rel=MARKDOWN_LINK_REL,
    )


# --- The public log (issue 10): entries, stored Merkle nodes, signed checkpoints ---------------


class LogEntry(models.Model):
    """One change to what a letter counts, as canonical JSON with no identity in it.

    `index` is the entry's sequence number in its letter's log: allocated under the Tally row
    lock in the transaction that makes the change, so it has no gaps and no duplicates.
    """

    letter = models.ForeignKey(Letter, on_delete=models.CASCADE, related_name="log_entries")
    index = models.BigIntegerField()
    data = models.BinaryField()
    # Copied out of `data` (where it is public anyway) so a receipt check finds what undid it.
    ref = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["letter", "index"], name="log_entry_unique"),
        ]
        indexes = [
            # "Check my signature": the later entries that carry a receipt's ref.
            models.Index(fields=["letter", "ref"], name="log_entry_ref_idx"),
        ]

    def __str__(self) -> str:
        return f"log entry {self.index} of letter {self.letter_id}"


class LogNode(models.Model):
    """The hash of a complete subtree covering leaves [index * 2**level, (index + 1) * 2**level):
    any root or proof is a fold of O(log n) of these, read in one query."""

    letter = models.ForeignKey(Letter, on_delete=models.CASCADE, related_name="+")
    level = models.SmallIntegerField()
    index = models.BigIntegerField()
    hash = models.BinaryField(max_length=32)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["letter", "level", "index"], name="log_node_unique"),
        ]

    def __str__(self) -> str:
        return f"log node ({self.level}, {self.index}) of letter {self.letter_id}"


class Checkpoint(models.Model):
    """A signed tree head (C2SP tlog-checkpoint in a signed note). Every one issued is kept."""

    letter = models.ForeignKey(Letter, on_delete=models.CASCADE, related_name="checkpoints")
    size = models.BigIntegerField()
    root = models.BinaryField(max_length=32)
    note = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["letter", "size"], name="checkpoint_size_unique"),
        ]
        get_latest_by = "size"

    def __str__(self) -> str:
        return f"checkpoint of {self.size} for letter {self.letter_id}"


# --- Organiser workspace (issue 5): invites, audit log, exports, updates, milestones ----------


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


class Milestone(models.Model):
    """A count a letter passed (its goal, or 100, 1,000, 10,000...): organisers are told once."""

    letter = models.ForeignKey(Letter, on_delete=models.CASCADE, related_name="milestones")
    threshold = models.PositiveIntegerField()
    reached_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["letter", "threshold"], name="milestone_once"),
        ]
        ordering = ["threshold"]

    def __str__(self) -> str:
        return f"{self.letter_id} passed {self.threshold}"


# --- Co-signatures (issue 4): organisations co-sign letters -----------------------------------


def reading_key(name: str) -> str:
    """The key a co-signer is filed under, as a reader of a signature block expects:
    case and accents ignored, punctuation dropped, word by word (so "New York ..." comes before
    "Newark ..."), digits before letters, and a leading "The" ignored ("The Sierra Club" is
    filed under S). Compared byte by byte (see CoSignatureQuerySet.in_reading_order)."""
    import unicodedata

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
        from django.db import connection
        from django.db.models import F
        from django.db.models.functions import Collate

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
    # The public log's ref for the approval that listed it (issue 10); the withdrawal repeats it.
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
