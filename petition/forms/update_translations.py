"""The update form with its translations: an optional subject and message in each language the
letter is offered in besides its original, for the signers who read the letter in it."""

import re
from dataclasses import dataclass

from django import forms
from django.utils.translation import gettext

from .. import translations
from ..models import Letter
from .organiser import UpdateForm
from .text import clean_text

# A translation's fields are named "subject_<language>" and "body_<language>".
TRANSLATION_FIELD = re.compile(r"(subject|body)_(.{1,20})", re.DOTALL)


@dataclass(frozen=True)
class TranslationFields:
    """One language's pair of fields, for the template to group under the language's name."""

    code: str
    name: str
    subject: forms.BoundField
    body: forms.BoundField


class TranslatedUpdateForm(UpdateForm):
    def __init__(self, *args, letter: Letter, **kwargs):
        super().__init__(*args, **kwargs)
        self.letter = letter
        self.languages = translations.offered_languages(letter)
        for code, name in self.languages:
            # lang: the browser spell-checks (and a screen reader reads) it in that language;
            # dir="auto": Arabic typed in runs right to left.
            attrs = {"lang": code, "dir": "auto"}
            self.fields[f"subject_{code}"] = forms.CharField(
                max_length=200,
                required=False,
                label=gettext("Subject (%(language)s)") % {"language": name},
                widget=forms.TextInput(attrs=attrs),
            )
            self.fields[f"body_{code}"] = forms.CharField(
                required=False,
                label=gettext("Message (%(language)s)") % {"language": name},
                widget=forms.Textarea(attrs=attrs),
            )

    @property
    def translation_groups(self) -> list[TranslationFields]:
        return [
            TranslationFields(code, name, self[f"subject_{code}"], self[f"body_{code}"])
            for code, name in self.languages
        ]

    def clean(self):
        data = super().clean()
        self._refuse_languages_not_offered()
        found = {}
        for code, name in self.languages:
            subject = clean_text(data.get(f"subject_{code}", ""))
            body = data.get(f"body_{code}", "").strip()
            if subject and body:
                found[code] = {"subject": subject, "body": body}
            elif subject or body:
                missing = f"body_{code}" if subject else f"subject_{code}"
                self.add_error(
                    missing,
                    gettext("Give both the subject and the message in %(language)s, or neither.")
                    % {"language": name},
                )
        data["translations"] = found
        return data

    def _refuse_languages_not_offered(self) -> None:
        """A translation sent for a language the letter is not offered in (a stale form, or a
        crafted one) is refused, never dropped without a word."""
        offered = {code for code, _name in self.languages}
        refused = set()
        for key, value in self.data.items():
            match = TRANSLATION_FIELD.fullmatch(key)
            if match and match.group(2) not in offered and str(value).strip():
                refused.add(match.group(2))
        for code in sorted(refused):
            name = translations.language_name(code)
            if code == self.letter.original_language:
                message = gettext(
                    "%(language)s is the letter's original language: write the update itself in "
                    "it, in the subject and message above."
                )
            else:
                message = gettext(
                    "The letter is not offered in %(language)s, so the update cannot be sent in "
                    "it. Add a translation of the letter into %(language)s first."
                )
            self.add_error(None, message % {"language": name})

    def update_fields(self) -> dict:
        """What services.send_update takes, once the form is valid."""
        data = self.cleaned_data
        return {
            "subject": data["subject"],
            "body": data["body"],
            "key": data["key"],
            "translations": data["translations"],
        }
