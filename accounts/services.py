"""Organisations: writes with side effects. Each runs in one transaction; mails go on commit."""

from allauth.account.models import EmailAddress
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from lib.addresses import email_hash, normalise_email

from . import emails
from .models import (
    Membership,
    Organisation,
    OrganisationInvite,
    OrganisationVerification,
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


class InviteRevoked(Exception):
    """An admin of the organisation took the invitation back."""


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
    stored_name = Organisation.objects.select_for_update().values_list("name", flat=True)
    if "name" in fields and fields["name"] != stored_name.get(pk=organisation.pk):
        # Staff confirmed the old name, not this one. (A bound form has already put the new
        # name on the instance, so the stored row is what tells.)
        fields.update(name_confirmed=False, name_confirmed_at=None, name_confirmed_by=None)
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
        .filter(
            organisation=organisation,
            email__iexact=email,
            accepted_at__isnull=True,
            revoked_at__isnull=True,
        )
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
                organisation=organisation,
                email__iexact=email,
                accepted_at__isnull=True,
                revoked_at__isnull=True,
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
    if record.revoked_at is not None:
        raise InviteRevoked
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


@transaction.atomic
def revoke_invite(*, invite_id: int, by: User) -> bool:
    """An admin takes back an invitation nobody has accepted: its link stops working. False if
    it was accepted or revoked already."""
    record = OrganisationInvite.objects.select_related("organisation").get(pk=invite_id)
    if not is_admin(by, record.organisation):
        raise NotAllowed
    return bool(
        OrganisationInvite.objects.filter(
            pk=invite_id, accepted_at__isnull=True, revoked_at__isnull=True
        ).update(revoked_at=timezone.now(), revoked_by=by)
    )


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


def _record(organisation_id: int, event: str, domain: str, method: str, **who) -> None:
    OrganisationVerification.objects.create(
        organisation_id=organisation_id, event=event, domain=domain, method=method, **who
    )


def _proofs(organisation: Organisation) -> list[tuple[int, str, str]]:
    """(user id, address, domain) for each confirmed address of an admin on one of the
    organisation's acceptable domains (never a public-mail or throwaway one), oldest first."""
    domains = [domain for domain in organisation.domains if not domain_problem(domain)]
    if not domains:
        return []
    addresses = (
        EmailAddress.objects.filter(
            verified=True,
            user__memberships__organisation=organisation,
            user__memberships__role=Membership.Role.ADMIN,
        )
        .order_by("pk")
        .values_list("user_id", "email")
    )
    proofs = [(user_id, address, domain_match(address, domains)) for user_id, address in addresses]
    return [proof for proof in proofs if proof[2]]


@transaction.atomic
def refresh_domain_verification(*, organisation_id: int) -> bool:
    """Verify an organisation when one of its admins has a confirmed address on one of its
    domains (subdomains count, look-alikes do not, public-mail and throwaway domains never),
    and take back a verification that rested on that once it no longer holds. Staff
    verification is left alone. Each change is recorded. Returns whether it is verified."""
    organisation = Organisation.objects.select_for_update().get(pk=organisation_id)
    if organisation.verified_via == Organisation.VerifiedVia.STAFF:
        return organisation.is_verified
    proofs = _proofs(organisation)
    if organisation.is_verified and organisation.verified_domain in {p[2] for p in proofs}:
        return True
    if organisation.is_verified:  # the proven domain no longer holds
        Organisation.objects.filter(pk=organisation.pk).update(
            is_verified=False, verified_at=None, verified_via="", verified_domain=""
        )
        _record(
            organisation.pk,
            OrganisationVerification.Event.WITHDRAWN,
            organisation.verified_domain,
            OrganisationVerification.Method.DOMAINS_CHANGED,
        )
    if not proofs:
        return False
    user_id, address, domain = proofs[0]
    Organisation.objects.filter(pk=organisation.pk).update(
        is_verified=True,
        verified_at=timezone.now(),
        verified_via=Organisation.VerifiedVia.DOMAIN,
        verified_domain=domain,
    )
    _record(
        organisation.pk,
        OrganisationVerification.Event.GRANTED,
        domain,
        OrganisationVerification.Method.EMAIL,
        user_id=user_id,
        address=address,
    )
    return True


def refresh_verification_for_user(*, user_id: int) -> None:
    """An address of this user was just verified: re-check the organisations they administer."""
    ids = Membership.objects.filter(user_id=user_id, role=Membership.Role.ADMIN).values_list(
        "organisation_id", flat=True
    )
    for organisation_id in list(ids):
        refresh_domain_verification(organisation_id=organisation_id)


@transaction.atomic
def mark_verified(*, organisation_id: int, by: User) -> bool:
    """Site staff, having checked it another way, vouch that the organisation controls its first
    acceptable email domain. False if it was verified already or names no such domain."""
    organisation = Organisation.objects.select_for_update().get(pk=organisation_id)
    domains = [domain for domain in organisation.domains if not domain_problem(domain)]
    if organisation.is_verified or not domains:
        return False
    Organisation.objects.filter(pk=organisation_id).update(
        is_verified=True,
        verified_at=timezone.now(),
        verified_via=Organisation.VerifiedVia.STAFF,
        verified_domain=domains[0],
    )
    _record(
        organisation_id,
        OrganisationVerification.Event.GRANTED,
        domains[0],
        OrganisationVerification.Method.STAFF,
        user=by,
    )
    return True


@transaction.atomic
def unmark_verified(*, organisation_id: int, by: User) -> None:
    """Site staff take a verification back (a domain check may grant it again later)."""
    organisation = Organisation.objects.select_for_update().get(pk=organisation_id)
    if not organisation.is_verified:
        return
    Organisation.objects.filter(pk=organisation_id).update(
        is_verified=False, verified_at=None, verified_via="", verified_domain=""
    )
    _record(
        organisation_id,
        OrganisationVerification.Event.WITHDRAWN,
        organisation.verified_domain,
        OrganisationVerification.Method.STAFF,
        user=by,
    )


@transaction.atomic
def confirm_name(*, organisation_id: int, by: User) -> bool:
    """Site staff confirm the organisation is who its name says: its co-signatures under that
    name may then be approved at once. False if it was confirmed already."""
    return bool(
        Organisation.objects.filter(pk=organisation_id, name_confirmed=False).update(
            name_confirmed=True, name_confirmed_at=timezone.now(), name_confirmed_by=by
        )
    )


@transaction.atomic
def unconfirm_name(*, organisation_id: int) -> None:
    Organisation.objects.filter(pk=organisation_id).update(
        name_confirmed=False, name_confirmed_at=None, name_confirmed_by=None
    )
