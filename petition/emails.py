"""One function per message. Each writes the mail to the outbox in the caller's transaction and
queues its sending (outbox.kick_relay) once that transaction commits."""

import json

from django.conf import settings
from django.core import signing
from django.db import connection, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from . import outbox, tokens, translations
from .models import Level, Mail, Signature

LEVEL_SENTENCES = {
    Level.PUBLIC: "Public: your name and the details you chose are shown with the letter.",
    Level.ANONYMOUS: (
        'Anonymous: the public sees "Anonymous" and only the details you ticked; the organisers '
        "see your name and email, to coordinate."
    ),
    Level.PRIVATE: (
        "Private: you appear only in the count. Your name and email have now been erased; "
        "not even the organisers can see them."
    ),
}


def absolute(path: str) -> str:
    return settings.SITE_URL + path


def queue(*, kind: str, to: str, template: str, context: dict) -> Mail:
    letter, update = context.get("letter"), context.get("update")
    context = {"site_url": settings.SITE_URL, **context}
    # A signer's mails are written in the language they read the letter in; the links in them
    # were made before, so their paths are the same in every language.
    signature = context.get("signature")
    language = getattr(signature, "language", "") or translation.get_language()
    with translation.override(language):
        subject = render_to_string(f"{template}_subject.txt", context)
        text = render_to_string(f"{template}_message.txt", context)
        html = render_to_string(f"{template}_message.html", context)
    return queue_rendered(
        kind=kind,
        to=to,
        subject=subject,
        text=text,
        html=html,
        letter_id=letter.pk if letter is not None else None,
        update_id=update.pk if update is not None else None,
    )


def queue_rendered(
    *,
    kind: str,
    to: str,
    subject: str,
    text: str,
    html: str = "",
    letter_id: int | None = None,
    update_id: int | None = None,
) -> Mail:
    subject = " ".join(subject.split())[:300]
    mail = Mail.objects.create(
        kind=kind,
        to=to,
        subject=subject,
        text=text,
        html=html,
        letter_id=letter_id,
        update_id=update_id,
    )
    # robust: if the broker is down the commit still stands; the row waits for the sweep.
    transaction.on_commit(outbox.kick_relay, robust=True)
    return mail


def queue_deferred(
    *, kind: str, to: str, template: str, context: dict, letter_id: int | None
) -> Mail:
    """Write a mail the relay renders when it sends it, so the request that decides to send it
    pays for an INSERT only. `context` must be plain JSON: what the templates read, copied."""
    mail = Mail.objects.create(
        kind=kind, to=to, template=template, context=context, letter_id=letter_id
    )
    transaction.on_commit(outbox.kick_relay, robust=True)
    return mail


def _letter_fields(letter) -> dict:
    """What a deferred mail's templates read of its letter."""
    return {"title": letter.title, "addressee": letter.addressee}


def _letter_fields_as_read(signature: Signature) -> dict:
    """What a signer's deferred mail reads of the letter: its title and addressee in the
    translation they read, or the original's."""
    read = translations.translation_read(signature)
    if read is None:
        return _letter_fields(signature.letter)
    return {"title": read.title, "addressee": read.addressee}


def verify_url(signature: Signature) -> str:
    token = tokens.make(
        tokens.VERIFY,
        signature_id=signature.pk,
        letter_id=signature.letter_id,
        email_hash=signature.email_hash,
    )
    return absolute(reverse("verify", kwargs={"slug": signature.letter.slug, "token": token}))


def manage_path(signature: Signature) -> str:
    """The signature's manage page, for its current link generation (older links are refused)."""
    token = tokens.make(
        tokens.MANAGE,
        signature_id=signature.pk,
        letter_id=signature.letter_id,
        email_hash=signature.email_hash,
        generation=signature.link_generation,
    )
    return reverse("manage", kwargs={"slug": signature.letter.slug, "token": token})


def manage_url(signature: Signature) -> str:
    return absolute(manage_path(signature))


def verification(signature: Signature) -> Mail:
    letter = signature.letter
    name, address = signature.identity()
    return queue_deferred(
        kind="verification",
        to=address,
        template="petition/email/verification",
        letter_id=letter.pk,
        context={
            "letter": _letter_fields_as_read(signature),
            "language": signature.language,
            "name": name,
            "url": verify_url(signature),
            "level_sentence": str(LEVEL_SENTENCES[signature.visibility]).replace(
                " have now been erased", " will be erased once you confirm"
            ),
            "is_work_address": bool(letter.employer_domain_for(address)),
        },
    )


# Stands in the confirmation mail until the receipt exists: the mail is rendered before the
# verification takes the letter's hot rows (tally, log), and the receipt is written in after.
RECEIPT_PLACEHOLDER = "[[receipt-placeholder-7f3c]]"


def confirmation(signature: Signature, *, to: str) -> Mail:
    """Sent once a signature is verified; `to` is passed in because a private one is erased.
    Put the receipt in with receipt_statement() in the same transaction, once the log entry has
    its index."""
    letter = signature.letter
    return queue_deferred(
        kind="confirmation",
        to=to,
        template="petition/email/confirmation",
        letter_id=letter.pk,
        context={
            "letter": _letter_fields_as_read(signature),
            "language": signature.language,
            "letter_url": absolute(letter.get_absolute_url()),
            "manage_url": manage_url(signature),
            "level_sentence": str(LEVEL_SENTENCES[signature.visibility]),
            "receipt_json": RECEIPT_PLACEHOLDER,
            "check_url": absolute(reverse("log_check", kwargs={"slug": letter.slug})),
        },
    )


