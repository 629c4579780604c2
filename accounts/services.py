"""Organisations: writes with side effects. Each runs in one transaction; mails go on commit."""

from allauth.account.models import EmailAddress
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from petition.services import email_hash, normalise_email

from . import emails
from .models import (
    Membership,
    Organisation,
    OrganisationInvite,
    User,
    domain_match,
    domain_problem,
)


class NotAllowed(Exception):
    """The user may not do this to this organisation."""


class InviteNotForYou(Exception):
    """The invitation was sent to an address the signed-in account has not verified."""


class InviteUsed(Exception):
    """The invitation was accepted already (by someone else, or by a member since removed)."""


class LastAdmin(Exception):
    """An organisation must keep at least one admin."""


def is_admin(user, organisation: Organisation) -> bool:
    return (
        user.is_authenticated
        and Membership.objects.filter(
            organisation=organisation, user=user, role=Membership.Role.ADMIN
        ).exists()
    )


# Paths under orgs/ that an organisation's slug must not shadow.
RESERVED_SLUGS = frozenset({"new", "invitations"})


def _unique_slug(name: str) -> str:
    base = slugify(name)[:70].strip("-") or "organisation"
    taken = set(Organisation.objects.filter(slug__startswith=base).values_list("slug", flat=True))
    taken |= RESERVED_SLUGS
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


@transaction.atomic
def create_organisation(
    *,
    user: User,
    name: str,
    website: str = "",
    email_domains: str = "",
    description: str = "",
    logo=None,
) -> Organisation:
    """Create an organisation with `user` as its first admin."""
    for _attempt in range(5):
        try:
            with transaction.atomic():
                organisation = Organisation.objects.create(
                    name=name.strip(),
                    slug=_unique_slug(name),
                    website=website,
                    email_domains=email_domains,
                    description=description.strip(),
                    logo=logo or "",
                    created_by=user,
                )
            break
        except IntegrityError:  # the slug was taken in between: pick the next one
            continue
    else:
        raise IntegrityError("could not find a free slug")
    Membership.objects.create(organisation=organisation, user=user, role=Membership.Role.ADMIN)
    refresh_domain_verification(organisation_id=organisation.pk)
    organisation.refresh_from_db()
    return organisation


@transaction.atomic
def update_organisation(*, organisation: Organisation, by: User, **fields) -> Organisation:
    if not is_admin(by, organisation):
        raise NotAllowed
    for name, value in fields.items():
        setattr(organisation, name, value)
    organisation.save(update_fields=list(fields))
    # New domains may verify it; removed ones may undo a verification that rested on them.
    refresh_domain_verification(organisation_id=organisation.pk)
    organisation.refresh_from_db()
    return organisation


@transaction.atomic
def invite(*, organisation: Organisation, email: str, role: str, by: User) -> OrganisationInvite:
    """Mail an invitation to join. Inviting an address again re-sends its open invitation
    (with the role now chosen) rather than making a second one."""
    if not is_admin(by, organisation):
        raise NotAllowed
    email = normalise_email(email)
    existing = (
        OrganisationInvite.objects.select_for_update()
        .filter(organisation=organisation, email__iexact=email, accepted_at__isnull=True)
        .first()
    )
    if existing is not None:
        existing.role = role
        existing.invited_by = by
        existing.created_at = timezone.now()
        existing.save(update_fields=["role", "invited_by", "created_at"])
        record = existing
    else:
        try:
            with transaction.atomic():
                record = OrganisationInvite.objects.create(
                    organisation=organisation, email=email, role=role, invited_by=by
                )
        except IntegrityError:  # the same address invited twice at once: one is enough
            return OrganisationInvite.objects.get(
                organisation=organisation, email__iexact=email, accepted_at__isnull=True
            )
    emails.invitation(record, invited_by_name=by.get_full_name())
    return record


def invite_from_token(invite_id: int, hash_prefix: str) -> OrganisationInvite | None:
    record = OrganisationInvite.objects.select_related("organisation").filter(pk=invite_id).first()
    if record is None or not email_hash(record.email).startswith(hash_prefix):
        return None
    return record


def has_verified_address(user: User, email: str) -> bool:
    return EmailAddress.objects.filter(user=user, email__iexact=email, verified=True).exists()


