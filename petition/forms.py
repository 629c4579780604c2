from django import forms


from .models import LEVEL_ORDER, Letter, Level

# The best-known throwaway-mail domains. A letter refuses them when "block disposable" is on.
DISPOSABLE_DOMAINS = frozenset(
    """
    10minutemail.com 20minutemail.com 33mail.com anonbox.net dispostable.com dropmail.me
    emailondeck.com fakeinbox.com getairmail.com getnada.com guerrillamail.biz guerrillamail.com
    guerrillamail.de guerrillamail.net guerrillamail.org guerrillamailblock.com harakirimail.com
    inboxkitten.com mail.tm mailcatch.com maildrop.cc mailinator.com mailinator.net mailnesia.com
    mailpoof.com mintemail.com moakt.com mohmal.com mytemp.email sharklasers.com spamgourmet.com
    temp-mail.io temp-mail.org tempail.com tempmail.com tempmail.dev tempmailo.com tempr.email
    throwawaymail.com trashmail.com trashmail.de trashmail.net yopmail.com yopmail.fr yopmail.net
    """.split()
)

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


def _clean_text(value: str) -> str:
    # Control characters have no place in a name or a job title; tabs and newlines become spaces.
    return " ".join("".join(ch if ch.isprintable() else " " for ch in value).split())


class SignForm(forms.Form):
    name = forms.CharField(max_length=200, required=False, label="Your name")
    email = forms.EmailField(
        max_length=254,
        label="Email",
        help_text="We send you a link to confirm. It is never shown to the public.",
    )
    visibility = forms.ChoiceField(
        choices=Level.choices, widget=forms.RadioSelect, initial=Level.PUBLIC, label="How visible?"
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

    def __init__(self, *args, letter: Letter, **kwargs):
        super().__init__(*args, **kwargs)
        self.letter = letter
        levels = letter.levels
        self.fields["visibility"].choices = [(level, LEVEL_HELP[level]) for level in levels]
        self.fields["visibility"].initial = levels[0]
        if letter.domains:
            self.fields["email"].help_text = (
                "We send you a link to confirm; it is never shown to the public. "
                "Mail to a work address may be read by your employer. At the private level "
                "the address is erased once you confirm."
            )

    @property
    def is_bot(self) -> bool:
        return bool(self.data.get("website"))

    def clean_name(self) -> str:
        return _clean_text(self.cleaned_data["name"])

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip().lower()
        domain = email.rpartition("@")[2]
        if self.letter.block_disposable and domain in DISPOSABLE_DOMAINS:
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
                data[field] = _clean_text(data[field])
        if data.get("visibility") != Level.PRIVATE and not data.get("name"):
            self.add_error("name", "Please give your name (choose Private to sign without one).")
        return data


class EmailForm(forms.Form):
    email = forms.EmailField(max_length=254, label="Your email")


class LevelForm(forms.Form):
    visibility = forms.ChoiceField(choices=Level.choices, widget=forms.RadioSelect)

    def __init__(self, *args, current: str, **kwargs):
        super().__init__(*args, **kwargs)
        later = LEVEL_ORDER[LEVEL_ORDER.index(current) + 1 :]
        self.fields["visibility"].choices = [(level, LEVEL_HELP[level]) for level in later]



