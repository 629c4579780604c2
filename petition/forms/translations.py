"""Translations: a letter's text in another language, and which language is the original."""

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from ..models import Letter
from .text import clean_text


class TranslationForm(forms.Form):
    language = forms.ChoiceField(label=_("Language"))
    title = forms.CharField(max_length=200, label=_("Title"))
    addressee = forms.CharField(max_length=200, label=_("Addressed to"))
    body = forms.CharField(
        max_length=100_000,
        widget=forms.Textarea(attrs={"rows": 16}),
        label=_("Text"),
        help_text=_("In Markdown."),
    )

    def __init__(self, *args, letter: Letter, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["language"].choices = [
            (code, name) for code, name in settings.LANGUAGES if code != letter.original_language
        ]

    def clean_title(self) -> str:
        return clean_text(self.cleaned_data["title"])

    def clean_addressee(self) -> str:
        return clean_text(self.cleaned_data["addressee"])


class OriginalLanguageForm(forms.Form):
    original_language = forms.ChoiceField(
        choices=settings.LANGUAGES, label=_("The letter is written in")
    )