@transaction.atomic
def accept_invite(*, invite_id: int, user: User) -> Membership:
    """Join the organisation. Only an account that has verified the invited address may accept:
    a forwarded link lets nobody else in. Accepting twice changes nothing."""
    record = OrganisationInvite.objects.select_for_update().get(pk=invite_id)
    if record.accepted_at is not None:
        membership = Membership.objects.filter(
            organisation_id=record.organisation_id, user=user
        ).first()
        if record.accepted_by_id == user.pk and membership is not None:
            return membership
        raise InviteUsed
    if not has_verified_address(user, record.email):
        raise InviteNotForYou
    OrganisationInvite.objects.filter(pk=record.pk).update(
        accepted_at=timezone.now(), accepted_by=user
    )
    membership, created = Membership.objects.get_or_create(
        organisation_id=record.organisation_id, user=user, defaults={"role": record.role}
    )
    if not created and record.role == Membership.Role.ADMIN:
        # An invitation never demotes: a member invited as admin becomes one.
        Membership.objects.filter(pk=membership.pk).update(role=Membership.Role.ADMIN)
        membership.role = Membership.Role.ADMIN
    refresh_domain_verification(organisation_id=record.organisation_id)
    return membership


def _lock(organisation_id: int) -> Organisation:
    # Membership changes of one organisation run one at a time, so two admins demoting each
    # other at once cannot leave it with none.
    return Organisation.objects.select_for_update().get(pk=organisation_id)


def _admins_left_without(organisation_id: int, membership_id: int) -> int:
    return (
        Membership.objects.filter(organisation_id=organisation_id, role=Membership.Role.ADMIN)
        .exclude(pk=membership_id)
        .count()
    )


@transaction.atomic
def set_role(*, membership_id: int, role: str, by: User) -> None:
    membership = Membership.objects.select_related("organisation").get(pk=membership_id)
    organisation = _lock(membership.organisation_id)
    if not is_admin(by, organisation):
        raise NotAllowed
    if role != Membership.Role.ADMIN and not _admins_left_without(organisation.pk, membership.pk):
        raise LastAdmin
    Membership.objects.filter(pk=membership.pk).update(role=role)
    refresh_domain_verification(organisation_id=organisation.pk)


@transaction.atomic
def remove_member(*, membership_id: int, by: User) -> None:
    membership = Membership.objects.get(pk=membership_id)
    organisation = _lock(membership.organisation_id)
    if not is_admin(by, organisation) and by.pk != membership.user_id:  # anyone may leave
        raise NotAllowed
    if not _admins_left_without(organisation.pk, membership.pk) and (
        membership.role == Membership.Role.ADMIN
    ):
        raise LastAdmin
    membership.delete()
    refresh_domain_verification(organisation_id=organisation.pk)


@transaction.atomic
def refresh_domain_verification(*, organisation_id: int) -> bool:
    """Verify an organisation when one of its admins has a verified address on one of its
    domains (subdomains count, look-alikes do not, public mail domains never), and take back a
    verification that rested on that once it no longer holds. Staff verification is left alone.
    Returns whether the organisation is verified."""
    organisation = Organisation.objects.select_for_update().get(pk=organisation_id)
    domains = [domain for domain in organisation.domains if not domain_problem(domain)]
    matched = False
    if domains:
        addresses = EmailAddress.objects.filter(
            verified=True,
            user__memberships__organisation=organisation,
            user__memberships__role=Membership.Role.ADMIN,
        ).values_list("email", flat=True)
        matched = any(domain_match(address, domains) for address in addresses)
    if matched and not organisation.is_verified:
        Organisation.objects.filter(pk=organisation.pk).update(
            is_verified=True,
            verified_at=timezone.now(),
            verified_via=Organisation.VerifiedVia.DOMAIN,
        )
        return True
    if not matched and organisation.verified_via == Organisation.VerifiedVia.DOMAIN:
        Organisation.objects.filter(pk=organisation.pk).update(
            is_verified=False, verified_at=None, verified_via=""
        )
        return False
    return organisation.is_verified


def refresh_verification_for_user(*, user_id: int) -> None:
    """An address of this user was just verified: re-check the organisations they administer."""
    ids = Membership.objects.filter(user_id=user_id, role=Membership.Role.ADMIN).values_list(
        "organisation_id", flat=True
    )
    for organisation_id in list(ids):
        refresh_domain_verification(organisation_id=organisation_id)


@transaction.atomic
def mark_verified(*, organisation_id: int) -> bool:
    """Site staff vouch for an organisation. False if it was already verified."""
    return bool(
        Organisation.objects.filter(pk=organisation_id, is_verified=False).update(
            is_verified=True,
            verified_at=timezone.now(),
            verified_via=Organisation.VerifiedVia.STAFF,
        )
    )


@transaction.atomic
def unmark_verified(*, organisation_id: int) -> None:
    """Site staff take a verification back (a domain check may grant it again later)."""
    Organisation.objects.filter(pk=organisation_id).update(
        is_verified=False, verified_at=None, verified_via=""
    )
