"""The organiser's translations page: the letter's original language, and a translation of the
current version into each other language (those of an older version shown as out of date)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.translation import gettext
from django.views.decorators.http import require_http_methods

from .. import translations
from ..forms.translations import OriginalLanguageForm, TranslationForm
from .common import EDITORS, letter_for_organiser


@login_required
@require_http_methods(["GET", "POST"])
def translations_page(request, slug: str):
    letter = letter_for_organiser(request, slug, roles=EDITORS)
    language = request.GET.get("language") or request.POST.get("language", "")
    form = TranslationForm(request.POST or None, letter=letter, initial=_initial(letter, language))
    original_form = OriginalLanguageForm(initial={"original_language": letter.original_language})
    status = 200
    if request.method == "POST" and "original_language" in request.POST:
        original_form = OriginalLanguageForm(request.POST)
        form = TranslationForm(letter=letter)
        if original_form.is_valid():
            translations.set_original_language(
                letter_id=letter.pk,
                actor=request.user,
                language=original_form.cleaned_data["original_language"],
            )
            messages.success(request, gettext("Saved."))
            return redirect("organiser:translations", slug=letter.slug)
        status = 400
    elif request.method == "POST":
        if form.is_valid():
            try:
                translations.add_translation(
                    letter_id=letter.pk, actor=request.user, **form.cleaned_data
                )
            except translations.TranslationError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, gettext("Translation saved."))
                return redirect("organiser:translations", slug=letter.slug)
        status = 400
    context = {
        "letter": letter,
        "form": form,
        "original_form": original_form,
        "rows": translations.workspace_rows(letter),
        "version": translations.latest_version(letter),
    }
    return render(request, "petition/organiser/translations.html", context, status=status)


def _initial(letter, language: str) -> dict:
    """The form for `language`: its newest translation to start from, else the original."""
    for row in translations.workspace_rows(letter):
        if row["code"] == language and row["translation"] is not None:
            t = row["translation"]
            return {
                "language": language,
                "title": t.title,
                "addressee": t.addressee,
                "body": t.body,
            }
    version = translations.latest_version(letter)
    text = translations.original_text(letter, version)
    return {
        "language": language,
        "title": text.title,
        "addressee": text.addressee,
        "body": text.body,
    }
