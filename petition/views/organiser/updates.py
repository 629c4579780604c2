"""Updates to a letter's signers: writing one (with translations for the signers who read the
letter in another language), previewing it, confirming how many it will mail, and following,
pausing or resuming its sending."""

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.humanize.templatetags.humanize import intcomma
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext, ngettext
from django.views.decorators.http import require_http_methods

from ... import services, translations
from ...forms.update_translations import TranslatedUpdateForm
from ...models import Mail, Update, render_markdown
from ..common import ALL_ROLES, EDITORS, letter_for_organiser, may_edit, post_only


@login_required
@require_http_methods(["GET", "POST"])
def updates(request, slug: str):
    """Write an update, preview it, then confirm the number of signers it will mail."""
    letter = letter_for_organiser(request, slug)
    may_send = may_edit(letter)
    form = None
    if may_send:
        form = TranslatedUpdateForm(
            request.POST or None, initial={"key": uuid.uuid4()}, letter=letter
        )
    preview = None
    confirming = False
    status = 200
    if request.method == "POST":
        if not may_send:
            raise PermissionDenied
        if not form.is_valid():
            status = 400
        elif "preview" in request.POST:
            preview = render_markdown(form.cleaned_data["body"])
        elif "confirm" in request.POST:
            update, created = services.send_update(
                letter_id=letter.pk, actor=request.user, **form.update_fields()
            )
            if created:
                messages.success(
                    request,
                    ngettext("Sending to %(n)s signer.", "Sending to %(n)s signers.", update.total)
                    % {"n": intcomma(update.total)},
                )
            else:
                messages.info(
                    request,
                    gettext("This update is already queued: it was not sent a second time."),
                )
            return redirect("organiser:update", slug=letter.slug, pk=update.pk)
        elif "send" in request.POST:
            confirming = True
            preview = render_markdown(form.cleaned_data["body"])
    context = {
        "letter": letter,
        "may_send": may_send,
        "form": form,
        "preview": preview,
        "update_translations": _translated_previews(form) if preview is not None else [],
        "confirming": confirming,
        "recipients": services.update_recipients(letter.pk).count() if may_send else None,
        "updates": letter.updates.select_related("created_by").order_by("-created_at"),
        "bounces": Mail.objects.filter(letter=letter, failed_at__isnull=False).order_by(
            "-failed_at"
        )[:50],
    }
    return render(request, "petition/organiser/updates.html", context, status=status)


def _translated_previews(form: TranslatedUpdateForm) -> list[dict]:
    """Each translation given, as its signers will read it."""
    return [
        {
            "code": code,
            "name": translations.language_name(code),
            "subject": text["subject"],
            "html": render_markdown(text["body"]),
        }
        for code, text in form.cleaned_data["translations"].items()
    ]


def _update_for_organiser(request, slug: str, pk: int, *, roles=ALL_ROLES) -> tuple:
    letter = letter_for_organiser(request, slug, roles=roles)
    update = get_object_or_404(
        Update.objects.select_related("created_by").prefetch_related("translations"),
        letter=letter,
        pk=pk,
    )
    return letter, update


@login_required
def update_detail(request, slug: str, pk: int):
    letter, update = _update_for_organiser(request, slug, pk)
    context = {
        "letter": letter,
        "update": update,
        "may_send": may_edit(letter),
        "update_translations": [
            {
                "code": t.language,
                "name": translations.language_name(t.language),
                "subject": t.subject,
                "html": t.body_html,
            }
            for t in update.translations.all()
        ],
    }
    return render(request, "petition/organiser/update.html", context)


@login_required
@post_only
def pause_update(request, slug: str, pk: int):
    letter, update = _update_for_organiser(request, slug, pk, roles=EDITORS)
    if services.pause_update(update_id=update.pk, actor=request.user):
        messages.success(request, gettext("Paused: no more mail goes out until you resume."))
    return redirect("organiser:update", slug=letter.slug, pk=update.pk)


@login_required
@post_only
def resume_update(request, slug: str, pk: int):
    letter, update = _update_for_organiser(request, slug, pk, roles=EDITORS)
    if services.resume_update(update_id=update.pk, actor=request.user):
        messages.success(request, gettext("Resumed: sending carries on where it stopped."))
    return redirect("organiser:update", slug=letter.slug, pk=update.pk)
