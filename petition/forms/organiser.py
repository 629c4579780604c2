"""The organiser's workspace forms: a letter's text and settings, the team, moderation, exports
and updates."""

import re

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from lib import params

from ..models import SETTINGS_FIELDS, ExportRecord, Letter, Level, Organiser
from .text import clean_text

DOMAIN_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


# A letter's text, in characters. Open letters run from a few hundred words to a few pages;
# 20,000 characters is about 3,000 words, eight printed pages, with room to spare. The bound is
# what keeps the versions page's diff and Markdown rendering within a measured CPU time.
MAX_LETTER_LENGTH = 20_000
# Square brackets start Markdown links, whose matching costs time that grows with the square of
# their number: 2,000 took 1.6 s of CPU to render, 20,000 took a minute; 500 take 0.13 s. Real
# letters hold a few dozen links.
MAX_LETTER_BRACKETS = 500


class LetterTextForm(forms.ModelForm):
    class Meta:
        model = Letter
        fields = ["title", "addressee", "body"]
        labels = {"addressee": "To", "body": "Text"}
        help_texts = {
            "body": "Markdown: *emphasis*, **strong**, [links](https://example.org), lists, "
            "## headings. Once the letter is published, changing the title or text makes a new "
            "version; earlier signatures stay with the version they signed."
        }

    def clean_title(self) -> str:
        return clean_text(self.cleaned_data["title"])

    def clean_addressee(self) -> str:
        return clean_text(self.cleaned_data["addressee"])

    def clean_body(self) -> str:
        body = self.cleaned_data["body"]
        if len(body) > MAX_LETTER_LENGTH:
            raise forms.ValidationError(
                "A letter's text may be at most %(limit)s characters; this one has %(length)s.",
                code="max_length",
                params={"limit": f"{MAX_LETTER_LENGTH:,}", "length": f"{len(body):,}"},
            )
        if body.count("[") > MAX_LETTER_BRACKETS:
            raise forms.ValidationError(
                "A letter's text may hold at most %(limit)s square brackets “[” (each may start a "
                "link); this one has %(count)s.",
                code="brackets",
                params={"limit": MAX_LETTER_BRACKETS, "count": f"{body.count('['):,}"},
            )
        return body


class DateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%dT%H:%M", **kwargs)


class LetterSettingsForm(forms.ModelForm):
    default_level = forms.ChoiceField(
        choices=[("", _("No default: each signer must choose"))] + Level.choices,
        required=False,
        widget=forms.RadioSelect,
        label=_("Level the sign form starts on"),
        help_text=_(
            "With no default, each signer must choose. Signers who fear their employer are "
            "safer starting on a private level."
        ),
    )

    class Meta:
        model = Letter
        fields = list(SETTINGS_FIELDS)
        labels = {
            "deadline": "Deadline (UTC)",
            "goal": "Signature goal",
            "allow_public": "Signers may sign publicly",
            "allow_anonymous": "Signers may sign anonymously",
            "allow_private": "Signers may sign privately (counted only)",
            "employer_domains": "Employer email domains",
            "employees_only": "Only employees may sign",
            "block_disposable": "Refuse disposable email addresses",
            "accepts_individuals": "People may sign",
            "accepts_organisations": "Organisations may co-sign (once approved)",
            "auto_approve_verified_orgs": "Approve verified organisations at once",
            "employee_verification_months": _("Employer verification lasts (months)"),
        }
        help_texts = {
            "employee_verification_months": _(
                "After this, a verified employee still counts but loses the mark until they "
                "confirm their work address again from their manage link."
            ),
            "deadline": "Optional. The letter closes itself at this time.",
            "goal": "Optional. Organisers get a mail when the count passes it.",
            "auto_approve_verified_orgs": _(
                "Only organisations whose name site staff have confirmed, co-signing under that "
                "name. A verified mark alone proves a domain, not a name: the others wait for you."
            ),
        }
        widgets = {
            "deadline": DateTimeInput(),
            "employer_domains": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Left empty, the period stays as it was.
        self.fields["employee_verification_months"].required = False

    def clean_employee_verification_months(self) -> int:
        months = self.cleaned_data["employee_verification_months"]
        return self.instance.employee_verification_months if months is None else months

    def clean_deadline(self):
        deadline = self.cleaned_data["deadline"]
        changed = "deadline" in self.changed_data
        if deadline is not None and changed and deadline <= timezone.now():
            raise forms.ValidationError("Choose a time in the future, or leave it empty.")
        return deadline

    def clean_employer_domains(self) -> str:
        domains = []
        for raw in self.cleaned_data["employer_domains"].replace(",", " ").split():
            domain = raw.strip().lower().lstrip("@").rstrip(".")
            if not DOMAIN_RE.match(domain):
                raise forms.ValidationError(f"“{raw}” is not a domain like example.com.")
            if domain not in domains:
                domains.append(domain)
        return "\n".join(domains)

    def clean(self):
        data = super().clean()
        if not any(data.get(f) for f in ("allow_public", "allow_anonymous", "allow_private")):
            self.add_error(None, "Offer signers at least one way to sign.")
        default = data.get("default_level")
        if default and not data.get(f"allow_{default}"):
            self.add_error(
                "default_level", _("Offer this level to signers, or choose another default.")
            )
            self._validate_constraints = False  # said above; the constraint would repeat it
        if not (data.get("accepts_individuals") or data.get("accepts_organisations")):
            self.add_error(None, "Let people sign, or organisations co-sign, or both.")
        if self.non_field_errors():
            # Said above in words; the database's own constraint messages would only repeat it.
            self._validate_constraints = False
        if data.get("employees_only") and not data.get("employer_domains"):
            self.add_error("employer_domains", "Name the employer domains employees sign from.")
        return data


class InviteForm(forms.Form):
    email = forms.EmailField(max_length=254, label="Their email address")
    role = forms.ChoiceField(
        choices=Organiser.Role.choices,
        initial=Organiser.Role.EDITOR,
        help_text="Owners also manage the team; editors edit, moderate, export and send updates; "
        "viewers see the figures only.",
    )


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Organiser.Role.choices)