def receipt_statement(mail: Mail, receipt: dict) -> tuple[str, list]:
    """The UPDATE that puts the receipt into a queued confirmation mail's context, as SQL for the
    caller to run in the same round trip as the log entry it needs (see services.verify)."""
    receipt_json = json.dumps(receipt, indent=1)
    table = Mail._meta.db_table
    if connection.vendor == "postgresql":
        return (
            f"UPDATE {table} SET context = "  # noqa: S608 - fixed names
            "jsonb_set(context, '{receipt_json}', to_jsonb(%s::text)) WHERE id = %s",
            [receipt_json, mail.pk],
        )
    return (
        f"UPDATE {table} SET context = "  # noqa: S608 - fixed names
        "json_set(context, '$.receipt_json', %s) WHERE id = %s",
        [receipt_json, mail.pk],
    )


def already_signed(signature: Signature, *, to: str) -> Mail:
    """Someone submitted an address that has already signed: tell the address, not the form."""
    return queue(
        kind="already-signed",
        to=to,
        template="petition/email/already_signed",
        context={
            "letter": signature.letter,
            "manage_url": manage_url(signature),
            "letter_url": absolute(signature.letter.get_absolute_url()),
        },
    )


def manage_link(signature: Signature, *, to: str) -> Mail:
    return queue(
        kind="manage",
        to=to,
        template="petition/email/manage",
        context={
            "letter": signature.letter,
            "manage_url": manage_url(signature),
            "is_pending": signature.status == Signature.Status.PENDING,
        },
    )


def reverification(signature: Signature, *, to: str) -> Mail:
    """A link that proves the work address again; `to` is the address the signer typed (a
    private signer's is erased), checked against the signature's hash by the caller."""
    letter = signature.letter
    token = tokens.make(
        tokens.REVERIFY,
        signature_id=signature.pk,
        letter_id=signature.letter_id,
        email_hash=signature.email_hash,
    )
    return queue(
        kind="reverification",
        to=to,
        template="petition/email/reverification",
        context={
            "letter": letter,
            "signature": signature,
            "url": absolute(reverse("reverify", kwargs={"slug": letter.slug, "token": token})),
        },
    )


# --- Organiser workspace: invitations, updates to signers, milestones --------------------------

INVITE_SALT = "petition.organiser-invite"


def invite_url(invite) -> str:
    token = signing.dumps({"i": invite.pk}, salt=INVITE_SALT, compress=False)
    return absolute(reverse("organiser:accept_invite", kwargs={"token": token}))


def organiser_invite(invite) -> Mail:
    return queue(
        kind="organiser-invite",
        to=invite.email,
        template="petition/email/organiser_invite",
        context={
            "letter": invite.letter,
            "invite": invite,
            "inviter": invite.invited_by.get_full_name() if invite.invited_by else "",
            "url": invite_url(invite),
        },
    )


def unsubscribe_url(signature: Signature) -> str:
    token = tokens.make(
        tokens.UNSUBSCRIBE,
        signature_id=signature.pk,
        letter_id=signature.letter_id,
        email_hash=signature.email_hash,
    )
    return absolute(reverse("unsubscribe", kwargs={"slug": signature.letter.slug, "token": token}))


def update_to_signer(update, signature: Signature) -> Mail:
    """An organisers' update to one signer, in the language they read the letter in when the
    update has a translation into it, with a link that stops further updates."""
    letter = signature.letter
    return queue(
        kind="update",
        to=signature.email,
        template="petition/email/update",
        context={
            "letter": letter,
            "signature": signature,  # sent by a task: the signer's own language
            "update": update,
            "message": update.text_in(signature.language),
            "letter_url": absolute(letter.get_absolute_url()),
            "unsubscribe_url": unsubscribe_url(signature),
        },
    )


def milestone(letter, *, reached: list[int], to: str) -> Mail:
    return queue(
        kind="milestone",
        to=to,
        template="petition/email/milestone",
        context={
            "letter": letter,
            "reached": reached,
            "highest": max(reached),
            "is_goal": letter.goal in reached,
            "manage_url": absolute(reverse("organiser:letter", kwargs={"slug": letter.slug})),
        },
    )


# --- Co-signatures: organisations co-signing a letter ------------------------------------------


def cosign_requests(letter, cosignatures: list, *, to: str) -> Mail:
    """To an organiser: the co-sign requests that arrived since the last digest, in one mail."""
    return queue(
        kind="cosign-requests",
        to=to,
        template="petition/email/cosign_requests",
        context={
            "letter": letter,
            "cosignatures": cosignatures,
            "pending": [c for c in cosignatures if c.status == "pending"],
            "moderate_url": absolute(reverse("cosigners_moderate", kwargs={"slug": letter.slug})),
        },
    )


def cosign_approved(cosignature, *, to: str) -> Mail:
    """To each admin of the organisation: its co-signature is listed."""
    letter = cosignature.letter
    return queue(
        kind="cosign-approved",
        to=to,
        template="petition/email/cosign_approved",
        context={
            "letter": letter,
            "cosignature": cosignature,
            "letter_url": absolute(letter.get_absolute_url()),
            "cosign_url": absolute(reverse("cosign", kwargs={"slug": letter.slug})),
        },
    )


def cosign_rejected(cosignature, *, to: str) -> Mail:
    """To each admin of the organisation: the organisers declined its co-signature."""
    letter = cosignature.letter
    return queue(
        kind="cosign-rejected",
        to=to,
        template="petition/email/cosign_rejected",
        context={
            "letter": letter,
            "cosignature": cosignature,
            "letter_url": absolute(letter.get_absolute_url()),
        },
    )
