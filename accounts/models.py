import re
import uuid
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from lib.maildomains import is_disposable, is_public_mail


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create(self, email: str, password: str | None, **fields):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **fields):
        fields.setdefault("is_staff", False)
        fields.setdefault("is_superuser", False)
        return self._create(email, password, **fields)

    def create_superuser(self, email: str, password: str | None = None, **fields):
        fields.update(is_staff=True, is_superuser=True)
        return self._create(email, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    """An account: organisers, organisation members and returning signers. Email is the login."""

    email = models.EmailField(unique=True)
    name = models.CharField(max_length=200, blank=True)
    affiliation = models.CharField(max_length=200, blank=True)
    job_title = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    is_staff = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)
    # The interface language the account chose with the switcher (a code of settings.LANGUAGES),
    # used where a page's URL names none and the browser has no switcher cookie.
    language = models.CharField(max_length=10, blank=True)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("email"), name="user_email_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.email

    def get_full_name(self) -> str:
        return self.name or self.email

    def get_short_name(self) -> str:
        return self.name or self.email


# --- Organisations: they co-sign letters -----------------------------------------------------

# Second-level public suffixes (co.uk, com.au...): "any address under co.uk" proves nothing.
PUBLIC_SUFFIX_SECOND_LEVELS = frozenset({"ac", "co", "com", "edu", "gov", "ltd", "net", "org"})

LOGO_EXTENSIONS = ("png", "jpg", "jpeg", "webp")
LOGO_MAX_BYTES = 512 * 1024


def logo_path(instance, filename: str) -> str:
    # The uploader's file name is not kept: it may carry anything, and the path is public.
    extension = filename.rpartition(".")[2].lower()
    return f"organisation-logos/{uuid.uuid4().hex}.{extension}"


def validate_logo(file) -> None:
    if file.size > LOGO_MAX_BYTES:
        raise ValidationError("The logo must be 512 KB or smaller.")
    head = file.read(16)
    file.seek(0)
    looks_like = (
        head.startswith(b"\x89PNG\r\n\x1a\n")
        or head.startswith(b"\xff\xd8\xff")
        or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")
    )
    if not looks_like:
        raise ValidationError("The logo must be a PNG, JPEG or WebP image.")


def split_domains(text: str) -> list[str]:
    return [d.strip().lower().lstrip("@").rstrip(".") for d in text.split() if d.strip()]


def host_match(host: str, domains: list[str]) -> str:
    """The domain a host name is on, or "" (subdomains count, look-alikes do not)."""
    host = host.lower().rstrip(".")
    for domain in domains:
        if host == domain or host.endswith("." + domain):
            return domain
    return ""


def domain_match(email: str, domains: list[str]) -> str:
    """The domain an address belongs to, or "" (subdomains count, look-alikes do not)."""
    return host_match(email.rpartition("@")[2], domains)


def website_host(url: str) -> str:
    """The host a website address points at ("" for nonsense): user info and port ignored."""
    try:
        return (urlsplit(url).hostname or "").rstrip(".")
    except ValueError:
        return ""


class OrganisationQuerySet(models.QuerySet):
    def administered_by(self, user):
        """The organisations a user may act for: those where they are an admin."""
        if not user.is_authenticated:
            return self.none()
        return self.filter(memberships__user=user, memberships__role=Membership.Role.ADMIN)