# The same reasons the public log records for a hidden signature (petition/tlog.py).
HIDE_REASONS = [
    ("spam", "Spam"),
    ("impostor", "Impostor"),
    ("duplicate", "Duplicate"),
    ("abuse", "Abuse"),
    ("other", "Other"),
]


class HideForm(forms.Form):
    reason = forms.ChoiceField(choices=HIDE_REASONS)
    note = forms.CharField(
        max_length=300, required=False, label="Note for the other organisers (optional)"
    )

    def clean_note(self) -> str:
        return clean_text(self.cleaned_data["note"])


class SignatureSearchForm(forms.Form):
    STATUSES = [
        ("counted", "Counted"),
        ("hidden", "Hidden"),
        ("pending", "Waiting for confirmation"),
        ("withdrawn", "Withdrawn"),
        ("all", "All"),
    ]
    q = forms.CharField(
        max_length=200,
        required=False,
        label="Name, email or employer",
        widget=forms.TextInput(attrs={"type": "search"}),
    )
    status = forms.ChoiceField(choices=STATUSES, required=False, initial="counted")


class DayField(forms.DateField):
    """A date with a day before and after it, so "on or before" filters can compare with the
    next day's start (9999-12-31 has none)."""

    def validate(self, value):
        super().validate(value)
        if value is not None:
            try:
                params.day(value)
            except params.BadValue as exc:
                raise forms.ValidationError(str(exc), code="out_of_range") from exc


class ExportForm(forms.Form):
    STATUSES = [
        ("counted", "Counted (verified and not hidden)"),
        ("verified", "Verified, hidden ones included"),
        ("hidden", "Hidden"),
        ("pending", "Waiting for confirmation"),
        ("withdrawn", "Withdrawn"),
        ("all", "All"),
    ]
    format = forms.ChoiceField(choices=ExportRecord.Format.choices, initial="csv")
    status = forms.ChoiceField(choices=STATUSES, initial="counted")
    level = forms.ChoiceField(choices=[("", "All levels"), *Level.choices], required=False)
    version = forms.IntegerField(
        min_value=1, max_value=params.LARGEST_INT, required=False, label="Text version"
    )
    signed_from = DayField(
        required=False, label="Signed on or after", widget=forms.DateInput(attrs={"type": "date"})
    )
    signed_to = DayField(
        required=False, label="Signed on or before", widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean(self):
        data = super().clean()
        start, end = data.get("signed_from"), data.get("signed_to")
        if start and end and start > end:
            raise forms.ValidationError("The first date is after the second.")
        return data


class UpdateForm(forms.Form):
    subject = forms.CharField(max_length=200)
    # Made when the form is shown and sent back with it: the same form submitted twice (a double
    # click, a browser retry, the back button) finds the update it made instead of a second one.
    key = forms.UUIDField(widget=forms.HiddenInput)
    body = forms.CharField(
        widget=forms.Textarea, label="Message", help_text="Markdown, as in the letter's text."
    )

    def clean_subject(self) -> str:
        return clean_text(self.cleaned_data["subject"])
