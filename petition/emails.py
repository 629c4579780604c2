"""One function per message. Each writes the mail to the outbox in the caller's transaction and
queues its sending once that transaction commits."""

import functools

from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse

from . import tasks, tokens
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
    context = {"site_url": settings.SITE_URL, **context}
    return queue_rendered(
        kind=kind,
        to=to,
        subject=render_to_string(f"{template}_subject.txt", context),
        text=render_to_string(f"{template}_message.txt", context),
        html=render_to_string(f"{template}_message.html", context),
    )


def queue_rendered(*, kind: str, to: str, subject: str, text: str, html: str = "") -> Mail:
    subject = " ".join(subject.split())[:300]
    mail = Mail.objects.create(kind=kind, to=to, subject=subject, text=text, html=html)
    # robust: if the broker is down the commit still stands; the row waits for the re-queue job.
    transaction.on_commit(functools.partial(tasks.enqueue_mail, mail.pk), robust=True)
    return mail


def verify_url(signature: Signature) -> str:
    token = tokens.make(
        tokens.VERIFY,
        signature_id=signature.pk,
        letter_id=signature.letter_id,
        email_hash=signature.email_hash,
    )
    return absolute(reverse("verify", kwargs={"slug": signature.letter.slug, "token": token}))


def manage_url(signature: Signature) -> str:
    token = tokens.make(
        tokens.MANAGE,
        signature_id=signature.pk,
        letter_id=signature.letter_id,
        email_hash=signature.email_hash,
    )
    return absolute(reverse("manage", kwargs={"slug": signature.letter.slug, "token": token}))


def verification(signature: Signature) -> Mail:
    letter = signature.letter
    return queue(
        kind="verification",
        to=signature.email,
        template="petition/email/verification",
        context={
            "letter": letter,
            "signature": signature,
            "name": signature.name,
            "url": verify_url(signature),
            "level_sentence": LEVEL_SENTENCES[signature.visibility].replace(
                " have now been erased", " will be erased once you confirm"
            ),
            "is_work_address": bool(letter.employer_domain_for(signature.email)),
        },
    )


def confirmation(signature: Signature, *, to: str, receipt: dict | None) -> Mail:
    """Sent once a signature is verified; `to` is passed in because a private one is erased."""
    letter = signature.letter
    return queue(
        kind="confirmation",
        to=to,
        template="petition/email/confirmation",
        context={
            "letter": letter,
            "signature": signature,
            "letter_url": absolute(letter.get_absolute_url()),
            "manage_url": manage_url(signature),
            "level_sentence": LEVEL_SENTENCES[signature.visibility],
            "receipt": receipt,
        },
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
