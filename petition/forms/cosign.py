"""Co-signatures: an organisation's admin co-signs a letter for it; organisers pin co-signers."""

from django import forms

from .text import clean_text


class CosignForm(forms.Form):
    """Co-sign for one of the organisations the user is an admin of, and only those: any other
    id, edited into the form, is refused as an invalid choice."""

    organisation = forms.ModelChoiceField(
        queryset=None, label="Co-sign for", empty_label=None, to_field_name="slug"
    )
    display_name = forms.CharField(
        max_length=200,
        required=False,
        label="Name to list (optional)",
        help_text="As the organisation should be listed under the letter, if not its usual name "
        '(for example "ACLU of Washington").',
    )
    statement = forms.CharField(
        max_length=1000,
        required=False,
        label="Short statement (optional)",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Shown with your name under the letter. At most 1,000 characters.",
    )

    def __init__(self, *args, organisations, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["organisation"].queryset = organisations

    def clean_display_name(self) -> str:
        return clean_text(self.cleaned_data["display_name"])

    def clean_statement(self) -> str:
        # Line breaks are kept; other control characters are not.
        text = self.cleaned_data["statement"]
        return "".join(ch for ch in text if ch.isprintable() or ch == "\n").strip()


class PinForm(forms.Form):
    position = forms.IntegerField(
        min_value=1,
        max_value=999,
        required=False,
        label="Position at the top",
        help_text="1 is listed first. Leave empty to file it alphabetically.",
    )
