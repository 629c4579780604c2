"""People's signatures on a letter, and the identity of a pending private one, kept apart."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from .letters import Letter, LetterVersion, Level


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
            # Updates to signers: a letter's opted-in verified signers, in id order (the sending
            # batches walk them by id).
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