class Organisation(models.Model):
    """An organisation that co-signs letters, run by its admin members.

    Contact details (email domains, members, invitations) are for its members and site staff;
    only the name, the website and the verified mark reach public pages.

    The verified mark proves one thing: control of `verified_domain` (an admin confirmed an
    address there, or site staff checked it). The name is anyone's to type; site staff confirm
    it apart (`name_confirmed`), and only a confirmed name is ever listed without an organiser's
    approval. The website is shown only on the proven domain.
    """

    class VerifiedVia(models.TextChoices):
        STAFF = "staff", _("Site staff")
        DOMAIN = "domain", _("An admin's verified address on its domain")

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    website = models.URLField(max_length=300, blank=True)
    email_domains = models.TextField(
        blank=True,
        help_text="The organisation's email domains, one per line (example.org). Subdomains count.",
    )
    description = models.TextField(max_length=1000, blank=True)
    logo = models.FileField(upload_to=logo_path, blank=True, validators=[validate_logo])
    is_verified = models.BooleanField(default=False)
    verified_at = models.DateTimeField(null=True, blank=True)
    verified_via = models.CharField(max_length=10, choices=VerifiedVia.choices, blank=True)
    verified_domain = models.CharField(
        max_length=253, blank=True, help_text=_("The domain the organisation proved it controls.")
    )
    name_confirmed = models.BooleanField(
        default=False,
        help_text=_(
            "Site staff confirmed the name belongs to whoever runs it: its co-signatures may be "
            "approved at once where a letter allows."
        ),
    )
    name_confirmed_at = models.DateTimeField(null=True, blank=True)
    name_confirmed_by = models.ForeignKey(
        "accounts.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_by = models.ForeignKey(
        "accounts.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = OrganisationQuerySet.as_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(is_verified=False) | Q(verified_at__isnull=False),
                name="organisation_verified_has_date",
            ),
            models.CheckConstraint(
                condition=Q(is_verified=False) | ~Q(verified_domain=""),
                name="organisation_verified_has_domain",
            ),
            models.CheckConstraint(
                condition=Q(name_confirmed=False) | Q(name_confirmed_at__isnull=False),
                name="organisation_name_confirmed_has_date",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("organisation", kwargs={"slug": self.slug})

    @property
    def domains(self) -> list[str]:
        return split_domains(self.email_domains)

    @property
    def public_website(self) -> str:
        """The website as readers see it: only on the proven domain, else none."""
        if not (self.website and self.is_verified and self.verified_domain):
            return ""
        return (
            self.website if host_match(website_host(self.website), [self.verified_domain]) else ""
        )

    def lists_at_once(self, display_name: str) -> bool:
        """May a co-signature under this name skip the organisers' approval (where the letter
        allows)? Only a staff-confirmed name of a verified organisation, listed as confirmed."""
        return self.is_verified and self.name_confirmed and display_name == self.name


class OrganisationVerification(models.Model):
    """Who proved or lost an organisation's verified mark, on which domain, how and when. Written
    by the services only; read-only in the admin."""

    class Event(models.TextChoices):
        GRANTED = "granted", _("verified")
        WITHDRAWN = "withdrawn", _("verification taken back")

    class Method(models.TextChoices):
        EMAIL = "email", _("email link")
        STAFF = "staff", _("site staff")
        DOMAINS_CHANGED = "domains", _("its domains or admins changed")

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="verifications"
    )
    event = models.CharField(max_length=10, choices=Event.choices)
    domain = models.CharField(max_length=253)
    method = models.CharField(max_length=10, choices=Method.choices)
    # The confirmed address that proved the domain (method "email").
    address = models.EmailField(max_length=254, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            # Admin: an organisation's verification history, newest first.
            models.Index(fields=["organisation", "-created_at"], name="org_verification_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event} {self.domain} for {self.organisation_id}"

    @property
    def how(self) -> str:
        if self.method == self.Method.EMAIL and self.address:
            return gettext("email link to %(address)s") % {"address": self.address}
        return self.get_method_display()


class Membership(models.Model):
    class Role(models.TextChoices):
        ADMIN = "admin", "Admin"
        MEMBER = "member", "Member"

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="memberships"
    )
    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organisation", "user"], name="membership_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.role}) in {self.organisation}"


class OrganisationInvite(models.Model):
    """An invitation mailed to an address; whoever holds a verified account with that address
    may accept it."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="invites")
    email = models.EmailField(max_length=254)
    role = models.CharField(
        max_length=10, choices=Membership.Role.choices, default=Membership.Role.MEMBER
    )
    invited_by = models.ForeignKey(
        "accounts.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        "accounts.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        "accounts.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints = [
            # One open invitation per address and organisation: inviting again re-sends it.
            models.UniqueConstraint(
                "organisation",
                Lower("email"),
                condition=Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="org_invite_one_open_per_email",
            ),
        ]

    def __str__(self) -> str:
        return f"invitation {self.pk} to {self.organisation}"

    @property
    def is_open(self) -> bool:
        return self.accepted_at is None and self.revoked_at is None


def domain_problem(domain: str) -> str:
    """Why a domain cannot stand for an organisation, or "" when it can."""
    labels = domain.split(".")
    if not re.fullmatch(r"[a-z0-9-]+(\.[a-z0-9-]+)+", domain) or any(
        not label or label.startswith("-") or label.endswith("-") for label in labels
    ):
        return gettext("%(domain)s is not a domain name.") % {"domain": domain}
    if is_public_mail(domain):
        return gettext(
            "%(domain)s gives addresses to anyone, so it cannot stand for an organisation."
        ) % {"domain": domain}
    if is_disposable(domain):
        return gettext(
            "%(domain)s gives out throwaway addresses, so it cannot stand for an organisation."
        ) % {"domain": domain}
    if len(labels) == 2 and len(labels[1]) == 2 and labels[0] in PUBLIC_SUFFIX_SECOND_LEVELS:
        return gettext(
            "%(domain)s is shared by many organisations; name your own domain under it."
        ) % {"domain": domain}
    return ""
