import secrets

from allauth.account.forms import SignupForm as AllauthSignupForm
from django import forms
from django.db import transaction
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from . import logos
from .models import (
    LOGO_EXTENSIONS,
    Membership,
    Organisation,
    User,
    domain_problem,
    host_match,
    split_domains,
    validate_logo,
    website_host,
)

# --- A signer's account: their profile, and leaving -----------------------------------------------


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


# --- Organisations: create and edit, invite, change a member's role -------------------------------


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
            "website": _(
                "Shown as a link with your name under the letters you co-sign, once the "
                "organisation is verified. It must be on one of its email domains."
            ),
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

    def clean(self):
        cleaned = super().clean()
        website, domains = cleaned.get("website"), cleaned.get("email_domains")
        if website and domains is not None:
            # Readers take the link for the organisation's own site: it must be on a domain
            # the organisation can prove it controls.
            listed = split_domains(domains)
            if not listed:
                self.add_error(
                    "website",
                    gettext(
                        "Name the organisation's email domain first: the website must be on it."
                    ),
                )
            elif not host_match(website_host(website), listed):
                self.add_error(
                    "website",
                    gettext(
                        "The website must be on one of the organisation's email domains "
                        "(%(domains)s) or a subdomain of one."
                    )
                    % {"domains": ", ".join(listed)},
                )
        return cleaned

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


# --- Sign-up --------------------------------------------------------------------------------------


class SignupForm(AllauthSignupForm):
    """allauth's sign-up form answers a taken address as it answers a new one (and mails the
    owner instead), but would skip the work of making the account: hashing the password (the
    slowest step by far) and a dozen queries. So a new account is made in a savepoint, and for a
    taken address the same account is made under a placeholder address and rolled back: the
    answer's timing does not tell whether the address has an account."""

    def try_save(self, request):
        if not self.account_already_exists:
            with transaction.atomic():
                return super().try_save(request)
        with transaction.atomic():
            self._make_account_under_placeholder(request)
            transaction.set_rollback(True)
        return super().try_save(request)

    def _make_account_under_placeholder(self, request) -> None:
        taken = self.cleaned_data["email"]
        self.cleaned_data["email"] = f"{secrets.token_hex(12)}@placeholder.invalid"
        self.account_already_exists = False
        try:
            self.save(request)
        finally:
            self.cleaned_data["email"], self.account_already_exists = taken, True
