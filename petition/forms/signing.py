"""The signer's forms: signing a letter, asking for a link by email, choosing a level."""

from django import forms
from django.utils.translation import gettext_lazy as _

# One list of throwaway-mail domains, shared with organisation verification.
from lib.maildomains import is_disposable

from .. import translations
from ..models import LEVEL_ORDER, Letter, Level
from .text import clean_text

LEVEL_HELP = {
    Level.PUBLIC: "Public: your name and the details you tick are shown with the letter.",
    Level.ANONYMOUS: (
        'Anonymous: the public sees "Anonymous" and the details you tick; the organisers see '
        "your name and email, to coordinate."
    ),
    Level.PRIVATE: (
        "Private: you appear only in the count. Once you confirm, your name and email are "
        "erased; not even the organisers can see them."
    ),
}


# What each level means for the signer, in one plain sentence shown beside it on the sign form.
LEVEL_CONSEQUENCE = {
    Level.PUBLIC: _("Your name, and the details you tick, are shown with the letter."),
    Level.ANONYMOUS: _(
        'The public sees "Anonymous" and the details you tick; only the organisers see your '
        "name and email."
    ),
    Level.PRIVATE: _(
        "You are only counted: once you confirm, your name and email are erased, even for the "
        "organisers."
    ),
}


class LevelRadioSelect(forms.RadioSelect):
    """Radio buttons named by the level, each described by its consequence (shown beside it)."""

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        option["consequence"] = LEVEL_CONSEQUENCE.get(value, "")
        option["attrs"]["aria-describedby"] = f"{option['attrs']['id']}_consequence"
        return option


class SignForm(forms.Form):
    name = forms.CharField(max_length=200, required=False, label="Your name")
    email = forms.EmailField(
        max_length=254,
        label="Email",
        help_text="We send you a link to confirm. It is never shown to the public.",
    )
    visibility = forms.ChoiceField(
        choices=Level.choices,
        widget=LevelRadioSelect,
        label=_("How visible?"),
        error_messages={"required": _("Choose how visible your signature is.")},
    )
    affiliation = forms.CharField(max_length=200, required=False, label="Employer or organisation")
    job_title = forms.CharField(max_length=200, required=False)
    team = forms.CharField(max_length=200, required=False)
    city = forms.CharField(max_length=100, required=False)
    show_affiliation = forms.BooleanField(required=False, label="Show my employer")
    show_job_title = forms.BooleanField(required=False, label="Show my job title")
    show_team = forms.BooleanField(required=False, label="Show my team")
    show_city = forms.BooleanField(required=False, label="Show my city")
    wants_updates = forms.BooleanField(
        required=False, label="Email me updates about this letter (you can stop them any time)"
    )
    # A honeypot: hidden from people by CSS and aria-hidden; bots fill every field.
    website = forms.CharField(required=False, label="Leave this empty")
    # The language of the text the signer was shown (the page sets it): blank is the original.
    language = forms.CharField(required=False, max_length=10, widget=forms.HiddenInput)

    def __init__(self, *args, letter: Letter, one_click_email: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.letter = letter
        levels = letter.levels
        self.fields["visibility"].choices = [(level, Level(level).label) for level in levels]
        # The organiser's default, or none: then the signer must pick one (a lone level is
        # the only choice there is).
        if letter.default_level in levels:
            self.fields["visibility"].initial = letter.default_level
        elif len(levels) == 1:
            self.fields["visibility"].initial = levels[0]
        if one_click_email:
            self.fields["email"].help_text = _(
                "With %(email)s, your account's confirmed address, your signature counts at "
                "once: there is no mail to open. With another address, we send a link there "
                "to confirm."
            ) % {"email": one_click_email}
        elif letter.domains:
            self.fields["email"].help_text = (
                "We send you a link to confirm; it is never shown to the public. "
                "Mail to a work address may be read by your employer. At the private level "
                "the address is erased once you confirm."
            )

    @property
    def is_bot(self) -> bool:
        return bool(self.data.get("website"))

    def clean_name(self) -> str:
        return clean_text(self.cleaned_data["name"])

    def clean_language(self) -> str:
        language = self.cleaned_data["language"]
        if language and language not in translations.texts(self.letter):
            # A hidden field: said above the form, where the signer sees it.
            self.add_error(
                None, _("The letter is no longer offered in that language: please read it again.")
            )
        return language

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip().lower()
        domain = email.rpartition("@")[2]
        if self.letter.block_disposable and is_disposable(domain):
            raise forms.ValidationError(
                "This letter does not accept disposable addresses. Please use one you keep."
            )
        if self.letter.employees_only and not self.letter.employer_domain_for(email):
            domains = ", ".join(self.letter.domains)
            raise forms.ValidationError(
                f"Only employees may sign this letter: use your work address at {domains}."
            )
        return email

    def clean(self):
        data = super().clean()
        for field in ("affiliation", "job_title", "team", "city"):
            if field in data:
                data[field] = clean_text(data[field])
        if data.get("visibility") != Level.PRIVATE and not data.get("name"):
            self.add_error("name", "Please give your name (choose Private to sign without one).")
        return data


class EmailForm(forms.Form):
    email = forms.EmailField(max_length=254, label="Your email")

    def clean_email(self) -> str:
        # Normalised as the services store it, so a per-address rate limit cannot be dodged by
        # changing the case of the address.
        return self.cleaned_data["email"].strip().lower()


class LevelForm(forms.Form):
    visibility = forms.ChoiceField(choices=Level.choices, widget=forms.RadioSelect)

    def __init__(self, *args, current: str, **kwargs):
        super().__init__(*args, **kwargs)
        later = LEVEL_ORDER[LEVEL_ORDER.index(current) + 1 :]
        self.fields["visibility"].choices = [(level, LEVEL_HELP[level]) for level in later]
