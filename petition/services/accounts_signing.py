"""Signer accounts: one-click signing, level switches, leaving.

A signed-in signer whose address the account has verified signs without the mail loop: the
pending row is made and confirmed by the same start_signature() and verify() as a mailed one, in
one transaction, so the tally, the log, the receipt, the erasure of a private identity and the
confirmation mail happen exactly as for a mailed signature. A private signature is never linked
to an account at any moment.
"""

from dataclasses import dataclass

from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.db import transaction

from lib.addresses import email_hash, email_hashes, normalise_email
from petition import translations
from petition.models import Letter, Level, Signature

from .signer import set_level, withdraw
from .signing import (
    SigningClosed,
    set_aside_identity,
    sign,
    signer_details,
    start_signature,
    verify,
)

SIGNED = "signed"  # verified at once; a receipt is returned
MAILED = "mailed"  # a link went to an address the account has not verified (a work address)
ALREADY = "already"  # this verified address has an active signature on the letter


@dataclass(frozen=True)
class AccountSigning:
    outcome: str
    signature: Signature | None = None
    receipt: dict | None = None


def has_verified_email(user, email: str) -> bool:
    """Did this account prove it reads `email` (allauth's verified addresses)?"""
    if not getattr(user, "is_authenticated", False):
        return False
    return EmailAddress.objects.filter(
        user=user, verified=True, email__iexact=normalise_email(email)
    ).exists()


@transaction.atomic
def sign_as_user(
    *,
    letter: Letter,
    user,
    email: str,
    visibility: str,
    name: str = "",
    affiliation: str = "",
    job_title: str = "",
    team: str = "",
    city: str = "",
    show_affiliation: bool = False,
    show_job_title: bool = False,
    show_team: bool = False,
    show_city: bool = False,
    wants_updates: bool = False,
    language: str = "",
) -> AccountSigning:
    """Sign as a signed-in user.

    Through an address the account has verified: verified at once (SIGNED), or ALREADY if that
    address has a verified signature on the letter (a public or anonymous one is then linked to
    the account; the owner of the address is the one asking). An unconfirmed signature of the
    same address, made signed out, is taken over with these choices and confirmed: one person,
    one signature. Through any other address (asking for employer verification with a work
    address): the ordinary mail loop (MAILED), whose answer never says whether it had signed.
    """
    if not letter.takes_signatures:
        raise SigningClosed
    details = signer_details(
        name=name,
        affiliation=affiliation,
        job_title=job_title,
        team=team,
        city=city,
        show_affiliation=show_affiliation,
        show_job_title=show_job_title,
        show_team=show_team,
        show_city=show_city,
        wants_updates=wants_updates,
        visibility=visibility,
        user=user,
    )
    if not has_verified_email(user, email):
        sign(letter=letter, email=email, language=language, **details)
        return AccountSigning(MAILED)
    return _sign_verified_address(
        letter=letter, user=user, email=normalise_email(email), language=language, details=details
    )


def _sign_verified_address(
    *, letter: Letter, user, email: str, language: str, details: dict
) -> AccountSigning:
    """sign_as_user() through an address the account has verified (normalised)."""
    hashed = email_hash(email)
    signature = (
        Signature.objects.active()
        .select_for_update(of=("self",))
        .filter(letter=letter, email_hash__in=email_hashes(email))
        .first()
    )
    if signature is None:
        signature = start_signature(
            letter=letter,
            email=email,
            hashed=hashed,
            language=language,
            details=details,
            mail=False,
        )
        if signature is None:  # the same address signed in another request a moment ago
            existing = Signature.objects.active().filter(letter=letter, email_hash=hashed).first()
            return AccountSigning(ALREADY, existing)
    elif signature.status == Signature.Status.PENDING:
        _take_over(signature, letter=letter, email=email, language=language, details=details)
    else:
        if signature.visibility != Level.PRIVATE:
            Signature.objects.filter(pk=signature.pk, user__isnull=True).update(user=user)
        return AccountSigning(ALREADY, signature)
    signature, receipt = verify(signature_id=signature.pk)
    return AccountSigning(SIGNED, signature, receipt)


def _take_over(
    signature: Signature, *, letter: Letter, email: str, language: str, details: dict
) -> None:
    """Give an unconfirmed signature of the address these choices, before it is confirmed."""
    for field, value in details.items():
        setattr(signature, field, value)
    text = translations.signed_text(letter, signature.version, language)
    signature.language, signature.text_hash = text.language, text.hash
    if details["visibility"] == Level.PRIVATE:
        set_aside_identity(signature, name=details["name"], email=email)
    signature.save()


@transaction.atomic
def switch_level(*, signature_id: int, user_id: int, visibility: str) -> bool:
    """An account holder moves their signature between public and anonymous, either way (they
    proved the address, unlike a link holder), or to private: one way, it erases the identity and
    drops the account link. Only levels the letter offers. False if nothing changed."""
    signature = (
        Signature.objects.select_for_update(of=("self",))
        .select_related("letter", "version")
        .filter(pk=signature_id, user_id=user_id)
        .first()
    )
    # Only a confirmed signature: a pending one may carry an address the account does not own,
    # whose owner was mailed the level it has now.
    if signature is None or signature.status != Signature.Status.VERIFIED:
        return False
    if visibility == signature.visibility or visibility not in signature.letter.levels:
        return False
    if visibility == Level.PRIVATE:
        # A pending one keeps its address until confirmed (the link must reach it); the account
        # lets go of it now.
        signature.user = None
    set_level(signature, visibility)
    return True


@transaction.atomic
def delete_account(*, user_id: int, withdraw_signatures: bool) -> None:
    """Delete an account. Its signatures stay exactly as signed (only the account link goes,
    Signature.user is SET NULL), or are all withdrawn first, through withdraw() so the counts and
    the log stay exact. Raises ProtectedError while the account still owns letters."""
    user = get_user_model().objects.select_for_update().get(pk=user_id)
    if withdraw_signatures:
        active = Signature.objects.active().filter(user_id=user_id).order_by("pk")
        for signature_id in active.values_list("pk", flat=True):
            withdraw(signature_id=signature_id)
    user.delete()
