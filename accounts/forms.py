from django import forms

from . import logos
from .models import (
    LOGO_EXTENSIONS,
    Membership,
    Organisation,
    User,
    domain_problem,
    split_domains,
    validate_logo,
)

# --- Signer accounts (issue 11): profile and leaving ---------------------------------------------


class ProfileForm(forms.ModelForm):
    """The details that pre-fill the sign form; each stays editable when signing."""

    class Meta:
        model = User
        fields = ["name", "affiliation", "job_title", "city"]
        labels = {
            "name": "Your name",
            "affiliation": "Employer or organisation",
            "job_title": "Job title",
            "city": "City",
        }

    def clean(self):
        cleaned = super().clean()
        for field in self.Meta.fields:
            if isinstance(cleaned.get(field), str):
                cleaned[field] = " ".join(cleaned[field].split())
        return cleaned


class DeleteAccountForm(forms.Form):
    KEEP = "keep"
    WITHDRAW = "withdraw"

    signatures = forms.ChoiceField(
        label="What should happen to your signatures?",
        choices=[
            (KEEP, "Keep them as they are: only the link to this account goes."),
            (WITHDRAW, "Withdraw them all: they leave the letters and their counts."),
        ],
        widget=forms.RadioSelect,
        error_messages={"required": "Please choose what happens to your signatures."},
    )
    password = forms.CharField(
        label="Your password, to confirm",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        if not user.has_usable_password():
            del self.fields["password"]

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError("This is not your password.")
        return password


# --- Organisations (issue 4) ----------------------------------------------------------------------


class OrganisationForm(forms.ModelForm):
    class Meta:
        model = Organisation
        fields = ["name", "website", "email_domains", "description", "logo"]
        labels = {
            "name": "Name",
            "website": "Website",
            "email_domains": "Email domains",
            "description": "Short description",
            "logo": "Logo (optional)",
        }
        help_texts = {
            "name": "As it should appear under the letters you co-sign.",
            "website": "Shown as a link with your name under the letters you co-sign.",
            "email_domains": (
                "Your organisation's own email domains, one per line (example.org). An admin "
                "with a confirmed address on one of them makes the organisation verified. "
                "Never shown to the public."
            ),
            "description": "For your members and letters' organisers; at most 1,000 characters.",
            "logo": "PNG, JPEG or WebP, at most 512 KB. Shown at most 256 pixels a side.",
        }
        widgets = {
            "email_domains": forms.Textarea(attrs={"rows": 3}),
            "description": forms.Textarea(attrs={"rows": 4}),
        }

    def clean_name(self) -> str:
        name = " ".join(self.cleaned_data["name"].split())
        if not name:
            raise forms.ValidationError("Give the organisation's name.")
        return name

    def clean_email_domains(self) -> str:
        domains = split_domains(self.cleaned_data["email_domains"].replace(",", " "))
        problems = [problem for problem in map(domain_problem, domains) if problem]
        if problems:
            raise forms.ValidationError(problems)
        return "\n".join(dict.fromkeys(domains))

    def clean_logo(self):
        logo = self.cleaned_data.get("logo")
        name = getattr(logo, "name", "") or ""
        is_upload = logo and hasattr(logo, "content_type")  # not the file already stored
        if is_upload and name.rpartition(".")[2].lower() not in LOGO_EXTENSIONS:
            raise forms.ValidationError("The logo must be a PNG, JPEG or WebP image.")
        if is_upload:
            validate_logo(logo)  # the upload's own size and signature, before decoding it
            return logos.normalise(logo)  # checked by its content, and made small
        return logo


class InviteForm(forms.Form):
    email = forms.EmailField(
        max_length=254, label="Email address", help_text="We mail them a link to accept."
    )
    role = forms.ChoiceField(
        choices=Membership.Role.choices,
        initial=Membership.Role.MEMBER,
        label="Role",
        help_text="Admins may co-sign letters for the organisation and manage its members.",
    )


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Membership.Role.choices, label="Role")
